"""Invariants of the training estimate over architectures and settings (Hypothesis)."""

from __future__ import annotations

from functools import cache

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vram.core.spec import ModelSpec
from vram.core.training.estimate import TrainingEstimate, estimate_training
from vram.core.training.settings import TrainingSettings
from vram.resolve.catalog import models
from vram.resolve.reference import resolve

from ...strategies import specs

STATES = ("weights", "master_weights", "gradients", "optimizer")

TRAINING = st.builds(
    TrainingSettings,
    precision=st.sampled_from(["fp32", "bf16-mixed", "fp16-mixed", "bf16"]),
    optimizer=st.sampled_from(
        ["adamw", "adamw-foreach", "adamw-8bit", "adafactor", "sgd", "sgd-momentum", "lion", "muon"]
    ),
    batch=st.integers(1, 4),
    seq_len=st.integers(1, 512),
    lora_rank=st.sampled_from([None, 4, 16]),
    gpus=st.sampled_from([1, 2, 8]),
    zero=st.sampled_from([0, 0, 1, 2, 3]),
)

CATALOG = st.sampled_from([m.id for m in models()])
DENSE_CATALOG = st.sampled_from(
    [m.id for m in models() if not any(k in m.config for k in ("num_local_experts", "num_experts", "n_routed_experts"))]
)


@cache
def _catalog_spec(ref: str) -> ModelSpec:
    spec = resolve(ref).spec
    assert spec is not None
    return spec


def _estimate(spec: ModelSpec, s: TrainingSettings) -> TrainingEstimate:
    return estimate_training(spec, s)


def _states(est: TrainingEstimate) -> int:
    return sum(est.component(k).bytes for k in STATES)


@given(specs(), TRAINING)
def test_total_is_the_sum_of_the_six_components(spec: ModelSpec, s: TrainingSettings) -> None:
    """total_bytes is exactly the sum of weights, master, gradients, optimizer, activations and overhead."""
    est = _estimate(spec, s)
    assert est.total_bytes == sum(c.bytes for c in est.components)
    assert len(est.components) == 6


@given(specs(), TRAINING, st.integers(2, 16))
def test_zero3_more_gpus_never_more_memory(spec: ModelSpec, s: TrainingSettings, gpus: int) -> None:
    """From 2 GPUs up, more data-parallel ranks under ZeRO-3 never increase memory per GPU."""
    base = s.model_copy(update={"zero": 3, "gpus": gpus})
    more = s.model_copy(update={"zero": 3, "gpus": gpus + 1})
    assert _estimate(spec, more).total_bytes <= _estimate(spec, base).total_bytes


@given(specs(), TRAINING, st.integers(2, 8))
def test_grad_accum_adds_at_most_one_gradient_copy(spec: ModelSpec, s: TrainingSettings, accum: int) -> None:
    """--grad-accum > 1 keeps the gradients alive through forward: never less, at most one gradient copy more."""
    one = _estimate(spec, s)
    many = _estimate(spec, s.model_copy(update={"grad_accum": accum}))
    grads = one.component("gradients").details["gradient_bytes"]
    assert one.total_bytes <= many.total_bytes <= one.total_bytes + int(grads)


@settings(max_examples=30, deadline=None)
@given(CATALOG, st.sampled_from(["fp32", "bf16-mixed", "fp16-mixed", "bf16"]), st.sampled_from([8, 16, 64]))
def test_lora_below_full_fine_tuning(ref: str, precision: str, rank: int) -> None:
    """For every catalog model and precision, LoRA needs less than full fine-tuning."""
    spec = _catalog_spec(ref)
    common = {"precision": precision, "seq_len": 16}
    full = _estimate(spec, TrainingSettings.model_validate(common))
    lora = _estimate(spec, TrainingSettings.model_validate({**common, "lora_rank": rank}))
    assert lora.total_bytes < full.total_bytes


@settings(max_examples=30, deadline=None)
@given(DENSE_CATALOG, st.sampled_from([8, 16, 64]))
def test_qlora_below_lora_in_pure_bf16(ref: str, rank: int) -> None:
    """For the dense catalog models in pure bf16, QLoRA needs less than LoRA. Under the mixed precisions QLoRA's
    preparation casts the embeddings to fp32, which outweighs NF4 when the vocabulary dominates (test_states)."""
    spec = _catalog_spec(ref)
    common = {"precision": "bf16", "seq_len": 16, "lora_rank": rank}
    lora = _estimate(spec, TrainingSettings.model_validate(common))
    qlora = _estimate(spec, TrainingSettings.model_validate({**common, "qlora": True}))
    assert qlora.total_bytes < lora.total_bytes


ANY = st.builds(
    TrainingSettings,
    precision=st.sampled_from(["fp32", "bf16-mixed", "fp16-mixed", "bf16"]),
    optimizer=st.sampled_from(
        ["adamw", "adam", "adamw-foreach", "adamw-8bit", "paged-adamw-8bit", "adafactor", "sgd", "lion", "muon"]
    ),
    optimizer_in_backward=st.booleans(),
    grad_accum=st.integers(1, 3),
    grad_checkpointing=st.sampled_from(["none", "full", "selective"]),
    lora_rank=st.sampled_from([None, 8]),
    lora_targets=st.sampled_from([("q", "v"), ("gate",), ("q", "k", "v", "o", "gate", "up", "down")]),
    qlora=st.booleans(),
    adapter_dtype=st.sampled_from([None, "bf16", "fp32"]),
    gpus=st.sampled_from([1, 2, 4, 8]),
    zero=st.sampled_from([0, 1, 2, 3]),
    fsdp=st.sampled_from(["none", "full", "grad-op"]),
    tp=st.sampled_from([1, 2]),
    pp=st.sampled_from([1, 2]),
    offload=st.sampled_from(["none", "optimizer", "params"]),
)


@settings(max_examples=150)
@given(specs(), ANY)
def test_any_settings_estimate_or_refuse_cleanly(spec: ModelSpec, s: TrainingSettings) -> None:
    """Every combination gives an estimate with int64-sized non-negative components, or a SettingsError."""
    from vram.core.errors import SettingsError

    try:
        est = _estimate(spec, s)
    except SettingsError:
        return
    assert all(0 <= c.bytes < 2**63 for c in est.components)
    assert est.total_bytes == sum(c.bytes for c in est.components)


@settings(max_examples=300)
@given(specs(), TRAINING, st.sampled_from(["full", "selective"]))
def test_checkpointing_never_raises_memory(spec: ModelSpec, s: TrainingSettings, mode: str) -> None:
    """From 2 layers up, recomputing activations in backward never needs more memory than keeping them. (With one
    layer, the recomputed layer sits beside its kept input, so checkpointing has nothing to save.)"""
    assume(spec.num_layers >= 2)
    keep = _estimate(spec, s.model_copy(update={"grad_checkpointing": "none"}))
    ckpt = _estimate(spec, s.model_copy(update={"grad_checkpointing": mode}))
    assert ckpt.total_bytes <= keep.total_bytes
