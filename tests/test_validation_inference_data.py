"""data/validation/inference.jsonl: published inference measurements, each one a well-formed, runnable record.

The figures themselves are checked against the estimates by scripts/validate.py; these tests hold the data to
its format (the validation record of the shared contract) so that every record can be run and compared.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vram.core.dtypes import get_format
from vram.core.inference import KV_DTYPES
from vram.resolve.catalog import find_model, gpu_from_arg

DATA = Path(__file__).resolve().parent.parent / "data" / "validation" / "inference.jsonl"

QUANTITIES = {
    "weights",
    "cpu_weights",
    "kv_cache_bytes",
    "kv_cache_tokens",
    "max_concurrency",
    "non_kv",
    "activation_peak",
    "cuda_graph",
    "compute_buffer",
    "load_allocated",
    "peak_allocated",
    "peak_device",
}
"""The inference quantities a record may measure (the validation record format)."""
FIELDS = {"id", "kind", "source", "framework", "model", "gpu", "settings", "vram_args", "measured", "notes"}
BYTE_UNITS = {"GiB", "GB", "MiB", "MB"}
UNITS = {"kv_cache_tokens": {"tokens"}, "max_concurrency": {"x"}}
RUNTIMES = {"vllm": "vllm", "llama.cpp": "llama.cpp", "transformers": "transformers"}
"""framework.name -> the --runtime value its records pass."""

VALUE_OPTIONS = {
    "--dtype",
    "--batch",
    "--seq-len",
    "--kv-dtype",
    "--gpu",
    "--logits",
    "--mla-cache",
    "--revision",
    "--units",
    "--runtime",
    "--tp",
    "--pp",
    "--gpu-memory-utilization",
    "--max-model-len",
    "--max-num-seqs",
    "--max-num-batched-tokens",
    "--block-size",
    "--ctx-size",
    "--n-gpu-layers",
    "--ubatch-size",
    "--cache-type-k",
    "--flash-attn",
    "--cache-type-v",
    "--parallel",
}
"""`vram estimate` options that take a value, by their long names (existing ones and those of the runtime work)."""
FLAG_OPTIONS = {"--enforce-eager", "--flashinfer-sampler", "--kv-unified", "--offline"}
INT_OPTIONS = {
    "--batch",
    "--seq-len",
    "--tp",
    "--pp",
    "--max-model-len",
    "--max-num-seqs",
    "--max-num-batched-tokens",
    "--block-size",
    "--ctx-size",
    "--n-gpu-layers",
    "--ubatch-size",
    "--parallel",
}
CACHE_TYPES = {"f16", "q8_0", "q4_0"}
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")


def _records() -> list[dict[str, Any]]:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


RECORDS = _records()


def _options(args: list[str]) -> dict[str, str | None]:
    """The options of a vram_args list after `estimate MODEL`: long name -> value (None for a flag)."""
    out: dict[str, str | None] = {}
    i = 2
    while i < len(args):
        name = args[i]
        assert name not in out, f"{name} given twice"
        if name in FLAG_OPTIONS:
            out[name] = None
            i += 1
        else:
            assert name in VALUE_OPTIONS, f"{name} is not a `vram estimate` option"
            assert i + 1 < len(args), f"{name} needs a value"
            out[name] = args[i + 1]
            i += 2
    return out


def test_enough_records_with_unique_kebab_ids() -> None:
    """The set holds at least 30 measurements and every id is unique kebab-case."""
    ids = [r["id"] for r in RECORDS]
    assert len(ids) >= 30
    assert all(KEBAB.match(i) for i in ids), [i for i in ids if not KEBAB.match(i)]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: str(r["id"]))
def test_record_fields(record: dict[str, Any]) -> None:
    """Each record has the format's fields: an https source with its quote, a runtime, a measured quantity."""
    assert set(record) == FIELDS
    assert record["kind"] == "inference"
    source = record["source"]
    assert set(source) == {"title", "url", "repo", "path", "commit", "quote"}
    assert source["title"]
    assert source["quote"]
    assert source["url"].startswith("https://")
    if source["commit"] is not None:
        assert HEX40.match(source["commit"])
        assert source["repo"]
        assert source["path"]
        assert source["commit"] in source["url"]
    assert record["framework"]["name"] in RUNTIMES
    assert record["framework"]["version"] is None or isinstance(record["framework"]["version"], str)
    assert isinstance(record["settings"], dict)
    assert record["settings"]
    assert isinstance(record["notes"], str)
    assert record["notes"]
    measured = record["measured"]
    assert set(measured) == {"quantity", "value", "unit"}
    assert measured["quantity"] in QUANTITIES
    assert measured["unit"] in UNITS.get(measured["quantity"], BYTE_UNITS)
    assert isinstance(measured["value"], (int, float))
    assert measured["value"] > 0


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: str(r["id"]))
def test_record_runs_offline(record: dict[str, Any]) -> None:
    """The model and GPU resolve from the bundled catalogs, and vram_args is a valid `vram estimate` call for it."""
    model = find_model(record["model"])
    assert model is not None, f"{record['model']} is not in the catalog"
    if record["gpu"] is not None:
        gpu_from_arg(record["gpu"])
    args = record["vram_args"]
    assert args[0] == "estimate"
    assert find_model(args[1]) == model
    opts = _options(args)
    assert opts.get("--runtime") == RUNTIMES[record["framework"]["name"]]
    for name in INT_OPTIONS & opts.keys():
        assert re.fullmatch(r"-?\d+", opts[name] or ""), f"{name} {opts[name]!r}"
    if "--gpu" in opts:
        gpu_from_arg(opts["--gpu"] or "")
    if "--gpu-memory-utilization" in opts:
        assert 0 < float(opts["--gpu-memory-utilization"] or "") <= 1
    if "--dtype" in opts:
        get_format(opts["--dtype"] or "")
    if "--kv-dtype" in opts:
        assert opts["--kv-dtype"] in KV_DTYPES
    for name in ("--cache-type-k", "--cache-type-v"):
        if name in opts:
            assert opts[name] in CACHE_TYPES


