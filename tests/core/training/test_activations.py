"""Training activations: hand-derived layer figures, Korthikanti et al.'s GPT layer, and invariants."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vram.core.errors import SettingsError
from vram.core.params import Tensor
from vram.core.spec import ModelSpec
from vram.core.training.activations import ActivationPeaks, training_activations
from vram.core.training.lora import adapter_tensors
from vram.core.training.settings import TrainingSettings

from ...strategies import specs

H, A, K, D, F, V = 512, 8, 2, 64, 1536, 4096

LLAMA = ModelSpec(
    model_type="llama",
    architecture="LlamaForCausalLM",
    vocab_size=V,
    hidden_size=H,
    num_layers=3,
    num_heads=A,
    num_kv_heads=K,
    head_dim=D,
    intermediate_size=F,
    mlp_gated=True,
    layer_types=("full",) * 3,
)
"""The Llama layout of formulas.md section 4.2's measured table: h 512, 8 heads over 2 KV heads, SwiGLU 1536."""


def _run(spec: ModelSpec = LLAMA, adapters: tuple[Tensor, ...] = (), **over: Any) -> ActivationPeaks:
    settings = TrainingSettings(**{"precision": "bf16", "batch": 2, "seq_len": 256, **over})
    return training_activations(spec, settings, adapters)


def test_llama_layer_in_bf16_is_the_component_sum() -> None:
    """A pure-bf16 Llama layer with fused attention saves 20h + 4h_kv + 8f + 4a + 8 bytes per token.

    By hand from transformers' LlamaDecoderLayer: each RMSNorm its fp32 input (4h), rsqrt (4) and the
    bf16 normalized input (2h); the q/k/v and gate/up inputs (2h each, shared); q, k, v, the output (2h
    + 4h_kv + 2h) and the fp32 logsumexp (4a); gate, act, up and their product (8f). formulas.md 4.2
    gives the same sum, sbh(20 + 4h_kv/h + 8f/h) + 4abs.
    """
    expected = 20 * H + 4 * K * D + 8 * F + 4 * A + 8
    assert _run().details["per_layer_bytes_per_token"] == expected


def test_llama_layer_in_fp32_keeps_every_tensor_in_four_bytes() -> None:
    """In fp32 the norm input is the residual itself: 2(4h + 4 + 4h) + 2 x 4h + 4(2h + 2h_kv) + 4a + 16f."""
    expected = 2 * (8 * H + 4) + 8 * H + 4 * (2 * H + 2 * K * D) + 4 * A + 16 * F
    assert _run(precision="fp32").details["per_layer_bytes_per_token"] == expected


def test_autocast_casts_each_linear_input_on_its_own() -> None:
    """bf16-mixed: fp32 norms (8h + 4 each) and a bf16 cast per Linear reading an fp32 input (q, k, v,
    gate, up: 5 x 2h); autocast caches only casts of trainable weights (torch autocast_mode.h)."""
    expected = 2 * (8 * H + 4) + 5 * 2 * H + 2 * (2 * H + 2 * K * D) + 4 * A + 8 * F
    assert _run(precision="bf16-mixed").details["per_layer_bytes_per_token"] == expected


def test_eager_adds_the_scores_and_the_repeated_kv() -> None:
    """Eager attention saves the fp32 softmax and its bf16 copy (6as) and k, v repeated to every head."""
    sdpa, eager = _run(), _run(attention="eager")
    extra = 6 * A * 256 + 2 * 2 * (H - K * D) - 4 * A
    assert eager.details["per_layer_bytes_per_token"] - sdpa.details["per_layer_bytes_per_token"] == extra


def test_loss_saves_the_fp32_log_softmax_and_peaks_with_the_upcast() -> None:
    """Standard loss: 4V per token saved; the forward peak adds the bf16 logits and their fp32 copy
    (6V); the backward peak the fp32 gradients of the log-probabilities and the logits (8V)."""
    p, tokens = _run(), 2 * 256
    assert p.details["head_bytes"] == (6 * H + 4 + 2 * H + 4 * V + 8) * tokens
    assert p.forward_extra_bytes == 6 * V * tokens
    assert p.backward_extra_bytes == 8 * V * tokens


