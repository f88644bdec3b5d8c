"""scripts/bench.py keeps up with the CLI: a new command cannot go unbenched."""

from __future__ import annotations

import importlib.util

from vram.cli import app

from .conftest import ROOT


def test_bench_covers_every_command() -> None:
    """Every registered command (and --version) has a row in the start-up benchmark."""
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    benched = {cmd[1] for _, cmd in bench.command_rows("vram", "meta-llama/Llama-2-7b-hf")}
    commands = {c.name for c in app.registered_commands}
    assert len(commands) == 7  # estimate, train, fit, inspect, models, gpus, dtypes
    assert commands | {"--version"} == benched
