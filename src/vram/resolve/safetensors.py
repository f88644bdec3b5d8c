"""Exact stored weights from local safetensors files: the bounded JSON header, never the tensors.

A safetensors file starts with an 8-byte little-endian header length N, then N bytes of JSON
mapping each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into
the data that follows), plus an optional ``__metadata__`` object
(github.com/huggingface/safetensors, "Format"). We read at most MAX_HEADER_BYTES of header and
check every entry against the file's size, so a truncated or hostile file fails cleanly.
"""

from __future__ import annotations

import struct
from math import prod
from pathlib import Path
from typing import Any

from vram.core.checkpoint import Checkpoint
from vram.core.errors import ConfigFileError
from vram.resolve.local import parse_json_object

MAX_HEADER_BYTES = 100 << 20
"""The safetensors reference implementation refuses headers above 100 MB (MAX_HEADER_SIZE)."""

DTYPE_BITS: dict[str, int] = {
    # safetensors Dtype names and their element sizes (safetensors/src/tensor.rs Dtype::bitsize)
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
}


def read_header(path: Path) -> dict[str, Any]:
    """The validated header of one .safetensors file (tensor entries only, metadata dropped)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ConfigFileError(str(path), "truncated safetensors file (no header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES:
                raise ConfigFileError(
                    str(path), f"safetensors header of {n:,} bytes exceeds the {MAX_HEADER_BYTES:,} limit"
                )
            if 8 + n > size:
                raise ConfigFileError(str(path), "truncated safetensors file (header runs past the end)")
            raw = fh.read(n)
    except OSError as e:
        raise ConfigFileError(str(path), e.strerror or str(e)) from None
    header = parse_json_object(raw, path, "safetensors header")
    header.pop("__metadata__", None)
    data_size = size - 8 - n
    for name, entry in header.items():
        _check_entry(path, name, entry, data_size)
    return header


def _check_entry(path: Path, name: str, entry: Any, data_size: int) -> None:
    bad = f"safetensors tensor {name!r} has an invalid entry"
    if not isinstance(entry, dict) or entry.get("dtype") not in DTYPE_BITS:
        raise ConfigFileError(str(path), f"{bad} (dtype)")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ConfigFileError(str(path), f"{bad} (shape)")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise ConfigFileError(str(path), f"{bad} (data_offsets)")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise ConfigFileError(str(path), f"{bad}: its data lies outside the file (truncated?)")
    if (end - begin) * 8 != prod(shape) * DTYPE_BITS[entry["dtype"]]:
        raise ConfigFileError(str(path), f"{bad}: {end - begin} bytes do not hold shape {shape}")


def read_checkpoint(folder: Path) -> Checkpoint | None:
    """Parameters and bytes per dtype over every *.safetensors file in ``folder`` (None if there are none)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    params: dict[str, int] = {}
    stored: dict[str, int] = {}
    sizes: list[int] = []
    for f in files:
        for entry in read_header(f).values():
            dtype = entry["dtype"]
            begin, end = entry["data_offsets"]
            params[dtype] = params.get(dtype, 0) + prod(entry["shape"])
            stored[dtype] = stored.get(dtype, 0) + end - begin
            sizes.append(end - begin)
    return Checkpoint(
        source="safetensors",
        files=len(files),
        parameters_by_dtype=params,
        bytes_by_dtype=stored,
        tensor_bytes=tuple(sizes),
    )
