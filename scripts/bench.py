"""Start-up benchmark (not a test): median wall time of `vram estimate` against import floors.

    python scripts/bench.py [--runs 21] [--model meta-llama/Llama-2-7b-hf]

Reference rows, cheapest first:
- `import typer, rich, pydantic`: the floor the target is set against (--json within 1.5x).
  `import pydantic` alone is lazy and loads no validation machinery;
- `import typer, rich; from pydantic import BaseModel`: what any program with one model pays;
- an empty Typer app with the same ten options as `vram estimate`, parsing the same arguments:
  Typer (0.26+) builds a pydantic TypeAdapter per parameter, so this is the floor of any Typer
  CLI of this shape.
vram's bytecode is compiled first, as pip does when it installs a wheel.
"""

from __future__ import annotations

import argparse
import compileall
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASEMODEL = "from pydantic import BaseModel"
EMPTY_APP = """
from enum import Enum
from typing import Annotated, Optional
import typer
L = Enum("L", {"last": "last", "all": "all"}, type=str)
M = Enum("M", {"latent": "latent", "expanded": "expanded"}, type=str)
U = Enum("U", {"GiB": "GiB", "GB": "GB"}, type=str)
app = typer.Typer()
@app.command()
def estimate(model: str, dtype: Annotated[Optional[str], typer.Option()] = None,
             batch: Annotated[int, typer.Option(min=1)] = 1,
             seq_len: Annotated[Optional[int], typer.Option(min=1)] = None,
             kv_dtype: Annotated[Optional[str], typer.Option()] = None,
             gpu: Annotated[Optional[str], typer.Option()] = None,
             logits: L = L.last, mla_cache: M = M.latent, units: U = U.GiB,
             json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    print("{}")
@app.command()
def other() -> None:
    pass
app()
"""


def median_ms(cmd: list[str], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system of the child) in milliseconds."""
    subprocess.run(cmd, check=True, capture_output=True)  # warm the OS file cache
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall.append((time.perf_counter() - t0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--model", default="meta-llama/Llama-2-7b-hf")
    args = parser.parse_args()
    import vram

    compileall.compile_dir(str(Path(vram.__file__).parent), quiet=1)
    vram_cmd = shutil.which("vram") or f"{sys.prefix}/bin/vram"
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp, "empty_app.py")
        app.write_text(EMPTY_APP)
        rows = [
            ("import typer, rich, pydantic", [py, "-c", "import typer, rich, pydantic"]),
            (
                "import typer, rich; from pydantic import BaseModel",
                [py, "-c", "import typer, rich; from pydantic import BaseModel"],
            ),
            ("empty Typer app, same options, --json", [py, str(app), "estimate", args.model, "--json"]),
            (f"vram estimate {args.model} --json", [vram_cmd, "estimate", args.model, "--json"]),
            (f"vram estimate {args.model}", [vram_cmd, "estimate", args.model]),
        ]
        results = [(label, median_ms(cmd, args.runs)) for label, cmd in rows]
    floor = results[0][1]
    print(f"median of {args.runs} runs, Python {sys.version.split()[0]}: wall time, then CPU time, and x the floor")
    for label, (wall, cpu) in results:
        print(f"{wall:7.1f} ms {wall / floor[0]:5.2f}x  {cpu:7.1f} ms {cpu / floor[1]:5.2f}x  {label}")


if __name__ == "__main__":
    main()
