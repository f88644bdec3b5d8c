"""Inference memory: weights, KV cache, activation peak of a prefill, runtime overhead.

``estimate_inference(spec, settings)`` is pure: a spec and settings in, an Estimate out.
Weights and KV cache are exact for the layout named in each component's note; the activation
peak and the overhead are sourced approximations (see ``vram.core.overhead`` and the notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vram.core import gguf
from vram.core.checkpoint import Checkpoint
from vram.core.dtypes import FLOAT_BYTES, Format, float_name, get_format, quantized_parts, quantized_roles
from vram.core.errors import SettingsError
from vram.core.overhead import CUDA_CONTEXT_BYTES, allocator_bytes
from vram.core.params import Tensor, count_parameters, tensors
from vram.core.result import Component, Estimate
from vram.core.spec import ModelSpec
from vram.core.units import MiB

DEFAULT_CONTEXT = 4096
"""Default context when none is given, capped by the model's maximum: llama.cpp's long-standing
default ``n_ctx = 4096`` (common/common.h), kept today as the floor its memory fitting will not
shrink the context below (``fit_params_min_ctx = 4096``, ggml-org/llama.cpp common/common.h @001d906a).
A model's full trained context is often 32k-1M tokens, which would make the default answer
describe a workload few users run."""

KV_DTYPES: dict[str, tuple[int, int]] = {
    # name: (elements per block, bytes per block)
    "fp64": (1, 8),
    "fp32": (1, 4),
    "fp16": (1, 2),
    "bf16": (1, 2),
    "fp8": (1, 1),  # vLLM --kv-cache-dtype fp8 (e4m3 / e5m2): one byte per element
    "q8_0": (32, 34),  # llama.cpp --cache-type-k/v q8_0: ggml block_q8_0
    "q4_0": (32, 18),  # llama.cpp --cache-type-k/v q4_0: ggml block_q4_0
}
"""KV cache element formats; the ggml ones are blocked along each head row (ggml-common.h)."""

LogitsMode = Literal["last", "all"]
MlaCache = Literal["latent", "expanded"]
Runtime = Literal["transformers", "vllm", "llama.cpp"]
"""The runtime whose allocations an estimate models (``vram estimate --runtime``)."""


class VllmSettings(BaseModel):
    """vLLM's engine arguments that change its memory (``vllm serve`` flags of the same names).

    None means vLLM's own default, which depends on the GPU and the model (``vram.core.runtimes.vllm``).
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)  # vllm/config/cache.py CacheConfig default
    max_model_len: int | None = Field(default=None, ge=1)
    max_num_seqs: int | None = Field(default=None, ge=1)
    max_num_batched_tokens: int | None = Field(default=None, ge=1)
    block_size: int = Field(default=16, ge=1)  # vllm/config/cache.py CacheConfig.block_size default on CUDA
    enforce_eager: bool = False
    flashinfer_sampler: bool = False  # VLLM_USE_FLASHINFER_SAMPLER=1 (vllm/v1/sample/ops/topk_topp_sampler.py)


class LlamaCppSettings(BaseModel):
    """llama.cpp's context options that change its memory (``llama-server`` flags of the same names).

    Defaults are llama.cpp's (common/common.h); ``vram.core.runtimes.llamacpp`` cites each rule.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    n_gpu_layers: int = Field(default=-1, description="layer slots on the GPU; -1 or more than there are: all")
    ubatch_size: int = Field(default=512, ge=1)
    batch_size: int = Field(default=2048, ge=1)
    cache_type_k: str | None = Field(default=None, description="None: --kv-dtype, else f16")
    cache_type_v: str | None = Field(default=None, description="None: --kv-dtype, else f16")
    parallel: int = Field(default=1, ge=1, description="sequences sharing the context (n_seq_max)")
    flash_attn: bool = True
    kv_unified: bool = False
    swa_full: bool = False
    embeddings: bool = False
    output_layer_first: bool = Field(
        default=True, description="False: builds before llama.cpp PR #18148 (2025-12-17), -ngl counts repeating layers"
    )


class InferenceSettings(BaseModel):
    """What the user asked for; None means "the model's default"."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    dtype: str | None = None
    kv_dtype: str | None = None
    batch: int = Field(default=1, ge=1)
    seq_len: int | None = Field(default=None, ge=1)
    logits: LogitsMode = "last"
    mla_cache: MlaCache = "latent"
    cuda_context_bytes: int = Field(default=CUDA_CONTEXT_BYTES, ge=0)
    runtime: Runtime = "transformers"
    tp: int = Field(default=1, ge=1, description="tensor-parallel size: GPUs each layer is split over")
    pp: int = Field(default=1, ge=1, description="pipeline-parallel size: stages the layers are split into")
    vllm: VllmSettings = Field(default_factory=VllmSettings)
    llamacpp: LlamaCppSettings = Field(default_factory=LlamaCppSettings)


