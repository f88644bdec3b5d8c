"""The README documents what the program does: CLI reference, exit codes, JSON schema."""

from __future__ import annotations

import json
import subprocess
import sys

from vram.cli._errors import ExitCode
from vram.report.document import json_schema

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_cli_reference_is_current() -> None:
    """The --help blocks in the README are what the CLI prints today."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/cli_reference.py"), "--check"], capture_output=True, text=True
    )
    assert 0 == result.returncode, result.stderr


def test_exit_codes_are_documented() -> None:
    """Every ExitCode appears in the README's exit-code table with its number."""
    for code in ExitCode:
        assert f"| {int(code)} |" in README, code.name


def test_schema_file_is_current() -> None:
    """docs/schema/estimate-v1.json is the schema of the JSON document the code emits."""
    committed = json.loads((ROOT / "docs/schema/estimate-v1.json").read_text())
    assert json_schema() == committed


def test_readme_test_command_is_what_ci_runs() -> None:
    """.ci/run calls the test command the README gives."""
    assert "python -m pytest" in README
    assert "python -m pytest" in (ROOT / ".ci/run").read_text()
