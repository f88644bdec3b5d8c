"""Inference rules on a toy decoder small enough to count by hand, branch by branch.

The toy (vocab 10, hidden 2, one head of 2, gated MLP of 3, one layer, untied) has 80 parameters in
12 tensors; every figure below is counted from the layout rules in ``vram.core.inference`` and the
allocator rules in ``vram.core.overhead`` (PyTorch c10/cuda/CUDACachingAllocator.cpp), not read back.
"""

from __future__ import annotations

from typing import Any

import pytest

from vram.core.checkpoint import Checkpoint
from vram.core.dtypes import get_format
from vram.core.errors import SettingsError
from vram.core.inference import (
    InferenceSettings,
    compute_dtype,
    estimate_inference,
    estimate_weights_only,
    kv_cache,
    price_tensor,
)
from vram.core.overhead import CUDA_CONTEXT_BYTES, allocator_bytes
from vram.core.params import Tensor
from vram.core.result import Component, Estimate
from vram.core.spec import MLA, ModelSpec, MoE
from vram.core.units import MiB

from .toy import toy_spec


def _spec(**over: Any) -> ModelSpec:
    """The toy decoder, fp16 checkpoint, no maximum context."""
    return toy_spec(**{"torch_dtype": "float16", **over})


def _moe(**over: Any) -> MoE:
    return MoE(
        **{"num_experts": 4, "experts_per_token": 2, "expert_intermediate_size": 8, "moe_layers": (True,), **over}
    )


def test_allocator_rounds_each_request() -> None:
    """c10 rounds to 512 B, and from 10 MiB up to whole 2 MiB; empty requests cost nothing and do not stop the sum."""
    assert 0 == allocator_bytes([])
    assert 512 + 512 + 1024 == allocator_bytes([0, -3, 1, 512, 513])
    assert 12 * MiB + 512 == allocator_bytes([10 * MiB + 1, 0, 100])
    assert 10 * MiB - 512 == allocator_bytes([10 * MiB - 512])


def test_fp32_when_the_checkpoint_names_no_dtype() -> None:
    """Without quantization or torch_dtype, transformers loads fp32: 4 bytes x 80 parameters."""
    est = estimate_inference(_spec(torch_dtype=None), InferenceSettings(seq_len=1))
    assert ("fp32", "fp32", 320) == (est.settings.dtype, est.compute_dtype, est.component("weights").bytes)


@pytest.mark.parametrize(
    ("fmt", "torch_dtype", "expected"),
    [("nf4", "bfloat16", "bf16"), ("nf4", "float16", "fp16"), ("nf4", "float32", "bf16"), ("nf4", None, "bf16")],
)
def test_quantized_formats_compute_in_the_checkpoints_16_bit_dtype(
    fmt: str, torch_dtype: str | None, expected: str
) -> None:
    """Quantized weights leave the rest in the checkpoint's fp16/bf16, else bf16."""
    assert expected == compute_dtype(get_format(fmt), torch_dtype)


def test_gguf_computes_activations_in_f32_and_caches_kv_in_f16() -> None:
    """A GGUF estimate caches K/V in llama.cpp's default f16 and sizes activations at 4 bytes (ggml's f32 results).

    Seq 4: held 4 x 4 (embeddings, layer input) + 4 x 4 (rotary cos/sin) = 32 elements; attention is the widest
    step at 4 x (2 + 4 x 2 + 2 x 2) = 56 (the MLP: 4 x 13, the logits far less): (32 + 56) x 4 B = 352.
    """
    est = estimate_inference(_spec(torch_dtype="bfloat16"), InferenceSettings(dtype="Q8_0", seq_len=4))
    assert ("fp16", "fp16") == (est.compute_dtype, est.settings.kv_dtype)
    assert 352 == est.component("activations").bytes
    overhead = est.component("overhead")
    assert (CUDA_CONTEXT_BYTES, 0) == (overhead.bytes, overhead.details["allocator_rounding_bytes"])
    assert overhead.note == "CUDA context 512 MiB + no allocator rounding (llama.cpp: one buffer per device)"


