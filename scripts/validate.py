"""Estimate vs published measurement for every record in data/validation/*.jsonl.

    python scripts/validate.py                 # one row per record, then median and worst error per group
    python scripts/validate.py --kind training # only the training records
    python scripts/validate.py --write         # rewrite the generated tables (README summary, docs/validation.md)
    python scripts/validate.py --check         # exit 1 if they are stale or a miss is unexplained (a test runs it)

Each record names the `vram` command line that reproduces its settings (`vram_args`); the command runs
in-process with --json and the figure that matches the record's `quantity` is read from the document.
The record format is described in data/validation/README.md.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "validation"
README = ROOT / "README.md"
RECORDS = ROOT / "docs" / "validation.md"

UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6, "GB": 10**9}
"""Bytes per unit as each record states it; `tokens` and `x` (a ratio) are plain numbers."""

Doc = dict[str, Any]


def _component(name: str) -> Callable[[Doc], float]:
    return lambda d: d["components"][name]["bytes"]


def _overhead_detail(d: Doc, key: str) -> int:
    details: dict[str, Any] = d["components"]["overhead"]["details"]
    return int(details.get(key, 0))


def _allocated(d: Doc) -> float:
    """What torch.cuda.max_memory_allocated sees: the total less the overhead line (context, NCCL, allocator)."""
    return d["total_bytes"] - d["components"]["overhead"]["bytes"]


def _reserved(d: Doc) -> float:
    """What max_memory_reserved sees: the total less the memory torch's allocator does not own."""
    return d["total_bytes"] - _overhead_detail(d, "cuda_context_bytes") - _overhead_detail(d, "communication_bytes")


def _states(d: Doc) -> float:
    return sum(d["components"][k]["bytes"] for k in ("weights", "master_weights", "gradients", "optimizer"))


def _runtime(key: str) -> Callable[[Doc], float]:
    return lambda d: d["runtime"][key]


QUANTITIES: dict[str, Callable[[Doc], float]] = {
    # training
    "peak_allocated": _allocated,
    "peak_reserved": _reserved,
    "peak_device": lambda d: d["total_bytes"],
    "model_states": _states,
    # inference
    "weights": _component("weights"),
    "cpu_weights": lambda d: d["components"]["weights"]["details"]["cpu_bytes"],  # llama.cpp's host weights
    "kv_cache_bytes": _component("kv_cache"),
    "activation_peak": _component("activations"),
    "kv_cache_tokens": _runtime("kv_cache_tokens"),
    "max_concurrency": _runtime("max_concurrency"),
    "load_allocated": _runtime("load_bytes"),
    # vLLM's budget besides the weights and the KV pool: the profiled activation peak and non-torch memory
    "non_kv": lambda d: d["components"]["activations"]["bytes"] + _overhead_detail(d, "non_torch_bytes"),
    "cuda_graph": lambda d: _overhead_detail(d, "cuda_graph_bytes"),
    # llama.cpp's CUDA compute buffer: the activations component of the llama.cpp profile
    "compute_buffer": lambda d: d["components"]["activations"]["details"]["compute_buffer_bytes"],
}
"""How each measured quantity is read from the --json document (data/validation/README.md lists them)."""

TOLERANCE: dict[str, float] = {
    "weights": 0.02,
    "kv_cache_bytes": 0.05,
    "kv_cache_tokens": 0.05,
    "max_concurrency": 0.05,
    "load_allocated": 0.03,
}
"""Relative error a record may show before the README must explain it: issue #8 asks weights within 2%, vLLM
KV capacity within 5%, transformers' load within 3%; everything else (training peaks, non-KV memory, totals)
within 15% for training (issue #7) and 10% for inference (issue #8)."""
DEFAULT_TOLERANCE = {"training": 0.15, "inference": 0.10}


@dataclass(frozen=True)
class Row:
    """One record against its estimate."""

    id: str
    kind: str
    group: str
    quantity: str
    measured: float
    estimated: float | None
    unit: str
    error: str | None = None

    @property
    def rel_error(self) -> float | None:
        if self.estimated is None or not self.measured:
            return None
        return (self.estimated - self.measured) / self.measured

    @property
    def tolerance(self) -> float:
        return TOLERANCE.get(self.quantity, DEFAULT_TOLERANCE[self.kind])

    @property
    def within(self) -> bool:
        err = self.rel_error
        return err is not None and abs(err) <= self.tolerance


def records(kind: str | None = None) -> list[dict[str, Any]]:
    """Every record of data/validation/*.jsonl, in file order (optionally one kind)."""
    out = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                if kind is None or rec["kind"] == kind:
                    out.append(rec)
    return out


