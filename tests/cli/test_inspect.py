"""`vram inspect`: every origin it prints is where the value was actually read.

Expected origins are read off the public config.json files the catalog copies (the key that holds
the value) and off the GGUF layout (ggml-org/ggml docs/gguf.md), not from the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode
from vram.resolve import catalog

from ..conftest import FIXTURES
from ..resolve.fake_hub import FakeHub, Repo
from ..resolve.test_gguf_file import model_tensors, write_gguf

runner = CliRunner()


def inspect(*args: str) -> dict[str, Any]:
    """The JSON document of a successful `vram inspect ... --json`."""
    result = runner.invoke(app, ["inspect", *args, "--json"])
    assert ExitCode.OK == result.exit_code, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


# (model, fact, value, from, kind): the key that holds each value in the model's published config.json.
FAMILY_ORIGINS = [
    # qwen3_moe: the expert width is moe_intermediate_size (768), the dense width intermediate_size (6144).
    ("Qwen/Qwen3-30B-A3B", "expert intermediate size", 768, "moe_intermediate_size (config.json)", "config.json"),
    ("Qwen/Qwen3-30B-A3B", "intermediate size", 6144, "intermediate_size (config.json)", "config.json"),
    ("Qwen/Qwen3-30B-A3B", "MoE layers", "48/48", "decoder_sparse_step, mlp_only_layers (config.json)", "config.json"),
    # deepseek_v3 (MLA): experts 2048 wide; one shared expert of the same width; K/V per attention head.
    ("deepseek-v3", "expert intermediate size", 2048, "moe_intermediate_size (config.json)", "config.json"),
    ("deepseek-v3", "experts", 256, "n_routed_experts (config.json)", "config.json"),
    (
        "deepseek-v3",
        "shared expert size",
        2048,
        "moe_intermediate_size x n_shared_experts (config.json)",
        "config.json",
    ),
    ("deepseek-v3", "head dim", 192, "qk_nope_head_dim + qk_rope_head_dim (config.json)", "config.json"),
    ("deepseek-v3", "KV heads", 128, "num_attention_heads, as MLA expands K/V per head (config.json)", "config.json"),
    ("deepseek-v3", "MoE layers", "58/61", "first_k_dense_replace, moe_layer_freq (config.json)", "config.json"),
    ("deepseek-v3", "quantization", "fp8-block", "quantization_config (config.json)", "config.json"),
    # mixtral: no moe_intermediate_size, the experts are intermediate_size wide and there is no dense MLP.
    ("mixtral-8x7b", "expert intermediate size", 14336, "intermediate_size (config.json)", "config.json"),
    ("mixtral-8x7b", "experts", 8, "num_local_experts (config.json)", "config.json"),
    (
        "mixtral-8x7b",
        "intermediate size",
        0,
        "none: every MLP is a mixture of experts (architecture rule)",
        "architecture rule",
    ),
    ("mixtral-8x7b", "MoE layers", "32/32", "fixed by the architecture", "architecture rule"),
    # llama: Llama-2-7b's config has no head_dim: 4096 / 32 heads.
    ("llama-2-7b", "head dim", 128, "head_dim unset: hidden_size / num_attention_heads (derived)", "derived"),
    ("llama-2-7b", "torch_dtype", "float16", "torch_dtype (config.json)", "config.json"),
    # gemma3_text: no tie_word_embeddings in the file; Gemma3TextConfig defaults it to True.
    (
        "gemma-3-1b",
        "tied embeddings",
        True,
        "tie_word_embeddings unset: True (transformers default)",
        "transformers default",
    ),
    ("gemma-3-1b", "layers", 26, "num_hidden_layers (config.json)", "config.json"),
    (
        "gemma-3-1b",
        "sliding window",
        "512 on 22/26 layers",
        "sliding_window, sliding_window_pattern (config.json)",
        "config.json",
    ),
    # gpt2: GPT-2 names (n_layer, n_embd); n_inner absent means 4 x n_embd = 3072.
    ("gpt2", "layers", 12, "n_layer (config.json)", "config.json"),
    ("gpt2", "hidden size", 768, "n_embd (config.json)", "config.json"),
    ("gpt2", "intermediate size", 3072, "n_inner unset: 4 x n_embd (derived)", "derived"),
    ("gpt2", "max context", 1024, "n_positions (config.json)", "config.json"),
    # gpt-oss: MXFP4 from the file's quantization_config; 128-token windows on every other layer.
    ("gpt-oss-20b", "quantization", "mxfp4", "quantization_config (config.json)", "config.json"),
    (
        "gpt-oss-20b",
        "sliding window",
        "128 on 12/24 layers",
        "sliding_window, layer_types (config.json)",
        "config.json",
    ),
]


@pytest.mark.parametrize(("model", "fact", "value", "origin", "kind"), FAMILY_ORIGINS)
def test_origin_per_family(model: str, fact: str, value: object, origin: str, kind: str) -> None:
    """Each family's facts name the config key (or rule) that actually holds the value."""
    got = inspect(model)["architecture"][fact]
    assert (value, origin, kind) == (got["value"], got["from"], got["source"])


