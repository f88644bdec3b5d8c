"""Local safetensors headers: exact stored bytes, and clean failures on damaged files.

The files are written by the tests in the real format (8-byte little-endian header length, JSON
header, then the tensor data), with zeros as data: only the header is ever read.
"""

from __future__ import annotations

import json
import struct
from math import prod
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode
from vram.core.errors import ConfigFileError
from vram.core.params import tensors
from vram.resolve.mapping import spec_from_config
from vram.resolve.safetensors import DTYPE_BITS, read_checkpoint, read_header

from ..conftest import FIXTURES

CONFIG = json.loads((FIXTURES / "configs" / "qwen3-small.json").read_text())


def write_safetensors(path: Path, tensors_: dict[str, tuple[str, list[int]]], *, pad: int = 0) -> int:
    """Write a real safetensors file with zeroed data; return the data size in bytes."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors_.items():
        size = prod(shape) * DTYPE_BITS[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8 + pad)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return offset


def model_tensors(dtype: str = "BF16") -> dict[str, tuple[str, list[int]]]:
    """One stored tensor per parameter tensor of the fixture architecture."""
    spec = spec_from_config(CONFIG)
    return {f"t{i}.{t.name}": (dtype, list(t.shape)) for i, t in enumerate(tensors(spec))}


def test_sharded_checkpoint_bytes_are_exact(tmp_path: Path) -> None:
    """Two shards: weight bytes equal the sum of every tensor's bytes, and counts match the config."""
    items = list(model_tensors().items())
    half = len(items) // 2
    data = write_safetensors(tmp_path / "model-00001-of-00002.safetensors", dict(items[:half]))
    data += write_safetensors(tmp_path / "model-00002-of-00002.safetensors", dict(items[half:]))
    ckpt = read_checkpoint(tmp_path)
    assert ckpt is not None
    assert 2 == ckpt.files
    assert data == ckpt.total_bytes
    assert sum(prod(shape) for _, shape in dict(items).values()) == ckpt.elements


def test_cli_uses_stored_bytes_and_reports_mismatch(tmp_path: Path) -> None:
    """vram estimate on a folder takes the weights from the files and warns when counts differ."""
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    stored = {**model_tensors(), "extra.mtp_head": ("BF16", [1000, 64])}
    data = write_safetensors(tmp_path / "model.safetensors", stored)
    result = CliRunner().invoke(app, ["estimate", str(tmp_path), "--json"])
    assert ExitCode.OK == result.exit_code
    doc = json.loads(result.stdout)
    assert data == doc["components"]["weights"]["bytes"]
    assert "safetensors" == doc["components"]["weights"]["details"]["source"]
    assert "hold" in result.stderr


def test_explicit_dtype_prices_the_architecture(tmp_path: Path) -> None:
    """With --dtype the stored files are a what-if away: the weights are priced from the config."""
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    write_safetensors(tmp_path / "model.safetensors", model_tensors("F32"))
    result = CliRunner().invoke(app, ["estimate", str(tmp_path), "--json", "--dtype", "bf16"])
    weights = json.loads(result.stdout)["components"]["weights"]
    assert "source" not in weights["details"]
    assert 2 * spec_params() == weights["bytes"]


def spec_params() -> int:
    return sum(t.numel for t in tensors(spec_from_config(CONFIG)))


def test_truncated_file(tmp_path: Path) -> None:
    """A file cut inside its data is refused: a tensor's bytes lie past the end."""
    f = tmp_path / "model.safetensors"
    write_safetensors(f, {"w": ("F32", [64, 64])})
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(ConfigFileError, match="outside the file"):
        read_header(f)


def test_oversized_header_length(tmp_path: Path) -> None:
    """A header length beyond 100 MB is refused before anything is read."""
    f = tmp_path / "model.safetensors"
    f.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(ConfigFileError, match="exceeds"):
        read_header(f)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json.dumps({"w": {"dtype": "F7", "shape": [1], "data_offsets": [0, 1]}}).encode(), "dtype"),
        (json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 4]}}).encode(), "do not hold"),
        (json.dumps({"w": {"dtype": "F32", "shape": "x", "data_offsets": [0, 4]}}).encode(), "shape"),
    ],
)
def test_malformed_headers(tmp_path: Path, header: bytes, reason: str) -> None:
    """Every malformed header is a ConfigFileError saying what is wrong."""
    f = tmp_path / "model.safetensors"
    f.write_bytes(struct.pack("<Q", len(header)) + header + bytes(64))
    with pytest.raises(ConfigFileError, match=reason):
        read_header(f)


def test_short_file(tmp_path: Path) -> None:
    """A file shorter than the 8-byte length prefix is refused."""
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"\x01\x02")
    with pytest.raises(ConfigFileError, match="truncated"):
        read_header(f)
