"""The exception hierarchy: one root, one base per area, fields that build the message.

The CLI maps each class to a message, a next step and an exit code (see ``vram.cli._errors``).
"""

from __future__ import annotations

from vram.core.units import GiB


class VramError(Exception):
    """Root of every error vram raises on purpose; anything else is a bug."""


class SpecError(VramError, ValueError):
    """A model description (config.json or catalog entry) cannot be turned into a ModelSpec."""

    def __init__(self, reason: str, *, model_type: str | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.model_type = model_type
        self.field = field
        super().__init__(reason)


class MissingFieldError(SpecError):
    """config.json lacks a field the estimate cannot do without."""

    def __init__(self, field: str, *, model_type: str | None = None) -> None:
        where = f" for model_type {model_type!r}" if model_type else ""
        super().__init__(f"config.json has no {field!r}{where}", model_type=model_type, field=field)


class UnsupportedArchitectureError(SpecError):
    """The model_type is unknown and its config lacks the standard fields for an approximation."""


class SettingsError(VramError, ValueError):
    """A setting (dtype, batch, sequence length, ...) is invalid for this model."""


class UnknownFormatError(SettingsError):
    """The requested dtype / quantization format name is not known."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown dtype or quantization format {name!r}")


class UnknownGpuError(SettingsError):
    """--gpu names no card in the catalog and no capacity such as 24GB."""

    def __init__(self, name: str, suggestions: tuple[str, ...]) -> None:
        self.name = name
        self.suggestions = suggestions
        super().__init__(f"unknown GPU {name!r}")


class MultiGpuError(SettingsError):
    """--gpu asks for more cards than the layout uses: a summed capacity is no per-GPU verdict."""

    def __init__(self, text: str, count: int, name: str, layout: int = 1) -> None:
        self.text = text
        self.count = count
        self.name = name
        self.layout = layout
        super().__init__(
            f"--gpu {text!r} asks for {count} GPUs but the estimate describes {layout}: comparing "
            "a total with the combined memory is no verdict, because a split puts a CUDA context and every unsplit "
            "tensor on each card and divides the KV cache by heads or layers"
        )


class WeightsOnlyFitError(SettingsError):
    """A bare parameter count has no architecture, so it cannot decide a fit."""

    what = "weights"
    missing = "KV cache, activation or overhead figure"

    def __init__(self, ref: str, weights_bytes: int, gpu_name: str, usable_bytes: int) -> None:
        self.ref = ref
        self.weights_bytes = weights_bytes
        self.gpu_name = gpu_name
        self.usable_bytes = usable_bytes
        super().__init__(
            f"{ref!r} is a bare parameter count: its {self.what} alone take {weights_bytes / GiB:,.2f} GiB against "
            f"{usable_bytes / GiB:,.2f} GiB usable on {gpu_name}, but without an architecture there is no "
            f"{self.missing}, so no fit verdict"
        )


class EmptyArgumentError(SettingsError):
    """An argument that needs a value was given as an empty string."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"the {what} argument is empty")


class ResolveError(VramError):
    """A model reference cannot be turned into a config (not found, unreadable, ...)."""


class ModelNotFoundError(ResolveError, LookupError):
    """The reference is no local path, catalog model, parameter count or repo id the Hub knows."""

    def __init__(self, ref: str, *, suggestions: tuple[str, ...] = (), on_hub: bool = False) -> None:
        self.ref = ref
        self.suggestions = suggestions
        self.on_hub = on_hub
        if on_hub:
            msg = f"{ref!r} was not found on the Hugging Face Hub (or it is private and the token cannot see it)"
        else:
            msg = f"{ref!r} is not a config path, a catalog model, a parameter count or a Hub repo id"
        super().__init__(msg)


class ConfigFileError(ResolveError):
    """A local config.json is missing, too large or not valid JSON."""

    def __init__(self, path: str, reason: str, *, shadows: str | None = None) -> None:
        self.path = path
        self.reason = reason
        self.shadows = shadows
        super().__init__(f"{path}: {reason}")


class GatedModelError(ResolveError):
    """The repo is gated or private and the token (if any) does not grant access."""

    def __init__(self, repo_id: str, *, in_catalog: bool = False, reason: str = "the Hub refused access") -> None:
        self.repo_id = repo_id
        self.in_catalog = in_catalog
        self.reason = reason
        super().__init__(f"{repo_id} is gated or private: {reason}")


class RevisionNotFoundError(ResolveError):
    """The repo exists but the requested revision does not."""

    def __init__(self, repo_id: str, revision: str) -> None:
        self.repo_id = repo_id
        self.revision = revision
        super().__init__(f"{repo_id} has no revision {revision!r}")


class HubUnavailableError(VramError, ConnectionError):
    """The Hub could not be reached (network, timeout, rate limit, server error) and nothing was cached."""

    def __init__(self, repo_id: str, reason: str, *, offline: bool = False, suggestions: tuple[str, ...] = ()) -> None:
        self.repo_id = repo_id
        self.reason = reason
        self.offline = offline
        self.suggestions = suggestions
        super().__init__(f"cannot get {repo_id} from the Hugging Face Hub: {reason}")


class NoLocalGpuError(SettingsError):
    """``--gpu auto`` found no card: no nvidia-smi or rocm-smi answered, and this is not an Apple Silicon Mac."""

    def __init__(self, tried: tuple[str, ...]) -> None:
        self.tried = tried
        super().__init__(f"--gpu auto found no GPU (tried {', '.join(tried)})")


class UnknownOptimizerError(SettingsError):
    """--optimizer names no optimizer vram models."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown optimizer {name!r}")


class StatesOnlyFitError(WeightsOnlyFitError):
    """A bare parameter count gives model states only, which cannot decide a training fit."""

    what = "model states"
    missing = "activation figure"


class ProjectFileError(SettingsError):
    """A project defaults file (vram.toml, [tool.vram] in pyproject.toml) cannot be read or holds a bad value."""

    def __init__(self, path: str, reason: str, *, key: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.key = key
        self.line = line
        where = path if line is None else f"{path}, line {line}"
        what = f", key {key!r}" if key is not None else ""
        super().__init__(f"{where}{what}: {reason}")


class NoModelError(SettingsError):
    """No MODEL on the command line and none in a project defaults file."""

    def __init__(self, project_file: str | None) -> None:
        self.project_file = project_file
        if project_file is None:
            msg = "no MODEL given, and no vram.toml or pyproject.toml with [tool.vram] in this folder names one"
        else:
            msg = f"no MODEL given, and {project_file} sets no 'model'"
        super().__init__(msg)
