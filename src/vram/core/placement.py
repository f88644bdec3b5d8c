"""Where transformers puts a model that one GPU cannot hold: consecutive layers over several GPUs, or
some layers in CPU memory.

Both follow accelerate's ``device_map="auto"`` (accelerate/utils/modeling.py ``infer_auto_device_map``):
whole decoder layers are placed on consecutive devices in order, the input embeddings with the first and
the final norm and output head with the last; layers that fit on no GPU go to CPU memory, and
accelerate's hooks copy them to the GPU for each forward pass, where their KV cache then lives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from vram.core.inference import InferenceEstimate, price_tensor
from vram.core.overhead import allocator_bytes
from vram.core.params import Tensor, tensors
from vram.core.solve import Fewest, fewest_fitting
from vram.core.spec import ModelSpec
from vram.core.units import GiB

MAX_GPUS = 64
"""Most GPUs the fewest-GPUs searches try: eight 8-GPU nodes (a search bound, not a hardware limit)."""


@dataclass(frozen=True, slots=True)
class GpuSplit:
    """A layout over several GPUs and the most loaded GPU's bytes."""

    count: int
    tp: int
    pp: int
    zero: int
    per_gpu_bytes: int
    dtype: str
    runtime: str = "transformers"
    fsdp: str = "none"
    """Training: the FSDP sharding strategy (``full``) when FSDP rather than ZeRO shards the states."""


@dataclass(frozen=True, slots=True)
class Offload:
    """Decoder layers kept on the GPU and left in CPU memory, and how to ask for it."""

    dtype: str
    gpu_layers: int
    cpu_layers: int
    gpu_bytes: int
    cpu_bytes: int
    flag: str


@dataclass(frozen=True, slots=True)
class _Layers:
    """An estimate cut into what accelerate places: the head and tail outside the layers, and each layer."""

    head: int
    tail: int
    layers: tuple[int, ...]
    kv: tuple[int, ...]
    shared: int  # on every device that computes: CUDA context and the activation peak


def _layers(spec: ModelSpec, est: InferenceEstimate) -> _Layers:
    fmt = est.format
    by_layer = [0] * spec.num_layers
    head = tail = 0
    for t in tensors(spec):
        b = allocator_bytes(b for _, b in price_tensor(spec, fmt, t))
        if t.layer is not None:
            by_layer[t.layer] += b
        elif _on_first(t):
            head += b
        else:
            tail += b
    kv = est.component("kv_cache")
    per_token_layer = int(kv.details["bytes_per_token_per_layer"])
    s = est.settings
    window = spec.sliding_window or s.seq_len
    kv_layers = tuple(
        allocator_bytes([per_token_layer * s.batch * (min(s.seq_len, window) if k == "sliding" else s.seq_len)])
        for k in spec.layer_types
    )
    context = int(est.component("overhead").details["cuda_context_bytes"])
    shared = context + est.component("activations").bytes
    return _Layers(head=head, tail=tail, layers=tuple(by_layer), kv=kv_layers, shared=shared)


def _on_first(t: Tensor) -> bool:
    """Modules accelerate places before the decoder layers (the embeddings, a vision tower)."""
    return t.role in ("embedding", "position", "vision", "projector")


def _split(parts: _Layers, n: int) -> int:
    """Most loaded GPU when ``n`` GPUs hold consecutive, equally many layers (what accelerate's "balanced" map
    aims for on equal cards). Each GPU is charged its own CUDA context and the whole activation peak: an upper
    bound, since the logits part of that peak lives on the last GPU only."""
    count = len(parts.layers)
    worst = 0
    start = 0
    for g in range(n):
        size = count // n + (1 if g < count % n else 0)
        chunk = range(start, start + size)
        start += size
        load = parts.shared + sum(parts.layers[i] + parts.kv[i] for i in chunk)
        load += parts.head if g == 0 else 0
        load += parts.tail if g == n - 1 else 0
        worst = max(worst, load)
    return worst


def per_gpu_bytes(spec: ModelSpec, est: InferenceEstimate, n: int) -> int:
    """Bytes on the most loaded of ``n`` GPUs under a layer split (the estimate's total for one GPU)."""
    if n == 1:
        return est.total_bytes
    return _split(_layers(spec, est), min(n, spec.num_layers))


def _layouts(spec: ModelSpec) -> Iterator[tuple[int, object]]:
    for n in range(1, min(MAX_GPUS, spec.num_layers) + 1):
        yield n, n


def fewest_gpus(spec: ModelSpec, est: InferenceEstimate, budget: int) -> GpuSplit | None:
    """The fewest GPUs of ``budget`` usable bytes each that hold ``est`` under a layer split."""
    parts: list[_Layers] = []  # cut once, and only when one GPU is not enough

    def need(layout: object) -> int:
        assert isinstance(layout, int)
        if layout == 1:
            return est.total_bytes
        if not parts:
            parts.append(_layers(spec, est))
        return _split(parts[0], layout)

    found: Fewest = fewest_fitting(_layouts(spec), need, budget)
    if found.count is None or found.per_gpu_bytes is None:
        return None
    return GpuSplit(found.count, tp=1, pp=found.count, zero=0, per_gpu_bytes=found.per_gpu_bytes, dtype=est.format.name)


def offload_plan(spec: ModelSpec, est: InferenceEstimate, budget: int, cpu_ram: int | None) -> Offload | None:
    """The most decoder layers that stay on one GPU with the rest in CPU memory, or None when even none do.

    The GPU keeps the embeddings, the head, every layer's KV cache, the activation peak, the CUDA
    context and room for the largest offloaded layer while it is copied in; CPU memory holds the
    offloaded layers' weights and must fit ``cpu_ram`` when given.
    """
    parts = _layers(spec, est)
    base = parts.shared + parts.head + parts.tail + sum(parts.kv)
    count = len(parts.layers)
    for g in range(count, -1, -1):
        cpu = parts.layers[g:]
        gpu = base + sum(parts.layers[:g]) + (max(cpu) if cpu else 0)
        cpu_bytes = sum(cpu)
        if gpu <= budget:
            if cpu_ram is not None and cpu_bytes > cpu_ram:
                return None
            flag = (
                f'device_map="auto", max_memory={{0: "{budget / GiB:.2f}GiB", "cpu": "{cpu_bytes / GiB + 1:.0f}GiB"}}'
            )
            return Offload(est.format.name, g, count - g, gpu, cpu_bytes, flag)
    return None
