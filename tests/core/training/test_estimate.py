"""estimate_training: components in order at the peak moment, lifetimes, defaults, warnings and refusals."""

from __future__ import annotations

import pytest

from vram.core.errors import SettingsError
from vram.core.spec import ModelSpec
from vram.core.training.estimate import COMPONENTS, estimate_training, estimate_training_states_only
from vram.core.training.settings import TrainingSettings
from vram.resolve.reference import resolve

from ._activations_stub import fixed_activations, no_activations

GIB = 1 << 30


def _spec(ref: str) -> ModelSpec:
    spec = resolve(ref).spec
    assert spec is not None
    return spec


def test_components_are_the_six_in_order_and_sum_to_the_total() -> None:
    """Every estimate lists weights, master_weights, gradients, optimizer, activations, overhead; total = sum."""
    est = estimate_training(_spec("openai-community/gpt2"), activations=no_activations)
    assert tuple(c.name for c in est.components) == COMPONENTS
    assert est.total_bytes == sum(c.bytes for c in est.components)


def test_large_activations_put_the_peak_at_backward_start() -> None:
    """With activations larger than the model states, the peak is where they meet the logits gradient: backward."""
    acts = fixed_activations(saved=40 * GIB, forward=1 * GIB, backward=3 * GIB, per_layer=GIB)
    est = estimate_training(_spec("openai-community/gpt2"), activations=acts)
    assert est.peak_phase == "backward"
    assert est.component("activations").bytes == 43 * GIB


def test_foreach_step_copy_puts_the_peak_at_the_step() -> None:
    """Without activations, foreach AdamW's sqrt copy makes the optimizer step the largest moment."""
    est = estimate_training(
        _spec("openai-community/gpt2"), TrainingSettings(optimizer="adamw-foreach"), activations=no_activations
    )
    assert est.peak_phase == "optimizer_step"
    assert est.component("activations").bytes == 0
    opt = est.component("optimizer")
    assert opt.bytes == int(opt.details["state_bytes"]) + int(opt.details["step_temporary_bytes"])


def test_gradient_accumulation_keeps_gradients_through_forward() -> None:
    """grad_accum > 1: the accumulated fp32 gradients are alive in the next forward (HF Trainer does not zero them)."""
    spec = _spec("openai-community/gpt2")
    acts = fixed_activations(saved=20 * GIB, forward=0)
    one = estimate_training(spec, TrainingSettings(precision="fp32"), activations=acts)
    four = estimate_training(spec, TrainingSettings(precision="fp32", grad_accum=4), activations=acts)
    grads = 4 * one.parameters
    assert four.component("gradients").bytes == grads
    assert 0 < four.total_bytes - one.total_bytes <= grads


def test_optimizer_in_backward_keeps_one_gradient() -> None:
    """--optimizer-in-backward: only the largest parameter's gradient is alive (torchtune optimizer_in_bwd)."""
    spec = _spec("openai-community/gpt2")
    est = estimate_training(
        spec, TrainingSettings(precision="fp32", optimizer_in_backward=True), activations=no_activations
    )
    assert est.component("gradients").bytes == 4 * 50257 * 768
    assert est.peak_phase != "optimizer_step"


def test_seq_len_defaults_to_2048_capped_by_the_model() -> None:
    """No --seq-len: 2048, or the model's max_position_embeddings when smaller (GPT-2: 1024)."""
    assert estimate_training(_spec("openai-community/gpt2"), activations=no_activations).settings.seq_len == 1024
    assert estimate_training(_spec("meta-llama/Llama-3.1-8B"), activations=no_activations).settings.seq_len == 2048


def test_fp16_on_a_bf16_model_and_long_sequences_warn() -> None:
    """fp16-mixed on a bf16 checkpoint and a sequence past max_position_embeddings each give a warning."""
    spec = _spec("meta-llama/Llama-3.1-8B")
    est = estimate_training(spec, TrainingSettings(precision="fp16-mixed", seq_len=200_000), activations=no_activations)
    text = " ".join(est.warnings)
    assert "fp16-mixed on a model stored in bf16" in text
    assert "exceeds the model's max_position_embeddings" in text


def test_settings_are_checked_first() -> None:
    """Settings wrong for any model (ZeRO with FSDP) are a SettingsError before anything is computed."""
    with pytest.raises(SettingsError, match="both shard"):
        estimate_training(_spec("openai-community/gpt2"), TrainingSettings(zero=3, fsdp="full", gpus=2))


