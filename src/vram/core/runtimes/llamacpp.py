"""llama.cpp: what ``llama-server`` / ``llama-cli`` allocate on the GPU and in host memory.

The allocations, each from llama.cpp's own code (ggml-org/llama.cpp; file and commit beside each rule):

- **Weights**, per device, from the GGUF per-tensor types (``vram.core.gguf``). ``--n-gpu-layers``
  places layer slots from the top: the output layer (final norm and head) first, then the last
  repeating layers; the input layer (token and position embeddings) always stays on the CPU, and
  a head tied to the embedding is loaded a second time for the output layer
  (``src/llama-model.cpp`` @a5410f04, ``load_tensors``: ``i_gpu_start = n_layer + 1 - n_gpu_layers``,
  "always keep [the input layer] on the CPU"; ``TENSOR_DUPLICATED`` for a missing ``output``).
  Builds before PR #18148 (2025-12-17) counted repeating layers first (``output_layer_first=False``).
- **KV cache** for the whole context, padded to 256 cells (``src/llama-context.cpp`` @001d906a:
  ``cparams.n_ctx = GGML_PAD(cparams.n_ctx, 256)``); ``--parallel`` sequences share it, as one
  stream (``--kv-unified``) or as one stream each of ``pad(n_ctx / n_seq, 256)`` cells. Sliding-window
  layers keep ``pad(min(cells, W * n_seq + n_ubatch), 256)`` cells per stream (n_seq only when
  unified) unless ``--swa-full`` (``src/llama-kv-cache-iswa.cpp`` @2aef9767). Rows are priced in the
  cache type's ggml blocks; each layer's cache lives where the layer does (``offload_kqv``).
- **Compute buffers** for the worst-case graph of one micro-batch (``--ubatch-size`` tokens, every
  position an output, the full cache visible; ``graph_reserve`` in ``src/llama-context.cpp``):
  the largest of the attention step, the feed-forward step and the output step, f32 throughout.
  Flash attention is modelled on: llama.cpp's default ``--flash-attn auto`` enables it on CUDA.
  With layers or the head left on the CPU, the CUDA backend still runs their matmuls (op offload)
  on a copy of the weight in its compute buffer. The host compute buffer holds the graph inputs.
- **Output buffer** in host memory: ``n_seq_max x n_vocab`` f32 logits (plus ``n_embd`` per row
  with embeddings on), ``output_reserve(params.n_seq_max)`` in ``src/llama-context.cpp``.

Checked against three published logs (tests/core/test_llamacpp.py), every buffer to the printed
0.01 MiB: Llama-3.1-8B Q4_K_M at n_ctx 8192 without flash attention (CUDA0 compute 560.00 MiB,
CUDA_Host 24.01 MiB), Llama-3-8B at n_ctx 512 (258.50 / 9.01 MiB) and Mistral-7B Q4_K_M with
``-ngl 20`` of 32 layers (2495.31 MiB of weights, KV 60 / 36 MiB, compute 137.79 MiB).
"""

from __future__ import annotations

from math import ceil

from pydantic import BaseModel, ConfigDict, Field

from vram.core import gguf
from vram.core.dtypes import FORMATS, GGML_TYPES, Format, float_name, get_format
from vram.core.errors import SettingsError
from vram.core.inference import (
    InferenceEstimate,
    InferenceSettings,
    ResolvedSettings,
    context_length,
    default_dtype,
    kv_elements_per_token,
)
from vram.core.params import Tensor, count_parameters, tensors
from vram.core.result import Component
from vram.core.spec import ModelSpec
from vram.core.units import MiB

CTX_PAD = 256
"""Cells the context and every KV stream are padded to (llama-context.cpp, llama-kv-cache-iswa.cpp)."""

DEFAULTS = "common/common.h: n_ubatch 512, n_batch 2048, n_gpu_layers -1 (all), cache types f16, flash_attn auto"
"""Where LlamaCppSettings' defaults come from (ggml-org/llama.cpp)."""

_KV_DTYPE_NAMES = {"fp32": "f32", "fp16": "f16", "bf16": "bf16", "q8_0": "q8_0", "q4_0": "q4_0"}
"""--kv-dtype names as llama.cpp cache types, used when --cache-type-k/-v are not given."""

