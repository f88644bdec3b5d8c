"""Dense Llama-style decoders (gated MLP, RMSNorm by default): Llama, Mistral, Qwen, Gemma, Phi-3 and kin.

Module layouts from transformers 5.23, ``src/transformers/models/<type>/modeling_<type>.py``.
"""

from __future__ import annotations

from typing import Any

from vram.resolve.mapping.layout import gated, layer_types, window_layers
from vram.resolve.mapping.reader import Cfg


def llama(c: Cfg) -> dict[str, Any]:
    base = gated(c)
    return {**base, "mlp_bias": c.flag("mlp_bias"), **window_layers(c, base, use_flag="use_sliding_window")}


def mistral(c: Cfg) -> dict[str, Any]:
    base = gated(c)
    return {**base, **window_layers(c, base)}


def qwen2(c: Cfg) -> dict[str, Any]:
    base = gated(c, qkv_bias=True, o_bias=False)
    return {**base, **window_layers(c, base, use_flag="use_sliding_window")}


def qwen3(c: Cfg) -> dict[str, Any]:
    return {**llama(c), "qk_norm": "head"}


def gemma(c: Cfg) -> dict[str, Any]:
    return gated(c)


def gemma2(c: Cfg) -> dict[str, Any]:
    base = gemma(c)
    types = layer_types(c, base["num_layers"], lambda i: "sliding" if (i + 1) % 2 else "full")
    return {**base, "norms_per_layer": 4, "layer_types": types, "sliding_window": c.integer("sliding_window")}


def gemma3_text(c: Cfg) -> dict[str, Any]:
    base = gemma2(c)
    # Gemma3TextConfig: layer i is full attention iff (i + 1) % sliding_window_pattern == 0.
    pattern = c.positive("sliding_window_pattern", "_sliding_window_pattern")
    types = layer_types(c, base["num_layers"], lambda i: "full" if (i + 1) % pattern == 0 else "sliding")
    return {**base, "qk_norm": "head", "layer_types": types}


def phi3(c: Cfg) -> dict[str, Any]:
    base = gated(c, qkv_bias=False, o_bias=False)
    return {**base, "fused_qkv": True, "fused_gate_up": True, **window_layers(c, base)}


def olmo2(c: Cfg) -> dict[str, Any]:
    return {**llama(c), "qk_norm": "full", "mlp_bias": False}


def cohere(c: Cfg) -> dict[str, Any]:
    return {
        **gated(c),
        "norm": "layernorm_nobias",
        "norms_per_layer": 1,
        "qk_norm": "full" if c.flag("use_qk_norm") else "none",
        "qk_norm_kind": "layernorm_nobias",
    }


def stablelm(c: Cfg) -> dict[str, Any]:
    return {
        **gated(c, qkv_bias=c.flag("use_qkv_bias"), o_bias=False),
        "norm": "layernorm",
        "norms_per_layer": 1 if c.flag("use_parallel_residual") else 2,
        "qk_norm": "full" if c.flag("qk_layernorm") else "none",
        "qk_norm_kind": "layernorm_nobias",
    }
