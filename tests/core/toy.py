"""A one-layer toy decoder small enough to count by hand, shared by the core rule tests."""

from __future__ import annotations

from typing import Any

from vram.core.spec import ModelSpec

TOY: dict[str, Any] = {
    "model_type": "toy",
    "architecture": "ToyForCausalLM",
    "vocab_size": 10,
    "hidden_size": 2,
    "num_layers": 1,
    "num_heads": 1,
    "num_kv_heads": 1,
    "head_dim": 2,
    "intermediate_size": 3,
    "mlp_gated": True,
    "layer_types": ("full",),
}
"""vocab 10, hidden 2, one head of 2, gated MLP of 3, RMSNorm, untied head: 80 parameters in 12 tensors."""


def toy_spec(**over: Any) -> ModelSpec:
    """The toy decoder with ``over`` replacing or adding fields."""
    return ModelSpec(**{**TOY, **over})
