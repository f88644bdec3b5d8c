"""Estimates and catalogs as Rich tables (the only module that imports rich)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vram.report.document import EstimateDocument
from vram.report.units import Units, fmt_bytes, fmt_params

if TYPE_CHECKING:  # the documents are only read here; importing them costs start-up
    from vram.report.inspect import InspectDocument

_LABELS = {"weights": "weights", "kv_cache": "KV cache", "activations": "activations", "overhead": "overhead"}


def estimate_table(doc: EstimateDocument, units: Units) -> list[Table | Text]:
    """The renderables for one estimate: a heading, the component table and the GPU verdict."""
    m, s = doc.model, doc.settings
    head = Text()
    head.append(m.id, style="bold")
    where = f"{m.source} @ {m.revision[:12]}" if m.revision else m.source
    head.append(f"  ({where})\n", style="dim")
    facts = [m.architecture or "rule of thumb", f"{fmt_params(m.parameters)} params"]
    if m.active_parameters != m.parameters:
        facts.append(f"{fmt_params(m.active_parameters)} active")
    facts.append(s.dtype)
    if s.seq_len is not None:
        facts += [f"batch {s.batch}", f"context {s.seq_len:,}", f"KV {s.kv_dtype}"]
    head.append(" · ".join(facts))
    if not m.exact:
        head.append("\napproximate: this architecture is not mapped exactly (see warnings)", style="yellow")

    table = Table(box=box.SIMPLE_HEAD, show_footer=True, pad_edge=False)
    table.add_column("component", footer="total")
    table.add_column("size", justify="right", footer=fmt_bytes(doc.total_bytes, units))
    table.add_column("share", justify="right", footer="100%")
    table.add_column("note", overflow="fold")
    total = doc.total_bytes or 1
    for name, c in doc.components.items():
        table.add_row(_LABELS.get(name, name), fmt_bytes(c.bytes, units), f"{c.bytes / total:.0%}", c.note)

    out: list[Table | Text] = [head, table]
    if doc.gpu is not None:
        g = doc.gpu
        verdict = Text()
        verdict.append(f"{g.name} ({fmt_bytes(g.memory_bytes, units)}): ")
        if g.fits:
            verdict.append("fits", style="bold green")
            verdict.append(f", {fmt_bytes(g.headroom_bytes, units)} headroom")
        else:
            verdict.append("does not fit", style="bold red")
            verdict.append(f", short by {fmt_bytes(-g.headroom_bytes, units)}")
        out.append(verdict)
    return out


def simple_table(columns: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[str] = ()) -> Table:
    """A plain listing table (models, GPUs, formats)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for c in columns:
        table.add_column(c, justify="right" if c in right else "left", overflow="fold")
    for r in rows:
        table.add_row(*r)
    return table


def print_out(*renderables: Table | Text) -> None:
    """Print to stdout, with no syntax highlighting (NO_COLOR and COLUMNS are honoured by Rich)."""
    console = Console(highlight=False, soft_wrap=False)
    for r in renderables:
        console.print(r)


def inspect_table(doc: InspectDocument) -> list[Table | Text]:
    """The renderables of ``vram inspect``: a heading, each fact with its origin, what the files store."""
    m = doc.model
    head = Text()
    head.append(m.id, style="bold")
    where = f"{m.source} @ {m.revision[:12]}" if m.revision else m.source
    head.append(f"  ({where})\n", style="dim")
    head.append(f"{m.architecture} · {fmt_params(doc.parameters.total)} params")
    rows = [[label, str(f.value), f.from_] for label, f in doc.architecture.items()]
    out: list[Table | Text] = [head, simple_table(["field", "value", "from"], rows)]
    if doc.checkpoint is not None:
        c = doc.checkpoint
        kind = "a GGUF file" if c.source == "gguf" else "safetensors"
        stored = ", ".join(f"{k} {v:,}" for k, v in c.parameters_by_dtype.items())
        out.append(Text(f"stored in {kind}: {stored} elements, {c.total_bytes:,} bytes"))
    return out
