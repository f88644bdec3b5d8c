"""Parameter counts equal what transformers builds, to the parameter.

Golden numbers: ``tests/core/golden_params.json``, produced by ``scripts/golden_params.py``
(transformers 5.23.0 + torch 2.13.0+cpu, models built on the meta device from each config,
``sum(p.numel() for p in model.parameters())``). It covers every catalog model and the
synthetic configs in ``tests/fixtures/configs`` (one or more per supported model_type, with the
flags that change the layout: biases, head_dim, q/k norms, MoE layer schedules, MLA, Falcon's
three attention layouts, OPT's projection, GPT-BigCode's multi-query c_attn, Llama 4's interleaved
MoE/dense layers and shared expert, and the Gemma 3, Mistral 3 and Llama 4 vision towers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vram.core.params import count_parameters, tensors
from vram.resolve.mapping import SUPPORTED_MODEL_TYPES, spec_from_config

from ..conftest import ROOT

GOLDEN: dict[str, dict[str, Any]] = json.loads((Path(__file__).parent / "golden_params.json").read_text())
CASES = {k: v for k, v in GOLDEN.items() if not k.startswith("_")}


def _config(entry: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads((ROOT / entry["file"]).read_text())
    return doc.get("config", doc)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_transformers(name: str) -> None:
    """The count from config.json equals transformers' own count for that config."""
    spec = spec_from_config(_config(CASES[name]))
    assert CASES[name]["parameters"] == count_parameters(spec).total


def test_every_supported_model_type_has_a_golden_case() -> None:
    """Each model_type in the mapping table is checked against transformers at least once."""
    covered = {_config(e)["model_type"] for e in CASES.values()}
    assert set(SUPPORTED_MODEL_TYPES) <= covered


def test_every_catalog_model_has_a_golden_count() -> None:
    """No catalog model ships without its transformers count in the golden file."""
    catalog = {p.stem for p in (ROOT / "src/vram/data/models").glob("*.json")}
    assert catalog <= set(CASES)


LLAMA_7B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "vocab_size": 32000,
}


def test_llama_7b_class_count() -> None:
    """The seed figure: a LLaMA-7B-class config has 6,738,415,616 parameters (untied head, no biases)."""
    assert 6_738_415_616 == count_parameters(spec_from_config(LLAMA_7B)).total


def test_tied_embeddings_count_once() -> None:
    """Tying the head to the embedding removes exactly vocab x hidden parameters."""
    untied = count_parameters(spec_from_config(LLAMA_7B)).total
    tied = count_parameters(spec_from_config({**LLAMA_7B, "tie_word_embeddings": True})).total
    assert untied - tied == 32000 * 4096


def test_moe_active_parameters() -> None:
    """Active parameters replace all experts by top-k of them and keep everything else."""
    cfg = _config(CASES["mixtral-small"])
    spec = spec_from_config(cfg)
    count = count_parameters(spec)
    experts = sum(t.numel for t in tensors(spec) if t.role == "expert")
    assert count.total - experts + experts * 2 // 4 == count.active


def test_shapes_are_out_by_in() -> None:
    """Matrices are (out, in): q is (heads*head_dim, hidden), o is (hidden, heads*head_dim)."""
    spec = spec_from_config({**LLAMA_7B, "num_key_value_heads": 8, "head_dim": 96})
    by_name = {t.name: t.shape for t in tensors(spec) if t.layer == 0}
    assert (32 * 96, 4096) == by_name["attn_q"]
    assert (8 * 96, 4096) == by_name["attn_k"]
    assert (4096, 32 * 96) == by_name["attn_output"]
