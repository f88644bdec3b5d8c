"""`vram fit` through Typer's runner: the seeds' cases with their boundaries, JSON, plot, exit codes, --gpu auto."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode
from vram.core.inference import InferenceSettings, estimate_inference
from vram.core.placement import per_gpu_bytes
from vram.core.spec import ModelSpec
from vram.core.units import GiB
from vram.resolve import local_gpus
from vram.resolve.catalog import find_gpu
from vram.resolve.reference import resolve

runner = CliRunner()
FOUR_BIT = {"nf4", "nf4-dq", "gptq-int4-g128", "awq-int4-g128"}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def fit_json(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, _ = run("fit", *args, "--json")
    return code, json.loads(out)


def _spec(model: str) -> ModelSpec:
    spec = resolve(model, offline=True).spec
    assert spec is not None
    return spec


def _total(spec: ModelSpec, dtype: str, batch: int, seq_len: int) -> int:
    return estimate_inference(spec, InferenceSettings(dtype=dtype, batch=batch, seq_len=seq_len)).total_bytes


def test_llama2_7b_on_an_8gb_card_needs_int8_or_smaller() -> None:
    """Llama-2-7B at 2k on an RTX 3070 (7.78 GiB usable): fp16 and int8 do not fit, a 4-bit format is recommended;
    its max context and max batch fit by estimate_inference and one more does not."""
    code, doc = fit_json("llama-2-7b", "--gpu", "RTX 3070", "--seq-len", "2048")
    assert ExitCode.OK == code
    rows = {r["dtype"]: r for r in doc["rows"]}
    assert not rows["fp16"]["fits"]
    assert not rows["bnb-int8"]["fits"]
    assert doc["recommended"] in FOUR_BIT
    assert "bnb-int8 needs" in doc["reason"]
    spec, budget = _spec("llama-2-7b"), find_gpu("RTX 3070").usable_memory_bytes
    for dtype, row in rows.items():
        if row["max_batch"] is not None and not row["max_batch_capped"]:
            assert (
                _total(spec, dtype, row["max_batch"], 2048) <= budget < _total(spec, dtype, row["max_batch"] + 1, 2048)
            )
        if row["max_seq_len"] is not None and not row["max_seq_len_capped"]:
            n = row["max_seq_len"]
            assert _total(spec, dtype, 1, n) <= budget < _total(spec, dtype, 1, n + 1)
    assert rows["bnb-int8"]["max_seq_len"] is not None  # int8 fits a shorter context: 1,066 tokens
    assert doc["decode_tokens_per_s_bound"] > 0


def test_llama2_7b_on_a_4gb_card_offers_offload() -> None:
    """On a 4 GB GTX 960 nothing fits under transformers: NF4 weights alone are 3.88 GiB and the CUDA context
    0.5 GiB, above the card's 3.25 GiB usable; exit 1 with the shortfall, a suggestion and an offload split."""
    code, doc = fit_json("llama-2-7b", "--gpu", "GTX 960 4GB", "--seq-len", "2048")
    assert ExitCode.DOES_NOT_FIT == code
    assert doc["recommended"] is None
    nf4 = estimate_inference(_spec("llama-2-7b"), InferenceSettings(dtype="nf4", seq_len=2048))
    assert nf4.component("weights").bytes + nf4.component("overhead").bytes > 4 * GiB
    assert doc["shortfall_bytes"] > 0
    assert "needs" in doc["reason"]
    off = doc["offload"]
    assert off["gpu_layers"] + off["cpu_layers"] == 32
    assert off["gpu_bytes"] <= doc["gpu"]["usable_memory_bytes"]
    assert "device_map" in off["flag"]
    assert doc["decode_tokens_per_s_bound"] is not None  # the offloaded layers cross PCIe 3.0 x16
    assert doc["min_gpus"]["count"] == 2


