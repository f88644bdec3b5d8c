"""GGUF file types: llama.cpp's per-tensor mixture against published sizes and hand-derived types.

Sizes published by llama.cpp (``llama-bench``'s size column, ``llama-quantize``'s table, the
perplexity scoreboard) are the sum of the tensors in GiB to two decimals, so a rule that moves a
model by more than about 0.01 GiB shows; each special rule below is checked on a model where it
moves the total by several times the tolerance.
"""

from __future__ import annotations

import itertools

import pytest

from vram.core.dtypes import get_format
from vram.core.gguf import fallback, tensor_bytes, tensor_type, use_more_bits
from vram.core.inference import weight_bytes
from vram.core.params import Tensor, tensors
from vram.core.spec import ModelSpec
from vram.resolve.mapping import spec_from_config
from vram.resolve.reference import resolve

GIB = 2**30
# Llama-3-8B's architecture (8,030,261,248 parameters).
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
# Llama-2-70B and Llama-3.1-70B: 80 layers with GQA, llama.cpp's LLM_TYPE_70B.
LLAMA2_70B = spec_from_config(
    {
        "model_type": "llama",
        "hidden_size": 8192,
        "intermediate_size": 28672,
        "num_hidden_layers": 80,
        "num_attention_heads": 64,
        "num_key_value_heads": 8,
        "vocab_size": 32000,
        "torch_dtype": "float16",
    }
)
LLAMA31_70B = LLAMA2_70B.model_copy(update={"vocab_size": 128256})


def _total(spec: ModelSpec, ftype: str, *, imatrix: bool | None = None) -> int:
    """Bytes of every tensor llama.cpp stores for ``spec`` in a file of type ``ftype``."""
    fmt = get_format(ftype)
    return sum(b for t in tensors(spec) for _, b in tensor_bytes(fmt, spec, t, imatrix=imatrix))


def _spec(repo: str) -> ModelSpec:
    spec = resolve(repo).spec
    assert spec is not None
    return spec


# Llama-3-8B in GiB, tensor data only. Without an importance matrix: tools/quantize/quantize.cpp
# (llama.cpp commit 03161a4e, QUANT_OPTIONS). With one ("WT" rows of the LLaMA 3 8b Scoreboard in
# llama.cpp tools/perplexity/README.md, measured at revision f364eb6f): the i-quants.
PUBLISHED_GIB = {
    "Q2_K": 2.96,
    "Q3_K_S": 3.41,
    "Q3_K_M": 3.74,
    "Q3_K_L": 4.03,
    "Q4_0": 4.34,
    "Q4_1": 4.78,
    "Q4_K_S": 4.37,
    "Q4_K_M": 4.58,
    "Q5_0": 5.21,
    "Q5_1": 5.65,
    "Q5_K_S": 5.21,
    "Q5_K_M": 5.33,
    "Q6_K": 6.14,
    "Q8_0": 7.96,
    "F16": 14.97,
}
PUBLISHED_IMATRIX_GIB = {
    "IQ4_NL": 4.35,
    "IQ4_XS": 4.14,
    "IQ3_M": 3.53,
    "IQ3_S": 3.42,
    "IQ3_XS": 3.28,
    "IQ3_XXS": 3.05,
    "IQ2_M": 2.74,
    "IQ2_S": 2.56,
    "IQ2_XS": 2.43,
    "IQ2_XXS": 2.24,
    "IQ1_M": 2.01,
    "IQ1_S": 1.88,
}
# 0.015 GiB: the uniform Q8_0 and F16 files are published 0.013 and 0.012 GiB above the sum of
# their tensors (no mixture rule is involved there), so the published figures carry that much.
TOLERANCE_GIB = 0.015


@pytest.mark.parametrize(("ftype", "gib"), sorted(PUBLISHED_GIB.items()))
def test_llama3_8b_matches_llama_quantize(ftype: str, gib: float) -> None:
    """Our per-tensor types give llama-quantize's published Llama-3-8B size within 0.015 GiB."""
    sizes, _ = weight_bytes(LLAMA3_8B, get_format(ftype), tensors(LLAMA3_8B))
    assert abs(sum(sizes) / GIB - gib) < TOLERANCE_GIB


