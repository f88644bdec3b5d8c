"""``vram fit``: what fits on a GPU: best format, longest context, largest batch, fewest GPUs, offload."""

import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from vram.cli._errors import ExitCode
from vram.cli._options import MAX_BATCH, MAX_SEQ_LEN, JsonOpt, UnitsChoice, UnitsOpt, guard
from vram.cli.estimate import LogitsChoice, MlaChoice
from vram.resolve.hub import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from vram.core.gpu import Gpu
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
    batch: Annotated[int, typer.Option("--batch", "-b", min=1, max=MAX_BATCH, help="Sequences processed at once.")] = 1,
    seq_len: Annotated[
        int | None,
        typer.Option(
            "--seq-len",
            "--ctx-size",
            "-s",
            min=1,
            max=MAX_SEQ_LEN,
            help="Context length in tokens the rows are judged at. Default: 4096, capped by the model's maximum.",
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
    revision: Annotated[str | None, typer.Option(help="Hub repos: branch, tag or commit.", show_default=False)] = None,
    token: Annotated[str | None, typer.Option(help="Hub token for gated or private repos.", show_default=False)] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Never use the network.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for the Hub before using the cache.")
    ] = DEFAULT_TIMEOUT,
    units: UnitsOpt = UnitsChoice.GiB,
    json_out: JsonOpt = False,
) -> None:
    """What fits on a GPU: each weight format's total, longest context and largest batch, the recommended format,
    the fewest GPUs, an offload split and a decode-speed bound (exit 1 when no format fits)."""
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
