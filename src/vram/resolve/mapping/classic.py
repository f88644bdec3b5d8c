"""GPT-2-style decoders (LayerNorm, plain two-matrix MLP, biases): GPT-2, StarCoder, GPT-NeoX, Falcon, OPT...

Module layouts from transformers 5.23, ``src/transformers/models/<type>/modeling_<type>.py``.
"""

from __future__ import annotations

from typing import Any

from vram.core.errors import SpecError
from vram.resolve.mapping.layout import classic, core, window_layers
from vram.resolve.mapping.reader import Cfg


def gpt2(c: Cfg) -> dict[str, Any]:
    """GPT2MLP is ``n_inner`` wide, 4 x n_embd when that is null."""
    positions = c.integer("n_positions")
    inner = c.integer("n_inner", default=4 * c.positive("n_embd", "hidden_size"))
    spec = classic(c, intermediate=inner, fused_qkv=True)
    return {**spec, "learned_positions": positions, "max_position_embeddings": positions}


def gpt_bigcode(c: Cfg) -> dict[str, Any]:
    """StarCoder/SantaCoder: GPT-2 with multi-query attention; c_attn is hidden + 2 x head_dim wide.

    GPTBigCodeAttention: one K/V head when ``multi_query``, else as many as query heads.
    """
    spec = gpt2(c)
    return {**spec, "num_kv_heads": 1 if c.flag("multi_query") else spec["num_heads"]}


def gpt_neox(c: Cfg) -> dict[str, Any]:
    spec = classic(c, bias=c.flag("attention_bias", default=True), fused_qkv=True)
    return {**spec, "mlp_bias": True}


def falcon(c: Cfg) -> dict[str, Any]:
    """FalconConfig: ffn_hidden_size defaults to 4 x hidden_size, num_kv_heads to the head count;
    FalconDecoderLayer gives the new architecture 2 parallel norms when num_ln_in_parallel_attn is null."""
    hidden, heads = c.positive("hidden_size"), c.positive("num_attention_heads")
    if c.flag("new_decoder_architecture"):
        kv = c.integer("num_kv_heads", default=heads)
        norms = c.integer("num_ln_in_parallel_attn", default=2)
    else:
        kv = 1 if c.flag("multi_query", default=True) else heads
        norms = 1 if c.flag("parallel_attn", default=True) else 2
    spec = classic(
        c, intermediate=c.integer("ffn_hidden_size", default=4 * hidden), bias=c.flag("bias"), fused_qkv=True
    )
    return {**spec, "num_kv_heads": kv, "head_dim": hidden // heads, "norms_per_layer": norms}


def opt(c: Cfg) -> dict[str, Any]:
    if not c.flag("layer_norm_elementwise_affine", default=True):
        msg = "OPT with layer_norm_elementwise_affine=false is not supported"
        raise SpecError(msg, model_type="opt", field="layer_norm_elementwise_affine")
    spec = classic(c, intermediate=c.integer("ffn_dim"), bias=c.flag("enable_bias", default=True))
    emb = c.integer("word_embed_proj_dim", default=spec["hidden_size"])
    return {
        **spec,
        "final_norm": c.flag("do_layer_norm_before", default=True) and not c.flag("_remove_final_layer_norm"),
        # OPTLearnedPositionalEmbedding keeps 2 extra rows (its position offset).
        "learned_positions": c.integer("max_position_embeddings") + 2,
        "embedding_dim": emb if emb != spec["hidden_size"] else None,
    }


def bloom(c: Cfg) -> dict[str, Any]:
    """BloomMLP is a fixed 4 x hidden_size wide; the embeddings have their own LayerNorm."""
    spec = classic(c, intermediate=4 * c.positive("hidden_size", "n_embd"), fused_qkv=True)
    return {**spec, "embedding_norm": True}


def starcoder2(c: Cfg) -> dict[str, Any]:
    spec = classic(c, bias=c.flag("use_bias", default=True))
    return {**spec, **window_layers(c, spec)}


def phi(c: Cfg) -> dict[str, Any]:
    return {
        **core(c),
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
