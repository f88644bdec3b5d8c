"""`vram estimate` through Typer's runner: output, JSON, and one test per exit code."""

from __future__ import annotations

import json
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


def test_units_gb_are_decimal() -> None:
    """--units GB divides by 10^9 and says GB."""
    _, out, _ = run("estimate", "7b", "--dtype", "fp16", "--units", "GB")
    assert "14.00 GB" in out
    assert "GiB" not in out


def test_fits_exits_zero() -> None:
    """A model that fits the GPU exits 0 and reports the headroom."""
    code, out, _ = run("estimate", QWEN, "--gpu", "H100 SXM", "--json")
    assert ExitCode.OK == code
    gpu = json.loads(out)["gpu"]
    assert gpu["fits"] is True
    assert gpu["headroom_bytes"] == gpu["memory_bytes"] - json.loads(out)["total_bytes"]


def test_does_not_fit_exits_one() -> None:
    """A model larger than the GPU exits 1 (the only 'finding'), still printing the estimate."""
    code, out, _ = run("estimate", QWEN, "--gpu", "rtx 3060 12gb")
    assert ExitCode.DOES_NOT_FIT == code
    assert "does not fit" in out


def test_bad_option_value_exits_two() -> None:
    """A negative batch is a usage error: exit 2, message on stderr, nothing on stdout."""
    code, out, err = run("estimate", QWEN, "--batch", "0")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "--batch" in err


def test_unknown_dtype_exits_two_with_next_step() -> None:
    """An unknown --dtype names the problem and points at `vram dtypes`."""
    code, out, err = run("estimate", QWEN, "--dtype", "int3")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "int3" in err
    assert "vram dtypes" in err


def test_unknown_gpu_suggests_close_names() -> None:
    """A misspelt --gpu exits 2 and suggests catalog names."""
    code, _, err = run("estimate", QWEN, "--gpu", "RTX 4900")
    assert ExitCode.USAGE == code
    assert "vram gpus" in err


def test_repo_offline_and_not_cached_exits_four() -> None:
    """A repo id outside the catalog, offline with nothing cached: exit 4, no traceback."""
    code, out, err = run("estimate", "someone/unknown-model-7b", "--json", "--offline")
    assert ExitCode.HUB == code
    assert "" == out
    assert "offline" in err
    assert "Traceback" not in err


def test_not_a_model_reference_exits_three() -> None:
    """Something that is no path, catalog name, count or repo id exits 3 with suggestions."""
    code, out, err = run("estimate", "qwen2.5-8b")
    assert ExitCode.MODEL == code
    assert "" == out
    assert "qwen" in err.lower()


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
    """An Apple GPU fit warns that macOS wires only part of unified memory for the GPU."""
    _, _, err = run("estimate", "qwen3-8b", "--gpu", "M3 Max")
    assert "shares memory with the CPU" in err


def test_bad_kv_dtype_exits_two() -> None:
    """An unknown --kv-dtype is a usage error with the accepted names."""
    code, out, err = run("estimate", QWEN, "--kv-dtype", "int3")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "q8_0" in err


def test_gguf_on_moe_and_mla() -> None:
    """GGUF pricing works for MoE + MLA (DeepSeek-V3) and MXFP4_MOE (gpt-oss) end to end."""
    for model, dtype in (("deepseek-ai/DeepSeek-V3", "Q4_K_M"), ("openai/gpt-oss-20b", "MXFP4_MOE")):
        code, out, _ = run("estimate", model, "--dtype", dtype, "--json")
        assert ExitCode.OK == code
        assert dtype == json.loads(out)["settings"]["dtype"]