FIXTURE_ORIGINS = [
    # falcon, old architecture: one K/V head because multi_query is true.
    ("falcon-mqa.json", "KV heads", 1, "1 when multi_query, else num_attention_heads (config.json)"),
    ("falcon-newarch.json", "KV heads", 2, "num_kv_heads (config.json)"),
    ("falcon-newarch.json", "intermediate size", 200, "ffn_hidden_size (config.json)"),
    # qwen2_moe: its shared expert has its own width key.
    ("qwen2-moe-sparse.json", "shared expert size", 96, "shared_expert_intermediate_size (config.json)"),
    # gemma3 multimodal: the text model under text_config, the vision tower under vision_config.
    ("gemma3-vlm-small.json", "layers", 3, "text_config.num_hidden_layers (config.json)"),
    ("gemma3-vlm-small.json", "vision tower layers", 2, "vision_config.num_hidden_layers (config.json)"),
]


@pytest.mark.parametrize(("name", "fact", "value", "origin"), FIXTURE_ORIGINS)
def test_origin_per_fixture_family(name: str, fact: str, value: object, origin: str) -> None:
    """Falcon, Qwen2-MoE and Gemma 3 multimodal configs: origins name the keys that hold the values."""
    got = inspect(str(FIXTURES / "configs" / name))["architecture"][fact]
    assert (value, origin) == (got["value"], got["from"])


def test_wrapper_values_come_from_text_config(tmp_path: Path) -> None:
    """A multimodal wrapper's text model is read from text_config, and inspect says so."""
    text = json.loads((FIXTURES / "configs" / "qwen3-small.json").read_text())
    f = tmp_path / "config.json"
    f.write_text(json.dumps({"model_type": "some_vlm", "text_config": text}))
    arch = inspect(str(f))["architecture"]
    assert {"value": 64, "from": "text_config.hidden_size (config.json)"} == {
        k: arch["hidden size"][k] for k in ("value", "from")
    }