def test_llama31_70b_on_a_48gb_card_needs_4_bit() -> None:
    """Llama-3.1-70B on an RTX A6000 (48 GB): bf16 and int8 do not fit, a 4-bit format does; its max context fits
    and one more token does not."""
    code, doc = fit_json("llama-3.1-70b", "--gpu", "RTX A6000", "--seq-len", "4096")
    assert ExitCode.OK == code
    assert doc["recommended"] in FOUR_BIT
    row = next(r for r in doc["rows"] if r["dtype"] == doc["recommended"])
    spec, budget = _spec("llama-3.1-70b"), find_gpu("RTX A6000").usable_memory_bytes
    n = row["max_seq_len"]
    assert _total(spec, row["dtype"], 1, n) <= budget < _total(spec, row["dtype"], 1, n + 1)


def test_405b_bf16_fewest_80gb_gpus() -> None:
    """Llama-3.1-405B in bf16 on H100 SXM: at least 10 cards by hand (811.7e9 weight bytes / 79.11 GiB = 9.6), and
    the count found holds it while one fewer does not."""
    code, doc = fit_json("meta-llama/Llama-3.1-405B", "--gpu", "H100 SXM", "--dtype", "bf16")
    assert ExitCode.DOES_NOT_FIT == code
    assert [r["dtype"] for r in doc["rows"]] == ["bf16"]
    mg = doc["min_gpus"]
    assert mg["count"] >= 10
    assert (mg["tp"], mg["pp"]) == (1, mg["count"])
    spec = _spec("meta-llama/Llama-3.1-405B")
    est = estimate_inference(spec, InferenceSettings(dtype="bf16"))
    budget = find_gpu("H100 SXM").usable_memory_bytes
    assert per_gpu_bytes(spec, est, mg["count"]) == mg["per_gpu_bytes"] <= budget
    assert per_gpu_bytes(spec, est, mg["count"] - 1) > budget
    code, again = fit_json(
        "meta-llama/Llama-3.1-405B", "--gpu", "H100 SXM", "--dtype", "bf16", "--gpus", str(mg["count"])
    )
    assert ExitCode.OK == code
    assert again["recommended"] == "bf16"


def test_table_marks_the_recommended_row() -> None:
    """The table names each format, marks the recommended one and labels the decode figure as a bound."""
    code, out, _ = run("fit", "llama-3.1-8b", "--gpu", "RTX 4090")
    assert ExitCode.OK == code
    assert "recommended: bf16" in out
    assert "max context" in out
    assert "at most" in out
    assert "upper bound" in out


def test_plot_reads_at_80_columns_in_plain_text() -> None:
    """--plot draws one bar per context within 80 columns, with the capacity line, the maximum marked, no colour."""
    result = CliRunner().invoke(app, ["fit", "llama-3.1-8b", "--gpu", "RTX 4090", "--plot"], env={"COLUMNS": "80"})
    assert ExitCode.OK == result.exit_code
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "\x1b[" not in result.stdout
    marked = [line for line in lines if line.endswith("<- max")]
    assert len(marked) == 1
    assert "34,832" in marked[0]
    assert "█ weights" in result.stdout
    assert sum("|" in line for line in lines) >= 8


def test_catalog_scan_sorted_and_filtered() -> None:
    """Without MODEL: every catalog model of the family, sorted by size, each with its best format; --min-context
    drops those that cannot reach it."""
    code, doc = fit_json("--gpu", "RTX 4090", "--family", "qwen3")
    assert ExitCode.OK == code
    assert doc["scope"] == "catalog"
    ids = [r["id"] for r in doc["catalog"]]
    assert ids
    assert all("qwen3" in i.lower() for i in ids)
    sizes = [r["parameters"] for r in doc["catalog"]]
    assert sizes == sorted(sizes)
    small = next(r for r in doc["catalog"] if r["id"] == "Qwen/Qwen3-8B")
    assert small["fits"]
    assert small["dtype"] == "bf16"
    _, long = fit_json("--gpu", "RTX 4090", "--family", "qwen3", "--min-context", "40000")
    assert all(r["max_seq_len"] >= 40000 for r in long["catalog"])
    assert len(long["catalog"]) < len(ids)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["fit", "7b", "--gpu", "RTX 4090"], ExitCode.USAGE),
        (["fit", "llama-2-7b", "--gpu", "RTX 9999"], ExitCode.USAGE),
        (["fit", "llama-2-7b", "--gpu", "RTX 4090", "--cpu-ram", "lots"], ExitCode.USAGE),
        (["fit", "no-such-model-xyz", "--gpu", "RTX 4090"], ExitCode.MODEL),
    ],
)
def test_bad_input_exit_codes(args: list[str], code: ExitCode) -> None:
    """A bare count, an unknown card or a bad --cpu-ram is a usage error; an unknown model exits 3; one message."""
    result = runner.invoke(app, args)
    assert code == result.exit_code
    assert "error:" in result.stderr
    assert "" == result.stdout


