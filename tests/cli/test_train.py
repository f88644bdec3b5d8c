"""`vram train`: JSON and table, project defaults, and the documented exit code for each bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from enum import Enum
from inspect import signature
from pathlib import Path
from typing import Any, get_args

import pytest
from typer.testing import CliRunner

from vram.cli import _options, app, train
from vram.cli._errors import ExitCode
from vram.core.training import settings as ts

runner = CliRunner()
LLAMA = "meta-llama/Llama-2-7b-hf"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["train", *args])
    return result.exit_code, result.stdout, result.stderr


def vram(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m vram train ...` in ``cwd``: the project file of that folder applies, as for a user."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-m", "vram", "train", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def doc_of(out: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(out)
    return data


@pytest.mark.parametrize(
    ("choice", "literal"),
    [
        (_options.PrecisionChoice, ts.Precision),
        (_options.CheckpointingChoice, ts.Checkpointing),
        (_options.AttentionChoice, ts.Attention),
        (_options.LossChoice, ts.Loss),
        (_options.FsdpChoice, ts.Fsdp),
        (_options.OffloadChoice, ts.Offload),
    ],
)
def test_choices_match_the_settings(choice: type[Enum], literal: Any) -> None:
    """The CLI's choices are exactly the values TrainingSettings accepts (kept apart only for start-up time)."""
    assert set(get_args(literal)) == {m.value for m in choice}


def test_every_setting_is_an_option() -> None:
    """Each field of TrainingSettings (but the CUDA context size, a library knob) is an option of `vram train`."""
    options = set(signature(train.train).parameters)
    assert set(ts.TrainingSettings.model_fields) - {"cuda_context_bytes"} <= options


def test_json_document_for_a_count() -> None:
    """A bare count gives the six components (activations 0), total = their sum, and the states-only scope."""
    code, out, err = run("7.5b", "--precision", "bf16-mixed", "--gpus", "64", "--zero", "3", "--json")
    assert ExitCode.OK == code, err
    doc = doc_of(out)
    assert ("train", "states_only") == (doc["command"], doc["scope"])
    assert ["weights", "master_weights", "gradients", "optimizer", "activations", "overhead"] == list(doc["components"])
    assert doc["total_bytes"] == sum(c["bytes"] for c in doc["components"].values())
    assert 0 == doc["components"]["activations"]["bytes"]
    assert (64, 64, 3) == (doc["settings"]["gpus"], doc["settings"]["effective_batch"], doc["settings"]["zero"])
    assert 7_500_000_000 == doc["model"]["parameters"] == doc["trainable_parameters"]


def test_count_warns_about_ignored_options() -> None:
    """Options that size activations are named in one warning (JSON and stderr) for a bare count."""
    code, out, err = run("7b", "--batch", "4", "--seq-len", "100", "--grad-checkpointing", "full", "--json")
    assert ExitCode.OK == code
    warnings = doc_of(out)["warnings"]
    assert 1 == len(warnings)
    assert warnings[0].startswith("--batch, --seq-len, --grad-checkpointing ignored")
    assert "warning: --batch, --seq-len, --grad-checkpointing ignored" in err


def test_count_with_gpu_gives_no_verdict() -> None:
    """A bare count with --gpu exits 2: fp32 AdamW states of 7e9 params (16 B each: 104.31 GiB) decide no fit."""
    code, out, err = run("7b", "--precision", "fp32", "--gpu", "H100 SXM")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "model states alone take 104.31 GiB" in err  # 7e9 x (4 + 4 + 8) B = 112e9 B
    assert "79.11 GiB usable on H100 SXM" in err  # vllm-project/vllm#27508: "total capacity of 79.11 GiB"


