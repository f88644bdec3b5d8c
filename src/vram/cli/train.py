"""``vram train``: training memory per GPU for one model, with project defaults from vram.toml / [tool.vram]."""

import sys
from dataclasses import dataclass
from enum import Enum
from inspect import signature
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin, get_type_hints

import typer

from vram.cli._errors import ExitCode
from vram.cli._options import (  # the choice enums are re-exported for tests that compare them with core
    MAX_BATCH,
    MAX_GPUS,
    MAX_SEQ_LEN,
    MODEL_HELP,
    ActivationOffloadOpt,
    AdapterDtypeOpt,
    AttentionChoice,
    AttentionOpt,
    CheckpointingChoice,
    FsdpChoice,
    FsdpOpt,
    GpuOpt,
    GradAccumOpt,
    GradCheckpointingOpt,
    JsonOpt,
    LoraDropoutOpt,
    LoraRankOpt,
    LoraTargetsOpt,
    LossChoice,
    LossOpt,
    OfflineOpt,
    OffloadChoice,
    OffloadOpt,
    OptimizerInBackwardOpt,
    OptimizerOpt,
    PpOpt,
    PrecisionOpt,
    QloraOpt,
    RevisionOpt,
    TimeoutOpt,
    TokenOpt,
    TpOpt,
    UnitsChoice,
    UnitsOpt,
    ZeroOpt,
    guard,
)
from vram.resolve.hub import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from vram.core.training.settings import TrainingSettings
    from vram.resolve.project import ProjectDefaults


NOT_IN_PROJECT_FILE = {"token": "a token does not belong in a project file: set HF_TOKEN or run `hf auth login`"}
"""Options a project file may not set, and why."""

_DEFAULT = "DEFAULT"
"""The parameter source of a value nobody gave (Click's ParameterSource.DEFAULT, compared by name)."""


def train(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Argument(
            help=MODEL_HELP + " Default: `model` in ./vram.toml or [tool.vram] of ./pyproject.toml.",
            metavar="MODEL",
            show_default=False,
        ),
    ] = None,
    precision: PrecisionOpt = None,
    optimizer: OptimizerOpt = "adamw",
    optimizer_in_backward: OptimizerInBackwardOpt = False,
    batch: Annotated[
        int, typer.Option("--batch", "-b", min=1, max=MAX_BATCH, help="Micro-batch per GPU (sequences).")
    ] = 1,
    seq_len: Annotated[
        int | None,
        typer.Option(
            "--seq-len",
            "-s",
            min=1,
            max=MAX_SEQ_LEN,
            help="Tokens per sequence. Default: 2048, capped by the model's maximum.",
            show_default=False,
        ),
    ] = None,
    grad_accum: GradAccumOpt = 1,
    grad_checkpointing: GradCheckpointingOpt = CheckpointingChoice.none,
    attention: AttentionOpt = AttentionChoice.sdpa,
    loss: LossOpt = LossChoice.standard,
    activation_offload: ActivationOffloadOpt = False,
    lora_rank: LoraRankOpt = None,
    lora_targets: LoraTargetsOpt = None,
    qlora: QloraOpt = False,
    adapter_dtype: AdapterDtypeOpt = None,
    lora_dropout: LoraDropoutOpt = 0.0,
    gpus: Annotated[
        int, typer.Option(min=1, max=MAX_GPUS, help="World size: data x tensor x pipeline parallel ranks.")
    ] = 1,
    zero: ZeroOpt = 0,
    fsdp: FsdpOpt = FsdpChoice.none,
    tp: TpOpt = 1,
    pp: PpOpt = 1,
    offload: OffloadOpt = OffloadChoice.none,
    gpu: GpuOpt = None,
    revision: RevisionOpt = None,
    token: TokenOpt = None,
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    units: UnitsOpt = UnitsChoice.GiB,
    json_out: JsonOpt = False,
) -> None:
    """Training memory per GPU: weights, master weights, gradients, optimizer, activations, overhead."""
    # Every parameter, as plain values (enums by their value): locals() holds only the parameters here.
    values: dict[str, Any] = {k: v.value if isinstance(v, Enum) else v for k, v in locals().items() if k != "ctx"}
    with guard():
        from pathlib import Path

        from vram import __version__
        from vram.core.errors import NoModelError, StatesOnlyFitError
        from vram.core.gpu import check_fit
        from vram.core.training.estimate import TrainingEstimate, estimate_training, estimate_training_states_only
        from vram.report.document import render_json
        from vram.report.training import ACTIVATION_OPTIONS, ProjectDefaultsDoc, build_training_document
        from vram.resolve import resolve
        from vram.resolve.catalog import gpu_from_arg
        from vram.resolve.project import load_project_defaults

        project = load_project_defaults(Path.cwd())
        taken: list[str] = []
        if project is not None:
            taken = apply_project_defaults(ctx, project, values)
        if values["model"] is None:
            raise NoModelError(project.file if project is not None else None)

        settings = training_settings(values)
        card = gpu_from_arg(values["gpu"], settings.gpus) if values["gpu"] is not None else None
        resolved = resolve(
            values["model"],
            revision=values["revision"],
            token=values["token"],
            offline=values["offline"],
            timeout=values["timeout"],
        )
        est: TrainingEstimate
        ignored: list[str] = []
        if resolved.spec is None:
            ignored = [flag for flag in ACTIVATION_OPTIONS if flag in _changed(values)]
            est = estimate_training_states_only(resolved.parameters or 0, settings)
            if card is not None:
                states = sum(est.component(c).bytes for c in ("weights", "master_weights", "gradients", "optimizer"))
                raise StatesOnlyFitError(resolved.ref, states, card.name, card.usable_memory_bytes)
        else:
            est = estimate_training(resolved.spec, settings, resolved.checkpoint)
        fit = check_fit(est, card) if card is not None else None
        defaults = ProjectDefaultsDoc(file=project.file, keys=taken) if project is not None else None
        doc = build_training_document(
            resolved,
            est,
            fit,
            __version__,
            ignored=ignored,
            defaults=defaults,
            notes=project.notes if project is not None else (),
        )

        if values["json_out"]:
            print(render_json(doc))
        else:
            from vram.report.table import print_out, training_table

            print_out(*training_table(doc, values["units"]))
        sys.stdout.flush()  # a closed pipe shows here, inside the guard, not at interpreter exit
        for w in [*doc.warnings, *(fit.warnings if fit else ())]:
            print(f"warning: {w}", file=sys.stderr)
        if fit is not None and not fit.fits:
            raise typer.Exit(int(ExitCode.DOES_NOT_FIT))


