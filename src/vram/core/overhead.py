"""Runtime memory outside the tensors: CUDA context and the caching allocator's rounding.

Constants and rules, with their sources:
- CUDA context + loaded kernels: Stas Bekman measured 0.47 GiB with lazy module loading
  (``CUDA_MODULE_LOADING=LAZY``, the default since CUDA 11.7) on an A100 with torch 2.1.1, and
  0.92 GiB with eager loading (github.com/stas00/ml-engineering, training/performance/README.md).
  We charge 512 MiB, the measured lazy figure rounded up to a whole 512 MiB.
- PyTorch's caching allocator (c10/cuda/CUDACachingAllocator.cpp): every request is rounded up to
  512 B (``kMinBlockSize``); requests of 10 MiB or more (``kMinLargeAlloc``) get a segment rounded
  up to 2 MiB (``kRoundLarge``). Smaller requests share 2 MiB / 20 MiB segments, so only their
  512 B rounding is charged here.
- What ``torch.cuda.memory_allocated()`` counts is the block handed out, not the segment: a block
  is split off its segment only when more than 1 MiB (``kSmallSize``) would remain in the large
  pool (``should_split``), so a tensor that leaves at most 1 MiB of its fresh segment holds, and
  is counted with, the whole segment (a 25 MiB tensor: 26 MiB).
"""

from __future__ import annotations

from collections.abc import Iterable

from vram.core.units import MiB

CUDA_CONTEXT_BYTES = 512 * MiB
"""CUDA context and kernel images per GPU (lazy module loading), see module docstring."""

_MIN_BLOCK = 512
_SMALL_SIZE = 1 * MiB
_LARGE_BUFFER = 20 * MiB
_MIN_LARGE_ALLOC = 10 * MiB
_ROUND_LARGE = 2 * MiB


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def allocator_bytes(sizes: Iterable[int]) -> int:
    """Bytes the caching allocator reserves for these allocations (each rounded as c10 rounds it)."""
    total = 0
    for size in sizes:
        if size <= 0:
            continue
        rounded = _round_up(size, _MIN_BLOCK)
        total += _round_up(rounded, _ROUND_LARGE) if rounded >= _MIN_LARGE_ALLOC else rounded
    return total


def allocated_bytes(sizes: Iterable[int]) -> int:
    """Bytes ``torch.cuda.memory_allocated()`` counts for these allocations, each from a fresh segment.

    A block is the request rounded to 512 B, or its whole segment when splitting would leave 1 MiB
    or less (``should_split``); requests of 1-10 MiB take 20 MiB segments (``kLargeBuffer``), so
    they always split. Blocks carved from earlier segments' remainders are not modelled.
    """
    total = 0
    for size in sizes:
        if size <= 0:
            continue
        rounded = _round_up(size, _MIN_BLOCK)
        if rounded > _SMALL_SIZE:
            segment = _LARGE_BUFFER if rounded < _MIN_LARGE_ALLOC else _round_up(rounded, _ROUND_LARGE)
            if segment - rounded <= _SMALL_SIZE:
                rounded = segment
        total += rounded
    return total
