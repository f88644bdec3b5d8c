"""data/validation/training.jsonl: every published measurement is complete, traceable and runnable offline."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from tests.test_packaging import UNFOLLOWABLE
from vram.cli import app
from vram.core.errors import SettingsError
from vram.core.training.settings import TrainingSettings, parse_lora_targets
from vram.resolve import catalog

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "data" / "validation" / "training.jsonl"

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_KEBAB = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where the figure is printed: a page a user can open, and for a repository file its repo, path and commit."""

    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://\S+$")
    repo: str | None = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    path: str | None
    commit: str | None
    quote: str = Field(min_length=1)


class Framework(_Strict):
    name: str = Field(min_length=1)
    version: str | None


class Measured(_Strict):
    quantity: Literal["peak_allocated", "peak_reserved", "peak_device", "model_states"]
    value: float = Field(gt=0)
    unit: Literal["GiB", "GB", "MiB", "MB"]


class Record(_Strict):
    """One line of training.jsonl, in the record format of data/validation/README.md."""

    id: str
    kind: Literal["training"]
    source: Source
    framework: Framework
    model: str
    gpu: str | None
    settings: dict[str, Any]
    vram_args: list[str]
    measured: Measured
    notes: str = Field(min_length=1)


def _records() -> list[Record]:
    lines = TRAINING.read_text(encoding="utf-8").splitlines()
    return [Record.model_validate_json(line) for line in lines if line.strip()]


RECORDS = _records()


def _ids(records: list[Record]) -> list[str]:
    return [r.id for r in records]


def test_every_line_is_one_complete_record() -> None:
    """Each non-empty line is a JSON object with exactly the documented fields, and there are at least 20."""
    lines = [line for line in TRAINING.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert all(isinstance(json.loads(line), dict) for line in lines)
    assert len(RECORDS) == len(lines) >= 20


def test_text_cites_only_public_sources() -> None:
    """The records and their README carry no note that a reader cannot follow to a public source."""
    for path in (TRAINING, TRAINING.with_name("README.md")):
        found = UNFOLLOWABLE.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name}: {found}"


def test_ids_are_unique_kebab_case() -> None:
    """Record ids are unique and kebab-case, so a report can name each case."""
    ids = _ids(RECORDS)
    assert len(set(ids)) == len(ids)
    assert all(_KEBAB.match(i) for i in ids), [i for i in ids if not _KEBAB.match(i)]


@pytest.mark.parametrize("record", RECORDS, ids=_ids(RECORDS))
def test_source_is_traceable(record: Record) -> None:
    """A repository file is pinned by repo, path and a 40-hex commit, and the URL opens that exact version."""
    src = record.source
    if src.repo is None:
        assert (src.path, src.commit) == (None, None)
        return
    assert src.path
    assert src.commit
    assert _HEX40.match(src.commit)
    assert all(part in src.url for part in (src.repo, src.commit, src.path))


@pytest.mark.parametrize("record", RECORDS, ids=_ids(RECORDS))
def test_model_and_gpu_resolve_offline(record: Record) -> None:
    """The model is a bundled catalog entry (no network), and the GPU, when given, is a catalog card."""
    assert catalog.find_model(record.model) is not None, record.model
    if record.gpu is not None:
        assert catalog.find_gpu(record.gpu).name == record.gpu


_Convert = Callable[[str], object]
_VALUE_OPTIONS: dict[str, tuple[str, _Convert]] = {
    "--precision": ("precision", str),
    "--optimizer": ("optimizer", str),
    "--batch": ("batch", int),
    "--seq-len": ("seq_len", int),
    "--grad-accum": ("grad_accum", int),
    "--grad-checkpointing": ("grad_checkpointing", str),
    "--attention": ("attention", str),
    "--loss": ("loss", str),
    "--lora-rank": ("lora_rank", int),
    "--lora-targets": ("lora_targets", parse_lora_targets),
    "--adapter-dtype": ("adapter_dtype", str),
    "--lora-dropout": ("lora_dropout", float),
    "--gpus": ("gpus", int),
    "--zero": ("zero", int),
    "--fsdp": ("fsdp", str),
    "--tp": ("tp", int),
    "--pp": ("pp", int),
    "--offload": ("offload", str),
}
"""The `vram train` options that describe the run (fixed names shared by the data and the command)."""
_FLAGS = {
    "--optimizer-in-backward": "optimizer_in_backward",
    "--qlora": "qlora",
    "--activation-offload": "activation_offload",
}
_OUTPUT_OPTIONS = {"--gpu", "--units"}


def _settings(args: list[str]) -> tuple[TrainingSettings, dict[str, str]]:
    """The TrainingSettings a `vram train` command line describes, and its output options (--gpu, --units)."""
    fields: dict[str, object] = {}
    output: dict[str, str] = {}
    rest = iter(args)
    for opt in rest:
        if opt in _FLAGS:
            fields[_FLAGS[opt]] = True
            continue
        value = next(rest, None)
        assert value is not None, f"{opt} needs a value"
        assert not value.startswith("--"), f"{opt} needs a value"
        if opt in _OUTPUT_OPTIONS:
            output[opt] = value
        else:
            assert opt in _VALUE_OPTIONS, f"unknown option {opt}"
            name, convert = _VALUE_OPTIONS[opt]
            assert name not in fields, f"{opt} given twice"
            fields[name] = convert(value)
    return TrainingSettings.model_validate(fields), output


@pytest.mark.parametrize("record", RECORDS, ids=_ids(RECORDS))
def test_vram_args_are_a_valid_train_command(record: Record) -> None:
    """vram_args is `train MODEL` plus known options whose values build consistent TrainingSettings."""
    command, model, *options = record.vram_args
    assert (command, model) == ("train", record.model)
    settings, output = _settings(options)
    settings.check()
    assert output.get("--gpu") in (None, record.gpu)


def test_settings_parser_refuses_what_vram_would() -> None:
    """The option check used above is not vacuous: unknown names and wrong combinations fail."""
    with pytest.raises(AssertionError, match="unknown option"):
        _settings(["--lora-alpha", "16"])
    with pytest.raises(SettingsError, match="choose one"):
        _settings(["--zero", "3", "--fsdp", "full"])[0].check()


def _has_train_command() -> bool:
    return any(c.name == "train" for c in app.registered_commands)


@pytest.mark.skipif(not _has_train_command(), reason="`vram train` is not in this build yet")
@pytest.mark.parametrize("record", RECORDS, ids=_ids(RECORDS))
def test_vram_args_run_offline(record: Record) -> None:
    """`vram train` accepts each record's command line offline and prints its JSON document (exit 0 or 1)."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*record.vram_args, "--json"])
    assert result.exit_code in (0, 1), result.stderr
    assert json.loads(result.stdout)["command"] == "train"
