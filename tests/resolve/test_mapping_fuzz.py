"""Any JSON object gives a spec or a SpecError: never another exception (so never a traceback)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from vram.core.errors import SpecError
from vram.core.inference import estimate_inference
from vram.resolve.mapping import SUPPORTED_MODEL_TYPES, spec_from_config

from ..conftest import FIXTURES

FIXTURE_CONFIGS = [json.loads(p.read_text()) for p in sorted((FIXTURES / "configs").glob("*.json"))]


def _fixture(name: str, **changes: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((FIXTURES / "configs" / f"{name}.json").read_text())
    return {**cfg, **changes}


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=3),
    st.just(["full_attention", "sliding_attention"]),
)


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A real fixture config with a few keys replaced, deleted or retyped."""
    cfg = dict(draw(st.sampled_from(FIXTURE_CONFIGS)))
    for key in draw(st.lists(st.sampled_from(sorted(cfg)), max_size=4, unique=True)):
        if draw(st.booleans()):
            del cfg[key]
        else:
            cfg[key] = draw(VALUES)
    if draw(st.booleans()):
        cfg["model_type"] = draw(st.sampled_from([*SUPPORTED_MODEL_TYPES, "unknown_arch", 3, None]))
    return cfg


@settings(max_examples=400)
@given(mutated_configs())
@example(_fixture("qwen2-moe-sparse", decoder_sparse_step=0))
@example(_fixture("qwen3-moe-small", decoder_sparse_step=0))
@example(_fixture("deepseek-v3-small", moe_layer_freq=0))
@example(_fixture("gemma3-text-small", sliding_window_pattern=0))
@example(_fixture("llama4-text-interleaved", interleave_moe_layer_step=0))
@example(_fixture("llama4-text-interleaved", no_rope_layer_interval=0))
@example(_fixture("llama4-text-listed", no_rope_layers=[1]))
@example(_fixture("gpt2-small", n_head=0))
def test_mutated_configs_fail_cleanly(cfg: dict[str, Any]) -> None:
    """A damaged config either builds a spec that can be estimated, or raises a SpecError."""
    try:
        spec = spec_from_config(cfg)
    except SpecError:
        return
    assert estimate_inference(spec).total_bytes > 0
