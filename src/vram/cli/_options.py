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


class UnitsChoice(str, Enum):
    """Byte units for tables: binary GiB (default) or decimal GB."""

    GiB = "GiB"
    GB = "GB"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (nothing else).")]
UnitsOpt = Annotated[
    UnitsChoice, typer.Option("--units", case_sensitive=False, help="GiB = 2^30 bytes, GB = 10^9 bytes.")
]


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
