"""`vram estimate` through Typer's runner: output, JSON, and one test per exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode

from ..conftest import FIXTURES

runner = CliRunner()
QWEN = "Qwen/Qwen2.5-7B"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_table_has_every_component() -> None:
    """The table lists weights, KV cache, activations, overhead and the total, in GiB."""
    code, out, _ = run("estimate", QWEN)
    assert ExitCode.OK == code
    for label in ("weights", "KV cache", "activations", "overhead", "total", "GiB", "7.62 B params"):
        assert label in out


def test_json_is_the_only_stdout() -> None:
    """--json prints one parseable document with integer bytes and the documented keys."""
    code, out, _ = run("estimate", QWEN, "--json")
    assert ExitCode.OK == code
    doc = json.loads(out)
    assert 1 == doc["schema_version"]
    assert "estimate" == doc["command"]
    assert {"id", "source", "architecture", "parameters"} <= set(doc["model"])
    assert ["weights", "kv_cache", "activations", "overhead"] == list(doc["components"])
    assert doc["total_bytes"] == sum(c["bytes"] for c in doc["components"].values())
    assert 7_615_616_512 == doc["model"]["parameters"]
    assert doc["gpu"] is None


@pytest.mark.parametrize("units", ["GB", "gb"])
def test_units_gb_are_decimal(units: str) -> None:
    """--units GB (any case) divides by 10^9 and says GB."""
    _, out, _ = run("estimate", "7b", "--dtype", "fp16", "--units", units)
    assert "14.00 GB" in out
    assert "GiB" not in out


def test_fits_exits_zero() -> None:
    """A model that fits exits 0; headroom is counted from the CUDA total (79.11 GiB on an H100), not 80 GiB."""
    code, out, _ = run("estimate", QWEN, "--gpu", "H100 SXM", "--json")
    assert ExitCode.OK == code
    gpu = json.loads(out)["gpu"]
    assert gpu["fits"] is True
    assert 80 * 2**30 == gpu["memory_bytes"]
    assert round(79.11 * 2**30) == gpu["usable_memory_bytes"]  # vllm-project/vllm#27508: "total capacity of 79.11 GiB"
    assert gpu["headroom_bytes"] == gpu["usable_memory_bytes"] - json.loads(out)["total_bytes"]


def test_does_not_fit_exits_one() -> None:
    """A model larger than the GPU exits 1, shows usable and nominal memory and the shortfall against usable."""
    code, out, _ = run("estimate", QWEN, "--gpu", "rtx 3060 12gb")
    assert ExitCode.DOES_NOT_FIT == code
    # nvidia-smi's 12288 MiB less the 768 MiB driver gap = 11520 MiB = 11.25 GiB
    assert "RTX 3060 12GB (11.25 GiB usable of 12.00 GiB): does not fit" in out


def test_verdict_uses_usable_not_nominal_memory() -> None:
    """7.84 GiB is under the RTX 3070's nominal 8 GiB but over the 7.78 GiB CUDA exposes: does not fit."""
    code, out, _ = run("estimate", "llama-2-7b", "--dtype", "int8", "--seq-len", "1200", "--gpu", "RTX 3070", "--json")
    doc = json.loads(out)
    assert 7.8 * 2**30 < doc["total_bytes"] < 8 * 2**30
    assert ExitCode.DOES_NOT_FIT == code
    assert round(7.78 * 2**30) == doc["gpu"]["usable_memory_bytes"]  # akshitac8/OW-DETR#46: 7.78 GiB total capacity
    assert doc["gpu"]["fits"] is False


