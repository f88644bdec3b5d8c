"""``--gpu auto``: the cards of this machine, read from the vendor tools (no new dependency).

- NVIDIA: ``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`` (MiB per card;
  documented by ``nvidia-smi --help-query-gpu``).
- AMD: ``rocm-smi --showproductname --showmeminfo vram --json`` ("VRAM Total Memory (B)" per card).
- Apple Silicon: ``sysctl -n machdep.cpu.brand_string`` (the chip) and ``hw.memsize`` (unified bytes).

A card the catalog knows by name keeps its catalog facts (bandwidth, native formats, usable
memory) with the machine's own memory total; an unknown one gets that total with the catalog's
usual approximation for what a process can allocate.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from typing import Literal

from vram.core.errors import NoLocalGpuError, UnknownGpuError
from vram.core.gpu import Gpu
from vram.core.units import MiB
from vram.resolve.catalog import find_gpu

TIMEOUT_S = 5.0
"""Seconds to wait for a vendor tool: a design bound, not a measured figure; a hung driver must not hang vram."""
DRIVER_RESERVE = 768 * MiB
"""What the driver keeps from a card's total, as the GPU catalog approximates it where no CUDA total is public."""
APPLE_WIRED_SHARE = 0.75
"""Share of unified memory macOS lets the GPU wire by default (recommendedMaxWorkingSetSize), as the catalog's Apple
entries take it (https://github.com/gpustack/gpustack/issues/1375)."""

Runner = Callable[[list[str]], str | None]


def run_tool(cmd: list[str]) -> str | None:
    """A tool's stdout, or None when it is missing, fails or takes longer than TIMEOUT_S."""
    try:
        # Fixed argument lists naming the vendor tools, no shell: nothing from the user reaches them.
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _card(name: str, total: int, vendor: Literal["nvidia", "amd", "apple"], how: str) -> Gpu:
    """A detected card: the catalog's entry when the name matches, with this machine's memory."""
    short = re.sub(r"^(nvidia|amd)\s+(geforce\s+)?", "", name.strip(), flags=re.IGNORECASE)
    unified = vendor == "apple"
    usable = int(total * APPLE_WIRED_SHARE) if unified else max(total - DRIVER_RESERVE, total // 2)
    try:
        known = find_gpu(short)
    except UnknownGpuError:
        return Gpu(
            name=name.strip(),
            vendor=vendor,
            architecture="detected",
            memory_bytes=total,
            usable_memory_bytes=usable,
            usable_basis=f"{how}; usable: the catalog's approximation",
            bf16=True,
            fp8=False,
            unified_memory=unified,
            source=how,
        )
    if known.memory_bytes == total or (not unified and abs(known.memory_bytes - total) < known.memory_bytes // 10):
        return known
    return known.model_copy(update={"memory_bytes": total, "usable_memory_bytes": min(usable, total), "source": how})


def _nvidia(run: Runner) -> list[Gpu]:
    out = run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"])
    cards = []
    for line in (out or "").splitlines():
        name, _, mib = line.rpartition(",")
        if name and mib.strip().isdigit():
            cards.append(_card(name, int(mib) * MiB, "nvidia", "nvidia-smi memory.total"))
    return cards


def _amd(run: Runner) -> list[Gpu]:
    out = run(["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"])
    try:
        data = json.loads(out or "{}")
    except ValueError:
        return []
    cards = []
    for info in data.values() if isinstance(data, dict) else ():
        if not isinstance(info, dict):
            continue
        total = str(info.get("VRAM Total Memory (B)", ""))
        name = str(info.get("Card Series") or info.get("Card series") or info.get("Card SKU") or "AMD GPU")
        if total.isdigit():
            cards.append(_card(name, int(total), "amd", "rocm-smi VRAM Total Memory"))
    return cards


def _apple(run: Runner) -> list[Gpu]:
    chip = (run(["sysctl", "-n", "machdep.cpu.brand_string"]) or "").strip()
    size = (run(["sysctl", "-n", "hw.memsize"]) or "").strip()
    if not chip.startswith("Apple") or not size.isdigit():
        return []
    return [_card(chip, int(size), "apple", "sysctl hw.memsize (unified memory)")]


def detect(run: Runner = run_tool) -> list[Gpu]:
    """Every card of this machine (NVIDIA, else AMD, else Apple Silicon); NoLocalGpuError when none."""
    for probe in (_nvidia, _amd, _apple):
        found = probe(run)
        if found:
            return found
    raise NoLocalGpuError(("nvidia-smi", "rocm-smi", "sysctl"))
