"""Options shared by several commands, and the guard that turns exceptions into exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated

import typer

from vram.cli._errors import report
from vram.core.limits import MAX_BATCH, MAX_GPUS, MAX_SEQ_LEN

__all__ = ["MAX_BATCH", "MAX_GPUS", "MAX_SEQ_LEN"]


MODEL_HELP = (
    "A catalog model (e.g. meta-llama/Llama-2-7b-hf or llama-2-7b), a config.json or model folder, "
    "a Hugging Face repo id, or a parameter count such as 7b."
)


class UnitsChoice(str, Enum):
    """Byte units for tables: binary GiB (default) or decimal GB."""

    GiB = "GiB"
    GB = "GB"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (nothing else).")]
UnitsOpt = Annotated[
    UnitsChoice, typer.Option("--units", case_sensitive=False, help="GiB = 2^30 bytes, GB = 10^9 bytes.")
]
GpuOpt = Annotated[
    str | None,
    typer.Option(
        "--gpu",
        "-g",
        help="Check the fit on one GPU: a catalog name (`vram gpus`) or a capacity (24GB = 24x10^9 bytes, "
        "24GiB = 24x2^30); exit 1 if it does not fit the memory a process can allocate.",
        show_default=False,
    ),
]
RevisionOpt = Annotated[
    str | None,
    typer.Option(help="Hub repos: branch, tag or commit (skips the bundled catalog).", show_default=False),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        help="Hub token for gated or private repos. Default: HF_TOKEN or the saved `hf auth login`.",
        show_default=False,
    ),
]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="Never use the network: catalog, local and cache only.")]
TimeoutOpt = Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the Hub before using the cache.")]


@contextmanager
def guard() -> Iterator[None]:
    """Run a command body: known errors become their message and exit code, bugs become exit 5."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except BrokenPipeError:
        # The reader went away (`vram models | head`): not an error. Point stdout at /dev/null so
        # the interpreter's final flush does not fail again, and stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except Exception as exc:  # noqa: BLE001 - mapped to a message and an exit code, never a traceback
        raise typer.Exit(int(report(exc))) from None
