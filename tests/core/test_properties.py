"""Invariants that hold for every architecture: monotonicity in batch and context, precision ordering."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vram.core.inference import InferenceSettings, estimate_inference
from vram.core.params import count_parameters
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


KV_CHAINS = [["fp64", "fp32", "fp16", "fp8"], ["q8_0", "q4_0"]]
"""(ggml blocks pad a row to 32 elements, so q8_0 is not below fp16 for rows narrower than 32.)"""


@given(specs(), SETTINGS, st.sampled_from(KV_CHAINS))
def test_narrower_kv_cache_is_never_larger(spec: ModelSpec, settings: InferenceSettings, chain: list[str]) -> None:
    """Along each chain of ever-narrower KV cache formats, the KV cache never grows."""
    sizes = [
        estimate_inference(spec, settings.model_copy(update={"kv_dtype": d})).component("kv_cache").bytes for d in chain
    ]
    assert sizes == sorted(sizes, reverse=True), dict(zip(chain, sizes, strict=True))


@given(specs(), SETTINGS)
def test_16_bit_activations_are_never_larger_than_fp32(spec: ModelSpec, settings: InferenceSettings) -> None:
    """Computing in bf16 never needs more activation memory than computing in fp32."""
    wide = estimate_inference(spec, settings.model_copy(update={"dtype": "fp32"}))
    narrow = estimate_inference(spec, settings.model_copy(update={"dtype": "bf16"}))
    assert narrow.component("activations").bytes <= wide.component("activations").bytes


@given(specs())
def test_active_parameters_are_total_unless_experts_are_skipped(spec: ModelSpec) -> None:
    """Dense models use every parameter per token; a MoE with top-k below its expert count uses fewer."""
    count = count_parameters(spec)
    skips = spec.moe is not None and any(spec.moe.moe_layers) and spec.moe.experts_per_token < spec.moe.num_experts
    if skips:
        assert count.active < count.total
    else:
        assert count.active == count.total