def test_chunked_loss_keeps_the_bf16_logits_instead_of_the_fp32_log_softmax() -> None:
    """Chunked fused loss (torchtune's, compiled): 2V + 4 saved per token where the standard loss
    saves 4V; the forward peak adds one of 8 fp32 chunks (4V / 8), the backward peak one chunk's
    bf16 logits gradient (2V / 8), or the last layer's activation gradients when they are larger."""
    p, standard, tokens = _run(loss="chunked"), _run(), 2 * 256
    assert standard.saved_bytes - p.saved_bytes == (4 * V - (2 * V + 4)) * tokens
    assert p.forward_extra_bytes == 4 * V // 8 * tokens
    assert p.details["backward_loss_extra_bytes"] == 2 * V // 8 * tokens


def test_full_checkpointing_keeps_each_layer_input() -> None:
    """Full checkpointing keeps 2h per token per layer and recomputes one layer during backward."""
    none, full = _run(), _run(grad_checkpointing="full")
    tokens = 2 * 256
    assert none.saved_bytes - full.saved_bytes == 3 * (none.details["per_layer_bytes"] - 2 * H * tokens)
    assert full.backward_extra_bytes >= none.details["per_layer_bytes"]


def test_activation_offload_moves_the_checkpointed_inputs_to_the_host() -> None:
    """--activation-offload: the layers' checkpointed inputs (3 x 2h per token) go to CPU RAM."""
    full = _run(grad_checkpointing="full")
    off = _run(grad_checkpointing="full", activation_offload=True)
    assert off.cpu_bytes == 3 * 2 * H * 2 * 256
    assert off.saved_bytes == full.saved_bytes - off.cpu_bytes


def test_lora_adapter_inputs_are_saved_in_the_adapter_dtype() -> None:
    """LoRA with fp32 adapters on a bf16 base (PEFT's default dtype): q and v each save an fp32 copy
    of their input (4h each) and the rank-wide middle (4r); frozen norms save no normalized input."""
    r = 8
    adapters = tuple(Tensor(f"blk.{i}.{t}.lora_a", (r, H), "attention", i) for i in range(3) for t in ("q", "v"))
    p = _run(adapters=adapters, lora_rank=r, lora_targets=("q", "v"), adapter_dtype="fp32")
    norms = 2 * (4 * H + 4)
    attention = 2 * (4 * H + 4 * r) + 2 * (2 * H + 2 * K * D) + 4 * A
    mlp = 3 * 2 * F  # gate out, act and up: the frozen down projection saves no input
    assert p.details["per_layer_bytes_per_token"] == norms + attention + mlp


def test_lora_dropout_saves_a_mask_and_a_dropped_copy_per_adapted_module() -> None:
    """LoRA dropout on q, v with bf16 adapters on a bf16 base: q and v no longer share their bf16 input
    (2h once) but each save their own dropped copy (2h) and CUDA's bool mask (1h): 2 x 3h instead of 2h.

    By hand from peft tuners/lora/layer.py ``lora_B(lora_A(dropout(x)))`` and torch's ``native_dropout``
    (a bool mask saved for backward); the rank-wide middles (2r each) are unchanged.
    """
    r = 8
    adapters = tuple(Tensor(f"blk.{i}.{t}.lora_a", (r, H), "attention", i) for i in range(3) for t in ("q", "v"))
    over: dict[str, Any] = {"adapters": adapters, "lora_rank": r, "lora_targets": ("q", "v")}
    plain = _run(**over).details["per_layer_bytes_per_token"]
    dropped = _run(**over, lora_dropout=0.05).details["per_layer_bytes_per_token"]
    assert isinstance(plain, int)
    assert dropped - plain == 2 * (2 * H + H) - 2 * H


def test_lora_dropout_under_autocast_adds_one_byte_per_adapted_input() -> None:
    """Under bf16 autocast each adapted module already saves its own 16-bit cast, so dropout adds only
    the mask: 1 byte per input element of q, k, v, o, gate, up (h each) and down (f), 6h + f a token."""
    adapters = tuple(adapter_tensors(LLAMA, TrainingSettings(lora_rank=8)))
    over: dict[str, Any] = {"adapters": adapters, "lora_rank": 8, "precision": "bf16-mixed"}
    plain = _run(**over).details["per_layer_bytes_per_token"]
    dropped = _run(**over, lora_dropout=0.1).details["per_layer_bytes_per_token"]
    assert isinstance(plain, int)
    assert dropped - plain == 6 * H + F


