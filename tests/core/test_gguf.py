"""GGUF file types: llama.cpp's per-tensor mixture reproduces its own published sizes."""

from __future__ import annotations

import pytest

from vram.core.dtypes import get_format
from vram.core.gguf import fallback, tensor_type, use_more_bits
from vram.core.inference import weight_bytes
from vram.core.params import tensors
from vram.resolve.mapping import spec_from_config

# Llama-3-8B's architecture (8,030,261,248 parameters; also in the catalog once its config is bundled).
LLAMA3_8B = spec_from_config(
    {
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "torch_dtype": "bfloat16",
    }
)

# tools/quantize/quantize.cpp (llama.cpp commit 03161a4e) lists each file type's size for
# Llama-3-8B in GiB ("G"), tensor data only.
PUBLISHED_GIB = {
    "Q2_K": 2.96,
    "Q3_K_S": 3.41,
    "Q3_K_M": 3.74,
    "Q3_K_L": 4.03,
    "Q4_0": 4.34,
    "Q4_K_S": 4.37,
    "Q4_K_M": 4.58,
    "Q5_0": 5.21,
    "Q5_K_S": 5.21,
    "Q5_K_M": 5.33,
    "Q6_K": 6.14,
    "Q8_0": 7.96,
}


@pytest.mark.parametrize(("ftype", "gib"), sorted(PUBLISHED_GIB.items()))
def test_llama3_8b_matches_llama_quantize(ftype: str, gib: float) -> None:
    """Our per-tensor types give llama-quantize's published Llama-3-8B size within 0.015 GiB."""
    sizes, _ = weight_bytes(LLAMA3_8B, get_format(ftype), tensors(LLAMA3_8B))
    assert abs(sum(sizes) / 2**30 - gib) < 0.015


def test_use_more_bits_layers() -> None:
    """use_more_bits(i, 32) picks the 16 layers llama.cpp's snapshot tests list."""
    assert [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31] == [i for i in range(32) if use_more_bits(i, 32)]


def test_q4_k_m_mixture_on_llama3() -> None:
    """Q4_K_M: output Q6_K, token_embd Q4_K, attn_v/ffn_down Q6_K on use_more_bits layers, norms F32."""
    fmt = get_format("Q4_K_M")
    kinds = {(t.name, t.layer): tensor_type(fmt, LLAMA3_8B, t) for t in tensors(LLAMA3_8B)}
    assert "Q6_K" == kinds[("output", None)]
    assert "Q4_K" == kinds[("token_embd", None)]
    assert "Q6_K" == kinds[("attn_v", 0)]
    assert "Q4_K" == kinds[("attn_v", 4)]
    assert "Q6_K" == kinds[("ffn_down", 31)]
    assert "F32" == kinds[("output_norm", None)]


def test_fallbacks() -> None:
    """A row length the block does not divide falls back as tensor_type_fallback does."""
    assert "Q5_0" == fallback("Q4_K", 2880)  # gpt-oss hidden size: 2880 % 256 != 0
    assert "Q8_0" == fallback("Q6_K", 2880)
    assert "Q4_0" == fallback("Q3_K", 96)
    assert "F16" == fallback("Q4_K", 100)  # not even a multiple of 32


def test_deepseek_v3_q4_k_m_matches_gguf_parser() -> None:
    """DeepSeek-V3 Q4_K_M weighs 376.7 GiB; gguf-parser-go reported 376.6 GiB at context 1 for the
    real file (gpustack/gguf-parser-go issue #8): MLA's split kv_b, MoE experts and the Q6_K
    output all priced as llama.cpp stores them."""
    from vram.resolve.reference import resolve

    spec = resolve("deepseek-ai/DeepSeek-V3").spec
    assert spec is not None
    sizes, _ = weight_bytes(spec, get_format("Q4_K_M"), tensors(spec))
    assert abs(sum(sizes) / 2**30 - 376.6) < 0.3
