"""Project defaults: which file is read, what it sets, and how a bad file is refused (file, key, line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vram.core.errors import ProjectFileError
from vram.resolve.project import MAX_PROJECT_FILE_BYTES, key_lines, load_project_defaults


def test_no_file_sets_nothing(tmp_path: Path) -> None:
    """A folder with neither vram.toml nor pyproject.toml has no defaults."""
    assert load_project_defaults(tmp_path) is None


def test_pyproject_without_tool_vram_sets_nothing(tmp_path: Path) -> None:
    """A pyproject.toml without [tool.vram] (most projects) sets nothing."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.ruff]\nline-length = 100\n')
    assert load_project_defaults(tmp_path) is None


def test_pyproject_tool_vram_table(tmp_path: Path) -> None:
    """[tool.vram] in pyproject.toml gives its keys, each with the line it is on."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.vram]\nmodel = "llama-2-7b"\nseq_len = 4096\n\n[tool.other]\nbatch = 3\n'
    )
    d = load_project_defaults(tmp_path)
    assert d is not None
    assert {"model": "llama-2-7b", "seq_len": 4096} == d.values
    assert {"model": 5, "seq_len": 6} == d.lines
    assert "pyproject.toml [tool.vram]" == d.file


def test_vram_toml_top_level(tmp_path: Path) -> None:
    """vram.toml holds the keys at its top level."""
    (tmp_path / "vram.toml").write_text('# defaults\nmodel = "qwen3-8b"\noptimizer = "adamw-8bit"\n')
    d = load_project_defaults(tmp_path)
    assert d is not None
    assert ("vram.toml", {"model": "qwen3-8b", "optimizer": "adamw-8bit"}) == (d.file, d.values)
    assert {"model": 2, "optimizer": 3} == d.lines
    assert () == d.notes


def test_vram_toml_wins_over_pyproject(tmp_path: Path) -> None:
    """With both files, vram.toml is read and a note says [tool.vram] of pyproject.toml is not."""
    (tmp_path / "vram.toml").write_text('model = "a-model"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.vram]\nmodel = "b-model"\nbatch = 4\n')
    d = load_project_defaults(tmp_path)
    assert d is not None
    assert {"model": "a-model"} == d.values
    assert 1 == len(d.notes)
    assert "vram.toml wins over [tool.vram] in pyproject.toml" in d.notes[0]


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    """A syntax error is a ProjectFileError naming the file and tomllib's line (line 3 here)."""
    (tmp_path / "vram.toml").write_text('model = "x"\nbatch = 4\nseq_len = = 5\n')
    with pytest.raises(ProjectFileError) as info:
        load_project_defaults(tmp_path)
    assert "vram.toml" == info.value.path
    assert "line 3" in str(info.value)
    assert "not valid TOML" in str(info.value)


def test_malformed_pyproject_is_refused(tmp_path: Path) -> None:
    """A pyproject.toml that is not TOML is refused even without [tool.vram]: its table cannot be known."""
    (tmp_path / "pyproject.toml").write_text("[tool.vram\nmodel = 1\n")
    with pytest.raises(ProjectFileError, match=r"pyproject\.toml: not valid TOML.*line 1"):
        load_project_defaults(tmp_path)


def test_file_size_is_bounded(tmp_path: Path) -> None:
    """A file over 1 MiB is refused before parsing."""
    (tmp_path / "vram.toml").write_text("# " + "x" * MAX_PROJECT_FILE_BYTES + "\n")
    with pytest.raises(ProjectFileError, match="too large"):
        load_project_defaults(tmp_path)


def test_deep_nesting_is_a_usage_error(tmp_path: Path) -> None:
    """Arrays nested 100,000 deep (which overflow tomllib's recursion) are a ProjectFileError, not a crash."""
    (tmp_path / "vram.toml").write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ProjectFileError, match="nested too deeply"):
        load_project_defaults(tmp_path)


def test_non_utf8_is_refused(tmp_path: Path) -> None:
    """A file that is not UTF-8 is refused with the offending byte's offset (TOML is UTF-8 by definition)."""
    (tmp_path / "vram.toml").write_bytes(b'model = "\xff"\n')
    with pytest.raises(ProjectFileError, match=r"not UTF-8 text \(byte 9\)"):
        load_project_defaults(tmp_path)


def test_tool_vram_in_vram_toml_is_refused(tmp_path: Path) -> None:
    """vram.toml with a [tool.vram] table (pyproject's layout) is refused with the layout it takes."""
    (tmp_path / "vram.toml").write_text('[tool.vram]\nmodel = "x"\n')
    with pytest.raises(ProjectFileError, match="top level"):
        load_project_defaults(tmp_path)


def test_tool_vram_not_a_table(tmp_path: Path) -> None:
    """tool.vram set to a scalar is refused: it must be a table."""
    (tmp_path / "pyproject.toml").write_text("[tool]\nvram = 3\n")
    with pytest.raises(ProjectFileError, match=r"must be a table"):
        load_project_defaults(tmp_path)


def test_key_lines_follow_tables_and_dotted_keys() -> None:
    """Lines are found for plain, quoted and dotted keys of the table, not for same-named keys elsewhere."""
    text = (
        "batch = 1\n"  # 1: top level, not [tool.vram]
        "[tool]\n"  # 2
        'vram.model = "m"\n'  # 3: dotted key into tool.vram
        "[tool.vram]\n"  # 4
        '"seq-len" = 5\n'  # 5
        "[[tool.vram.list]]\n"  # 6
        "gpus = 2\n"  # 7: inside an array of tables
        "[ tool . vram ]\n"  # 8
        "zero = 2\n"  # 9
    )
    assert {"model": 3, "seq-len": 5, "zero": 9} == key_lines(text, ("tool", "vram"))
    assert {"batch": 1} == key_lines(text, ())
