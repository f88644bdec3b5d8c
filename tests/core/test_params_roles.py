"""Per-role parameter counts and tensor names for the layout flags the golden configs leave out.

Expected figures are counted by hand from the module layouts named in each docstring (transformers
5.23 class names); the roles are what ``vram inspect --json`` reports as ``parameters.by_role`` and
what decides which tensors a quantization format converts; the names are GGUF's, which llama.cpp's
per-tensor type rules key on (gguf-py/gguf/constants.py).
"""

from __future__ import annotations

from typing import Any

from vram.core.params import count_parameters, tensors
from vram.core.spec import MLA, ModelSpec, MoE, VisionTower

from .toy import toy_spec


def _spec(**over: Any) -> ModelSpec:
    """A one-layer toy decoder: vocab 10, hidden 2, one head of 2, gated MLP of 3, RMSNorm, untied head."""
    return toy_spec(**over)


def _roles(spec: ModelSpec) -> dict[str, int]:
    return count_parameters(spec).by_role


def _extra(spec: ModelSpec) -> dict[str, int]:
    """Parameters per role that ``spec`` adds to the same toy decoder without a vision tower."""
    base = _roles(spec.model_copy(update={"vision": None}))
    return {k: v - base.get(k, 0) for k, v in _roles(spec).items() if v != base.get(k, 0)}


def test_toy_decoder_roles() -> None:
    """The toy decoder: 20 embedding, 6 norm (2 per layer + final), q/k/v/o 4 each, gate/up/down 6 each, 20 head."""
    assert {"embedding": 20, "norm": 6, "attention": 16, "mlp": 18, "lm_head": 20} == _roles(_spec())


def test_fused_biased_layernorm_decoder_roles() -> None:
    """Fused qkv with biases, full-width LayerNorm q/k norms, sinks, learned positions, OPT projection, head bias.

    token_embd 10x3, positions 5x2, LayerNorm embedding norm, project_in/out 2x3; qkv (4 + 2 x 2) x 2 + 8,
    o 2x4 + 2, q/k norms over 4 and 2 with biases, 2 sinks, plain MLP up 3x2 + 3 and down 2x3 + 2, bias 10.
    """
    spec = _spec(
        num_heads=2,
        mlp_gated=False,
        mlp_bias=True,
        qkv_bias=True,
        o_bias=True,
        fused_qkv=True,
        qk_norm="full",
        qk_norm_kind="layernorm",
        attention_sinks=True,
        norm="layernorm",
        tie_word_embeddings=True,
        lm_head_bias=True,
        learned_positions=5,
        embedding_norm=True,
        embedding_dim=3,
    )
    expected = {
        "embedding": 30,
        "position": 10,
        "norm": 2 + 4 + 6 + 2,
        "bias": 2 + 4 + 8 + 2 + 6 + 5 + 2 + 10,
        "mlp": 6 + 6 + 12,
        "attention": 16 + 8,
        "sinks": 2,
    }
    assert expected == _roles(spec)
    assert {"attn_qkv": (8, 2), "attn_sinks": (2,), "attn_q_norm.bias": (4,), "attn_k_norm.bias": (2,)}.items() <= {
        t.name: t.shape for t in tensors(spec)
    }.items()


def test_head_qk_norm_and_fused_gate_up() -> None:
    """q/k norms over head_dim (Qwen3) add 2 x head_dim; a fused gate_up is one (2 x 3, 2) matrix."""
    spec = _spec(num_heads=2, qk_norm="head", fused_gate_up=True)
    assert {"embedding": 20, "norm": 4 + 4 + 2, "attention": 8 + 4 + 4 + 8, "mlp": 12 + 6, "lm_head": 20} == _roles(
        spec
    )
    assert {"ffn_up": (6, 2), "ffn_down": (2, 3)} == {t.name: t.shape for t in tensors(spec) if t.role == "mlp"}


def test_mla_with_q_lora_and_biases() -> None:
    """DeepseekV3Attention with q_lora_rank 3: q_a 3x2 (+3), q_b 6x3, kv_a 5x2 (+5), kv_b 8x4, o 2x4."""
    mla = MLA(q_lora_rank=3, kv_lora_rank=4, qk_nope_head_dim=2, qk_rope_head_dim=1, v_head_dim=2)
    spec = _spec(num_heads=2, mla=mla, qkv_bias=True)
    roles = _roles(spec)
    assert (6 + 18 + 10 + 32 + 8, 3 + 5, 4 + 3 + 4 + 2) == (roles["attention"], roles["bias"], roles["norm"])
    shapes = {t.name: t.shape for t in tensors(spec) if t.layer == 0 and t.role in ("attention", "norm")}
    assert {
        "blk.norm0": (2,),
        "blk.norm1": (2,),
        "attn_q_a": (3, 2),
        "attn_q_a_norm": (3,),
        "attn_q_b": (6, 3),
        "attn_kv_a_mqa": (5, 2),
        "attn_kv_a_norm": (4,),
        "attn_kv_b": (8, 4),
        "attn_output": (2, 4),
    } == shapes


