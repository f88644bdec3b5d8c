"""Sharding per GPU: the ZeRO paper's figures, DeepSpeed's estimators, DDP buckets, FSDP, Megatron TP/PP."""

from __future__ import annotations

import pytest

from vram.core.errors import SettingsError
from vram.core.params import tensors
from vram.core.spec import ModelSpec
from vram.core.training.estimate import TrainingEstimate, estimate_training, estimate_training_states_only
from vram.core.training.settings import TrainingSettings
from vram.core.training.sharding import local_tensors
from vram.resolve.reference import resolve

from ._activations_stub import no_activations

PSI = 7_500_000_000


def _spec(ref: str) -> ModelSpec:
    spec = resolve(ref).spec
    assert spec is not None
    return spec


def _model_states(est: TrainingEstimate) -> int:
    return sum(est.component(k).bytes for k in ("weights", "master_weights", "gradients", "optimizer"))


def _paper(zero: int, gpus: int) -> float:
    est = estimate_training_states_only(PSI, TrainingSettings(precision="fp16-mixed", zero=zero, gpus=gpus))
    named = "fp32_partition_bytes" if est.peak_phase == "optimizer_step" else "reduce_bucket_bytes"
    extra = int(est.component("gradients").details.get(named, 0))
    return (_model_states(est) - extra) / 1e9