def test_table_for_a_count() -> None:
    """The table labels a count's figure as model states only, with trainable vs total parameters."""
    code, out, _ = run("7b", "--optimizer", "sgd", "--precision", "fp32")
    assert ExitCode.OK == code
    for text in ("model states only", "trainable 7.00 B of 7.00 B", "master weights", "total", "GiB"):
        assert text in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--zero", "3", "--fsdp", "full", "--gpus", "2"), "choose one"),
        (("--gpus", "6", "--tp", "4"), "not divisible"),
        (("--tp", "3", "--gpus", "3"), "heads"),
        (("--pp", "64", "--gpus", "64"), "32 layers"),
        (("--optimizer", "adamw8bit"), "did you mean: adamw-8bit"),
        (("--lora-targets", "qv"), "--lora-rank"),
        (("--lora-rank", "8", "--lora-targets", "q,x"), "unknown LoRA target 'x'"),
        (("--lora-dropout", "0.05"), "--lora-dropout applies to LoRA adapters: add --lora-rank"),
        (("--lora-rank", "8", "--lora-dropout", "1"), "give a probability below 1"),
        (("--lora-rank", "8", "--lora-dropout", "-0.1"), "--lora-dropout"),
        (("--batch", "0"), "--batch"),
        (("--seq-len", "-5"), "--seq-len"),
        (("--lora-rank", "0"), "--lora-rank"),
        (("--gpus", "0"), "--gpus"),
        (("--grad-accum", "0"), "--grad-accum"),
        (("--zero", "4"), "--zero"),
        (("--batch", "2000000"), "--batch"),
        (("--precision", "fp8"), "--precision"),
        (("--gpu", "2x H100 SXM"), "2 GPUs"),
    ],
)
def test_bad_input_exits_two(args: tuple[str, ...], says: str) -> None:
    """Each bad combination or size of the issue's list is a usage error (exit 2) with nothing on stdout."""
    code, out, err = run(LLAMA, *args, "--json")
    assert ExitCode.USAGE == code, err
    assert "" == out
    assert says in err
    assert "Traceback" not in err


def test_lora_targets_naming_no_module() -> None:
    """`--lora-targets gate` on GPT-2 (no gated MLP) is exit 2 naming the modules it has."""
    code, out, err = run("gpt2", "--lora-rank", "8", "--lora-targets", "gate", "--json")
    assert ExitCode.USAGE == code
    assert "" == out
    assert "gate" in err


def test_unknown_model_exits_three() -> None:
    """An unresolvable MODEL is exit 3, stdout empty in --json mode."""
    code, out, _ = run("no-such-model-xyz", "--json")
    assert ExitCode.MODEL == code
    assert "" == out


def test_no_model_and_no_file(tmp_path: Path) -> None:
    """Without MODEL or a project file: exit 2 naming both ways to name one."""
    result = vram(tmp_path, "--json")
    assert ExitCode.USAGE == result.returncode
    assert "" == result.stdout
    assert "vram.toml" in result.stderr
    assert "[tool.vram]" in result.stderr
    assert "vram train llama-2-7b" in result.stderr


def test_project_file_supplies_the_model(tmp_path: Path) -> None:
    """`vram train --optimizer adamw --batch 8` in a folder whose vram.toml names the model and a seq_len."""
    (tmp_path / "vram.toml").write_text(
        'model = "meta-llama/Llama-3.1-8B"\nseq-len = 4096\noptimizer = "sgd"\nprecision = "bf16"\n'
    )
    result = vram(tmp_path, "--optimizer", "adamw", "--batch", "8", "--json")
    assert 0 == result.returncode, result.stderr
    doc = doc_of(result.stdout)
    assert ("meta-llama/Llama-3.1-8B", "full") == (doc["model"]["id"], doc["scope"])
    s = doc["settings"]
    assert ("adamw", 8, 4096, "bf16") == (s["optimizer"], s["batch"], s["seq_len"], s["precision"])
    assert {"file": "vram.toml", "keys": ["model", "seq_len", "precision"]} == doc["project_defaults"]