def training_settings(values: dict[str, Any]) -> "TrainingSettings":
    """The settings the options describe (options share their names with the settings' fields); a known
    error for an unknown optimizer or LoRA target. Also used by ``vram fit --train``."""
    from vram.core.errors import UnknownOptimizerError
    from vram.core.training.settings import OptimizerName, TrainingSettings, parse_lora_targets

    name = values["optimizer"].strip().lower()
    known = get_args(OptimizerName)
    if name not in known:
        raise UnknownOptimizerError(values["optimizer"], known)
    given = {k: v.value if isinstance(v, Enum) else v for k, v in values.items() if k in TrainingSettings.model_fields}
    given["optimizer"] = name
    targets = given.pop("lora_targets", None)
    if targets is not None:
        given["lora_targets"] = parse_lora_targets(targets)
    return TrainingSettings(**given)


_TOML_TYPES: dict[type, str] = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _toml_type(value: object) -> str:
    """How a TOML value reads in a message: 'a string ('8')', 'an array', ..."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float, str)):
        return f"{_TOML_TYPES[type(value)]} ({value!r})"
    if isinstance(value, list):
        return "an array"
    return "a table" if isinstance(value, dict) else "a date or time"


@dataclass(frozen=True)
class _Param:
    """What a project file needs to know of one parameter of ``train``: its key, type and bounds."""

    name: str
    key: str
    kind: type
    minimum: float | None = None
    maximum: float | None = None

    def convert(self, project: "ProjectDefaults", key: str, raw: object) -> object:
        """The file's value as the command line would have given it; a ProjectFileError if it could not."""
        kind = self.kind
        if issubclass(kind, Enum):
            choices = {str(m.value).lower(): m.value for m in kind}
            if not isinstance(raw, str) or raw.lower() not in choices:
                raise project.error(key, f"expected one of {', '.join(choices.values())}, got {_toml_type(raw)}")
            return choices[raw.lower()]
        wanted: type | tuple[type, ...] = (int, float) if kind is float else kind
        if not isinstance(raw, wanted) or (isinstance(raw, bool) and kind is not bool):
            raise project.error(key, f"expected {_TOML_TYPES[kind]}, got {_toml_type(raw)}")
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            if self.minimum is not None and raw < self.minimum:
                raise project.error(key, f"{raw} is below the minimum, {self.minimum}")
            if self.maximum is not None and raw > self.maximum:
                raise project.error(key, f"{raw} is above the maximum, {self.maximum}")
        return raw


def _params() -> dict[str, _Param]:
    """The parameters of ``train`` by project-file key (the long option name with '_'), from its annotations."""
    out: dict[str, _Param] = {}
    for name, hint in get_type_hints(train, include_extras=True).items():
        if get_origin(hint) is not Annotated:
            continue  # ctx and the return type
        base, info = get_args(hint)[0], get_args(hint)[1]
        kind = next((a for a in get_args(base) if a is not type(None)), base)
        decls = [d.split("/")[0] for d in getattr(info, "param_decls", ()) or () if d.startswith("--")]
        key = decls[0][2:].replace("-", "_") if decls else name
        out[key] = _Param(name, key, kind, getattr(info, "min", None), getattr(info, "max", None))
    return out


def apply_project_defaults(ctx: typer.Context, project: "ProjectDefaults", values: dict[str, Any]) -> list[str]:
    """Put the project file's values into ``values`` for the options the command line left at their default.

    Keys are option long names with '_' or '-'; each value is checked against the option's type,
    choices and bounds, so a file can set nothing the command line could not. Returns the keys used.
    """
    params = _params()
    seen: dict[str, str] = {}
    taken: list[str] = []
    for key, raw in project.values.items():
        name = key.replace("-", "_")
        if name in NOT_IN_PROJECT_FILE:
            raise project.error(key, NOT_IN_PROJECT_FILE[name])
        param = params.get(name)
        if param is None:
            known = ", ".join(sorted(k for k in params if k not in NOT_IN_PROJECT_FILE))
            raise project.error(key, f"not a `vram train` option; the keys are {known}")
        if name in seen:
            raise project.error(key, f"set twice (also as {seen[name]!r})")
        seen[name] = key
        value = param.convert(project, key, raw)
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name == _DEFAULT:  # an option on the command line wins
            values[param.name] = value
            taken.append(name)
    return taken


def _changed(values: dict[str, Any]) -> set[str]:
    """The options (as --flags) whose value is not the command's default, wherever it came from."""
    defaults = {k: p.default for k, p in signature(train).parameters.items()}
    out = set()
    for name, value in values.items():
        default = defaults.get(name)
        if value != (default.value if isinstance(default, Enum) else default):
            out.add(f"--{name.replace('_', '-')}")
    return out
