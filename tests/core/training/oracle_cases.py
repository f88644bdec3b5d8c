"""Inputs for the estimate from one case of tests/core/data/training_oracle.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vram.core.params import Tensor
from vram.core.spec import ModelSpec
from vram.core.training.lora import adapter_tensors
from vram.core.training.settings import TrainingSettings, parse_lora_targets
from vram.resolve.mapping import spec_from_config

ORACLE: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "training_oracle.json").read_text())
"""One transformers 5.23 + torch 2.13 training step per case on CPU (scripts/measure_training.py)."""


def case_inputs(case: dict[str, Any]) -> tuple[ModelSpec, TrainingSettings, list[Tensor]]:
    """The spec, settings and adapters matching one measured activation case."""
    spec = spec_from_config(case["config"])
    lora = case["lora_targets"]
    settings = TrainingSettings(
        precision=case["precision"],
        batch=case["batch"],
        seq_len=case["seq_len"],
        attention=case["attention"],
        grad_checkpointing=case["grad_checkpointing"],
        lora_rank=case["lora_rank"],
        lora_targets=parse_lora_targets(",".join(lora)) if lora else parse_lora_targets("all-linear"),
        lora_dropout=case.get("lora_dropout", 0.0),
    )
    adapters = adapter_tensors(spec, settings)
    return spec, settings, adapters
