"""Which ggml type llama.cpp gives each tensor of a GGUF file type, and its bytes.

A GGUF "Q4_K_M" file is a mixture: llama-quantize picks a type per tensor
(llama.cpp ``src/llama-quant.cpp``, ``llama_tensor_get_type``): 1-D tensors and routers stay F32,
the output matrix gets Q6_K, ``attn_v`` and ``ffn_down`` get more bits on the layers
``use_more_bits`` selects, and a row length the block size does not divide falls back to a
type whose block does (``tensor_type_fallback``). Block sizes are ggml's (``ggml-common.h``).
"""

from __future__ import annotations

from vram.core.dtypes import GGML_TYPES, Format, ggml_bytes
from vram.core.params import Tensor
from vram.core.spec import ModelSpec

_K_QUANTS = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"}


def use_more_bits(i: int, n: int) -> bool:
    """llama-quant.cpp ``use_more_bits``: first and last eighth of the layers, and every third between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _fallback(kind: str, row: int) -> str:
    """llama-quant.cpp ``tensor_type_fallback``: a type whose block divides the row length."""
    blk, _ = GGML_TYPES[kind]
    if row % blk == 0:
        return kind
    if kind in ("Q2_K", "Q3_K", "IQ4_XS", "IQ4_NL"):
        kind = "IQ4_NL"
    elif kind in ("Q4_K",):
        kind = "Q5_0"
    elif kind in ("Q5_K",):
        kind = "Q5_1"
    elif kind in ("Q6_K",):
        kind = "Q8_0"
    blk, _ = GGML_TYPES[kind]
    return kind if row % blk == 0 else "F16"


def _override(ftype: str, spec: ModelSpec, t: Tensor) -> str | None:
    """The type llama-quantize chooses instead of the file's base type, or None to keep it."""
    n = spec.num_layers
    i = t.layer if t.layer is not None else 0
    experts = spec.moe.num_experts if spec.moe is not None else 0
    gqa = spec.num_heads // spec.num_kv_heads
    name = t.name
    if name in ("attn_v", "attn_kv_b"):
        if experts == 8 and ftype in ("Q2_K", "Q3_K_M", "Q3_K_L", "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q5_K_S"):
            return "Q8_0"
        return {
            "Q2_K": "Q4_K" if gqa >= 4 else "Q3_K",
            "Q3_K_M": "Q5_K" if i < 2 else "Q4_K",
            "Q3_K_L": "Q5_K",
            "Q4_K_M": "Q6_K" if use_more_bits(i, n) else None,
            "Q5_K_M": "Q6_K" if use_more_bits(i, n) else None,
            "Q4_K_S": "Q5_K" if i < 4 else None,
        }.get(ftype)
    if name == "attn_k" and experts == 8 and ftype in ("Q2_K", "Q3_K_M", "Q3_K_L", "Q4_K_M", "Q4_K_S", "Q5_K_M"):
        return "Q8_0"
    if name.startswith("ffn_down"):
        return {
            "Q2_K": "Q3_K",
            "Q3_K_M": "Q5_K" if i < n // 16 else ("Q4_K" if use_more_bits(i, n) else None),
            "Q3_K_L": "Q5_K",
            "Q4_K_M": "Q6_K" if use_more_bits(i, n) else None,
            "Q5_K_M": "Q6_K" if use_more_bits(i, n) else None,
            "Q4_K_S": "Q5_K" if i < n // 8 else None,
        }.get(ftype)
    if name == "attn_output" and experts == 8:
        return {"Q2_K": "Q3_K", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K"}.get(ftype)
    if name == "attn_qkv":
        return {"Q3_K_M": "Q4_K", "Q3_K_L": "Q4_K", "Q4_K_M": "Q5_K", "Q5_K_M": "Q6_K"}.get(ftype)
    return None


def tensor_type(fmt: Format, spec: ModelSpec, t: Tensor) -> str:
    """The ggml type of tensor ``t`` in a GGUF file of type ``fmt``."""
    base = fmt.gguf_type or "F16"
    if len(t.shape) == 1 or t.role in ("norm", "bias", "sinks", "router", "position"):
        return "F32"
    if base in ("F16", "BF16"):
        return base
    if fmt.name == "MXFP4_MOE":
        return "MXFP4" if t.role == "expert" else _fallback("Q8_0", t.shape[-1])
    output = t.role == "lm_head" or (t.role == "embedding" and spec.tie_word_embeddings)
    if output:
        if spec.model_type == "falcon" or t.shape[-1] % 256:
            return _fallback("Q8_0", t.shape[-1])
        return "Q6_K" if base != "Q8_0" else "Q8_0"
    if t.role in ("vision", "projector"):
        return "F16"  # the vision tower ships in a separate mmproj GGUF, usually F16
    kind = _override(fmt.name, spec, t) or base
    return _fallback(kind, t.shape[-1])


def tensor_bytes(kind: str, t: Tensor) -> int:
    """Bytes of ``t`` stored as ggml type ``kind``."""
    return ggml_bytes(kind, t)
