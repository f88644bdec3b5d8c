"""vLLM's memory plan for one GPU: weights, the profiled peak, and the KV-cache pool it sizes from them.

vLLM (V1 engine; vllm-project/vllm, 0.11-0.19 era) starts a server in this order, each step read
from its code:
1. ``v1/worker/gpu_worker.py`` ``init_device``: the CUDA context and, with ``tp x pp > 1``, NCCL's
   buffers are created; a snapshot is taken; ``requested = total x gpu_memory_utilization``, where
   ``total`` is what ``torch.cuda.mem_get_info`` reports (the catalog's usable memory).
2. ``load_model``: the weights of this rank ("Model loading took X GiB"), which include the rotary
   cos/sin cache (``model_executor/layers/rotary_embedding``: one ``[max_position, rotary_dim]``
   buffer in the model dtype, shared by the layers through ``get_rope``'s cache).
3. ``determine_available_memory``: ``profile_run`` runs one forward pass of ``max_num_batched_tokens``
   dummy tokens and the sampler on one row per dummy request (PyTorch's sort, or FlashInfer's kernel where
   that version or ``VLLM_USE_FLASHINFER_SAMPLER`` selects it: --flashinfer-sampler); ``utils/mem_utils.py``
   ``memory_profiling`` records the torch peak increase and the non-torch increase; the KV pool is
   ``requested - (weights + torch peak increase + non-torch increase)`` ("Available KV cache memory").
4. ``v1/core/kv_cache_utils.py``: the pool becomes whole blocks of ``block_size`` tokens, one page
   per attention layer per block; sliding-window and full-attention layers share pages in groups
   (the hybrid allocator); with pipeline stages every rank keeps the smallest block count.
   "GPU KV cache size: N tokens" and "Maximum concurrency for L tokens per request: Xx" follow.
5. ``compile_or_warm_up_model``: CUDA graphs are captured after the pool exists, so they and the
   context of step 1 live in the ``1 - gpu_memory_utilization`` share.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from math import ceil

from vram.core.dtypes import FLOAT_BYTES, Format, float_name, get_format
from vram.core.errors import SettingsError
from vram.core.gpu import Gpu
from vram.core.inference import (
    KV_DTYPES,
    InferenceEstimate,
    InferenceSettings,
    ResolvedSettings,
    RuntimeFact,
    VllmSettings,
    compute_dtype,
    default_dtype,
    kv_elements_per_token,
    price_tensor,
)
from vram.core.parallel import check_split, kv_heads_per_rank, pp_layers, stage_tensors
from vram.core.params import Tensor, count_parameters, tensors
from vram.core.result import Component
from vram.core.spec import LayerKind, ModelSpec
from vram.core.units import GiB, MiB

LARGE_GPU_BYTES = 70 * GiB
"""engine/arg_utils.py ``get_batch_defaults``: cards with at least 70 GiB get larger batches, except any A100 (its name
is checked: larger token budgets cost A100s throughput, vllm-project/vllm pull request 17885)."""
SERVE_DEFAULTS = {"large": (8192, 1024), "other": (2048, 256)}
"""``vllm serve`` (UsageContext.OPENAI_API_SERVER) defaults: (max_num_batched_tokens, max_num_seqs), same file."""

SAMPLER_BYTES_PER_LOGIT = 38
"""Bytes live per logit at the dummy sampler's peak, inside ``torch.sort`` of ``v1/sample/ops/topk_topp_sampler.py``
``apply_top_k_top_p`` (the profile sets top-k and top-p, ``gpu_model_runner.py`` ``_dummy_sampler_run``): the
lm_head's 16-bit logits (2) and their fp32 copy (4) held by the callers, the sorted fp32 values and int64 indices
being written (12), the radix sort's second key/value buffer pair (12) and the int64 positions it sorts as values
(8) (ATen ``native/cuda/Sort.cu`` segmented radix sort). Against the torch peak increases vLLM logged on an H100
with 1,024 dummy requests (llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md) this gives
4.71 GiB for Llama-3.1-8B (logged 4.76), 5.52 for Qwen3-0.6B (5.56), 5.59 for Qwen3-32B (5.64) and 7.33 for
gpt-oss-20b (7.38). This is the PyTorch-native sampler, vLLM's default on CUDA from pull request 26859 (October
2025, after 0.11.0) until pull request 40376 (April 2026) turned FlashInfer's sampler back on."""
FLASHINFER_SAMPLER_BYTES_PER_LOGIT = 14
"""The same peak when vLLM samples with FlashInfer (its CUDA default from pull request 11394 through 0.11.0, and
again after pull request 40376; the log says "Using FlashInfer for top-p & top-k sampling"): the 16-bit logits (2),
their fp32 copy (4), and in ``flashinfer.sampling.top_k_top_p_sampling_from_logits`` the top-k masked fp32 logits
(4) and their softmax (4); no sort. With it the pools vLLM 0.10.1.1 logged on A100s for Qwen2-7B (TP 1 and 2,
utilization 0.25 and 0.5) and gpt-oss-120b (TP 4) come out within 5% (dennislee22/vLLM-benchmarking logs).
Used with --flashinfer-sampler."""

