"""Model states per precision: which copies exist and their bytes per parameter."""

from __future__ import annotations

import pytest

from vram.core.spec import ModelSpec
from vram.core.training.estimate import estimate_training, estimate_training_states_only
from vram.core.training.settings import TrainingSettings
from vram.core.training.states import default_precision
from vram.resolve.reference import resolve

from ._activations_stub import no_activations

B = 1_000_000_000


def _states(est_components: dict[str, int]) -> int:
    return sum(est_components[k] for k in ("weights", "master_weights", "gradients", "optimizer"))


def _bytes(parameters: int, **kw: object) -> dict[str, int]:
    est = estimate_training_states_only(parameters, TrainingSettings.model_validate(kw))
    return {c.name: c.bytes for c in est.components}


def _spec(ref: str) -> ModelSpec:
    spec = resolve(ref).spec
    assert spec is not None
    return spec


def test_one_billion_fp32_adam_is_16_gb() -> None:
    """1B params, fp32, Adam: 4 (weights) + 4 (gradients) + 8 (two states) = 16 GB (Transformer Math 101)."""
    got = _bytes(B, precision="fp32")
    assert (got["weights"], got["gradients"], got["optimizer"], got["master_weights"]) == (4 * B, 4 * B, 8 * B, 0)


def test_mixed_precision_keeps_fp32_weights_as_the_master() -> None:
    """bf16-mixed without DeepSpeed: fp32 weights (the master) + their bf16 autocast copies, fp32 grads, fp32
    states: 6 + 4 + 8 = 18 B/param, HF's model_memory_anatomy figure; 16 B/param at the step."""
    est = estimate_training_states_only(B, TrainingSettings(precision="bf16-mixed"))
    got = {c.name: c.bytes for c in est.components}
    assert _states(got) == 18 * B
    assert got["master_weights"] == 0
    assert "master copy" in est.component("master_weights").note


def test_pure_bf16_is_8_bytes_per_parameter() -> None:
    """Pure bf16 (torchtune): 2 (weights) + 2 (grads) + 4 (two bf16 states) = 8 B/param."""
    assert _states(_bytes(B, precision="bf16")) == 8 * B


def test_eight_bit_adamw_on_a_bare_count() -> None:
    """8-bit AdamW: 2 + 8/256 B/param of state, whatever the parameter dtype."""
    assert _bytes(B, precision="bf16", optimizer="adamw-8bit")["optimizer"] == round(B * (2 + 8 / 256))


def test_autocast_cast_copies_are_alive_through_backward() -> None:
    """bf16-mixed on one GPU: at backward start the bf16 casts of the matmul weights (2 B each) sit beside the
    fp32 weights; the embedding (a lookup, untied in Llama) and the norms are not cast."""
    spec = _spec("meta-llama/Llama-3.2-3B")
    est = estimate_training(spec, TrainingSettings(precision="bf16-mixed", seq_len=16), activations=no_activations)
    w = est.component("weights")
    # Llama-3.2-3B ties its embedding: it is the head's weight, so its cast counts too.
    from vram.core.params import tensors

    cast = sum(t.numel for t in tensors(spec) if t.role not in ("norm", "position", "sinks"))
    assert w.details["autocast_copies_bytes"] == 2 * cast


def test_deepspeed_keeps_16_bit_weights_and_an_fp32_master() -> None:
    """ZeRO-1 on one GPU under bf16-mixed: 2 B weights, 2 B grads, 4 B master, 8 B states, and at the step
    DeepSpeed's fp32 gradient partition (4 B)."""
    got = _bytes(B, precision="bf16-mixed", zero=1)
    assert (got["weights"], got["master_weights"], got["optimizer"]) == (2 * B, 4 * B, 8 * B)
    assert got["gradients"] == 2 * B + 4 * B


@pytest.mark.parametrize(("dtype", "expected"), [("bfloat16", "bf16-mixed"), ("float16", "fp16-mixed"),
                                                 ("float32", "fp32"), (None, "fp32")])  # fmt: skip
def test_default_precision_follows_the_checkpoint(dtype: str | None, expected: str) -> None:
    """The default precision is the mixed precision of the checkpoint's dtype, fp32 otherwise."""
    spec = _spec("meta-llama/Llama-3.1-8B").model_copy(update={"torch_dtype": dtype})
    assert default_precision(spec) == expected


