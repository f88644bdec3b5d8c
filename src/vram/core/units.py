"""Byte units, each with one meaning: binary GiB/MiB/TiB (IEC 80000-13) and decimal GB/MB/TB (SI)."""

from __future__ import annotations

MiB = 1 << 20
GiB = 1 << 30

UNIT_BYTES: dict[str, int] = {"MiB": MiB, "GiB": GiB, "TiB": 1 << 40, "MB": 10**6, "GB": 10**9, "TB": 10**12}
"""Bytes per unit, as ``--units`` and ``--gpu 24GB`` / ``--gpu 80GiB`` read them."""


def binary_size(n: int) -> str:
    """A size for a note: GiB with two decimals from 1 GiB up, else MiB with one (binary units only)."""
    return f"{n / GiB:,.2f} GiB" if n >= GiB else f"{n / MiB:,.1f} MiB"