@pytest.mark.parametrize(
    ("gpu", "memory"), [("24GB", 24 * 10**9), ("24 gb", 24 * 10**9), ("80GiB", 80 * 2**30), ("4GB", 4 * 10**9)]
)
def test_gpu_capacity(gpu: str, memory: int) -> None:
    """--gpu takes a capacity: GB is 10^9 bytes, GiB 2^30, compared as given (all of it usable)."""
    code, out, _ = run("estimate", QWEN, "--gpu", gpu, "--json")
    doc = json.loads(out)
    assert memory == doc["gpu"]["memory_bytes"] == doc["gpu"]["usable_memory_bytes"]
    assert doc["gpu"]["headroom_bytes"] == memory - doc["total_bytes"]
    assert (ExitCode.OK if doc["gpu"]["fits"] else ExitCode.DOES_NOT_FIT) == code


def test_gpu_count_is_refused() -> None:
    """--gpu "2x RTX 3090" exits 2: combined memory is no verdict without a split model; one card is accepted."""
    code, out, err = run("estimate", QWEN, "--gpu", "2x RTX 3090")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "2 GPUs" in err
    assert "--tp" in err
    _, one, _ = run("estimate", QWEN, "--gpu", "1x RTX 3090", "--json")
    assert "RTX 3090" == json.loads(one)["gpu"]["name"]


def test_count_with_gpu_gives_no_verdict() -> None:
    """A bare count with --gpu exits 2 and compares its weights (7e9 B = 6.52 GiB) with the card's 7.78 GiB."""
    code, out, err = run("estimate", "7b", "--dtype", "int8", "--gpu", "RTX 3070")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "6.52 GiB" in err
    assert "7.78 GiB usable on RTX 3070" in err
    assert "no fit verdict" in err
    assert "catalog model" in err


def test_count_warns_about_ignored_options() -> None:
    """--batch and --seq-len with a bare count are named in a warning (JSON and stderr), not silently dropped."""
    code, out, err = run("estimate", "7b", "--batch", "4", "--seq-len", "100", "--kv-dtype", "fp8", "--json")
    assert ExitCode.OK == code
    warnings = json.loads(out)["warnings"]
    assert 1 == len(warnings)
    assert warnings[0].startswith("--batch, --seq-len, --kv-dtype ignored")
    assert "warning: --batch, --seq-len, --kv-dtype ignored" in err


def test_count_table_does_not_point_at_missing_warnings() -> None:
    """A plain count has no warnings, so the table says 'weights only' and never 'see warnings'."""
    code, out, err = run("estimate", "7b")
    assert ExitCode.OK == code
    assert "weights only" in out
    assert "see warnings" not in out
    assert "" == err


@pytest.mark.parametrize(
    ("args", "limit"),
    [
        (("--batch", "2000000"), "1048576"),
        (("--seq-len", "20000000"), "16777216"),
        (("--batch", "1e30"), "integer"),
    ],
)
def test_option_bounds(args: tuple[str, ...], limit: str) -> None:
    """Batch and context sizes beyond the int64-safe limits are usage errors naming the limit."""
    code, out, err = run("estimate", QWEN, *args)
    assert ExitCode.USAGE == code
    assert "" == out
    assert limit in err


def test_huge_parameter_count_is_refused() -> None:
    """1e20 parameters is a usage error naming the 10^15 limit, not a 40-exabyte answer."""
    code, out, err = run("estimate", "1e20", "--json")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "1,000,000,000,000,000" in err


def test_totals_beyond_int64_are_refused() -> None:
    """The largest batch and context together overflow int64 for Llama-2-7B: exit 2 naming the field."""
    code, out, err = run("estimate", "llama-2-7b", "--batch", "1048576", "--seq-len", "16777216", "--json")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "kv_cache" in err
    assert "64-bit" in err


def _closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run vram with stdout a pipe whose reading end is closed before vram writes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vram", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, b"", err)


@pytest.mark.parametrize("extra", [(), ("--json",)])
def test_closed_pipe_exits_zero_quietly(extra: tuple[str, ...]) -> None:
    """`vram estimate ... | head -1`: a reader that went away means exit 0 and nothing on stderr, verdict or not."""
    result = _closed_pipe("estimate", "llama-2-7b", "--gpu", "RTX 3070", *extra)
    assert 0 == result.returncode
    assert b"" == result.stderr