@pytest.mark.parametrize(("ftype", "gib"), sorted(PUBLISHED_IMATRIX_GIB.items()))
def test_llama3_8b_iquants_match_scoreboard(ftype: str, gib: float) -> None:
    """Each i-quant file type (made with an imatrix) gives llama.cpp's published Llama-3-8B size within 0.015 GiB."""
    assert abs(_total(LLAMA3_8B, ftype, imatrix=True) / GIB - gib) < TOLERANCE_GIB


def test_iquant_ladder_is_resolved() -> None:
    """Adjacent i-quants differ by 0.11 GiB or more, over 7 times the tolerance, and ours keep their order."""
    by_size = sorted(PUBLISHED_IMATRIX_GIB, key=PUBLISHED_IMATRIX_GIB.__getitem__)
    gaps = [PUBLISHED_IMATRIX_GIB[b] - PUBLISHED_IMATRIX_GIB[a] for a, b in itertools.pairwise(by_size)]
    assert min(gaps) > 7 * TOLERANCE_GIB
    ours = [_total(LLAMA3_8B, f, imatrix=True) for f in by_size]
    assert ours == sorted(ours)


def test_default_iquants_need_imatrix() -> None:
    """IQ2_XXS cannot be made without an imatrix, so its default pricing is the imatrix one."""
    assert _total(LLAMA3_8B, "IQ2_XXS") == _total(LLAMA3_8B, "IQ2_XXS", imatrix=True)
    # IQ4_XS can: without one, the first eighth of ffn_down is Q5_K (4 x 14336x4096 at 5.5 - 4.25 bits).
    extra = 4 * 14336 * 4096 // 256 * (176 - 136)
    assert extra == _total(LLAMA3_8B, "IQ4_XS") - _total(LLAMA3_8B, "IQ4_XS", imatrix=True)


def test_use_more_bits_layers() -> None:
    """use_more_bits(i, 32) picks the 16 layers llama.cpp's snapshot tests list."""
    assert [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31] == [i for i in range(32) if use_more_bits(i, 32)]


def _kinds(spec: ModelSpec, ftype: str) -> dict[tuple[str, int | None], str]:
    fmt = get_format(ftype)
    return {(t.name, t.layer): tensor_type(fmt, spec, t) for t in tensors(spec)}


def test_q4_k_m_mixture_on_llama3() -> None:
    """Q4_K_M: output Q6_K, token_embd Q4_K, attn_v/ffn_down Q6_K on use_more_bits layers, norms F32."""
    kinds = _kinds(LLAMA3_8B, "Q4_K_M")
    assert "Q6_K" == kinds[("output", None)]
    assert "Q4_K" == kinds[("token_embd", None)]
    assert "Q6_K" == kinds[("attn_v", 0)]
    assert "Q4_K" == kinds[("attn_v", 4)]
    assert "Q6_K" == kinds[("ffn_down", 31)]
    assert "F32" == kinds[("output_norm", None)]


