"""The per-GPU training estimate: six components at the moment of the peak."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vram.core.inference import WeightsEstimate
from vram.core.training.settings import TrainingSettings

PeakPhase = Literal["forward", "backward", "optimizer_step"]

COMPONENTS: tuple[str, ...] = ("weights", "master_weights", "gradients", "optimizer", "activations", "overhead")
"""Every training estimate holds these components, in this order (bytes 0 with a note when one does not apply)."""


class TrainingEstimate(WeightsEstimate):
    """Training memory on the most loaded GPU at its peak.

    ``components`` are the COMPONENTS, describing the moment ``peak_phase`` names; ``overhead`` holds
    what is not a tensor of the model or the data (CUDA context, communication buffers, allocator
    reserve), so ``total_bytes - overhead`` compares with ``torch.cuda.max_memory_allocated``.
    ``settings`` are the settings used, with the precision and the sequence length filled in.
    """

    settings: TrainingSettings
    trainable_parameters: int = Field(ge=0)
    peak_phase: PeakPhase
    cpu_bytes: int = Field(default=0, ge=0, description="host memory for offloaded states, 0 without offload")
    states_only: bool = Field(default=False, description="a bare parameter count: model states only")

    @property
    def effective_batch(self) -> int:
        """Sequences per optimizer step over all data-parallel ranks: batch x grad_accum x data-parallel size."""
        s = self.settings
        return s.batch * s.grad_accum * s.data_parallel
