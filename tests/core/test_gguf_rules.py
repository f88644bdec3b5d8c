"""llama-quantize's per-tensor rules on the models where each one decides, read off the source.

Expected types are read off llama.cpp ``src/llama-quant.cpp`` at commit 007dbbf3
(``llama_tensor_get_type_impl``; ``init_quantize_state_counters`` sets ``n_ffn_down`` to the
layer count), for architectures picked so that the rule under test is the only one in play:
no GQA (Llama-2-7B), 80 layers without GQA (LLaMA-65B, llama.cpp's LLM_TYPE_65B), 4 experts,
shared experts (Qwen2-57B-A14B) and Falcon.
"""

from __future__ import annotations

import pytest

from vram.core.dtypes import get_format
from vram.core.gguf import tensor_type, use_more_bits
from vram.core.params import Tensor, tensors
from vram.core.spec import ModelSpec
from vram.resolve.mapping import spec_from_config

# Llama-2-7B: 32 heads, 32 KV heads (n_gqa 1), 32 layers.
LLAMA2_7B = spec_from_config(
    {
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "vocab_size": 32000,
        "torch_dtype": "float16",
    }
)
# LLaMA-65B: 80 layers but no GQA, which llama.cpp's llama loader types LLM_TYPE_65B, not 70B.
LLAMA_65B = spec_from_config(
    {
        "model_type": "llama",
        "hidden_size": 8192,
        "intermediate_size": 22016,
        "num_hidden_layers": 80,
        "num_attention_heads": 64,
        "num_key_value_heads": 64,
        "vocab_size": 32000,
        "torch_dtype": "float16",
    }
)
# A Mixtral layout with 4 experts and no GQA: only n_expert >= 4 can raise attn_v.
FOUR_EXPERTS = spec_from_config(
    {
        "model_type": "mixtral",
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "vocab_size": 32000,
        "torch_dtype": "bfloat16",
    }
)
# Qwen2-57B-A14B: 28 MoE layers, each with routed experts and a shared expert.
QWEN2_57B = spec_from_config(
    {
        "model_type": "qwen2_moe",
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "moe_intermediate_size": 2560,
        "shared_expert_intermediate_size": 20480,
        "num_experts": 64,
        "num_experts_per_tok": 8,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "vocab_size": 151936,
        "torch_dtype": "bfloat16",
    }
)
# Falcon-7B: 32 layers (32/16 = 2), ffn_down rows of 4 x 4544 = 18176 = 71 x 256.
FALCON_7B = spec_from_config(
    {
        "model_type": "falcon",
        "hidden_size": 4544,
        "num_attention_heads": 71,
        "num_hidden_layers": 32,
        "multi_query": True,
        "vocab_size": 65024,
        "torch_dtype": "bfloat16",
    }
)
# Falcon-40B: 60 layers, fused attn_qkv, hidden 8192.
FALCON_40B = spec_from_config(
    {
        "model_type": "falcon",
        "hidden_size": 8192,
        "num_attention_heads": 128,
        "num_kv_heads": 8,
        "num_hidden_layers": 60,
        "new_decoder_architecture": True,
        "vocab_size": 65024,
        "torch_dtype": "bfloat16",
    }
)


def _type(spec: ModelSpec, ftype: str, name: str, layer: int | None, *, imatrix: bool | None = None) -> str:
    t = next(t for t in tensors(spec) if t.name == name and t.layer == layer)
    return tensor_type(get_format(ftype), spec, t, imatrix=imatrix)


@pytest.mark.parametrize(
    ("ftype", "expected"),
    [
        ("Q2_K", "Q3_K"),  # Q4_K needs n_gqa >= 4
        ("IQ3_XS", "IQ3_S"),  # no upgrade without GQA: the file's base type
        ("IQ3_S", "IQ3_S"),
        ("IQ4_NL", "IQ4_NL"),
        ("IQ4_XS", "IQ4_XS"),
        ("IQ3_M", "Q4_K"),  # unconditional
        ("Q3_K_L", "Q5_K"),
        ("IQ2_XXS", "Q2_K"),  # IQ1/IQ2 branch without GQA or 4 experts
        ("IQ2_M", "IQ3_S"),
    ],
)
def test_attn_v_without_gqa(ftype: str, expected: str) -> None:
    """Without GQA (Llama-2-7B) attn_v keeps the low-GQA arm of each file type's rule."""
    assert expected == _type(LLAMA2_7B, ftype, "attn_v", 10)


