"""Which ggml type llama-quantize gives each tensor of a GGUF file type, and its bytes.

A "Q4_K_M" file is a mixture. The rules below are llama.cpp's ``src/llama-quant.cpp`` (commit
007dbbf3, the type-selection code after its 2026 refactor), applied as ``llama-quantize`` does
without an importance matrix and without ``--pure`` or per-tensor overrides:

1. Tensors that are never quantized keep what ``convert_hf_to_gguf.py`` wrote: F32 for 1-D
   tensors, norms, biases, the MoE router (``ffn_gate_inp``) and position embeddings.
2. The output matrix (and the token embedding when the head is tied to it) gets Q8_0 for
   Falcon, MXFP4_MOE, or a row length the base block does not divide; Q6_K otherwise (Q8_0 files
   keep Q8_0).
3. ``attn_v`` / ``attn_qkv``, ``attn_k``, ``attn_output`` and ``ffn_down*`` get the per-ftype
   upgrades of the decision table (``use_more_bits`` layers, GQA >= 4, 8 experts, 70B, Falcon).
4. A type whose block does not divide the row length falls back (``tensor_type_fallback``):
   IQ4_XS -> IQ4_NL, Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, else F16.

Checked against llama.cpp's published Llama-3-8B sizes (``tools/quantize/quantize.cpp``), which
these rules reproduce within 0.01 GiB for every K-quant (tests/core/test_gguf.py).
"""

from __future__ import annotations

from vram.core.dtypes import GGML_TYPES, Format, ggml_bytes
from vram.core.params import Tensor
from vram.core.spec import ModelSpec

