"""`vram fit MODEL --train` through Typer's runner: JSON, table, the seed case's fewest GPUs and exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.cli._errors import ExitCode
from vram.core.training.estimate import estimate_training
from vram.core.training.settings import TrainingSettings
from vram.resolve.catalog import find_gpu
from vram.resolve.reference import resolve

runner = CliRunner()
LLAMA = "meta-llama/Llama-3.1-8B"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def fit_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run("fit", *args, "--train", "--json")
    doc: dict[str, Any] = json.loads(out)
    return code, doc


def test_seed_full_fine_tuning_fewest_4090s() -> None:
    """Llama-3.1-8B on RTX 4090s with full checkpointing: min_gpus is ZeRO-3 over 7, its per-GPU bytes are
    `vram train --gpus 7 --zero 3`'s total and 6 cards under ZeRO-3 do not fit."""
    code, doc = fit_json(LLAMA, "--gpu", "RTX 4090", "--grad-checkpointing", "full")
    assert ExitCode.OK == code
    m = doc["min_gpus"]
    assert {k: m[k] for k in ("count", "tp", "pp", "zero", "fsdp")} == {
        "count": 7, "tp": 1, "pp": 1, "zero": 3, "fsdp": "none",
    }  # fmt: skip
    assert "--gpus 7 --zero 3" in m["layout"]
    spec = resolve(LLAMA, offline=True).spec
    assert spec is not None
    s = TrainingSettings(precision="bf16-mixed", grad_checkpointing="full", zero=3)
    budget = find_gpu("RTX 4090").usable_memory_bytes
    assert m["per_gpu_bytes"] == estimate_training(spec, s.model_copy(update={"gpus": 7})).total_bytes <= budget
    assert estimate_training(spec, s.model_copy(update={"gpus": 6})).total_bytes > budget
    assert doc["settings"]["train_args"] == [
        "--precision",
        "bf16-mixed",
        "--seq-len",
        "2048",
        "--grad-checkpointing",
        "full",
    ]
    assert doc["recommended"] == "lora"
    rows = {r["dtype"]: r for r in doc["rows"]}
    assert rows["qlora"]["args"] == [
        "--precision", "bf16-mixed", "--seq-len", "2048", "--grad-checkpointing", "full", "--lora-rank", "8", "--qlora",
    ]  # fmt: skip
    assert doc["decode_tokens_per_s_bound"] is None


def test_nothing_fits_exits_1_with_a_suggestion() -> None:
    """Without checkpointing no setup trains on one RTX 4090: exit 1, shortfall and a suggestion."""
    code, doc = fit_json(LLAMA, "--gpu", "RTX 4090")
    assert ExitCode.DOES_NOT_FIT == code
    assert doc["recommended"] is None
    assert doc["shortfall_bytes"] > 0
    assert "--grad-checkpointing full" in doc["suggestion"]


def test_table_names_setups_and_the_fewest_gpus() -> None:
    """The table heads its first column 'setup', marks LoRA and prints the ZeRO-3 line."""
    code, out, _ = run("fit", LLAMA, "--gpu", "RTX 4090", "--train", "--grad-checkpointing", "full")
    assert ExitCode.OK == code
    assert "setup" in out
    assert "micro-batch 1" in out
    assert "ZeRO-3: vram train --gpus 7 --zero 3" in out.replace("\n", " ")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["fit", LLAMA, "--gpu", "RTX 4090", "--lora-rank", "8"], ExitCode.USAGE, "add --train"),
        (["fit", LLAMA, "--gpu", "RTX 4090", "--train", "--dtype", "int8"], ExitCode.USAGE, "--dtype"),
        (["fit", LLAMA, "--gpu", "RTX 4090", "--train", "--runtime", "vllm"], ExitCode.USAGE, "--runtime"),
        (["fit", "--gpu", "RTX 4090", "--train"], ExitCode.USAGE, "MODEL"),
        (["fit", LLAMA, "--gpu", "RTX 4090", "--train", "--optimizer", "nope"], ExitCode.USAGE, "optimizer"),
        (["fit", LLAMA, "--gpu", "RTX 4090", "--train", "--gpus", "3", "--tp", "3"], ExitCode.USAGE, "--tp 3"),
        (["fit", "7b", "--gpu", "RTX 4090", "--train"], ExitCode.USAGE, "bare parameter count"),
        (["fit", "no-such-model-xyz", "--gpu", "RTX 4090", "--train"], ExitCode.MODEL, "error:"),
    ],
)
def test_bad_input_exit_codes(args: list[str], code: ExitCode, says: str) -> None:
    """Training options without --train, inference options with it, bad settings: one message, its exit code."""
    got, _, err = run(*args)
    assert int(code) == got
    assert says in err
    assert "Traceback" not in err


def test_beyond_the_search_limit_says_so() -> None:
    """Llama-3.1-405B full fine-tuning needs more than 64 RTX 4090s (its 16 bytes per parameter alone are 6 TB,
    over 64 x 23.64 GiB): exit 1, min_gpus null, and the table says which layouts were searched."""
    code, doc = fit_json("meta-llama/Llama-3.1-405B", "--gpu", "RTX 4090", "--grad-checkpointing", "full")
    assert ExitCode.DOES_NOT_FIT == code
    assert doc["min_gpus"] is None
    code, out, _ = run(
        "fit", "meta-llama/Llama-3.1-405B", "--gpu", "RTX 4090", "--train", "--grad-checkpointing", "full"
    )
    assert "ZeRO-3, FSDP or TP x PP" in out.replace("\n", " ")