def test_gpu_auto_without_a_card_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """--gpu auto on a machine where no vendor tool answers exits 2 and says to name the card."""
    monkeypatch.setattr(local_gpus, "run_tool", lambda cmd: None)
    monkeypatch.setattr(local_gpus.detect, "__defaults__", (local_gpus.run_tool,))
    result = runner.invoke(app, ["fit", "llama-2-7b", "--gpu", "auto"])
    assert ExitCode.USAGE == result.exit_code
    assert "--gpu" in result.stderr


def test_detect_reads_nvidia_smi_csv() -> None:
    """nvidia-smi's CSV lines become catalog cards when named (RTX 4090: 24,564 MiB), else a card of that size."""
    out = "NVIDIA GeForce RTX 4090, 24564\nNVIDIA Mystery Card, 10240\n"
    cards = local_gpus.detect(lambda cmd: out if cmd[0] == "nvidia-smi" else None)
    assert cards[0].name == "RTX 4090"
    assert cards[0].bandwidth_gb_s == 1008
    assert cards[1].name == "NVIDIA Mystery Card"
    assert cards[1].memory_bytes == 10240 * 2**20


def test_detect_reads_rocm_smi_and_sysctl() -> None:
    """rocm-smi's JSON VRAM total and a Mac's sysctl figures are read (75% of unified memory usable)."""
    rocm = json.dumps({"card0": {"Card Series": "AMD Instinct MI300X", "VRAM Total Memory (B)": str(192 * GiB)}})
    cards = local_gpus.detect(lambda cmd: rocm if cmd[0] == "rocm-smi" else None)
    assert cards[0].name == "MI300X"
    mac = {"machdep.cpu.brand_string": "Apple M3 Max\n", "hw.memsize": f"{36 * GiB}\n"}
    cards = local_gpus.detect(lambda cmd: mac.get(cmd[-1]) if cmd[0] == "sysctl" else None)
    assert cards[0].memory_bytes == 36 * GiB
    assert cards[0].usable_memory_bytes == 27 * GiB
    assert cards[0].bandwidth_gb_s == 400


def test_estimate_gpu_carries_the_same_decode_bound() -> None:
    """`vram estimate --gpu` reports the decode bound of the same format and context as `vram fit` does."""
    _, out, _ = run("estimate", "llama-3.1-8b", "--gpu", "RTX 4090", "--json")
    est = json.loads(out)
    _, doc = fit_json("llama-3.1-8b", "--gpu", "RTX 4090")
    assert est["gpu"]["decode_tokens_per_s_bound"] == doc["decode_tokens_per_s_bound"]
    assert "upper bound" in est["gpu"]["decode_assumptions"]
    _, out, _ = run("estimate", "llama-3.1-8b", "--json")
    assert json.loads(out)["gpu"] is None


def test_a_format_that_does_not_fit_suggests_one_that_does() -> None:
    """--dtype fp16 for Llama-2-7B on an RTX 3070 exits 1 and names the highest-precision format that fits (the
    recommendation without --dtype), with the shortfall: 14.24 GiB against 7.78 GiB usable."""
    code, doc = fit_json("llama-2-7b", "--gpu", "RTX 3070", "--seq-len", "2048", "--dtype", "fp16")
    assert ExitCode.DOES_NOT_FIT == code
    _, free = fit_json("llama-2-7b", "--gpu", "RTX 3070", "--seq-len", "2048")
    assert doc["suggestion"] == f"--dtype {free['recommended']}"
    assert round(doc["shortfall_bytes"] / GiB, 2) == round(14.24 - 7.78, 2)