def test_mla_without_q_lora_has_a_bias_free_q() -> None:
    """Without q_lora_rank, q is one 6x2 projection with no bias even when kv_a has one (DeepSeek-V2-Lite)."""
    mla = MLA(q_lora_rank=None, kv_lora_rank=4, qk_nope_head_dim=2, qk_rope_head_dim=1, v_head_dim=2)
    roles = _roles(_spec(num_heads=2, mla=mla, qkv_bias=True))
    assert (12 + 10 + 32 + 8, 5, 4 + 4 + 2) == (roles["attention"], roles["bias"], roles["norm"])


def test_moe_block_roles_and_active_parameters() -> None:
    """A MoE layer of 4 experts (top 2) with router, expert and shared-expert parts, counted by hand.

    Router 4x2 + 4 and shared gate 1x2; experts 3 x 4x3x2; expert biases 4x6 + 4x2 (per expert);
    shared expert gate/up 5x2 and down 2x5. Active: the 104 per-expert parameters count 2 of 4.
    """
    moe = MoE(
        num_experts=4,
        experts_per_token=2,
        expert_intermediate_size=3,
        shared_intermediate_size=5,
        shared_expert_gate=True,
        router_bias=True,
        expert_bias=True,
        moe_layers=(True,),
    )
    spec = _spec(intermediate_size=0, moe=moe)
    count = count_parameters(spec)
    expected = {
        "embedding": 20,
        "norm": 6,
        "attention": 16,
        "router": 8 + 2,
        "expert": 72,
        "bias": 4 + 32,
        "shared_expert": 30,
        "lm_head": 20,
    }
    assert expected == count.by_role
    assert (210, 210 - 104 + 104 * 2 // 4) == (count.total, count.active)
    per_expert = {t.name for t in tensors(spec) if t.per_expert}
    assert {
        "ffn_gate_exps",
        "ffn_up_exps",
        "ffn_down_exps",
        "ffn_gate_up_exps.bias",
        "ffn_down_exps.bias",
    } == per_expert
    names = {t.name for t in tensors(spec) if t.role in ("router", "shared_expert")}
    assert {"ffn_gate_inp", "ffn_gate_inp_shexp", "ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp"} == names


def test_every_block_tensor_carries_its_layer() -> None:
    """GGUF's per-layer rules read the layer: two layers give each block tensor index 0 or 1, the rest None."""
    spec = _spec(num_layers=2, layer_types=("full", "full"))
    layers = [(t.name, t.layer) for t in tensors(spec)]
    block = ["blk.norm0", "blk.norm1", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
    assert [("token_embd", None)] + [(n, i) for i in (0, 1) for n in block] + [
        ("output_norm", None),
        ("output", None),
    ] == layers


def test_siglip_tower_with_pooling_head() -> None:
    """SiglipVisionModel with its attention-pooling head, image 10 / patch 3 (3 x 3 patches), + Gemma 3 projector.

    Conv 4x3x3x3 (+4), positions 9x4; one layer: two LayerNorms, q/k/v/o 4x4 (+4 each), fc1 8x4 (+8), fc2 4x8
    (+4); post LayerNorm; head (SiglipMultiheadAttentionPoolingHead): probe 1x1x4, in_proj 12x4 (+12), out_proj
    4x4 (+4), LayerNorm, fc1/fc2; projector 4x2 and an RMSNorm of 4.
    """
    tower = VisionTower(
        kind="siglip", hidden_size=4, intermediate_size=8, num_layers=1, num_channels=3, patch_size=3, image_size=10
    )
    plain = {"vision": 108 + 36 + 128, "bias": 4 + 28 + 8 + 4, "norm": 8 + 4 + 4, "projector": 8}
    assert plain == _extra(_spec(vision=tower))
    headed = {"vision": 272 + 4 + 48 + 16 + 64, "bias": 44 + 12 + 4 + 4 + 12, "norm": 16 + 4, "projector": 8}
    assert headed == _extra(_spec(vision=tower.model_copy(update={"head": True})))


def test_pixtral_tower_with_merger_and_biased_projector() -> None:
    """PixtralVisionModel (bias-free conv 4x3x2x2, RMSNorms, gated MLP) + Mistral 3's projector.

    Patch merger 4 x (4 x 2^2); linear_1 takes 2 concatenated layers: 2 x 8 (+2); linear_2 2x2 (+2).
    """
    tower = VisionTower(
        kind="pixtral",
        hidden_size=4,
        intermediate_size=8,
        num_layers=1,
        num_channels=3,
        patch_size=2,
        image_size=8,
        merge_size=2,
        feature_layers=2,
        projector_bias=True,
    )
    assert {"vision": 48 + 64 + 96, "norm": 4 + 8 + 4, "projector": 64 + 16 + 4, "bias": 4} == _extra(
        _spec(vision=tower)
    )


def test_llama4_tower() -> None:
    """Llama4VisionModel: patch linear 4 x (3 x 2^2), class token, (5 // 2)^2 + 1 positions, adapter, projector."""
    tower = VisionTower(
        kind="llama4",
        hidden_size=4,
        intermediate_size=8,
        num_layers=1,
        num_channels=3,
        patch_size=2,
        image_size=5,
        adapter_in=6,
        adapter_out=3,
        output_dim=7,
    )
    expected = {"vision": 48 + 4 + 20 + 64 + 32 + 32 + 48 + 9, "norm": 16, "bias": 8 + 8 + 16 + 8 + 4, "projector": 14}
    assert expected == _extra(_spec(vision=tower))
