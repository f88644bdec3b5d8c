"""Regenerate (or --check) the generated blocks of the docs from the real CLI output.

    python scripts/cli_reference.py          # rewrite the blocks between the markers
    python scripts/cli_reference.py --check  # exit 1 if a block is stale (run by the tests)

Two blocks: the example at the top of README.md (`<!-- example:... -->`) and the --help reference
in docs/cli.md (`<!-- cli-reference:... -->`). Output is rendered through Typer's runner with
NO_COLOR=1 and COLUMNS=100, so it is stable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = {"example": ROOT / "README.md", "cli-reference": ROOT / "docs" / "cli.md"}
EXAMPLE = ["estimate", "meta-llama/Llama-2-7b-hf", "--dtype", "int4", "--gpu", "RTX 3060 12GB"]
HELP = [[], ["estimate"], ["train"], ["fit"], ["inspect"], ["models"], ["gpus"], ["dtypes"]]
ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


def _run(args: list[str]) -> str:
    from typer.testing import CliRunner

    from vram.cli import app

    result = CliRunner().invoke(app, args, prog_name="vram", env=ENV)
    return "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())


def _shell(args: list[str]) -> str:
    return " ".join(f'"{a}"' if " " in a else a for a in args)


def blocks() -> dict[str, str]:
    os.environ.update(ENV)
    example = f"```console\n$ vram {_shell(EXAMPLE)}\n{_run(EXAMPLE)}\n```"
    helps = [f"```console\n$ vram {_shell([*cmd, '--help'])}\n{_run([*cmd, '--help'])}\n```" for cmd in HELP]
    return {"example": example, "cli-reference": "\n\n".join(helps)}


def render(text: str, name: str, body: str) -> str:
    """Replace what lies between the block's markers; both markers must be present."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, found, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not (found and found_end):
        raise SystemExit(f"markers {start} ... {end} missing")
    return f"{head}{start}\n{body}\n{end}{tail}"


def main() -> int:
    stale = []
    for name, body in blocks().items():
        path = FILES[name]
        text = path.read_text()
        fresh = render(text, name, body)
        if fresh == text:
            continue
        stale.append(path.relative_to(ROOT))
        if "--check" not in sys.argv:
            path.write_text(fresh)
    if stale and "--check" in sys.argv:
        names = ", ".join(map(str, stale))
        print(f"generated blocks are stale in {names}: run python scripts/cli_reference.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