def test_bare_count_is_model_states_only() -> None:
    """A bare count: states_only, activations 0 with a note, LoRA and tp refused (no architecture)."""
    est = estimate_training_states_only(7 * 10**9)
    assert est.states_only
    assert est.component("activations").bytes == 0
    assert "no architecture" in est.component("activations").note
    with pytest.raises(SettingsError, match="bare parameter count"):
        estimate_training_states_only(7 * 10**9, TrainingSettings(lora_rank=8))


@pytest.mark.parametrize("kw", [{"grad_accum": 2}, {"zero": 2, "gpus": 2}])
def test_optimizer_in_backward_refuses_accumulation_and_zero(kw: dict[str, int]) -> None:
    """Stepping in backward frees each gradient at once: it cannot accumulate or be partitioned by DeepSpeed."""
    with pytest.raises(SettingsError, match="--optimizer-in-backward"):
        estimate_training(_spec("openai-community/gpt2"), TrainingSettings(optimizer_in_backward=True, **kw))


@pytest.mark.parametrize(
    ("kw", "fmt"),
    [
        ({"precision": "bf16-mixed"}, "fp32"),
        ({"precision": "bf16"}, "bf16"),
        ({"precision": "bf16-mixed", "zero": 2, "gpus": 2}, "bf16"),
        ({"precision": "bf16-mixed", "lora_rank": 8}, "bf16"),
        ({"precision": "bf16-mixed", "qlora": True}, "nf4-dq"),
    ],
)
def test_format_names_the_stored_weights(kw: dict[str, object], fmt: str) -> None:
    """The estimate's format is the weights' own: fp32 under autocast, 16-bit under DeepSpeed or pure bf16 or as
    a frozen LoRA base, NF4 under QLoRA (what check_fit reads for GPU support)."""
    s = TrainingSettings.model_validate({**kw, "seq_len": 16})
    assert estimate_training(_spec("meta-llama/Llama-3.1-8B"), s, activations=no_activations).format.name == fmt


def test_bare_count_defaults_to_16_bit_mixed_precision() -> None:
    """A bare count has no checkpoint dtype: it is taken as 16-bit, as the inference estimate takes it, so the
    default is bf16-mixed (fp32 weights, grads and Adam, plus the 16-bit casts)."""
    est = estimate_training_states_only(10**9)
    assert est.settings.precision == "bf16-mixed"
    assert est.component("weights").bytes == 6 * 10**9


def test_named_targets_the_model_lacks_warn_but_all_linear_does_not() -> None:
    """q,gate on GPT-2 adapts c_attn and warns that gate names nothing; all-linear adapts what exists, silently."""
    spec = _spec("openai-community/gpt2")
    named = estimate_training(
        spec, TrainingSettings(lora_rank=8, lora_targets=("q", "gate")), activations=no_activations
    )
    assert any("gate name no module" in w for w in named.warnings)
    default = estimate_training(spec, TrainingSettings(lora_rank=8), activations=no_activations)
    assert not any("name no module" in w for w in default.warnings)


@pytest.mark.parametrize("kw", [{}, {"lora_rank": 16}, {"qlora": True, "grad_checkpointing": "full"}])
def test_every_catalog_model_estimates(kw: dict[str, object]) -> None:
    """Every bundled model gives a full estimate (real activation model) whose peak is the sum of its parts."""
    from vram.resolve.catalog import models

    for m in models():
        est = estimate_training(_spec(m.id), TrainingSettings.model_validate({**kw, "seq_len": 512}))
        assert est.total_bytes == sum(c.bytes for c in est.components) > 0, m.id
        assert est.component("activations").bytes > 0, m.id


def test_allocator_rounds_each_state_tensor() -> None:
    """GPT-2, fp32 AdamW: only the 50257 x 768 embedding (154,389,504 B) passes 10 MiB; c10 rounds it up to 74 x 2 MiB,
    799,744 B more, for each of its four tensors (weight, gradient, exp_avg, exp_avg_sq)."""
    est = estimate_training(
        _spec("openai-community/gpt2"), TrainingSettings(precision="fp32"), activations=no_activations
    )
    assert est.component("overhead").details["allocator_rounding_bytes"] == 4 * (74 * 2 * 1024 * 1024 - 50257 * 768 * 4)
