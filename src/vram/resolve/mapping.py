"""config.json -> ModelSpec, one table row per ``model_type`` (pure: a dict in, a spec out).

Each row names the transformers class it mirrors and the config defaults that class uses when a
key is absent (absence matters: ``tie_word_embeddings`` defaults to True for Gemma and False for
Llama). Defaults were read from transformers 5.23's config classes (``scripts/golden_params.py``
dumps them); module layouts from ``src/transformers/models/<type>/modeling_<type>.py``.
A ``model_type`` without a row gets an approximate llama-like spec when the standard fields are
there (``exact=False``, every assumption listed), or an error naming the missing field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import isfinite
from typing import Any, Literal

from pydantic import ValidationError

from vram.core.dtypes import get_format
from vram.core.errors import MissingFieldError, SpecError, UnknownFormatError, UnsupportedArchitectureError
from vram.core.spec import MAX_LAYERS, MLA, LayerKind, ModelSpec, MoE, VisionTower

_MISSING = object()


Origin = Literal["config.json", "transformers default", "implied"]


@dataclass(frozen=True)
class Read:
    """One config value the mapping used, and where it came from.

    ``asked`` is the request that produced it: the keys the mapping looked for, preferred first.
    Its first key names the quantity (``moe_intermediate_size`` even when a Mixtral config answers
    with ``intermediate_size``), so ``vram inspect`` can tell which read fed which spec value.
    """

    key: str
    value: Any
    origin: Origin
    asked: tuple[str, ...] = ()


class Cfg:
    """A config dict with the family's defaults behind it; reports missing keys by name.

    Every value it hands out is recorded in ``trace`` with its origin: the file itself, the
    transformers class default for an absent key, or a rule of the mapping (``implied``, e.g.
    head_dim = hidden_size // num_attention_heads). ``vram inspect`` shows that trace.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        model_type: str,
        defaults: Mapping[str, Any],
        trace: list[Read] | None = None,
        prefix: str = "",
    ) -> None:
        self.data = data
        self.model_type = model_type
        self.defaults = defaults
        self.trace: list[Read] = [] if trace is None else trace
        self.prefix = prefix

    def nested(self, data: Mapping[str, Any], model_type: str, defaults: Mapping[str, Any], key: str) -> Cfg:
        """A sub-config (e.g. text_config) recording into the same trace under ``key.``."""
        return Cfg(data, model_type, defaults, self.trace, f"{self.prefix}{key}.")

    def _record(self, key: str, value: Any, origin: Origin, asked: tuple[str, ...]) -> Any:
        self.trace.append(Read(self.prefix + key, value, origin, asked))
        return value

    def get(self, *keys: str, default: Any = _MISSING) -> Any:
        """First of ``keys`` present in the config, else the family default, else ``default``.

        An explicit ``null`` counts as present: it means "unset" (as transformers reads it), so
        ``default`` applies, not the family default.
        """
        for k in keys:
            if k in self.data:
                if self.data[k] is not None:
                    return self._record(k, self.data[k], "config.json", keys)
                break
        else:
            for k in keys:
                if self.defaults.get(k) is not None:
                    return self._record(k, self.defaults[k], "transformers default", keys)
        if default is _MISSING:
            raise MissingFieldError(self.prefix + keys[0], model_type=self.model_type)
        return self._record(keys[0], default, "implied", keys)

    def integer(self, *keys: str, default: Any = _MISSING) -> int:
        """An integer field; a float like 4096.0 is accepted, anything else is a SpecError."""
        value = self.get(*keys, default=default)
        return self._as_int(keys[0], value)

    def opt_int(self, *keys: str) -> int | None:
        """An integer field that may be absent or null."""
        value = self.get(*keys, default=None)
        return None if value is None else self._as_int(keys[0], value)

    def _as_int(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or not isfinite(value) or int(value) != value:
            msg = f"config.json field {key!r} must be an integer, got {value!r}"
            raise SpecError(msg, model_type=self.model_type, field=key)
        if value < 0:
            msg = f"config.json field {key!r} must not be negative, got {value!r}"
            raise SpecError(msg, model_type=self.model_type, field=key)
        return int(value)

    def positive(self, *keys: str) -> int:
        """An integer field that must be at least 1 (a size or a count of layers or heads)."""
        value = self.integer(*keys)
        if value < 1:
            msg = f"config.json field {keys[0]!r} must be at least 1, got {value}"
            raise SpecError(msg, model_type=self.model_type, field=keys[0])
        return value

    def int_list(self, key: str) -> list[int]:
        """A list of integers (layer indices); absent or null is an empty list."""
        value = self.get(key, default=None) or []
        if not isinstance(value, list):
            msg = f"config.json field {key!r} must be a list of integers, got {value!r}"
            raise SpecError(msg, model_type=self.model_type, field=key)
        return [self._as_int(key, v) for v in value]

    def flag(self, *keys: str, default: bool = False) -> bool:
        """A boolean field."""
        return bool(self.get(*keys, default=default))


@dataclass(frozen=True)
class Family:
    """How one model_type maps to a spec."""

    architecture: str
    defaults: Mapping[str, Any]
    build: Callable[[Cfg], dict[str, Any]]


def _head_dim(c: Cfg, hidden: int, heads: int) -> int:
    return c.integer("head_dim", default=hidden // heads)


def _layer_types(c: Cfg, n: int, default: Callable[[int], LayerKind]) -> tuple[LayerKind, ...]:
    raw = c.data.get("layer_types")
    if raw is None:
        return tuple(default(i) for i in range(n))
    if not isinstance(raw, list) or len(raw) != n:
        msg = f"layer_types must list one entry per layer ({n})"
        raise SpecError(msg, model_type=c.model_type, field="layer_types")
    kinds: list[LayerKind] = []
    for x in raw:
        if x == "full_attention":
            kinds.append("full")
        elif x == "sliding_attention":
            kinds.append("sliding")
        else:
            msg = f"layer type {x!r} is not supported (full_attention and sliding_attention are)"
            raise SpecError(msg, model_type=c.model_type, field="layer_types")
    return tuple(kinds)


def _all(kind: LayerKind) -> Callable[[int], LayerKind]:
    return lambda _i: kind


def _classic(c: Cfg, *, intermediate: int | None = None, bias: bool = True, fused_qkv: bool = False) -> dict[str, Any]:
    """GPT-2-style block: LayerNorm, a plain two-matrix MLP, one bias flag for every projection."""
    base = _core(c)
    return {
        **base,
        "intermediate_size": c.integer("intermediate_size") if intermediate is None else intermediate,
        "mlp_gated": False,
        "mlp_bias": bias,
        "qkv_bias": bias,
        "o_bias": bias,
        "fused_qkv": fused_qkv,
        "norm": "layernorm",
    }


def _core(c: Cfg) -> dict[str, Any]:
    """The fields every decoder shares, under their usual config names."""
    hidden = c.positive("hidden_size", "n_embd", "d_model")
    heads = c.positive("num_attention_heads", "n_head", "num_heads")
    layers = c.positive("num_hidden_layers", "n_layer", "num_layers")
    if layers > MAX_LAYERS:
        msg = f"config.json says {layers:,} layers; vram accepts at most {MAX_LAYERS:,}"
        raise SpecError(msg, model_type=c.model_type, field="num_hidden_layers")
    return {
        "vocab_size": c.integer("vocab_size"),
        "hidden_size": hidden,
        "num_layers": layers,
        "num_heads": heads,
        "num_kv_heads": c.integer("num_key_value_heads", default=heads),
        "head_dim": _head_dim(c, hidden, heads),
        "tie_word_embeddings": c.flag("tie_word_embeddings"),
        "max_position_embeddings": c.opt_int("max_position_embeddings", "n_positions"),
        "layer_types": _layer_types(c, layers, _all("full")),
    }


def _window_layers(c: Cfg, base: dict[str, Any], *, use_flag: str | None = None) -> dict[str, Any]:
    """Mistral-style: every layer slides when sliding_window is set (and ``use_flag``, if any, is on)."""
    window = c.opt_int("sliding_window")
    on = bool(window) and (use_flag is None or c.flag(use_flag))
    n = base["num_layers"]
    if use_flag == "use_sliding_window" and on:
        first_full = c.integer("max_window_layers", default=n)
        types = _layer_types(c, n, lambda i: "sliding" if i >= first_full else "full")
    else:
        types = _layer_types(c, n, _all("sliding" if on else "full"))
    return {
        "layer_types": types,
        "sliding_window": window if "sliding" in types else None,
    }


def _gated(c: Cfg, *, qkv_bias: bool | None = None, o_bias: bool | None = None) -> dict[str, Any]:
    """Llama-style block: gated MLP (gate, up, down), RMSNorm; q/k/v/o biases from attention_bias."""
    bias = c.flag("attention_bias")
    return {
        **_core(c),
        "intermediate_size": c.integer("intermediate_size"),
        "mlp_gated": True,
        "qkv_bias": bias if qkv_bias is None else qkv_bias,
        "o_bias": bias if o_bias is None else o_bias,
    }


def _llama(c: Cfg) -> dict[str, Any]:
    base = _gated(c)
    return {**base, "mlp_bias": c.flag("mlp_bias"), **_window_layers(c, base, use_flag="use_sliding_window")}


def _mistral(c: Cfg) -> dict[str, Any]:
    base = _gated(c)
    return {**base, **_window_layers(c, base)}


def _all_moe(c: Cfg, n: int, **kw: Any) -> MoE:
    return MoE(
        num_experts=c.integer("num_local_experts", "num_experts"),
        experts_per_token=c.integer("num_experts_per_tok"),
        expert_intermediate_size=c.integer("moe_intermediate_size", "intermediate_size"),
        moe_layers=(True,) * n,
        **kw,
    )


def _mixtral(c: Cfg) -> dict[str, Any]:
    base = _mistral(c)
    return {**base, "intermediate_size": 0, "moe": _all_moe(c, base["num_layers"])}


def _qwen_sparse_layers(c: Cfg, n: int) -> tuple[bool, ...]:
    experts = c.integer("num_experts", "num_local_experts", default=0)
    step = c.integer("decoder_sparse_step", default=1)
    only_mlp = set(c.int_list("mlp_only_layers"))
    return tuple(experts > 0 and i not in only_mlp and (i + 1) % step == 0 for i in range(n))


def _qwen2(c: Cfg) -> dict[str, Any]:
    base = _gated(c, qkv_bias=True, o_bias=False)
    return {**base, **_window_layers(c, base, use_flag="use_sliding_window")}


def _qwen2_moe(c: Cfg) -> dict[str, Any]:
    base = _qwen2(c)
    n = base["num_layers"]
    base["qkv_bias"] = c.flag("qkv_bias", default=True)
    base["moe"] = MoE(
        num_experts=c.integer("num_experts"),
        experts_per_token=c.integer("num_experts_per_tok"),
        expert_intermediate_size=c.integer("moe_intermediate_size"),
        shared_intermediate_size=c.integer("shared_expert_intermediate_size", default=0),
        shared_expert_gate=c.integer("shared_expert_intermediate_size", default=0) > 0,
        moe_layers=_qwen_sparse_layers(c, n),
    )
    return base


def _qwen3(c: Cfg) -> dict[str, Any]:
    base = _llama(c)
    return {**base, "qk_norm": "head"}


def _qwen3_moe(c: Cfg) -> dict[str, Any]:
    base = _qwen3(c)
    n = base["num_layers"]
    base["moe"] = MoE(
        num_experts=c.integer("num_experts", "num_local_experts"),
        experts_per_token=c.integer("num_experts_per_tok"),
        expert_intermediate_size=c.integer("moe_intermediate_size"),
        moe_layers=_qwen_sparse_layers(c, n),
    )
    return base


def _gemma(c: Cfg) -> dict[str, Any]:
    return _gated(c)


def _gemma2(c: Cfg) -> dict[str, Any]:
    base = _gemma(c)
    n = base["num_layers"]
    types = _layer_types(c, n, lambda i: "sliding" if (i + 1) % 2 else "full")
    return {
        **base,
        "norms_per_layer": 4,
        "layer_types": types,
        "sliding_window": c.integer("sliding_window"),
    }


def _gemma3_text(c: Cfg) -> dict[str, Any]:
    base = _gemma2(c)
    pattern = c.integer("sliding_window_pattern", "_sliding_window_pattern", default=6)
    types = _layer_types(c, base["num_layers"], lambda i: "full" if (i + 1) % pattern == 0 else "sliding")
    return {**base, "qk_norm": "head", "layer_types": types}


def _gemma3(c: Cfg) -> dict[str, Any]:
    text = c.get("text_config", default={})
    vision = c.get("vision_config", default={})
    if not isinstance(text, dict) or not isinstance(vision, dict):
        msg = "text_config and vision_config must be JSON objects"
        raise SpecError(msg, model_type=c.model_type, field="text_config")
    tc = c.nested(text, "gemma3_text", _DEFAULTS["gemma3_text"], "text_config")
    vc = c.nested(vision, "siglip_vision_model", _DEFAULTS["siglip_vision_model"], "vision_config")
    spec = _gemma3_text(tc)
    spec["tie_word_embeddings"] = c.flag("tie_word_embeddings")
    spec["vision"] = VisionTower(
        hidden_size=vc.integer("hidden_size"),
        intermediate_size=vc.integer("intermediate_size"),
        num_layers=vc.integer("num_hidden_layers"),
        num_channels=vc.integer("num_channels"),
        patch_size=vc.integer("patch_size"),
        image_size=vc.integer("image_size"),
        head=vc.flag("vision_use_head"),
    )
    return spec


def _phi(c: Cfg) -> dict[str, Any]:
    base = _core(c)
    return {
        **base,
        "intermediate_size": c.integer("intermediate_size"),
        "mlp_gated": False,
        "mlp_bias": True,
        "qkv_bias": True,
        "o_bias": True,
        "qk_norm": "head" if c.flag("qk_layernorm") else "none",
        "qk_norm_kind": "layernorm",
        "norm": "layernorm",
        "norms_per_layer": 1,
        "lm_head_bias": True,
    }


def _phi3(c: Cfg) -> dict[str, Any]:
    base = _gated(c, qkv_bias=False, o_bias=False)
    return {**base, "fused_qkv": True, "fused_gate_up": True, **_window_layers(c, base)}


def _gpt2(c: Cfg) -> dict[str, Any]:
    positions = c.integer("n_positions")
    inner = c.integer("n_inner", default=4 * c.positive("n_embd", "hidden_size"))
    spec = _classic(c, intermediate=inner, fused_qkv=True)
    return {**spec, "learned_positions": positions, "max_position_embeddings": positions}


def _gpt_neox(c: Cfg) -> dict[str, Any]:
    spec = _classic(c, bias=c.flag("attention_bias", default=True), fused_qkv=True)
    return {**spec, "mlp_bias": True}


def _falcon(c: Cfg) -> dict[str, Any]:
    hidden, heads = c.positive("hidden_size"), c.positive("num_attention_heads")
    if c.flag("new_decoder_architecture"):
        kv = c.integer("num_kv_heads", default=heads)
        norms = c.integer("num_ln_in_parallel_attn", default=2)
    else:
        kv = 1 if c.flag("multi_query", default=True) else heads
        norms = 1 if c.flag("parallel_attn", default=True) else 2
    spec = _classic(
        c, intermediate=c.integer("ffn_hidden_size", default=4 * hidden), bias=c.flag("bias"), fused_qkv=True
    )
    return {**spec, "num_kv_heads": kv, "head_dim": hidden // heads, "norms_per_layer": norms}


def _opt(c: Cfg) -> dict[str, Any]:
    if not c.flag("layer_norm_elementwise_affine", default=True):
        msg = "OPT with layer_norm_elementwise_affine=false is not supported"
        raise SpecError(msg, model_type="opt", field="layer_norm_elementwise_affine")
    spec = _classic(c, intermediate=c.integer("ffn_dim"), bias=c.flag("enable_bias", default=True))
    emb = c.integer("word_embed_proj_dim", default=spec["hidden_size"])
    return {
        **spec,
        "final_norm": c.flag("do_layer_norm_before", default=True) and not c.flag("_remove_final_layer_norm"),
        # OPTLearnedPositionalEmbedding keeps 2 extra rows (its position offset).
        "learned_positions": c.integer("max_position_embeddings") + 2,
        "embedding_dim": emb if emb != spec["hidden_size"] else None,
    }


def _bloom(c: Cfg) -> dict[str, Any]:
    spec = _classic(c, intermediate=4 * c.positive("hidden_size", "n_embd"), fused_qkv=True)
    return {**spec, "embedding_norm": True}


def _starcoder2(c: Cfg) -> dict[str, Any]:
    spec = _classic(c, bias=c.flag("use_bias", default=True))
    return {**spec, **_window_layers(c, spec)}


def _olmo2(c: Cfg) -> dict[str, Any]:
    base = _llama(c)
    return {**base, "qk_norm": "full", "mlp_bias": False}


def _cohere(c: Cfg) -> dict[str, Any]:
    return {
        **_gated(c),
        "norm": "layernorm_nobias",
        "norms_per_layer": 1,
        "qk_norm": "full" if c.flag("use_qk_norm") else "none",
        "qk_norm_kind": "layernorm_nobias",
    }


def _stablelm(c: Cfg) -> dict[str, Any]:
    return {
        **_gated(c, qkv_bias=c.flag("use_qkv_bias"), o_bias=False),
        "norm": "layernorm",
        "norms_per_layer": 1 if c.flag("use_parallel_residual") else 2,
        "qk_norm": "full" if c.flag("qk_layernorm") else "none",
        "qk_norm_kind": "layernorm_nobias",
    }


def _deepseek(c: Cfg) -> dict[str, Any]:
    base = _gated(c)
    n = base["num_layers"]
    mla = MLA(
        q_lora_rank=c.opt_int("q_lora_rank"),
        kv_lora_rank=c.integer("kv_lora_rank"),
        qk_nope_head_dim=c.integer("qk_nope_head_dim"),
        qk_rope_head_dim=c.integer("qk_rope_head_dim"),
        v_head_dim=c.integer("v_head_dim"),
    )
    experts = c.opt_int("n_routed_experts")
    first_dense = c.integer("first_k_dense_replace", default=0)
    freq = c.integer("moe_layer_freq", default=1)
    moe = None
    if experts:
        moe = MoE(
            num_experts=experts,
            experts_per_token=c.integer("num_experts_per_tok"),
            expert_intermediate_size=c.integer("moe_intermediate_size"),
            shared_intermediate_size=c.integer("moe_intermediate_size") * c.integer("n_shared_experts", default=0),
            moe_layers=tuple(i >= first_dense and i % freq == 0 for i in range(n)),
        )
    return {**base, "num_kv_heads": base["num_heads"], "head_dim": mla.qk_head_dim, "mla": mla, "moe": moe}


def _gpt_oss(c: Cfg) -> dict[str, Any]:
    base = _core(c)
    n = base["num_layers"]
    bias = c.flag("attention_bias", default=True)
    types = _layer_types(c, n, lambda i: "sliding" if i % 2 == 0 else "full")
    return {
        **base,
        "intermediate_size": 0,
        "mlp_gated": True,
        "qkv_bias": bias,
        "o_bias": bias,
        "attention_sinks": True,
        "moe": _all_moe(c, n, router_bias=True, expert_bias=True),
        "layer_types": types,
        "sliding_window": c.integer("sliding_window") if "sliding" in types else None,
    }


# Config-class defaults of transformers 5.23, for the keys that change a count; dumped by
# scripts/golden_params.py --defaults (head_dim only where the class has a fixed default rather than
# hidden_size // num_attention_heads). Keys the classes derive from others (num_key_value_heads,
# ffn_hidden_size, word_embed_proj_dim when null) are left out so the derivation applies.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {
        "vocab_size": 32000,
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
    },
    "mistral": {
        "vocab_size": 32000,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "max_position_embeddings": 131072,
        "tie_word_embeddings": False,
        "sliding_window": 4096,
    },
    "mixtral": {
        "vocab_size": 32000,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "max_position_embeddings": 131072,
        "tie_word_embeddings": False,
        "num_local_experts": 8,
        "num_experts_per_tok": 2,
    },
    "qwen2": {
        "vocab_size": 151936,
        "hidden_size": 4096,
        "intermediate_size": 22016,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": False,
        "use_sliding_window": False,
        "max_window_layers": 28,
    },
    "qwen2_moe": {
        "vocab_size": 151936,
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "num_key_value_heads": 16,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": False,
        "qkv_bias": True,
        "sliding_window": 0,
        "use_sliding_window": False,
        "max_window_layers": 28,
        "num_experts": 60,
        "num_experts_per_tok": 4,
        "moe_intermediate_size": 1408,
        "shared_expert_intermediate_size": 5632,
        "decoder_sparse_step": 1,
    },
    "qwen3": {
        "vocab_size": 151936,
        "hidden_size": 4096,
        "intermediate_size": 22016,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "use_sliding_window": False,
        "max_window_layers": 28,
        "head_dim": 128,
    },
    "qwen3_moe": {
        "vocab_size": 151936,
        "hidden_size": 2048,
        "intermediate_size": 6144,
        "num_hidden_layers": 24,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "use_sliding_window": False,
        "num_local_experts": 128,
        "num_experts_per_tok": 8,
        "moe_intermediate_size": 768,
        "decoder_sparse_step": 1,
    },
    "gemma": {
        "vocab_size": 256000,
        "hidden_size": 3072,
        "intermediate_size": 24576,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 16,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "head_dim": 256,
    },
    "gemma2": {
        "vocab_size": 256000,
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "sliding_window": 4096,
        "head_dim": 256,
    },
    "gemma3_text": {
        "vocab_size": 262208,
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "max_position_embeddings": 131072,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "sliding_window": 4096,
        "_sliding_window_pattern": 6,
        "head_dim": 256,
    },
    "gemma3": {"tie_word_embeddings": True},
    "phi": {
        "vocab_size": 51200,
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 24,
        "num_attention_heads": 32,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
        "qk_layernorm": False,
    },
    "phi3": {
        "vocab_size": 32064,
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
    },
    "gpt2": {
        "vocab_size": 50257,
        "n_embd": 768,
        "n_layer": 12,
        "n_head": 12,
        "n_positions": 1024,
        "tie_word_embeddings": True,
    },
    "gpt_neox": {
        "vocab_size": 50432,
        "hidden_size": 6144,
        "intermediate_size": 24576,
        "num_hidden_layers": 44,
        "num_attention_heads": 64,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
        "attention_bias": True,
        "use_parallel_residual": True,
    },
    "falcon": {
        "vocab_size": 65024,
        "hidden_size": 4544,
        "num_hidden_layers": 32,
        "num_attention_heads": 71,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": True,
        "bias": False,
        "new_decoder_architecture": False,
        "multi_query": True,
        "parallel_attn": True,
    },
    "opt": {
        "vocab_size": 50272,
        "hidden_size": 768,
        "ffn_dim": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": True,
        "enable_bias": True,
        "do_layer_norm_before": True,
    },
    "bloom": {
        "vocab_size": 250880,
        "hidden_size": 64,
        "n_layer": 2,
        "n_head": 8,
        "tie_word_embeddings": True,
    },
    "starcoder2": {
        "vocab_size": 49152,
        "hidden_size": 3072,
        "intermediate_size": 12288,
        "num_hidden_layers": 30,
        "num_attention_heads": 24,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
        "use_bias": True,
    },
    "olmo2": {
        "vocab_size": 50304,
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
        "attention_bias": False,
    },
    "cohere": {
        "vocab_size": 256000,
        "hidden_size": 8192,
        "intermediate_size": 22528,
        "num_hidden_layers": 40,
        "num_attention_heads": 64,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "use_qk_norm": False,
    },
    "granite": {
        "vocab_size": 32000,
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
    },
    "stablelm": {
        "vocab_size": 50304,
        "hidden_size": 2560,
        "intermediate_size": 6912,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
        "use_qkv_bias": False,
        "use_parallel_residual": False,
        "qk_layernorm": False,
    },
    "deepseek_v2": {
        "vocab_size": 102400,
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "moe_intermediate_size": 1407,
        "n_routed_experts": 64,
        "n_shared_experts": 2,
        "first_k_dense_replace": 0,
        "kv_lora_rank": 512,
        "q_lora_rank": 1536,
        "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64,
        "v_head_dim": 128,
    },
    "deepseek_v3": {
        "vocab_size": 129280,
        "hidden_size": 7168,
        "intermediate_size": 18432,
        "num_hidden_layers": 61,
        "num_attention_heads": 128,
        "num_key_value_heads": 128,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "num_experts_per_tok": 8,
        "moe_intermediate_size": 2048,
        "n_routed_experts": 256,
        "n_shared_experts": 1,
        "first_k_dense_replace": 3,
        "kv_lora_rank": 512,
        "q_lora_rank": 1536,
        "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64,
        "v_head_dim": 128,
    },
    "gpt_oss": {
        "vocab_size": 201088,
        "hidden_size": 2880,
        "intermediate_size": 2880,
        "num_hidden_layers": 36,
        "num_attention_heads": 64,
        "num_key_value_heads": 8,
        "max_position_embeddings": 131072,
        "tie_word_embeddings": False,
        "attention_bias": True,
        "sliding_window": 128,
        "num_local_experts": 128,
        "num_experts_per_tok": 4,
        "head_dim": 64,
    },
    "siglip_vision_model": {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "num_channels": 3,
        "image_size": 224,
        "patch_size": 16,
        "vision_use_head": True,
    },
}

FAMILIES: dict[str, Family] = {
    "llama": Family("LlamaForCausalLM", _DEFAULTS["llama"], _llama),
    "granite": Family("GraniteForCausalLM", _DEFAULTS["granite"], _llama),
    "mistral": Family("MistralForCausalLM", _DEFAULTS["mistral"], _mistral),
    "mixtral": Family("MixtralForCausalLM", _DEFAULTS["mixtral"], _mixtral),
    "qwen2": Family("Qwen2ForCausalLM", _DEFAULTS["qwen2"], _qwen2),
    "qwen2_moe": Family("Qwen2MoeForCausalLM", _DEFAULTS["qwen2_moe"], _qwen2_moe),
    "qwen3": Family("Qwen3ForCausalLM", _DEFAULTS["qwen3"], _qwen3),
    "qwen3_moe": Family("Qwen3MoeForCausalLM", _DEFAULTS["qwen3_moe"], _qwen3_moe),
    "gemma": Family("GemmaForCausalLM", _DEFAULTS["gemma"], _gemma),
    "gemma2": Family("Gemma2ForCausalLM", _DEFAULTS["gemma2"], _gemma2),
    "gemma3_text": Family("Gemma3ForCausalLM", _DEFAULTS["gemma3_text"], _gemma3_text),
    "gemma3": Family("Gemma3ForConditionalGeneration", _DEFAULTS["gemma3"], _gemma3),
    "phi": Family("PhiForCausalLM", _DEFAULTS["phi"], _phi),
    "phi3": Family("Phi3ForCausalLM", _DEFAULTS["phi3"], _phi3),
    "gpt2": Family("GPT2LMHeadModel", _DEFAULTS["gpt2"], _gpt2),
    "gpt_neox": Family("GPTNeoXForCausalLM", _DEFAULTS["gpt_neox"], _gpt_neox),
    "falcon": Family("FalconForCausalLM", _DEFAULTS["falcon"], _falcon),
    "opt": Family("OPTForCausalLM", _DEFAULTS["opt"], _opt),
    "bloom": Family("BloomForCausalLM", _DEFAULTS["bloom"], _bloom),
    "starcoder2": Family("Starcoder2ForCausalLM", _DEFAULTS["starcoder2"], _starcoder2),
    "olmo2": Family("Olmo2ForCausalLM", _DEFAULTS["olmo2"], _olmo2),
    "cohere": Family("CohereForCausalLM", _DEFAULTS["cohere"], _cohere),
    "stablelm": Family("StableLmForCausalLM", _DEFAULTS["stablelm"], _stablelm),
    "deepseek_v2": Family("DeepseekV2ForCausalLM", _DEFAULTS["deepseek_v2"], _deepseek),
    "deepseek_v3": Family("DeepseekV3ForCausalLM", _DEFAULTS["deepseek_v3"], _deepseek),
    "gpt_oss": Family("GptOssForCausalLM", _DEFAULTS["gpt_oss"], _gpt_oss),
}

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(FAMILIES))