def test_spread_over_architectures_and_setups() -> None:
    """The set covers MoE, MLA, sliding-window, FP8/MXFP4/GGUF-quantized, tensor-parallel, vLLM and llama.cpp runs."""
    models = {r["model"] for r in RECORDS}
    args = [_options(r["vram_args"]) for r in RECORDS]
    assert {"deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-R1"} & models  # MLA
    assert {m for m in models if "gemma" in m or "gpt-oss" in m or m == "mistralai/Mistral-7B-v0.1"}  # sliding window
    assert {m for m in models if "Mixtral" in m or "A3B" in m or "gpt-oss" in m}  # MoE (gpt-oss ships MXFP4 experts)
    dtypes = {a.get("--dtype") or "" for a in args}
    assert "fp8" in dtypes
    assert {d for d in dtypes if d.startswith(("Q", "IQ"))}  # GGUF file types
    assert any(int(a.get("--tp") or 1) > 1 for a in args)
    assert any(a["--runtime"] == "llama.cpp" for a in args)
    assert any(a["--runtime"] == "vllm" for a in args)


def test_vllm_token_capacity_and_concurrency_agree() -> None:
    """Where one vLLM log gives both, tokens / max_model_len is the printed concurrency (two decimals).

    vLLM prints ``Maximum concurrency`` as the pool's tokens over max_model_len for a model whose layers all use full
    attention (vllm/v1/core/kv_cache_utils.py); a mismatch means a figure was copied wrong. Sliding-window models
    (gpt-oss) are left out: their hybrid pages make the two figures count different things.
    """
    runs: dict[tuple[str, tuple[str, ...]], dict[str, float]] = {}
    for r in RECORDS:
        if r["framework"]["name"] == "vllm" and "gpt-oss" not in r["model"]:
            key = (r["source"]["url"], tuple(r["vram_args"]))
            runs.setdefault(key, {})[r["measured"]["quantity"]] = r["measured"]["value"]
    checked = 0
    for (_, vram_args), figures in runs.items():
        if {"kv_cache_tokens", "max_concurrency"} <= figures.keys():
            max_model_len = int(_options(list(vram_args))["--max-model-len"] or "")
            assert abs(figures["kv_cache_tokens"] / max_model_len - figures["max_concurrency"]) <= 0.0051
            checked += 1
    assert checked >= 5
