"""`vram estimate --runtime/--tp/--pp`: the vLLM profile through the CLI, its JSON fields and its usage errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode

runner = CliRunner()
LLAMA = "meta-llama/Llama-3.1-8B"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_vllm_json_has_runtime_and_parallel() -> None:
    """--runtime vllm --json carries runtime.kv_cache_tokens (int), max_concurrency (float) and parallel per GPU."""
    code, out, _ = run("estimate", LLAMA, "--runtime", "vllm", "--gpu", "H100 SXM", "--tp", "2", "--json")
    assert code == ExitCode.OK
    doc = json.loads(out)
    rt = doc["runtime"]
    assert rt["name"] == "vllm"
    assert isinstance(rt["kv_cache_tokens"], int)
    assert rt["kv_cache_tokens"] > 0
    assert isinstance(rt["max_concurrency"], float)
    assert rt["gpu_memory_utilization"] == 0.9
    assert rt["max_num_batched_tokens"] == 8192
    assert doc["parallel"] == {"tp": 2, "pp": 1, "per_gpu": True}
    assert set(doc["components"]) == {"weights", "kv_cache", "activations", "overhead"}
    assert {"cuda_context_bytes", "non_torch_bytes", "cuda_graph_bytes"} <= set(
        doc["components"]["overhead"]["details"]
    )


def test_transformers_is_the_default_runtime() -> None:
    """Without --runtime the document names transformers and a single-GPU split."""
    code, out, _ = run("estimate", LLAMA, "--json")
    doc = json.loads(out)
    assert code == ExitCode.OK
    assert doc["runtime"]["name"] == "transformers"
    assert doc["runtime"]["kv_cache_tokens"] is None
    assert doc["parallel"] == {"tp": 1, "pp": 1, "per_gpu": True}


def test_vllm_table_prints_the_log_lines() -> None:
    """The table quotes what vLLM would print: KV cache tokens and maximum concurrency."""
    code, out, _ = run("estimate", LLAMA, "--runtime", "vllm", "--gpu", "H100 SXM", "--max-model-len", "16000")
    assert code == ExitCode.OK
    assert "GPU KV cache size:" in out
    assert "16,000 tokens per request" in out
    assert "vLLM starts" in out


def test_vllm_that_would_not_start_exits_one() -> None:
    """Qwen2.5-72B in bf16 on one H100: vLLM would not start, exit 1, and a warning says why."""
    code, out, err = run("estimate", "Qwen/Qwen2.5-72B", "--runtime", "vllm", "--gpu", "H100 SXM")
    assert code == ExitCode.DOES_NOT_FIT
    assert "would not start" in out
    assert "refuse to start" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--runtime", "vllm"), "needs --gpu"),
        (("--runtime", "vllm", "--gpu", "H100 SXM", "--tp", "3"), "32 attention heads"),
        (("--runtime", "vllm", "--gpu", "H100 SXM", "--pp", "40"), "32 layers"),
        (("--tp", "2"), "--runtime vllm"),
        (("--runtime", "vllm", "--gpu", "H100 SXM", "--kv-dtype", "q8_0"), "kv-cache-dtype"),
        (("--runtime", "vllm", "--gpu", "H100 SXM", "--max-model-len", "200000"), "max_position_embeddings"),
    ],
)
def test_bad_input_is_a_usage_error(args: tuple[str, ...], words: str) -> None:
    """Bad runtime input exits 2 with one message and nothing on stdout in --json mode."""
    code, out, err = run("estimate", LLAMA, *args, "--json")
    assert code == ExitCode.USAGE
    assert out == ""
    assert words in err
    assert "Traceback" not in err


def test_count_with_runtime_is_a_usage_error() -> None:
    """A bare parameter count has no architecture for vLLM's plan: exit 2, nothing on stdout."""
    code, out, err = run("estimate", "7b", "--runtime", "vllm", "--gpu", "H100 SXM", "--json")
    assert code == ExitCode.USAGE
    assert out == ""
    assert "architecture" in err


def test_vllm_options_without_vllm_are_named_as_ignored() -> None:
    """--max-model-len without --runtime vllm changes nothing and a warning says it was ignored."""
    code, out, err = run("estimate", LLAMA, "--max-model-len", "1000", "--json")
    _, plain, _ = run("estimate", LLAMA, "--json")
    assert code == ExitCode.OK
    assert json.loads(out)["total_bytes"] == json.loads(plain)["total_bytes"]
    assert "--max-model-len applies only to --runtime vllm" in err
