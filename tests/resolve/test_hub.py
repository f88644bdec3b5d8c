"""Hub resolution against a real HTTP server on 127.0.0.1 (HF_ENDPOINT), through the real CLI.

Each run is a fresh `python -m vram` process: huggingface_hub reads HF_ENDPOINT, HF_HOME and
HF_HUB_OFFLINE when it is imported, so every test gets its own environment and empty cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vram.cli._errors import ExitCode

from ..conftest import FIXTURES
from .fake_hub import SHA, FakeHub, Repo

QWEN3 = json.loads((FIXTURES / "configs" / "qwen3-small.json").read_text())
GPTQ = {**QWEN3, "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}}
REPOS = {
    "org/public": Repo(QWEN3, safetensors={"BF16": 323_376}),
    "org/extra": Repo(QWEN3, safetensors={"BF16": 400_000}),
    "org/gated": Repo(QWEN3, gated=True),
    "org/private": Repo(QWEN3, token="hf_good", safetensors={"BF16": 323_376}),  # noqa: S106 - a test token
    "org/broken": Repo(QWEN3, status=500),
    "org/ratelimited": Repo(QWEN3, status=429),
    "org/slow": Repo(QWEN3, delay=3.0),
    "org/malformed": Repo(raw=b'{"model_type": "qwen3",'),
    "org/noconfig": Repo(QWEN3, config_missing=True),
    "org/gptq": Repo(GPTQ, safetensors={"I32": 40_000, "F16": 100_000}),
    "org/remote-code": Repo(
        {
            "model_type": "exotic_lm",
            "auto_map": {"AutoModel": "x.Y"},
            **{
                k: QWEN3[k]
                for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
            },
        }
    ),
}


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(REPOS) as server:
        yield server


def vram(hub_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=hub_url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "vram", "estimate", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_public_repo_then_cache_with_server_stopped(hub: FakeHub, tmp_path: Path) -> None:
    """A public repo resolves from the Hub; the second call works from the cache with the server gone."""
    first = vram(hub.url, tmp_path, "org/public", "--json")
    assert ExitCode.OK == first.returncode, first.stderr
    doc = json.loads(first.stdout)
    assert ("hub", SHA) == (doc["model"]["source"], doc["model"]["revision"])
    assert "safetensors" == doc["components"]["weights"]["details"]["source"]
    assert 323_376 * 2 == doc["components"]["weights"]["bytes"]
    hub.stop()
    second = vram(hub.url, tmp_path, "org/public", "--json", "--timeout", "2")
    assert ExitCode.OK == second.returncode, second.stderr
    assert "cache" == json.loads(second.stdout)["model"]["source"]
    assert "using the cached config.json" in second.stderr


def test_offline_uses_cache(hub: FakeHub, tmp_path: Path) -> None:
    """--offline never asks the server once the config is cached."""
    assert ExitCode.OK == vram(hub.url, tmp_path, "org/public").returncode
    before = len(hub.requests)
    run = vram(hub.url, tmp_path, "org/public", "--offline", "--json")
    assert ExitCode.OK == run.returncode, run.stderr
    assert before == len(hub.requests)
    assert "cache" == json.loads(run.stdout)["model"]["source"]


def test_gated_repo(hub: FakeHub, tmp_path: Path) -> None:
    """A gated repo exits 3 and says how to log in."""
    run = vram(hub.url, tmp_path, "org/gated")
    assert ExitCode.MODEL == run.returncode
    assert "gated" in run.stderr
    assert "hf auth login" in run.stderr
    assert "Traceback" not in run.stderr


def test_token_is_sent_and_a_wrong_one_refused(hub: FakeHub, tmp_path: Path) -> None:
    """--token reaches the Hub; a wrong token exits 3 with the login hint, not as 'unreachable'."""
    good = vram(hub.url, tmp_path, "org/private", "--token", "hf_good", "--json")
    assert ExitCode.OK == good.returncode, good.stderr
    bad = vram(hub.url, tmp_path / "other", "org/private", "--token", "hf_bad")
    assert ExitCode.MODEL == bad.returncode
    assert "refused the token" in bad.stderr
    assert "hf auth login" in bad.stderr


def test_missing_repo_suggests(hub: FakeHub, tmp_path: Path) -> None:
    """A repo the Hub does not know exits 3; a near catalog name is suggested."""
    run = vram(hub.url, tmp_path, "Qwen/Qwen2.5-8B")
    assert ExitCode.MODEL == run.returncode
    assert "not found on the Hugging Face Hub" in run.stderr
    assert "Qwen/Qwen2.5-7B" in run.stderr


def test_missing_revision(hub: FakeHub, tmp_path: Path) -> None:
    """An unknown --revision exits 3 naming the revision."""
    run = vram(hub.url, tmp_path, "org/public", "--revision", "nope")
    assert ExitCode.MODEL == run.returncode
    assert "'nope'" in run.stderr


@pytest.mark.parametrize(("repo", "reason"), [("org/broken", "HTTP 500"), ("org/ratelimited", "rate limited")])
def test_server_errors_exit_four(hub: FakeHub, tmp_path: Path, repo: str, reason: str) -> None:
    """5xx and 429 with nothing cached exit 4 and say which."""
    run = vram(hub.url, tmp_path, repo)
    assert ExitCode.HUB == run.returncode
    assert reason in run.stderr


def test_timeout_is_bounded(hub: FakeHub, tmp_path: Path) -> None:
    """A Hub slower than --timeout gives exit 4 quickly, not a hang."""
    run = vram(hub.url, tmp_path, "org/slow", "--timeout", "0.5")
    assert ExitCode.HUB == run.returncode
    assert "in time" in run.stderr


def test_unreachable_endpoint(tmp_path: Path) -> None:
    """No server at HF_ENDPOINT: exit 4, connection failure named."""
    run = vram("http://127.0.0.1:9", tmp_path, "org/public", "--timeout", "1")
    assert ExitCode.HUB == run.returncode
    assert "unreachable" in run.stderr


def test_malformed_config(hub: FakeHub, tmp_path: Path) -> None:
    """A config.json that is not JSON exits 3."""
    run = vram(hub.url, tmp_path, "org/malformed")
    assert ExitCode.MODEL == run.returncode
    assert "not valid JSON" in run.stderr


def test_repo_without_config(hub: FakeHub, tmp_path: Path) -> None:
    """A repo with no config.json exits 3 and says so."""
    run = vram(hub.url, tmp_path, "org/noconfig")
    assert ExitCode.MODEL == run.returncode
    assert "no config.json" in run.stderr


def test_prequantized_repo_needs_no_dtype(hub: FakeHub, tmp_path: Path) -> None:
    """A GPTQ repo is recognised from quantization_config; the stored bytes are the weights."""
    run = vram(hub.url, tmp_path, "org/gptq", "--json")
    assert ExitCode.OK == run.returncode, run.stderr
    doc = json.loads(run.stdout)
    assert "gptq-int4-g128" == doc["settings"]["dtype"]
    assert 40_000 * 4 + 100_000 * 2 == doc["components"]["weights"]["bytes"]


def test_count_mismatch_is_reported(hub: FakeHub, tmp_path: Path) -> None:
    """When the Hub's safetensors count differs from the config's, both are shown."""
    run = vram(hub.url, tmp_path, "org/extra")
    assert ExitCode.OK == run.returncode
    assert "323,376" in run.stderr
    assert "400,000" in run.stderr


def test_remote_code_model_is_approximate(hub: FakeHub, tmp_path: Path) -> None:
    """A model_type needing trust_remote_code is never executed: estimated from standard fields, labelled."""
    run = vram(hub.url, tmp_path, "org/remote-code", "--json")
    assert ExitCode.OK == run.returncode, run.stderr
    assert json.loads(run.stdout)["model"]["exact"] is False
    assert "exotic_lm" in run.stderr