CACHE_TYPES: dict[str, str] = {
    # --cache-type-k / -v name: ggml type (common/arg.cpp kv_cache_types)
    "f32": "F32",
    "f16": "F16",
    "bf16": "BF16",
    "q8_0": "Q8_0",
    "q4_0": "Q4_0",
    "q4_1": "Q4_1",
    "iq4_nl": "IQ4_NL",
    "q5_0": "Q5_0",
    "q5_1": "Q5_1",
}

SWA_ARCHES = frozenset({"gemma2", "gemma3", "gpt-oss", "llama4"})
"""Architectures whose sliding-window (or chunked) layers get llama.cpp's smaller SWA cache. Others
cache every layer in full: Mistral converts to ``llama``, which has no window, and Phi-3's window
is switched off on load ("Phi SWA is currently disabled", src/llama-model.cpp)."""

OFFLOAD_MIN_BATCH = 32
"""Tokens from which the CUDA backend takes ops on CPU-resident weights (ggml-cuda.cu ``min_batch_size``)."""

_F32 = 4  # bytes of an f32 activation: ggml_mul_mat results are GGML_TYPE_F32 (ggml/src/ggml.c)
_F16 = 2
_I32 = 4
_INPUT_ROLES = frozenset({"embedding", "position"})
_SEPARATE_FILE = frozenset({"vision", "projector"})  # the mmproj GGUF, loaded by the multimodal tool


class Placement(BaseModel):
    """Which layer slots sit on the GPU for a ``--n-gpu-layers`` value."""

    model_config = ConfigDict(frozen=True)

    n_gpu_layers: int
    first_gpu_layer: int = Field(description="repeating layers from this index on are on the GPU")
    output_on_gpu: bool

    def on_gpu(self, layer: int) -> bool:
        """True when repeating layer ``layer`` is on the GPU."""
        return layer >= self.first_gpu_layer


def placement(n_layer: int, n_gpu_layers: int, *, output_first: bool = True) -> Placement:
    """The GPU/CPU split of ``n_layer`` repeating layers plus the output layer.

    Current llama.cpp: ``k`` in 0..n_layer+1 puts the output layer and the last ``k - 1`` repeating
    layers on the GPU (llama-model.cpp ``i_gpu_start = max(n_layer + 1 - k, 0)``, since PR #18148,
    2025-12-17). Earlier builds (``output_first=False``, e.g. llama-cpp-python wheels of 2025) put the
    last ``k`` repeating layers there and the output layer only when ``k > n_layer``. -1 or any
    larger value means all.
    """
    if n_gpu_layers < -1:
        msg = f"--n-gpu-layers {n_gpu_layers}: use 0..{n_layer + 1} layer slots, or -1 for all"
        raise SettingsError(msg)
    slots = n_layer + 1
    k = slots if n_gpu_layers == -1 else min(n_gpu_layers, slots)
    if output_first:
        return Placement(n_gpu_layers=k, first_gpu_layer=max(slots - k, 0), output_on_gpu=k >= 1)
    return Placement(n_gpu_layers=k, first_gpu_layer=max(n_layer - k, 0), output_on_gpu=k == slots)


def _cache_type(name: str | None, kv_dtype: str | None, which: str) -> str:
    """The llama.cpp cache type for K or V: the option, else --kv-dtype in llama.cpp's name, else f16."""
    if name is not None:
        option, key = f"--cache-type-{which}", name.strip().lower()
    elif kv_dtype is not None:
        option, key = "--kv-dtype", _KV_DTYPE_NAMES.get(kv_dtype.strip().lower(), kv_dtype.strip().lower())
    else:
        return "f16"
    if key not in CACHE_TYPES:
        msg = f"{option} {name or kv_dtype!r} is not a llama.cpp cache type: choose one of {', '.join(CACHE_TYPES)}"
        raise SettingsError(msg)
    return key


def _row_bytes(ggml_type: str, elements: int) -> int:
    blk, size = GGML_TYPES[ggml_type]
    return ceil(elements / blk) * size


