"""Quantization layouts against the tensors the libraries themselves create.

tests/core/data/quant_layouts.json is written by scripts/quant_layouts.py, which runs
bitsandbytes 0.50.2 (Int8Params / Params4bit quantizing a real fp16 weight on the CPU),
auto-gptq 0.7.1 (``QuantLinear`` of qlinear_cuda_old) and autoawq 0.2.9 (``WQLinear_GEMM``) and
records the bytes of every tensor each one holds for a Linear of the given shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vram.core.dtypes import get_format, quantized_parts
from vram.core.params import Tensor

CASES: list[dict[str, Any]] = json.loads(Path(__file__).with_name("data").joinpath("quant_layouts.json").read_text())[
    "cases"
]

# The library tensors each of our parts stands for, in quantized_parts' order.
COUNTED = {
    "bnb-int8": ["CB", "SCB"],
    "bnb-4bit": ["weight", "absmax"],
    "bnb-4bit-dq": ["weight", "absmax", "nested_absmax", "offset"],
    "gptq": ["qweight", "qzeros", "scales", "g_idx"],
    "awq": ["qweight", "qzeros", "scales"],
}
# bitsandbytes' 4-bit QuantState also holds its code tables: 16 fp32 values (and, with double
# quantization, the 256-value dynamic map of the nested absmax), at most 1,088 bytes a tensor.
NOT_COUNTED = {"code", "nested_code"}


def _key(case: dict[str, Any]) -> str:
    fmt = get_format(case["format"])
    return f"{fmt.kind}-dq" if fmt.double_quant else fmt.kind


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['format']}-{c['out']}x{c['in']}")
def test_layout_matches_library(case: dict[str, Any]) -> None:
    """Our parts are byte for byte the library's weight, scale and zero-point tensors for this shape."""
    fmt = get_format(case["format"])
    ours = quantized_parts(fmt, Tensor("attn_q", (case["out"], case["in"]), "attention", 0))
    lib: dict[str, int] = case["tensors"]
    counted = COUNTED[_key(case)]
    assert [lib[name] for name in counted] == ours
    assert set(lib) - set(counted) <= NOT_COUNTED
    assert sum(lib[name] for name in set(lib) - set(counted)) <= 1088


def test_oracle_covers_every_layout() -> None:
    """The oracle file has each quantization kind, an odd shape for bitsandbytes, and per-channel GPTQ."""
    assert set(COUNTED) == {_key(c) for c in CASES}
    assert any(c["out"] * c["in"] % 64 for c in CASES if c["format"] == "nf4-dq")
    assert any(c["format"].endswith("g-1") for c in CASES)