class ResolvedSettings(BaseModel):
    """The settings an estimate was computed with, defaults filled in."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    dtype: str
    kv_dtype: str
    batch: int
    seq_len: int
    logits: LogitsMode
    mla_cache: MlaCache


class WeightsEstimate(Estimate):
    """An estimate for weights in one format, with the facts it was computed from."""

    parameters: int
    format: Format
    compute_dtype: str = Field(description="dtype of unconverted tensors, activations and the KV cache")


RuntimeFact = int | float | str | bool


class InferenceEstimate(WeightsEstimate):
    """An inference estimate: weights, KV cache, activations, overhead (per GPU when split)."""

    active_parameters: int
    settings: ResolvedSettings
    runtime: Runtime = "transformers"
    runtime_facts: dict[str, RuntimeFact] = Field(
        default_factory=dict, description="what the runtime itself reports (vLLM: KV tokens, concurrency, ...)"
    )
    tp: int = 1
    pp: int = 1


def default_dtype(spec: ModelSpec) -> str:
    """The checkpoint's own format: its quantization, else its torch_dtype, else fp32 (transformers' default)."""
    return spec.quantization or float_name(spec.torch_dtype) or "fp32"


def compute_dtype(fmt: Format, torch_dtype: str | None) -> str:
    """Dtype of the tensors a format leaves unconverted, and of activations and the KV cache.

    Float formats compute in themselves; quantized ones keep the checkpoint's 16-bit dtype (bf16
    when it names none or fp32); GGUF is llama.cpp's f16.
    """
    if fmt.kind == "float":
        return fmt.name
    own = float_name(torch_dtype)
    if fmt.kind == "gguf":
        return "fp16"  # llama.cpp keeps its KV cache in f16 by default (--cache-type-k f16)
    return own if own in ("fp16", "bf16") else "bf16"


def price_tensor(spec: ModelSpec, fmt: Format, t: Tensor) -> list[tuple[str, int]]:
    """(storage type, bytes) of each tensor ``fmt`` stores for one parameter tensor.

    A quantized weight is several stored tensors (codes, scales, zero points), each its own
    allocation; GGUF splits DeepSeek's kv_b in two.
    """
    if fmt.kind == "gguf":
        return gguf.tensor_bytes(fmt, spec, t)
    if t.role in quantized_roles(fmt, spec.moe is not None):
        return [(fmt.name, b) for b in quantized_parts(fmt, t)]
    kind = compute_dtype(fmt, spec.torch_dtype)
    return [(kind, t.numel * FLOAT_BYTES[kind])]


def weight_bytes(spec: ModelSpec, fmt: Format, ts: list[Tensor]) -> tuple[list[int], dict[str, int]]:
    """Bytes of each stored weight tensor in ``fmt``, and the total per storage type."""
    sizes: list[int] = []
    by_type: dict[str, int] = {}
    for t in ts:
        for kind, b in price_tensor(spec, fmt, t):
            sizes.append(b)
            by_type[kind] = by_type.get(kind, 0) + b
    return sizes, by_type


def context_length(spec: ModelSpec, seq_len: int | None) -> int:
    """The context to size for: the requested length, else DEFAULT_CONTEXT capped by the model's maximum."""
    if seq_len is not None:
        return seq_len
    limit = spec.max_position_embeddings or DEFAULT_CONTEXT
    return min(DEFAULT_CONTEXT, limit)