# Expected types read off llama-quant.cpp (commit 007dbbf3, llama_tensor_get_type_impl) for
# Llama-3-8B (GQA 32/8 = 4, 32 layers, so the "first eighth" is layers 0-3, IQ3_XS's middle 4-27).
IQUANT_TYPES = {
    "IQ1_S": {"output": "Q5_K", "token_embd": "Q2_K", "attn_v": "Q4_K", "attn_output": "IQ2_XXS",
              "ffn_down.3": "Q2_K", "ffn_down.4": "IQ1_S", "attn_q": "IQ1_S"},
    "IQ1_M": {"output": "Q5_K", "token_embd": "Q2_K", "attn_output": "IQ2_XXS", "ffn_up": "IQ1_M"},
    "IQ2_XXS": {"output": "Q5_K", "token_embd": "Q2_K", "attn_output": "IQ2_XXS", "ffn_down.0": "Q2_K"},
    "IQ2_XS": {"token_embd": "Q2_K", "attn_v": "Q4_K", "ffn_gate": "IQ2_XS"},
    "IQ2_S": {"token_embd": "IQ3_S", "attn_output": "IQ3_S", "ffn_down.3": "IQ3_S", "ffn_down.4": "IQ2_XS"},
    "IQ2_M": {"output": "Q5_K", "token_embd": "IQ3_S", "attn_k": "IQ2_S", "ffn_down.0": "IQ3_S"},
    "IQ3_XXS": {"output": "Q5_K", "token_embd": "IQ3_S", "attn_v": "Q4_K", "attn_q": "IQ2_S",
                "attn_k": "IQ2_S", "attn_output": "IQ3_S", "ffn_down.0": "IQ3_XXS"},
    "IQ3_XS": {"output": "Q6_K", "token_embd": "IQ3_S", "attn_v": "Q4_K", "attn_q": "IQ3_XXS",
               "ffn_gate.3": "IQ3_S", "ffn_gate.4": "IQ3_XXS", "ffn_up.27": "IQ3_XXS", "ffn_up.28": "IQ3_S"},
    "IQ3_S": {"output": "Q6_K", "attn_v": "Q4_K", "attn_output": "IQ3_S", "ffn_down.0": "IQ3_S"},
    "IQ3_M": {"attn_v": "Q4_K", "attn_output": "Q4_K", "ffn_down.3": "Q4_K", "ffn_down.4": "IQ3_S"},
    "IQ4_NL": {"output": "Q6_K", "attn_v": "Q5_K", "ffn_down.0": "Q5_K", "ffn_down.4": "IQ4_NL"},
}  # fmt: skip


@pytest.mark.parametrize("ftype", sorted(IQUANT_TYPES))
def test_iquant_mixtures_on_llama3(ftype: str) -> None:
    """Each i-quant gives the tensors of Llama-3-8B the types llama-quant.cpp's decision table names."""
    kinds = _kinds(LLAMA3_8B, ftype)
    for key, expected in IQUANT_TYPES[ftype].items():
        name, _, layer = key.partition(".")
        at = None if name in ("output", "token_embd") else int(layer or 5)
        assert expected == kinds[(name, at)], key


def test_fallbacks() -> None:
    """A row length the block does not divide falls back as tensor_type_fallback does."""
    assert "Q5_0" == fallback("Q4_K", 2880)  # gpt-oss hidden size: 2880 % 256 != 0
    assert "Q8_0" == fallback("Q6_K", 2880)
    assert "Q4_0" == fallback("Q3_K", 96)
    assert "Q5_1" == fallback("Q5_K", 2880)
    assert "IQ4_NL" == fallback("IQ2_XXS", 2880)
    assert "IQ4_NL" == fallback("IQ1_M", 2880)
    assert "F16" == fallback("Q4_K", 100)  # not even a multiple of 32
    assert "F16" == fallback("IQ3_S", 100)


def test_mxfp4_moe_matches_llama_bench() -> None:
    """MXFP4_MOE (experts MXFP4, every other matrix Q8_0) gives llama-bench's gpt-oss sizes:
    11.27 GiB (20b) and 59.02 GiB (120b) for ggml-org/gpt-oss-{20b,120b}-GGUF (llama.cpp
    discussion #15396, "guide: running gpt-oss with llama.cpp"). Non-expert matrices at Q4_0
    would take 0.8 GiB off the 20b."""
    assert abs(_total(_spec("openai/gpt-oss-20b"), "MXFP4_MOE") / GIB - 11.27) < 0.006
    assert abs(_total(_spec("openai/gpt-oss-120b"), "MXFP4_MOE") / GIB - 59.02) < 0.006


