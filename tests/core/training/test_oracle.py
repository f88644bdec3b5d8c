"""The training estimate against one real transformers + torch training step (scripts/measure_training.py).

Activations: bytes saved for backward per layer and in all, and the forward and backward peaks, for
Llama, Qwen3, Mixtral, Gemma 2, GPT-2 and DeepSeek-V3's MLA in several precisions, attention kernels, LoRA and
checkpointing. Model states: parameters, gradients and optimizer states after ``optimizer.step()``,
on tiny models and, under FakeTensorMode, on real-size ones.
"""

from __future__ import annotations

from typing import Any

import pytest

from vram.core.training.activations import DROPOUT, DROPOUT_MASK_BYTES, STATS_BYTES, training_activations
from vram.core.training.estimate import estimate_training
from vram.core.training.settings import TrainingSettings, parse_lora_targets
from vram.resolve.mapping import spec_from_config

from .oracle_cases import ORACLE, case_inputs

ACTS: list[dict[str, Any]] = ORACLE["activations"]
STATES: list[dict[str, Any]] = ORACLE["states"]

TOLERANCE = 0.01
"""What the model leaves out, below 0.1% in every case here: the checkpoint's saved CPU RNG state
(5 KiB a layer), Gemma's fp32 ``1 + weight`` per norm, the loss scalar and, in backward, the
in-place accumulation's one weight-sized gradient."""


def _name(case: dict[str, Any]) -> str:
    lora = "-lora" + str(len(case["lora_targets"])) if case["lora_targets"] else ""
    if case.get("lora_dropout"):
        lora += "-dropout"
    ckpt = "-ckpt" if case["grad_checkpointing"] != "none" else ""
    return f"{case['config']['model_type']}-{case['precision']}-{case['attention']}{lora}{ckpt}"


def _cpu_only(case: dict[str, Any], layer: int = 1) -> int:
    """Bytes per token in one layer that CPU saves and CUDA does not, by named mechanism (0 where none).

    torch's CPU dropout is the unfused path, which saves its noise tensor in the input dtype where
    CUDA's fused ``native_dropout`` saves a bool mask (aten/src/ATen/native/Dropout.cpp); CPU's
    ``native_layer_norm`` keeps mean and rstd in a 16-bit input's dtype where CUDA keeps fp32.
    """
    cfg = case["config"]
    if case.get("lora_dropout"):
        return _lora_dropout_cpu_only(case, layer)
    if not DROPOUT.get(cfg["model_type"]):
        return 0
    c = 4 if case["precision"] == "fp32" else 2
    h, a, s = cfg["n_embd"], cfg["n_head"], case["seq_len"]
    masks = 2 * h + (a * s if case["attention"] == "eager" else 0)
    extra = masks * (c - DROPOUT_MASK_BYTES) + 2 * 2 * (c - STATS_BYTES)
    if case["attention"] == "sdpa":
        # CPU's SDPA has no fused kernel with dropout: its math path saves the softmax, the noise and
        # the dropped copy (3c per score) and no logsumexp; CUDA's kernels drop inside the kernel.
        extra += 3 * c * a * s - 4 * a
    return extra


def _lora_dropout_cpu_only(case: dict[str, Any], layer: int) -> int:
    """LoRA dropout on all-linear Llama cases (as ``_cpu_only``): CPU's unfused dropout saves its noise
    in the dtype it runs in, the adapter's (peft casts the input first: bf16 adapters under pure bf16
    here, else fp32), where CUDA saves a bool mask; per adapted input element of q, k, v, o, gate, up
    (h wide) and down (f). The first layer's q, k, v read a tensor that needs no gradient: neither
    saves anything there."""
    noise = 2 if case["precision"] == "bf16" else 4
    h, f = case["config"]["hidden_size"], case["config"]["intermediate_size"]
    elements = (0 if layer == 0 else 3 * h) + h + 2 * h + f
    return elements * (noise - DROPOUT_MASK_BYTES)


def _embed_cpu_only(case: dict[str, Any]) -> int:
    """Outside the layers, per token (as ``_cpu_only``): the embedding dropout's noise tensor and the
    final LayerNorm's 16-bit statistics."""
    if not DROPOUT.get(case["config"]["model_type"]):
        return 0
    c = 4 if case["precision"] == "fp32" else 2
    return case["config"]["n_embd"] * (c - DROPOUT_MASK_BYTES) + 2 * (c - STATS_BYTES)


