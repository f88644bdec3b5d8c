"""What ships: the wheel carries its data and license and runs from anywhere; shipped text cites public sources."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel once, offline (no build isolation: hatchling comes from the test extra)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("vram-*.whl"))


def test_wheel_has_data(wheel: Path) -> None:
    """The wheel ships the model catalog, the GPU catalog, py.typed and the Apache-2.0 license text."""
    names = zipfile.ZipFile(wheel).namelist()
    assert "vram/data/gpus.json" in names
    assert "vram/py.typed" in names
    license_file = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    assert "Apache License" in zipfile.ZipFile(wheel).read(license_file).decode()
    catalog = {n for n in names if n.startswith("vram/data/models/") and n.endswith(".json")}
    assert len(catalog) == len(list((ROOT / "src/vram/data/models").glob("*.json")))


def test_wheel_runs_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    """Unpacked alone (dependencies from this environment), the wheel answers from a foreign cwd."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = "import vram, sys; print(vram.__file__)"
    where = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, capture_output=True)
    assert str(target) in where.stdout.decode()
    run = subprocess.run(
        [sys.executable, "-m", "vram", "estimate", "Qwen/Qwen2.5-7B", "--json"],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    assert 7_615_616_512 == json.loads(run.stdout)["model"]["parameters"]


# Words that point at how a value was gathered, or at things a reader cannot open, instead of at a public
# source (repository + path + commit, URL, paper, vendor document).
UNFOLLOWABLE = re.compile(
    r"(?<!product )\bbriefs?\b|\bhelpers? [a-z]\b|\bsubagents?\b|read_file|find_string|code[- ]index|code[- ]search"
    r"|\bcorpus\b|repository not resolvable|repo(?:sitory)? not (?:shown|named)|\bids? \d{6,}",
    re.IGNORECASE,
)
SHIPPED = sorted(
    [
        *(ROOT / "src/vram/data").rglob("*.json"),
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        *(ROOT / "docs").rglob("*.*"),
    ]
)


def test_unfollowable_pattern_catches_known_phrases() -> None:
    """The checker flags the phrasings found in earlier catalog notes and passes plain citations."""
    for bad in ("brief rule sm89", "matches brief", "helper b", "read_file id 37084402087", "code-search hits"):
        assert UNFOLLOWABLE.search(bad), bad
    ok = "github:NVIDIA/TensorRT-LLM tests/x.py @ 151c21c; model not resolvable (exit 3); a helper script"
    assert UNFOLLOWABLE.search(ok) is None


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_text_cites_only_public_sources(path: Path) -> None:
    """Shipped data and docs carry no note that a reader cannot follow to a public source."""
    hits = [m.group(0) for m in UNFOLLOWABLE.finditer(path.read_text(encoding="utf-8"))]
    assert [] == hits


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_lowest_constraints_are_the_declared_floors() -> None:
    """constraints-lowest.txt pins every floor of pyproject.toml (runtime and click) at exactly that floor."""
    floors = {
        name.lower().replace("_", "-"): _release(version)
        for name, version in re.findall(r'"([A-Za-z][\w.-]*)>=([\d.]+)', (ROOT / "pyproject.toml").read_text())
    }
    pins = {
        name.lower().replace("_", "-"): _release(version)
        for name, version in re.findall(
            r"^([A-Za-z][\w.-]*)==([\d.]+)$", (ROOT / "constraints-lowest.txt").read_text(), re.M
        )
    }
    assert {"typer", "typer-slim", "click", "pydantic", "rich", "huggingface-hub", "tomli"} == set(pins)
    for name, version in pins.items():
        assert floors[name.removesuffix("-slim")] == version, name
