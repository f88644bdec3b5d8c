"""An upper bound on single-stream decode speed: memory bandwidth over the bytes read per token.

Decoding one token of one sequence is memory-bound: every weight the token passes through is
read once from device memory, and so is the sequence's whole KV cache. No kernel beats the card's
peak bandwidth, so ``bandwidth / bytes_read`` tokens per second is a ceiling, never a prediction;
engines reach roughly 60-85% of it (model bandwidth utilisation; Databricks, "LLM Inference
Performance Engineering: Best Practices", 2023,
https://www.databricks.com/blog/llm-inference-performance-engineering-best-practices).

What one token reads:
- every linear weight, as stored (codes, scales and zero points);
- of a MoE layer's routed experts, only the ``experts_per_token`` it is routed to: the share
  ``k / E`` of their bytes (the expectation for one token; a batch touches more);
- of the input embedding table, one row (a lookup, not a matmul), unless it is tied to the output
  head, which reads the whole matrix anyway; a vision tower not at all (it runs on the prompt only);
- the KV cache of one sequence at the given context (sliding layers only their window).
Layers offloaded to CPU memory are read at the offload link's bandwidth instead (PCIe for
accelerate's ``device_map="auto"``, which copies them to the GPU for every forward pass); the
times add, since one token walks through the layers in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from vram.core.dtypes import Format
from vram.core.inference import price_tensor
from vram.core.params import Tensor, tensors
from vram.core.spec import ModelSpec
from vram.core.units import UNIT_BYTES

GB = UNIT_BYTES["GB"]
"""Bandwidths are quoted in decimal GB/s by every vendor datasheet."""


@dataclass(frozen=True, slots=True)
class DecodeBound:
    """Tokens/s ceiling for one sequence, and the bytes it is computed from."""

    tokens_per_s: float
    weight_bytes_per_token: int
    kv_bytes_per_token: int
    offloaded_bytes_per_token: int
    assumptions: str


def _read_fraction(spec: ModelSpec, t: Tensor) -> tuple[int, int]:
    """(numerator, denominator) of a tensor's bytes that one decoded token reads."""
    if t.role == "vision" or t.role == "projector":
        return 0, 1
    if t.role == "embedding" and not spec.tie_word_embeddings:
        return 1, t.shape[0]  # one row of the table
    if t.per_expert and spec.moe is not None:
        return spec.moe.experts_per_token, spec.moe.num_experts
    return 1, 1


def weight_bytes_read(spec: ModelSpec, fmt: Format, offloaded_layers: frozenset[int] = frozenset()) -> tuple[int, int]:
    """Weight bytes one decoded token reads: (from GPU memory, from offloaded layers)."""
    on_gpu = off = 0
    for t in tensors(spec):
        num, den = _read_fraction(spec, t)
        if not num:
            continue
        read = sum(b for _, b in price_tensor(spec, fmt, t)) * num // den
        if t.layer is not None and t.layer in offloaded_layers:
            off += read
        else:
            on_gpu += read
    return on_gpu, off


def decode_bound(
    spec: ModelSpec,
    fmt: Format,
    kv_bytes_per_sequence: int,
    bandwidth_gb_s: float,
    *,
    offloaded_layers: frozenset[int] = frozenset(),
    offload_bandwidth_gb_s: float | None = None,
    gpus: int = 1,
) -> DecodeBound:
    """The ceiling on one sequence's decode tokens/s at ``kv_bytes_per_sequence`` of KV cache.

    ``gpus`` > 1 is a tensor-parallel split: each GPU reads its share of every layer at the same time,
    so their bandwidths add. With ``offloaded_layers`` (their KV cache stays on the GPU, as accelerate keeps it), their
    weights are read at ``offload_bandwidth_gb_s``.
    """
    if bandwidth_gb_s <= 0:
        msg = "bandwidth must be positive"
        raise ValueError(msg)
    gpu_w, off_w = weight_bytes_read(spec, fmt, offloaded_layers)
    seconds = (gpu_w + kv_bytes_per_sequence) / (bandwidth_gb_s * gpus * GB)
    link = ""
    if off_w:
        if not offload_bandwidth_gb_s or offload_bandwidth_gb_s <= 0:
            msg = "offloaded layers need the offload link's bandwidth"
            raise ValueError(msg)
        seconds += off_w / (offload_bandwidth_gb_s * GB)
        link = f"; {len(offloaded_layers)} offloaded layers' weights at {offload_bandwidth_gb_s:.1f} GB/s"
    moe = ", active experts only" if spec.moe is not None else ""
    assumptions = (
        f"upper bound for one sequence: weights{moe} and its KV cache read once per token at "
        f"{bandwidth_gb_s:g} GB/s peak{f' on each of {gpus} GPUs (tensor parallel)' if gpus > 1 else ''}{link}; "
        "no compute time; engines reach about 60-85% of it"
    )
    return DecodeBound(
        tokens_per_s=1 / seconds,
        weight_bytes_per_token=gpu_w,
        kv_bytes_per_token=kv_bytes_per_sequence,
        offloaded_bytes_per_token=off_w,
        assumptions=assumptions,
    )