def test_lora_dropout_saves_no_mask_for_the_first_layers_frozen_input() -> None:
    """The first layer's q, k, v read the frozen embedding's (normalized) output, which needs no gradient:
    autograd saves no mask there, so three layers hold 3 x (6h + f) mask bytes a token less 3h."""
    adapters = tuple(adapter_tensors(LLAMA, TrainingSettings(lora_rank=8)))
    over: dict[str, Any] = {"adapters": adapters, "lora_rank": 8, "precision": "bf16-mixed"}
    tokens = 2 * 256
    plain = _run(**over).details["layers_bytes"]
    dropped = _run(**over, lora_dropout=0.1).details["layers_bytes"]
    assert isinstance(plain, int)
    assert dropped - plain == (3 * (6 * H + F) - 3 * H) * tokens


def test_korthikanti_gpt_layer() -> None:
    """A GPT-2 layer equals Korthikanti et al. 2022 (arXiv 2205.05198, Table 2), 34sbh + 5as^2b, plus
    what transformers saves beyond their assumptions: LayerNorm's fp32 mean and rstd (2 x 8 B per
    token) and gelu_new written as tensor ops (three 4h-wide bf16 tensors more, 24h)."""
    gpt2 = ModelSpec(
        model_type="gpt2",
        architecture="GPT2LMHeadModel",
        vocab_size=V,
        hidden_size=H,
        num_layers=2,
        num_heads=A,
        num_kv_heads=A,
        head_dim=H // A,
        intermediate_size=4 * H,
        mlp_gated=False,
        fused_qkv=True,
        norm="layernorm",
        learned_positions=1024,
        layer_types=("full",) * 2,
    )
    s = 256
    p = _run(gpt2, attention="eager", seq_len=s)
    assert p.details["per_layer_bytes_per_token"] == 34 * H + 5 * A * s + 16 + 24 * H


def test_tensor_parallel_divides_and_pipeline_keeps_micro_batches_in_flight() -> None:
    """tp=2 (sequence parallel) halves the activations; pp=3 on 3 layers: the first stage holds 3
    micro-batches of 1 layer, as many layer activations as the whole model (Korthikanti 4.2.3)."""
    one, tp2 = _run(), _run(tp=2, gpus=2)
    assert tp2.saved_bytes == -(-one.saved_bytes // 2)
    pp3 = _run(pp=3, gpus=3)
    assert pp3.details["layers_bytes"] == one.details["layers_bytes"]


def test_unresolved_seq_len_is_refused() -> None:
    """The estimate passes resolved settings; a missing seq_len is a SettingsError, not a crash."""
    with pytest.raises(SettingsError):
        training_activations(LLAMA, TrainingSettings(precision="bf16"), ())


@given(specs(), st.sampled_from(["fp32", "bf16", "bf16-mixed"]), st.sampled_from(["sdpa", "eager"]))
def test_checkpointing_never_increases_saved_activations(spec: ModelSpec, precision: str, attention: str) -> None:
    """Full checkpointing never saves more than none, and selective never more than none."""
    base = {"precision": precision, "attention": attention, "seq_len": 64}
    none = _run(spec, **base)
    assert _run(spec, grad_checkpointing="full", **base).saved_bytes <= none.saved_bytes
    assert _run(spec, grad_checkpointing="selective", **base).saved_bytes <= none.saved_bytes


@given(specs(), st.integers(1, 4))
def test_activations_grow_with_the_batch(spec: ModelSpec, extra: int) -> None:
    """More sequences per micro-batch never lower any activation figure."""
    small, big = _run(spec, batch=1, seq_len=32), _run(spec, batch=1 + extra, seq_len=32)
    assert small.saved_bytes <= big.saved_bytes
    assert small.forward_extra_bytes <= big.forward_extra_bytes
    assert small.backward_extra_bytes <= big.backward_extra_bytes


@given(specs(), st.sampled_from(["bf16", "bf16-mixed"]), st.booleans())
def test_eager_never_saves_less_than_fused_attention(spec: ModelSpec, precision: str, lora: bool) -> None:
    """Eager attention keeps the s x s scores on top of what the fused kernels keep, with or without LoRA."""
    settings = TrainingSettings(precision=precision, seq_len=64, lora_rank=8 if lora else None)
    adapters = adapter_tensors(spec, settings)
    sdpa = training_activations(spec, settings, adapters)
    eager = training_activations(spec, settings.model_copy(update={"attention": "eager"}), adapters)
    assert 0 < sdpa.saved_bytes <= eager.saved_bytes
