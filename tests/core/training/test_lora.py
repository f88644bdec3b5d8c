"""LoRA adapter tensors: counts equal PEFT's, names and shapes as the activation model reads them."""

from __future__ import annotations

import pytest

from vram.core.errors import SettingsError
from vram.core.params import Tensor
from vram.core.spec import ModelSpec
from vram.core.training.lora import adapter_tensors, target_of
from vram.core.training.settings import TrainingSettings
from vram.resolve.reference import resolve


def _spec(ref: str) -> ModelSpec:
    spec = resolve(ref).spec
    assert spec is not None
    return spec


def _count(ref: str, **kw: object) -> int:
    return sum(t.numel for t in adapter_tensors(_spec(ref), TrainingSettings.model_validate(kw)))


def test_llama2_7b_q_v_rank_8_matches_peft() -> None:
    """PEFT reports 4,194,304 trainable params for Llama-2-7B, r=8 on q_proj,v_proj: 32 x 2 x 8 x (4096 + 4096)."""
    assert 32 * 2 * 8 * (4096 + 4096) == 4_194_304
    assert _count("meta-llama/Llama-2-7b-hf", lora_rank=8, lora_targets=("q", "v")) == 4_194_304


def test_llama2_7b_all_linear_rank_8_by_hand() -> None:
    """All seven Linears of 32 layers: r x (in + out) each, with h = 4096 and f = 11008, computed by hand."""
    h, f, r = 4096, 11008, 8
    per_layer = 4 * r * (h + h) + 2 * r * (h + f) + r * (f + h)
    assert per_layer * 32 == 19_988_480
    assert _count("meta-llama/Llama-2-7b-hf", lora_rank=8) == 19_988_480


def test_gqa_adapters_follow_the_kv_width() -> None:
    """Llama-3.1-8B k/v project 4096 -> 1024 (8 KV heads x 128): r x (4096 + 1024) each."""
    assert _count("meta-llama/Llama-3.1-8B", lora_rank=16, lora_targets=("k",)) == 32 * 16 * (4096 + 1024)


def test_expert_adapters_are_per_expert() -> None:
    """Mixtral-8x7B all-linear r=8: attention adapters plus r x (in + out) for each of 8 experts' w1, w3, w2."""
    h, f, kv, r, e = 4096, 14336, 1024, 8, 8
    attn = r * ((h + h) + 2 * (h + kv) + (h + h))
    experts = e * 3 * r * (h + f)
    assert _count("mistralai/Mixtral-8x7B-v0.1", lora_rank=8) == 32 * (attn + experts)
    spec = _spec("mistralai/Mixtral-8x7B-v0.1")
    adapters = adapter_tensors(spec, TrainingSettings(lora_rank=8, lora_targets=("up",)))
    assert adapters[0].shape == (8, 8, 4096)
    assert adapters[0].per_expert
    assert adapters[1].shape == (8, 14336, 8)


def test_fused_qkv_is_one_adapted_module() -> None:
    """GPT-2's c_attn is one Linear (768 -> 2304): naming q or v adapts it once, r x (768 + 2304)."""
    assert _count("openai-community/gpt2", lora_rank=4, lora_targets=("q", "v")) == 12 * 4 * (768 + 2304)


def test_targets_naming_no_module_are_refused() -> None:
    """gate on GPT-2 (a plain MLP) names no module: a SettingsError, as PEFT refuses an empty match."""
    spec = _spec("openai-community/gpt2")
    with pytest.raises(SettingsError, match="names no module"):
        adapter_tensors(spec, TrainingSettings(lora_rank=8, lora_targets=("gate",)))


def test_full_fine_tuning_has_no_adapters() -> None:
    """Without --lora-rank or --qlora there are no adapter tensors."""
    assert adapter_tensors(_spec("openai-community/gpt2"), TrainingSettings()) == []


def test_adapter_names_carry_layer_and_target() -> None:
    """Adapters are blk.{i}.{target}.lora_a (r, in) / lora_b (out, r); target_of reads the target back."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    a, b = adapter_tensors(spec, TrainingSettings(lora_rank=8, lora_targets=("down",)))[:2]
    assert (a.name, a.shape, a.layer, a.role) == ("blk.0.down.lora_a", (8, 11008), 0, "mlp")
    assert (b.name, b.shape) == ("blk.0.down.lora_b", (4096, 8))
    assert target_of(a) == "down"
    with pytest.raises(ValueError, match="not a LoRA adapter"):
        target_of(Tensor("blk.norm0", (4096,), "norm", 0))
