"""Exit codes and the one table that maps exceptions to a message, a next step and a code."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from enum import IntEnum

from vram.core.errors import (
    ConfigFileError,
    GatedModelError,
    HubUnavailableError,
    ModelNotFoundError,
    RevisionNotFoundError,
    SettingsError,
    SpecError,
    UnknownFormatError,
    VramError,
)
from vram.resolve.catalog import UnknownGpuError


class ExitCode(IntEnum):
    """What ``vram`` exits with; documented in the README and checked by a test."""

    OK = 0
    DOES_NOT_FIT = 1
    USAGE = 2
    MODEL = 3
    HUB = 4
    INTERNAL = 5


def _not_found(e: ModelNotFoundError) -> str:
    hint = ""
    if e.suggestions:
        hint = f"did you mean: {', '.join(e.suggestions)}? "
    if e.on_hub:
        return hint + "check the repo id; for a private repo pass --token or log in with `hf auth login`"
    return hint + "pass a config.json path, a catalog model (`vram models`), a repo id (org/name) or a count such as 7b"


def _gated(e: GatedModelError) -> str:
    hint = "accept the model's license on its Hub page, then log in with `hf auth login` or pass --token / set HF_TOKEN"
    if e.in_catalog:
        hint += f"; without --revision, {e.repo_id} is answered from the bundled catalog"
    return hint


def _revision(e: RevisionNotFoundError) -> str:
    return "check the branch, tag or commit name (--revision)"


def _hub(e: HubUnavailableError) -> str:
    return (
        "check the network (or HF_ENDPOINT) and retry; catalog models (`vram models`) and configs "
        "fetched once before work offline, and --offline uses the cache only"
    )


def _format(e: UnknownFormatError) -> str:
    return "see `vram dtypes` for the known names (e.g. bf16, fp8, int8, int4, nf4-dq, gptq, awq, Q4_K_M)"


def _gpu(e: UnknownGpuError) -> str:
    close = f"did you mean: {', '.join(e.suggestions)}? " if e.suggestions else ""
    return close + "see `vram gpus` for the catalog"


def _spec(e: SpecError) -> str:
    return "check the config.json; `vram models` lists the supported architectures"


def _settings(e: SettingsError) -> str:
    return "check the option values (`vram estimate --help`)"


def _config_file(e: ConfigFileError) -> str:
    return "pass a config.json file or a model folder that holds one"


# Ordered: the first matching class wins, so subclasses come before their bases.
ERROR_TABLE: list[tuple[type[VramError], ExitCode, Callable[..., str]]] = [
    (UnknownFormatError, ExitCode.USAGE, _format),
    (UnknownGpuError, ExitCode.USAGE, _gpu),
    (SettingsError, ExitCode.USAGE, _settings),
    (GatedModelError, ExitCode.MODEL, _gated),
    (RevisionNotFoundError, ExitCode.MODEL, _revision),
    (ModelNotFoundError, ExitCode.MODEL, _not_found),
    (HubUnavailableError, ExitCode.HUB, _hub),
    (ConfigFileError, ExitCode.MODEL, _config_file),
    (SpecError, ExitCode.MODEL, _spec),
]


def describe(exc: BaseException) -> tuple[ExitCode, str]:
    """Exit code and the one-paragraph message for an exception."""
    for cls, code, hint in ERROR_TABLE:
        if isinstance(exc, cls):
            return code, f"error: {exc}\n  next: {hint(exc)}"
    if isinstance(exc, VramError):
        return ExitCode.MODEL, f"error: {exc}"
    return ExitCode.INTERNAL, (
        f"internal error: {type(exc).__name__}: {exc}\n"
        "  this is a bug in vram; rerun with VRAM_DEBUG=1 for the traceback and report it"
    )


def report(exc: BaseException) -> ExitCode:
    """Print the message (and the traceback when VRAM_DEBUG is set) to stderr; return the code."""
    code, message = describe(exc)
    if os.environ.get("VRAM_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    print(message, file=sys.stderr)
    return code
