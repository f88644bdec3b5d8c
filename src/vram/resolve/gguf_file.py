"""Local .gguf files: the header (metadata and tensor infos), never the tensor data.

Layout (ggml-org/ggml docs/gguf.md, version 2 and 3): magic ``GGUF``, u32 version, u64 tensor
count, u64 metadata count; then metadata as (string key, u32 type, value); then per tensor
(string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset); strings are a u64 length
and UTF-8 bytes. Every count and length is checked against the bytes left before it is used, and
at most MAX_HEADER_BYTES are read, so truncated and hostile files fail cleanly.
"""

from __future__ import annotations

import struct
from math import prod
from pathlib import Path
from typing import Any

from vram.core.checkpoint import Checkpoint
from vram.core.dtypes import GGML_TYPES, ggml_bytes
from vram.core.errors import ConfigFileError
from vram.core.params import Tensor

MAX_HEADER_BYTES = 64 << 20
"""Most we read for metadata and tensor infos (a large vocabulary is a few MB of strings)."""

GGML_TYPE_NAMES: dict[int, str] = {
    # enum ggml_type in ggml/include/ggml.h
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 10: "Q2_K", 11: "Q3_K",
    12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
    20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0",
    39: "MXFP4",
}  # fmt: skip

FILE_TYPES: dict[int, str] = {
    # enum llama_ftype in llama.cpp include/llama.h (general.file_type)
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S",
    27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 38: "MXFP4_MOE",
}  # fmt: skip

# GGUF architecture -> transformers model_type, for the architectures our mapping knows.
ARCHITECTURES: dict[str, str] = {
    "llama": "llama", "mistral": "mistral", "qwen2": "qwen2", "qwen3": "qwen3", "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe", "gemma": "gemma", "gemma2": "gemma2", "gemma3": "gemma3_text", "phi3": "phi3",
    "starcoder2": "starcoder2", "olmo2": "olmo2", "command-r": "cohere", "granite": "granite",
    "stablelm": "stablelm",
}  # fmt: skip

_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


class _Reader:
    """Bounds-checked little-endian reads over the header bytes."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def fail(self, why: str) -> ConfigFileError:
        return ConfigFileError(str(self.path), f"not a readable GGUF file: {why}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail("truncated header (or a length larger than the file)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        raw = self.take(self.scalar("<Q"))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("a string is not UTF-8") from None

    def value(self, kind: int, depth: int = 0) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == 8:
            return self.string()
        if kind == 9 and depth == 0:
            item, count = self.scalar("<I"), self.scalar("<Q")
            if count > len(self.data) - self.pos:  # every item takes at least one byte
                raise self.fail("an array is longer than the file")
            if item == 8:  # long string arrays (the vocabulary): only their length matters here
                for _ in range(count):
                    self.take(self.scalar("<Q"))
                return count
            return [self.value(item, depth + 1) for _ in range(count)]
        raise self.fail(f"unknown metadata value type {kind}")


def read_gguf(path: Path) -> tuple[dict[str, Any], list[Tensor], dict[int, str]]:
    """Metadata, tensor infos (as Tensors named by GGUF) and each tensor's ggml type (by index)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_HEADER_BYTES)
    except OSError as e:
        raise ConfigFileError(str(path), e.strerror or str(e)) from None
    r = _Reader(data, path)
    if r.take(4) != b"GGUF":
        raise r.fail("bad magic (expected GGUF)")
    version = r.scalar("<I")
    if version not in (2, 3):
        raise r.fail(f"unsupported GGUF version {version}")
    n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
    if n_tensors > len(data) or n_kv > len(data):
        raise r.fail("counts larger than the file")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.scalar("<I"))
    tensors: list[Tensor] = []
    types: dict[int, str] = {}
    for i in range(n_tensors):
        name, n_dims = r.string(), r.scalar("<I")
        if not 1 <= n_dims <= 4:
            raise r.fail(f"tensor {name!r} has {n_dims} dimensions")
        dims = [r.scalar("<Q") for _ in range(n_dims)]
        type_id = r.scalar("<I")
        r.scalar("<Q")  # data offset: not needed for sizes
        if type_id not in GGML_TYPE_NAMES or GGML_TYPE_NAMES[type_id] not in GGML_TYPES:
            raise r.fail(f"tensor {name!r} has unknown ggml type {type_id}")
        # GGUF lists ne0 (the row) first; Tensor shapes put the row last.
        tensors.append(Tensor(name, tuple(reversed(dims)), "other"))
        types[i] = GGML_TYPE_NAMES[type_id]
    return meta, tensors, types