def _at(config: dict[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@pytest.mark.parametrize("entry", catalog.models(), ids=lambda m: m.id)
def test_every_config_origin_holds_the_value(entry: catalog.CatalogModel) -> None:
    """For every catalog model, a fact said to come from one config.json key is that key's value in the file.

    And a fact said to be a default names a key the file does not set.
    """
    arch = inspect(entry.id)["architecture"]
    for label, fact in arch.items():
        composite = label in ("quantization", "sliding window", "MoE layers")  # a value built from the key(s)
        if fact["source"] == "config.json" and len(fact["keys"]) == 1 and not composite:
            (key,) = fact["keys"]
            held = _at(dict(entry.config), key)
            assert held is not None, (label, key)
            assert str(held) == str(fact["value"]) or held == fact["value"], (label, key, held)
        if fact["source"] in ("transformers default", "derived"):
            assert all(_at(dict(entry.config), k) is None for k in fact["keys"]), (label, fact)


def test_gguf_origins(tmp_path: Path) -> None:
    """A GGUF file's facts come from its metadata keys and tensors; the compute dtype is marked assumed."""
    f = tmp_path / "tiny.gguf"
    write_gguf(f)
    doc = inspect(str(f))
    arch = doc["architecture"]
    assert {"value": 2, "from": "llama.block_count (GGUF metadata)", "source": "GGUF metadata"} == {
        k: arch["layers"][k] for k in ("value", "from", "source")
    }
    assert "llama.attention.head_count_kv (GGUF metadata)" == arch["KV heads"]["from"]
    # No llama.attention.key_length in the file: 256 / 4 heads.
    assert (64, "llama.attention.key_length unset: hidden_size / num_attention_heads (derived)", "derived") == tuple(
        arch["head dim"][k] for k in ("value", "from", "source")
    )
    assert (320, "tokenizer.ggml.tokens length (GGUF metadata)") == (
        arch["vocab size"]["value"],
        arch["vocab size"]["from"],
    )
    assert (False, "an output.weight tensor (GGUF tensors)", "GGUF tensors") == tuple(
        arch["tied embeddings"][k] for k in ("value", "from", "source")
    )
    assert ("float16", "assumed") == (arch["torch_dtype"]["value"], arch["torch_dtype"]["source"])
    assert "not stored in GGUF" in arch["torch_dtype"]["from"]
    assert {"value": "Q4_K_M", "from": "general.file_type (GGUF metadata)"} == {
        k: arch["quantization"][k] for k in ("value", "from")
    }
    assert "config.json" not in json.dumps(arch)
    assert "gguf" == doc["checkpoint"]["source"]


def test_gguf_tied_embeddings_from_missing_output(tmp_path: Path) -> None:
    """Without an output.weight tensor the GGUF model ties its embeddings, and inspect says why."""
    f = tmp_path / "tied.gguf"
    write_gguf(f, [t for t in model_tensors() if t[0] != "output.weight"])
    fact = inspect(str(f))["architecture"]["tied embeddings"]
    assert (True, "no output.weight tensor (GGUF tensors)") == (fact["value"], fact["from"])


def test_gguf_table_says_gguf(tmp_path: Path) -> None:
    """The table's storage line names the GGUF file, not safetensors."""
    f = tmp_path / "tiny.gguf"
    total = write_gguf(f)
    result = runner.invoke(app, ["inspect", str(f)])
    assert ExitCode.OK == result.exit_code, result.stderr
    assert f"stored in a GGUF file: Q4_K 933,888, F32 1,280, Q6_K 409,600 elements, {total:,} bytes" in " ".join(
        result.stdout.split()
    )
    assert "safetensors" not in result.stdout


def test_fp8_detected_from_stored_dtypes(tmp_path: Path) -> None:
    """FP8 found from the stored F8_E4M3 tensors (no quantization_config) is attributed to the checkpoint files."""
    config = json.loads((FIXTURES / "configs" / "qwen3-small.json").read_text())
    with FakeHub({"org/fp8": Repo(config, safetensors={"F8_E4M3": 300_000, "BF16": 23_376})}) as hub:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
        env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path), HF_HUB_DISABLE_TELEMETRY="1", NO_COLOR="1")
        result = subprocess.run(
            [sys.executable, "-m", "vram", "inspect", "org/fp8", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ExitCode.OK == result.returncode, result.stderr
    fact = json.loads(result.stdout)["architecture"]["quantization"]
    assert ("fp8", "checkpoint files") == (fact["value"], fact["source"])
    assert "F8_E4M3" in fact["from"]
    assert "quantization_config" not in fact["keys"]


def test_parameter_count_is_a_usage_error_with_a_next_step() -> None:
    """`vram inspect 7b` exits 2, says a count has no architecture, and names what to pass instead."""
    result = runner.invoke(app, ["inspect", "7b"])
    assert ExitCode.USAGE == result.exit_code
    assert "" == result.stdout
    assert "'7b' is a parameter count" in result.stderr
    assert "next:" in result.stderr
    assert "`vram models`" in result.stderr
    assert "`vram estimate 7b`" in result.stderr


def test_inspect_counts_match_transformers() -> None:
    """The inspect document's parameter total is the count transformers builds (tests/core/golden_params.json)."""
    golden = json.loads((FIXTURES.parent / "core" / "golden_params.json").read_text())
    assert golden["Qwen--Qwen3-30B-A3B"]["parameters"] == inspect("Qwen/Qwen3-30B-A3B")["parameters"]["total"]
