"""Layer fences: the core imports no CLI, terminal or Hub library; the CLI starts light."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

HEAVY = ("typer", "rich", "huggingface_hub", "click", "httpx", "requests")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_core_is_pure() -> None:
    """Importing vram.core.* pulls in none of typer, rich, huggingface_hub, click or HTTP clients."""
    loaded = _modules_after(
        "import vram.core.inference, vram.core.params, vram.core.dtypes, vram.core.gguf, vram.core.gpu"
    )
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)


def test_library_api_is_pure() -> None:
    """`import vram` (the library API) stays free of the CLI and terminal libraries."""
    loaded = _modules_after("import vram; vram.estimate_inference")
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)


def test_json_path_does_not_load_rich_or_hub() -> None:
    """`vram estimate --json` imports neither huggingface_hub nor, beyond what Typer itself loads, rich's tables."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "typer_own = set(sys.modules)\n"
        "from vram.cli import app\n"
        "r = CliRunner().invoke(app, ['estimate', 'Qwen/Qwen2.5-7B', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(' '.join(sorted(set(sys.modules) - typer_own)))\n"
    )
    added = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert "huggingface_hub" not in {m.split(".")[0] for m in added}
    assert not [m for m in added if m.startswith("rich.table") or m == "vram.report.table"]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with this project's contracts on the package under root/src."""
    pytest.importorskip("importlinter", reason="import-linter comes with the lint extra")
    script = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([str(script), "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def test_import_contracts_fail_on_an_upward_import(tmp_path: Path) -> None:
    """lint-imports keeps the layers as they are and breaks when vram.core imports vram.report."""
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert 0 == _lint_imports(tmp_path).returncode
    (tmp_path / "src/vram/core/_upward.py").write_text("from vram.report import document\n")
    broken = _lint_imports(tmp_path)
    assert 0 != broken.returncode
    assert "core imports no other layer BROKEN" in broken.stdout
    assert "vram.core._upward -> vram.report.document" in broken.stdout


def test_resolve_model_is_the_function_whatever_was_imported_first() -> None:
    """After `import vram.resolve` (the subpackage), `from vram import resolve_model` still resolves a model."""
    code = (
        "import vram.resolve, types\n"
        "from vram import resolve_model\n"
        "assert isinstance(vram.resolve, types.ModuleType)\n"
        "print(resolve_model('llama-2-7b').spec.num_layers)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "32" == out.strip()  # Llama-2-7B has 32 decoder layers (config.json num_hidden_layers)
