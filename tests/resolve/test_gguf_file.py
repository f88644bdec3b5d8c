"""Local GGUF files: exact weight bytes from the tensor infos, clean failures on damaged headers.

The files are written here in the real GGUF v3 layout (magic, version, counts, typed metadata,
tensor infos); their data section is left empty because only the header is read.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode
from vram.core.dtypes import GGML_TYPES
from vram.core.errors import ConfigFileError
from vram.resolve.gguf_file import read_gguf

TYPE_IDS = {"F32": 0, "F16": 1, "Q8_0": 8, "Q4_K": 12, "Q6_K": 14}
H, FF, LAYERS, VOCAB = 256, 512, 2, 320


def _str(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<Q", len(raw)) + raw


def _kv(key: str, value: object) -> bytes:
    if isinstance(value, str):
        return _str(key) + struct.pack("<I", 8) + _str(value)
    if isinstance(value, list):  # string array
        return _str(key) + struct.pack("<IIQ", 9, 8, len(value)) + b"".join(_str(v) for v in value)
    return _str(key) + struct.pack("<II", 4, value)  # u32


def model_tensors() -> list[tuple[str, list[int], str]]:
    """(name, GGUF dims with ne0 first, ggml type) for a 2-layer llama-style model in Q4_K_M style."""
    out = [
        ("token_embd.weight", [H, VOCAB], "Q4_K"),
        ("output_norm.weight", [H], "F32"),
        ("output.weight", [H, VOCAB], "Q6_K"),
    ]
    for i in range(LAYERS):
        out += [
            (f"blk.{i}.attn_norm.weight", [H], "F32"),
            (f"blk.{i}.attn_q.weight", [H, H], "Q4_K"),
            (f"blk.{i}.attn_k.weight", [H, 128], "Q4_K"),
            (f"blk.{i}.attn_v.weight", [H, 128], "Q6_K"),
            (f"blk.{i}.attn_output.weight", [H, H], "Q4_K"),
            (f"blk.{i}.ffn_norm.weight", [H], "F32"),
            (f"blk.{i}.ffn_gate.weight", [H, FF], "Q4_K"),
            (f"blk.{i}.ffn_up.weight", [H, FF], "Q4_K"),
            (f"blk.{i}.ffn_down.weight", [FF, H], "Q6_K"),
        ]
    return out


def write_gguf(path: Path, tensors: list[tuple[str, list[int], str]] | None = None) -> int:
    """Write a GGUF v3 header; return the sum of the tensors' ggml bytes."""
    tensors = model_tensors() if tensors is None else tensors
    meta = {
        "general.architecture": "llama",
        "general.name": "tiny-llama-gguf",
        "general.file_type": 15,
        "llama.block_count": LAYERS,
        "llama.embedding_length": H,
        "llama.feed_forward_length": FF,
        "llama.attention.head_count": 4,
        "llama.attention.head_count_kv": 2,
        "llama.context_length": 2048,
        "tokenizer.ggml.tokens": [f"t{i}" for i in range(VOCAB)],
    }
    body = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)) + b"".join(_kv(k, v) for k, v in meta.items())
    total, offset = 0, 0
    for name, dims, kind in tensors:
        body += _str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        body += struct.pack("<IQ", TYPE_IDS[kind], offset)
        blk, size = GGML_TYPES[kind]
        nbytes = -(-dims[0] // blk) * size * (dims[1] if len(dims) > 1 else 1)
        total += nbytes
        offset += nbytes
    path.write_bytes(body)
    return total


def test_weight_bytes_are_the_sum_of_tensor_bytes(tmp_path: Path) -> None:
    """vram estimate on a .gguf takes the weights from the tensor infos, exactly, and the KV from the metadata."""
    f = tmp_path / "tiny.gguf"
    expected = write_gguf(f)
    result = CliRunner().invoke(app, ["estimate", str(f), "--json", "--seq-len", "100"])
    assert ExitCode.OK == result.exit_code, result.stderr
    doc = json.loads(result.stdout)
    assert expected == doc["components"]["weights"]["bytes"]
    assert "Q4_K_M" == doc["settings"]["dtype"]
    assert "tiny-llama-gguf" == doc["model"]["id"]
    # KV: 2 layers x 100 tokens x (K + V) x 2 heads x 64 head_dim x 2 bytes (llama.cpp's f16 cache)
    assert 2 * 100 * 2 * 2 * 64 * 2 == doc["components"]["kv_cache"]["bytes"]


def test_parameter_count_matches_the_file(tmp_path: Path) -> None:
    """The architecture rebuilt from the metadata has exactly the file's parameters (no mismatch warning)."""
    f = tmp_path / "tiny.gguf"
    write_gguf(f)
    result = CliRunner().invoke(app, ["estimate", str(f), "--json"])
    doc = json.loads(result.stdout)
    stored = sum(d[0] * (d[1] if len(d) > 1 else 1) for _, d, _ in model_tensors())
    assert stored == doc["model"]["parameters"]
    assert "hold" not in result.stderr


def test_truncated_header(tmp_path: Path) -> None:
    """A file cut inside its tensor infos is refused."""
    f = tmp_path / "tiny.gguf"
    write_gguf(f)
    f.write_bytes(f.read_bytes()[:-7])
    with pytest.raises(ConfigFileError, match="truncated"):
        read_gguf(f)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"GGML" + bytes(20), "bad magic"),
        (b"GGUF" + struct.pack("<IQQ", 9, 0, 0), "version"),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 60), "larger than the file"),
        (b"GGUF" + struct.pack("<IQQ", 3, 1 << 50, 0), "counts"),
        (
            b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _str("k") + struct.pack("<IIQ", 9, 4, 1 << 40),
            "longer than the file",
        ),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _str("k") + struct.pack("<I", 99), "value type"),
    ],
)
def test_hostile_headers(tmp_path: Path, content: bytes, reason: str) -> None:
    """Bad magic, versions, and lengths or counts beyond the file are refused before any allocation."""
    f = tmp_path / "bad.gguf"
    f.write_bytes(content)
    with pytest.raises(ConfigFileError, match=reason):
        read_gguf(f)


def test_unknown_tensor_type(tmp_path: Path) -> None:
    """A tensor with a ggml type we cannot size is refused by name."""
    f = tmp_path / "tiny.gguf"
    write_gguf(f)
    data = bytearray(f.read_bytes())
    marker = _str("output_norm.weight") + struct.pack("<IQ", 1, H)
    at = data.index(marker) + len(marker)
    data[at : at + 4] = struct.pack("<I", 250)
    f.write_bytes(bytes(data))
    with pytest.raises(ConfigFileError, match="unknown ggml type"):
        read_gguf(f)


def test_inspect_shows_the_file_type(tmp_path: Path) -> None:
    """vram inspect on a GGUF file reports its file type as the quantization, from the GGUF metadata."""
    f = tmp_path / "tiny.gguf"
    write_gguf(f)
    result = CliRunner().invoke(app, ["inspect", str(f), "--json"])
    assert ExitCode.OK == result.exit_code, result.stderr
    arch = json.loads(result.stdout)["architecture"]
    assert ("Q4_K_M", "general.file_type (GGUF metadata)") == (
        arch["quantization"]["value"],
        arch["quantization"]["from"],
    )
    assert "GGUF metadata" in arch["layers"]["from"]
