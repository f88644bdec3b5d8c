"""Which ggml type llama-quantize gives each tensor of a GGUF file type, and its bytes.

A "Q4_K_M" file is a mixture. The rules below are llama.cpp's ``src/llama-quant.cpp`` (commit
007dbbf3, ``llama_tensor_get_type_impl`` and ``tensor_type_fallback``), applied as
``llama-quantize`` does without ``--pure`` or per-tensor overrides:

1. Tensors that are never quantized keep what ``convert_hf_to_gguf.py`` wrote: F32 for 1-D
   tensors, norms, biases, the MoE router (``ffn_gate_inp``) and position embeddings.
2. The output matrix (and the token embedding when the head is tied to it) gets Q8_0 for
   Falcon, MXFP4_MOE, or a row length the base block does not divide; Q5_K for the IQ1, IQ2
   and IQ3_XXS file types; Q6_K otherwise (Q8_0 files keep Q8_0). An untied token embedding
   gets Q2_K (IQ1_*, IQ2_XXS, IQ2_XS) or IQ3_S (IQ2_S, IQ2_M, IQ3_XXS).
3. ``attn_v`` / ``attn_qkv``, ``attn_k``, ``attn_q``, ``attn_output``, ``ffn_down*`` and, for
   IQ3_XS, ``ffn_gate*`` / ``ffn_up*`` get the per-file-type upgrades of the decision table
   (``use_more_bits`` layers, GQA >= 4, 4 or 8 experts, 70B, Falcon).
4. A type whose block does not divide the row length falls back (``tensor_type_fallback``):
   IQ1/IQ2/IQ3/IQ4_XS -> IQ4_NL, Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0,
   and F16 when the fallback does not fit either.

Some rules depend on an importance matrix. The file types whose tensors llama-quantize refuses
to write without one (``tensor_requires_imatrix``: IQ1_*, IQ2_*, IQ3_XXS, IQ3_XS) are
priced as made with one; the others as made without one, llama-quantize's default.

tests/core/test_gguf.py checks these rules against llama.cpp's published Llama-3-8B sizes
(``tools/quantize/quantize.cpp`` and the ``tools/perplexity/README.md`` scoreboard, two decimals
of GiB): all 27 file types there within 0.015 GiB, 12 within the 0.005 of rounding, ours lower by
up to 0.013 GiB, as for the uniform Q8_0 and F16 files that no mixture rule touches. It also checks
them against llama-bench sizes of gpt-oss (MXFP4_MOE) and DeepSeek-R1 (Q4_K_M) within 0.006 GiB
and against Llama-2-70B and Llama-3.1-70B files (the 70B rule).
"""

from __future__ import annotations

from vram.core.dtypes import GGML_TYPES, Format, ggml_bytes
from vram.core.params import Tensor
from vram.core.spec import ModelSpec

_NEVER_QUANTIZED = frozenset({"norm", "bias", "sinks", "router", "position"})
_FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
_FALLBACK.update(
    dict.fromkeys(("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ4_XS"), "IQ4_NL")
)

LOW_BIT = frozenset({"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M"})
"""File types with their own branch of ``llama_tensor_get_type_impl`` (the first IQ branch)."""

NEEDS_IMATRIX = LOW_BIT | {"IQ3_XXS", "IQ3_XS"}
"""File types that give some tensor a type ``tensor_requires_imatrix`` refuses without one."""

_ATTN_V = frozenset({"attn_v", "attn_qkv", "attn_kv_b"})  # category_is_attn_v


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


def _experts(spec: ModelSpec) -> int:
    return spec.moe.num_experts if spec.moe is not None else 0


def _ffn_down_index(spec: ModelSpec, t: Tensor) -> int:
    """llama-quantize's ``i_ffn_down`` for ``t``: ffn_down tensors before it, ordered by layer then name.

    ``llama_model_loader`` sorts tensors by layer and name, so a MoE layer with a shared expert
    counts twice (``ffn_down_exps`` before ``ffn_down_shexp``).
    """
    moe, i = spec.moe, t.layer or 0

    def per_layer(j: int) -> int:
        if moe is None or not moe.moe_layers[j]:
            return 1
        return 2 if moe.shared_intermediate_size else 1

    return sum(per_layer(j) for j in range(i)) + (t.name == "ffn_down_shexp" and per_layer(i) == 2)


