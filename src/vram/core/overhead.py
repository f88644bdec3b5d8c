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
"""

from __future__ import annotations

from collections.abc import Iterable

from vram.core.units import MiB

CUDA_CONTEXT_BYTES = 512 * MiB
"""CUDA context and kernel images per GPU (lazy module loading), see module docstring."""

_MIN_BLOCK = 512
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