def test_iq3_xxs_attn_v_depends_on_imatrix() -> None:
    """IQ3_XXS attn_v without GQA: IQ3_XXS with an imatrix, IQ3_S without one."""
    assert "IQ3_XXS" == _type(LLAMA2_7B, "IQ3_XXS", "attn_v", 10, imatrix=True)
    assert "IQ3_S" == _type(LLAMA2_7B, "IQ3_XXS", "attn_v", 10, imatrix=False)


def test_attn_v_first_layers() -> None:
    """Q3_K_M raises the first 2 attn_v to Q5_K (then Q4_K), Q4_K_S the first 4 (then Q4_K)."""
    assert ["Q5_K", "Q5_K", "Q4_K"] == [_type(LLAMA2_7B, "Q3_K_M", "attn_v", i) for i in range(3)]
    assert ["Q5_K"] * 4 + ["Q4_K"] == [_type(LLAMA2_7B, "Q4_K_S", "attn_v", i) for i in range(5)]


def test_four_experts_raise_low_bit_attn_v() -> None:
    """In the IQ1/IQ2 branch n_expert >= 4 alone gives attn_v Q4_K (no GQA here)."""
    assert "Q4_K" == _type(FOUR_EXPERTS, "IQ2_XXS", "attn_v", 10)
    assert "Q4_K" == _type(FOUR_EXPERTS, "IQ2_M", "attn_v", 10)


def test_65b_is_not_the_70b_type() -> None:
    """80 layers without GQA is LLM_TYPE_65B: Q3_K_S attn_v stays Q3_K (Llama-2-70B's goes to Q5_K)."""
    assert "Q3_K" == _type(LLAMA_65B, "Q3_K_S", "attn_v", 40)
    assert "Q4_K" == _type(LLAMA_65B, "Q4_K_M", "attn_v", 11)


def test_shared_expert_ffn_down_order() -> None:
    """IQ2_XXS gives Q2_K to the first 28/8 = 3 ffn_down tensors in load order: layer 0's experts
    and shared expert, then layer 1's experts; layer 1's shared expert is the 4th."""
    got = [_type(QWEN2_57B, "IQ2_XXS", n, i) for i in (0, 1) for n in ("ffn_down_exps", "ffn_down_shexp")]
    assert ["Q2_K", "Q2_K", "Q2_K", "IQ2_XXS"] == got


def test_routed_experts_count_once_per_layer() -> None:
    """Mixtral (no shared expert, 32 layers): ffn_down_exps of layers 0-3 are the first eighth."""
    mixtral = FOUR_EXPERTS
    assert ["Q2_K", "IQ2_XXS"] == [_type(mixtral, "IQ2_XXS", "ffn_down_exps", i) for i in (3, 4)]


def test_falcon_rules() -> None:
    """Falcon: Q3_K_L attn_output Q4_K (others Q5_K); Q4_K_M ffn_down Q6_K on the first 60/16 = 3
    layers, Q5_K on use_more_bits ones, else Q4_K; output always Q8_0."""
    assert "Q4_K" == _type(FALCON_40B, "Q3_K_L", "attn_output", 5)
    assert "Q3_K" == _type(FALCON_40B, "Q3_K_M", "attn_output", 5)
    assert "Q4_K" == _type(FALCON_40B, "Q3_K_L", "ffn_down", 5)
    got = [_type(FALCON_40B, "Q4_K_M", "ffn_down", i) for i in (2, 3, 9, 10)]
    assert ["Q6_K", "Q5_K", "Q5_K", "Q4_K"] == got  # 3 and 9 are use_more_bits(i, 60), 10 is not
    got = [_type(FALCON_40B, "Q3_K_M", "ffn_down", i) for i in (2, 3, 9, 10)]
    assert ["Q5_K", "Q4_K", "Q4_K", "Q3_K"] == got
    # Falcon-7B: 32/16 = 2 first layers of Q6_K, then layer 2 is use_more_bits(2, 32): Q5_K
    assert ["Q6_K", "Q5_K"] == [_type(FALCON_7B, "Q4_K_M", "ffn_down", i) for i in (1, 2)]
    assert ["Q5_K", "Q4_K"] == [_type(FALCON_7B, "Q3_K_M", "ffn_down", i) for i in (1, 2)]
    assert "Q4_K" == _type(FALCON_40B, "Q4_K_S", "ffn_down", 0)  # the early Q5_K rule skips Falcon
    assert "Q8_0" == _type(FALCON_40B, "Q4_K_M", "token_embd", None)