CONTEXT_BYTES = round(0.61 * GiB)
"""Used before vLLM's snapshot on one GPU: 79.18 GiB total - 78.57 GiB free at startup (CUDA context, cuBLAS),
H100, vLLM's "Free memory on device" line (llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md)."""
NCCL_BYTES = round(0.93 * GiB)
"""Extra used at startup with TP=2: 77.64 GiB free instead of 78.57 (NCCL communicators and buffers), same source."""
NON_TORCH_BYTES = {False: round(0.13 * GiB), True: round(0.55 * GiB)}
"""Non-torch increase during the profile run, one GPU / several (cuBLAS workspaces; custom all-reduce buffers):
0.13 GiB (every TP=1 run) and 0.55 GiB (TP=2) as vLLM logged them, same source. The V1 engine counts only this
increase; the V0 engine (0.6 series, ``worker/worker.py`` ``determine_num_available_blocks``) counted all non-torch
memory on the device, CUDA context included, inside the utilization budget."""
CUDA_GRAPH_BYTES = round(1.03 * GiB)
"""CUDA-graph pool captured after the KV cache, for the check that it fits outside vLLM's share; 0 with
--enforce-eager. vLLM logs it as the free-memory drop over the capture (``gpu_model_runner.py`` ``capture_model``:
"Graph capturing finished in N secs, took X GiB"), which nets the graphs' private pool against profile memory freed
meanwhile, so published figures range from -0.88 GiB (Qwen3-32B, H100) to +1.88 GiB (gpt-oss-120b, TP 4, A100)
with no per-model rule vLLM's code gives; this is the largest of the H100 study (gpt-oss-120b, 1.03 GiB;
llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md), a point inside that range, not a bound."""
MXFP4_PAD = (256, 64)
"""vLLM pads gpt-oss MXFP4 experts for its MoE kernels (layers/quantization/mxfp4.py ``Mxfp4MoEMethod.create_weights``):
the per-rank intermediate size to a multiple of 64 (two MXFP4 blocks) and, on Hopper and Blackwell kernels, the
hidden size to a multiple of 256, so 2880 x 2880 experts are stored as 3072 x 2880. This reproduces the weights vLLM
logged on an H100 (13.47 GiB for gpt-oss-20b, 64.38 for gpt-oss-120b; llm-d/llm-d-benchmark
config_explorer/empirical-vllm-memory-results.md) within 0.3%; without padding they would be 12.83 and 60.78."""


@dataclass(frozen=True, slots=True)
class _Stage:
    """One pipeline stage's GPU: what vLLM would log for it."""

    index: int
    weights: int
    rotary: int
    activation: int
    forward_peak: int
    sampler_peak: int
    non_torch: int
    available: int
    kv_layers: Counter[LayerKind]
    page: int
    blocks: int


