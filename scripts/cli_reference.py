"""Regenerate (or --check) the generated blocks of README.md from the real CLI output.

    python scripts/cli_reference.py          # rewrite the blocks between the markers
    python scripts/cli_reference.py --check  # exit 1 if README.md is stale (run by the tests)

Two blocks: the example at the top (`<!-- example:... -->`) and the --help reference
(`<!-- cli-reference:... -->`). Output is rendered through Typer's runner with NO_COLOR=1 and
COLUMNS=100, so it is stable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLE = ["estimate", "meta-llama/Llama-2-7b-hf", "--dtype", "int4", "--gpu", "RTX 3060 12GB"]
HELP = [[], ["estimate"], ["inspect"], ["models"], ["gpus"], ["dtypes"]]
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


def render(readme: str) -> str:
    for name, body in blocks().items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, _, rest = readme.partition(start)
        _, _, tail = rest.partition(end)
        readme = f"{head}{start}\n{body}\n{end}{tail}"
    return readme


def main() -> int:
    readme = README.read_text()
    fresh = render(readme)
    if "--check" in sys.argv:
        if fresh != readme:
            print("README.md generated blocks are stale: run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
