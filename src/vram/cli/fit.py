"""``vram fit``: what fits on a GPU: best format, longest context, largest batch, fewest GPUs, offload."""

import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vram.cli._errors import ExitCode
from vram.cli._options import (
    MAX_BATCH,
    MAX_SEQ_LEN,
    ActivationOffloadOpt,
    AdapterDtypeOpt,
    AttentionChoice,
    AttentionOpt,
    CheckpointingChoice,
    FsdpChoice,
    FsdpOpt,
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
from vram.cli.estimate import LogitsChoice, MlaChoice
from vram.resolve.hub import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from vram.core.gpu import Gpu
    from vram.report.fit import FitDocument, FitSettingsDoc
    from vram.resolve.reference import Resolved


class FitRuntime(str, Enum):
    """The runtimes ``vram fit`` solves for."""

    transformers = "transformers"
    vllm = "vllm"
    llamacpp = "llama.cpp"


def fit(
    model: Annotated[
        str | None,
        typer.Argument(
            help="A catalog model, a config.json or model folder, or a Hugging Face repo id. Leave it out to list "
            "what every bundled model can run on the card.",
            metavar="[MODEL]",
            show_default=False,
        ),
    ] = None,
    gpu: Annotated[
        str,
        typer.Option(
            "--gpu",
            "-g",
            help="The card: a catalog name (`vram gpus`), a capacity (24GB, 80GiB), or auto (this machine's, "
            "via nvidia-smi, rocm-smi or sysctl).",
            show_default=False,
        ),
    ] = "auto",
    gpus: Annotated[
        int | None,
        typer.Option(
            "--gpus",
            min=1,
            max=64,
            help="How many of these cards: layers split (transformers) or TP, then TP x PP (vllm). Default: 1, "
            "or with --gpu auto the number of cards like the first.",
            show_default=False,
        ),
    ] = None,
    runtime: Annotated[
        FitRuntime,
        typer.Option(
            help="Whose memory rules: transformers (generate, device_map), vllm (KV pool, --seq-len is "
            "--max-model-len, default the model's maximum; max batch is vLLM's concurrency) or llama.cpp (GGUF "
            "types, --seq-len is --ctx-size; max batch is --parallel; offload is -ngl)."
        ),
    ] = FitRuntime.transformers,
    gpu_memory_utilization: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="vllm: share of the card's memory vLLM may use.")
    ] = 0.9,
    dtype: Annotated[
        str | None,
        typer.Option("--dtype", "-d", help="Judge only this weight format (`vram dtypes`).", show_default=False),
    ] = None,
    batch: Annotated[
        int,
        typer.Option(
            "--batch", "-b", min=1, max=MAX_BATCH, help="Sequences processed at once (--train: micro-batch per GPU)."
        ),
    ] = 1,
    seq_len: Annotated[
        int | None,
        typer.Option(
            "--seq-len",
            "--ctx-size",
            "-s",
            min=1,
            max=MAX_SEQ_LEN,
            help="Context length in tokens the rows are judged at. Default: 4096 (--train: 2048), capped by the "
            "model's maximum.",
            show_default=False,
        ),
    ] = None,
    kv_dtype: Annotated[
        str | None,
        typer.Option("--kv-dtype", help="KV cache element type (fp16, fp8, q8_0, ...).", show_default=False),
    ] = None,
    logits: Annotated[
        LogitsChoice, typer.Option(help="Logits for the last position (generate) or for all (scoring).")
    ] = LogitsChoice.last,
    mla_cache: Annotated[
        MlaChoice, typer.Option(help="MLA models: latent cache (vLLM/SGLang) or expanded per-head K/V.")
    ] = MlaChoice.latent,
    cpu_ram: Annotated[
        str | None,
        typer.Option(
            "--cpu-ram",
            help="CPU memory for offloaded layers when nothing fits (e.g. 64GB). Default: unbounded.",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        bool, typer.Option("--plot", help="Draw memory against context for the recommended format.")
    ] = False,
    family: Annotated[
        str | None,
        typer.Option(help="Without MODEL: only models whose id or model_type contains this.", show_default=False),
    ] = None,
    min_context: Annotated[
        int | None,
        typer.Option(min=1, help="Without MODEL: only models that fit at least this context.", show_default=False),
    ] = None,
    revision: RevisionOpt = None,
    token: TokenOpt = None,
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    train: Annotated[
        bool,
        typer.Option(
            "--train",
            help="Solve for training with `vram train`'s options: full fine-tuning (fp32, mixed, bf16), LoRA and "
            "QLoRA rows, and the fewest GPUs under ZeRO-3 (FSDP full with --fsdp), else TP x PP.",
        ),
    ] = False,
    precision: PrecisionOpt = None,
    optimizer: OptimizerOpt = "adamw",
    optimizer_in_backward: OptimizerInBackwardOpt = False,
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
    zero: ZeroOpt = 0,
    fsdp: FsdpOpt = FsdpChoice.none,
    tp: TpOpt = 1,
    pp: PpOpt = 1,
    offload: OffloadOpt = OffloadChoice.none,
    units: UnitsOpt = UnitsChoice.GiB,
    json_out: JsonOpt = False,
) -> None:
    """What fits on a GPU: each weight format's total, longest context and largest batch, the recommended format,
    the fewest GPUs, an offload split and a decode-speed bound (exit 1 when no format fits)."""
    values = {k: v.value if isinstance(v, Enum) else v for k, v in locals().items()}
    with guard():
        from vram import __version__
        from vram.core.errors import SettingsError
        from vram.core.inference import InferenceSettings, VllmSettings
        from vram.report.fit import FitSettingsDoc, render_fit_json

        card, found, named = _card(gpu)
        if gpus is not None and named and gpus != found:
            msg = f"--gpu {gpu!r} names {found} cards but --gpus says {gpus}: give the count once"
            raise SettingsError(msg)
        count = gpus or found
        settings = FitSettingsDoc(runtime=runtime.value, batch=batch, seq_len=seq_len, kv_dtype=kv_dtype)
        _check_mode(values)
        if train:
            assert model is not None
            doc = _train_document(model, values, card, count, settings, __version__)
            if json_out:
                print(render_fit_json(doc))
            else:
                from vram.report.table import fit_tables, print_out

                print_out(*fit_tables(doc, units.value))
            sys.stdout.flush()
            for w in doc.warnings:
                print(f"warning: {w}", file=sys.stderr)
            if doc.recommended is None:
                raise typer.Exit(int(ExitCode.DOES_NOT_FIT))
            return
        base = InferenceSettings(
            dtype=dtype,
            kv_dtype=kv_dtype,
            batch=batch,
            seq_len=seq_len,
            logits=logits.value,
            mla_cache=mla_cache.value,
            runtime=runtime.value,
            vllm=VllmSettings(gpu_memory_utilization=gpu_memory_utilization),
        )
        if model is None and runtime is not FitRuntime.transformers:
            msg = f"the catalog scan (no MODEL) models transformers; pass a MODEL to solve for {runtime.value}"
            raise SettingsError(msg)
        if runtime is FitRuntime.llamacpp and batch != 1:
            msg = "--batch is transformers' option: under llama.cpp the max batch column is --parallel sequences"
            raise SettingsError(msg)
        if model is None:
            from vram.report.fit import scan_catalog

            doc = scan_catalog(card, count, base, settings, family, min_context, __version__)
            plan = None
        else:
            from vram.core.fit import plan_fit
            from vram.report.fit import build_fit_document
            from vram.resolve.catalog import capacity_bytes

            resolved = _resolve(model, revision, token, offline, timeout)
            assert resolved.spec is not None
            ram = capacity_bytes(cpu_ram, "--cpu-ram") if cpu_ram is not None else None
            plan = plan_fit(resolved.spec, base, card, gpus=count, checkpoint=resolved.checkpoint, cpu_ram=ram)
            doc = build_fit_document(resolved, plan, card, count, settings, __version__)

        if json_out:
            print(render_fit_json(doc))
        else:
            from vram.report.table import fit_tables, print_out

            print_out(*fit_tables(doc, units.value))
            if plot and runtime is not FitRuntime.transformers:
                print(f"note: --plot draws the transformers runtime, not {runtime.value}", file=sys.stderr)
            elif plot and plan is not None:
                from vram.core.fit import plot_series
                from vram.report.plot import context_plot

                assert resolved.spec is not None
                print_out(context_plot(plot_series(resolved.spec, plan, resolved.checkpoint), units.value))
        sys.stdout.flush()
        for w in doc.warnings:
            print(f"warning: {w}", file=sys.stderr)
        if plan is not None and plan.recommended is None:
            raise typer.Exit(int(ExitCode.DOES_NOT_FIT))