def batch_defaults(gpu: Gpu, max_model_len: int, s: VllmSettings) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) as ``vllm serve`` settles them for this card (arg_utils.py)."""
    large = gpu.usable_memory_bytes >= LARGE_GPU_BYTES and "a100" not in gpu.name.lower()
    tokens, seqs = SERVE_DEFAULTS["large" if large else "other"]
    seqs = s.max_num_seqs or seqs
    # a default token budget never exceeds what max_num_seqs full-length requests hold
    tokens = s.max_num_batched_tokens or min(seqs * max_model_len, tokens)
    if s.max_num_seqs is None:
        seqs = min(seqs, tokens)
    return tokens, seqs


def _language_model(spec: ModelSpec) -> ModelSpec:
    """The model as vLLM builds it: a vision-language wrapper's head is tied or not as its text_config says.

    ``models/mistral3.py`` (and the Gemma 3 and Llama 4 wrappers) build the language model with
    ``init_vllm_registered_model(hf_config=config.text_config)``, and ``models/llama.py`` ties the head
    only when that config's ``tie_word_embeddings`` is set (vllm-project/vllm v0.11.0). Mistral-Small-3.1's
    config names no flag at the top level, where transformers 5 defaults to tied, and MistralConfig
    defaults to untied: vLLM loads the separate lm_head (one vocab x hidden matrix more).
    """
    if spec.text_tie_word_embeddings is None:
        return spec
    return spec.model_copy(update={"tie_word_embeddings": spec.text_tie_word_embeddings})


def _format(spec: ModelSpec, dtype: str | None, gpu: Gpu) -> Format:
    """vLLM's ``--dtype auto``: the checkpoint's dtype, but fp32 checkpoints run in bf16 (fp16 without bf16)."""
    if dtype is not None:
        return get_format(dtype)
    name = default_dtype(spec)
    if name == "fp32":  # vllm/config/model.py _resolve_auto_dtype: float32 configs load in half precision
        name = "bf16" if gpu.bf16 else "fp16"
    return get_format(name)


def _pad_experts(spec: ModelSpec, fmt: Format, t: Tensor) -> Tensor:
    """MXFP4 expert tensors as vLLM allocates them (padded for the MoE kernel)."""
    if fmt.kind != "mxfp4" or t.role != "expert" or len(t.shape) != 3:
        return t
    hid, inter = MXFP4_PAD
    h = ceil(spec.hidden_size / hid) * hid
    e, out, inp = t.shape
    if t.name == "ffn_down_exps":
        return replace(t, shape=(e, h, ceil(inp / inter) * inter))
    return replace(t, shape=(e, ceil(out / inter) * inter, h))


def _rotary_bytes(spec: ModelSpec, act: int) -> int:
    """The cos/sin cache: max positions x rotary dim in the model dtype (none with learned positions)."""
    if spec.learned_positions or spec.max_position_embeddings is None:
        return 0
    dim = spec.mla.qk_rope_head_dim if spec.mla is not None else spec.head_dim
    return spec.max_position_embeddings * dim * act


def _forward_width(spec: ModelSpec, tp: int) -> int:
    """Elements per token live at the widest step of one decoder layer on one rank, besides the residual pair.

    vLLM's layers (models/llama.py and kin): the fused qkv output beside the attention output and the
    o_proj output; the fused gate_up output, the activation's output and the down output; for MoE, the
    router logits and fused_moe's three work caches (``intermediate_cache1..3``: top-k x 2f, top-k x f and
    top-k x hidden per token, layers/fused_moe/fused_moe.py).
    """
    h = spec.hidden_size
    q = spec.num_heads // tp * (spec.mla.qk_head_dim if spec.mla is not None else spec.head_dim)
    kv = 2 * kv_heads_per_rank(spec, tp) * spec.head_dim if spec.mla is None else spec.mla.kv_lora_rank
    widths = [q + kv + q + h]
    if spec.intermediate_size:
        f = ceil(spec.intermediate_size / tp)
        widths.append(3 * f + h)
    if spec.moe is not None:
        m = spec.moe
        f = ceil(m.expert_intermediate_size / tp)
        widths.append(m.num_experts + m.experts_per_token * (3 * f + h) + h)
    return max(widths)


def _sampler_peak(spec: ModelSpec, rows: int, tokens: int, act: int, per_logit: int) -> int:
    """The dummy sampler's peak: ``rows`` logit rows at ``per_logit`` bytes, beside the step's hidden states."""
    return rows * spec.vocab_size * per_logit + tokens * spec.hidden_size * act


def _kv_bytes_per_token_layer(spec: ModelSpec, tp: int, kv_dtype: str) -> int:
    """One token's K and V in one layer on one rank (vllm/v1/kv_cache_interface.py page sizes)."""
    _, size = KV_DTYPES[kv_dtype]
    if spec.mla is not None:
        k, _ = kv_elements_per_token(spec, "latent")
        return k * size
    return 2 * kv_heads_per_rank(spec, tp) * spec.head_dim * size