def test_mxfp4_moe_tensor_types() -> None:
    """MXFP4_MOE: 3-D expert stacks MXFP4 (17 B / 32), attention and output Q8_0 (34 B / 32), router F32."""
    spec = _spec("openai/gpt-oss-20b")
    fmt = get_format("MXFP4_MOE")
    by = {(t.name, t.layer): t for t in tensors(spec)}
    attn_q = by[("attn_q", 0)]  # 64 heads x 64 = 4096 rows of 2880
    assert [("Q8_0", 4096 * 2880 // 32 * 34)] == tensor_bytes(fmt, spec, attn_q)
    assert [("MXFP4", 32 * 2880 * 2880 // 32 * 17)] == tensor_bytes(fmt, spec, by[("ffn_down_exps", 0)])
    assert "Q8_0" == tensor_type(fmt, spec, by[("output", None)])
    assert "Q8_0" == tensor_type(fmt, spec, by[("token_embd", None)])
    assert "F32" == tensor_type(fmt, spec, by[("ffn_gate_inp", 0)])


# DeepSeek-V3 attention: 128 heads, qk_nope 128, v_head 128, kv_lora_rank 512.
KV_B = Tensor("attn_kv_b", (128 * (128 + 128), 512), "attention", 10)
K_B_BYTES = 128 * 512 * 128 // 32 * 22  # attn_k_b rows of 128: Q4_K's 256 does not divide, Q5_0
V_B_BYTES = 128 * 128 * 512 // 256 * 144  # attn_v_b rows of 512: Q4_K
KV_B_UNSPLIT_Q4_K = 128 * 256 * 512 // 256 * 144


def test_mla_kv_b_split_types() -> None:
    """convert_hf_to_gguf.py writes DeepSeek's kv_b as attn_k_b (transposed, rows of qk_nope=128)
    and attn_v_b (rows of kv_lora_rank=512); in Q4_K_M the first falls back to Q5_0."""
    spec = _spec("deepseek-ai/DeepSeek-V3")
    assert [("Q5_0", K_B_BYTES), ("Q4_K", V_B_BYTES)] == tensor_bytes(get_format("Q4_K_M"), spec, KV_B)


def test_deepseek_v3_q4_k_m_matches_llama_bench() -> None:
    """DeepSeek-V3 Q4_K_M: llama-bench gives 376.65 GiB for unsloth's DeepSeek-R1 Q4_K_M (same
    architecture), a file converted before kv_b was split (ikawrakow/ik_llama.cpp pull #259,
    2025-03-16), where each of the 61 kv_b is one Q4_K tensor. Today's split files add
    61 x (k_b Q5_0 + v_b Q4_K - kv_b Q4_K) = 0.06 GiB, which the tolerance resolves."""
    spec = _spec("deepseek-ai/DeepSeek-V3")
    split_extra = 61 * (K_B_BYTES + V_B_BYTES - KV_B_UNSPLIT_Q4_K)
    assert split_extra / GIB > 0.05
    assert abs(_total(spec, "Q4_K_M") - (376.65 * GIB + split_extra)) / GIB < 0.006


def test_moe_shared_expert_counts_twice_in_low_bit_ffn_down() -> None:
    """IQ2_XXS gives Q2_K to the first n/8 ffn_down tensors in load order (layer, then name).
    DeepSeek-V3 (61 layers, 3 dense, then exps + shexp per layer): tensors 0-6 are layers 0-2,
    layer 3 (exps, shexp) and layer 4 (exps, shexp); layer 5's experts are the 8th."""
    spec = _spec("deepseek-ai/DeepSeek-V3")
    kinds = _kinds(spec, "IQ2_XXS")
    assert "Q2_K" == kinds[("ffn_down", 2)]
    assert "Q2_K" == kinds[("ffn_down_exps", 4)]
    assert "Q2_K" == kinds[("ffn_down_shexp", 4)]
    assert "IQ2_XXS" == kinds[("ffn_down_exps", 5)]


def test_70b_rule_on_llama2_70b() -> None:
    """llama.cpp's 70B rule (attn_v Q3_K/Q4_K -> Q5_K on 80-layer GQA Llama): Llama-2-70B Q3_K_S is
    27.86 GiB in the Llama 2 70B scoreboard of llama.cpp tools/perplexity/README.md; with attn_v
    left at Q3_K it would be 27.70 GiB."""
    assert "Q5_K" == _kinds(LLAMA2_70B, "Q3_K_S")[("attn_v", 40)]
    assert "Q5_K" == _kinds(LLAMA2_70B, "Q4_K_M")[("attn_v", 11)]  # not a use_more_bits layer
    assert abs(_total(LLAMA2_70B, "Q3_K_S") / GIB - 27.86) < 0.006
    # Qwen2 with 80 layers is LLM_TYPE_70B too (llama.cpp llama_model_qwen2 load_hparams).
    assert "Q5_K" == _kinds(_spec("Qwen/Qwen2.5-72B"), "Q4_K_M")[("attn_v", 11)]
    assert "Q4_K" == _kinds(_spec("Qwen/Qwen2.5-32B"), "Q4_K_M")[("attn_v", 11)]


# bartowski's Llama-3.1-70B-architecture files (imatrix), file sizes in GB (1e9 bytes), as listed at
# https://ozeki.chat/p_8590-understanding-ai-model-files.html. A file is its tensors plus a header
# of metadata and tokenizer (about 0.01 GB for Llama 3's 128k vocabulary).
LLAMA31_70B_FILE_GB = {
    "Q8_0": 74.98,
    "Q6_K": 57.89,
    "Q5_K_M": 49.95,
    "Q4_K_M": 42.52,
    "Q4_K_S": 40.35,
    "Q3_K_L": 37.14,
    "IQ4_XS": 37.90,
    "Q3_K_M": 34.27,
    "IQ3_M": 31.94,
    "Q3_K_S": 30.91,
}


@pytest.mark.parametrize(("ftype", "gb"), sorted(LLAMA31_70B_FILE_GB.items()))
def test_llama31_70b_file_sizes(ftype: str, gb: float) -> None:
    """Llama-3.1-70B files are our tensor bytes plus a header under 0.02 GB; the 70B rule alone moves
    Q4_K_M, Q4_K_S, Q3_K_M, IQ3_M and Q3_K_S by 0.04 to 0.17 GB."""
    header = gb - _total(LLAMA31_70B, ftype, imatrix=True) / 1e9
    assert -0.005 < header < 0.02


# Mixtral-8x7B (8 experts, GQA 4), types read off llama-quant.cpp (commit 007dbbf3): attn_v and
# attn_k go to Q8_0, attn_output to Q5_K for most file types; the IQ1/IQ2 branch has its own.
EIGHT_EXPERT_TYPES = {
    "Q4_K_M": {"attn_v": "Q8_0", "attn_k": "Q8_0", "attn_output": "Q5_K", "attn_q": "Q4_K"},
    "Q3_K_S": {"attn_v": "Q8_0", "attn_output": "Q5_K"},
    "IQ4_NL": {"attn_output": "Q5_K", "ffn_down_exps.0": "Q5_K"},
    "Q6_K": {"attn_v": "Q8_0", "attn_output": "Q6_K"},
    "IQ2_XXS": {"attn_v": "Q4_K", "attn_k": "Q4_K", "attn_output": "Q5_K"},
    "IQ3_M": {"attn_v": "Q8_0", "ffn_down_exps.2": "Q4_K", "ffn_down_exps.5": "IQ3_S", "ffn_down_exps.6": "Q4_K"},
}


@pytest.mark.parametrize("ftype", sorted(EIGHT_EXPERT_TYPES))
def test_eight_expert_rules_on_mixtral(ftype: str) -> None:
    """With 8 experts llama-quantize upgrades attention as its decision table says."""
    kinds = _kinds(_spec("mistralai/Mixtral-8x7B-v0.1"), ftype)
    for key, expected in EIGHT_EXPERT_TYPES[ftype].items():
        name, _, layer = key.partition(".")
        assert expected == kinds[(name, int(layer or 5))], key


def test_imatrix_guards_legacy_quants() -> None:
    """With an imatrix, Q4_0 / Q5_0 give the first eighth of ffn_down Q4_1 / Q5_1 (llama-quant.cpp)."""
    ffn_down = next(t for t in tensors(LLAMA3_8B) if t.name == "ffn_down" and t.layer == 3)
    assert "Q4_1" == tensor_type(get_format("Q4_0"), LLAMA3_8B, ffn_down, imatrix=True)
    assert "Q5_1" == tensor_type(get_format("Q5_0"), LLAMA3_8B, ffn_down, imatrix=True)
    assert "Q4_0" == tensor_type(get_format("Q4_0"), LLAMA3_8B, ffn_down)