def test_help_renders_flags_and_completion() -> None:
    """--json and --offline show as plain flags (no '<bool>'), and shell completion options exist."""
    _, out, _ = run("estimate", "--help")
    assert "<bool>" not in out
    assert "--json " in out
    _, root, _ = run("--help")
    assert "--install-completion" in root
    assert "--show-completion" in root


def test_show_completion_prints_a_script() -> None:
    """--show-completion bash prints a completion script naming the program."""
    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="vram")
    assert 0 == result.exit_code
    assert "complete" in result.stdout
    assert "vram" in result.stdout


def test_bad_option_value_exits_two() -> None:
    """A negative batch is a usage error: exit 2, message on stderr, nothing on stdout."""
    code, out, err = run("estimate", QWEN, "--batch", "0")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "--batch" in err


def test_unknown_dtype_exits_two_with_next_step() -> None:
    """An unknown --dtype names the problem, suggests the closest names and points at `vram dtypes`."""
    code, out, err = run("estimate", QWEN, "--dtype", "int3")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "int3" in err
    assert "vram dtypes" in err
    _, _, typo = run("estimate", QWEN, "--dtype", "Q4_K_N")
    assert "did you mean: Q4_K_S, Q4_K_M" in typo


def test_unknown_gpu_suggests_close_names() -> None:
    """A misspelt --gpu exits 2 and suggests the closest catalog names first."""
    code, _, err = run("estimate", QWEN, "--gpu", "RTX 4900")
    assert ExitCode.USAGE == code
    assert "did you mean: RTX 4090" in err
    assert "vram gpus" in err


def test_empty_model_argument() -> None:
    """`vram estimate ''` says the argument is empty (exit 2) instead of reading the current folder."""
    code, out, err = run("estimate", "")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "the MODEL argument is empty" in err


def test_offline_uncached_says_to_cache_once_and_suggests_catalog() -> None:
    """--offline with an uncached near-miss of a catalog id: run once online, or use the catalog entry."""
    code, out, err = run("estimate", "meta-llama/Llama-2-7b", "--offline")
    assert ExitCode.HUB == code
    assert "" == out
    assert "run once online" in err
    assert "meta-llama/Llama-2-7b-hf" in err


def test_folder_shadowing_a_catalog_name_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder without config.json named like a catalog model names the model it hides."""
    (tmp_path / "llama-2-7b").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, err = run("estimate", "llama-2-7b")
    assert ExitCode.MODEL == code
    assert "shadows the catalog model meta-llama/Llama-2-7b-hf" in err


def test_repo_offline_and_not_cached_exits_four() -> None:
    """A repo id outside the catalog, offline with nothing cached: exit 4, says to cache it once online."""
    code, out, err = run("estimate", "someone/unknown-model-7b", "--json", "--offline")
    assert ExitCode.HUB == code
    assert "" == out
    assert "offline mode is on" in err
    assert "run once online (without --offline or HF_HUB_OFFLINE) to cache someone/unknown-model-7b" in err
    assert "Traceback" not in err


def test_not_a_model_reference_exits_three() -> None:
    """Something that is no path, catalog name, count or repo id exits 3 with suggestions."""
    code, out, err = run("estimate", "qwen2.5-8b")
    assert ExitCode.MODEL == code
    assert "" == out
    assert "did you mean: Qwen/Qwen2.5-7B" in err


def test_missing_config_path_exits_three(tmp_path: Path) -> None:
    """A config path that does not exist exits 3 with the path in the message."""
    missing = tmp_path / "nope" / "config.json"
    code, _, err = run("estimate", str(missing))
    assert ExitCode.MODEL == code
    assert "no such file" in err


def test_malformed_config_exits_three(tmp_path: Path) -> None:
    """A config.json that is not JSON exits 3 and says where the parse failed."""
    bad = tmp_path / "config.json"
    bad.write_text('{"model_type": "llama",')
    code, _, err = run("estimate", str(tmp_path))
    assert ExitCode.MODEL == code
    assert "not valid JSON" in err


def test_config_bad_field_type_exits_three(tmp_path: Path) -> None:
    """A field with the wrong type names the field and exits 3."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "llama", "hidden_size": "big"}))
    code, _, err = run("estimate", str(cfg))
    assert ExitCode.MODEL == code
    assert "hidden_size" in err