def _pad(n: int) -> int:
    return -(-n // CTX_PAD) * CTX_PAD


def gguf_format(spec: ModelSpec, dtype: str | None) -> Format:
    """The GGUF file type to price: the one asked for, else the file ``convert_hf_to_gguf.py`` writes.

    ``--outtype auto`` keeps a bf16 checkpoint in BF16 and writes F16 otherwise; FP8 and GPTQ
    checkpoints are dequantized to that 16-bit type first (``ModelBase.dequant_model``), while
    gpt-oss keeps its MXFP4 experts (``GptOssModel.dequant_model``). An explicit non-GGUF format
    other than a float is refused: llama.cpp only runs GGUF files.
    """
    fmt = get_format(dtype or default_dtype(spec))
    if fmt.kind == "gguf":
        return fmt
    if dtype is None and fmt.kind == "mxfp4":
        return FORMATS["MXFP4_MOE"]
    if fmt.kind == "float" or (dtype is None and fmt.kind in ("fp8", "fp8-block", "gptq")):
        sixteen = fmt.name if fmt.kind == "float" else float_name(spec.torch_dtype)
        return FORMATS["BF16" if sixteen == "bf16" else "F16"]
    msg = f"llama.cpp runs GGUF files, not {fmt.name}: pass a GGUF type such as --dtype Q4_K_M (`vram dtypes`)"
    raise SettingsError(msg)


class _Cells(BaseModel):
    """KV cells per stream for full and sliding layers, and the stream count."""

    model_config = ConfigDict(frozen=True)

    n_ctx: int
    full: int
    sliding: int
    streams: int


def kv_cells(spec: ModelSpec, ctx: int, n_seq: int, n_ubatch: int, *, unified: bool, swa_full: bool) -> _Cells:
    """Cells llama.cpp allocates per stream (llama-context.cpp, llama-kv-cache-iswa.cpp)."""
    n_ctx = _pad(ctx)
    if unified or n_seq == 1:
        full, streams = n_ctx, 1
    else:
        full, streams = _pad(n_ctx // n_seq), n_seq
    sliding = full
    if spec.sliding_window is not None and spec.gguf_arch in SWA_ARCHES and not swa_full:
        window = spec.sliding_window * (n_seq if streams == 1 else 1)
        sliding = _pad(min(full, window + n_ubatch))
    return _Cells(n_ctx=full * streams, full=full, sliding=sliding, streams=streams)


def _kv_layer_bytes(spec: ModelSpec, cells: _Cells, k_type: str, v_type: str) -> tuple[list[int], int, int]:
    """Bytes of each layer's K+V cache, and the K and V row widths (elements per cell)."""
    # MLA: one K row of latent + rotary key per cell and no V cache, V being a view of K
    # (ggml-org/llama.cpp PR #19067 "kv-cache : support V-less cache", merged 2026-01-24).
    k_el, v_el = kv_elements_per_token(spec, "latent")
    per_cell = _row_bytes(CACHE_TYPES[k_type], k_el) + (_row_bytes(CACHE_TYPES[v_type], v_el) if v_el else 0)
    sizes = [
        per_cell * (cells.sliding if kind == "sliding" else cells.full) * cells.streams for kind in spec.layer_types
    ]
    return sizes, k_el, v_el


def _layer_widths(spec: ModelSpec, n_kv: int, flash: bool) -> tuple[int, int]:
    """(attention, feed-forward) bytes per micro-batch token at the widest moment of one layer.

    Attention without flash attention: the f32 scores ``kq`` [n_kv, n_head] beside the f32 mask
    copy [n_kv] and four hidden-wide f32 tensors (layer input, normed input, Q and the attention
    output; llama-graph.cpp ``build_attn_mha``: ``kq = ggml_mul_mat(k, q)``, ``ggml_soft_max_ext``
    in place). With flash attention the scores are never materialised: an f16 mask and the same
    four tensors. Feed-forward: the layer input and the normed input beside gate, up and their
    product; MoE: the router logits and the top-k rows of those (llama-graph.cpp ``build_moe_ffn``).
    """
    h, q = spec.hidden_size, spec.q_width
    rows = 2 * h + 2 * q
    attn = (_F16 * n_kv + _F32 * rows) if flash else _F32 * (spec.num_heads * n_kv + n_kv + rows)
    ffn = _F32 * (2 * h + 3 * spec.intermediate_size) if spec.intermediate_size else 0
    if spec.moe is not None:
        m = spec.moe
        ffn = max(ffn, _F32 * (2 * h + m.num_experts + m.experts_per_token * (h + 3 * m.expert_intermediate_size)))
    return attn, ffn


def estimate_llamacpp(spec: ModelSpec, settings: InferenceSettings | None = None) -> InferenceEstimate:
    """GPU memory of one llama.cpp process on one GPU, with host memory in ``runtime_facts['cpu_bytes']``.

    ``settings.seq_len`` is ``--ctx-size``; the llama.cpp options are ``settings.llamacpp``.
    """
    top = settings or InferenceSettings(runtime="llama.cpp")
    s = top.llamacpp
    if top.batch != 1:
        msg = "--batch is transformers' option: llama.cpp serves --parallel sequences that share --ctx-size"
        raise SettingsError(msg)
    if top.logits != "last" or top.mla_cache != "latent":
        msg = "--logits and --mla-cache are transformers' options; llama.cpp keeps the MLA latent and last logits"
        raise SettingsError(msg)
    fmt = gguf_format(spec, top.dtype)
    k_type = _cache_type(s.cache_type_k, top.kv_dtype, "k")
    v_type = _cache_type(s.cache_type_v, top.kv_dtype, "v")
    if not s.flash_attn and GGML_TYPES[CACHE_TYPES[v_type]][0] > 1:
        msg = f"--cache-type-v {v_type} needs flash attention (llama.cpp refuses a quantized V cache without it)"
        raise SettingsError(msg)
    ctx = context_length(spec, top.seq_len)
    where = placement(spec.num_layers, s.n_gpu_layers, output_first=s.output_layer_first)
    warnings: list[str] = list(spec.approximations)
    if spec.max_position_embeddings and ctx > spec.max_position_embeddings:
        warnings.append(f"--ctx-size {ctx:,} exceeds the model's trained context ({spec.max_position_embeddings:,})")

    # weights per device
    ts = tensors(spec)
    count = count_parameters(spec, ts)
    gpu_w = cpu_w = 0
    gpu_by_type: dict[str, int] = {}
    skipped = cpu_layer_max = output_matrix = 0
    for t in ts:
        if t.role in _SEPARATE_FILE:
            skipped += t.numel
            continue
        priced = gguf.tensor_bytes(fmt, spec, t)
        size = sum(b for _, b in priced)
        if t.role in _INPUT_ROLES or (t.layer is None and t.name.startswith("token_embd")):
            cpu_w += size
            if t.role == "embedding" and spec.tie_word_embeddings:  # the head reads a second copy
                out = output_matrix = _tied_output(fmt, spec, t)
                if where.output_on_gpu:
                    gpu_w += out
                    gpu_by_type["output"] = gpu_by_type.get("output", 0) + out
                else:
                    cpu_w += out
            continue
        on_gpu = where.on_gpu(t.layer) if t.layer is not None else where.output_on_gpu
        if t.role == "lm_head":
            output_matrix = size
        elif t.layer is not None and not on_gpu:
            cpu_layer_max = max(cpu_layer_max, size)
        if on_gpu:
            gpu_w += size
            for kind, b in priced:
                gpu_by_type[kind] = gpu_by_type.get(kind, 0) + b
        else:
            cpu_w += size
    if "sliding" in spec.layer_types and spec.gguf_arch not in SWA_ARCHES:
        warnings.append(
            f"llama.cpp keeps the full context for every layer of a {spec.gguf_arch or spec.model_type} model: "
            "its sliding window is not applied"
        )
    if skipped:
        warnings.append(f"the vision tower ({skipped:,} parameters) is a separate mmproj GGUF and is not counted")

    # KV cache per device
    n_ubatch = min(s.ubatch_size, s.batch_size, ctx)
    cells = kv_cells(spec, ctx, s.parallel, n_ubatch, unified=s.kv_unified, swa_full=s.swa_full)
    layer_kv, k_el, v_el = _kv_layer_bytes(spec, cells, k_type, v_type)
    gpu_kv = sum(b for i, b in enumerate(layer_kv) if where.on_gpu(i))
    cpu_kv = sum(layer_kv) - gpu_kv

    # compute buffers: the widest step of the worst-case micro-batch graph
    attn, ffn = _layer_widths(spec, cells.full, s.flash_attn)
    layer_step = n_ubatch * max(attn, ffn)
    output_step = n_ubatch * _F32 * (spec.vocab_size + spec.hidden_size)
    gpu_layers = spec.num_layers - where.first_gpu_layer
    # op_offload (on by default): a micro-batch of OFFLOAD_MIN_BATCH tokens or more runs the matmuls
    # of CPU-resident weights on the GPU, copying each weight into the GPU compute buffer first, so
    # the buffer holds the largest such weight beside its step (ggml-cuda.cu offload_op).
    offload = n_ubatch >= OFFLOAD_MIN_BATCH
    steps = [layer_step + (cpu_layer_max if offload else 0)]
    if where.output_on_gpu or offload:
        steps.append(output_step + (0 if where.output_on_gpu else output_matrix))
    gpu_compute = max(steps)
    # The host buffer holds the graph inputs: embeddings looked up on the CPU, token ids, positions,
    # output ids and the f32 mask (cast to f16 on the GPU under flash attention, llama-graph.cpp).
    host_compute = n_ubatch * (_F32 * spec.hidden_size + 3 * _I32) + n_ubatch * cells.full * _F32
    if not offload:
        host_compute += max(
            layer_step if gpu_layers < spec.num_layers else 0, 0 if where.output_on_gpu else output_step
        )
    output_buffer = s.parallel * _F32 * (spec.vocab_size + (spec.hidden_size if s.embeddings else 0))

    weights = Component(
        name="weights",
        bytes=gpu_w,
        note=(
            f"{fmt.name} GGUF tensors of the {gpu_layers}/{spec.num_layers} layers"
            f"{' and the output layer' if where.output_on_gpu else ''} on the GPU; "
            f"{cpu_w / MiB:,.2f} MiB (token embeddings{', CPU layers' if gpu_layers < spec.num_layers else ''}) "
            "in host memory"
        ),
        details={"cpu_bytes": cpu_w, **{f"bytes_{k}": v for k, v in gpu_by_type.items()}},
    )
    swa = "sliding" in spec.layer_types
    kv_note = (
        f"{cells.n_ctx:,} cells ({cells.streams} stream{'s' if cells.streams > 1 else ''}"
        f"{f', sliding layers {cells.sliding:,}' if swa and cells.sliding < cells.full else ''}), "
        f"K {k_type} x {k_el}, V {v_type} x {v_el} per layer; {gpu_layers} layers on the GPU"
    )
    kv = Component(
        name="kv_cache",
        bytes=gpu_kv,
        note=kv_note,
        details={
            "cells": cells.n_ctx,
            "cells_per_stream": cells.full,
            "sliding_cells_per_stream": cells.sliding,
            "streams": cells.streams,
            "cache_type_k": k_type,
            "cache_type_v": v_type,
            "cpu_bytes": cpu_kv,
        },
    )
    widest = "output" if where.output_on_gpu and output_step >= layer_step else ("attention" if attn >= ffn else "ffn")
    acts = Component(
        name="activations",
        bytes=gpu_compute,
        note=(
            f"CUDA compute buffer for a {n_ubatch}-token micro-batch over {cells.full:,} cells, "
            f"flash attention {'on' if s.flash_attn else 'off'}; widest step: {widest}"
        ),
        details={
            "compute_buffer_bytes": gpu_compute,
            "host_compute_buffer_bytes": host_compute,
            "n_ubatch": n_ubatch,
            "widest_step": widest,
        },
    )
    overhead = Component(
        name="overhead",
        bytes=top.cuda_context_bytes,
        note=f"CUDA context {top.cuda_context_bytes / MiB:.0f} MiB; ggml buffers take no allocator rounding",
        details={"cuda_context_bytes": top.cuda_context_bytes, "host_output_buffer_bytes": output_buffer},
    )
    cpu_bytes = cpu_w + cpu_kv + host_compute + output_buffer
    return InferenceEstimate(
        components=(weights, kv, acts, overhead),
        warnings=tuple(warnings),
        parameters=count.total,
        active_parameters=count.active,
        format=fmt,
        compute_dtype="fp32",
        settings=ResolvedSettings(
            dtype=fmt.name,
            kv_dtype=k_type if k_type == v_type else f"{k_type}/{v_type}",
            batch=s.parallel,
            seq_len=ctx,
            logits="last",
            mla_cache="latent",
        ),
        runtime="llama.cpp",
        runtime_facts={"n_gpu_layers": where.n_gpu_layers, "cpu_bytes": cpu_bytes},
    )


def _tied_output(fmt: Format, spec: ModelSpec, t: Tensor) -> int:
    """Bytes of the output copy llama.cpp loads from a tied token embedding (priced as the output matrix)."""
    head = Tensor("output", t.shape, "lm_head")
    return sum(b for _, b in gguf.tensor_bytes(fmt, spec, head))
