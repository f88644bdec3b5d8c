"""Start-up benchmark (not a test): median wall and CPU time of every vram command against import floors.

    python scripts/bench.py [--runs 21] [--model meta-llama/Llama-2-7b-hf] [--only estimate] [--instructions]

Reference rows, cheapest first:
- `import typer, rich, pydantic`: the floor the target is set against (--json within 1.5x).
  `import pydantic` alone is lazy and loads no validation machinery;
- `import typer; a pydantic model validated once`: what any Typer program with one model pays
  (the first model class pulls in pydantic's fields, types and plugin loader);
- an empty Typer app with the same ten options as `vram estimate`, parsing the same arguments:
  Typer (0.26+) builds a pydantic TypeAdapter per parameter, so this is the floor of any Typer
  CLI of this shape.
Then every command: estimate (JSON and table, and with --gpu), train (JSON and table), fit (one model,
JSON and table, and the whole catalog on a card), inspect, models, gpus, dtypes, and the Hub path
(a repo that is not in the catalog) against the local stand-in Hub of the test suite
(tests/resolve/fake_hub.py on 127.0.0.1): cold (empty HF_HOME each run) and from the cache with
--offline. vram's bytecode is compiled first, as pip does when it installs a wheel.

--instructions also runs each row once under `valgrind --tool=callgrind` and prints the
instructions executed: unlike times, that figure does not move with the load of a shared machine.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB_REPO = "bench-org/bench-model"  # not a catalog id, so vram asks the Hub

ONE_MODEL = """
import typer
from pydantic import BaseModel
class A(BaseModel):
    x: int
A(x=1)
"""
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

Env = Callable[[], dict[str, str]]


def run_once(cmd: list[str], env: dict[str, str]) -> None:
    """Run one command; a failure stops the benchmark with its stderr."""
    done = subprocess.run(cmd, capture_output=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr.decode()}")


def median_ms(cmd: list[str], env: Env, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system of the child) in milliseconds."""
    run_once(cmd, env())  # warm the OS file cache
    wall, cpu = [], []
    for _ in range(runs):
        e = env()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        run_once(cmd, e)
        wall.append((time.perf_counter() - t0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def instructions(valgrind: str, cmd: list[str], env: dict[str, str]) -> int:
    """Instructions the command executes, counted by callgrind (deterministic, unlike time)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", *cmd],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    m = re.search(r"refs:\s+([\d,]+)", out.stderr)
    assert m is not None, out.stderr
    return int(m.group(1).replace(",", ""))


def command_rows(vram: str, model: str) -> list[tuple[str, list[str]]]:
    """Every vram command on a catalog model (no network): its label and command line."""
    lines = [
        ["--version"],
        ["estimate", model, "--json"],
        ["estimate", model],
        ["estimate", model, "--gpu", "RTX 4090", "--json"],
        ["train", model, "--json"],
        ["train", model],
        ["fit", model, "--gpu", "RTX 4090", "--json"],
        ["fit", model, "--gpu", "RTX 4090"],
        ["fit", "--gpu", "RTX 4090", "--json"],
        ["inspect", model, "--json"],
        ["inspect", model],
        ["models", "--json"],
        ["models"],
        ["gpus"],
        ["dtypes"],
    ]
    return [(" ".join(["vram", *line]), [vram, *line]) for line in lines]


def hub_config(model: str) -> dict[str, object]:
    """The bundled catalog's config.json for ``model``: what the stand-in Hub serves."""
    for f in (ROOT / "src/vram/data/models").glob("*.json"):
        entry = json.loads(f.read_text())
        if entry["id"] == model:
            config: dict[str, object] = entry["config"]
            return config
    sys.exit(f"{model} is not in the catalog")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--model", default="meta-llama/Llama-2-7b-hf", help="a catalog model id")
    parser.add_argument("--only", default="", help="bench only the rows whose label contains this text")
    parser.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    args = parser.parse_args()
    valgrind = shutil.which("valgrind")
    if args.instructions and valgrind is None:
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    import vram

    sys.path.insert(0, str(ROOT))
    from tests.resolve.fake_hub import FakeHub, Repo

    compileall.compile_dir(str(Path(vram.__file__).parent), quiet=1)
    vram_cmd = shutil.which("vram") or f"{sys.prefix}/bin/vram"
    py = sys.executable
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    base |= {"NO_COLOR": "1", "COLUMNS": "100", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    with tempfile.TemporaryDirectory() as tmp, FakeHub({HUB_REPO: Repo(hub_config(args.model))}) as hub:
        app = Path(tmp, "empty_app.py")
        app.write_text(EMPTY_APP)
        cached = Path(tmp, "hf-cached")
        homes = iter(range(10**9))

        def plain() -> dict[str, str]:
            return base | {"HF_HOME": str(Path(tmp, "hf-empty")), "HF_HUB_OFFLINE": "1"}

        def cold() -> dict[str, str]:  # a new, empty cache for every run
            return base | {"HF_HOME": str(Path(tmp, f"hf-{next(homes)}")), "HF_ENDPOINT": hub.url}

        def from_cache() -> dict[str, str]:
            return base | {"HF_HOME": str(cached), "HF_ENDPOINT": hub.url}

        run_once([vram_cmd, "estimate", HUB_REPO, "--json"], from_cache())  # fill the cache once
        rows: list[tuple[str, list[str], Env]] = [
            ("import typer, rich, pydantic", [py, "-c", "import typer, rich, pydantic"], plain),
            ("import typer; one pydantic model validated", [py, "-c", ONE_MODEL], plain),
            ("empty Typer app, same options, --json", [py, str(app), "estimate", args.model, "--json"], plain),
            *((label, cmd, plain) for label, cmd in command_rows(vram_cmd, args.model)),
            (f"vram estimate {HUB_REPO} --json (Hub, cold cache)", [vram_cmd, "estimate", HUB_REPO, "--json"], cold),
            (
                f"vram estimate {HUB_REPO} --json --offline (Hub cache)",
                [vram_cmd, "estimate", HUB_REPO, "--json", "--offline"],
                from_cache,
            ),
        ]
        rows = [rows[0], *(r for r in rows[1:] if args.only in r[0])]
        results = [(label, median_ms(cmd, env, args.runs), cmd, env) for label, cmd, env in rows]
        count = args.instructions and valgrind is not None
        counts = [instructions(valgrind, cmd, env()) if count and valgrind else 0 for *_, cmd, env in results]
    floor = results[0][1]
    print(f"median of {args.runs} runs, Python {sys.version.split()[0]}: wall time, then CPU time, and x the floor")
    if args.instructions:
        print("then instructions executed (callgrind, one run) and x the floor")
    for (label, (wall, cpu), _, _), n in zip(results, counts, strict=True):
        line = f"{wall:7.1f} ms {wall / floor[0]:5.2f}x  {cpu:7.1f} ms {cpu / floor[1]:5.2f}x"
        if args.instructions:
            line += f"  {n / 1e6:7.1f} M {n / counts[0]:5.2f}x"
        print(f"{line}  {label}")


if __name__ == "__main__":
    main()
