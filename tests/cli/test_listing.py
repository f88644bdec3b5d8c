"""`vram models`, `vram gpus`, `vram dtypes`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vram.cli import app

runner = CliRunner()


def test_models_json_lists_catalog_with_counts() -> None:
    """vram models --json lists every catalog model with its exact parameter count."""
    result = runner.invoke(app, ["models", "--json"])
    assert 0 == result.exit_code
    rows = {m["id"]: m for m in json.loads(result.stdout)["models"]}
    assert 7_615_616_512 == rows["Qwen/Qwen2.5-7B"]["parameters"]


def test_gpus_catalog_is_broad() -> None:
    """The GPU catalog has at least 25 cards across NVIDIA, AMD and Apple."""
    result = runner.invoke(app, ["gpus", "--json"])
    cards = json.loads(result.stdout)["gpus"]
    assert len(cards) >= 25
    assert {"nvidia", "amd", "apple"} <= {c["vendor"] for c in cards}


def test_dtypes_lists_sources() -> None:
    """Every format in vram dtypes --json names its source."""
    result = runner.invoke(app, ["dtypes", "--json"])
    formats = json.loads(result.stdout)["formats"]
    assert all(f["source"] for f in formats)
    assert {"nf4", "Q4_K_M", "mxfp4", "fp8"} <= {f["name"] for f in formats}


def test_version() -> None:
    """vram --version prints the package version and exits 0."""
    from vram import __version__

    result = runner.invoke(app, ["--version"])
    assert 0 == result.exit_code
    assert f"vram {__version__}\n" == result.stdout