def test_command_line_model_wins(tmp_path: Path) -> None:
    """An explicit MODEL overrides [tool.vram]'s model; the file's other keys still apply."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n\n[tool.vram]\nmodel = "13b"\ngpus = 4\n')
    result = vram(tmp_path, "7b", "--json")
    assert 0 == result.returncode, result.stderr
    doc = doc_of(result.stdout)
    assert ("7b", 4) == (doc["model"]["id"], doc["settings"]["gpus"])
    assert {"file": "pyproject.toml [tool.vram]", "keys": ["gpus"]} == doc["project_defaults"]


def test_vram_toml_wins_over_pyproject(tmp_path: Path) -> None:
    """With both files, vram.toml's model is used and a warning says pyproject's [tool.vram] is not read."""
    (tmp_path / "vram.toml").write_text('model = "7b"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.vram]\nmodel = "13b"\n')
    result = vram(tmp_path, "--json")
    assert 0 == result.returncode, result.stderr
    assert "7b" == doc_of(result.stdout)["model"]["id"]
    assert "vram.toml wins over [tool.vram] in pyproject.toml" in result.stderr


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('model = "7b"\nbatchsize = 8\n', "vram.toml, line 2, key 'batchsize': not a `vram train` option"),
        ('model = "7b"\n\nbatch = "8"\n', "vram.toml, line 3, key 'batch': expected an integer, got a string ('8')"),
        ("model = 7\n", "vram.toml, line 1, key 'model': expected a string, got an integer (7)"),
        ('model = "7b"\nbatch = 0\n', "line 2, key 'batch': 0 is below the minimum, 1"),
        ('model = "7b"\nqlora = "yes"\n', "key 'qlora': expected true or false"),
        ('model = "7b"\nfsdp = "zero3"\n', "key 'fsdp': expected one of none, full, grad-op"),
        ('model = "7b"\ntoken = "hf_x"\n', "key 'token': a token does not belong in a project file"),
        ('model = "7b"\nseq_len = 1\nseq-len = 2\n', "key 'seq-len': set twice"),
        ('model = "7b"\nbatch = \n', "vram.toml: not valid TOML"),
    ],
)
def test_bad_project_file_exits_two(tmp_path: Path, text: str, says: str) -> None:
    """A project file's unknown key, wrong type, bad value or syntax is exit 2 naming file, key and line."""
    (tmp_path / "vram.toml").write_text(text)
    result = vram(tmp_path, "--json")
    assert ExitCode.USAGE == result.returncode
    assert "" == result.stdout
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_value_in_file_is_refused_even_when_overridden(tmp_path: Path) -> None:
    """A wrong value in the file is refused although the command line gives that option: the file is wrong."""
    (tmp_path / "vram.toml").write_text('model = "7b"\nbatch = "eight"\n')
    result = vram(tmp_path, "--batch", "8")
    assert ExitCode.USAGE == result.returncode
    assert "key 'batch'" in result.stderr


def test_units_from_file_are_case_insensitive(tmp_path: Path) -> None:
    """`units = "gb"` in the file means decimal GB, as --units gb does."""
    (tmp_path / "vram.toml").write_text('model = "7b"\nunits = "gb"\n')
    result = vram(tmp_path)
    assert 0 == result.returncode, result.stderr
    assert re.search(r"^ total +[\d.,]+ GB ", result.stdout, re.M)


def test_table_for_a_model() -> None:
    """A catalog model's table shows the architecture, trainable of total parameters, the phase and activations."""
    code, out, err = run(LLAMA, "--batch", "2")
    assert ExitCode.OK == code, err
    for text in ("LlamaForCausalLM", "trainable 6.74 B of 6.74 B (100.00%)", "activations", "peak in", "total"):
        assert text in out


def test_json_for_lora_on_a_model() -> None:
    """LoRA r=8 on q,v of Llama-2-7B trains 4,194,304 parameters (PEFT's print_trainable_parameters), full scope."""
    code, out, err = run(LLAMA, "--lora-rank", "8", "--lora-targets", "q_proj,v_proj", "--json")
    assert ExitCode.OK == code, err
    doc = doc_of(out)
    assert ("full", 4_194_304) == (doc["scope"], doc["trainable_parameters"])
    assert doc["components"]["activations"]["bytes"] > 0
    assert doc["peak_phase"] in ("forward", "backward", "optimizer_step")
    assert doc["total_bytes"] == sum(c["bytes"] for c in doc["components"].values())
    assert ["q", "v"] == doc["settings"]["lora_targets"]


