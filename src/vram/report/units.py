"""Byte formatting with honest labels: GiB means 2**30, GB means 10**9, never mixed."""

from __future__ import annotations

from typing import Literal

from vram.core.units import UNIT_BYTES

Units = Literal["GiB", "GB"]

_SMALL = {"GiB": "MiB", "GB": "MB"}


def fmt_bytes(n: int, units: Units = "GiB") -> str:
    """``n`` bytes as e.g. ``12.55 GiB``; below 0.1 of the unit, in MiB / MB so small numbers stay readable."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    big = UNIT_BYTES[units]
    if n >= big // 10:
        return f"{sign}{n / big:,.2f} {units}"
    small_name = _SMALL[units]
    small = UNIT_BYTES[small_name]
    return f"{sign}{n / small:,.1f} {small_name}"


def fmt_params(n: int) -> str:
    """A parameter count as ``6.74 B`` / ``124.4 M`` (decimal: parameter counts are counts, not bytes)."""
    for scale, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if n >= scale:
            digits = 2 if scale >= 10**9 else 1
            return f"{n / scale:,.{digits}f} {suffix}"
    return str(n)