def test_mxfp4_converts_matrices_of_dense_models_and_only_experts_of_moe() -> None:
    """MXFP4 on a dense model converts attention; on a MoE model attention stays in the compute dtype."""
    q = Tensor("attn_q", (2, 32), "attention", 0)
    fmt = get_format("mxfp4")
    assert {"mxfp4"} == {kind for kind, _ in price_tensor(_spec(), fmt, q)}
    dense_layers_moe = _spec(moe=_moe(), intermediate_size=3)
    assert [("fp16", 2 * 32 * 2)] == price_tensor(dense_layers_moe, fmt, q)


def test_kv_cache_details_and_sliding_note() -> None:
    """Two full layers and a sliding one (window 3) at seq 10: 8 B per token per layer, 10 + 10 + 3 token-layers."""
    spec = _spec(num_layers=3, layer_types=("full", "full", "sliding"), sliding_window=3)
    kv = kv_cache(spec, "fp16", batch=2, seq_len=10, mla_cache="latent")
    assert 8 * 23 * 2 == kv.bytes
    assert {"bytes_per_token": 24, "bytes_per_token_per_layer": 8, "cached_token_layers": 23, "dtype": "fp16"} == (
        kv.details
    )
    assert "kv_cache" == kv.name
    assert kv.note == (
        "24 B/token (3 layers x 8 B, fp16), 1 KV heads x 2 head_dim, 1/3 layers slide (window 3), x 2 x 10 tokens"
    )


def test_mla_cache_notes_name_the_layout() -> None:
    """MLA notes say which cache layout was sized: the latent (vLLM/SGLang) or per-head K/V (transformers)."""
    spec = _spec(
        num_heads=2, mla=MLA(q_lora_rank=None, kv_lora_rank=4, qk_nope_head_dim=2, qk_rope_head_dim=1, v_head_dim=2)
    )
    latent = kv_cache(spec, "fp16", 1, 1, "latent")
    expanded = kv_cache(spec, "fp16", 1, 1, "expanded")
    assert ((4 + 1) * 2, (2 * 3 + 2 * 2) * 2) == (latent.bytes, expanded.bytes)
    assert "MLA latent cache (vLLM/SGLang)" in latent.note
    assert "MLA expanded per-head K/V (transformers)" in expanded.note
    # The default is the latent cache vLLM and SGLang allocate: 5 elements x 2 B x 7 tokens.
    assert 5 * 2 * 7 == estimate_inference(spec, InferenceSettings(seq_len=7)).component("kv_cache").bytes


def test_mla_activation_peak_is_at_attention() -> None:
    """MLA toy (2 heads, q/k 2 + 1 rotary, v 2, latent 4): attention holds 2 + 2 x 18 + 2 x 4 + 1 = 47 per token.

    Per head: q, its rotated part and the full query (3 x 3), the rotary key (1), the nope key (2), the value,
    SDPA output and its copy (3 x 2) = 18. Held: embeddings and layer input (2 x 2) and cos/sin of the 1-wide
    rotary part (2 per position). Seq 8, fp16: (8 x 4 + 8 x 2 + 8 x 47) x 2 B.
    """
    mla = MLA(q_lora_rank=3, kv_lora_rank=4, qk_nope_head_dim=2, qk_rope_head_dim=1, v_head_dim=2)
    acts = estimate_inference(_spec(num_heads=2, mla=mla), InferenceSettings(seq_len=8)).component("activations")
    assert ("attention", (8 * 4 + 8 * 2 + 8 * 47) * 2) == (acts.details["widest_step"], acts.bytes)


