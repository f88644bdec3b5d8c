"""Terminal chart of memory against context: one stacked bar per context length, the card's capacity as a line.

Components are told apart by their fill character as well as their colour, so the chart reads the
same under ``NO_COLOR`` or in a log file. It fits in 80 columns.
"""

from __future__ import annotations

from rich.text import Text

from vram.core.fit import PlotSeries
from vram.report.units import Units, fmt_bytes

WIDTH = 80
_FILL = {
    "weights": ("█", "blue"),
    "kv_cache": ("▓", "magenta"),
    "activations": ("▒", "yellow"),
    "overhead": ("░", "cyan"),
}
_LABELS = {"weights": "weights", "kv_cache": "KV cache", "activations": "activations", "overhead": "overhead"}
_CAP = "|"


def context_plot(series: PlotSeries, units: Units, width: int = WIDTH) -> Text:
    """The chart as Rich Text: context on the left, bars scaled to the largest total or the capacity."""
    label_w = max(len(f"{n:,}") for n, _ in series.points) + 1
    size_w = max(len(fmt_bytes(sum(b for _, b in parts), units)) for _, parts in series.points) + 1
    bars = max(10, width - label_w - 2 - size_w - len(" <- max"))
    top = max(series.capacity_bytes, *(sum(b for _, b in parts) for _, parts in series.points))
    cap_col = min(bars - 1, int(series.capacity_bytes / top * bars))  # cells left of the line are within it

    text = Text()
    text.append(f"{series.dtype}, batch {series.batch}: memory against context", style="bold")
    text.append(f"  ({_CAP} = {fmt_bytes(series.capacity_bytes, units)} usable)\n")
    for n, parts in series.points:
        cells: list[tuple[str, str | None]] = []
        edge = 0.0
        for name, b in parts:
            char, colour = _FILL.get(name, ("#", "white"))
            edge += b / top * bars
            cells += [(char, colour)] * (round(edge) - len(cells))
        cells += [(" ", None)] * (bars - len(cells))
        cells[cap_col] = (_CAP, "bold red")
        text.append(f"{n:>{label_w - 1},} ")
        for char, style in cells:
            text.append(char, style=style)
        total = sum(b for _, b in parts)
        text.append(f" {fmt_bytes(total, units):>{size_w - 1}}")
        if n == series.max_seq_len:
            text.append(" <- max", style="bold")
        text.append("\n")
    legend = "  ".join(f"{_FILL[k][0]} {v}" for k, v in _LABELS.items())
    text.append(" " * label_w + legend + "\n")
    if series.max_seq_len is not None and series.capped:
        text.append(" " * label_w + f"{series.max_seq_len:,} tokens is the model's maximum context, and it fits")
    elif series.max_seq_len is not None:
        text.append(" " * label_w + f"max context {series.max_seq_len:,} tokens: one more does not fit")
    else:
        text.append(" " * label_w + "no context fits")
    return text
