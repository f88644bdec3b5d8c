"""``vram models``, ``vram gpus``, ``vram dtypes``: the bundled catalogs and formats."""

from vram.cli._options import JsonOpt, UnitsChoice, UnitsOpt, guard


def models(json_out: JsonOpt = False) -> None:
    """List the bundled model catalog (works offline), with exact parameter counts."""
    with guard():
        from vram.report.listing import models_document, render_json

        doc = models_document()
        if json_out:
            print(render_json(doc))
            return
        from vram.report.table import models_table, print_out

        print_out(models_table(doc))


def gpus(units: UnitsOpt = UnitsChoice.GiB, json_out: JsonOpt = False) -> None:
    """List the bundled GPU catalog: memory and natively supported formats."""
    with guard():
        from vram.report.listing import gpus_document, render_json

        doc = gpus_document()
        if json_out:
            print(render_json(doc))
            return
        from vram.report.table import gpus_table, print_out

        print_out(gpus_table(doc, units.value))


def dtypes(json_out: JsonOpt = False) -> None:
    """List the weight formats --dtype accepts, with nominal bits per weight and their source."""
    with guard():
        from vram.report.listing import dtypes_document, render_json

        doc = dtypes_document()
        if json_out:
            print(render_json(doc))
            return
        from vram.report.table import dtypes_table, print_out

        print_out(*dtypes_table(doc))