def _vllm(spec: ModelSpec, dtype: str, seq_len: int, tp: int = 1, pp: int = 1, gpu: str = "RTX 4090") -> bool:
    from vram.core.runtimes import estimate_runtime

    s = InferenceSettings(dtype=dtype, seq_len=seq_len, runtime="vllm", tp=tp, pp=pp)
    return bool(estimate_runtime(spec, s, None, find_gpu(gpu)).runtime_facts["fits"])


def test_vllm_rows_solve_max_model_len_exactly() -> None:
    """--runtime vllm: each row's max context is the longest --max-model-len at which vLLM starts (its KV pool holds
    one such request) and one token more it refuses, by the vLLM estimate itself; max batch is its concurrency."""
    code, doc = fit_json("llama-3.1-8b", "--gpu", "RTX 4090", "--runtime", "vllm", "--seq-len", "32768")
    assert ExitCode.OK == code
    assert doc["settings"]["runtime"] == "vllm"
    spec = _spec("llama-3.1-8b")
    for row in doc["rows"][:3]:
        n = row["max_seq_len"]
        assert _vllm(spec, row["dtype"], n)
        assert not _vllm(spec, row["dtype"], n + 1)
    assert doc["recommended"] == "bf16"
    assert doc["rows"][0]["max_batch"] == 1  # 40,784 tokens of pool hold one 32,768-token request


