"""``vram models``, ``vram gpus``, ``vram dtypes``: the bundled catalogs and formats."""

import json

from vram.cli._options import JsonOpt, UnitsChoice, UnitsOpt, guard


def models(json_out: JsonOpt = False) -> None:
    """List the bundled model catalog (works offline), with exact parameter counts."""
    with guard():
        from vram.core.inference import default_dtype
        from vram.core.params import count_parameters
        from vram.report.units import fmt_params
        from vram.resolve.catalog import models as catalog_models
        from vram.resolve.mapping import spec_from_config

        rows: list[dict[str, object]] = []
        cells: list[list[str]] = []
        for m in catalog_models():
            spec = spec_from_config(m.config)
            count = count_parameters(spec)
            rows.append(
                {
                    "id": m.id,
                    "aliases": list(m.aliases),
                    "model_type": spec.model_type,
                    "parameters": count.total,
                    "active_parameters": count.active,
                    "dtype": default_dtype(spec),
                    "max_context": spec.max_position_embeddings,
                    "config_url": m.provenance.config_url,
                }
            )
            params = fmt_params(count.total)
            if count.active != count.total:
                params += f" ({fmt_params(count.active)} active)"
            context = f"{spec.max_position_embeddings:,}" if spec.max_position_embeddings else "-"
            cells.append([m.id, spec.model_type, params, default_dtype(spec), context, ", ".join(m.aliases)])
        if json_out:
            print(json.dumps({"schema_version": 1, "command": "models", "models": rows}, indent=2))
            return
        from vram.report.table import print_out, simple_table

        columns = ["model", "type", "params", "dtype", "context", "aliases"]
        print_out(simple_table(columns, cells, right=["params", "context"]))


def gpus(units: UnitsOpt = UnitsChoice.GiB, json_out: JsonOpt = False) -> None:
    """List the bundled GPU catalog: memory and natively supported formats."""
    with guard():
        from vram.resolve.catalog import gpus as catalog_gpus

        cards = catalog_gpus()
        if json_out:
            payload = {"schema_version": 1, "command": "gpus", "gpus": [g.model_dump(mode="json") for g in cards]}
            print(json.dumps(payload, indent=2))
            return
        from vram.report.table import print_out, simple_table
        from vram.report.units import fmt_bytes

        rows = [
            [
                g.name,
                g.vendor,
                g.architecture,
                g.compute_capability or "-",
                fmt_bytes(g.memory_bytes, units.value),
                " ".join(f for f, ok in (("bf16", g.bf16), ("fp8", g.fp8), ("fp4", g.fp4)) if ok) or "-",
            ]
            for g in cards
        ]
        print_out(simple_table(["gpu", "vendor", "architecture", "CC", "memory", "native"], rows, right=["memory"]))


def dtypes(json_out: JsonOpt = False) -> None:
    """List the weight formats --dtype accepts, with nominal bits per weight and their source."""
    with guard():
        from dataclasses import asdict

        from vram.core.dtypes import ALIASES, FORMATS

        if json_out:
            payload = {
                "schema_version": 1,
                "command": "dtypes",
                "formats": [asdict(f) for f in FORMATS.values()],
                "aliases": ALIASES,
            }
            print(json.dumps(payload, indent=2))
            return
        from vram.report.table import print_out, simple_table

        rows = [[f.name, f"{f.nominal_bits:.3f}", f.description] for f in FORMATS.values()]
        print_out(simple_table(["dtype", "bits/weight", "what is stored"], rows, right=["bits/weight"]))
        print("aliases: " + ", ".join(f"{k} = {v}" for k, v in sorted(ALIASES.items())))
        print("where each figure comes from: vram dtypes --json (field 'source'); GPTQ/AWQ take any group size,")
        print("e.g. gptq-int4-g64, awq-int4-g-1 (per channel)")
