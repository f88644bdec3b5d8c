"""Format names, builders and per-tensor layouts, each against a figure derived by hand.

The format table is built when ``vram.core.dtypes`` is imported, so the builders (``_float``,
``_bnb4``, ``_grouped``) are also called here directly: a change to one shows even where the
table was built before it (as under mutation testing, which swaps functions after import).
"""

from __future__ import annotations

from math import ceil

import pytest

from vram.core.dtypes import (
    FORMATS,
    _bnb4,
    _float,
    float_name,
    get_format,
    ggml_bytes,
    quantized_bytes,
    quantized_parts,
    quantized_roles,
)
from vram.core.errors import UnknownFormatError
from vram.core.params import MATRIX_ROLES, Tensor


def _w(*shape: int) -> Tensor:
    return Tensor("w", shape, "attention" if len(shape) == 2 else "expert", 0)


@pytest.mark.parametrize(
    ("torch_dtype", "ours"),
    [
        (None, None),
        ("torch.bfloat16", "bf16"),  # transformers writes the repr of torch.dtype in some configs
        ("float", "fp32"),  # torch.float is torch.float32
        ("half", "fp16"),  # torch.half is torch.float16
        ("FP16", "fp16"),  # already one of our names, any case
        ("int8", None),
        ("float8_e4m3fn", None),
    ],
)
def test_float_name(torch_dtype: str | None, ours: str | None) -> None:
    """A config torch_dtype maps to torch's own aliases for the IEEE / bfloat16 types, else None."""
    assert ours == float_name(torch_dtype)


def test_float_builder() -> None:
    """A float format stores `bits` per weight; only bf16 needs hardware bfloat16 support."""
    bf16 = _float("bf16", 16, "bfloat16")
    assert ("bf16", "float", "bfloat16", 16, 16, "bf16") == (
        bf16.name,
        bf16.kind,
        bf16.description,
        bf16.nominal_bits,
        bf16.bits,
        bf16.needs,
    )
    assert "IEEE 754" in bf16.source
    assert "bfloat16" in bf16.source
    fp32 = _float("fp32", 32, "IEEE single")
    assert (32, 32, None) == (fp32.nominal_bits, fp32.bits, fp32.needs)


def test_bnb4_builder_matches_qlora_paper() -> None:
    """bitsandbytes 4-bit costs 32/64 = 0.5 extra bits per weight, 0.127 with double quantization
    (Dettmers et al. 2023, QLoRA, section 3 "Double Quantization")."""
    plain = _bnb4("nf4", double_quant=False)
    assert ("nf4", "bnb-4bit", 4, 64, False, 4.5) == (
        plain.name,
        plain.kind,
        plain.bits,
        plain.group_size,
        plain.double_quant,
        plain.nominal_bits,
    )
    assert "bitsandbytes NF4, blocksize 64, no double quantization" == plain.description
    assert "bitsandbytes" in plain.source
    dq = _bnb4("fp4", double_quant=True)
    assert ("fp4-dq", True, 64, 4) == (dq.name, dq.double_quant, dq.group_size, dq.bits)
    assert 4 + 8 / 64 + 32 / (64 * 256) == dq.nominal_bits  # the paper's expression, 4.127
    assert "bitsandbytes FP4, blocksize 64 with double quantization (QLoRA)" == dq.description


def test_user_names_resolve() -> None:
    """Names are matched after stripping, in any case, with a torch. prefix, and through the aliases."""
    assert "Q4_K_M" == get_format(" q4_k_m ").name
    assert "bf16" == get_format("Torch.BFloat16").name
    assert "fp16" == get_format("torch.float16").name
    assert "nf4-dq" == get_format("QLoRA").name
    assert "bnb-int8" == get_format("int8").name  # transformers load_in_8bit
    assert "nf4" == get_format("int4").name  # transformers load_in_4bit, bnb_4bit_quant_type="nf4"
    assert "gptq-int4-g128" == get_format("GPTQ").name
    assert "MXFP4_MOE" == get_format("mxfp4-moe").name


def test_gptq_awq_names_outside_the_table() -> None:
    """gptq-intB-gG and awq-int4-gG are built on demand with G's scales and B-bit zeros per group."""
    assert "gptq-int3-g64" not in FORMATS
    gptq = get_format("gptq-int3-g64")
    assert ("gptq-int3-g64", "gptq", 3, 64) == (gptq.name, gptq.kind, gptq.bits, gptq.group_size)
    # per group of 64 weights: one fp16 scale and one 3-bit zero point
    assert 3 + (16 + 3) / 64 == gptq.nominal_bits
    assert "GPTQ 3-bit, group size 64" == gptq.description
    assert "AutoGPTQ" in gptq.source
    awq = get_format("AWQ-int4-g32")
    assert ("awq-int4-g32", "awq", 4, 32) == (awq.name, awq.kind, awq.bits, awq.group_size)
    assert 4 + (16 + 4) / 32 == awq.nominal_bits  # AWQ zero points are 4-bit
    assert "AWQ 4-bit, group size 32" == awq.description
    assert "AutoAWQ" in awq.source
    per_channel = get_format("gptq-int2-g-1")
    assert (2, None) == (per_channel.bits, per_channel.group_size)
    assert "GPTQ 2-bit, per-channel" == per_channel.description
    # the listing's headline figure spreads a row's fp16 scale and zero over a 4096-wide row
    assert 2 + (16 + 2) / 4096 == per_channel.nominal_bits


