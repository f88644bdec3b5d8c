"""Estimates and catalogs as Rich tables (the only module that imports rich)."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vram.report.document import EstimateDocument
from vram.report.units import Units, fmt_bytes, fmt_params

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
    if doc.scope == "weights_only":
        head.append("\nweights only: a parameter count has no architecture for KV cache, activations or overhead")
    elif not m.exact:
        see = " (see warnings)" if doc.warnings else ""
        head.append(f"\napproximate: this architecture is not mapped exactly{see}", style="yellow")

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
        usable = fmt_bytes(g.usable_memory_bytes, units)
        if g.usable_memory_bytes == g.memory_bytes:
            verdict.append(f"{g.name} ({usable}): ")
        else:
            verdict.append(f"{g.name} ({usable} usable of {fmt_bytes(g.memory_bytes, units)}): ")
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


class _Console(Console):
    """A Console that lets a closed pipe surface as BrokenPipeError (Rich's default exits with status 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def print_out(*renderables: Table | Text) -> None:
    """Print to stdout, with no syntax highlighting (NO_COLOR and COLUMNS are honoured by Rich)."""
    console = _Console(highlight=False, soft_wrap=False)
    for r in renderables:
        console.print(r)