def group_of(rec: dict[str, Any]) -> str:
    """Training: full fine-tuning, LoRA or QLoRA; inference: the runtime and the quantity."""
    args = rec["vram_args"]
    if rec["kind"] == "training":
        return "QLoRA" if "--qlora" in args else "LoRA" if "--lora-rank" in args else "full"
    runtime = args[args.index("--runtime") + 1] if "--runtime" in args else "transformers"
    return f"{runtime} {rec['measured']['quantity']}"


def _invoke(args: list[str]) -> Doc:
    from typer.testing import CliRunner

    from vram.cli import app

    result = CliRunner().invoke(app, [*args, "--json", "--offline"], prog_name="vram")
    if result.exit_code not in (0, 1):  # 1 = does not fit --gpu: the figures are still there
        raise RuntimeError(f"exit {result.exit_code}: {result.stderr.strip() or result.stdout.strip()}")
    doc: Doc = json.loads(result.stdout)
    return doc


def evaluate(rec: dict[str, Any]) -> Row:
    """Run the record's command line and read its quantity, in the record's unit."""
    measured = rec["measured"]
    unit = measured["unit"]
    scale = UNITS.get(unit, 1)
    base = Row(rec["id"], rec["kind"], group_of(rec), measured["quantity"], float(measured["value"]), None, unit)
    try:
        value = QUANTITIES[measured["quantity"]](_invoke(rec["vram_args"]))
    except (RuntimeError, KeyError) as exc:
        lines = [line.strip(" │╭╰─") for line in str(exc).splitlines() if line.strip(" │╭╰─")]
        return Row(**{**base.__dict__, "error": lines[-1][:100] if lines else type(exc).__name__})
    return Row(**{**base.__dict__, "estimated": value / scale})


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1%}"


def summary(rows: list[Row]) -> str:
    """Markdown: per group, the records, the median and the worst error, and how many are within tolerance."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for kind in dict.fromkeys(r.kind for r in rows):
        for r in rows:
            if r.kind == kind:
                groups.setdefault((kind, r.group), []).append(r)
        groups[(kind, "**all**")] = [r for r in rows if r.kind == kind]
    lines = [
        "| kind | group | records | median error | worst error | within tolerance |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for (kind, group), rs in groups.items():
        errs = [abs(e) for r in rs if (e := r.rel_error) is not None]
        median = f"{statistics.median(errs):.1%}" if errs else "n/a"
        worst = max(rs, key=lambda r: abs(r.rel_error) if r.rel_error is not None else float("inf"))
        within = sum(r.within for r in rs)
        lines.append(f"| {kind} | {group} | {len(rs)} | {median} | {_pct(worst.rel_error)} | {within}/{len(rs)} |")
    return "\n".join(lines)


def record_table(rows: list[Row]) -> str:
    """Markdown: every record, its measurement, vram's figure and the error."""
    lines = ["| record | quantity | measured | vram | error | |", "|---|---|---:|---:|---:|---|"]
    for r in rows:
        est = "error" if r.estimated is None else f"{r.estimated:,.2f}"
        mark = "ok" if r.within else f"outside ±{r.tolerance:.0%}"
        if r.error:
            mark = f"no estimate: {r.error}"
        lines.append(f"| `{r.id}` | {r.quantity} | {r.measured:,.2f} {r.unit} | {est} | {_pct(r.rel_error)} | {mark} |")
    return "\n".join(lines)


def misses(rows: list[Row]) -> list[Row]:
    """Records outside their tolerance: each must be explained in the README by its id."""
    return [r for r in rows if not r.within]


def main() -> int:
    kind = sys.argv[sys.argv.index("--kind") + 1] if "--kind" in sys.argv else None
    rows = [evaluate(rec) for rec in records(kind)]
    if "--write" not in sys.argv and "--check" not in sys.argv:
        print(summary(rows), record_table(rows), sep="\n\n")
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    from cli_reference import render

    fresh = {README: render(README.read_text(), "validation", summary(rows))}
    fresh[RECORDS] = render(RECORDS.read_text(), "validation-records", record_table(rows))
    explained = fresh[README].split("<!-- validation:end -->")[1]
    unexplained = [r.id for r in misses(rows) if f"`{r.id}`" not in explained]
    if "--check" in sys.argv:
        problems = [
            f"{path.relative_to(ROOT)}: the validation table is stale: run python scripts/validate.py --write"
            for path, text in fresh.items()
            if text != path.read_text()
        ]
        if unexplained:
            problems.append(f"records outside tolerance with no explanation in the README: {unexplained}")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for path, text in fresh.items():
        path.write_text(text)
    for name in unexplained:
        print(f"explain {name} in the README (after the validation table)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