def _groups(kv_layers: Counter[LayerKind]) -> tuple[int, list[tuple[str, int]]]:
    """vLLM's page groups: (layers per group, [(kind, groups of that kind)]).

    One kind: one group of every layer. Several (the hybrid allocator): groups as large as the rarest
    kind, each kind split into that many (the last padded), all sharing one block pool
    (kv_cache_utils.py ``_get_kv_cache_config_uniform_page_size``).
    """
    if len(kv_layers) == 1:
        ((kind, n),) = kv_layers.items()
        return n, [(kind, 1)]
    size = min(kv_layers.values())
    return size, [(kind, ceil(n / size)) for kind, n in kv_layers.items()]


def _blocks_per_request(spec: ModelSpec, kind: str, max_model_len: int, tokens: int, block: int) -> int:
    """Blocks one request of ``max_model_len`` holds in one group (kv_cache_interface.py ``max_memory_usage_bytes``)."""
    if kind == "sliding" and spec.sliding_window is not None:
        return ceil(min(spec.sliding_window - 1 + tokens, max_model_len) / block) + 1
    return ceil(max_model_len / block)


@dataclass(frozen=True, slots=True)
class KvPlan:
    """The KV pool as vLLM lays it out and reports it."""

    blocks: int
    layers_per_group: int
    groups: int
    tokens: int
    concurrency: float
    needed_bytes: int


