"""Layer fences: the core imports no CLI, terminal or Hub library; the CLI starts light."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES, ROOT

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


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "Qwen/Qwen2.5-7B"],
        ["train", "7b"],
        ["fit", "Qwen/Qwen2.5-7B", "--gpu", "RTX 4090"],
    ],
)
def test_json_path_does_not_load_rich_or_hub(args: list[str]) -> None:
    """`vram estimate/train/fit --json` import neither huggingface_hub nor, beyond what Typer itself loads, rich's
    tables."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "typer_own = set(sys.modules)\n"
        "from vram.cli import app\n"
        f"r = CliRunner().invoke(app, {[*args, '--json']!r})\n"
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


def test_hub_path_does_not_import_the_hub_api_client() -> None:
    """A Hub estimate reads the model info without importing huggingface_hub.hf_api (most of its start-up)."""
    from .resolve.fake_hub import FakeHub, Repo

    config = json.loads((FIXTURES / "configs" / "qwen3-small.json").read_text())
    code = (
        "import json, sys\n"
        "from vram.cli import app\n"
        "try:\n"
        "    app(['estimate', 'org/public', '--json'], prog_name='vram')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    with FakeHub({"org/public": Repo(config, safetensors={"BF16": 323_376})}) as hub:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
        env.update(HF_ENDPOINT=hub.url, HF_HOME=os.environ["HF_HOME"], HF_HUB_DISABLE_TELEMETRY="1")
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, timeout=120
        )
        requests = list(hub.requests)
    *doc_lines, modules_line = out.stdout.splitlines()
    doc, modules = json.loads("\n".join(doc_lines)), set(json.loads(modules_line))
    assert "GET /api/models/org/public" in requests  # the model info was asked for
    assert "safetensors" in doc["components"]["weights"]["note"]  # and its per-dtype counts were used
    assert "huggingface_hub.file_download" in modules
    assert "huggingface_hub.hf_api" not in modules


def test_cli_signatures_hold_types_not_strings() -> None:
    """Command signatures carry real types, so Typer evaluates no annotation strings at start-up."""
    from vram.cli import app

    callbacks = [c.callback for c in app.registered_commands]
    if app.registered_callback is not None:
        callbacks.append(app.registered_callback.callback)
    assert len(callbacks) == len(app.registered_commands) + 1
    for f in callbacks:
        assert f is not None
        strings = [name for name, a in f.__annotations__.items() if isinstance(a, str)]
        assert [] == strings, f.__name__


def test_cli_skips_the_pydantic_plugin_scan() -> None:
    """The console entry point never scans installed distributions for pydantic plugins (start-up time)."""
    code = (
        "import importlib.metadata as md, io, sys, contextlib\n"
        "calls = []\n"
        "real = md.entry_points\n"
        "md.entry_points = lambda *a, **k: calls.append(k) or real(*a, **k)\n"
        "sys.argv = ['vram', 'estimate', 'llama-2-7b', '--json']\n"
        "from vram.cli import main\n"
        "try:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        main()\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print(calls)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, timeout=120)
    assert "[]" == out.stdout.strip()
