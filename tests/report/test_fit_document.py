"""The `vram fit --json` document: committed schema, round trip, int64 bounds."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vram.cli import app
from vram.report.fit import FitDocument, json_schema

from ..conftest import ROOT

INT64_MAX = (1 << 63) - 1


@pytest.mark.rendered
def test_fit_schema_file_is_current() -> None:
    """docs/schema/fit-v1.json is the schema of the document the code emits (python scripts/schemas.py)."""
    committed = json.loads((ROOT / "docs" / "schema" / "fit-v1.json").read_text())
    assert json_schema() == committed


@pytest.mark.parametrize(
    "args",
    [
        ["fit", "Qwen/Qwen3-30B-A3B", "--gpu", "RTX 4090", "--json"],
        ["fit", "llama-2-7b", "--gpu", "4GB", "--json"],
        ["fit", "--gpu", "H100 SXM", "--family", "deepseek", "--json"],
    ],
)
def test_document_round_trips_with_the_issue_keys(args: list[str]) -> None:
    """The printed JSON validates against FitDocument, carries the keys issue 9 names and fits int64."""
    result = CliRunner().invoke(app, args)
    doc = json.loads(result.stdout)
    FitDocument.model_validate(doc)
    assert (1, "fit") == (doc["schema_version"], doc["command"])
    for key in ("rows", "recommended", "min_gpus", "offload", "decode_tokens_per_s_bound"):
        assert key in doc
    for row in doc["rows"]:
        assert {"dtype", "total_bytes", "fits", "max_seq_len", "max_batch"} <= set(row)

    def ints(node: object) -> list[int]:
        if isinstance(node, dict):
            return [i for v in node.values() for i in ints(v)]
        if isinstance(node, list):
            return [i for v in node for i in ints(v)]
        return [node] if isinstance(node, int) and not isinstance(node, bool) else []

    assert all(abs(i) <= INT64_MAX for i in ints(doc))