_NEVER_QUANTIZED = frozenset({"norm", "bias", "sinks", "router", "position"})
_FALLBACK = {"IQ4_XS": "IQ4_NL", "Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}


def use_more_bits(i: int, n: int) -> bool:
    """llama-quant.cpp ``use_more_bits``: first and last eighth of the layers, and every third between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _fits(kind: str, row: int) -> bool:
    return row % GGML_TYPES[kind][0] == 0


def fallback(kind: str, row: int) -> str:
    """``tensor_type_fallback``: a type whose block divides the row length (F16 when none does)."""
    if _fits(kind, row):
        return kind
    kind = _FALLBACK.get(kind, "F16")
    return kind if _fits(kind, row) else "F16"


def _is_70b(spec: ModelSpec) -> bool:
    """llama.cpp's LLM_TYPE_70B: Llama with 80 layers and GQA, or Qwen2 with 80 layers."""
    if spec.num_layers != 80:
        return False
    return spec.gguf_arch == "qwen2" or (spec.gguf_arch == "llama" and spec.num_heads != spec.num_kv_heads)


def _attn_v(ftype: str, base: str, spec: ModelSpec, i: int) -> str:
    n, gqa = spec.num_layers, spec.num_heads // spec.num_kv_heads
    kind = {
        "Q5_K_M": "Q6_K" if use_more_bits(i, n) else "Q5_K",
        "Q4_K_M": "Q6_K" if use_more_bits(i, n) else "Q4_K",
        "Q4_K_S": "Q5_K" if i < 4 else "Q4_K",
        "Q3_K_M": "Q5_K" if i < 2 else "Q4_K",
        "Q3_K_L": "Q5_K",
        "Q2_K": "Q4_K" if gqa >= 4 else "Q3_K",
        "IQ4_XS": "Q5_K" if gqa >= 4 else "IQ4_XS",
    }.get(ftype, base)
    if _is_70b(spec) and kind in ("Q3_K", "Q4_K"):
        kind = "Q5_K"
    return kind


def _ffn_down(ftype: str, base: str, spec: ModelSpec, i: int) -> str:
    n = spec.num_layers
    if spec.gguf_arch == "falcon":
        falcon = {
            "Q4_K_M": "Q6_K" if i < n // 16 else ("Q5_K" if use_more_bits(i, n) else "Q4_K"),
            "Q4_K_S": "Q4_K",
            "Q3_K_M": "Q5_K" if i < n // 16 else ("Q4_K" if use_more_bits(i, n) else "Q3_K"),
            "Q3_K_L": "Q4_K",
        }
        if ftype in falcon:
            return falcon[ftype]
    return {
        "Q5_K_M": "Q6_K" if use_more_bits(i, n) else "Q5_K",
        "Q4_K_M": "Q6_K" if use_more_bits(i, n) else "Q4_K",
        "Q4_K_S": "Q5_K" if i < n // 8 else "Q4_K",
        "Q3_K_M": "Q5_K" if i < n // 16 else "Q4_K",
        "Q3_K_L": "Q5_K",
        "Q2_K": "Q3_K",
        "IQ4_XS": "Q5_K" if i < n // 8 else "IQ4_XS",
    }.get(ftype, base)


def _attn_output(ftype: str, base: str, spec: ModelSpec) -> str:
    experts = spec.moe.num_experts if spec.moe is not None else 0
    if spec.gguf_arch == "falcon":
        return "Q4_K" if ftype == "Q3_K_L" else base
    if experts == 8:
        return {"Q4_K_M": "Q5_K", "Q4_K_S": "Q5_K", "Q3_K_M": "Q5_K", "Q2_K": "Q5_K", "IQ4_XS": "Q5_K"}.get(ftype, base)
    return {"Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K", "Q2_K": "Q3_K"}.get(ftype, base)


def _mixture(ftype: str, base: str, spec: ModelSpec, t: Tensor) -> str:
    """The type before the shape fallback, for a quantizable tensor that is not the output."""
    i = t.layer or 0
    eight_experts = spec.moe is not None and spec.moe.num_experts == 8
    if t.name in ("attn_v", "attn_qkv"):
        return "Q8_0" if eight_experts else _attn_v(ftype, base, spec, i)
    if t.name == "attn_k":
        return "Q8_0" if eight_experts else base
    if t.name == "attn_output":
        return _attn_output(ftype, base, spec)
    if t.name.startswith("ffn_down"):
        return _ffn_down(ftype, base, spec, i)
    return base


def _is_output(spec: ModelSpec, t: Tensor) -> bool:
    return t.role == "lm_head" or (t.role == "embedding" and spec.tie_word_embeddings)


def tensor_type(fmt: Format, spec: ModelSpec, t: Tensor) -> str:
    """The ggml type of tensor ``t`` in a GGUF file of type ``fmt``."""
    base = fmt.gguf_type or "F16"
    if len(t.shape) == 1 or t.role in _NEVER_QUANTIZED:
        return "F32"
    if t.role in ("vision", "projector"):
        return "F16"  # the vision tower ships in a separate mmproj GGUF, converted to F16
    if base in ("F16", "BF16"):
        return base
    row = t.shape[-1]
    if fmt.name == "MXFP4_MOE":
        return "MXFP4" if len(t.shape) == 3 else "Q8_0"
    if _is_output(spec, t):
        if spec.gguf_arch == "falcon" or not _fits(base, row):
            return fallback("Q8_0", row)
        return fallback("Q6_K" if base != "Q8_0" else "Q8_0", row)
    return fallback(_mixture(fmt.name, base, spec, t), row)


def _mla_split(spec: ModelSpec, t: Tensor) -> list[Tensor]:
    """convert_hf_to_gguf.py splits DeepSeek's kv_b into attn_k_b (row: nope dim) and attn_v_b (row: latent)."""
    assert spec.mla is not None
    m, a = spec.mla, spec.num_heads
    return [
        Tensor("attn_k_b", (a, m.kv_lora_rank, m.qk_nope_head_dim), "attention", t.layer),
        Tensor("attn_v_b", (a, m.v_head_dim, m.kv_lora_rank), "attention", t.layer),
    ]


def tensor_bytes(fmt: Format, spec: ModelSpec, t: Tensor) -> list[tuple[str, int]]:
    """(ggml type, bytes) of each tensor llama.cpp stores for ``t`` (MLA's kv_b becomes two)."""
    parts = [t]
    if t.name == "attn_kv_b" and spec.mla is not None:
        parts = _mla_split(spec, t)
    out = []
    for p in parts:
        kind = tensor_type(fmt, spec, p)
        out.append((kind, ggml_bytes(kind, p)))
    return out
