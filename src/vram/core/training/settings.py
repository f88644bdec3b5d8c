"""What a training run looks like: precision, optimizer, batch, LoRA/QLoRA and the parallel layout.

``TrainingSettings`` is the one description every training module reads. It checks the
combinations that are wrong whatever the model (ZeRO with FSDP, a world size that tp x pp does
not divide, offload without a sharded optimizer); checks that need the architecture (tp dividing
the heads, pp within the layers, LoRA targets the model has) belong to the estimate.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from vram.core.errors import SettingsError
from vram.core.overhead import CUDA_CONTEXT_BYTES

Precision = Literal["fp32", "bf16-mixed", "fp16-mixed", "bf16"]
"""fp32; autocast with fp32 master weights and fp32 gradients (HF Trainer ``bf16=True`` / ``fp16=True``,
torch AMP); or pure bf16 weights, gradients and optimizer states (torchtune ``dtype: bf16``)."""

OptimizerName = Literal[
    "adamw", "adam", "adamw-foreach", "adamw-8bit", "paged-adamw-8bit", "adafactor", "sgd", "sgd-momentum",
    "lion", "muon",
]  # fmt: skip
Checkpointing = Literal["none", "full", "selective"]
Attention = Literal["sdpa", "flash", "eager"]
Loss = Literal["standard", "chunked"]
Fsdp = Literal["none", "full", "grad-op"]
Offload = Literal["none", "optimizer", "params"]
ZeroStage = Literal[0, 1, 2, 3]
LoraTarget = Literal["q", "k", "v", "o", "gate", "up", "down"]

LORA_TARGETS: tuple[LoraTarget, ...] = get_args(LoraTarget)
LORA_SHORTCUTS: dict[str, tuple[LoraTarget, ...]] = {
    "qv": ("q", "v"),
    "attn": ("q", "k", "v", "o"),
    "mlp": ("gate", "up", "down"),
    "all-linear": LORA_TARGETS,
}
"""``all-linear`` is PEFT's ``target_modules="all-linear"``: every Linear of the decoder blocks (the
output layer excluded; peft tuners_utils ``_maybe_include_all_linear_layers``)."""

_HF_NAMES: dict[str, LoraTarget] = {f"{t}_proj": t for t in LORA_TARGETS}
"""Hugging Face module names (``q_proj`` ... ``down_proj``) accepted for the short names."""

DEFAULT_TRAIN_SEQ_LEN = 2048
"""Sequence length when none is given (capped by the model's maximum): LLaMA-Factory's ``cutoff_len``
default (hiyouga/LLaMA-Factory src/llamafactory/hparams/data_args.py @072bfe29)."""

DEFAULT_LORA_DROPOUT = 0.0
"""--lora-dropout when not given: PEFT ``LoraConfig.lora_dropout`` defaults to 0.0 (peft
src/peft/tuners/lora/config.py), where the adapter's dropout is ``nn.Identity`` and saves nothing."""

DEFAULT_QLORA_RANK = 8
"""--qlora without --lora-rank: PEFT ``LoraConfig.r`` defaults to 8 (peft tuners/lora/config.py)."""


def parse_lora_targets(text: str) -> tuple[LoraTarget, ...]:
    """``q,v`` / ``q_proj,v_proj`` / ``attn`` ... -> the targets in canonical order (a SettingsError if unknown)."""
    chosen: set[LoraTarget] = set()
    for raw in text.split(","):
        name = raw.strip().lower()
        if name in LORA_SHORTCUTS:
            chosen.update(LORA_SHORTCUTS[name])
        elif name in LORA_TARGETS:
            chosen.add(name)
        elif name in _HF_NAMES:
            chosen.add(_HF_NAMES[name])
        else:
            known = ", ".join([*LORA_TARGETS, *LORA_SHORTCUTS])
            msg = f"unknown LoRA target {raw.strip()!r}: use a comma list of {known} (or q_proj ... down_proj)"
            raise SettingsError(msg)
    return tuple(t for t in LORA_TARGETS if t in chosen)


class TrainingSettings(BaseModel):
    """One training run as the user describes it; None means "derive it from the model"."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    precision: Precision | None = Field(default=None, description="None: the mixed precision of the checkpoint dtype")
    optimizer: OptimizerName = "adamw"
    optimizer_in_backward: bool = False
    batch: int = Field(default=1, ge=1, description="micro-batch per GPU (sequences)")
    seq_len: int | None = Field(default=None, ge=1, description="None: DEFAULT_TRAIN_SEQ_LEN capped by the model")
    grad_accum: int = Field(default=1, ge=1)
    grad_checkpointing: Checkpointing = "none"
    attention: Attention = "sdpa"
    loss: Loss = "standard"
    activation_offload: bool = False
    lora_rank: int | None = Field(default=None, ge=1)
    lora_targets: tuple[LoraTarget, ...] = LORA_TARGETS
    qlora: bool = False
    adapter_dtype: str | None = None
    lora_dropout: float = Field(default=DEFAULT_LORA_DROPOUT, ge=0.0, description="below 1; LoRA only")
    gpus: int = Field(default=1, ge=1, description="world size: data x tensor x pipeline parallel ranks")
    zero: ZeroStage = 0
    fsdp: Fsdp = "none"
    tp: int = Field(default=1, ge=1)
    pp: int = Field(default=1, ge=1)
    offload: Offload = "none"
    cuda_context_bytes: int = Field(default=CUDA_CONTEXT_BYTES, ge=0)

    def check(self) -> None:
        """Refuse combinations that are wrong for any model: a SettingsError (exit 2), raised by the
        estimate rather than by validation so that it is not wrapped in pydantic's ValidationError."""
        if self.zero and self.fsdp != "none":
            msg = f"--zero {self.zero} and --fsdp {self.fsdp} both shard the model states: choose one"
            raise SettingsError(msg)
        if self.gpus % (self.tp * self.pp):
            msg = f"--gpus {self.gpus} is not divisible by --tp {self.tp} x --pp {self.pp}"
            raise SettingsError(msg)
        if self.offload == "optimizer" and not (self.zero or self.fsdp != "none"):
            msg = "--offload optimizer needs a sharded optimizer: add --zero 1, 2 or 3 (DeepSpeed) or --fsdp"
            raise SettingsError(msg)
        if self.offload == "params" and not (self.zero == 3 or self.fsdp == "full"):
            msg = "--offload params needs sharded parameters: add --zero 3 (DeepSpeed) or --fsdp full"
            raise SettingsError(msg)
        if not self.lora and (self.adapter_dtype is not None or self.lora_targets != LORA_TARGETS):
            msg = "--lora-targets and --adapter-dtype apply to LoRA: add --lora-rank R (or --qlora)"
            raise SettingsError(msg)
        if self.lora_dropout and not self.lora:
            msg = "--lora-dropout applies to LoRA adapters: add --lora-rank R (or --qlora)"
            raise SettingsError(msg)
        if self.lora_dropout >= 1:
            msg = f"--lora-dropout {self.lora_dropout} would drop every adapter input: give a probability below 1"
            raise SettingsError(msg)
        if not self.lora_targets:
            msg = "--lora-targets names no module"
            raise SettingsError(msg)
        if self.optimizer_in_backward and (self.grad_accum > 1 or self.zero):
            what = f"--grad-accum {self.grad_accum}" if self.grad_accum > 1 else f"--zero {self.zero}"
            msg = (
                f"--optimizer-in-backward steps each parameter as its gradient arrives, so it cannot be combined "
                f"with {what} (torchtune refuses gradient accumulation with optimizer_in_bwd): drop one"
            )
            raise SettingsError(msg)

    @property
    def lora(self) -> bool:
        """True when the base is frozen and only adapters train (LoRA or QLoRA)."""
        return self.qlora or self.lora_rank is not None

    @property
    def rank(self) -> int | None:
        """The adapter rank in effect: --lora-rank, else 8 under --qlora, else None (full fine-tuning)."""
        if self.lora_rank is not None:
            return self.lora_rank
        return DEFAULT_QLORA_RANK if self.qlora else None

    @property
    def data_parallel(self) -> int:
        """Data-parallel ranks: the world size over the tensor and pipeline ranks."""
        return self.gpus // (self.tp * self.pp)
