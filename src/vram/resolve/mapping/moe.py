"""Mixture-of-experts decoders: Mixtral, Qwen2/3-MoE, DeepSeek-V2/V3 (MLA), gpt-oss, Llama 4.

Module layouts from transformers 5.23, ``src/transformers/models/<type>/modeling_<type>.py``.
"""

from __future__ import annotations

from typing import Any

from vram.core.errors import SpecError
from vram.core.spec import MLA, MoE
from vram.resolve.mapping.dense import mistral, qwen2, qwen3
from vram.resolve.mapping.layout import core, gated, layer_types
from vram.resolve.mapping.reader import Cfg


def _all_moe(c: Cfg, n: int, **kw: Any) -> MoE:
    return MoE(
        num_experts=c.integer("num_local_experts", "num_experts"),
        experts_per_token=c.integer("num_experts_per_tok"),
        expert_intermediate_size=c.integer("moe_intermediate_size", "intermediate_size"),
        moe_layers=(True,) * n,
        **kw,
    )


def mixtral(c: Cfg) -> dict[str, Any]:
    base = mistral(c)
    return {**base, "intermediate_size": 0, "moe": _all_moe(c, base["num_layers"])}


def _qwen_sparse_layers(c: Cfg, n: int) -> tuple[bool, ...]:
    """Qwen2/3-MoE: layer i is sparse iff not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0."""
    experts = c.integer("num_experts", "num_local_experts", default=0)
    step = c.positive("decoder_sparse_step", default=1)
    only_mlp = set(c.int_list("mlp_only_layers"))
    return tuple(experts > 0 and i not in only_mlp and (i + 1) % step == 0 for i in range(n))


def qwen2_moe(c: Cfg) -> dict[str, Any]:
    base = qwen2(c)
    shared = c.integer("shared_expert_intermediate_size", default=0)
    base["qkv_bias"] = c.flag("qkv_bias", default=True)
    base["moe"] = MoE(
        num_experts=c.integer("num_experts"),
        experts_per_token=c.integer("num_experts_per_tok"),
        expert_intermediate_size=c.integer("moe_intermediate_size"),
        shared_intermediate_size=shared,
        shared_expert_gate=shared > 0,
        moe_layers=_qwen_sparse_layers(c, base["num_layers"]),
    )
    return base


def qwen3_moe(c: Cfg) -> dict[str, Any]:
    base = qwen3(c)
    base["moe"] = MoE(
        num_experts=c.integer("num_experts", "num_local_experts"),
        experts_per_token=c.integer("num_experts_per_tok"),
        expert_intermediate_size=c.integer("moe_intermediate_size"),
        moe_layers=_qwen_sparse_layers(c, base["num_layers"]),
    )
    return base


def deepseek(c: Cfg) -> dict[str, Any]:
    base = gated(c)
    n = base["num_layers"]
    mla = MLA(
        q_lora_rank=c.opt_int("q_lora_rank"),
        kv_lora_rank=c.integer("kv_lora_rank"),
        qk_nope_head_dim=c.integer("qk_nope_head_dim"),
        qk_rope_head_dim=c.integer("qk_rope_head_dim"),
        v_head_dim=c.integer("v_head_dim"),
    )
    fields: dict[str, Any] = {**base, "num_kv_heads": base["num_heads"], "head_dim": mla.qk_head_dim, "mla": mla}
    experts = c.opt_int("n_routed_experts")
    if not experts:
        return fields
    first_dense = c.integer("first_k_dense_replace", default=0)
    freq = c.positive("moe_layer_freq", default=1)
    top_k = c.opt_int("num_experts_per_tok")
    if top_k is None:
        # DeepseekV2Config defaults num_experts_per_tok to None; the model builds (the top-k is only
        # used in the forward pass), so the counts stand, but "active" needs a top-k.
        top_k = experts
        fields["approximations"] = (
            "config.json sets no num_experts_per_tok: every routed expert is counted as active "
            "(an upper bound on active parameters and MoE activations)",
        )
    moe_size = c.integer("moe_intermediate_size")
    fields["moe"] = MoE(
        num_experts=experts,
        experts_per_token=top_k,
        expert_intermediate_size=moe_size,
        shared_intermediate_size=moe_size * c.integer("n_shared_experts", default=0),
        moe_layers=tuple(i >= first_dense and i % freq == 0 for i in range(n)),
    )
    return fields


def gpt_oss(c: Cfg) -> dict[str, Any]:
    base = core(c)
    n = base["num_layers"]
    bias = c.flag("attention_bias", default=True)
    types = layer_types(c, n, lambda i: "sliding" if i % 2 == 0 else "full")
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


def llama4_text(c: Cfg) -> dict[str, Any]:
    """Llama 4 text model: MoE layers with one shared expert, dense layers of ``intermediate_size_mlp``.

    Llama4TextConfig: MoE layers are ``moe_layers``, else every ``interleave_moe_layer_step``-th;
    layers that use RoPE (``no_rope_layers[i] == 1``, else all but every
    ``no_rope_layer_interval``-th) attend within chunks of ``attention_chunk_size`` tokens.
    """
    base = gated(c)
    n = base["num_layers"]
    listed = c.get("moe_layers", default=None)
    if listed is None:
        step = c.positive("interleave_moe_layer_step")
        sparse = set(range(step - 1, n, step))
    else:
        sparse = set(c.int_list("moe_layers"))
    rope = c.int_list("no_rope_layers")
    if not rope:
        interval = c.positive("no_rope_layer_interval")
        rope = [int((i + 1) % interval != 0) for i in range(n)]
    elif len(rope) < n:
        msg = f"no_rope_layers must have an entry per layer ({n})"
        raise SpecError(msg, model_type=c.model_type, field=c.prefix + "no_rope_layers")
    chunk = c.opt_int("attention_chunk_size")
    types = layer_types(c, n, lambda i: "sliding" if rope[i] else "full")
    if not chunk:
        types = ("full",) * n
    expert_size = c.integer("intermediate_size")
    return {
        **base,
        "intermediate_size": c.integer("intermediate_size_mlp"),
        "layer_types": types,
        "sliding_window": chunk if "sliding" in types else None,
        "moe": MoE(
            num_experts=c.integer("num_local_experts"),
            experts_per_token=c.integer("num_experts_per_tok"),
            expert_intermediate_size=expert_size,
            shared_intermediate_size=expert_size,
            moe_layers=tuple(i in sparse for i in range(n)),
        ),
    }
