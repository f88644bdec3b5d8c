"""The README and docs/ document what the program does: every example runs, references are current.

Examples are read from the fenced blocks of README.md and docs/*.md:
- a ``python`` block runs in a fresh interpreter and must exit 0;
- each ``$ vram ...`` line of a ``console`` block runs (offline: catalog models only) and must exit 0, or 1 when it
  passes ``--gpu`` (the documented "does not fit"); the lines printed under it, if any, must be its output;
- a block right after ``<!-- not run: REASON -->`` needs something the docs do not provide (the Hub, files of
  your own, the network): its ``vram`` lines must still parse, with options the command's ``--help`` knows.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner, Result

from vram.cli import app
from vram.cli._errors import ExitCode
from vram.report.document import json_schema

from .conftest import ROOT

README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = re.compile(r"<!-- not run: (?P<reason>[^>]+?) -->\s*\n$")
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
# The terminal the generated blocks were rendered for (scripts/cli_reference.py uses the same).
TERMINAL = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


@dataclass(frozen=True)
class Block:
    """One fenced example: where it is, its language, its text and why it is not run (if so)."""

    where: str
    lang: str
    body: str
    not_run: str | None


@dataclass(frozen=True)
class Command:
    """One ``$ vram ...`` line of a console block and the output shown under it."""

    where: str
    argv: list[str]
    shown: str
    not_run: str | None


def _blocks() -> list[Block]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for m in FENCE.finditer(text):
            before = text[: m.start()]
            line = before.count("\n") + 1
            marker = NOT_RUN.search(before[-300:])
            found.append(
                Block(f"{path.name}:{line}", m["lang"], m["body"], marker["reason"] if marker else None),
            )
    return found


def _plain(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _argv(line: str) -> list[str]:
    """The vram arguments of a console line: shell comments dropped, a pipe's consumer left out."""
    words = shlex.split(line, comments=True)
    if "|" in words:
        words = words[: words.index("|")]
    return words[1:]


def _commands() -> list[Command]:
    found = []
    for block in _blocks():
        if block.lang != "console":
            continue
        lines = block.body.splitlines()
        starts = [i for i, text in enumerate(lines) if text.startswith("$ ")]
        for n, i in enumerate(starts):
            if not lines[i].startswith("$ vram"):
                continue
            end = starts[n + 1] if n + 1 < len(starts) else len(lines)
            shown = _plain("\n".join(lines[i + 1 : end]))
            found.append(Command(f"{block.where}+{i + 1}", _argv(lines[i][2:]), shown, block.not_run))
    return found


PYTHON = [b for b in _blocks() if b.lang == "python"]
RUN = [c for c in _commands() if c.not_run is None]
PARSE = [c for c in _commands() if c.not_run is not None]
SHOWN = [c for c in RUN if c.shown]


def test_docs_have_examples_of_each_kind() -> None:
    """The collectors find the README's library example, its runnable commands and its marked ones."""
    assert PYTHON
    assert len(RUN) >= 5
    assert PARSE
    assert SHOWN


def test_every_unmarked_console_line_is_run() -> None:
    """A console block without a "not run" marker holds only `$ vram` lines, so none of its commands goes unchecked."""
    unmarked = [b for b in _blocks() if b.lang == "console" and b.not_run is None]
    others = [
        f"{b.where}: {line}"
        for b in unmarked
        for line in b.body.splitlines()
        if line.startswith("$ ") and not line.startswith("$ vram")
    ]
    assert [] == others


@pytest.mark.parametrize("block", PYTHON, ids=[b.where for b in PYTHON])
def test_python_example_runs(block: Block, tmp_path: Path) -> None:
    """A python block of the docs runs as written in a fresh interpreter, offline."""
    assert block.not_run is None, "python examples must run: use the catalog or write the file they read"
    result = subprocess.run([sys.executable, "-c", block.body], cwd=tmp_path, capture_output=True, text=True)
    assert 0 == result.returncode, result.stderr


def _invoke(cmd: Command, where: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(where)
    return CliRunner().invoke(app, cmd.argv, prog_name="vram", env=TERMINAL)


@pytest.mark.parametrize("cmd", RUN, ids=[c.where for c in RUN])
def test_console_example_runs(cmd: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `$ vram` line of the docs runs offline with the documented exit code (1 only for a --gpu verdict)."""
    result = _invoke(cmd, tmp_path, monkeypatch)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    allowed = {ExitCode.OK, ExitCode.DOES_NOT_FIT} if "--gpu" in cmd.argv else {ExitCode.OK}
    assert result.exit_code in allowed, result.stderr
    if "--json" in cmd.argv:
        assert isinstance(json.loads(result.stdout), dict)


@pytest.mark.rendered
@pytest.mark.parametrize("cmd", SHOWN, ids=[c.where for c in SHOWN])
def test_console_example_output_is_current(cmd: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The output the docs show under a `$ vram` line is what that line prints today."""
    shown = _plain(_invoke(cmd, tmp_path, monkeypatch).stdout)
    assert cmd.shown == shown, "the output shown is stale: run python scripts/cli_reference.py"


@pytest.mark.parametrize("cmd", PARSE, ids=[c.where for c in PARSE])
def test_unrun_console_example_parses(cmd: Command) -> None:
    """A `$ vram` line marked "not run" names a real command and only options its --help knows, with valid values."""
    group = typer.main.get_command(app)
    name, *rest = cmd.argv
    with group.make_context("vram", [name]) as ctx:
        sub = group.get_command(ctx, name)
        assert sub is not None, f"no command {name!r}"
        sub.make_context(name, rest, parent=ctx)  # raises a usage error for an unknown option or a bad value


@pytest.mark.rendered
def test_cli_reference_is_current() -> None:
    """The generated blocks (README example, docs/cli.md reference) are what the CLI prints today."""
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


def test_newcomer_commands_are_what_ci_runs() -> None:
    """The README's install (with the test extra) and test commands are the ones .ci/run runs in a fresh venv."""
    ci = (ROOT / ".ci/run").read_text()
    install = re.search(r"^\$ (python -m pip install '\.\[test\]')$", README, re.MULTILINE)
    assert install is not None
    assert install[1] in ci
    assert re.search(r"^\$ python -m pytest$", README, re.MULTILINE)
    assert re.search(r"^\s*python -m pytest", ci, re.MULTILINE)


def test_comparison_row_is_what_vram_prints() -> None:
    """The README's "Compared with other tools" figures for vram are the CLI's own for Llama-3.1-8B."""
    row = next(line for line in README.splitlines() if line.startswith("| `vram estimate llama-3.1-8b`"))
    doc = json.loads(CliRunner().invoke(app, ["estimate", "llama-3.1-8b", "--json"]).stdout)
    parts = doc["components"]
    for figure in (parts["weights"]["bytes"], parts["kv_cache"]["bytes"], doc["total_bytes"]):
        assert f"{figure / 2**30:.2f} GiB" in row
    q4 = json.loads(CliRunner().invoke(app, ["estimate", "llama-3.1-8b", "--dtype", "Q4_K_M", "--json"]).stdout)
    assert f"gives the same {q4['components']['weights']['bytes'] / 2**30:.2f} GiB" in README


def test_cli_reference_covers_every_command() -> None:
    """docs/cli.md shows the --help of every registered command (a new command cannot go undocumented)."""
    reference = (ROOT / "docs" / "cli.md").read_text()
    for command in app.registered_commands:
        assert f"$ vram {command.name} --help" in reference, command.name
