"""``vram estimate``: inference memory for one model."""

import sys
from enum import Enum
from typing import Annotated

import typer

from vram.cli._errors import ExitCode
from vram.cli._options import (
    MAX_BATCH,
    MAX_GPUS,
    MAX_SEQ_LEN,
    MODEL_HELP,
    GpuOpt,
    JsonOpt,
    OfflineOpt,
    RevisionOpt,
    TimeoutOpt,
    TokenOpt,
    UnitsChoice,
    UnitsOpt,
    guard,
)
from vram.resolve.hub import DEFAULT_TIMEOUT

__all__ = ["estimate"]


class LogitsChoice(str, Enum):
    """Which positions the prefill computes logits for."""

    last = "last"
    all = "all"


class RuntimeChoice(str, Enum):
    """Which runtime's allocations to model."""

    transformers = "transformers"
    vllm = "vllm"
    llamacpp = "llama.cpp"


class FlashAttnChoice(str, Enum):
    """llama.cpp's --flash-attn: on (what its default "auto" picks on CUDA) or off."""

    on = "on"
    off = "off"


class MlaChoice(str, Enum):
    """Which MLA KV layout to count."""

    latent = "latent"
    expanded = "expanded"


_VLLM = "vLLM"
_LLAMACPP = "llama.cpp"


