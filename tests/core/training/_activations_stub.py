"""Fixed activation peaks for tests that check model states alone, whatever the activation model says."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vram.core.params import Tensor
from vram.core.spec import ModelSpec
from vram.core.training.activations import ActivationPeaks
from vram.core.training.settings import TrainingSettings

ActivationsFn = Callable[[ModelSpec, TrainingSettings, Sequence[Tensor]], ActivationPeaks]


def fixed_activations(saved: int, forward: int = 0, backward: int = 0, per_layer: int = 0) -> ActivationsFn:
    """An activation model that returns the same peaks whatever the model."""

    def fn(spec: ModelSpec, settings: TrainingSettings, adapters: Sequence[Tensor]) -> ActivationPeaks:
        del spec, settings, adapters
        details: dict[str, int | float | str] = {"per_layer_bytes": per_layer}
        return ActivationPeaks(
            saved_bytes=saved,
            forward_extra_bytes=forward,
            backward_extra_bytes=backward,
            cpu_bytes=0,
            note="fixed activations",
            details=details,
        )

    return fn


no_activations = fixed_activations(0)
"""Zero activation bytes: the estimate is then model states plus overhead."""