def test_config_missing_fields_use_transformers_defaults_and_say_so(tmp_path: Path) -> None:
    """Absent structural fields take transformers' defaults (as it does) and each is reported."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4}))
    code, out, err = run("estimate", str(cfg), "--json")
    assert ExitCode.OK == code
    assert "'num_hidden_layers'" in err
    assert any("vocab_size" in w for w in json.loads(out)["warnings"])


def test_unknown_architecture_without_fields_exits_three(tmp_path: Path) -> None:
    """An unknown model_type without the standard fields is refused, naming what is missing."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "mamba", "d_model": 64}))
    code, _, err = run("estimate", str(cfg))
    assert ExitCode.MODEL == code
    assert "mamba" in err
    assert "hidden_size" in err


def test_unknown_architecture_with_fields_is_labelled_approximate(tmp_path: Path) -> None:
    """An unknown model_type with the standard fields gets an estimate marked approximate."""
    cfg = json.loads((FIXTURES / "configs" / "granite-small.json").read_text())
    cfg["model_type"] = "brand_new"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    code, out, err = run("estimate", str(tmp_path), "--json")
    assert ExitCode.OK == code
    doc = json.loads(out)
    assert doc["model"]["exact"] is False
    assert any("brand_new" in w for w in doc["warnings"])
    assert "brand_new" in err


