"""`vram models`, `vram gpus`, `vram dtypes`: the figures they list, as JSON and as tables."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode
from vram.resolve import catalog

from ..conftest import ROOT

runner = CliRunner()
GOLDEN = json.loads((ROOT / "tests/core/golden_params.json").read_text())
GIB = 1 << 30


def listing(*args: str, columns: int = 120) -> str:
    """The stdout of a successful `vram <args>` at a terminal ``columns`` wide."""
    result = runner.invoke(app, list(args), env={"COLUMNS": str(columns)})
    assert ExitCode.OK == result.exit_code, result.stderr
    return result.stdout


def document(command: str) -> dict[str, Any]:
    """The JSON document of `vram <command> --json`."""
    doc: dict[str, Any] = json.loads(listing(command, "--json"))
    assert (1, command) == (doc["schema_version"], doc["command"])
    return doc


def test_models_counts_are_the_transformers_counts() -> None:
    """Every catalog model's listed count is the one transformers builds from its config (golden_params.json)."""
    rows = {m["id"]: m for m in document("models")["models"]}
    assert len(catalog.models()) == len(rows)
    for key, golden in GOLDEN.items():
        if golden.get("file", "").startswith("src/vram/data/models/"):
            assert golden["parameters"] == rows[key.replace("--", "/", 1)]["parameters"], key
    assert 7_615_616_512 == rows["Qwen/Qwen2.5-7B"]["parameters"]


def test_models_active_parameters_of_mixtral() -> None:
    """Mixtral-8x7B: 2 of 8 experts per token, so 6 x 32 layers x 3 x 4096 x 14336 expert weights sit idle.

    46,702,792,704 - 6 * 32 * 3 * 4096 * 14336 = 12,879,925,248 (by hand from the published config).
    """
    row = next(m for m in document("models")["models"] if m["id"] == "mistralai/Mixtral-8x7B-v0.1")
    assert 46_702_792_704 == row["parameters"]
    assert 46_702_792_704 - 6 * 32 * 3 * 4096 * 14336 == row["active_parameters"]
    assert ("mixtral", "bf16", 32768) == (row["model_type"], row["dtype"], row["max_context"])


def test_gpus_memory() -> None:
    """Catalog cards list their memory in bytes: H100 SXM 80 GiB, RTX 4090 24 GiB (NVIDIA datasheets)."""
    cards = {g["name"]: g for g in document("gpus")["gpus"]}
    assert 80 * GIB == cards["H100 SXM"]["memory_bytes"]
    assert 24 * GIB == cards["RTX 4090"]["memory_bytes"]
    assert {"nvidia", "amd", "apple"} <= {c["vendor"] for c in cards.values()}


def test_dtypes_bits_per_weight() -> None:
    """Nominal bits per weight from the block layouts: ggml Q8_0 34 B / 32, Q4_0 18 B / 32; bitsandbytes NF4.

    ggml-common.h: block_q8_0 = fp16 scale + 32 int8; block_q4_0 = fp16 scale + 16 bytes of nibbles.
    bitsandbytes quantize_4bit: 4 bits + one fp32 absmax per 64 weights; double quant stores that
    absmax as uint8 with one fp32 scale per 256 blocks.
    """
    doc = document("dtypes")
    bits = {f["name"]: f["nominal_bits"] for f in doc["formats"]}
    assert 34 * 8 / 32 == bits["Q8_0"]
    assert 18 * 8 / 32 == bits["Q4_0"]
    assert 4 + 32 / 64 == bits["nf4"]
    assert 4 + 8 / 64 + 32 / (64 * 256) == bits["nf4-dq"]
    assert all(f["source"] for f in doc["formats"])
    assert "nf4" == doc["aliases"]["int4"]


@pytest.mark.parametrize("columns", [80, 60])
def test_models_table_keeps_ids_whole(columns: int) -> None:
    """At a narrow terminal every model id appears whole on one line, with its parameter count."""
    out = listing("models", columns=columns)
    assert all(len(line) <= columns for line in out.splitlines())
    lines = {line.split()[0]: line.split() for line in out.splitlines()[3:] if line.strip()}
    assert {m.id for m in catalog.models()} == set(lines)
    assert ["7.62", "B"] == lines["Qwen/Qwen2.5-7B"][1:3]


def test_models_table_at_80_columns_drops_minor_columns_first() -> None:
    """At 80 columns, with 45-character ids, aliases, type and context go; params, active and dtype stay."""
    header = listing("models", columns=80).splitlines()[1].split()
    assert ["model", "params", "active", "dtype"] == header
    wide = listing("models", columns=160).splitlines()[1].split()
    assert ["model", "params", "active", "dtype", "context", "type", "aliases"] == wide


def test_gpus_table_shows_memory() -> None:
    """The GPU table lists each card's nominal and usable memory in the units asked for."""
    rows = {line.split("  ")[0].strip(): line for line in listing("gpus").splitlines()}
    assert "80.00 GiB" in rows["H100 SXM"]
    assert "79.11 GiB" in rows["H100 SXM"]  # the CUDA total in the out-of-memory log of vllm-project/vllm#27508
    assert (
        "85.90 GB"
        in {line.split("  ")[0].strip(): line for line in listing("gpus", "--units", "GB").splitlines()}["H100 SXM"]
    )


def test_dtypes_table_shows_bits() -> None:
    """The formats table gives Q8_0 8.5 bits per weight (ggml block_q8_0) and lists the aliases."""
    out = listing("dtypes")
    row = next(line.split() for line in out.splitlines() if line.split()[:1] == ["Q8_0"])
    assert "8.500" == row[1]
    assert "int4 = nf4" in out


def test_version() -> None:
    """vram --version prints the package version and exits 0."""
    from vram import __version__

    result = runner.invoke(app, ["--version"])
    assert 0 == result.exit_code
    assert f"vram {__version__}\n" == result.stdout
