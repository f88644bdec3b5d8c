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


def test_inspect_json_names_origins() -> None:
    """vram inspect --json gives each architecture value with the config key and origin it came from."""
    result = runner.invoke(app, ["inspect", "google/gemma-3-1b-it", "--json"])
    assert 0 == result.exit_code
    doc = json.loads(result.stdout)
    arch = doc["architecture"]
    assert {"value": 26, "from": "num_hidden_layers (config.json)"} == arch["layers"]
    assert "transformers default" in arch["tied embeddings"]["from"]
    assert "512 on 22/26 layers" == arch["sliding window"]["value"]
    assert 999_885_952 == doc["parameters"]["total"]


def test_inspect_mla_and_moe() -> None:
    """For DeepSeek-V3 inspect shows MLA ranks, experts and the pre-quantized format."""
    result = runner.invoke(app, ["inspect", "deepseek-v3", "--json"])
    arch = json.loads(result.stdout)["architecture"]
    assert 512 == arch["MLA kv_lora_rank"]["value"]
    assert "58/61" == arch["MoE layers"]["value"]
    assert "first_k_dense_replace (config.json)" == arch["MoE layers"]["from"]
    assert "fp8-block" == arch["quantization"]["value"]


def test_inspect_parameter_count_is_a_usage_error() -> None:
    """A bare parameter count has no architecture: exit 2 with a message."""
    result = runner.invoke(app, ["inspect", "7b"])
    assert 2 == result.exit_code
    assert "no architecture" in result.stderr
