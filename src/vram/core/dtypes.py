"""Precisions and weight-quantization formats: what each stores per tensor, with its source.

A format prices each parameter tensor (``weight_bytes``) the way its library lays it out:
packed codes plus scales and zero points, per row, per group or per block along the row, and
leaves unconverted what that library leaves unconverted (embeddings, lm_head, norms, biases,
routers; see ``quantized_roles``). Effective bits per weight therefore depend on the shapes,
and ``nominal_bits`` is only the headline figure for listings.

Sources (library code paths, read for this table):
- bitsandbytes ``nn/modules.py`` Int8Params (CB int8 + SCB fp32 per output row) and
  ``functional.quantize_4bit`` (blocksize 64, fp32 absmax per block; with double quantization
  the absmax become uint8 in blocks of 256 with an fp32 absmax each plus one fp32 offset).
- transformers ``quantizers/base.py`` ``get_keys_to_not_convert`` (lm_head and embeddings are not
  converted) and ``integrations/bitsandbytes.py`` ``replace_with_bnb_linear`` (only ``nn.Linear``
  is replaced: transformers 5 fuses MoE experts into 3-D parameters, which stay unquantized).
- AutoGPTQ ``qlinear_cuda_old.py`` / ``qlinear_exllamav2.py``: qweight int32 (in*bits/32, out),
  qzeros int32 (in/g, out*bits/32), scales fp16 (in/g, out), g_idx int32 (in).
- AutoAWQ ``WQLinear_GEMM``: qweight int32 (in, out/8), qzeros int32 (in/g, out/8), scales fp16 (in/g, out).
- compressed-tensors / vLLM ``fp8``: e4m3 weights + one fp32 ``weight_scale`` per tensor;
  DeepSeek-V3 ``quantization_config.weight_block_size [128, 128]``: one fp32 ``weight_scale_inv``
  per 128x128 block.
- OCP MX spec / ggml ``block_mxfp4``: 32 e2m1 values + one E8M0 scale byte (17 B / 32 weights);
  transformers ``quantizer_mxfp4.py`` converts only the gpt-oss expert tensors.
- ggml ``src/ggml-common.h`` block structs (``sizeof(block_q4_K)`` = 144 for 256 weights, ...) and
  llama.cpp ``src/llama-quant.cpp`` for which tensor gets which type (see ``vram.core.gguf``).

The bitsandbytes, GPTQ and AWQ layouts are checked byte for byte against the tensors bitsandbytes
0.50.2, auto-gptq 0.7.1 and autoawq 0.2.9 create (scripts/quant_layouts.py, whose output
tests/core/test_quant_layouts.py reads). Not counted: bitsandbytes' 4-bit code tables, 64 bytes a
tensor (1,088 with double quantization).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import ceil
from typing import Literal

from vram.core.errors import UnknownFormatError
from vram.core.params import MATRIX_ROLES, Role, Tensor

Kind = Literal["float", "bnb-int8", "bnb-4bit", "gptq", "awq", "fp8", "fp8-block", "mxfp4", "gguf"]
Support = Literal["bf16", "fp8", "fp4"]

FLOAT_BYTES: dict[str, int] = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2}
"""Bytes per element of the IEEE / bfloat16 types (torch ``element_size()``)."""

_TORCH_NAMES: dict[str, str] = {
    "float64": "fp64",
    "double": "fp64",
    "float32": "fp32",
    "float": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
}


@dataclass(frozen=True, slots=True)
class Format:
    """One way of storing weights (an entry of the constant table below, so a plain dataclass)."""

    name: str
    kind: Kind
    description: str
    nominal_bits: float
    source: str
    bits: int = 16
    group_size: int | None = None
    double_quant: bool = False
    gguf_type: str | None = None
    needs: Support | None = None


def float_name(torch_dtype: str | None) -> str | None:
    """Our name (fp32, bf16, ...) for a config ``torch_dtype`` value, or None when unknown."""
    if torch_dtype is None:
        return None
    key = torch_dtype.lower().removeprefix("torch.")
    return _TORCH_NAMES.get(key, key if key in FLOAT_BYTES else None)


def _float(name: str, bits: int, desc: str) -> Format:
    return Format(
        name=name,
        kind="float",
        description=desc,
        nominal_bits=bits,
        bits=bits,
        source="IEEE 754 / bfloat16 element sizes (torch.finfo)",
        needs="bf16" if name == "bf16" else None,
    )


def _bnb4(quant_type: str, double_quant: bool) -> Format:
    """bitsandbytes 4-bit: codes + fp32 absmax per 64 (4.5 bits), or uint8 absmax + fp32 per 256 blocks."""
    dq = " with double quantization" if double_quant else ", no double quantization"
    return Format(
        name=f"{quant_type}-dq" if double_quant else quant_type,
        kind="bnb-4bit",
        description=f"bitsandbytes {quant_type.upper()}, blocksize 64{dq}" + (" (QLoRA)" if double_quant else ""),
        nominal_bits=4 + 8 / 64 + 32 / (64 * 256) if double_quant else 4 + 32 / 64,
        bits=4,
        group_size=64,
        double_quant=double_quant,
        source=_BNB_SRC,
    )


_BNB_SRC = "bitsandbytes functional.quantize_4bit (blocksize 64, fp32 absmax; double quant: uint8 absmax / 256)"
_GPTQ_SRC = "AutoGPTQ qlinear_exllamav2.py: qweight, qzeros int32 packed; scales fp16 per group; g_idx int32"
_AWQ_SRC = "AutoAWQ WQLinear_GEMM: qweight, qzeros int32 packed by 8; scales fp16 per group"

FORMATS: dict[str, Format] = {
    f.name: f
    for f in [
        _float("fp64", 64, "IEEE double"),
        _float("fp32", 32, "IEEE single"),
        _float("fp16", 16, "IEEE half"),
        _float("bf16", 16, "bfloat16 (needs Ampere or newer on NVIDIA)"),
        Format(
            name="fp8",
            kind="fp8",
            description="FP8 e4m3 weights, one fp32 scale per tensor (vLLM fp8, compressed-tensors)",
            nominal_bits=8,
            bits=8,
            source="compressed-tensors / vLLM Fp8LinearMethod: e4m3 weight + fp32 weight_scale per tensor",
            needs="fp8",
        ),
        Format(
            name="fp8-block",
            kind="fp8-block",
            description="FP8 e4m3 weights, fp32 scale per 128x128 block (DeepSeek-V3 checkpoints)",
            nominal_bits=8 + 32 / 16384,
            bits=8,
            group_size=128,
            source="DeepSeek-V3 config quantization_config.weight_block_size [128,128]; weight_scale_inv fp32",
            needs="fp8",
        ),
        Format(
            name="bnb-int8",
            kind="bnb-int8",
            description="bitsandbytes LLM.int8(): int8 weights + fp32 scale per output row",
            nominal_bits=8,
            bits=8,
            source="bitsandbytes nn/modules.py Int8Params: CB int8 (out x in) + SCB fp32 (out)",
        ),
        *(_bnb4(kind, dq) for kind in ("nf4", "fp4") for dq in (False, True)),
        Format(
            name="mxfp4",
            kind="mxfp4",
            description="OCP MXFP4: e2m1 + one E8M0 scale per 32 (gpt-oss experts)",
            nominal_bits=4.25,
            bits=4,
            group_size=32,
            source="ggml block_mxfp4 (17 B / 32); transformers quantizer_mxfp4.py converts expert tensors",
        ),
    ]
}


def _grouped(method: str, bits: int, group: int) -> Format:
    """A GPTQ or AWQ format; ``group`` -1 means one group per input row (per-channel scales)."""
    g = None if group == -1 else group
    per = "per-channel" if g is None else f"group size {g}"
    zero_bits = bits if method == "gptq" else 4
    return Format(
        name=f"{method}-int{bits}-g{group}",
        kind="gptq" if method == "gptq" else "awq",
        description=f"{method.upper()} {bits}-bit, {per}",
        # headline figure only: per-channel scales are amortized over a row, taken as 4096 wide here
        nominal_bits=bits + (16 + zero_bits) / (g or 4096),
        bits=bits,
        group_size=g,
        source=_GPTQ_SRC if method == "gptq" else _AWQ_SRC,
    )


_GROUPED = re.compile(r"^(gptq)-int([2348])-g(-1|\d+)$|^(awq)-int(4)-g(-1|\d+)$")

for _bits in (4, 8):
    for _g in (32, 128):
        FORMATS[f"gptq-int{_bits}-g{_g}"] = _grouped("gptq", _bits, _g)
for _g in (64, 128):
    FORMATS[f"awq-int4-g{_g}"] = _grouped("awq", 4, _g)


# ggml block layouts: (weights per block, bytes per block), from sizeof(block_*) in ggml-common.h.
GGML_TYPES: dict[str, tuple[int, int]] = {
    "F32": (1, 4),
    "F16": (1, 2),
    "BF16": (1, 2),
    "Q4_0": (32, 18),
    "Q4_1": (32, 20),
    "Q5_0": (32, 22),
    "Q5_1": (32, 24),
    "Q8_0": (32, 34),
    "Q2_K": (256, 84),
    "Q3_K": (256, 110),
    "Q4_K": (256, 144),
    "Q5_K": (256, 176),
    "Q6_K": (256, 210),
    "Q8_K": (256, 292),
    "IQ2_XXS": (256, 66),
    "IQ2_XS": (256, 74),
    "IQ2_S": (256, 82),
    "IQ3_XXS": (256, 98),
    "IQ3_S": (256, 110),
    "IQ1_S": (256, 50),
    "IQ1_M": (256, 56),
    "IQ4_NL": (32, 18),
    "IQ4_XS": (256, 136),
    "TQ1_0": (256, 54),
    "TQ2_0": (256, 66),
    "MXFP4": (32, 17),
}

_GGUF_FILE_TYPES: dict[str, tuple[str, str]] = {
    # file type: (base ggml type: llama-quant.cpp llama_ftype_get_default_type, description)
    "F16": ("F16", "GGUF all-F16"),
    "BF16": ("BF16", "GGUF all-BF16"),
    "Q8_0": ("Q8_0", "8.5 bpw blocks of 32"),
    "Q6_K": ("Q6_K", "6.5625 bpw k-quant"),
    "Q5_K_M": ("Q5_K", "Q5_K with Q6_K for attn_v / ffn_down on some layers"),
    "Q5_K_S": ("Q5_K", "Q5_K"),
    "Q5_0": ("Q5_0", "5.5 bpw blocks of 32"),
    "Q5_1": ("Q5_1", "6.0 bpw blocks of 32"),
    "Q4_K_M": ("Q4_K", "Q4_K with Q6_K for attn_v / ffn_down on some layers"),
    "Q4_K_S": ("Q4_K", "Q4_K (Q5_K on a few early ffn_down)"),
    "Q4_0": ("Q4_0", "4.5 bpw blocks of 32"),
    "Q4_1": ("Q4_1", "5.0 bpw blocks of 32"),
    "Q3_K_L": ("Q3_K", "Q3_K with Q5_K attn_v / ffn_down"),
    "Q3_K_M": ("Q3_K", "Q3_K with Q4_K/Q5_K attn_v / ffn_down"),
    "Q3_K_S": ("Q3_K", "Q3_K"),
    "Q2_K": ("Q2_K", "Q2_K with Q3_K/Q4_K for a few tensors"),
    "IQ4_XS": ("IQ4_XS", "4.25 bpw i-quant"),
    "IQ4_NL": ("IQ4_NL", "4.5 bpw non-linear blocks of 32"),
    "IQ3_M": ("IQ3_S", "IQ3_S with Q4_K attn_v / attn_output and early ffn_down"),
    "IQ3_S": ("IQ3_S", "3.4375 bpw i-quant"),
    "IQ3_XS": ("IQ3_S", "IQ3_S with IQ3_XXS attn_q / attn_k and middle ffn_gate / ffn_up (imatrix)"),
    "IQ3_XXS": ("IQ3_XXS", "3.0625 bpw i-quant, IQ2_S attn_q / attn_k (imatrix)"),
    "IQ2_M": ("IQ2_S", "IQ2_S with IQ3_S for attn_output and early ffn_down (imatrix)"),
    "IQ2_S": ("IQ2_XS", "IQ2_XS with IQ3_S for attn_output and early ffn_down (imatrix)"),
    "IQ2_XS": ("IQ2_XS", "2.3125 bpw i-quant (imatrix)"),
    "IQ2_XXS": ("IQ2_XXS", "2.0625 bpw i-quant (imatrix)"),
    "IQ1_M": ("IQ1_M", "1.75 bpw i-quant, IQ2_XXS attn_output (imatrix)"),
    "IQ1_S": ("IQ1_S", "1.5625 bpw i-quant, IQ2_XXS attn_output (imatrix)"),
    "MXFP4_MOE": ("MXFP4", "MXFP4 experts, Q8_0 elsewhere"),
}
for _name, (_base, _desc) in _GGUF_FILE_TYPES.items():
    _blk, _size = GGML_TYPES[_base]
    _f = Format(
        name=_name,
        kind="gguf",
        description=f"GGUF {_name}: {_desc}",
        nominal_bits=8 * _size / _blk,
        bits=ceil(8 * _size / _blk),
        gguf_type=_base,
        source="ggml ggml-common.h block sizes; llama.cpp src/llama-quant.cpp per-tensor type rules",
    )
    FORMATS[_name] = _f

ALIASES: dict[str, str] = {
    "int8": "bnb-int8",
    "llm.int8": "bnb-int8",
    "bnb-8bit": "bnb-int8",
    "int4": "nf4",
    "bnb-4bit": "nf4",
    "bnb-nf4": "nf4",
    "bnb-fp4": "fp4",
    "qlora": "nf4-dq",
    "fp8-e4m3": "fp8",
    "e4m3": "fp8",
    "float8": "fp8",
    "gptq": "gptq-int4-g128",
    "gptq-int4": "gptq-int4-g128",
    "gptq-int8": "gptq-int8-g128",
    "gptq-int3": "gptq-int3-g128",
    "awq": "awq-int4-g128",
    "awq-int4": "awq-int4-g128",
    "mxfp4-moe": "MXFP4_MOE",
    **_TORCH_NAMES,
}
"""Short names users type. ``int8`` means LLM.int8 and ``int4`` means NF4 (bitsandbytes, as
``load_in_8bit`` / ``load_in_4bit`` with ``bnb_4bit_quant_type="nf4"``), the formats the
transformers quick-start uses for those words."""


def get_format(name: str) -> Format:
    """Look a format up by name or alias, case-insensitively."""
    key = name.strip()
    lowered = key.lower().removeprefix("torch.")
    for candidate in (key, key.upper(), lowered, ALIASES.get(lowered, "")):
        if candidate in FORMATS:
            return FORMATS[candidate]
    m = _GROUPED.match(lowered)
    if m is not None:
        method, bits, group = (
            (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
        )
        if int(group) != 0:
            return _grouped(method, int(bits), int(group))
    raise UnknownFormatError(name, sorted(FORMATS))


def quantized_roles(fmt: Format, has_experts: bool) -> frozenset[Role]:
    """Roles of the tensors this format converts; everything else stays at the base dtype."""
    if fmt.kind == "float":
        return frozenset()
    if fmt.kind in ("bnb-int8", "bnb-4bit"):
        # transformers 5 stores experts as fused 3-D Parameters, which replace_with_bnb_linear skips.
        return MATRIX_ROLES - {"expert"}
    if fmt.kind == "mxfp4" and has_experts:
        return frozenset({"expert"})
    return MATRIX_ROLES


def _matrices(t: Tensor) -> tuple[int, int, int]:
    """(count, out, in) of the 2-D matrices a tensor holds (experts are a stack of them)."""
    if len(t.shape) == 3:
        return t.shape[0], t.shape[1], t.shape[2]
    if len(t.shape) == 2:
        return 1, t.shape[0], t.shape[1]
    return 1, 1, t.numel


def ggml_bytes(ggml_type: str, t: Tensor) -> int:
    """Bytes of a tensor in a ggml type: whole blocks along the row (ne0 = in_features)."""
    blk, size = GGML_TYPES[ggml_type]
    rows = t.numel // t.shape[-1]
    return ceil(t.shape[-1] / blk) * size * rows


def quantized_parts(fmt: Format, t: Tensor) -> list[int]:
    """Bytes of each tensor the library stores for one converted weight (codes, scales, zero points...).

    Fused experts are stored as one stacked tensor per part, so each part covers all experts.
    """
    n, out, inp = _matrices(t)
    b, g = fmt.bits, fmt.group_size or inp
    groups = ceil(inp / g)
    if fmt.kind == "bnb-int8":
        parts = [out * inp, 4 * out]  # CB int8, SCB fp32 per row
    elif fmt.kind == "bnb-4bit":
        blocks = ceil(out * inp / 64)
        absmax = [blocks, ceil(blocks / 256) * 4, 4] if fmt.double_quant else [4 * blocks]
        parts = [ceil(out * inp / 2), *absmax]
    elif fmt.kind == "gptq":  # qweight, qzeros, scales, g_idx
        parts = [ceil(inp * b / 32) * out * 4, groups * ceil(out * b / 32) * 4, groups * out * 2, inp * 4]
    elif fmt.kind == "awq":  # qweight, qzeros, scales
        parts = [inp * ceil(out / 8) * 4, groups * ceil(out / 8) * 4, groups * out * 2]
    elif fmt.kind == "fp8":  # weight, weight_scale
        parts = [out * inp, 4]
    elif fmt.kind == "fp8-block":  # weight, weight_scale_inv
        parts = [out * inp, ceil(out / 128) * ceil(inp / 128) * 4]
    elif fmt.kind == "mxfp4":  # blocks (16 B per 32), scales (1 B per 32)
        parts = [out * ceil(inp / 32) * 16, out * ceil(inp / 32)]
    else:  # float and gguf are priced elsewhere
        msg = f"{fmt.name} is not a per-tensor quantization format"
        raise ValueError(msg)
    return [n * p for p in parts]


def quantized_bytes(fmt: Format, t: Tensor) -> int:
    """Bytes of one converted tensor in ``fmt`` (codes + scales + zero points)."""
    return sum(quantized_parts(fmt, t))