_STRUCTURAL = frozenset(
    {"vocab_size", "hidden_size", "n_embd", "num_hidden_layers", "n_layer", "num_attention_heads", "n_head"}
    | {"intermediate_size", "num_key_value_heads", "ffn_dim"}
)
"""Fields whose absence we report: a config without them is more likely broken than minimal."""

_STANDARD_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
)


def _approximate(data: Mapping[str, Any], model_type: str, trace: list[Read]) -> ModelSpec:
    """Llama-like spec from the standard fields, for a model_type without a table row."""
    missing = [k for k in _STANDARD_FIELDS if data.get(k) is None]
    if missing:
        msg = (
            f"model_type {model_type!r} is not supported and its config lacks the standard field(s) "
            f"{', '.join(missing)} needed for an approximate estimate"
        )
        raise UnsupportedArchitectureError(msg, model_type=model_type, field=missing[0])
    fields = _llama(Cfg(data, model_type, {}, trace))
    notes = (
        f"model_type {model_type!r} has no exact mapping: counted as a Llama-style decoder "
        "(gated MLP, RMSNorm, q/k/v/o projections) from the standard config fields",
    )
    return _spec(model_type, data, "unknown", fields, exact=False, approximations=notes)


def _dtype(data: Mapping[str, Any]) -> str | None:
    value = data.get("torch_dtype") or data.get("dtype")
    if value is None and isinstance(data.get("text_config"), dict):
        return _dtype(data["text_config"])
    return str(value) if value is not None else None