def test_internal_error_exits_five(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug becomes exit 5 with a pointer to VRAM_DEBUG, never a traceback or exit 1."""
    import vram.core.inference

    def boom(*_args: object, **_kw: object) -> None:
        raise ZeroDivisionError("synthetic")

    monkeypatch.setattr(vram.core.inference, "estimate_inference", boom)
    code, out, err = run("estimate", QWEN)
    assert ExitCode.INTERNAL == code
    assert "" == out
    assert "VRAM_DEBUG=1" in err
    assert "Traceback" not in err


def test_debug_shows_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """With VRAM_DEBUG=1 the traceback is printed to stderr as well."""
    monkeypatch.setenv("VRAM_DEBUG", "1")
    _, _, err = run("estimate", "someone/unknown-model-7b")
    assert "Traceback" in err


def test_parameter_count_is_weights_only() -> None:
    """A bare count gives only the weights, clearly labelled as a rule of thumb."""
    code, out, _ = run("estimate", "70B", "--json")
    assert ExitCode.OK == code
    doc = json.loads(out)
    assert "weights_only" == doc["scope"]
    assert ["weights"] == list(doc["components"])
    assert 140_000_000_000 == doc["total_bytes"]
    assert "rule of thumb" in doc["components"]["weights"]["note"]


def test_bf16_on_turing_warns() -> None:
    """bf16 on a T4 (Turing) fits but warns that bf16 is not native there."""
    code, _, err = run("estimate", "qwen3-0.6b", "--gpu", "T4")
    assert ExitCode.OK == code
    assert "bf16 is not supported natively" in err


def test_fp8_on_ampere_warns() -> None:
    """fp8 weights on an A100 (Ampere) warn that the card has no fp8 tensor cores."""
    code, _, err = run("estimate", "qwen3-8b", "--dtype", "fp8", "--gpu", "A100 80GB SXM")
    assert ExitCode.OK == code
    assert "fp8 needs Ada/Hopper" in err


def test_unified_memory_warns() -> None:
    """An Apple GPU fit is judged on the 75% macOS wires for the GPU by default (96 of 128 GiB), and says so."""
    _, out, err = run("estimate", "qwen3-8b", "--gpu", "M3 Max", "--json")
    assert 96 * 2**30 == json.loads(out)["gpu"]["usable_memory_bytes"]  # gpustack/gpustack#1375: 75% of RAM
    assert "shares memory with the CPU: the verdict uses the 96 GiB" in err


def test_bad_kv_dtype_exits_two() -> None:
    """An unknown --kv-dtype is a usage error with the accepted names."""
    code, out, err = run("estimate", QWEN, "--kv-dtype", "int3")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "q8_0" in err


def test_kv_line_is_per_token_over_all_layers() -> None:
    """Llama-2-7B fp16: 2 x 4096 x 2 B x 32 layers = 524,288 B/token, llama.cpp's 256 MiB per 512 tokens."""
    _, out, _ = run("estimate", "llama-2-7b", "--json")
    kv = json.loads(out)["components"]["kv_cache"]
    assert kv["note"].startswith("524,288 B/token (32 layers x 16,384 B, fp16)")
    assert 524_288 == kv["details"]["bytes_per_token"]
    assert 16_384 == kv["details"]["bytes_per_token_per_layer"]


def test_bitsandbytes_on_moe_warns_with_expert_count() -> None:
    """int4 (bnb) on Mixtral-8x7B warns that its 32 x 8 x 3 x 4096 x 14336 expert parameters stay 16-bit."""
    code, out, _ = run("estimate", "mistralai/Mixtral-8x7B-v0.1", "--dtype", "int4", "--json")
    assert ExitCode.OK == code
    warnings = json.loads(out)["warnings"]
    assert any("bitsandbytes" in w and "45,097,156,608 fused expert" in w for w in warnings)


def test_mxfp4_on_volta_warns_with_the_growth() -> None:
    """gpt-oss MXFP4 on a V100 (CC 7.0): experts dequantize to bf16, 16 / 4.25 bits = 3.8x."""
    _, _, err = run("estimate", "openai/gpt-oss-20b", "--gpu", "V100 32GB")
    assert "expert memory grows 3.8x (16 instead of 4.25 bits per weight)" in err


def test_gguf_on_moe_and_mla() -> None:
    """GGUF pricing works for MoE + MLA (DeepSeek-V3) and MXFP4_MOE (gpt-oss) end to end."""
    for model, dtype in (("deepseek-ai/DeepSeek-V3", "Q4_K_M"), ("openai/gpt-oss-20b", "MXFP4_MOE")):
        code, out, _ = run("estimate", model, "--dtype", dtype, "--json")
        assert ExitCode.OK == code
        doc = json.loads(out)
        assert dtype == doc["settings"]["dtype"]
        # 4.5 bits (Q4_K) to 8.5 (Q8_0) per weight: every tensor is priced in a GGUF type, none left 16-bit
        assert 4.25 < doc["components"]["weights"]["details"]["bits_per_parameter"] < 5.5


def test_gpu_count_matching_the_split_is_accepted() -> None:
    """--gpu "2x H100 SXM" with --tp 2 names the two cards of the split: accepted; with --tp 4 it is not."""
    args = ("estimate", "llama-3.1-70b", "--runtime", "vllm", "--dtype", "fp8", "--max-model-len", "8192")
    code, out, _ = run(*args, "--gpu", "2x H100 SXM", "--tp", "2", "--json")
    doc = json.loads(out)
    assert (ExitCode.OK, "H100 SXM", 2) == (code, doc["gpu"]["name"], doc["parallel"]["tp"])
    code, out, err = run(*args, "--gpu", "2x H100 SXM", "--tp", "4", "--json")
    assert (ExitCode.USAGE, "") == (code, out)
    assert "asks for 2 GPUs but the estimate describes 4" in err