def gguf_checkpoint(tensors: list[Tensor], types: dict[int, str]) -> Checkpoint:
    """Exact stored bytes and elements per ggml type."""
    params: dict[str, int] = {}
    stored: dict[str, int] = {}
    sizes: list[int] = []
    for i, t in enumerate(tensors):
        kind = types[i]
        size = ggml_bytes(kind, t)
        params[kind] = params.get(kind, 0) + prod(t.shape)
        stored[kind] = stored.get(kind, 0) + size
        sizes.append(size)
    return Checkpoint(
        source="gguf", files=1, parameters_by_dtype=params, bytes_by_dtype=stored, tensor_bytes=tuple(sizes)
    )


ABSENT = "(absent from GGUF metadata)"
"""How gguf_config marks a metadata key it looked for and did not find."""


def config_from_gguf(meta: dict[str, Any], tensors: list[Tensor]) -> dict[str, Any]:
    """A transformers-style config dict from GGUF metadata (llama.cpp's ``{arch}.*`` keys)."""
    return gguf_config(meta, tensors)[0]


def gguf_config(meta: dict[str, Any], tensors: list[Tensor]) -> tuple[dict[str, Any], dict[str, str]]:
    """The config dict, and for each of its keys where in the file the value was read.

    A source is a metadata key (``llama.embedding_length (GGUF metadata)``), a tensor
    (``token_embd.weight rows (GGUF tensors)``) or, for the compute dtype the format does not
    store, ``assumed float16 (not stored in GGUF)``. A key looked for and not found is listed as
    ``llama.attention.key_length (absent from GGUF metadata)`` and left out of the config, so the
    mapping's default applies; ``vram inspect`` shows both.
    """
    arch = str(meta.get("general.architecture", ""))
    if not arch:
        raise ConfigFileError("gguf", "GGUF metadata has no general.architecture")
    config: dict[str, Any] = {"model_type": ARCHITECTURES.get(arch, f"gguf-{arch}")}
    sources: dict[str, str] = {"model_type": "general.architecture (GGUF metadata)"}

    def put(key: str, value: Any, source: str) -> None:
        if value is not None and key not in config:
            config[key] = value
            sources[key] = source

    def meta_key(key: str, field: str) -> None:
        value = meta.get(f"{arch}.{field}")
        put(key, value[0] if isinstance(value, list) else value, f"{arch}.{field} (GGUF metadata)")
        sources.setdefault(key, f"{arch}.{field} {ABSENT}")

    meta_key("hidden_size", "embedding_length")
    meta_key("num_hidden_layers", "block_count")
    meta_key("num_attention_heads", "attention.head_count")
    meta_key("num_key_value_heads", "attention.head_count_kv")
    meta_key("head_dim", "attention.key_length")
    meta_key("intermediate_size", "feed_forward_length")
    meta_key("vocab_size", "vocab_size")
    put("vocab_size", meta.get("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens length (GGUF metadata)")
    embedding = next((t.shape[0] for t in tensors if t.name == "token_embd.weight"), None)
    put("vocab_size", embedding, "token_embd.weight rows (GGUF tensors)")
    meta_key("max_position_embeddings", "context_length")
    tied = not any(t.name == "output.weight" for t in tensors)
    put("tie_word_embeddings", tied, f"{'no' if tied else 'an'} output.weight tensor (GGUF tensors)")
    put("torch_dtype", "float16", "assumed float16 (not stored in GGUF)")
    if meta.get(f"{arch}.expert_count"):
        meta_key("num_experts", "expert_count")
        meta_key("num_local_experts", "expert_count")
        meta_key("num_experts_per_tok", "expert_used_count")
        meta_key("moe_intermediate_size", "expert_feed_forward_length")
    if meta.get(f"{arch}.attention.sliding_window"):
        meta_key("sliding_window", "attention.sliding_window")
    return config, sources


def file_type(meta: dict[str, Any]) -> str | None:
    """The file's llama.cpp file type name (general.file_type), when it is one we price."""
    ftype = meta.get("general.file_type")
    return FILE_TYPES.get(ftype) if isinstance(ftype, int) else None