def prequantized_format(data: Mapping[str, Any]) -> str | None:
    """The format name of a checkpoint's ``quantization_config``, or None when we cannot name it."""
    q = data.get("quantization_config")
    if not isinstance(q, dict):
        return None
    method = str(q.get("quant_method", "")).lower()
    if method == "mxfp4":
        return "mxfp4"
    if method == "fp8":
        return "fp8-block" if q.get("weight_block_size") else "fp8"
    if method == "bitsandbytes":
        if q.get("load_in_8bit"):
            return "bnb-int8"
        kind = str(q.get("bnb_4bit_quant_type", "fp4"))
        return f"{kind}-dq" if q.get("bnb_4bit_use_double_quant") else kind
    if method in ("gptq", "awq"):
        bits = q.get("bits", q.get("w_bit", 4))
        group = q.get("group_size", q.get("q_group_size", 128))
        name = f"{method}-int{bits}-g{group}"
        try:
            return get_format(name).name
        except UnknownFormatError:
            return None  # an unusual layout: the torch_dtype default applies, and --dtype can name it
    if method == "compressed-tensors":
        return _compressed_tensors(q)
    return None


def _compressed_tensors(q: Mapping[str, Any]) -> str | None:
    """compressed-tensors: FP8 weight schemes map to our fp8 formats; others are priced from the files."""
    groups = q.get("config_groups")
    if not isinstance(groups, dict):
        return None
    for group in groups.values():
        weights = group.get("weights") if isinstance(group, dict) else None
        if isinstance(weights, dict) and weights.get("type") == "float" and weights.get("num_bits") == 8:
            return "fp8-block" if weights.get("strategy") == "block" else "fp8"
    return None


