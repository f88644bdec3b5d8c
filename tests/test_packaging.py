"""The built wheel carries its data and runs from anywhere (what users install, not the source tree)."""

from __future__ import annotations

import json
import os
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
    """The wheel ships the model catalog, the GPU catalog and py.typed."""
    names = zipfile.ZipFile(wheel).namelist()
    assert "vram/data/gpus.json" in names
    assert "vram/py.typed" in names
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
