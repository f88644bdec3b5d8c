"""``vram estimate``: inference memory for one model."""

import sys
from enum import Enum
from typing import Annotated

import typer

from vram.cli._errors import ExitCode
from vram.cli._options import (
    MAX_BATCH,
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

__all__ = ["MAX_BATCH", "MAX_SEQ_LEN", "estimate"]


class LogitsChoice(str, Enum):
    """Which positions the prefill computes logits for."""

    last = "last"
    all = "all"


class MlaChoice(str, Enum):
    """Which MLA KV layout to count."""

    latent = "latent"
    expanded = "expanded"


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
            min=1,
            max=MAX_SEQ_LEN,
            help="Context length in tokens (prompt + generated). Default: 4096, capped by the model's maximum.",
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
    units: UnitsOpt = UnitsChoice.GiB,
    json_out: JsonOpt = False,
) -> None:
    """Inference memory: weights, KV cache, activations and runtime overhead, and whether it fits a GPU."""
    with guard():
        from vram import __version__
        from vram.core.errors import WeightsOnlyFitError
        from vram.core.gpu import check_fit
        from vram.core.inference import InferenceSettings, WeightsEstimate, estimate_inference, estimate_weights_only
        from vram.report.document import build_document, render_json
        from vram.resolve import resolve
        from vram.resolve.catalog import gpu_from_arg

        card = gpu_from_arg(gpu) if gpu is not None else None
        resolved = resolve(model, revision=revision, token=token, offline=offline, timeout=timeout)
        est: WeightsEstimate
        if resolved.spec is None:
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
            )
            est = estimate_inference(resolved.spec, settings, resolved.checkpoint)
        fit = check_fit(est, card) if card is not None else None
        doc = build_document(resolved, est, fit, __version__)

        if json_out:
            print(render_json(doc))
        else:
            from vram.report.table import estimate_table, print_out

            print_out(*estimate_table(doc, units.value))
        sys.stdout.flush()  # a closed pipe shows here, inside the guard, not at interpreter exit
        for w in [*doc.warnings, *(fit.warnings if fit else ())]:
            print(f"warning: {w}", file=sys.stderr)
        if fit is not None and not fit.fits:
            raise typer.Exit(int(ExitCode.DOES_NOT_FIT))