def test_learned_positions_attention_width() -> None:
    """Without rotary (learned positions), attention holds fused qkv, SDPA output and its copy: 3 q + 2 kv.

    2 heads (q 4, kv 2): 2 + 3 x 4 + 2 x 2 = 18 per token against the MLP's 4 + 9; held 4 per token plus the
    2-wide position rows. Seq 8, fp16: (8 x 4 + 8 x 2 + 8 x 18) x 2 B.
    """
    spec = _spec(num_heads=2, learned_positions=16)
    acts = estimate_inference(spec, InferenceSettings(seq_len=8)).component("activations")
    assert ("attention", (8 * 4 + 8 * 2 + 8 * 18) * 2) == (acts.details["widest_step"], acts.bytes)


def test_moe_step_is_named() -> None:
    """A MoE block of 4 experts (top 2, width 8): 4 router logits + 2 x (2 + 4 x 8) beside 2 x 2 = 76 per token."""
    spec = _spec(intermediate_size=0, moe=_moe())
    acts = estimate_inference(spec, InferenceSettings(seq_len=8)).component("activations")
    assert ("moe", (8 * 4 + 8 * 4 + 8 * 76) * 2) == (acts.details["widest_step"], acts.bytes)


def test_bnb_on_moe_warns_that_experts_stay_unquantized() -> None:
    """bitsandbytes skips fused experts: the warning counts them (4 x 8 x 2 x 3 = 192) and names the dtype."""
    spec = _spec(intermediate_size=0, moe=_moe())
    (warning,) = estimate_inference(spec, InferenceSettings(dtype="nf4", seq_len=1)).warnings
    assert warning.startswith("bitsandbytes (transformers 5) converts only nn.Linear layers: the 192 fused expert")
    assert "parameters stay in fp16" in warning
    assert 1 == len(estimate_inference(spec, InferenceSettings(dtype="int8", seq_len=1)).warnings)
    assert () == estimate_inference(_spec(), InferenceSettings(dtype="nf4", seq_len=1)).warnings
    assert () == estimate_inference(spec, InferenceSettings(dtype="fp8", seq_len=1)).warnings


def test_kv_dtype_names_are_normalized() -> None:
    """--kv-dtype accepts any case and torch names; an unknown one is refused with the accepted names."""
    assert "fp8" == estimate_inference(_spec(), InferenceSettings(kv_dtype="FP8", seq_len=1)).settings.kv_dtype
    assert "bf16" == estimate_inference(_spec(), InferenceSettings(kv_dtype="bfloat16", seq_len=1)).settings.kv_dtype
    with pytest.raises(SettingsError, match=r"unknown KV cache dtype 'int3'; choose one of fp64, fp32, fp16"):
        estimate_inference(_spec(), InferenceSettings(kv_dtype="int3"))


def test_context_warning_only_past_the_maximum() -> None:
    """--seq-len above max_position_embeddings warns with both numbers; at the maximum, or with none, it does not."""
    spec = _spec(max_position_embeddings=8)
    (warning,) = estimate_inference(spec, InferenceSettings(seq_len=9)).warnings
    assert "--seq-len 9 exceeds the model's max_position_embeddings (8)" == warning
    assert () == estimate_inference(spec, InferenceSettings(seq_len=8)).warnings
    assert () == estimate_inference(_spec(), InferenceSettings(seq_len=10**6)).warnings


def test_weights_line_and_allocator_rounding() -> None:
    """An fp16 toy with an 11 MiB embedding and head: each rounds to 12 MiB, the 10 small tensors to 512 B.

    vocab 2,883,600 x 2 x 2 B = 11,534,400 B per large tensor; the small ones hold 80 B; one layer's KV at
    seq 4096 is 32 KiB (a 512 B multiple).
    """
    vocab = 2_883_600
    est = estimate_inference(_spec(vocab_size=vocab), InferenceSettings(seq_len=4096))
    weights = est.component("weights")
    assert weights.note.startswith(f"{2 * vocab * 2 + 40:,} params, 16.00 bits each on average: fp16 100%")
    assert 16.0 == weights.details["bits_per_parameter"]
    rounding = 2 * (12 * MiB - 4 * vocab) + 10 * 512 - 80
    overhead = est.component("overhead")
    assert (CUDA_CONTEXT_BYTES + rounding, rounding) == (overhead.bytes, overhead.details["allocator_rounding_bytes"])
    assert CUDA_CONTEXT_BYTES == overhead.details["cuda_context_bytes"]
    assert "CUDA context 512 MiB + PyTorch allocator rounding 2 MiB (2 MiB pages)" == overhead.note