@pytest.mark.parametrize("command", [("train",), ("fit", "--train", "--gpu", "RTX 4090")])
def test_lora_dropout_adds_its_masks(command: tuple[str, ...]) -> None:
    """--lora-dropout 0.05 on Llama-2-7B's all-linear LoRA (bf16-mixed, 1 x 2048) adds a bool mask per
    adapted input: (32 x (6 x 4096 + 11008) - 3 x 4096) x 2048 = 2,306,867,200 bytes (the first layer's
    q, k, v read the frozen embedding and save none), in `vram train` and in `vram fit --train` alike."""
    base = (command[0], LLAMA, *command[1:], "--precision", "bf16-mixed", "--lora-rank", "8", "--json")
    totals = []
    for extra in ((), ("--lora-dropout", "0.05")):
        result = runner.invoke(app, [*base, *extra])
        # 28-31 GB: `fit` answers that it does not fit a 24 GB RTX 4090 (exit 1) and still gives the row.
        assert (ExitCode.OK if command[0] == "train" else ExitCode.DOES_NOT_FIT) == result.exit_code, result.stderr
        doc = doc_of(result.stdout)
        totals.append(doc["total_bytes"] if command[0] == "train" else doc["rows"][0]["total_bytes"])
    assert 2_306_867_200 == totals[1] - totals[0]
    if command[0] == "train":
        assert 0.05 == doc["settings"]["lora_dropout"]


def test_does_not_fit_exits_one() -> None:
    """Full fine-tuning of Llama-2-7B cannot fit 12 GB: its fp16 weights alone are 13.5 GB. Exit 1, verdict shown."""
    code, out, _ = run(LLAMA, "--gpu", "RTX 3060 12GB")
    assert ExitCode.DOES_NOT_FIT == code
    assert "RTX 3060 12GB (11.25 GiB usable of 12.00 GiB): does not fit" in out


def test_fits_exits_zero() -> None:
    """QLoRA of Llama-2-7B at batch 1 x 512 fits an 80 GB H100 (exit 0, fits true, headroom = usable - total)."""
    code, out, _ = run(LLAMA, "--qlora", "--seq-len", "512", "--gpu", "H100 SXM", "--json")
    assert ExitCode.OK == code
    doc = doc_of(out)
    assert doc["gpu"]["fits"] is True
    assert doc["gpu"]["headroom_bytes"] == doc["gpu"]["usable_memory_bytes"] - doc["total_bytes"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("llama-2-7b", "--qlora", "--seq-len", "512", "--gpu", "H100 SXM"), ExitCode.OK),
        (("llama-2-7b", "--gpu", "RTX 3060 12GB"), ExitCode.DOES_NOT_FIT),
        (("llama-2-7b", "--zero", "3", "--fsdp", "full", "--gpus", "2"), ExitCode.USAGE),
        (("no-such-model-xyz",), ExitCode.MODEL),
    ],
)
def test_exit_codes_through_the_entry_point(tmp_path: Path, args: tuple[str, ...], code: ExitCode) -> None:
    """`python -m vram train` exits 0 / 1 / 2 / 3 as documented, stdout empty on error in --json mode."""
    result = vram(tmp_path, *args, "--json")
    assert code == result.returncode, result.stderr
    if code in (ExitCode.OK, ExitCode.DOES_NOT_FIT):
        assert (code == ExitCode.OK) is doc_of(result.stdout)["gpu"]["fits"]
    else:
        assert "" == result.stdout
        assert result.stderr.startswith("error: ")


def test_gpu_count_names_the_data_parallel_cards() -> None:
    """--gpu "8x H100 SXM" with --gpus 8 names the cards the per-GPU figures are for; with --gpus 4 it is refused."""
    base = ("meta-llama/Llama-3.1-8B", "--zero", "3", "--json")
    code, out, _ = run(*base, "--gpus", "8", "--gpu", "8x H100 SXM")
    assert code in (0, 1)
    assert "H100 SXM" == json.loads(out)["gpu"]["name"]
    code, out, err = run(*base, "--gpus", "4", "--gpu", "8x H100 SXM")
    assert (2, "") == (code, out)
    assert "asks for 8 GPUs but the estimate describes 4" in err