def test_lora_freezes_the_base_and_trains_fp32_adapters() -> None:
    """LoRA under bf16-mixed: bf16 frozen base, fp32 adapters (PEFT autocast_adapter_dtype), grads and
    states for the adapters only: 4 (grad) and 8 (Adam) bytes per adapter parameter."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    s = TrainingSettings(precision="bf16-mixed", lora_rank=8, lora_targets=("q", "v"), seq_len=16)
    est = estimate_training(spec, s, activations=no_activations)
    n = 4_194_304
    assert est.trainable_parameters == n
    assert est.component("optimizer").bytes == 8 * n
    assert est.component("weights").details["stored_bytes"] == 2 * 6_738_415_616 + 4 * n


def test_adapter_dtype_override() -> None:
    """--adapter-dtype bf16 halves the adapter weights, gradients and Adam states."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    s = TrainingSettings(precision="bf16-mixed", lora_rank=8, lora_targets=("q", "v"), adapter_dtype="bf16")
    est = estimate_training(spec, s, activations=no_activations)
    assert est.component("optimizer").bytes == 4 * 4_194_304


def test_qlora_stores_nf4_linears_and_fp32_embeddings() -> None:
    """QLoRA (bf16-mixed): nf4-dq Linears, fp32 embedding + head + norms (prepare_model_for_kbit_training)."""
    from vram.core.dtypes import get_format, quantized_bytes
    from vram.core.params import MATRIX_ROLES, tensors

    spec = _spec("meta-llama/Llama-2-7b-hf")
    est = estimate_training(spec, TrainingSettings(qlora=True, precision="bf16-mixed"), activations=no_activations)
    fmt = get_format("nf4-dq")
    ts = tensors(spec)
    nf4 = sum(quantized_bytes(fmt, t) for t in ts if t.role in MATRIX_ROLES)
    other = sum(4 * t.numel for t in ts if t.role not in MATRIX_ROLES)
    adapters = 4 * est.trainable_parameters
    assert est.component("weights").details["stored_bytes"] == nf4 + other + adapters
    assert est.component("weights").details["dequantized_weight_bytes"] == 2 * 4096 * 11008


def test_qlora_on_moe_keeps_experts_unquantized_and_warns() -> None:
    """Mixtral under QLoRA: the fused experts are not nn.Linear, so bitsandbytes leaves them and
    prepare_model_for_kbit_training casts them to fp32 (4 B each); the estimate says so in a warning."""
    from vram.core.params import tensors

    spec = _spec("mistralai/Mixtral-8x7B-v0.1")
    est = estimate_training(spec, TrainingSettings(qlora=True, precision="bf16-mixed"), activations=no_activations)
    experts = sum(t.numel for t in tensors(spec) if t.role == "expert")
    assert est.component("weights").details["stored_bytes"] > 4 * experts
    assert any("fused expert parameters stay unquantized" in w for w in est.warnings)


def test_qlora_above_lora_when_the_vocabulary_dominates() -> None:
    """Qwen2.5-0.5B (136M of its 494M params in the tied embedding) under bf16-mixed: QLoRA's fp32 embedding
    (prepare_model_for_kbit_training) and its bf16 cast for the head outweigh the NF4 savings on the Linears."""
    spec = _spec("Qwen/Qwen2.5-0.5B")
    lora = estimate_training(spec, TrainingSettings(precision="bf16-mixed", lora_rank=16), activations=no_activations)
    qlora = estimate_training(spec, TrainingSettings(precision="bf16-mixed", qlora=True, lora_rank=16),
                              activations=no_activations)  # fmt: skip
    emb = 151936 * 896
    biases = 24 * (896 + 128 + 128)  # q, k, v biases of 24 layers, fp32 like the embedding
    assert qlora.component("weights").details["autocast_copies_bytes"] == 2 * (emb + biases + lora.trainable_parameters)
    assert qlora.total_bytes > lora.total_bytes


def test_checkpointing_keeps_only_the_head_and_one_layer_cast() -> None:
    """Autocast caches every weight's 16-bit cast until forward's region exits, checkpointing or not; in backward,
    under full checkpointing, only the head's cast and those of the one layer being recomputed are alive.
    Llama-2-7B: a 32000 x 4096 head and 32 layers of 4 x 4096^2 + 3 x 4096 x 11008, 2 bytes each."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    s = TrainingSettings(precision="bf16-mixed", grad_checkpointing="full", seq_len=16)
    est = estimate_training(spec, s, activations=no_activations)
    layer = 4 * 4096 * 4096 + 3 * 4096 * 11008
    details = est.component("weights").details
    assert 2 * (32000 * 4096 + 32 * layer) == details["autocast_copies_bytes"]
    assert 2 * (32000 * 4096 + layer) == details["autocast_copies_in_backward_bytes"]