def test_mixture_lists_the_largest_type_first() -> None:
    """int8 (LLM.int8) on the toy: 34 int8 weights + 4 B per matrix row (98 B), 46 params left fp16 (92 B)."""
    est = estimate_inference(_spec(), InferenceSettings(dtype="int8", seq_len=1))
    weights = est.component("weights")
    row_scales = 4 * (2 + 2 + 2 + 2 + 3 + 3 + 2)
    assert {"bytes_fp16": 92, "bytes_bnb-int8": 34 + row_scales} == {
        k: v for k, v in weights.details.items() if k.startswith("bytes_")
    }
    assert weights.note.endswith("on average: bnb-int8 52%, fp16 48%")


def test_checkpoint_bytes_are_the_weights_unless_a_dtype_is_asked() -> None:
    """Stored files are the authority: 100 BF16 elements (200 B) against the config's 80 warn; --dtype prices."""
    ckpt = Checkpoint(
        source="safetensors", parameters_by_dtype={"BF16": 100}, bytes_by_dtype={"BF16": 200}, tensor_bytes=(200,)
    )
    est = estimate_inference(_spec(), InferenceSettings(seq_len=1), checkpoint=ckpt)
    weights = est.component("weights")
    assert 200 == weights.bytes
    assert {
        "bits_per_parameter": 20.0,
        "source": "safetensors",
        "stored_elements": 100,
        "bytes_BF16": 200,
    } == weights.details
    assert weights.note == "as stored in the safetensors files, 20.00 bits/param: BF16 100%"
    (warning,) = est.warnings
    assert warning.startswith("config.json describes 80 parameters but the safetensors files hold 100;")
    # One stored tensor of 200 B rounds to 512 B; the 1-token KV of 8 B to 512 B.
    assert CUDA_CONTEXT_BYTES + 312 + 504 == est.component("overhead").bytes
    priced = estimate_inference(_spec(), InferenceSettings(dtype="fp16", seq_len=1), checkpoint=ckpt)
    assert (160, ()) == (priced.component("weights").bytes, priced.warnings)


def test_packed_checkpoints_do_not_compare_elements() -> None:
    """Packed int codes are no parameter count, so a differing element count is not warned about."""
    ckpt = Checkpoint(source="safetensors", parameters_by_dtype={"I32": 10}, bytes_by_dtype={"I32": 40})
    assert () == estimate_inference(_spec(), InferenceSettings(seq_len=1), checkpoint=ckpt).warnings


def test_weights_only_names_the_ignored_settings() -> None:
    """A bare count warns once, naming each setting it ignores and what to pass instead."""
    est = estimate_weights_only(10**9, "fp16", ignored=("--seq-len", "--batch"))
    (warning,) = est.warnings
    assert warning.startswith("--seq-len, --batch ignored: a bare parameter count has no architecture")
    assert "a config.json or a repo id to size the KV cache" in warning
    assert "weights only: give a config or catalog model for KV cache" in est.component("weights").note


def test_component_lookup_and_fit_boundary() -> None:
    """component() names the missing line in its KeyError; a total equal to the budget fits."""
    est = Estimate(components=(Component(name="weights", bytes=10, note=""),))
    with pytest.raises(KeyError, match="kv_cache"):
        est.component("kv_cache")
    assert (True, False) == (est.fits(10), est.fits(9))