def kv_elements_per_token(spec: ModelSpec, mla_cache: MlaCache) -> tuple[int, int]:
    """(K elements, V elements) cached per token per attention layer.

    MLA ``latent``: vLLM/SGLang cache the compressed latent plus the rotary key, one row per token
    (vllm/v1/kv_cache_interface.py MLAAttentionSpec); ``expanded``: transformers caches the
    decompressed per-head K and V (modeling_deepseek_v3.py).
    """
    if spec.mla is not None:
        m = spec.mla
        if mla_cache == "latent":
            return m.kv_lora_rank + m.qk_rope_head_dim, 0
        return spec.num_heads * m.qk_head_dim, spec.num_heads * m.v_head_dim
    return spec.kv_width, spec.kv_width


def _row_bytes(elements: int, kv_dtype: str) -> int:
    per, size = KV_DTYPES[kv_dtype]
    return ceil(elements / per) * size


def kv_cache(spec: ModelSpec, kv_dtype: str, batch: int, seq_len: int, mla_cache: MlaCache) -> Component:
    """KV cache for ``batch`` sequences of ``seq_len`` tokens (sliding layers keep at most the window)."""
    k_el, v_el = kv_elements_per_token(spec, mla_cache)
    per_token = _row_bytes(k_el, kv_dtype) + (_row_bytes(v_el, kv_dtype) if v_el else 0)
    window = spec.sliding_window or seq_len
    tokens = sum(min(seq_len, window) if kind == "sliding" else seq_len for kind in spec.layer_types)
    total = per_token * tokens * batch
    n_sliding = spec.layer_types.count("sliding")
    layers = len(spec.layer_types)
    parts = [f"{per_token * layers:,} B/token ({layers} layers x {per_token:,} B, {kv_dtype})"]
    if spec.mla is not None:
        parts.append(
            "MLA latent cache (vLLM/SGLang)" if mla_cache == "latent" else "MLA expanded per-head K/V (transformers)"
        )
    else:
        parts.append(f"{spec.num_kv_heads} KV heads x {spec.head_dim} head_dim")
    if n_sliding:
        parts.append(f"{n_sliding}/{spec.num_layers} layers slide (window {spec.sliding_window})")
    parts.append(f"x {batch} x {seq_len:,} tokens")
    details: dict[str, int | float | str] = {
        "bytes_per_token": per_token * layers,
        "bytes_per_token_per_layer": per_token,
        "cached_token_layers": tokens,
        "dtype": kv_dtype,
    }
    return Component(name="kv_cache", bytes=total, note=", ".join(parts), details=details)


def _attention_width(spec: ModelSpec) -> int:
    """Elements per token live at the widest moment of the attention block, besides its normed input.

    transformers' SDPA path: with rotary positions the peak is while ``apply_rotary_pos_emb``
    rotates q (``q * cos`` and ``rotate_half(q) * sin`` beside q, with k and v waiting), 4 q + 2 kv
    wide; without them (learned positions) it is the fused qkv output beside the SDPA output and
    its contiguous copy, 3 q + 2 kv. MLA, at the SDPA output's copy: the q projection, its rotated
    part and the concatenated query; the latent and its normed part; the kv_b expansion and the key
    assembled from it; the SDPA output and its copy (modeling_deepseek_v3.py
    ``DeepseekV3Attention.forward`` and ``expand_kv``).
    """
    if spec.mla is not None:
        m, n = spec.mla, spec.num_heads
        per_head = 3 * m.qk_head_dim + m.qk_rope_head_dim + m.qk_nope_head_dim + 3 * m.v_head_dim
        return n * per_head + 2 * m.kv_lora_rank + m.qk_rope_head_dim
    q, kv = spec.q_width, spec.kv_width
    return (3 if spec.learned_positions else 4) * q + 2 * kv


