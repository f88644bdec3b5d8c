"""vram: how much GPU memory a model needs, before you rent or buy the GPU.

The library API is the pure core plus the resolver::

    from vram import InferenceSettings, estimate_inference, resolve_model

    spec = resolve_model("meta-llama/Llama-2-7b-hf").spec
    est = estimate_inference(spec, InferenceSettings(dtype="int4", seq_len=4096))
    est.total_bytes, [(c.name, c.bytes) for c in est.components]

``vram.resolve`` is the resolver subpackage; the function that turns a MODEL reference into a spec
is ``resolve_model``, a name no submodule can shadow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vram._version import __version__
from vram.core.errors import VramError
from vram.core.gpu import Fit, Gpu, check_fit
from vram.core.inference import (
    InferenceEstimate,
    InferenceSettings,
    WeightsEstimate,
    estimate_inference,
    estimate_weights_only,
)
from vram.core.params import count_parameters, tensors
from vram.core.result import Component, Estimate
from vram.core.spec import ModelSpec

if TYPE_CHECKING:
    from vram.core.training.estimate import TrainingEstimate, estimate_training, estimate_training_states_only
    from vram.core.training.settings import TrainingSettings
    from vram.resolve.mapping import spec_from_config
    from vram.resolve.reference import Resolved
    from vram.resolve.reference import resolve as resolve_model

__all__ = [
    "Component",
    "Estimate",
    "Fit",
    "Gpu",
    "InferenceEstimate",
    "InferenceSettings",
    "ModelSpec",
    "Resolved",
    "TrainingEstimate",
    "TrainingSettings",
    "VramError",
    "WeightsEstimate",
    "__version__",
    "check_fit",
    "count_parameters",
    "estimate_inference",
    "estimate_training",
    "estimate_training_states_only",
    "estimate_weights_only",
    "resolve_model",
    "spec_from_config",
    "tensors",
]


_LAZY = {
    "resolve_model": ("vram.resolve.reference", "resolve"),
    "Resolved": ("vram.resolve.reference", "Resolved"),
    "spec_from_config": ("vram.resolve.mapping", "spec_from_config"),
    "TrainingEstimate": ("vram.core.training.estimate", "TrainingEstimate"),
    "estimate_training": ("vram.core.training.estimate", "estimate_training"),
    "estimate_training_states_only": ("vram.core.training.estimate", "estimate_training_states_only"),
    "TrainingSettings": ("vram.core.training.settings", "TrainingSettings"),
}
"""Attributes loaded on first use: the resolver and config mapping (they read files) and the training model,
which `vram estimate` and the other commands do not need at start-up."""


def __getattr__(name: str) -> Any:
    """Lazy attributes (``_LAZY``)."""
    if name not in _LAZY:
        raise AttributeError(name)
    from importlib import import_module

    module, attr = _LAZY[name]
    return getattr(import_module(module), attr)