def test_vllm_fewest_gpus_for_405b_bf16_uses_tp_then_pp() -> None:
    """Llama-3.1-405B bf16 under vLLM on H100 SXM: at least 11 cards by hand (811.7e9 weight bytes / (0.9 x 79.11
    GiB) = 10.6); the TP x PP layout found starts vLLM, and no layout of fewer GPUs (TP up to 8) does."""
    code, doc = fit_json(
        "meta-llama/Llama-3.1-405B", "--gpu", "H100 SXM", "--dtype", "bf16", "--runtime", "vllm", "--seq-len", "8192"
    )
    assert ExitCode.DOES_NOT_FIT == code
    mg = doc["min_gpus"]
    assert mg["count"] >= 11
    assert mg["tp"] * mg["pp"] == mg["count"]
    assert mg["tp"] > 1
    assert "--tensor-parallel-size" in mg["layout"]
    spec = _spec("meta-llama/Llama-3.1-405B")
    assert _vllm(spec, "bf16", 8192, mg["tp"], mg["pp"], "H100 SXM")
    for n in range(1, mg["count"]):
        for tp in (t for t in range(1, 9) if n % t == 0 and spec.num_heads % t == 0 and spec.num_kv_heads % t == 0):
            assert not _vllm(spec, "bf16", 8192, tp, n // tp, "H100 SXM")


def test_gpu_auto_uses_every_card_like_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """--gpu auto on a machine with two RTX 3070s judges the model on both (the layer split), unless --gpus says."""
    out = "NVIDIA GeForce RTX 3070, 8192\nNVIDIA GeForce RTX 3070, 8192\n"
    monkeypatch.setattr(local_gpus.detect, "__defaults__", (lambda cmd: out if cmd[0] == "nvidia-smi" else None,))
    _, doc = fit_json("llama-2-7b", "--gpu", "auto", "--seq-len", "2048")
    assert (doc["gpu"]["name"], doc["gpu"]["count"]) == ("RTX 3070", 2)
    _, one = fit_json("llama-2-7b", "--gpu", "auto", "--gpus", "1", "--seq-len", "2048")
    assert one["gpu"]["count"] == 1


def test_a_card_without_bf16_recommends_a_format_it_runs() -> None:
    """On a T4 (Turing: no bf16) Llama-3.1-8B's bf16 row is marked not native and 16-bit runs as fp16; a quantized
    format is recommended, since its fp16 compute costs the same bytes as bf16."""
    code, doc = fit_json("llama-3.1-8b", "--gpu", "T4")
    assert ExitCode.OK == code
    rows = {r["dtype"]: r for r in doc["rows"]}
    assert not rows["bf16"]["native"]
    assert rows["fp16"]["native"]
    assert rows["nf4"]["native"]
    assert doc["recommended"] == "bnb-int8"
    assert any("bf16 needs NVIDIA Ampere" in n for n in doc["notes"])


def test_count_prefix_and_cpu_ram_limit() -> None:
    """--gpu "2x RTX 3070" is two cards (as --gpus 2); --cpu-ram below the offloaded layers' weights gives no
    offload plan (Llama-2-7B fp16 on a 4 GB card leaves about 12 GiB of layers for the CPU)."""
    _, doc = fit_json("llama-2-7b", "--gpu", "2x RTX 3070", "--seq-len", "2048")
    assert doc["gpu"]["count"] == 2
    args = ["llama-2-7b", "--gpu", "GTX 960 4GB", "--dtype", "fp16", "--seq-len", "1024"]
    code, small = fit_json(*args, "--cpu-ram", "4GiB")
    assert ExitCode.DOES_NOT_FIT == code
    assert small["offload"] is None
    _, big = fit_json(*args, "--cpu-ram", "64GiB")
    assert big["offload"]["cpu_bytes"] <= 64 * GiB
    assert big["offload"]["cpu_bytes"] > 4 * GiB


def _llamacpp_gpu(spec: ModelSpec, dtype: str, ctx: int, ngl: int = -1) -> int:
    from vram.core.inference import LlamaCppSettings
    from vram.core.runtimes import estimate_runtime

    s = InferenceSettings(dtype=dtype, seq_len=ctx, runtime="llama.cpp", llamacpp=LlamaCppSettings(n_gpu_layers=ngl))
    return estimate_runtime(spec, s).total_bytes


def test_llama2_7b_on_a_4gb_card_fits_a_3_bit_gguf_under_llamacpp() -> None:
    """Under llama.cpp a GTX 960 4GB runs Llama-2-7B in a GGUF type of 3 bits or fewer at 512 tokens, which a
    4-bit one does not; the max context fits by the llama.cpp estimate and one more token does not."""
    code, doc = fit_json("llama-2-7b", "--gpu", "GTX 960 4GB", "--runtime", "llama.cpp", "--seq-len", "512")
    assert ExitCode.OK == code
    assert doc["recommended"] in {"IQ3_XXS", "Q2_K"}
    rows = {r["dtype"]: r for r in doc["rows"]}
    assert not rows["Q4_K_M"]["fits"]
    spec, budget = _spec("llama-2-7b"), find_gpu("GTX 960 4GB").usable_memory_bytes
    n = rows[doc["recommended"]]["max_seq_len"]
    assert _llamacpp_gpu(spec, doc["recommended"], n) <= budget < _llamacpp_gpu(spec, doc["recommended"], n + 1)


def test_llamacpp_offload_is_the_most_gpu_layers_that_fit() -> None:
    """Q4_K_M at 2,048 tokens on the GTX 960: the -ngl plan puts the most layer slots on the GPU that fit, and one
    slot more does not; the rest is in host memory."""
    code, doc = fit_json(
        "llama-2-7b", "--gpu", "GTX 960 4GB", "--runtime", "llama.cpp", "--seq-len", "2048", "--dtype", "Q4_K_M"
    )
    assert ExitCode.DOES_NOT_FIT == code
    off = doc["offload"]
    k = int(off["flag"].removeprefix("-ngl "))
    spec, budget = _spec("llama-2-7b"), find_gpu("GTX 960 4GB").usable_memory_bytes
    assert (
        off["gpu_bytes"]
        == _llamacpp_gpu(spec, "Q4_K_M", 2048, k)
        <= budget
        < _llamacpp_gpu(spec, "Q4_K_M", 2048, k + 1)
    )
    assert off["gpu_layers"] + off["cpu_layers"] == 32
    assert off["cpu_bytes"] > 0


def test_a_named_count_and_a_different_gpus_is_a_usage_error() -> None:
    """--gpu "2x 24GB" is two 24 GB cards; saying --gpus 3 beside it is a usage error, not a silent choice."""
    _, doc = fit_json("llama-2-7b", "--gpu", "2x 24GB")
    assert (doc["gpu"]["name"], doc["gpu"]["count"]) == ("24 GB", 2)
    result = runner.invoke(app, ["fit", "llama-2-7b", "--gpu", "2x 24GB", "--gpus", "3"])
    assert ExitCode.USAGE == result.exit_code
    assert "give the count once" in result.stderr
