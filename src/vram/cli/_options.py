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


# The training choices repeat the Literal types of vram.core.training.settings (a test keeps them equal):
# importing that module here would load pydantic for every command's start-up.
class PrecisionChoice(str, Enum):
    """Training precision."""

    fp32 = "fp32"
    bf16_mixed = "bf16-mixed"
    fp16_mixed = "fp16-mixed"
    bf16 = "bf16"


class CheckpointingChoice(str, Enum):
    """Activation (gradient) checkpointing."""

    none = "none"
    full = "full"
    selective = "selective"


class AttentionChoice(str, Enum):
    """Attention implementation."""

    sdpa = "sdpa"
    flash = "flash"
    eager = "eager"


class LossChoice(str, Enum):
    """Cross-entropy over the full logits, or chunked / fused."""

    standard = "standard"
    chunked = "chunked"


class FsdpChoice(str, Enum):
    """FSDP sharding strategy."""

    none = "none"
    full = "full"
    grad_op = "grad-op"


class OffloadChoice(str, Enum):
    """What DeepSpeed / FSDP keep in CPU memory."""

    none = "none"
    optimizer = "optimizer"
    params = "params"


MAX_GRAD_ACCUM = 1 << 20
"""Largest --grad-accum: with MAX_BATCH and MAX_GPUS the effective batch stays within int64 (2^60)."""
MAX_LORA_RANK = 1 << 16
"""Largest --lora-rank (65,536): above the width of any model, so never a limit in practice."""

PrecisionOpt = Annotated[
    PrecisionChoice | None,
    typer.Option(
        help="fp32; bf16-mixed / fp16-mixed (autocast, fp32 master weights and gradients: HF Trainer, torch "
        "AMP); bf16 (pure bf16 weights, gradients and optimizer states: torchtune). Default: the mixed "
        "precision of the checkpoint's dtype.",
        show_default=False,
    ),
]
OptimizerOpt = Annotated[
    str,
    typer.Option(
        help="adamw, adam (torch fused), adamw-foreach, adamw-8bit, paged-adamw-8bit (bitsandbytes), "
        "adafactor, sgd, sgd-momentum, lion, muon."
    ),
]
OptimizerInBackwardOpt = Annotated[
    bool,
    typer.Option(
        "--optimizer-in-backward/--no-optimizer-in-backward",
        help="Step each parameter during backward, so one gradient is alive at a time (torchtune).",
    ),
]
GradAccumOpt = Annotated[
    int,
    typer.Option(min=1, max=MAX_GRAD_ACCUM, help="Micro-batches per optimizer step (memory is per micro-batch)."),
]
GradCheckpointingOpt = Annotated[
    CheckpointingChoice, typer.Option(help="Recompute activations in backward: every layer, or attention only.")
]
AttentionOpt = Annotated[AttentionChoice, typer.Option(help="Attention kernel; eager stores the seq x seq scores.")]
LossOpt = Annotated[
    LossChoice, typer.Option(help="Cross-entropy over all logits, or chunked/fused (torchtune, Liger).")
]
ActivationOffloadOpt = Annotated[
    bool,
    typer.Option("--activation-offload/--no-activation-offload", help="Keep checkpointed activations in CPU RAM."),
]
LoraRankOpt = Annotated[
    int | None,
    typer.Option(
        min=1, max=MAX_LORA_RANK, help="Train LoRA adapters of this rank on a frozen base.", show_default=False
    ),
]
LoraTargetsOpt = Annotated[
    str | None,
    typer.Option(
        help="Adapted modules: a comma list of q,k,v,o,gate,up,down (or q_proj ...) or qv, attn, mlp, "
        "all-linear. Default: all-linear.",
        show_default=False,
    ),
]
QloraOpt = Annotated[
    bool, typer.Option("--qlora/--no-qlora", help="LoRA on an NF4 base (double quantization); rank 8 unless given.")
]
AdapterDtypeOpt = Annotated[
    str | None,
    typer.Option(
        help="LoRA adapter dtype. Default: fp32 under fp32 and the mixed precisions (PEFT), bf16 under bf16.",
        show_default=False,
    ),
]
LoraDropoutOpt = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="Dropout probability before each LoRA adapter, below 1 (PEFT's lora_dropout; default 0 as PEFT's): "
        "each adapted module then saves a bool mask and its own dropped copy of its input.",
    ),
]
ZeroOpt = Annotated[int, typer.Option(min=0, max=3, help="DeepSpeed ZeRO stage: 0 (none), 1, 2 or 3.")]
FsdpOpt = Annotated[FsdpChoice, typer.Option(help="FSDP sharding: full (ZeRO-3-like), grad-op (ZeRO-2-like) or none.")]
TpOpt = Annotated[int, typer.Option(min=1, max=MAX_GPUS, help="Tensor-parallel ranks (Megatron-style).")]
PpOpt = Annotated[int, typer.Option(min=1, max=MAX_GPUS, help="Pipeline stages; figures are for the most loaded.")]
OffloadOpt = Annotated[
    OffloadChoice,
    typer.Option(help="DeepSpeed/FSDP CPU offload: optimizer states, or params (and optimizer states)."),
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