def _moe_width(spec: ModelSpec) -> int:
    """Elements per token live at the widest moment of a MoE block, besides its normed input.

    transformers' default ``grouped_mm`` experts path (integrations/moe.py
    ``grouped_mm_experts_forward``) works on top-k rows per token: the gathered inputs, the
    gate_up output, act(gate) and the gated product (h + 4f each), and at the end the down output,
    its weighted copy and the copy put back in token order beside the gathered inputs (4h each).
    The router logits (one per expert) stay bound until the block returns. A shared expert runs
    after the routed ones, beside their output (``DeepseekV3MoE``); Qwen2-MoE runs it first, so
    there its hidden-wide output sits beside the routed step instead, which this leaves out.
    """
    assert spec.moe is not None
    moe, h = spec.moe, spec.hidden_size
    routed = moe.experts_per_token * max(h + 4 * moe.expert_intermediate_size, 4 * h)
    shared = h + 3 * moe.shared_intermediate_size if moe.shared_intermediate_size else 0
    return moe.num_experts + max(routed, shared)


def _position_width(spec: ModelSpec) -> int:
    """Elements per position of the position tensor the model computes once and keeps for every layer.

    Rotary: cos and sin, each as wide as the rotated part of a head (``LlamaRotaryEmbedding``);
    learned positions: the looked-up rows of the position table (``GPT2Model.forward``). Both are
    built for one sequence and broadcast over the batch.
    """
    if spec.learned_positions:
        return spec.hidden_size
    return 2 * (spec.mla.qk_rope_head_dim if spec.mla is not None else spec.head_dim)


def activations(spec: ModelSpec, act_bytes: int, batch: int, seq_len: int, logits: LogitsMode) -> Component:
    """Peak transient memory of one prefill forward pass over ``batch x seq_len`` tokens.

    The live set of transformers' inference forward (``no_grad``, SDPA: no s x s scores), step by
    step. Held throughout the layer loop: the input embeddings and the position tensor, which the
    model's forward keeps bound, and the current layer's input, which the caller keeps while the
    layer runs (``LlamaModel.forward``). On top, the widest step of a layer: attention (its normed
    input and the attention live set), the MLP (the post-attention residual, its normed copy and,
    for a gated MLP, act(gate), up and their product; two intermediate-wide tensors for a plain
    one) or a MoE block. After the layers: the final hidden states beside the logits, for the last
    position (``generate``'s ``logits_to_keep=1``) or every position (``all``), then the logits
    beside generate's fp32 copy of the last position's (generation/utils.py).
    Checked against transformers 5.23 measured on CPU (tests/core/data/activation_peaks.json).
    """
    tokens = batch * seq_len
    h = spec.hidden_size
    held = 2 * h
    widths = {"attention": h + _attention_width(spec)}
    if spec.intermediate_size:
        widths["mlp"] = 2 * h + (3 if spec.mlp_gated else 2) * spec.intermediate_size
    if spec.moe is not None:
        widths["moe"] = 2 * h + _moe_width(spec)
    step, width = max(widths.items(), key=lambda kv: kv[1])
    residual = (tokens * held + seq_len * _position_width(spec)) * act_bytes
    layer_peak = tokens * width * act_bytes
    positions = batch if logits == "last" else tokens
    logits_bytes = positions * spec.vocab_size * act_bytes
    logits_peak = max(tokens * h * act_bytes + logits_bytes, logits_bytes + batch * spec.vocab_size * 4)
    peak = max(residual + layer_peak, logits_peak)
    widest = "logits" if logits_peak > residual + layer_peak else step
    note = (
        f"prefill of {batch} x {seq_len:,} tokens with fused attention; widest step: {widest}; "
        f"logits for {'the last position' if logits == 'last' else 'every position'}"
    )
    details: dict[str, int | float | str] = {
        "layer_peak_bytes": layer_peak,
        "logits_bytes": logits_peak,
        "residual_bytes": residual,
        "widest_step": widest,
    }
    return Component(name="activations", bytes=peak, note=note, details=details)


