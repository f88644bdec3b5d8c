"""The JSON documents of inspect, models, gpus and dtypes: committed schemas and round trips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from vram.cli import app
from vram.report import inspect, listing

from ..conftest import ROOT

SCHEMAS = {"inspect": inspect.json_schema(), **{c: listing.json_schema(c) for c in listing.SCHEMAS}}
MODELS: dict[str, type[BaseModel]] = {"inspect": inspect.InspectDocument, **listing.SCHEMAS}
COMMANDS = {
    "inspect": ["inspect", "deepseek-v3", "--json"],
    "models": ["models", "--json"],
    "gpus": ["gpus", "--json"],
    "dtypes": ["dtypes", "--json"],
}


@pytest.mark.rendered
@pytest.mark.parametrize("command", sorted(SCHEMAS))
def test_schema_file_is_current(command: str) -> None:
    """docs/schema/<command>-v1.json is the schema of the document the code emits (python scripts/schemas.py)."""
    committed = json.loads((ROOT / "docs" / "schema" / f"{command}-v1.json").read_text())
    assert SCHEMAS[command] == committed


@pytest.mark.rendered
def test_schema_script_check_agrees() -> None:
    """scripts/schemas.py --check passes on the committed files (the command the docs give to regenerate them)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "schemas.py"), "--check"], capture_output=True, text=True
    )
    assert 0 == result.returncode, result.stderr


def _integers(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return [i for v in value.values() for i in _integers(v)]
    if isinstance(value, list):
        return [i for v in value for i in _integers(v)]
    return []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_output_is_the_document(command: str, tmp_path: Path) -> None:
    """What the command prints validates as its document model, with schema_version 1 and int64 integers."""
    result = CliRunner().invoke(app, COMMANDS[command])
    assert 0 == result.exit_code, result.stderr
    data = json.loads(result.stdout)
    doc = MODELS[command].model_validate(data)
    assert data == json.loads(doc.model_dump_json(by_alias=True))
    assert (1, command) == (data["schema_version"], data["command"])
    assert all(-(2**63) <= i < 2**63 for i in _integers(data))


def test_inspect_document_keeps_its_fields() -> None:
    """Fields users read from inspect --json keep their names: architecture value/from, parameters, config_keys."""
    data = json.loads(CliRunner().invoke(app, COMMANDS["inspect"]).stdout)
    assert {"model", "architecture", "parameters", "checkpoint", "config_keys", "warnings"} <= set(data)
    assert {"value", "from"} <= set(data["architecture"]["layers"])
    golden = json.loads((ROOT / "tests/core/golden_params.json").read_text())["deepseek-ai--DeepSeek-V3"]
    assert golden["parameters"] == data["parameters"]["total"]  # transformers' own count
    assert {"key": "num_hidden_layers", "value": 61, "origin": "config.json"} in data["config_keys"]
