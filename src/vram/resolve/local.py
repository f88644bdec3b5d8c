"""config.json from disk: a file or a model folder, read with a size bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vram.core.errors import ConfigFileError

MAX_CONFIG_BYTES = 4 << 20
"""Largest config.json we read (real ones are a few KiB; this stops a hostile or wrong file early)."""


def config_path(path: Path) -> Path:
    """The config.json a path names: the file itself, or ``config.json`` inside a folder."""
    if path.is_dir():
        candidate = path / "config.json"
        if not candidate.is_file():
            raise ConfigFileError(str(path), "folder has no config.json")
        return candidate
    if not path.is_file():
        raise ConfigFileError(str(path), "no such file or folder")
    return path


def read_config(path: Path) -> dict[str, Any]:
    """Parse a config.json (or a folder holding one) into a dict; every failure is a ConfigFileError."""
    file = config_path(path)
    try:
        with file.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigFileError(str(file), e.strerror or str(e)) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigFileError(str(file), f"larger than {MAX_CONFIG_BYTES >> 20} MiB; not a config.json")
    return parse_json_object(raw, file, "config.json", encoding="utf-8-sig")


def parse_json_object(raw: bytes, file: Path, what: str, *, encoding: str = "utf-8") -> dict[str, Any]:
    """``raw`` as a JSON object; undecodable, malformed, absurdly nested or non-object text is a ConfigFileError."""
    try:
        data = json.loads(raw.decode(encoding))
    except UnicodeDecodeError:
        raise ConfigFileError(str(file), f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        msg = f"{what} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        raise ConfigFileError(str(file), msg) from None
    except RecursionError:
        # json's decoder recurses once per nesting level; real configs and headers nest two or three deep.
        raise ConfigFileError(str(file), f"{what} is nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigFileError(str(file), f"{what} is not a JSON object")
    return data
