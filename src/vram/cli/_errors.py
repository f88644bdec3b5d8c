"""Exit codes and the one table that maps exceptions to a message, a next step and a code."""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from collections.abc import Callable
from enum import IntEnum

from vram.core.errors import (
    ConfigFileError,
    EmptyArgumentError,
    GatedModelError,
    HubUnavailableError,
    ModelNotFoundError,
    MultiGpuError,
    NoLocalGpuError,
    NoModelError,
    ProjectFileError,
    RevisionNotFoundError,
    SettingsError,
    SpecError,
    UnknownFormatError,
    UnknownGpuError,
    UnknownOptimizerError,
    VramError,
    WeightsOnlyFitError,
)

_REFERENCES = (
    "a catalog model (`vram models`), a config.json or model folder, a repo id (org/name) or a count such as 7b"
)


class ExitCode(IntEnum):
    """What ``vram`` exits with; documented in the README and checked by a test."""

    OK = 0
    DOES_NOT_FIT = 1
    USAGE = 2
    MODEL = 3
    HUB = 4
    INTERNAL = 5


def _did_you_mean(names: tuple[str, ...] | list[str]) -> str:
    return f"did you mean: {', '.join(names)}? " if names else ""


def _not_found(e: ModelNotFoundError) -> str:
    hint = _did_you_mean(e.suggestions)
    if e.on_hub:
        return hint + "check the repo id; for a private repo pass --token or log in with `hf auth login`"
    return hint + "pass " + _REFERENCES


def _gated(e: GatedModelError) -> str:
    hint = "accept the model's license on its Hub page, then log in with `hf auth login` or pass --token / set HF_TOKEN"
    if e.in_catalog:
        hint += f"; without --revision, {e.repo_id} is answered from the bundled catalog"
    return hint


def _revision(e: RevisionNotFoundError) -> str:
    return "check the branch, tag or commit name (--revision)"


def _hub(e: HubUnavailableError) -> str:
    close = f"the bundled catalog has {', '.join(e.suggestions)} (works offline); " if e.suggestions else ""
    if e.offline:
        return close + (
            f"run once online (without --offline or HF_HUB_OFFLINE) to cache {e.repo_id}'s config.json, "
            "or pass a local config.json"
        )
    return close + (
        "check the network (or HF_ENDPOINT) and retry; catalog models (`vram models`) and configs "
        "fetched once before work offline, and --offline uses the cache only"
    )


def _close(name: str, known: tuple[str, ...] | list[str]) -> list[str]:
    """Up to three known names close to ``name`` (case-insensitive), spelled as known."""
    names = {n.lower(): n for n in known}
    return [names[c] for c in difflib.get_close_matches(name.strip().lower(), list(names), n=3, cutoff=0.6)]


def _format(e: UnknownFormatError) -> str:
    from vram.core.dtypes import ALIASES

    close = _close(e.name, [*e.known, *ALIASES])
    return _did_you_mean(close) + "see `vram dtypes` for the known names (e.g. bf16, fp8, int8, int4, gptq, Q4_K_M)"


def _optimizer(e: UnknownOptimizerError) -> str:
    return _did_you_mean(_close(e.name, e.known)) + f"the known optimizers are {', '.join(e.known)}"


def _gpu(e: UnknownGpuError) -> str:
    return _did_you_mean(e.suggestions) + "see `vram gpus` for the catalog, or give a capacity such as 24GB or 80GiB"


def _multi_gpu(e: MultiGpuError) -> str:
    return (
        f"describe the split over {e.count} GPUs (estimate: --runtime vllm --tp {e.count}; train: --gpus {e.count}), "
        f"or check one card with --gpu {e.name!r}: every figure is per GPU"
    )


def _no_local_gpu(e: NoLocalGpuError) -> str:
    return 'name the card instead: --gpu "RTX 4090" (`vram gpus`), or a capacity such as --gpu 24GB'


def _weights_only(e: WeightsOnlyFitError) -> str:
    return (
        "for a verdict pass a catalog model (`vram models`), a config.json or a repo id; "
        f"without --gpu a count prints the {e.what} figure"
    )


def _project_file(e: ProjectFileError) -> str:
    return (
        f'fix {e.path}: its keys are `vram train` option names (`vram train --help`), e.g. model = "llama-2-7b", '
        "seq_len = 4096; an option given on the command line overrides the file"
    )


def _no_model(e: NoModelError) -> str:
    return (
        'name the model on the command line (vram train llama-2-7b), or once for the project: model = "..." '
        "at the top of ./vram.toml or under [tool.vram] in ./pyproject.toml"
    )


def _empty(e: EmptyArgumentError) -> str:
    if e.what == "MODEL":
        return "pass " + _REFERENCES
    return "pass a catalog GPU (`vram gpus`) or a capacity such as 24GB"


def _spec(e: SpecError) -> str:
    return "check the config.json; `vram models` lists the supported architectures"


def _settings(e: SettingsError) -> str:
    return "check the option values (the command's --help lists each with its range)"


def _config_file(e: ConfigFileError) -> str:
    if e.shadows:
        return f"add config.json to the folder, or run from another directory to use the catalog's {e.shadows}"
    return "pass a config.json file or a model folder that holds one"


# Ordered: the first matching class wins, so subclasses come before their bases.
ERROR_TABLE: list[tuple[type[VramError], ExitCode, Callable[..., str]]] = [
    (UnknownFormatError, ExitCode.USAGE, _format),
    (UnknownGpuError, ExitCode.USAGE, _gpu),
    (UnknownOptimizerError, ExitCode.USAGE, _optimizer),
    (ProjectFileError, ExitCode.USAGE, _project_file),
    (NoModelError, ExitCode.USAGE, _no_model),
    (MultiGpuError, ExitCode.USAGE, _multi_gpu),
    (NoLocalGpuError, ExitCode.USAGE, _no_local_gpu),
    (WeightsOnlyFitError, ExitCode.USAGE, _weights_only),
    (EmptyArgumentError, ExitCode.USAGE, _empty),
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
