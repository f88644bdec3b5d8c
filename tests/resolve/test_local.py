"""config.json reading: hostile shapes become ConfigFileError, never an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from vram.core.errors import ConfigFileError
from vram.resolve.local import read_config

DEPTH = 200_000
"""Far past CPython's recursion limit (1,000 by default), which json's decoder meets one level at a time."""


@pytest.mark.parametrize("doc", ["[" * DEPTH + "]" * DEPTH, '{"a":' * DEPTH + "1" + "}" * DEPTH])
def test_deeply_nested_json_is_a_config_error(tmp_path: Path, doc: str) -> None:
    """200,000 nested arrays or objects are refused as a bad config file (exit 3), not a RecursionError."""
    f = tmp_path / "config.json"
    f.write_text(doc)
    with pytest.raises(ConfigFileError, match="nested too deeply"):
        read_config(f)