def _mix(by_type: dict[str, int]) -> str:
    total = sum(by_type.values()) or 1
    return ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(by_type.items(), key=lambda kv: -kv[1]))


def _priced_weights(spec: ModelSpec, fmt: Format, ts: list[Tensor], params: int) -> tuple[Component, list[int]]:
    """Weights priced from the architecture in ``fmt``."""
    sizes, by_type = weight_bytes(spec, fmt, ts)
    total = sum(sizes)
    bits = 8 * total / params
    weights = Component(
        name="weights",
        bytes=total,
        note=f"{params:,} params, {bits:.2f} bits each on average: {_mix(by_type)}",
        details={"bits_per_parameter": round(bits, 4), **{f"bytes_{k}": v for k, v in by_type.items()}},
    )
    return weights, sizes


_STORED = {"safetensors": "safetensors files", "gguf": "GGUF file"}


def _stored_weights(ckpt: Checkpoint, params: int, warnings: list[str]) -> Component:
    """Weights as the checkpoint's files store them (the authority), compared with the config's count."""
    if ckpt.unpacked and ckpt.elements != params:
        warnings.append(
            f"config.json describes {params:,} parameters but the {ckpt.source} files hold {ckpt.elements:,}; "
            "the weights line uses the files (extra or shared tensors, e.g. a tied head stored twice or MTP layers)"
        )
    total = ckpt.total_bytes
    bits = 8 * total / params
    return Component(
        name="weights",
        bytes=total,
        note=f"as stored in the {_STORED[ckpt.source]}, {bits:.2f} bits/param: {_mix(ckpt.bytes_by_dtype)}",
        details={
            "bits_per_parameter": round(bits, 4),
            "source": ckpt.source,
            "stored_elements": ckpt.elements,
            **{f"bytes_{k}": v for k, v in ckpt.bytes_by_dtype.items()},
        },
    )


def estimate_inference(
    spec: ModelSpec, settings: InferenceSettings | None = None, checkpoint: Checkpoint | None = None
) -> InferenceEstimate:
    """Inference memory for one GPU holding the whole model.

    With a ``checkpoint`` (what its files store) and no explicit dtype, the weights are the stored
    bytes; an explicit dtype prices the architecture in that format instead (a what-if).
    """
    s = settings or InferenceSettings()
    fmt = get_format(s.dtype or default_dtype(spec))
    seq_len = context_length(spec, s.seq_len)
    compute = compute_dtype(fmt, spec.torch_dtype)
    kv_dtype = (s.kv_dtype or compute).lower()
    kv_dtype = float_name(kv_dtype) or kv_dtype
    if kv_dtype not in KV_DTYPES:
        msg = f"unknown KV cache dtype {s.kv_dtype!r}; choose one of {', '.join(KV_DTYPES)}"
        raise SettingsError(msg)
    warnings: list[str] = list(spec.approximations)
    if spec.max_position_embeddings and seq_len > spec.max_position_embeddings:
        warnings.append(
            f"--seq-len {seq_len:,} exceeds the model's max_position_embeddings ({spec.max_position_embeddings:,})"
        )

    ts = tensors(spec)
    count = count_parameters(spec, ts)
    weights, sizes = _priced_weights(spec, fmt, ts, count.total)
    if checkpoint is not None and s.dtype is None:
        # The files are the authority; without per-tensor sizes the allocator line keeps the priced ones.
        weights = _stored_weights(checkpoint, count.total, warnings)
        sizes = list(checkpoint.tensor_bytes) or sizes
    if fmt.kind in ("bnb-int8", "bnb-4bit") and spec.moe is not None:
        experts = count.by_role.get("expert", 0)
        warnings.append(
            f"bitsandbytes (transformers 5) converts only nn.Linear layers: the {experts:,} fused expert "
            f"parameters stay in {compute}; a GGUF, GPTQ, AWQ or MXFP4 format quantizes experts"
        )
    if fmt.kind == "gptq":
        warnings.append(
            "GPTQ kernels' scratch buffers are not counted: their size depends on the kernel picked at load "
            "(AutoGPTQ's exllamav2: about 1 GiB for an 8B model)"
        )
    kv = kv_cache(spec, kv_dtype, s.batch, seq_len, s.mla_cache)
    # llama.cpp's graph computes in f32: ggml_mul_mat creates its result as GGML_TYPE_F32
    # (ggml-org/llama.cpp ggml/src/ggml.c @1f08e2d6), so each activation element takes 4 bytes.
    act_bytes = FLOAT_BYTES["fp32"] if fmt.kind == "gguf" else FLOAT_BYTES[compute]
    acts = activations(spec, act_bytes, s.batch, seq_len, s.logits)
    overhead = _overhead(spec, fmt, sizes, s.cuda_context_bytes, kv.bytes)
    facts: dict[str, RuntimeFact] = {}
    if fmt.kind != "gguf":
        from vram.core.runtimes.transformers import load_bytes  # the runtimes package imports this module

        facts["load_bytes"] = load_bytes(spec, sizes)

    return InferenceEstimate(
        components=(weights, kv, acts, overhead),
        warnings=tuple(warnings),
        parameters=count.total,
        active_parameters=count.active,
        format=fmt,
        compute_dtype=compute,
        settings=ResolvedSettings(
            dtype=fmt.name,
            kv_dtype=kv_dtype,
            batch=s.batch,
            seq_len=seq_len,
            logits=s.logits,
            mla_cache=s.mla_cache,
        ),
        runtime_facts=facts,
    )


