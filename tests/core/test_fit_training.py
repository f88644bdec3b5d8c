"""Training fits: the seed case's fewest 24 GB cards with its boundary, and exact maxima on random settings."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vram.core.errors import SettingsError
from vram.core.fit_training import (
    fewest_training_gpus,
    layout_args,
    plan_training_fit,
    training_layouts,
)
from vram.core.gpu import Gpu
from vram.core.limits import MAX_BATCH
from vram.core.spec import ModelSpec
from vram.core.training.estimate import estimate_training
from vram.core.training.settings import TrainingSettings
from vram.core.units import GiB
from vram.resolve.catalog import find_gpu, gpu_from_arg
from vram.resolve.reference import resolve

SMALL = ["openai-community/gpt2", "Qwen/Qwen2.5-0.5B", "meta-llama/Llama-3.2-3B", "HuggingFaceTB/SmolLM2-135M"]
"""Catalog models small enough that a search over every setup stays fast."""
CARDS = ["T4", "RTX 3060 12GB", "RTX 4090", "A100 80GB SXM"]


def _spec(model: str) -> ModelSpec:
    spec = resolve(model, offline=True).spec
    assert spec is not None
    return spec


def _total(spec: ModelSpec, s: TrainingSettings, **update: object) -> int:
    return estimate_training(spec, s.model_copy(update=update)).total_bytes


def _fits_at(spec: ModelSpec, s: TrainingSettings, count: int, budget: int) -> bool:
    """Whether any layout of ``count`` GPUs holds ``s``, each layout priced by estimate_training."""
    for n, lay in training_layouts(spec, s, count):
        if n != count:
            continue
        update = {"gpus": lay.gpus, "tp": lay.tp, "pp": lay.pp, "zero": lay.zero, "fsdp": lay.fsdp}
        try:
            if _total(spec, s, **update) <= budget:
                return True
        except SettingsError:
            continue
    return False


def test_llama31_8b_full_fine_tuning_fewest_24gb_cards_under_zero3() -> None:
    """Llama-3.1-8B, AdamW, bf16-mixed, full checkpointing, 2k tokens on RTX 4090s: ZeRO-3 over 7 cards fits
    (estimate_training at 7 is within 23.64 GiB) and no layout of 6 does."""
    spec = _spec("meta-llama/Llama-3.1-8B")
    budget = find_gpu("RTX 4090").usable_memory_bytes
    s = TrainingSettings(precision="bf16-mixed", grad_checkpointing="full")
    found = fewest_training_gpus(spec, s, budget)
    assert found is not None
    assert (found.count, found.tp, found.pp, found.zero) == (7, 1, 1, 3)
    assert found.per_gpu_bytes == _total(spec, s, gpus=7, zero=3) <= budget
    assert not _fits_at(spec, s, 6, budget)
    assert layout_args(found) == "--gpus 7 --zero 3"


def test_without_checkpointing_tensor_parallel_wins() -> None:
    """Without checkpointing ZeRO-3 cannot shrink the 17.8 GiB of activations, Megatron TP divides them: TP 8 on
    8 cards fits and no layout of 7 does."""
    spec = _spec("meta-llama/Llama-3.1-8B")
    budget = find_gpu("RTX 4090").usable_memory_bytes
    s = TrainingSettings(precision="bf16-mixed")
    found = fewest_training_gpus(spec, s, budget)
    assert found is not None
    assert (found.count, found.tp, found.pp, found.zero) == (8, 8, 1, 0)
    assert found.per_gpu_bytes == _total(spec, s, gpus=8, tp=8) <= budget
    assert not _fits_at(spec, s, 7, budget)


def test_fsdp_asked_for_shards_with_fsdp() -> None:
    """With --fsdp full the data-parallel layouts use FSDP full sharding, not ZeRO-3."""
    spec = _spec("meta-llama/Llama-3.1-8B")
    budget = find_gpu("RTX 4090").usable_memory_bytes
    s = TrainingSettings(precision="bf16-mixed", grad_checkpointing="full", fsdp="full")
    found = fewest_training_gpus(spec, s, budget)
    assert found is not None
    assert (found.zero, found.fsdp) == (0, "full")
    assert found.per_gpu_bytes == _total(spec, s, gpus=found.count, fsdp="full") <= budget


def test_8b_on_a_4090_recommends_lora_and_says_what_full_needs() -> None:
    """With checkpointing only the adapter setups train on one RTX 4090; LoRA, the higher precision, is chosen,
    and the reason names pure bf16 full fine-tuning's shortfall."""
    spec = _spec("meta-llama/Llama-3.1-8B")
    plan = plan_training_fit(spec, TrainingSettings(grad_checkpointing="full"), find_gpu("RTX 4090"))
    fits = {r.dtype: r.fits for r in plan.rows}
    assert fits == {"fp32": False, "bf16-mixed": False, "bf16": False, "lora": True, "qlora": True}
    assert plan.recommended == "lora"
    assert "bf16 needs" in plan.reason
    assert plan.min_gpus is not None
    assert plan.min_gpus.dtype == "bf16-mixed"