def _card(text: str) -> "tuple[Gpu, int, bool]":
    """The card --gpu names and how many (``4x H100 SXM``; the count is then named), or with ``auto`` this
    machine's first card and how many it has like it (a default that --gpus overrides)."""
    from vram.resolve.catalog import gpu_from_arg

    if text.strip().lower() != "auto":
        from vram.core.errors import MultiGpuError

        try:
            return gpu_from_arg(text), 1, False
        except MultiGpuError as e:  # "4x H100 SXM" or "2x 24GB": that many of the card, as --gpus says
            return gpu_from_arg(e.name), e.count, True
    from vram.resolve.local_gpus import detect

    cards = detect()
    return cards[0], sum(c == cards[0] for c in cards), False


def _resolve(model: str, revision: str | None, token: str | None, offline: bool, timeout: float) -> "Resolved":
    """The model, refusing a bare parameter count (no architecture: no KV cache or activations to solve for)."""
    from vram.core.errors import SettingsError
    from vram.resolve import resolve

    resolved = resolve(model, revision=revision, token=token, offline=offline, timeout=timeout)
    if resolved.spec is None:
        msg = (
            f"{model!r} is a bare parameter count: vram fit needs an architecture to solve for context and batch; "
            "pass a catalog model (`vram models`), a config.json or a repo id"
        )
        raise SettingsError(msg)
    return resolved