def num_blocks(kv_layers: Counter[LayerKind], available: int, page: int) -> int:
    """Whole blocks the pool holds: available // page // layers per group (kv_cache_utils.py ``get_num_blocks``)."""
    size, _ = _groups(kv_layers)
    return max(0, available // page // size)


def kv_plan(
    spec: ModelSpec,
    kv_layers: Counter[LayerKind],
    blocks: int,
    page: int,
    block_size: int,
    max_model_len: int,
    tokens: int,
) -> KvPlan:
    """Tokens and concurrency vLLM prints (kv_cache_utils.py ``get_max_concurrency_for_kv_cache_config``).

    Tokens: blocks per group x block size. Concurrency: blocks / the blocks one ``max_model_len``
    request takes summed over the groups. ``needed_bytes``: what one such request needs, the check
    vLLM makes before starting (``check_enough_kv_cache_memory``).
    """
    size, groups = _groups(kv_layers)
    n_groups = sum(n for _, n in groups)
    per_request = sum(n * _blocks_per_request(spec, k, max_model_len, tokens, block_size) for k, n in groups)
    return KvPlan(
        blocks=blocks,
        layers_per_group=size,
        groups=n_groups,
        tokens=blocks // n_groups * block_size,
        concurrency=blocks / per_request,
        needed_bytes=per_request * page * size,
    )


def _stage(
    spec: ModelSpec,
    s: InferenceSettings,
    fmt: Format,
    all_tensors: list[Tensor],
    index: int,
    budget: tuple[int, int, int],
    kv_dtype: str,
) -> _Stage:
    requested, tokens, rows = budget
    tp, pp = s.tp, s.pp
    act = FLOAT_BYTES[compute_dtype(fmt, spec.torch_dtype)]
    mine = [_pad_experts(spec, fmt, t) for t in stage_tensors(spec, all_tensors, tp, pp, index)]
    weights = sum(b for t in mine for _, b in price_tensor(spec, fmt, t))
    rotary = _rotary_bytes(spec, act)
    h = spec.hidden_size
    forward = tokens * act * (2 * h + _forward_width(spec, tp))
    sampler = _sampler_peak(spec, rows, tokens, act, _per_logit(s.vllm)) if index == pp - 1 else 0
    activation = max(forward, sampler)
    non_torch = NON_TORCH_BYTES[tp * pp > 1]
    available = requested - (weights + rotary + activation + non_torch)
    layers = pp_layers(spec.num_layers, pp)[index]
    kv_layers = Counter(spec.layer_types[i] for i in layers)
    page = s.vllm.block_size * _kv_bytes_per_token_layer(spec, tp, kv_dtype)
    blocks = num_blocks(kv_layers, available, page)
    return _Stage(index, weights, rotary, activation, forward, sampler, non_torch, available, kv_layers, page, blocks)


def _per_logit(v: VllmSettings) -> int:
    """Bytes per logit at the sampler's peak for the sampler vLLM uses."""
    return FLASHINFER_SAMPLER_BYTES_PER_LOGIT if v.flashinfer_sampler else SAMPLER_BYTES_PER_LOGIT


def _kv_dtype(requested: str | None, compute: str) -> str:
    name = (requested or compute).lower()
    name = float_name(name) or name
    if name.startswith("fp8"):
        name = "fp8"
    if name not in ("fp32", "fp16", "bf16", "fp8"):
        msg = f"vLLM's --kv-cache-dtype takes auto, fp16, bf16, fp32 or fp8; {requested!r} is a llama.cpp cache type"
        raise SettingsError(msg)
    return name


def _max_model_len(spec: ModelSpec, s: InferenceSettings) -> int:
    limit = spec.max_position_embeddings
    length = s.vllm.max_model_len or s.seq_len or limit
    if length is None:
        msg = "the model's config names no max_position_embeddings: pass --max-model-len"
        raise SettingsError(msg)
    if limit is not None and length > limit:
        msg = (
            f"--max-model-len {length:,} exceeds the model's max_position_embeddings ({limit:,}); vLLM refuses it "
            "unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 is set"
        )
        raise SettingsError(msg)
    return length


def estimate_vllm(spec: ModelSpec, settings: InferenceSettings, gpu: Gpu | None) -> InferenceEstimate:
    """What ``vllm serve`` would allocate on each GPU, and the KV capacity it would print.

    Figures are for the GPU that binds: the pipeline stage with the fewest KV blocks (every stage
    keeps that many). Raises SettingsError without a GPU, for a split vLLM refuses, or a bad length.
    """
    if gpu is None:
        msg = "--runtime vllm needs --gpu: vLLM gives the KV cache a share of the card's memory"
        raise SettingsError(msg)
    s, v = settings, settings.vllm
    spec = _language_model(spec)
    check_split(spec, s.tp, s.pp)
    fmt = _format(spec, s.dtype, gpu)
    compute = compute_dtype(fmt, spec.torch_dtype)
    kv_dtype = _kv_dtype(s.kv_dtype, compute)
    max_model_len = _max_model_len(spec, s)
    tokens, seqs = batch_defaults(gpu, max_model_len, v)
    rows = min(seqs, tokens)  # gpu_model_runner.py _dummy_run: one logit row per dummy request
    requested = int(gpu.usable_memory_bytes * v.gpu_memory_utilization)
    ts = tensors(spec)
    stages = [_stage(spec, s, fmt, ts, i, (requested, tokens, rows), kv_dtype) for i in range(s.pp)]
    bind = min(stages, key=lambda st: st.blocks)
    plan = kv_plan(
        spec,
        bind.kv_layers,
        bind.blocks,
        bind.page,
        block_size=v.block_size,
        max_model_len=max_model_len,
        tokens=tokens,
    )
    blocks, size, n_groups = plan.blocks, plan.layers_per_group, plan.groups
    kv_tokens, concurrency, needed = plan.tokens, plan.concurrency, plan.needed_bytes
    multi = s.tp * s.pp > 1
    context = CONTEXT_BYTES + (NCCL_BYTES if multi else 0)
    graphs = 0 if v.enforce_eager else CUDA_GRAPH_BYTES
    outside = gpu.usable_memory_bytes - requested
    warnings = list(spec.approximations)
    if spec.vision is not None:
        warnings.append(
            "vLLM also profiles the vision encoder on dummy images (gpu_model_runner.py profile_run); that peak is "
            "not counted, so the KV pool may come out smaller than shown"
        )
    if bind.index == s.pp - 1 and not v.flashinfer_sampler:
        fi = max(
            bind.forward_peak,
            _sampler_peak(spec, rows, tokens, FLOAT_BYTES[compute], FLASHINFER_SAMPLER_BYTES_PER_LOGIT),
        )
        if fi < bind.activation:
            warnings.append(
                f'if your vLLM samples with FlashInfer (its log says "Using FlashInfer for top-p & top-k sampling"), '
                f"pass --flashinfer-sampler: the profile peaks at {fi / GiB:.2f} GiB instead of "
                f"{bind.activation / GiB:.2f} and the KV pool is that much larger"
            )
    if context + graphs > outside:
        warnings.append(
            f"the CUDA context{' and NCCL' if multi else ''} ({context / GiB:.2f} GiB) and CUDA graphs "
            f"({graphs / GiB:.2f} GiB) may not fit the {outside / GiB:.2f} GiB that --gpu-memory-utilization "
            f"{v.gpu_memory_utilization:g} leaves outside vLLM's share: lower it or pass --enforce-eager"
        )
    if bind.available < needed:
        need = "no memory is left for the KV cache" if bind.available <= 0 else "the KV pool is too small"
        warnings.append(
            f"vLLM would refuse to start: {need} for one {max_model_len:,}-token request "
            f"({needed / GiB:.2f} GiB needed, {bind.available / GiB:.2f} GiB available); lower "
            "--max-model-len, raise --gpu-memory-utilization, or add GPUs with --tp/--pp"
        )
    count = count_parameters(spec, ts)
    per_gpu = " per GPU" if multi else ""
    where = f" (pipeline stage {bind.index + 1} of {s.pp})" if s.pp > 1 else ""
    weights = Component(
        name="weights",
        bytes=bind.weights + bind.rotary,
        note=f"{fmt.name} weights{per_gpu}{where}, TP {s.tp}; rotary cos/sin cache {bind.rotary / MiB:,.0f} MiB",
        details={"tensor_bytes": bind.weights, "rotary_cache_bytes": bind.rotary},
    )
    allocated = blocks * bind.page * size
    kv = Component(
        name="kv_cache",
        bytes=allocated,
        note=(
            f"{blocks:,} blocks of {v.block_size} tokens = {kv_tokens:,} tokens ({kv_dtype}); "
            f"{concurrency:.2f}x concurrency at {max_model_len:,} tokens"
        ),
        details={
            "available_bytes": max(bind.available, 0),
            "num_gpu_blocks": blocks,
            "page_bytes_per_layer": bind.page,
            "layers_per_group": size,
            "groups": n_groups,
            "dtype": kv_dtype,
        },
    )
    sampler = bind.sampler_peak > bind.forward_peak
    kind = "FlashInfer" if v.flashinfer_sampler else "PyTorch sort"
    acts = Component(
        name="activations",
        bytes=bind.activation,
        note=(
            f"profile run of {tokens:,} tokens; peak in the "
            + (f"sampler ({rows:,} rows x {spec.vocab_size:,} vocab, {kind})" if sampler else "forward pass")
        ),
        details={
            "forward_peak_bytes": bind.forward_peak,
            "sampler_peak_bytes": bind.sampler_peak,
            "sampler_bytes_per_logit": _per_logit(v),
        },
    )
    overhead = Component(
        name="overhead",
        bytes=bind.non_torch + context + graphs,
        note=(
            f"non-torch {bind.non_torch / GiB:.2f} GiB, CUDA context{' + NCCL' if multi else ''} "
            f"{context / GiB:.2f} GiB, CUDA graphs {graphs / GiB:.2f} GiB (the last two outside the KV budget)"
        ),
        details={
            "non_torch_bytes": bind.non_torch,
            "cuda_context_bytes": CONTEXT_BYTES,
            "nccl_bytes": context - CONTEXT_BYTES,
            "cuda_graph_bytes": graphs,
        },
    )
    facts: dict[str, RuntimeFact] = {
        "kv_cache_tokens": kv_tokens,
        "max_concurrency": round(concurrency, 4),
        "gpu_memory_utilization": v.gpu_memory_utilization,
        "max_model_len": max_model_len,
        "max_num_batched_tokens": tokens,
        "max_num_seqs": seqs,
        "block_size": v.block_size,
        "num_gpu_blocks": blocks,
        "requested_memory_bytes": requested,
        "kv_cache_memory_bytes": bind.available,
        "non_kv_memory_bytes": bind.weights + bind.rotary + bind.activation + bind.non_torch,
        "kv_needed_bytes": needed,
        "fits": bind.available >= needed and bind.available > 0,
        "enforce_eager": v.enforce_eager,
    }
    return InferenceEstimate(
        components=(weights, kv, acts, overhead),
        warnings=tuple(warnings),
        parameters=count.total,
        active_parameters=count.active,
        format=fmt,
        compute_dtype=compute,
        settings=ResolvedSettings(
            dtype=fmt.name, kv_dtype=kv_dtype, batch=1, seq_len=max_model_len, logits="last", mla_cache="latent"
        ),
        runtime="vllm",
        runtime_facts=facts,
        tp=s.tp,
        pp=s.pp,
    )
