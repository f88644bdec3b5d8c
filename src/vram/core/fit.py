"""What fits on a GPU: every weight format with its maxima, the recommended one, fewest GPUs, offload.

Pure: a spec, the requested inference settings and a card in, a FitPlan out. Every figure is the
runtime's own estimate (``estimate_inference`` for transformers, or a split of its parts across
GPUs or into CPU memory; ``estimate_vllm`` for vLLM), solved exactly by ``vram.core.solve``.

Multi-GPU and offload under transformers are ``vram.core.placement``'s (accelerate's
``device_map="auto"``); under vLLM, tensor then pipeline parallel (``vram.core.parallel``); under
llama.cpp, ``--n-gpu-layers``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from vram.core.checkpoint import Checkpoint
from vram.core.decode import DecodeBound, decode_bound
from vram.core.dtypes import FLOAT_BYTES, Format, get_format
from vram.core.errors import SettingsError
from vram.core.gpu import Gpu, check_fit
from vram.core.inference import (
    InferenceEstimate,
    InferenceSettings,
    WeightsEstimate,
    activations,
    context_length,
    default_dtype,
    estimate_inference,
    kv_cache,
)
from vram.core.limits import MAX_BATCH, MAX_SEQ_LEN
from vram.core.overhead import allocator_bytes
from vram.core.parallel import check_split
from vram.core.placement import MAX_GPUS, GpuSplit, Offload, fewest_gpus, offload_plan, per_gpu_bytes
from vram.core.runtimes import estimate_runtime
from vram.core.solve import Maximum, fewest_fitting, max_fitting
from vram.core.spec import ModelSpec
from vram.core.units import GiB

TP_PER_NODE = 8
"""Widest tensor-parallel split tried: the GPUs of one NVLink node (DGX/HGX H100 and H200 boards carry eight,
https://www.nvidia.com/en-us/data-center/dgx-h100/); across nodes vLLM's guide sets the pipeline size to the
node count (https://docs.vllm.ai/en/latest/serving/distributed_serving.html)."""

GGUF_TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M", "IQ3_XXS", "Q2_K")
"""The GGUF file types llama.cpp's ``llama-quantize`` lists as its usual choices, from 8.5 down to about 2.6 bits
(tools/quantize/quantize.cpp ``QUANT_OPTIONS``); the 16-bit file convert_hf_to_gguf.py writes comes first."""

FOUR_BIT = ("awq-int4-g128", "gptq-int4-g128", "nf4", "nf4-dq")
"""The 4-bit formats transformers loads: AutoAWQ / AutoGPTQ checkpoints (group 128, their default) and
bitsandbytes NF4 with and without double quantization."""


E = TypeVar("E", bound=WeightsEstimate)


@dataclass(frozen=True, slots=True)
class FitRow(Generic[E]):
    """One weight format (or training setup) at the requested settings, and its maxima."""

    dtype: str
    total_bytes: int
    need_bytes: int
    fits: bool
    max_seq_len: int | None
    max_seq_len_capped: bool
    max_batch: int | None
    max_batch_capped: bool
    native: bool
    warnings: tuple[str, ...]
    estimate: E
    own: bool = False
    """The checkpoint's own format (inference rows)."""
    args: tuple[str, ...] = ()
    """The ``vram train`` options that name the setup (training rows)."""


@dataclass(frozen=True, slots=True)
class FitPlan:
    """Everything ``vram fit MODEL`` reports."""

    rows: tuple[FitRow[InferenceEstimate], ...]
    recommended: str | None
    reason: str
    usable_bytes: int
    shortfall_bytes: int
    suggestion: str | None
    min_gpus: GpuSplit | None
    offload: Offload | None
    decode: DecodeBound | None
    skipped: tuple[str, ...] = field(default=())


def candidate_formats(spec: ModelSpec, gpu: Gpu) -> tuple[list[str], list[str]]:
    """Formats worth a row on ``gpu`` (highest precision first), and why others were left out."""
    own = get_format(default_dtype(spec)).name
    skipped: list[str] = []
    half = own if own in ("fp16", "bf16") else "bf16"
    if half == "bf16" and not gpu.bf16:
        half = "fp16"
        skipped.append(f"bf16 needs NVIDIA Ampere or newer; {gpu.name} ({gpu.architecture}) runs fp16 instead")
    names = [own, half]
    if gpu.fp8:
        names.append("fp8")
    else:
        skipped.append(f"fp8 kernels need Ada/Hopper (NVIDIA) or CDNA3 (AMD); {gpu.name} lacks them")
    names += ["int8", *FOUR_BIT]
    out: list[str] = []
    for n in names:
        name = get_format(n).name
        if name not in out:
            out.append(name)
    return out, skipped


def _estimator(
    spec: ModelSpec, base: InferenceSettings, dtype: str | None, checkpoint: Checkpoint | None
) -> Callable[[int, int], InferenceEstimate]:
    """(batch, seq_len) -> estimate in one format; ``dtype`` None is the checkpoint as stored."""

    def at(batch: int, seq_len: int) -> InferenceEstimate:
        s = base.model_copy(update={"dtype": dtype, "batch": batch, "seq_len": seq_len})
        return estimate_inference(spec, s, checkpoint)

    return at


def total_at(spec: ModelSpec, est: InferenceEstimate) -> Callable[[int, int], int]:
    """(batch, seq_len) -> ``estimate_inference``'s total in ``est``'s format, without re-pricing the weights.

    Only the KV cache, the activation peak and the allocator's rounding of the per-layer KV
    allocations depend on the tokens; they are recomputed with the same functions the estimate
    uses, and the rest is taken from ``est`` (tests check the two agree).
    """
    s, layers = est.settings, spec.num_layers
    gguf = est.format.kind == "gguf"
    act_bytes = FLOAT_BYTES["fp32"] if gguf else FLOAT_BYTES[est.compute_dtype]

    def kv_rounding(kv_bytes: int) -> int:
        per_layer = kv_bytes // layers
        return 0 if gguf else layers * (allocator_bytes([per_layer]) - per_layer)

    over = est.component("overhead")
    kv0 = est.component("kv_cache").bytes
    fixed = est.component("weights").bytes + over.bytes - kv_rounding(kv0)

    def total(batch: int, seq_len: int) -> int:
        kv = kv_cache(spec, s.kv_dtype, batch, seq_len, s.mla_cache).bytes
        return fixed + kv + kv_rounding(kv) + activations(spec, act_bytes, batch, seq_len, s.logits).bytes

    return total


def _native(fmt: Format, gpu: Gpu) -> bool:
    """Whether the card runs the weight format's number type (bf16 on Ampere+, fp8 on Ada/Hopper/CDNA3).

    Judged on the stored format only: a quantized format's compute dtype can be fp16 or bf16 at the same
    bytes (bitsandbytes' ``bnb_4bit_compute_dtype``), so it never makes a row non-native.
    """
    return fmt.needs is None or bool(getattr(gpu, fmt.needs))


def _row(
    spec: ModelSpec,
    base: InferenceSettings,
    dtype: str,
    own: bool,
    checkpoint: Checkpoint | None,
    gpu: Gpu,
    gpus: int,
) -> FitRow[InferenceEstimate]:
    budget = gpu.usable_memory_bytes
    at = _estimator(spec, base, None if own else dtype, checkpoint)
    est = at(base.batch, context_length(spec, base.seq_len))
    seq_len, batch = est.settings.seq_len, est.settings.batch
    if gpus == 1:
        cost = total_at(spec, est)
    else:

        def cost(b: int, n: int) -> int:
            return per_gpu_bytes(spec, at(b, n), gpus)

    limit = spec.max_position_embeddings or MAX_SEQ_LEN
    ctx: Maximum = max_fitting(lambda n: cost(batch, n), budget, 1, limit)
    bat: Maximum = max_fitting(lambda n: cost(n, seq_len), budget, 1, MAX_BATCH)
    warnings = check_fit(est, gpu).warnings
    native = _native(est.format, gpu)
    need = per_gpu_bytes(spec, est, gpus)
    return FitRow(
        dtype=est.format.name,
        total_bytes=need,
        need_bytes=need,
        fits=need <= budget,
        max_seq_len=ctx.value,
        max_seq_len_capped=ctx.capped,
        max_batch=bat.value,
        max_batch_capped=bat.capped,
        native=native,
        warnings=warnings,
        estimate=est,
        own=own,
    )


def _valid(spec: ModelSpec, tp: int, pp: int) -> bool:
    try:
        check_split(spec, tp, pp)
    except SettingsError:
        return False
    return True


def _vllm_layouts(spec: ModelSpec, most: int = MAX_GPUS) -> Iterator[tuple[int, tuple[int, int]]]:
    """(count, (tp, pp)) by count, the widest tensor-parallel split first: TP within an 8-GPU node, PP across
    nodes when TP alone cannot split the model (vLLM's distributed serving guide)."""
    for n in range(1, min(most, MAX_GPUS) + 1):
        for tp in range(min(n, TP_PER_NODE), 0, -1):
            if n % tp == 0 and n // tp <= spec.num_layers:
                yield n, (tp, n // tp)


def _vllm_estimate(
    spec: ModelSpec, base: InferenceSettings, dtype: str | None, gpu: Gpu, layout: tuple[int, int], seq_len: int | None
) -> InferenceEstimate:
    s = base.model_copy(update={"dtype": dtype, "seq_len": seq_len, "tp": layout[0], "pp": layout[1]})
    return estimate_runtime(spec, s, None, gpu)


def _vllm_need(est: InferenceEstimate) -> int:
    """What must fit vLLM's share of the card: everything but the KV pool, plus one max-length request's KV."""
    f = est.runtime_facts
    return int(f["non_kv_memory_bytes"]) + int(f["kv_needed_bytes"])


def _vllm_budget(est: InferenceEstimate) -> int:
    """vLLM's share of the card: usable memory x --gpu-memory-utilization."""
    return int(est.runtime_facts["requested_memory_bytes"])


def _vllm_row(
    spec: ModelSpec, base: InferenceSettings, dtype: str, own: bool, gpu: Gpu, layout: tuple[int, int]
) -> FitRow[InferenceEstimate]:
    """One format under vLLM: it fits when its KV pool holds one request of the context (vLLM refuses to start
    otherwise); the longest such context, solved over ``--max-model-len``, and how many of the requested length
    the pool holds at once (vLLM's "maximum concurrency", rounded down)."""
    name = None if own else dtype
    est = _vllm_estimate(spec, base, name, gpu, layout, base.seq_len)
    budget = _vllm_budget(est)
    limit = spec.max_position_embeddings or MAX_SEQ_LEN
    ctx = max_fitting(lambda n: _vllm_need(_vllm_estimate(spec, base, name, gpu, layout, n)), budget, 1, limit)
    fits = bool(est.runtime_facts["fits"])
    concurrency = int(float(est.runtime_facts["max_concurrency"]))
    warnings = check_fit(est, gpu).warnings
    return FitRow(
        dtype=est.format.name,
        total_bytes=est.total_bytes,
        need_bytes=_vllm_need(est),
        fits=fits,
        max_seq_len=ctx.value,
        max_seq_len_capped=ctx.capped,
        max_batch=concurrency if fits and concurrency >= 1 else None,
        max_batch_capped=False,
        native=_native(est.format, gpu),
        warnings=warnings,
        estimate=est,
        own=own,
    )


def _fewest_vllm(spec: ModelSpec, base: InferenceSettings, dtype: str, gpu: Gpu) -> GpuSplit | None:
    """The fewest GPUs on which vLLM starts with one request of the context, TP first, then TP x PP."""

    def need(layout: object) -> int | None:
        assert isinstance(layout, tuple)
        tp, pp = layout
        if not _valid(spec, tp, pp):
            return None
        return _vllm_need(_vllm_estimate(spec, base, dtype, gpu, (tp, pp), base.seq_len))

    budget = _vllm_budget(_vllm_estimate(spec, base, dtype, gpu, (1, 1), base.seq_len))
    found = fewest_fitting(_vllm_layouts(spec), need, budget)
    if found.count is None or found.per_gpu_bytes is None or not isinstance(found.layout, tuple):
        return None
    tp, pp = found.layout
    return GpuSplit(found.count, tp=tp, pp=pp, zero=0, per_gpu_bytes=found.per_gpu_bytes, dtype=dtype, runtime="vllm")


def _gguf_names(spec: ModelSpec) -> list[str]:
    from vram.core.runtimes.llamacpp import gguf_format

    out = [gguf_format(spec, None).name]
    return out + [n for n in GGUF_TYPES if n not in out]


def _llamacpp_estimate(
    spec: ModelSpec, base: InferenceSettings, dtype: str, seq_len: int | None, parallel: int = 1, ngl: int = -1
) -> InferenceEstimate:
    s = base.model_copy(
        update={
            "dtype": dtype,
            "seq_len": seq_len,
            "batch": 1,
            "llamacpp": base.llamacpp.model_copy(update={"parallel": parallel, "n_gpu_layers": ngl}),
        }
    )
    return estimate_runtime(spec, s)


def _llamacpp_row(spec: ModelSpec, base: InferenceSettings, dtype: str, gpu: Gpu) -> FitRow[InferenceEstimate]:
    """One GGUF type under llama.cpp, every layer on the GPU: the longest ``--ctx-size``, and how many sequences
    of the requested context ``--parallel`` can serve at once (``--ctx-size`` = that many times the context)."""
    budget = gpu.usable_memory_bytes
    est = _llamacpp_estimate(spec, base, dtype, base.seq_len)
    ctx_len = est.settings.seq_len
    limit = spec.max_position_embeddings or MAX_SEQ_LEN
    ctx = max_fitting(lambda n: _llamacpp_estimate(spec, base, dtype, n).total_bytes, budget, 1, limit)
    most = max(1, min(MAX_BATCH, MAX_SEQ_LEN // ctx_len))
    bat = max_fitting(lambda n: _llamacpp_estimate(spec, base, dtype, n * ctx_len, n).total_bytes, budget, 1, most)
    return FitRow(
        dtype=est.format.name,
        total_bytes=est.total_bytes,
        need_bytes=est.total_bytes,
        fits=est.total_bytes <= budget,
        max_seq_len=ctx.value,
        max_seq_len_capped=ctx.capped,
        max_batch=bat.value,
        max_batch_capped=bat.capped,
        native=True,
        warnings=check_fit(est, gpu).warnings,
        estimate=est,
        own=False,
    )


def _ngl_plan(spec: ModelSpec, base: InferenceSettings, dtype: str, gpu: Gpu, cpu_ram: int | None) -> Offload | None:
    """The most layer slots ``--n-gpu-layers`` can put on the GPU, the rest in host memory (None when not even
    the CPU-only run's GPU buffers fit, or the host side exceeds ``cpu_ram``)."""
    seq_len = base.seq_len
    slots = spec.num_layers + 1

    def gpu_bytes(k: int) -> int:
        return _llamacpp_estimate(spec, base, dtype, seq_len, ngl=k).total_bytes

    best = max_fitting(gpu_bytes, gpu.usable_memory_bytes, 0, slots)
    if best.value is None:
        return None
    est = _llamacpp_estimate(spec, base, dtype, seq_len, ngl=best.value)
    cpu = int(est.runtime_facts["cpu_bytes"])
    if cpu_ram is not None and cpu > cpu_ram:
        return None
    from vram.core.runtimes.llamacpp import placement

    on = placement(spec.num_layers, best.value)
    gpu_layers = spec.num_layers - on.first_gpu_layer
    return Offload(
        est.format.name, gpu_layers, spec.num_layers - gpu_layers, est.total_bytes, cpu, f"-ngl {best.value}"
    )


def plan_fit(
    spec: ModelSpec,
    base: InferenceSettings,
    gpu: Gpu,
    *,
    gpus: int = 1,
    checkpoint: Checkpoint | None = None,
    cpu_ram: int | None = None,
    extras: bool = True,
) -> FitPlan:
    """Rows for every candidate format (or the one ``base.dtype`` names), the recommendation and what else helps.

    ``extras`` False skips the fewest-GPUs search and the offload plan (a scan of the whole catalog).
    """
    own = default_dtype(spec)
    names, skipped = candidate_formats(spec, gpu)
    if base.dtype is not None:
        names = [get_format(base.dtype).name]
    own_name = get_format(own).name
    vllm = base.runtime == "vllm"
    llamacpp = base.runtime == "llama.cpp"
    layout = (1, 1)
    if llamacpp:
        from vram.core.runtimes.llamacpp import gguf_format

        names = [gguf_format(spec, base.dtype).name] if base.dtype else _gguf_names(spec)
        skipped = []
        budget = gpu.usable_memory_bytes
        rows = [_llamacpp_row(spec, base, n, gpu) for n in names]
    elif vllm:
        layout = next((lay for n, lay in _vllm_layouts(spec, gpus) if n == gpus and _valid(spec, *lay)), (gpus, 1))
        rows = [_vllm_row(spec, base, n, n == own_name, gpu, layout) for n in names]
        budget = _vllm_budget(rows[0].estimate)
    else:
        budget = gpu.usable_memory_bytes
        rows = [_row(spec, base, n, n == own_name, checkpoint, gpu, gpus) for n in names]
    rows.sort(key=lambda r: (-r.estimate.format.nominal_bits, -r.total_bytes))
    chosen = choose(rows)
    smallest = min([r for r in rows if r.native] or rows, key=lambda r: r.need_bytes)
    s = smallest.estimate.settings
    if vllm:
        where = f"one {s.seq_len:,}-token request in vLLM's KV pool" + (
            f" (TP {layout[0]} x PP {layout[1]})" if gpus > 1 else ""
        )
    else:
        where = f"{s.seq_len:,} tokens x batch {s.batch}" + (f" on {gpus} GPUs" if gpus > 1 else "")
    shortfall = 0
    suggestion = None
    min_gpus = None
    if extras and not llamacpp:
        target = (chosen or smallest).estimate
        min_gpus = _fewest_vllm(spec, base, target.format.name, gpu) if vllm else fewest_gpus(spec, target, budget)
    offload = None
    if chosen is not None:
        reason = f"{chosen.dtype}: the highest precision that fits {where}"
        if not chosen.native:
            reason += f", though {gpu.name} ({gpu.architecture}) has no native {chosen.estimate.format.needs} kernels"
        reason += next_up(rows, chosen, budget)
    else:
        smallest, shortfall, reason = shortfall_reason(
            [r for r in rows if r.native] or rows, budget, f"nothing fits {where}"
        )
        if base.dtype is not None and not vllm:
            suggestion = _other_format(spec, base, gpu, gpus, checkpoint, own_name)
        suggestion = suggestion or _suggest(smallest, min_gpus, gpus)
        if extras and llamacpp:
            offload = _ngl_plan(spec, base, smallest.dtype, gpu, cpu_ram)
        elif extras and not gpu.unified_memory and not vllm:
            offload = offload_plan(spec, smallest.estimate, budget, cpu_ram)
        if suggestion is None and offload is not None:
            suggestion = f"offload {offload.cpu_layers} of {spec.num_layers} layers to CPU memory ({offload.flag})"
    decode = None
    if chosen is not None or (offload is not None and not llamacpp):
        # llama.cpp computes CPU layers on the CPU, at host-memory bandwidth vram does not know
        decode = _decode(spec, chosen or smallest, gpu, offload, layout[0])
    return FitPlan(
        rows=tuple(rows),
        recommended=chosen.dtype if chosen else None,
        reason=reason,
        usable_bytes=budget,
        shortfall_bytes=shortfall,
        suggestion=suggestion,
        min_gpus=min_gpus,
        offload=offload,
        decode=decode,
        skipped=tuple(skipped) if base.dtype is None else (),
    )


def _gib(n: int) -> str:
    return f"{n / GiB:,.2f} GiB"


def choose(rows: Sequence[FitRow[E]]) -> FitRow[E] | None:
    """The recommended row: the first (highest precision) that fits with native kernels, else the first that fits."""
    return next((r for r in rows if r.fits and r.native), None) or next((r for r in rows if r.fits), None)


def next_up(rows: Sequence[FitRow[E]], chosen: FitRow[E], budget: int) -> str:
    """``; NAME needs X GiB more`` for the native row just above the chosen one, or "" when there is none."""
    above = [r for r in rows[: rows.index(chosen)] if r.native]
    return f"; {above[-1].dtype} needs {_gib(above[-1].need_bytes - budget)} more" if above else ""


def shortfall_reason(rows: Sequence[FitRow[E]], budget: int, what: str) -> tuple[FitRow[E], int, str]:
    """When nothing fits: the smallest row, by how much it misses, and the reason ``WHAT: NAME needs X GiB more``."""
    smallest = min(rows, key=lambda r: r.need_bytes)
    shortfall = smallest.need_bytes - budget
    return smallest, shortfall, f"{what}: {smallest.dtype} needs {_gib(shortfall)} more"


def _other_format(
    spec: ModelSpec, base: InferenceSettings, gpu: Gpu, gpus: int, checkpoint: Checkpoint | None, own: str
) -> str | None:
    """The highest-precision other format that fits the requested setting, when ``--dtype`` named one that does not."""
    names, _ = candidate_formats(spec, gpu)
    names.sort(key=lambda n: -get_format(n).nominal_bits)
    seq_len = context_length(spec, base.seq_len)
    for name in names:
        est = _estimator(spec, base, None if name == own else name, checkpoint)(base.batch, seq_len)
        if _native(est.format, gpu) and per_gpu_bytes(spec, est, gpus) <= gpu.usable_memory_bytes:
            return f"--dtype {est.format.name}"
    return None


def _suggest(smallest: FitRow[InferenceEstimate], min_gpus: GpuSplit | None, gpus: int) -> str | None:
    """The one change that makes the smallest format fit: a shorter context, else more GPUs."""
    if smallest.max_seq_len is not None:
        return f"--dtype {smallest.dtype} --seq-len {smallest.max_seq_len}"
    if min_gpus is not None and min_gpus.count > gpus:
        how = (
            f"--tp {min_gpus.tp} --pp {min_gpus.pp}"
            if min_gpus.runtime == "vllm"
            else 'layers split, device_map="auto"'
        )
        return f"--dtype {min_gpus.dtype} on {min_gpus.count} GPUs ({how})"
    return None


def _decode(
    spec: ModelSpec, row: FitRow[InferenceEstimate], gpu: Gpu, offload: Offload | None, tp: int = 1
) -> DecodeBound | None:
    if gpu.bandwidth_gb_s is None:
        return None
    est = row.estimate
    s = est.settings
    if est.runtime == "llama.cpp":  # one sequence's cells, wherever its layers' caches live
        kv = est.component("kv_cache")
        kv_one = (kv.bytes + int(kv.details.get("cpu_bytes", 0))) // s.batch
    else:
        kv_one = kv_cache(spec, s.kv_dtype, 1, s.seq_len, s.mla_cache).bytes
    if offload is None:
        return decode_bound(spec, est.format, kv_one, gpu.bandwidth_gb_s, gpus=tp)
    pcie_gb_s = gpu.pcie_gb_s
    if pcie_gb_s is None:
        return None
    off = frozenset(range(offload.gpu_layers, spec.num_layers))
    return decode_bound(
        spec, est.format, kv_one, gpu.bandwidth_gb_s, offloaded_layers=off, offload_bandwidth_gb_s=pcie_gb_s
    )


@dataclass(frozen=True, slots=True)
class PlotSeries:
    """Memory against context for one format: components per point, the capacity and the maximum."""

    dtype: str
    batch: int
    capacity_bytes: int
    max_seq_len: int | None
    capped: bool
    points: tuple[tuple[int, tuple[tuple[str, int], ...]], ...]


def plot_series(spec: ModelSpec, plan: FitPlan, checkpoint: Checkpoint | None, points: int = 8) -> PlotSeries:
    """The recommended row (else the smallest) at contexts up to a quarter past its maximum, the maximum included."""
    row = next((r for r in plan.rows if r.dtype == plan.recommended), None) or min(
        plan.rows, key=lambda r: r.total_bytes
    )
    s = row.estimate.settings
    limit = spec.max_position_embeddings or MAX_SEQ_LEN
    best = row.max_seq_len
    top = s.seq_len if best is None else min(limit, max(best + best // 4, best + 1))
    step = max(1, top // points)
    lengths = {min(top, step * i) for i in range(1, points + 1)}
    if best is not None:
        lengths.add(best)
    base = InferenceSettings(kv_dtype=s.kv_dtype, batch=s.batch, logits=s.logits, mla_cache=s.mla_cache)
    at = _estimator(spec, base, None if row.own else row.dtype, checkpoint)
    series = tuple((n, tuple((c.name, c.bytes) for c in at(s.batch, n).components)) for n in sorted(lengths))
    return PlotSeries(row.dtype, s.batch, plan.usable_bytes, best, row.max_seq_len_capped, series)
