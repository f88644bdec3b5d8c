"""`vram estimate --runtime llama.cpp`: the llama.cpp options, their JSON fields and their usage errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode
from vram.core.units import MiB

runner = CliRunner()
LLAMA = "meta-llama/Llama-3.1-8B"
LLAMA_CPP = ("--runtime", "llama.cpp", "--dtype", "Q4_K_M")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_llamacpp_json_runtime_fields() -> None:
    """--json carries runtime {name, n_gpu_layers, cpu_bytes}; the GPU weights are the published 4403.49 MiB."""
    code, out, _ = run("estimate", LLAMA, *LLAMA_CPP, "--ctx-size", "8192", "--json")
    assert code == ExitCode.OK
    doc = json.loads(out)
    rt = doc["runtime"]
    assert (rt["name"], rt["n_gpu_layers"]) == ("llama.cpp", 33)
    assert isinstance(rt["cpu_bytes"], int)
    assert rt["cpu_bytes"] > 281 * MiB  # the token embedding stays in host memory
    assert f"{doc['components']['weights']['bytes'] / MiB:.2f}" == "4403.49"
    assert doc["settings"]["seq_len"] == 8192
    assert doc["components"]["kv_cache"]["bytes"] == 1024 * MiB


def test_ctx_size_is_seq_len() -> None:
    """--ctx-size and --seq-len are one option."""
    a = json.loads(run("estimate", LLAMA, *LLAMA_CPP, "--ctx-size", "1000", "--json")[1])
    b = json.loads(run("estimate", LLAMA, *LLAMA_CPP, "--seq-len", "1000", "--json")[1])
    assert a == b
    assert a["components"]["kv_cache"]["details"]["cells"] == 1024


def test_n_gpu_layers_split_through_the_cli() -> None:
    """-ngl 1 keeps only the output layer on the GPU: no layer's KV there; -ngl 999 is everything (33 slots)."""
    one = json.loads(run("estimate", LLAMA, *LLAMA_CPP, "-ngl", "1", "--json")[1])
    assert one["runtime"]["n_gpu_layers"] == 1
    assert one["components"]["kv_cache"]["bytes"] == 0
    everything = json.loads(run("estimate", LLAMA, *LLAMA_CPP, "--n-gpu-layers", "999", "--json")[1])
    assert everything["runtime"]["n_gpu_layers"] == 33
    assert everything["runtime"]["cpu_bytes"] < one["runtime"]["cpu_bytes"]


def test_cache_types_and_parallel() -> None:
    """--cache-type-k/-v q8_0 shrink the cache to 34/64 of f16; --parallel 4 keeps the same cells in 4 streams."""
    f16 = json.loads(run("estimate", LLAMA, *LLAMA_CPP, "--json")[1])["components"]["kv_cache"]
    q8 = json.loads(
        run("estimate", LLAMA, *LLAMA_CPP, "--cache-type-k", "q8_0", "--cache-type-v", "q8_0", "--json")[1]
    )["components"]["kv_cache"]
    assert q8["bytes"] * 64 == f16["bytes"] * 34
    par = json.loads(run("estimate", LLAMA, *LLAMA_CPP, "--parallel", "4", "--json")[1])["components"]["kv_cache"]
    assert (par["bytes"], par["details"]["streams"]) == (f16["bytes"], 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-ngl", "-2"), "n-gpu-layers"),
        (("--cache-type-k", "q3_k"), "cache type"),
        (("--dtype", "gptq"), "GGUF"),
    ],
)
def test_llamacpp_usage_errors(args: tuple[str, ...], message: str) -> None:
    """Bad llama.cpp input: exit 2, the reason on stderr, nothing on stdout in --json mode."""
    code, out, err = run("estimate", LLAMA, "--runtime", "llama.cpp", *args, "--json")
    assert code == ExitCode.USAGE
    assert out == ""
    assert message in err


def test_llamacpp_options_without_the_runtime_are_ignored() -> None:
    """--n-gpu-layers without --runtime llama.cpp: a warning naming it as ignored, the transformers estimate."""
    code, out, err = run("estimate", LLAMA, "--n-gpu-layers", "10", "--json")
    assert code == ExitCode.OK
    assert json.loads(out)["runtime"]["name"] == "transformers"
    assert "--n-gpu-layers applies only to --runtime llama.cpp: ignored" in err


def test_batch_with_llamacpp_is_ignored() -> None:
    """--batch with --runtime llama.cpp is warned as ignored (llama.cpp runs --parallel sequences); same estimate."""
    code, out, err = run("estimate", LLAMA, *LLAMA_CPP, "--batch", "4", "--json")
    assert code == ExitCode.OK
    assert "see --parallel" in err
    assert json.loads(out) == json.loads(run("estimate", LLAMA, *LLAMA_CPP, "--json")[1])


def test_flash_attn_off_holds_the_kq_scores() -> None:
    """--flash-attn off reproduces llama.cpp issue 7450's CUDA0 compute buffer (2094.50 MiB: f32 K x Q scores of a
    512-token micro-batch over 32,000 cells, flash_attn = 0); on, the buffer is far smaller."""
    args = ("estimate", "mistralai/Mistral-7B-Instruct-v0.3", "--dtype", "Q2_K", "--runtime", "llama.cpp")
    code, out, _ = run(*args, "--ctx-size", "32000", "--flash-attn", "off", "--json")
    off = json.loads(out)["components"]["activations"]["details"]["compute_buffer_bytes"]
    _, out, _ = run(*args, "--ctx-size", "32000", "--json")
    on = json.loads(out)["components"]["activations"]["details"]["compute_buffer_bytes"]
    assert (0, 2094.50) == (code, round(off / 2**20, 2))
    assert on < off / 4


def test_kv_unified_attends_over_the_whole_context() -> None:
    """Ollama 0.5.4's log (MagicWand18/Securetag-AI-Agent runpod-deploy/logcompleto.md @bbee6a4e): 4 sequences
    over 8,192 cells, flash attention off: CUDA0 compute buffer 560.00 MiB, as one unified buffer (the f32 scores of
    a 512-token micro-batch over all 8,192 cells); split into 4 streams each attends over 2,048 cells."""
    args = ("estimate", "meta-llama/Llama-3.1-8B", "--dtype", "Q4_K_M", "--runtime", "llama.cpp", "--ctx-size", "8192")
    args += ("--parallel", "4", "--flash-attn", "off", "--json")

    def compute(*extra: str) -> float:
        _, out, _ = run(*args, *extra)
        return round(json.loads(out)["components"]["activations"]["details"]["compute_buffer_bytes"] / MiB, 2)

    assert 560.00 == compute("--kv-unified")
    assert compute() < 560.00
