"""The format of a pre-quantized checkpoint, read from its ``quantization_config``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vram.core.dtypes import get_format
from vram.core.errors import UnknownFormatError


def prequantized_format(data: Mapping[str, Any]) -> str | None:
    """The format name of a checkpoint's ``quantization_config``, or None when we cannot name it."""
    q = data.get("quantization_config")
    if not isinstance(q, dict):
        return None
    method = str(q.get("quant_method", "")).lower()
    if method == "mxfp4":
        return "mxfp4"
    if method == "fp8":
        return "fp8-block" if q.get("weight_block_size") else "fp8"
    if method == "bitsandbytes":
        if q.get("load_in_8bit"):
            return "bnb-int8"
        kind = str(q.get("bnb_4bit_quant_type", "fp4"))
        return f"{kind}-dq" if q.get("bnb_4bit_use_double_quant") else kind
    if method in ("gptq", "awq"):
        bits = q.get("bits", q.get("w_bit", 4))
        group = q.get("group_size", q.get("q_group_size", 128))
        name = f"{method}-int{bits}-g{group}"
        try:
            return get_format(name).name
        except UnknownFormatError:
            return None  # an unusual layout: the torch_dtype default applies, and --dtype can name it
    if method == "compressed-tensors":
        return _compressed_tensors(q)
    return None


def _compressed_tensors(q: Mapping[str, Any]) -> str | None:
    """compressed-tensors: FP8 weight schemes map to our fp8 formats; others are priced from the files."""
    groups = q.get("config_groups")
    if not isinstance(groups, dict):
        return None
    for group in groups.values():
        weights = group.get("weights") if isinstance(group, dict) else None
        if isinstance(weights, dict) and weights.get("type") == "float" and weights.get("num_bits") == 8:
            return "fp8-block" if weights.get("strategy") == "block" else "fp8"
    return None
