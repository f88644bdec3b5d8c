"""Building blocks shared by the family builders: the core fields, block styles and layer kinds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vram.core.errors import SpecError
from vram.core.spec import MAX_LAYERS, LayerKind
from vram.resolve.mapping.reader import Cfg

_LAYER_KINDS: dict[str, LayerKind] = {
    "full_attention": "full",
    "sliding_attention": "sliding",
    # transformers 5.23 caches a chunked layer like a sliding one, with attention_chunk_size as the
    # window (src/transformers/cache_utils.py: "chunked_attention" -> DynamicSlidingWindowLayer).
    "chunked_attention": "sliding",
}


def layer_types(c: Cfg, n: int, default: Callable[[int], LayerKind]) -> tuple[LayerKind, ...]:
    """``layer_types`` from the config when present (one entry per layer), else ``default(i)`` per layer."""
    raw = c.data.get("layer_types")
    if raw is None:
        return tuple(default(i) for i in range(n))
    if not isinstance(raw, list) or len(raw) != n:
        msg = f"layer_types must list one entry per layer ({n})"
        raise SpecError(msg, model_type=c.model_type, field=c.prefix + "layer_types")
    kinds: list[LayerKind] = []
    for x in raw:
        if not isinstance(x, str) or x not in _LAYER_KINDS:
            msg = f"layer type {x!r} is not supported ({', '.join(_LAYER_KINDS)} are)"
            raise SpecError(msg, model_type=c.model_type, field=c.prefix + "layer_types")
        kinds.append(_LAYER_KINDS[x])
    return tuple(kinds)


def every(kind: LayerKind) -> Callable[[int], LayerKind]:
    """The same kind for every layer."""
    return lambda _i: kind


def core(c: Cfg) -> dict[str, Any]:
    """The fields every decoder shares, under their usual config names."""
    hidden = c.positive("hidden_size", "n_embd", "d_model")
    heads = c.positive("num_attention_heads", "n_head", "num_heads")
    layers = c.positive("num_hidden_layers", "n_layer", "num_layers")
    if layers > MAX_LAYERS:
        msg = f"config.json says {layers:,} layers; vram accepts at most {MAX_LAYERS:,}"
        raise SpecError(msg, model_type=c.model_type, field=c.prefix + "num_hidden_layers")
    return {
        "vocab_size": c.integer("vocab_size"),
        "hidden_size": hidden,
        "num_layers": layers,
        "num_heads": heads,
        "num_kv_heads": c.integer("num_key_value_heads", default=heads),
        "head_dim": c.integer("head_dim", default=hidden // heads),
        "tie_word_embeddings": c.flag("tie_word_embeddings"),
        "max_position_embeddings": c.opt_int("max_position_embeddings", "n_positions"),
        "layer_types": layer_types(c, layers, every("full")),
    }


def classic(c: Cfg, *, intermediate: int | None = None, bias: bool = True, fused_qkv: bool = False) -> dict[str, Any]:
    """GPT-2-style block: LayerNorm, a plain two-matrix MLP, one bias flag for every projection."""
    return {
        **core(c),
        "intermediate_size": c.integer("intermediate_size") if intermediate is None else intermediate,
        "mlp_gated": False,
        "mlp_bias": bias,
        "qkv_bias": bias,
        "o_bias": bias,
        "fused_qkv": fused_qkv,
        "norm": "layernorm",
    }


def gated(c: Cfg, *, qkv_bias: bool | None = None, o_bias: bool | None = None) -> dict[str, Any]:
    """Llama-style block: gated MLP (gate, up, down), RMSNorm; q/k/v/o biases from attention_bias."""
    bias = c.flag("attention_bias")
    return {
        **core(c),
        "intermediate_size": c.integer("intermediate_size"),
        "mlp_gated": True,
        "qkv_bias": bias if qkv_bias is None else qkv_bias,
        "o_bias": bias if o_bias is None else o_bias,
    }


def window_layers(c: Cfg, base: dict[str, Any], *, use_flag: str | None = None) -> dict[str, Any]:
    """Mistral-style: every layer slides when sliding_window is set (and ``use_flag``, if any, is on).

    With ``use_sliding_window`` (Qwen2/Qwen3), layers from ``max_window_layers`` on slide.
    """
    window = c.opt_int("sliding_window")
    on = bool(window) and (use_flag is None or c.flag(use_flag))
    n = base["num_layers"]
    if use_flag == "use_sliding_window" and on:
        first_full = c.integer("max_window_layers", default=n)
        types = layer_types(c, n, lambda i: "sliding" if i >= first_full else "full")
    else:
        types = layer_types(c, n, every("sliding" if on else "full"))
    return {
        "layer_types": types,
        "sliding_window": window if "sliding" in types else None,
    }
