"""TrainingSettings: LoRA target parsing and the combinations refused for any model."""

from __future__ import annotations

import pytest

from vram.core.errors import SettingsError
from vram.core.training.settings import TrainingSettings, parse_lora_targets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("q,v", ("q", "v")),
        ("v_proj, q_proj", ("q", "v")),
        ("qv", ("q", "v")),
        ("attn", ("q", "k", "v", "o")),
        ("mlp", ("gate", "up", "down")),
        ("all-linear", ("q", "k", "v", "o", "gate", "up", "down")),
        ("attn,down", ("q", "k", "v", "o", "down")),
    ],
)
def test_lora_targets_parse_to_canonical_order(text: str, expected: tuple[str, ...]) -> None:
    """Short names, Hugging Face module names and shortcuts all give the targets in q..down order."""
    assert expected == parse_lora_targets(text)


def test_unknown_lora_target_names_the_known_ones() -> None:
    """A target the decoder has no module for is a SettingsError listing what exists."""
    with pytest.raises(SettingsError, match=r"unknown LoRA target 'w1'.*gate, up, down"):
        parse_lora_targets("q,w1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zero": 3, "fsdp": "full"}, "choose one"),
        ({"gpus": 6, "tp": 4}, "not divisible"),
        ({"gpus": 8, "tp": 2, "pp": 3}, "not divisible"),
        ({"offload": "optimizer"}, "needs a sharded optimizer"),
        ({"offload": "params", "zero": 2}, "needs sharded parameters"),
        ({"lora_targets": ("q",)}, "apply to LoRA"),
        ({"adapter_dtype": "bf16"}, "apply to LoRA"),
        ({"lora_rank": 8, "lora_targets": ()}, "names no module"),
    ],
)
def test_incompatible_combinations_are_refused(kwargs: dict[str, object], message: str) -> None:
    """Combinations wrong for any model raise a SettingsError (exit 2) from check()."""
    with pytest.raises(SettingsError, match=message):
        TrainingSettings(**kwargs).check()  # type: ignore[arg-type]


def test_qlora_rank_defaults_to_peft_r() -> None:
    """--qlora without a rank uses PEFT's LoraConfig default r=8; data parallel = gpus / (tp x pp)."""
    s = TrainingSettings(qlora=True, gpus=16, tp=2, pp=2, zero=1)
    s.check()
    assert (s.lora, s.rank, s.data_parallel) == (True, 8, 4)
    assert (False, None) == (TrainingSettings().lora, TrainingSettings().rank)
