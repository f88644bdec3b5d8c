"""The ``vram`` command line: a thin Typer layer over vram.resolve, vram.core and vram.report."""

import os
import sys

import typer

from vram.cli import estimate, fit, inspect, listing, train
from vram.cli._errors import ExitCode, report

app = typer.Typer(
    name="vram",
    help="How much GPU memory does a model need? Exact parameters, sourced estimates, offline.",
    no_args_is_help=True,
    invoke_without_command=True,
    add_completion=True,
    rich_markup_mode=None,  # plain Click help: Typer's Rich panels print flags as "--json <bool>"
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 ok (fits), 1 does not fit --gpu, 2 usage error (also --gpu with a bare parameter "
    "count: weights or model states alone decide no fit), 3 model not resolvable, 4 Hub unreachable, 5 internal error "
    "(VRAM_DEBUG=1 shows the traceback).",
)
app.command(name="estimate")(estimate.estimate)
app.command(name="train")(train.train)
app.command(name="inspect")(inspect.inspect)
app.command(name="models")(listing.models)
app.command(name="gpus")(listing.gpus)
app.command(name="dtypes")(listing.dtypes)
app.command(name="fit")(fit.fit)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from vram import __version__

        print(f"vram {__version__}")
        raise typer.Exit


def main() -> None:
    """Console entry point: never lets an exception escape as a traceback or as exit 1."""
    # On its first validation pydantic reads the entry points of every installed distribution to
    # find plugins; the command line uses none, so skip that scan (Typer does the same around its
    # parameter adapters). A PYDANTIC_DISABLE_PLUGINS the user set is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        app(prog_name="vram")
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence; commands guard their own bodies
        sys.exit(int(report(exc)))
    sys.exit(int(ExitCode.OK))