def _low_bit(ftype: str, base: str, spec: ModelSpec, t: Tensor) -> str:
    """The IQ1/IQ2 branch: attn_v Q4_K (or Q2_K/IQ3_S), the first eighth of ffn_down Q2_K/IQ3_S, ..."""
    experts, s_or_m = _experts(spec), ftype in ("IQ2_S", "IQ2_M")
    if t.name in _ATTN_V:
        if spec.num_heads // spec.num_kv_heads >= 4 or experts >= 4:
            return "Q4_K"
        return "IQ3_S" if s_or_m else "Q2_K"
    if t.name == "attn_k" and experts == 8:
        return "Q4_K"
    if t.name.startswith("ffn_down"):
        if _ffn_down_index(spec, t) < spec.num_layers // 8:
            return "IQ3_S" if s_or_m else "Q2_K"
        return base
    if t.name == "attn_output":
        if experts == 8:
            return "Q5_K"
        if ftype in ("IQ1_S", "IQ1_M"):
            return "IQ2_XXS"
        return "IQ3_S" if s_or_m else base
    return base


def _attn_v(ftype: str, base: str, spec: ModelSpec, i: int, imatrix: bool) -> str:
    n, gqa4 = spec.num_layers, spec.num_heads // spec.num_kv_heads >= 4
    kind = {
        "Q2_K": "Q4_K" if gqa4 else "Q3_K",
        "IQ3_XXS": "Q4_K" if gqa4 else ("IQ3_XXS" if imatrix else "IQ3_S"),
        "IQ3_XS": "Q4_K" if gqa4 else base,
        "IQ3_S": "Q4_K" if gqa4 else base,
        "IQ3_M": "Q4_K",
        "Q3_K_M": "Q5_K" if i < 2 else "Q4_K",
        "Q3_K_L": "Q5_K",
        "IQ4_NL": "Q5_K" if gqa4 else base,
        "IQ4_XS": "Q5_K" if gqa4 else base,
        "Q4_K_M": "Q6_K" if use_more_bits(i, n) else base,
        "Q5_K_M": "Q6_K" if use_more_bits(i, n) else base,
        "Q4_K_S": "Q5_K" if i < 4 else base,
    }.get(ftype, base)
    if _is_70b(spec) and kind in ("Q3_K", "Q4_K"):
        kind = "Q5_K"
    return "Q8_0" if _experts(spec) == 8 else kind


def _ffn_down(ftype: str, base: str, spec: ModelSpec, i: int, imatrix: bool) -> str:
    n, first = spec.num_layers, i < spec.num_layers // 8
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
        "Q2_K": "Q3_K",
        "IQ3_XXS": base if imatrix else ("Q4_K" if first else "Q3_K"),
        "Q3_K_M": "Q5_K" if i < n // 16 else "Q4_K",
        "IQ3_M": "Q4_K" if first or (_experts(spec) == 8 and use_more_bits(i, n)) else base,
        "Q3_K_L": "Q5_K",
        "Q4_K_M": "Q6_K" if use_more_bits(i, n) else base,
        "IQ4_NL": "Q5_K" if first and not imatrix else base,
        "IQ4_XS": "Q5_K" if first and not imatrix else base,
        "Q5_K_M": "Q6_K" if use_more_bits(i, n) else base,
        "Q4_K_S": "Q5_K" if first else base,
        "Q4_0": "Q4_1" if first and imatrix else base,
        "Q5_0": "Q5_1" if first and imatrix else base,
    }.get(ftype, base)


_ATTN_OUTPUT_8_EXPERTS = frozenset(
    {"Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M", "IQ3_S", "IQ3_M", "IQ4_XS"}
)