@pytest.mark.parametrize("case", [c for c in ACTS if c["grad_checkpointing"] == "none"], ids=_name)
def test_layer_saves_what_transformers_saves(case: dict[str, Any]) -> None:
    """One decoder layer (the second: the first also keeps the rotary tables) saves the measured bytes."""
    spec, settings, adapters = case_inputs(case)
    tokens = case["batch"] * case["seq_len"]
    expected = case["saved_bytes_by_region"]["layer.1"] - _cpu_only(case) * tokens
    got = training_activations(spec, settings, adapters).details["per_layer_bytes_per_token"]
    assert got * tokens == pytest.approx(expected, rel=TOLERANCE)


@pytest.mark.parametrize("case", ACTS, ids=_name)
def test_saved_bytes_equal_what_forward_leaves_alive(case: dict[str, Any]) -> None:
    """saved_bytes equals the bytes alive when forward returns, less autocast's weight copies (the
    weights line counts them)."""
    spec, settings, adapters = case_inputs(case)
    tokens = case["batch"] * case["seq_len"]
    layers = spec.num_layers if case["grad_checkpointing"] == "none" else 0
    cpu = (sum(_cpu_only(case, i) for i in range(layers)) + _embed_cpu_only(case)) * tokens
    expected = case["alive_after_forward_bytes"] - case["weight_copy_bytes"] - cpu
    assert training_activations(spec, settings, adapters).saved_bytes == pytest.approx(expected, rel=TOLERANCE)


@pytest.mark.parametrize("case", ACTS, ids=_name)
def test_forward_peak(case: dict[str, Any]) -> None:
    """saved_bytes + forward_extra_bytes equals the measured forward peak (at the loss's fp32 upcast),
    less autocast's weight casts (the weights line counts them)."""
    spec, settings, adapters = case_inputs(case)
    tokens = case["batch"] * case["seq_len"]
    layers = spec.num_layers if case["grad_checkpointing"] == "none" else 0
    cpu = (sum(_cpu_only(case, i) for i in range(layers)) + _embed_cpu_only(case)) * tokens
    p = training_activations(spec, settings, adapters)
    copies = case["weight_copy_bytes"]
    if settings.precision == "bf16-mixed" and case["grad_checkpointing"] != "none":
        # Nothing inside a checkpointed layer is saved, but autocast's cache still holds a 16-bit cast
        # of each trainable weight until the autocast region exits (torch autocast_mode.cpp cached_cast).
        copies += 2 * sum(t.numel for t in adapters)
    expected = case["forward_peak_bytes"] - copies - cpu
    assert p.saved_bytes + p.forward_extra_bytes == pytest.approx(expected, rel=TOLERANCE)


@pytest.mark.parametrize("case", ACTS, ids=_name)
def test_backward_peak(case: dict[str, Any]) -> None:
    """backward_extra_bytes equals the measured backward peak above the saved set (gradients
    preallocated). Here it is always the loss's two fp32 vocabulary-wide gradients (8V per token):
    a recomputed layer and its activation gradients stay below it once the head's tensors are freed."""
    spec, settings, adapters = case_inputs(case)
    p = training_activations(spec, settings, adapters)
    assert p.backward_extra_bytes == pytest.approx(case["backward_peak_above_start_bytes"], rel=TOLERANCE)


def _state_settings(case: dict[str, Any]) -> TrainingSettings:
    lora = case["lora_targets"]
    return TrainingSettings(
        precision=case["precision"],
        optimizer=case["optimizer"],
        lora_rank=case["lora_rank"],
        lora_targets=parse_lora_targets(",".join(lora)) if lora else parse_lora_targets("all-linear"),
        seq_len=16,
    )


@pytest.mark.parametrize(
    "case",
    STATES,
    ids=lambda c: f"{c['config']['model_type']}-{c['precision']}-{c['optimizer']}-{bool(c['lora_targets'])}",
)
def test_model_states_equal_a_real_optimizer_step(case: dict[str, Any]) -> None:
    """Weights, gradients and optimizer states equal, to the byte, the tensors one optimizer.step() leaves."""
    est = estimate_training(spec_from_config(case["config"]), _state_settings(case))
    parts = {c.name: c for c in est.components}
    assert est.trainable_parameters == case["trainable_parameters"]
    assert parts["weights"].details["stored_bytes"] + parts["master_weights"].bytes == case["param_bytes"]
    assert parts["gradients"].details["gradient_bytes"] == case["grad_bytes"]
    assert parts["optimizer"].details["state_bytes"] == case["optimizer_state_bytes"]