def test_nothing_fits_suggests_checkpointing() -> None:
    """Without checkpointing nothing trains on one RTX 4090; QLoRA with full checkpointing does (checked)."""
    spec = _spec("meta-llama/Llama-3.1-8B")
    card = find_gpu("RTX 4090")
    plan = plan_training_fit(spec, TrainingSettings(), card)
    assert plan.recommended is None
    assert plan.suggestion is not None
    assert plan.suggestion == "--precision bf16-mixed --seq-len 2048 --grad-checkpointing full --lora-rank 8 --qlora"
    s = TrainingSettings(precision="bf16-mixed", qlora=True, lora_rank=8)
    assert _total(spec, s, grad_checkpointing="full") <= card.usable_memory_bytes < _total(spec, s)


def test_a_card_without_bf16_trains_in_fp16_mixed() -> None:
    """On a T4 (Turing) the mixed row is fp16-mixed and no pure-bf16 row is offered, with a note saying why."""
    plan = plan_training_fit(_spec("gpt2"), TrainingSettings(), find_gpu("T4"))
    assert [r.dtype for r in plan.rows] == ["fp32", "fp16-mixed", "lora", "qlora"]
    assert any("Ampere" in n for n in plan.notes)


def test_naming_a_setup_gives_one_row() -> None:
    """--lora-rank 16 narrows the table to that setup, which is also what the fewest GPUs hold."""
    plan = plan_training_fit(_spec("gpt2"), TrainingSettings(lora_rank=16), find_gpu("RTX 4090"))
    assert [(r.dtype, r.args) for r in plan.rows] == [
        ("lora", ("--precision", "fp32", "--seq-len", "1024", "--lora-rank", "16"))
    ]  # gpt2's 1,024 positions cap the 2,048 default
    assert plan.target.settings.lora_rank == 16


@settings(max_examples=12, deadline=None)
@given(
    st.sampled_from(SMALL),
    st.sampled_from(CARDS),
    st.integers(1, 4),
    st.sampled_from([256, 1024, 4096]),
    st.sampled_from(["none", "full"]),
)
def test_maxima_fit_and_one_more_does_not(model: str, card: str, batch: int, seq_len: int, ckpt: str) -> None:
    """Every row's max sequence and max micro-batch fit by estimate_training and one more does not; the fewest
    GPUs fit and no layout of one fewer does."""
    spec = _spec(model)
    gpu = find_gpu(card)
    budget = gpu.usable_memory_bytes
    base = TrainingSettings(batch=batch, seq_len=seq_len, grad_checkpointing=ckpt)  # type: ignore[arg-type]
    plan = plan_training_fit(spec, base, gpu)
    for row in plan.rows:
        s = row.estimate.settings
        if row.max_seq_len is not None and not row.max_seq_len_capped:
            assert _total(spec, s, seq_len=row.max_seq_len) <= budget < _total(spec, s, seq_len=row.max_seq_len + 1)
        if row.max_batch is not None and not row.max_batch_capped:
            assert _total(spec, s, batch=row.max_batch) <= budget < _total(spec, s, batch=row.max_batch + 1)
        assert row.max_batch is None or row.max_batch <= MAX_BATCH
        assert row.fits == (row.total_bytes <= budget) == (row.max_batch is not None and row.max_batch >= batch)
    m = plan.min_gpus
    if m is not None:
        assert m.per_gpu_bytes <= budget
        assert m.count == 1 or not _fits_at(spec, plan.target.settings, m.count - 1, budget)


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(SMALL), st.integers(2, 40), st.integers(1, 30))
def test_maxima_grow_with_the_card(model: str, small_gib: int, extra_gib: int) -> None:
    """A card with more memory never allows a shorter sequence or a smaller micro-batch."""
    spec = _spec(model)
    cards: list[Gpu] = [gpu_from_arg(f"{small_gib}GiB"), gpu_from_arg(f"{small_gib + extra_gib}GiB")]
    lo, hi = (plan_training_fit(spec, TrainingSettings(), c) for c in cards)
    assert hi.usable_bytes - lo.usable_bytes == extra_gib * GiB
    for a, b in zip(lo.rows, hi.rows, strict=True):
        assert (b.max_seq_len or 0) >= (a.max_seq_len or 0)
        assert (b.max_batch or 0) >= (a.max_batch or 0)