@pytest.mark.parametrize(("zero", "gb"), [(1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_paper_figure_1(zero: int, gb: float) -> None:
    """ZeRO paper Fig. 1 (arXiv 1910.02054): 7.5B params, mixed-precision Adam, 64 GPUs: 31.4 / 16.6 / 1.9 GB
    of model states per GPU once DeepSpeed's extras named in the notes (the fp32 gradient partition at the step,
    the reduce bucket in backward) are set apart."""
    assert _paper(zero, 64) == pytest.approx(gb, abs=0.05)


def test_zero_paper_baseline() -> None:
    """ZeRO paper Fig. 1 baseline: (2 + 2 + 12) x 7.5B = 120 GB per GPU; here fp32 weights (the master),
    fp32 grads and Adam on one GPU: 4 + 4 + 8 = 16 B/param, the same 120 GB at the step."""
    est = estimate_training_states_only(PSI, TrainingSettings(precision="fp16-mixed"))
    parts = {c.name: c.bytes for c in est.components}
    assert parts["weights"] + parts["gradients"] + parts["optimizer"] == 120 * 10**9 + 2 * PSI  # + fp16 casts
    assert 4 * PSI + 4 * PSI + 8 * PSI == 120 * 10**9


def test_zero2_matches_deepspeed_estimator() -> None:
    """DeepSpeed estimate_zero2_model_states_mem_needs (stage_1_and_2.py): 2 x params + 18 x params / gpus on
    the GPU without offload; our step moment holds exactly that."""
    n = 8
    est = estimate_training_states_only(PSI, TrainingSettings(precision="bf16-mixed", zero=2, gpus=n))
    assert _model_states(est) == 2 * PSI + 18 * PSI // n


def test_zero3_is_close_to_deepspeed_estimator() -> None:
    """DeepSpeed estimate_zero3_model_states_mem_needs (stage3.py): 4 x largest layer + 18 x params / gpus. We
    count the 16-bit gradient partition beside the fp32 one (2 more B/param / gpus) and the reduce bucket."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    n = 8
    est = estimate_training(spec, TrainingSettings(precision="bf16-mixed", zero=3, gpus=n), activations=no_activations)
    ts = tensors(spec)
    psi = sum(t.numel for t in ts)
    largest = max(t.numel for t in ts)
    deepspeed = 4 * largest + 18 * psi // n
    ours = _model_states(est)
    assert deepspeed <= ours <= deepspeed + 2 * psi // n + 2 * 500_000_000


def test_zero3_offload_keeps_only_working_layers_on_the_gpu() -> None:
    """ZeRO-3 with params + optimizer offload: no persistent weights or states on the GPU, host copy x 1.5."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    s = TrainingSettings(precision="bf16-mixed", zero=3, gpus=8, offload="params")
    est = estimate_training(spec, s, activations=no_activations)
    assert est.component("optimizer").bytes == 0
    assert est.component("master_weights").bytes == 0
    assert est.component("weights").details["stored_bytes"] == 0
    psi = 6_738_415_616
    assert est.cpu_bytes == (-(-(8 * psi + 8 * psi) // 8) + -(-2 * psi // 8)) * 3 // 2


def test_ddp_buckets_double_the_gradients() -> None:
    """DDP (gradient_as_bucket_view=False): the reducer's buckets are a second full copy of the gradients."""
    one = estimate_training_states_only(10**9, TrainingSettings(precision="fp32"))
    two = estimate_training_states_only(10**9, TrainingSettings(precision="fp32", gpus=2))
    assert two.component("gradients").bytes == 2 * one.component("gradients").bytes


def test_fsdp_full_shards_states_and_gathers_the_working_units() -> None:
    """FSDP full shard over 8: fp32 params / 8, plus unsharded in bf16 the root unit (embedding, head, final norm:
    FSDP does not reshard the root after forward) and two decoder layers (current + prefetch)."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    s = TrainingSettings(precision="bf16-mixed", fsdp="full", gpus=8, seq_len=16)
    est = estimate_training(spec, s, activations=no_activations)
    w = est.component("weights")
    layer = 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096
    embedding_and_head = 2 * 32000 * 4096 + 4096
    assert w.details["gathered_bytes"] == 2 * (2 * layer + embedding_and_head)
    assert w.details["stored_bytes"] == -(-4 * 6_738_415_616 // 8)


def test_tensor_and_pipeline_parallel_divide_the_layers() -> None:
    """tp 2 x pp 4 on Llama-2-7B: the first stage holds 8 layers with matrices halved, the embedding split by
    vocab, norms whole, and no output layer."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    s = TrainingSettings(precision="bf16", tp=2, pp=4, gpus=8, seq_len=16)
    est = estimate_training(spec, s, activations=no_activations)
    layer = (4 * 4096 * 4096 + 3 * 4096 * 11008) // 2 + 2 * 4096
    expected = 8 * layer + 32000 * 4096 // 2
    assert est.component("weights").details["stored_bytes"] == 2 * expected


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"tp": 3, "gpus": 3}, "does not divide"),
        ({"tp": 16, "gpus": 16}, "8 KV heads"),
        ({"pp": 64, "gpus": 64}, "exceeds the model's 32 layers"),
    ],
)
def test_model_dependent_refusals(kw: dict[str, int], match: str) -> None:
    """tp must divide the heads and KV heads (Megatron), pp at most the layer count: SettingsError."""
    spec = _spec("meta-llama/Llama-3.1-8B")
    with pytest.raises(SettingsError, match=match):
        estimate_training(spec, TrainingSettings.model_validate(kw), activations=no_activations)


def test_tensor_parallel_splits_lora_like_its_base() -> None:
    """Under tp 2, lora_B of a column-parallel q is split by output and lora_A kept whole; for the row-parallel
    o it is the other way round (peft tuners/lora/tp_layer.py): r x (4096 + 4096/2) per layer either way."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    s = TrainingSettings(precision="bf16", tp=2, gpus=2, lora_rank=8, lora_targets=("q", "o"), seq_len=16)
    est = estimate_training(spec, s, activations=no_activations)
    per_layer = 2 * 8 * (4096 + 4096 // 2)
    assert est.component("gradients").details["gradient_bytes"] == 2 * 32 * per_layer


def test_fsdp_qlora_gathers_the_4_bit_storage() -> None:
    """FSDP + QLoRA shards and gathers the NF4 storage itself (bnb_4bit_quant_storage), not a bf16 copy: a gathered
    layer costs its NF4 bytes plus its bf16 adapters."""
    from vram.core.dtypes import get_format, quantized_bytes

    spec = _spec("meta-llama/Llama-2-7b-hf")
    s = TrainingSettings(precision="bf16", fsdp="full", gpus=2, qlora=True, lora_targets=("q",), seq_len=16)
    est = estimate_training(spec, s, activations=no_activations)
    fmt = get_format("nf4-dq")
    layer = [t for t in tensors(spec) if t.layer == 0]
    layer_bytes = sum(quantized_bytes(fmt, t) if t.role in ("attention", "mlp") else 2 * t.numel for t in layer)
    layer_bytes += 2 * 8 * (4096 + 4096)
    root = 2 * (2 * 32000 * 4096 + 4096)
    assert est.component("weights").details["gathered_bytes"] == root + 2 * layer_bytes


def test_offload_moves_the_gradient_partition_to_the_cpu() -> None:
    """With the optimizer offloaded, DeepSpeed reduces gradients into host buffers: none stay on the GPU at the
    step, and the host holds states, fp32 master and fp32 gradients (x 1.5, DeepSpeed's additional_buffer_factor)."""
    p, n = 10**9, 4
    est = estimate_training_states_only(
        p, TrainingSettings(precision="bf16-mixed", zero=2, gpus=n, offload="optimizer")
    )
    assert est.component("optimizer").bytes == 0
    assert est.cpu_bytes == (8 + 4 + 4) * p // n * 3 // 2


def test_most_loaded_stage_of_a_moe_model_with_dense_first_layers() -> None:
    """DeepSeek-V3 (61 layers, the first 3 dense) over pp 4: stages of 16 layers; the second stage (layers
    16-31, all MoE) holds more than the first (3 dense + 13 MoE + the embedding), so its tensors are counted."""
    spec = _spec("deepseek-ai/DeepSeek-V3")
    ts = tensors(spec)
    s = TrainingSettings(precision="bf16", pp=4, gpus=4)
    local = local_tensors(spec, s, ts)
    assert {t.layer for t in local if t.layer is not None} == set(range(16, 32))
    assert not any(t.role == "embedding" for t in local)
    assert sum(t.numel for t in local) == sum(t.numel for t in ts if t.layer is not None and 16 <= t.layer < 32)


def test_megatron_pads_the_vocabulary_and_splits_column_biases() -> None:
    """Qwen2.5-7B (vocab 151,936, q/k/v biases) at tp 4: Megatron pads the vocabulary to a multiple of 128 x 4 =
    512 (152,064 rows, 38,016 per rank) and splits each column-parallel bias with its weight (q: 3,584 / 4)."""
    spec = _spec("Qwen/Qwen2.5-7B")
    local = {
        t.name: t for t in local_tensors(spec, TrainingSettings(tp=4, gpus=4), tensors(spec)) if t.layer in (None, 0)
    }
    assert (38_016, 3_584) == local["token_embd"].shape
    assert (896,) == local["attn_q.bias"].shape
    assert (3_584, 896) == local["attn_output"].shape  # row-parallel: the input columns split