def estimate(
    model: Annotated[
        str,
        typer.Argument(
            help=MODEL_HELP,
            metavar="MODEL",
            show_default=False,
        ),
    ],
    dtype: Annotated[
        str | None,
        typer.Option(
            "--dtype",
            "-d",
            help="Weight format: fp32, fp16, bf16, fp8, int8 (bnb LLM.int8), int4 (bnb NF4), nf4-dq, gptq, awq, "
            "mxfp4, Q4_K_M, ... (`vram dtypes`). Default: the checkpoint's own.",
            show_default=False,
        ),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", "-b", min=1, max=MAX_BATCH, help="Sequences processed at once.")] = 1,
    seq_len: Annotated[
        int | None,
        typer.Option(
            "--seq-len",
            "-s",
            "--ctx-size",
            min=1,
            max=MAX_SEQ_LEN,
            help="Context length in tokens (prompt + generated; llama.cpp's --ctx-size). Default: 4096, capped by "
            "the model's maximum.",
            show_default=False,
        ),
    ] = None,
    kv_dtype: Annotated[
        str | None,
        typer.Option(
            "--kv-dtype",
            help="KV cache element type: fp32, fp16, bf16, fp8, q8_0, q4_0. Default: the compute dtype.",
            show_default=False,
        ),
    ] = None,
    gpu: GpuOpt = None,
    logits: Annotated[
        LogitsChoice,
        typer.Option(help="Logits for the last position (generate, vLLM, llama.cpp) or for all (scoring)."),
    ] = LogitsChoice.last,
    mla_cache: Annotated[
        MlaChoice,
        typer.Option(help="MLA models: latent cache (vLLM/SGLang) or expanded per-head K/V (transformers)."),
    ] = MlaChoice.latent,
    revision: RevisionOpt = None,
    token: TokenOpt = None,
    offline: OfflineOpt = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    runtime: Annotated[
        RuntimeChoice,
        typer.Option(
            "--runtime",
            help="Whose allocations to model: transformers (one GPU, generate), vllm (vllm serve: needs --gpu) "
            "or llama.cpp.",
        ),
    ] = RuntimeChoice.transformers,
    tp: Annotated[
        int, typer.Option("--tp", min=1, max=MAX_GPUS, help="Tensor-parallel GPUs; figures are per GPU.")
    ] = 1,
    pp: Annotated[
        int, typer.Option("--pp", min=1, max=MAX_GPUS, help="Pipeline-parallel stages; figures are per GPU.")
    ] = 1,
    gpu_memory_utilization: Annotated[
        float,
        typer.Option(min=0.01, max=1.0, help="vLLM: share of the card's memory vLLM may use.", rich_help_panel=_VLLM),
    ] = 0.9,
    max_model_len: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_SEQ_LEN,
            help="vLLM: longest request. Default: --seq-len, else the model's maximum.",
            show_default=False,
            rich_help_panel=_VLLM,
        ),
    ] = None,
    max_num_seqs: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_BATCH,
            help="vLLM: requests per step. Default: 1024 on cards of 70 GiB or more (not A100), else 256.",
            show_default=False,
            rich_help_panel=_VLLM,
        ),
    ] = None,
    max_num_batched_tokens: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_SEQ_LEN,
            help="vLLM: tokens per step, what the profile run uses. Default: 8192 on cards of 70 GiB or more "
            "(not A100), else 2048.",
            show_default=False,
            rich_help_panel=_VLLM,
        ),
    ] = None,
    block_size: Annotated[
        int, typer.Option(min=1, max=1 << 16, help="vLLM: tokens per KV-cache block.", rich_help_panel=_VLLM)
    ] = 16,
    enforce_eager: Annotated[
        bool, typer.Option("--enforce-eager", help="vLLM: no CUDA graphs.", rich_help_panel=_VLLM)
    ] = False,
    flashinfer_sampler: Annotated[
        bool,
        typer.Option(
            "--flashinfer-sampler",
            help="vLLM: top-k/top-p sampling by FlashInfer (VLLM_USE_FLASHINFER_SAMPLER=1; vLLM's default up to "
            "0.11.0, and again in later releases): a smaller profile peak.",
            rich_help_panel=_VLLM,
        ),
    ] = False,
    n_gpu_layers: Annotated[
        int,
        typer.Option(
            "--n-gpu-layers",
            "-ngl",
            help="llama.cpp: layer slots on the GPU, the output layer first, then the last layers; -1 or more "
            "than the model has: all.",
            rich_help_panel=_LLAMACPP,
        ),
    ] = -1,
    ubatch_size: Annotated[
        int,
        typer.Option(min=1, max=MAX_SEQ_LEN, help="llama.cpp: micro-batch tokens.", rich_help_panel=_LLAMACPP),
    ] = 512,
    cache_type_k: Annotated[
        str | None,
        typer.Option(
            help="llama.cpp: K cache type (f16, bf16, f32, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1). Default: "
            "--kv-dtype, else f16.",
            show_default=False,
            rich_help_panel=_LLAMACPP,
        ),
    ] = None,
    cache_type_v: Annotated[
        str | None,
        typer.Option(help="llama.cpp: V cache type, as --cache-type-k.", show_default=False, rich_help_panel=_LLAMACPP),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option(min=1, max=MAX_BATCH, help="llama.cpp: sequences sharing --ctx-size.", rich_help_panel=_LLAMACPP),
    ] = 1,
    kv_unified: Annotated[
        bool,
        typer.Option(
            "--kv-unified",
            "-kvu",
            help="llama.cpp: one KV buffer shared by the --parallel sequences (every build before PR 14363, "
            "mid-2025), so each attends over the whole --ctx-size.",
            rich_help_panel=_LLAMACPP,
        ),
    ] = False,
    flash_attn: Annotated[
        FlashAttnChoice,
        typer.Option(
            "--flash-attn",
            "-fa",
            help="llama.cpp: flash attention; off holds the f32 K x Q scores in the compute buffer.",
            rich_help_panel=_LLAMACPP,
        ),
    ] = FlashAttnChoice.on,
    units: UnitsOpt = UnitsChoice.GiB,
    json_out: JsonOpt = False,
) -> None:
    """Inference memory: weights, KV cache, activations and runtime overhead, and whether it fits a GPU."""
    with guard():
        from vram import __version__
        from vram.core.errors import SettingsError, WeightsOnlyFitError
        from vram.core.gpu import check_fit
        from vram.core.inference import (
            InferenceSettings,
            LlamaCppSettings,
            VllmSettings,
            WeightsEstimate,
            estimate_weights_only,
        )
        from vram.core.runtimes import estimate_runtime, runtime_fit
        from vram.report.document import build_document, render_json
        from vram.resolve import resolve
        from vram.resolve.catalog import gpu_from_arg

        card = gpu_from_arg(gpu, tp * pp) if gpu is not None else None
        if runtime is RuntimeChoice.vllm and card is None:
            msg = "--runtime vllm needs --gpu: vLLM gives the KV cache a share of the card's memory"
            raise SettingsError(msg)
        resolved = resolve(model, revision=revision, token=token, offline=offline, timeout=timeout)
        est: WeightsEstimate
        fit = None
        vllm_given = {
            "--gpu-memory-utilization": gpu_memory_utilization != 0.9,
            "--max-model-len": max_model_len is not None,
            "--max-num-seqs": max_num_seqs is not None,
            "--max-num-batched-tokens": max_num_batched_tokens is not None,
            "--block-size": block_size != 16,
            "--enforce-eager": enforce_eager,
            "--flashinfer-sampler": flashinfer_sampler,
        }
        unused = [k for k, v in vllm_given.items() if v] if runtime is not RuntimeChoice.vllm else []
        verb = "applies" if len(unused) == 1 else "apply"
        notes = [f"{', '.join(unused)} {verb} only to --runtime vllm: ignored"] if unused else []
        if runtime is RuntimeChoice.vllm and (batch != 1 or logits is not LogitsChoice.last):
            notes.append("--batch and --logits do not apply to --runtime vllm (see --max-num-seqs): ignored")
        llama_given = {
            "--n-gpu-layers": n_gpu_layers != -1,
            "--ubatch-size": ubatch_size != 512,
            "--cache-type-k": cache_type_k is not None,
            "--cache-type-v": cache_type_v is not None,
            "--parallel": parallel != 1,
            "--flash-attn": flash_attn is not FlashAttnChoice.on,
            "--kv-unified": kv_unified,
        }
        unused = [k for k, v in llama_given.items() if v] if runtime is not RuntimeChoice.llamacpp else []
        if unused:
            notes.append(
                f"{', '.join(unused)} {'applies' if len(unused) == 1 else 'apply'} only to --runtime llama.cpp: ignored"
            )
        if runtime is RuntimeChoice.llamacpp and (batch != 1 or logits is not LogitsChoice.last):
            notes.append("--batch and --logits do not apply to --runtime llama.cpp (see --parallel): ignored")
            batch, logits = 1, LogitsChoice.last
        if resolved.spec is None:
            if runtime is not RuntimeChoice.transformers or tp > 1 or pp > 1:
                msg = (
                    f"{resolved.ref!r} is a bare parameter count: --runtime, --tp and --pp need an architecture; "
                    "pass a catalog model, a config.json or a repo id"
                )
                raise SettingsError(msg)
            given = {
                "--batch": batch != 1,
                "--seq-len": seq_len is not None,
                "--kv-dtype": kv_dtype is not None,
                "--logits": logits is not LogitsChoice.last,
                "--mla-cache": mla_cache is not MlaChoice.latent,
            }
            est = estimate_weights_only(resolved.parameters or 0, dtype, [k for k, v in given.items() if v])
            if card is not None:
                raise WeightsOnlyFitError(resolved.ref, est.total_bytes, card.name, card.usable_memory_bytes)
        else:
            settings = InferenceSettings(
                dtype=dtype,
                kv_dtype=kv_dtype,
                batch=batch,
                seq_len=seq_len,
                logits=logits.value,
                mla_cache=mla_cache.value,
                runtime=runtime.value,
                tp=tp,
                pp=pp,
                vllm=VllmSettings(
                    gpu_memory_utilization=gpu_memory_utilization,
                    max_model_len=max_model_len,
                    max_num_seqs=max_num_seqs,
                    max_num_batched_tokens=max_num_batched_tokens,
                    block_size=block_size,
                    enforce_eager=enforce_eager,
                    flashinfer_sampler=flashinfer_sampler,
                ),
                llamacpp=LlamaCppSettings(
                    n_gpu_layers=n_gpu_layers,
                    ubatch_size=ubatch_size,
                    cache_type_k=cache_type_k,
                    cache_type_v=cache_type_v,
                    parallel=parallel,
                    flash_attn=flash_attn is FlashAttnChoice.on,
                    kv_unified=kv_unified,
                ),
            )
            full = estimate_runtime(resolved.spec, settings, resolved.checkpoint, card)
            fit = runtime_fit(full, card) if card is not None else None
            est = full
        if fit is None and card is not None:
            fit = check_fit(est, card)
        decode = None
        if (
            card is not None
            and card.bandwidth_gb_s
            and resolved.spec is not None
            and runtime is RuntimeChoice.transformers
        ):
            from vram.core.decode import decode_bound
            from vram.core.inference import InferenceEstimate

            assert isinstance(est, InferenceEstimate)
            kv_one = est.component("kv_cache").bytes // est.settings.batch
            decode = decode_bound(resolved.spec, est.format, kv_one, card.bandwidth_gb_s)
        doc = build_document(resolved, est, fit, __version__, decode)

        if json_out:
            print(render_json(doc))
        else:
            from vram.report.table import estimate_table, print_out

            print_out(*estimate_table(doc, units.value))
        sys.stdout.flush()  # a closed pipe shows here, inside the guard, not at interpreter exit
        for w in [*notes, *doc.warnings, *(fit.warnings if fit else ())]:
            print(f"warning: {w}", file=sys.stderr)
        if fit is not None and not fit.fits:
            raise typer.Exit(int(ExitCode.DOES_NOT_FIT))
