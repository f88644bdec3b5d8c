"""Invariants that hold for every architecture: sums, monotonicity, precision ordering."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vram.core.inference import InferenceSettings, estimate_inference
from vram.core.params import count_parameters, tensors
from vram.core.result import Estimate
from vram.core.spec import ModelSpec

from ..strategies import specs

SETTINGS = st.builds(
    InferenceSettings,
    batch=st.integers(1, 16),
    seq_len=st.integers(1, 8192),
    kv_dtype=st.sampled_from([None, "fp16", "fp8", "q8_0", "q4_0"]),
    logits=st.sampled_from(["last", "all"]),
)


@given(specs(), SETTINGS)
def test_total_is_sum_of_components(spec: ModelSpec, settings: InferenceSettings) -> None:
    """total_bytes is exactly the sum of the component bytes."""
    est = estimate_inference(spec, settings)
    assert sum(c.bytes for c in est.components) == est.total_bytes


def _never_less(a: Estimate, b: Estimate) -> None:
    # The overhead alone may shrink: allocator rounding waste drops when an allocation grows to a
    # 2 MiB boundary. The rounded allocations themselves, and so the total, never shrink.
    assert a.total_bytes <= b.total_bytes
    for x, y in zip(a.components, b.components, strict=True):
        if x.name != "overhead":
            assert x.bytes <= y.bytes, x.name


@given(specs(), SETTINGS, st.integers(1, 8))
def test_batch_never_lowers_memory(spec: ModelSpec, settings: InferenceSettings, extra: int) -> None:
    """More sequences never need less memory: in total and in every tensor component."""
    small = estimate_inference(spec, settings)
    big = estimate_inference(spec, settings.model_copy(update={"batch": settings.batch + extra}))
    _never_less(small, big)


@given(specs(), SETTINGS, st.integers(1, 4096))
def test_context_never_lowers_memory(spec: ModelSpec, settings: InferenceSettings, extra: int) -> None:
    """A longer context never needs less memory: in total and in every tensor component."""
    seq = settings.seq_len or 1
    short = estimate_inference(spec, settings)
    long = estimate_inference(spec, settings.model_copy(update={"seq_len": seq + extra}))
    _never_less(short, long)


CHAINS = [
    ["fp64", "fp32", "bf16", "fp8"],
    ["fp32", "fp16", "bnb-int8", "nf4", "nf4-dq"],
    ["bf16", "gptq-int8-g128", "gptq-int4-g128", "gptq-int4-g-1"],
    ["F16", "Q8_0", "Q6_K", "Q5_K_S", "Q4_K_S", "Q3_K_S"],
]


@given(specs(), st.sampled_from(CHAINS))
def test_lower_precision_never_increases_weights(spec: ModelSpec, chain: list[str]) -> None:
    """Along each chain of ever-narrower formats of one family, weight bytes never grow."""
    sizes = [estimate_inference(spec, InferenceSettings(dtype=d)).component("weights").bytes for d in chain]
    assert sizes == sorted(sizes, reverse=True), dict(zip(chain, sizes, strict=True))


@given(specs())
def test_parameter_count_is_sum_of_tensors(spec: ModelSpec) -> None:
    """The parameter count is the sum of tensor sizes, and active never exceeds total."""
    count = count_parameters(spec)
    assert sum(t.numel for t in tensors(spec)) == count.total
    assert count.active <= count.total
    assert sum(count.by_role.values()) == count.total
