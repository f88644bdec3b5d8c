"""Project defaults: ``./vram.toml`` (top-level keys) or the ``[tool.vram]`` table of ``./pyproject.toml``.

A project pins its model and settings once (``model = "meta-llama/Llama-3.1-8B"``,
``optimizer = "adamw"``, ``seq_len = 4096``) and a CI job runs ``vram train --batch 8``. When both
files exist, ``vram.toml`` wins and ``pyproject.toml`` is not read for defaults. This module reads
and parses the file; which keys are valid, and their types, is the command's business.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vram.core.errors import ProjectFileError
from vram.core.units import MiB

VRAM_TOML = "vram.toml"
PYPROJECT = "pyproject.toml"
PYPROJECT_TABLE = ("tool", "vram")
MAX_PROJECT_FILE_BYTES = MiB
"""Largest project file read (1 MiB): a pyproject.toml is a few KiB; anything larger is not one."""

# Patterns as text, compiled (and cached by re) on first use: only a folder with a project file needs them.
_HEADER = r"^\s*\[(?!\[)\s*([^\]]+?)\s*\]"
_ARRAY_HEADER = r"^\s*\[\["
_KEY = r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
_PART = r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'"""


@dataclass(frozen=True)
class ProjectDefaults:
    """The defaults one project file sets: key as written -> TOML value, and the line each key is on."""

    file: str
    values: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def error(self, key: str, reason: str) -> ProjectFileError:
        """A usage error naming this file, ``key`` and its line."""
        return ProjectFileError(self.file, reason, key=key, line=self.lines.get(key))


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in re.findall(_PART, dotted))


def key_lines(text: str, table: tuple[str, ...]) -> dict[str, int]:
    """Line (1-based) of each key set directly in ``table`` (``()`` for the top level), first occurrence.

    tomllib reports no positions for valid documents, so this scans the lines: table headers and
    ``key =`` / ``dotted.key =`` lines. Keys inside multi-line strings can fool it; it only finds
    the line to show in a message, never a value.
    """
    lines: dict[str, int] = {}
    current: tuple[str, ...] | None = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(_ARRAY_HEADER, line):
            current = None
            continue
        header = re.match(_HEADER, line)
        if header:
            current = _parts(header.group(1))
            continue
        key = re.match(_KEY, line)
        if key is None or current is None:
            continue
        path = current + _parts(key.group(1))
        if len(path) == len(table) + 1 and path[:-1] == table:
            lines.setdefault(path[-1], number)
    return lines


def _read(path: Path, name: str) -> tuple[str, dict[str, Any]]:
    """The text and parsed TOML of ``path``: size-bounded, errors as ProjectFileError naming the file."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_PROJECT_FILE_BYTES + 1)
    except OSError as exc:
        raise ProjectFileError(name, f"cannot read it ({exc.strerror or exc})") from None
    if sys.version_info >= (3, 11):  # imported here: most folders hold no project file to parse
        import tomllib
    else:  # pragma: no cover - Python 3.10 has no tomllib; tomli is the same parser (PEP 680)
        import tomli as tomllib
    if len(raw) > MAX_PROJECT_FILE_BYTES:
        raise ProjectFileError(name, f"larger than {MAX_PROJECT_FILE_BYTES:,} bytes, too large for a project file")
    try:
        text = raw.decode("utf-8")
        return text, tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ProjectFileError(name, f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:  # its message ends with "(at line L, column C)"
        raise ProjectFileError(name, f"not valid TOML: {exc}") from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise ProjectFileError(name, "not valid TOML: values nested too deeply") from None


def _table(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = doc
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def load_project_defaults(folder: Path) -> ProjectDefaults | None:
    """The defaults of ``folder/vram.toml``, else of ``[tool.vram]`` in ``folder/pyproject.toml``; None if neither.

    A pyproject.toml without a ``[tool.vram]`` table sets nothing (it still has to be valid TOML).
    """
    vram_toml, pyproject = folder / VRAM_TOML, folder / PYPROJECT
    if vram_toml.is_file():
        text, doc = _read(vram_toml, VRAM_TOML)
        notes: tuple[str, ...] = ()
        if pyproject.is_file() and _has_tool_vram(pyproject):
            notes = (f"{VRAM_TOML} wins over [tool.vram] in {PYPROJECT}, which is not read for defaults",)
        if "tool" in doc and isinstance(_table(doc, PYPROJECT_TABLE), dict):
            raise ProjectFileError(
                VRAM_TOML, "a [tool.vram] table: vram.toml takes the keys at its top level", key="tool"
            )
        return ProjectDefaults(VRAM_TOML, doc, key_lines(text, ()), notes)
    if not pyproject.is_file():
        return None
    text, doc = _read(pyproject, PYPROJECT)
    table = _table(doc, PYPROJECT_TABLE)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ProjectFileError(PYPROJECT, "tool.vram must be a table ([tool.vram])", key="tool.vram")
    return ProjectDefaults(f"{PYPROJECT} [tool.vram]", table, key_lines(text, PYPROJECT_TABLE))


def _has_tool_vram(path: Path) -> bool:
    """Whether a pyproject.toml has a [tool.vram] table (an unreadable one has none)."""
    try:
        _, doc = _read(path, PYPROJECT)
    except ProjectFileError:
        return False
    return isinstance(_table(doc, PYPROJECT_TABLE), dict)
