"""Layer fences: the core imports no CLI, terminal or Hub library; the CLI starts light."""

from __future__ import annotations

import subprocess
import sys

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
    """`vram estimate --json` never imports rich or huggingface_hub (start-up time)."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from vram.cli import app\n"
        "r = CliRunner().invoke(app, ['estimate', 'Qwen/Qwen2.5-7B', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    roots = {m.split(".")[0] for m in out.split()}
    assert "huggingface_hub" not in roots
    assert not any(m.startswith("rich.table") for m in out.split())