def _spec(
    model_type: str,
    data: Mapping[str, Any],
    architecture: str,
    fields: dict[str, Any],
    *,
    exact: bool = True,
    approximations: tuple[str, ...] = (),
) -> ModelSpec:
    archs = data.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        architecture = archs[0]
    return ModelSpec(
        model_type=model_type,
        architecture=architecture,
        exact=exact,
        approximations=approximations,
        torch_dtype=_dtype(data),
        quantization=prequantized_format(data),
        **fields,
    )


def spec_from_config(data: Mapping[str, Any]) -> ModelSpec:
    """Build the ModelSpec for a parsed config.json (exact for supported model_types).

    Every failure is a SpecError naming the field: a value pydantic rejects (a size of 0, a
    top-k above the expert count...) is reported with its location, never as a traceback.
    """
    return trace_config(data)[0]


def trace_config(data: Mapping[str, Any]) -> tuple[ModelSpec, list[Read]]:
    """The ModelSpec and every config value used to build it, with its origin (for ``vram inspect``)."""
    trace: list[Read] = []
    try:
        return _build(data, trace), trace
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "config"
        msg = f"invalid config: {e.title} {where}: {first['msg']}"
        model_type = data.get("model_type") if isinstance(data, Mapping) else None
        raise SpecError(msg, model_type=str(model_type), field=where) from None


def _build(data: Mapping[str, Any], trace: list[Read]) -> ModelSpec:
    if not isinstance(data, Mapping):
        msg = "config.json must hold a JSON object"
        raise SpecError(msg)
    model_type = data.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise MissingFieldError("model_type")
    family = FAMILIES.get(model_type)
    if family is None:
        text = data.get("text_config")
        if isinstance(text, dict) and isinstance(text.get("model_type"), str) and text["model_type"] in FAMILIES:
            inner = _build(text, trace)
            note = (
                f"model_type {model_type!r} is a multimodal wrapper: only its text model "
                f"({text['model_type']}) is counted; the vision/audio towers are not"
            )
            return inner.model_copy(update={"model_type": model_type, "exact": False, "approximations": (note,)})
        return _approximate(data, model_type, trace)
    fields = family.build(Cfg(data, model_type, family.defaults, trace))
    assumed = tuple(
        f"config.json has no {r.key!r}: transformers' default for {model_type} ({r.value!r}) was used"
        for r in trace
        if r.origin == "transformers default" and r.key.rpartition(".")[2] in _STRUCTURAL
    )
    return _spec(model_type, data, family.architecture, fields, approximations=tuple(dict.fromkeys(assumed)))