def _overhead(spec: ModelSpec, fmt: Format, weight_sizes: list[int], context: int, kv_bytes: int) -> Component:
    """CUDA context plus the caching allocator's rounding of the weight and KV allocations."""
    if fmt.kind == "gguf":
        rounding = 0
        how = "no allocator rounding (llama.cpp: one buffer per device)"
    else:
        per_layer_kv = kv_bytes // spec.num_layers
        sizes = weight_sizes + [per_layer_kv] * spec.num_layers
        rounding = allocator_bytes(sizes) - sum(sizes)
        how = f"PyTorch allocator rounding {rounding / MiB:,.0f} MiB (2 MiB pages)"
    return Component(
        name="overhead",
        bytes=context + rounding,
        note=f"CUDA context {context / MiB:.0f} MiB + {how}",
        details={"cuda_context_bytes": context, "allocator_rounding_bytes": rounding},
    )


DEFAULT_COUNT_DTYPE = "fp16"
"""dtype for a bare parameter count: 16 bits, the dtype most of the bundled catalog's config.json files
name (bf16 or fp16; `vram models --json`, field ``dtype``); fp16 and bf16 cost the same bytes."""


def estimate_weights_only(parameters: int, dtype: str | None = None, ignored: Sequence[str] = ()) -> WeightsEstimate:
    """Rule of thumb for a bare parameter count: parameters x bits per weight, nothing else.

    Without an architecture there is no KV cache, activation or per-tensor layout to compute, so
    quantized formats use their nominal bits (a GGUF type's base type, not the file's mixture).
    ``ignored`` names the settings given that only apply with an architecture: each is warned about.
    """
    fmt = get_format(dtype or DEFAULT_COUNT_DTYPE)
    total = ceil(parameters * fmt.nominal_bits / 8)
    note = (
        f"rule of thumb: {parameters:,} params x {fmt.nominal_bits:g} bits ({fmt.name}); "
        "weights only: give a config or catalog model for KV cache, activations and overhead"
    )
    warnings: tuple[str, ...] = ()
    if ignored:
        warnings = (
            f"{', '.join(ignored)} ignored: a bare parameter count has no architecture, so only the weights are "
            "estimated; pass a catalog model, a config.json or a repo id to size the KV cache and activations",
        )
    return WeightsEstimate(
        components=(Component(name="weights", bytes=total, note=note),),
        warnings=warnings,
        parameters=parameters,
        format=fmt,
        compute_dtype=compute_dtype(fmt, None),
    )