def _attn_output(ftype: str, base: str, spec: ModelSpec) -> str:
    if spec.gguf_arch == "falcon":
        return "Q4_K" if ftype == "Q3_K_L" else base
    if _experts(spec) == 8:
        return "Q5_K" if ftype in _ATTN_OUTPUT_8_EXPERTS else base
    return {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K", "IQ3_M": "Q4_K"}.get(ftype, base)


def _mixture(ftype: str, base: str, spec: ModelSpec, t: Tensor, imatrix: bool) -> str:
    """The type before the shape fallback, for a quantizable tensor that is not the output."""
    if t.role == "embedding":  # untied token embedding
        if ftype in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
            return "Q2_K"
        return "IQ3_S" if ftype in ("IQ2_S", "IQ2_M", "IQ3_XXS") else base
    if ftype in LOW_BIT:
        return _low_bit(ftype, base, spec, t)
    i = t.layer or 0
    if t.name in _ATTN_V:
        return _attn_v(ftype, base, spec, i, imatrix)
    if t.name in ("attn_k", "attn_q"):
        if t.name == "attn_k" and _experts(spec) == 8:
            return "Q8_0"
        return {"IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ2_S"}.get(ftype, base)
    if t.name.startswith("ffn_down"):
        return _ffn_down(ftype, base, spec, i, imatrix)
    if t.name == "attn_output":
        return _attn_output(ftype, base, spec)
    if ftype == "IQ3_XS" and t.name.startswith(("ffn_gate", "ffn_up")):
        n = spec.num_layers
        return "IQ3_XXS" if n // 8 <= i < 7 * n // 8 else base
    return base


def _is_output(spec: ModelSpec, t: Tensor) -> bool:
    return t.role == "lm_head" or (t.role == "embedding" and spec.tie_word_embeddings)


def _output(ftype: str, base: str, spec: ModelSpec, row: int) -> str:
    """The output matrix (or the token embedding tied to it), before the shape fallback."""
    if ftype == "MXFP4_MOE":
        return "Q8_0"
    if spec.gguf_arch == "falcon" or not _fits(base, row):
        return "Q8_0"
    if ftype in LOW_BIT or ftype == "IQ3_XXS":
        return "Q5_K"
    return "Q6_K" if base != "Q8_0" else "Q8_0"


def tensor_type(fmt: Format, spec: ModelSpec, t: Tensor, *, imatrix: bool | None = None) -> str:
    """The ggml type of tensor ``t`` in a GGUF file of type ``fmt``.

    ``imatrix``: whether llama-quantize had an importance matrix (default: only for the file
    types that need one, ``NEEDS_IMATRIX``).
    """
    base = fmt.gguf_type or "F16"
    if len(t.shape) == 1 or t.role in _NEVER_QUANTIZED:
        return "F32"
    if t.role in ("vision", "projector"):
        return "F16"  # separate mmproj GGUF: convert_hf_to_gguf.py --mmproj writes 16-bit (f16 or bf16)
    if base in ("F16", "BF16"):
        return base
    row = t.shape[-1]
    if _is_output(spec, t):
        return fallback(_output(fmt.name, base, spec, row), row)
    if fmt.name == "MXFP4_MOE":  # MoE tensors (3-D) MXFP4, everything else Q8_0
        return "MXFP4" if len(t.shape) == 3 else "Q8_0"
    with_imatrix = fmt.name in NEEDS_IMATRIX if imatrix is None else imatrix
    return fallback(_mixture(fmt.name, base, spec, t, with_imatrix), row)


def _mla_split(spec: ModelSpec, t: Tensor) -> list[Tensor]:
    """convert_hf_to_gguf.py splits DeepSeek's kv_b into attn_k_b (row: nope dim) and attn_v_b (row: latent)."""
    assert spec.mla is not None
    m, a = spec.mla, spec.num_heads
    return [
        Tensor("attn_k_b", (a, m.kv_lora_rank, m.qk_nope_head_dim), "attention", t.layer),
        Tensor("attn_v_b", (a, m.v_head_dim, m.kv_lora_rank), "attention", t.layer),
    ]


def tensor_bytes(fmt: Format, spec: ModelSpec, t: Tensor, *, imatrix: bool | None = None) -> list[tuple[str, int]]:
    """(ggml type, bytes) of each tensor llama.cpp stores for ``t`` (MLA's kv_b becomes two)."""
    parts = [t]
    if t.name == "attn_kv_b" and spec.mla is not None:
        parts = _mla_split(spec, t)
    out = []
    for p in parts:
        kind = tensor_type(fmt, spec, p, imatrix=imatrix)
        out.append((kind, ggml_bytes(kind, p)))
    return out