def test_gptq_int8_zero_points_are_8_bit() -> None:
    """GPTQ packs zero points at the weight width: 8-bit GPTQ with groups of 256 costs (16 + 8)/256 extra."""
    assert 8 + 24 / 256 == get_format("gptq-int8-g256").nominal_bits


@pytest.mark.parametrize("name", ["gptq-int4-g0", "awq-int8-g128", "gptq-int5-g128", "q4_k_x", ""])
def test_unknown_format(name: str) -> None:
    """A name that is no format, alias or valid GPTQ/AWQ pattern raises with the known names, sorted."""
    with pytest.raises(UnknownFormatError) as err:
        get_format(name)
    assert name == err.value.name
    assert sorted(FORMATS) == err.value.known


def test_quantized_roles() -> None:
    """bitsandbytes skips fused 3-D experts, MXFP4 converts only experts (gpt-oss), GPTQ all matrices."""
    assert frozenset() == quantized_roles(get_format("bf16"), has_experts=True)
    assert MATRIX_ROLES - {"expert"} == quantized_roles(get_format("nf4"), has_experts=True)
    assert MATRIX_ROLES - {"expert"} == quantized_roles(get_format("int8"), has_experts=False)
    assert {"attention", "mlp", "shared_expert"} == quantized_roles(get_format("nf4"), has_experts=True)
    assert {"expert"} == quantized_roles(get_format("mxfp4"), has_experts=True)
    assert MATRIX_ROLES == quantized_roles(get_format("mxfp4"), has_experts=False)
    assert MATRIX_ROLES == quantized_roles(get_format("gptq"), has_experts=True)
    assert MATRIX_ROLES == quantized_roles(get_format("fp8"), has_experts=True)


def test_ggml_bytes_whole_blocks_per_row() -> None:
    """ggml stores whole blocks along each row: Q4_K is 144 B per 256, Q8_0 34 B per 32 (ggml-common.h)."""
    assert 10 * 2 * 144 == ggml_bytes("Q4_K", _w(10, 512))
    assert 8 * 4 * 2 * 144 == ggml_bytes("Q4_K", _w(8, 4, 512))  # a stack of 8 experts: 32 rows
    assert 3 * ceil(300 / 32) * 34 == ggml_bytes("Q8_0", _w(3, 300))  # 300 is 9.4 blocks: 10 stored
    assert 4 * 1000 == ggml_bytes("F32", _w(1000))
    assert isinstance(ggml_bytes("Q4_K", _w(10, 512)), int)  # bytes are integers in the JSON


def test_fp8_layouts() -> None:
    """fp8: a byte a weight plus one fp32 scale; fp8-block: one fp32 scale per started 128x128 block."""
    assert [300 * 200, 4] == quantized_parts(get_format("fp8"), _w(300, 200))
    # 257 x 129 spans 3 x 2 blocks of 128x128
    assert [257 * 129, 3 * 2 * 4] == quantized_parts(get_format("fp8-block"), _w(257, 129))
    assert 1000 + 4 == quantized_bytes(get_format("fp8"), _w(1000))  # a vector is one row


def test_mxfp4_layout() -> None:
    """MXFP4: 16 B of e2m1 pairs and 1 E8M0 scale byte per started block of 32 along the row."""
    assert [2880 * 90 * 16, 2880 * 90] == quantized_parts(get_format("mxfp4"), _w(2880, 2880))
    assert [5 * 2 * 16, 5 * 2] == quantized_parts(get_format("mxfp4"), _w(5, 33))


def test_expert_stack_counts_every_matrix() -> None:
    """A fused stack of 8 experts (8, out, in) costs 8 times one (out, in) matrix, scales included."""
    for name in ("int8", "nf4-dq", "gptq-int4-g32", "awq-int4-g64", "fp8", "fp8-block", "mxfp4"):
        fmt = get_format(name)
        one = quantized_parts(fmt, _w(384, 640))
        assert [8 * p for p in one] == quantized_parts(fmt, _w(8, 384, 640)), name


def test_int8_and_awq_small_shapes() -> None:
    """LLM.int8 keeps an fp32 scale per output row; AWQ packs 8 outputs per int32, so 12 need 2."""
    assert [3 * 5, 3 * 4] == quantized_parts(get_format("int8"), _w(3, 5))
    # qweight (in, ceil(out/8)) int32, qzeros (in/g, ceil(out/8)) int32, scales (in/g, out) fp16
    assert [256 * 2 * 4, 2 * 2 * 4, 2 * 12 * 2] == quantized_parts(get_format("awq-int4-g128"), _w(12, 256))


def test_gptq_per_channel_layout() -> None:
    """GPTQ without groups has one group per input row: one row of qzeros and scales, g_idx per input."""
    # qweight (in*4/32, out) int32, qzeros (1, out*4/32) int32, scales (1, out) fp16, g_idx (in) int32
    parts = quantized_parts(get_format("gptq-int4-g-1"), _w(64, 256))
    assert [256 * 4 // 32 * 64 * 4, 64 * 4 // 32 * 4, 64 * 2, 256 * 4] == parts


@pytest.mark.parametrize("name", ["fp16", "Q4_K_M"])
def test_formats_priced_elsewhere_refuse(name: str) -> None:
    """Float and GGUF formats are not per-tensor quantizations: asking for their parts is a bug, named."""
    with pytest.raises(ValueError, match=f"{name} is not a per-tensor quantization format"):
        quantized_parts(get_format(name), _w(4, 4))