def test_imatrix_guard_only_on_first_eighth() -> None:
    """With an imatrix Q5_0 gives Q5_1 to ffn_down of layers 0-3 of 32 only; layer 4 keeps Q5_0."""
    assert ["Q5_1", "Q5_0"] == [_type(LLAMA2_7B, "Q5_0", "ffn_down", i, imatrix=True) for i in (3, 4)]


def test_iq3_xxs_ffn_down_without_imatrix() -> None:
    """IQ3_XXS without an imatrix: ffn_down Q4_K on the first eighth, Q3_K after; with one, the base IQ3_XXS."""
    got = [_type(LLAMA2_7B, "IQ3_XXS", "ffn_down", i, imatrix=False) for i in (3, 4)]
    assert ["Q4_K", "Q3_K"] == got
    assert "IQ3_XXS" == _type(LLAMA2_7B, "IQ3_XXS", "ffn_down", 3, imatrix=True)


def test_use_more_bits_on_28_layers() -> None:
    """use_more_bits(i, 28): i < 3, i >= 24 (7*28/8 in integers), and (i - 3) % 3 == 2 between."""
    expected = [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27]
    assert expected == [i for i in range(28) if use_more_bits(i, 28)]


def test_layer_fractions_round_down() -> None:
    """llama.cpp divides layer counts in integers: with 28 layers n/16 is 1, n/8 is 3 and 7n/8 is 24."""
    spec = QWEN2_57B
    assert ["Q5_K", "Q4_K"] == [_type(spec, "Q3_K_M", "ffn_down_exps", i) for i in (0, 1)]
    assert ["Q5_K", "IQ4_XS"] == [_type(spec, "IQ4_XS", "ffn_down_exps", i) for i in (2, 3)]
    got = [_type(spec, "IQ3_XS", "ffn_up_exps", i) for i in (2, 3, 23, 24)]
    assert ["IQ3_S", "IQ3_XXS", "IQ3_XXS", "IQ3_S"] == got


def test_tensors_llama_quantize_leaves_alone() -> None:
    """Routers and vectors stay F32, vision and projector tensors go to a separate 16-bit mmproj file,
    and 16-bit files keep every matrix at their type."""
    q4 = get_format("Q4_K_M")
    assert "F32" == tensor_type(q4, LLAMA2_7B, Tensor("ffn_gate_inp", (8, 4096), "router", 0))
    assert "F32" == tensor_type(q4, LLAMA2_7B, Tensor("attn_q.bias", (4096,), "attention", 0))
    assert "F16" == tensor_type(q4, LLAMA2_7B, Tensor("v.blk.0.attn_q", (1024, 1024), "vision", 0))
    assert "F16" == tensor_type(q4, LLAMA2_7B, Tensor("mm.0", (4096, 1024), "projector", None))
    matrix = Tensor("attn_q", (4096, 4096), "attention", 0)
    assert "BF16" == tensor_type(get_format("BF16"), LLAMA2_7B, matrix)
    assert "F16" == tensor_type(get_format("F16"), LLAMA2_7B, matrix)
    output = Tensor("output", (32000, 4096), "lm_head")  # no Q6_K output rule: 16-bit is not quantized
    assert "BF16" == tensor_type(get_format("BF16"), LLAMA2_7B, output)


def test_output_row_the_base_block_does_not_divide() -> None:
    """An output row of 2880 (gpt-oss) is not a multiple of 256: Q8_0, even for IQ2_XXS (Q5_K otherwise)."""
    output = Tensor("output", (201088, 2880), "lm_head", None)
    assert "Q8_0" == tensor_type(get_format("IQ2_XXS"), LLAMA2_7B, output)
    assert "Q5_K" == tensor_type(get_format("IQ2_XXS"), LLAMA2_7B, Tensor("output", (32000, 4096), "lm_head"))


def test_mxfp4_moe_output_is_q8_0_whatever_the_row() -> None:
    """MXFP4_MOE gives the output Q8_0 before any other rule, even where Q6_K would fit (rows of 4096)."""
    fmt = get_format("MXFP4_MOE")
    assert "Q8_0" == tensor_type(fmt, LLAMA2_7B, Tensor("output", (32000, 4096), "lm_head"))
    assert "Q8_0" == _type(LLAMA2_7B, "MXFP4_MOE", "token_embd", None)  # 2-D: not an expert stack
