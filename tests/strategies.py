"""Hypothesis strategy for small ModelSpecs, shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

from vram.core.spec import MLA, ModelSpec, MoE


@st.composite
def specs(draw: st.DrawFn) -> ModelSpec:
    """Small but structurally varied decoder specs: GQA, biases, MoE, MLA, sliding windows."""
    layers = draw(st.integers(1, 6))
    kv = draw(st.sampled_from([1, 2, 4]))
    heads = kv * draw(st.integers(1, 4))
    head_dim = draw(st.sampled_from([16, 32, 64, 128]))
    hidden = draw(st.sampled_from([64, 128, 256, 512]))
    use_moe = draw(st.booleans())
    use_mla = draw(st.booleans()) and not draw(st.booleans())
    sliding = draw(st.lists(st.booleans(), min_size=layers, max_size=layers))
    moe = None
    if use_moe:
        experts = draw(st.integers(2, 8))
        moe = MoE(
            num_experts=experts,
            experts_per_token=draw(st.integers(1, experts)),
            expert_intermediate_size=draw(st.sampled_from([32, 64, 96])),
            shared_intermediate_size=draw(st.sampled_from([0, 64])),
            moe_layers=tuple(draw(st.lists(st.booleans(), min_size=layers, max_size=layers))),
        )
    mla = None
    if use_mla:
        q_lora = draw(st.sampled_from([None, 48]))
        mla = MLA(q_lora_rank=q_lora, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16)
    return ModelSpec(
        model_type="llama",
        architecture="Synthetic",
        vocab_size=draw(st.integers(100, 5000)),
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=heads if mla else kv,
        head_dim=24 if mla else head_dim,
        intermediate_size=0 if moe and all(moe.moe_layers) else draw(st.sampled_from([96, 256, 1024])),
        mlp_gated=draw(st.booleans()),
        qkv_bias=draw(st.booleans()),
        tie_word_embeddings=draw(st.booleans()),
        mla=mla,
        moe=moe,
        layer_types=tuple("sliding" if s else "full" for s in sliding),
        sliding_window=draw(st.integers(16, 4096)) if any(sliding) else None,
        max_position_embeddings=draw(st.sampled_from([None, 2048, 131072])),
        torch_dtype="bfloat16",
    )
