"""Config values that would divide by zero or nest without end exit 3 with a message naming the cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode

from ..conftest import FIXTURES

runner = CliRunner()


def _fixture(name: str, **changes: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((FIXTURES / "configs" / f"{name}.json").read_text())
    return {**cfg, **changes}


ZERO_DIVISORS = [
    ("qwen2-moe-sparse", {"decoder_sparse_step": 0}, "decoder_sparse_step"),
    ("deepseek-v3-small", {"moe_layer_freq": 0}, "moe_layer_freq"),
    ("gemma3-text-small", {"sliding_window_pattern": 0}, "sliding_window_pattern"),
    ("llama4-text-interleaved", {"interleave_moe_layer_step": 0}, "interleave_moe_layer_step"),
    ("llama4-text-interleaved", {"no_rope_layer_interval": 0}, "no_rope_layer_interval"),
]


@pytest.mark.parametrize(("fixture", "changes", "field"), ZERO_DIVISORS, ids=[z[2] for z in ZERO_DIVISORS])
def test_zero_divisor_exits_three_naming_the_field(
    tmp_path: Path, fixture: str, changes: dict[str, Any], field: str
) -> None:
    """A layer period of 0 is a bad config (exit 3, field named), not a ZeroDivisionError (exit 5)."""
    (tmp_path / "config.json").write_text(json.dumps(_fixture(fixture, **changes)))
    result = runner.invoke(app, ["estimate", str(tmp_path)])
    assert ExitCode.MODEL == result.exit_code
    assert field in result.stderr
    assert "at least 1" in result.stderr


def test_deeply_nested_config_exits_three(tmp_path: Path) -> None:
    """A config.json of 200,000 nested arrays exits 3 and says why."""
    (tmp_path / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    result = runner.invoke(app, ["estimate", str(tmp_path)])
    assert ExitCode.MODEL == result.exit_code
    assert "nested too deeply" in result.stderr
