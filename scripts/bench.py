"""Start-up benchmark (not a test): median wall time of `vram estimate` against the import floor.

    python scripts/bench.py [--runs 21] [--model meta-llama/Llama-2-7b-hf]

The floor is `python -c "import typer, rich, pydantic"`: the libraries any Typer + Rich +
pydantic CLI loads. Target: the --json path within 1.5x of that floor.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def median_ms(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, check=True, capture_output=True)  # warm the OS file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--model", default="meta-llama/Llama-2-7b-hf")
    args = parser.parse_args()
    vram = shutil.which("vram") or f"{sys.prefix}/bin/vram"
    floor = median_ms([sys.executable, "-c", "import typer, rich, pydantic"], args.runs)
    rows = [
        ("import typer, rich, pydantic", floor),
        (f"vram estimate {args.model} --json", median_ms([vram, "estimate", args.model, "--json"], args.runs)),
        (f"vram estimate {args.model}", median_ms([vram, "estimate", args.model], args.runs)),
    ]
    print(f"median of {args.runs} runs, {sys.version.split()[0]}")
    for label, ms in rows:
        print(f"{ms:8.1f} ms  {ms / floor:4.2f}x  {label}")


if __name__ == "__main__":
    main()