TRAINING_OPTIONS = (
    "precision", "optimizer", "optimizer_in_backward", "grad_accum", "grad_checkpointing", "attention", "loss",
    "activation_offload", "lora_rank", "lora_targets", "qlora", "adapter_dtype", "lora_dropout", "zero", "fsdp", "tp",
    "pp", "offload",
)  # fmt: skip
"""``vram train``'s options that ``vram fit`` takes with --train."""
INFERENCE_OPTIONS = ("runtime", "gpu_memory_utilization", "dtype", "kv_dtype", "logits", "mla_cache", "cpu_ram", "plot")
"""Options of inference fits that --train has no use for."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_mode(values: dict[str, object]) -> None:
    """Refuse training options without --train, inference-only ones with it, and --train without a model."""
    from inspect import signature

    from vram.core.errors import SettingsError

    defaults = {k: p.default for k, p in signature(fit).parameters.items()}
    changed = {k for k, v in values.items() if k in defaults and v != getattr(defaults[k], "value", defaults[k])}
    if values["train"]:
        wrong = [_flag(k) for k in INFERENCE_OPTIONS if k in changed]
        if values["model"] is None:
            msg = "--train solves for one model: pass a MODEL (a catalog id, a config.json or a repo id)"
            raise SettingsError(msg)
        if wrong:
            msg = f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} for inference: drop it with --train"
            raise SettingsError(msg)
    else:
        wrong = [_flag(k) for k in TRAINING_OPTIONS if k in changed]
        if wrong:
            msg = f"{', '.join(wrong)}: `vram train` option(s) that vram fit takes with --train; add --train"
            raise SettingsError(msg)


def _train_document(
    model: str, values: dict[str, Any], card: "Gpu", count: int, settings: "FitSettingsDoc", version: str
) -> "FitDocument":
    """``vram fit MODEL --train``: the training setups on ``count`` cards, solved."""
    from vram.cli.train import training_settings
    from vram.core.fit_training import plan_training_fit
    from vram.report.fit import build_train_fit_document

    given = {k: values[k] for k in (*TRAINING_OPTIONS, "batch", "seq_len")}
    base = training_settings({**given, "gpus": count})
    resolved = _resolve(model, values["revision"], values["token"], values["offline"], values["timeout"])
    assert resolved.spec is not None
    plan = plan_training_fit(resolved.spec, base, card)
    return build_train_fit_document(resolved, plan, card, count, settings, version)
