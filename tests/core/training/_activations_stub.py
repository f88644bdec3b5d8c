"""A stand-in for the activation model in these tests: fixed byte counts, so model states can be checked alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vram.core.params import Tensor
from vram.core.spec import ModelSpec
from vram.core.training.settings import TrainingSettings


@dataclass(frozen=True)
class StubPeaks:
    """The fields of ActivationPeaks the estimate reads."""

    saved_bytes: int = 0
    forward_extra_bytes: int = 0
    backward_extra_bytes: int = 0
    cpu_bytes: int = 0
    note: str = "stub activations"
    details: dict[str, int | float | str] = field(default_factory=dict)


def no_activations(spec: ModelSpec, settings: TrainingSettings, adapters: Sequence[Tensor]) -> StubPeaks:
    """Zero activation bytes: the estimate is then model states plus overhead."""
    del spec, settings, adapters
    return StubPeaks()


def fixed_activations(
    saved: int, forward: int = 0, backward: int = 0, per_layer: int = 0
) -> Callable[[ModelSpec, TrainingSettings, Sequence[Tensor]], StubPeaks]:
    """An activation model that returns the same peaks whatever the model."""

    def fn(spec: ModelSpec, settings: TrainingSettings, adapters: Sequence[Tensor]) -> StubPeaks:
        del spec, settings, adapters
        return StubPeaks(saved, forward, backward, details={"per_layer_bytes": per_layer})

    return fn
