"""Exact maxima and fewest GPUs over any estimate function.

The solvers know nothing about models: they take a function from one integer setting (tokens of
context, sequences in a batch, a GPU count) to the bytes one GPU needs, and a budget. Any estimate
plugs in (inference under any runtime, training under any sharding), so each answer is the
estimate's own figure at the boundary, never an interpolation between sampled points.

Memory grows with context and batch but not always linearly: the activation peak is a max() of
several linear terms, sliding-window and chunked layers stop growing at their window, and the
caching allocator rounds to whole pages. ``max_fitting`` therefore uses the straight line through
its bracket only as a guess (exact in one step where memory is linear in the setting) and keeps a
bisection bracket, so it needs only monotonicity: the reported maximum fits and one more does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

BytesAt = Callable[[int], int]
"""Bytes one GPU needs at a value of the setting being solved for."""


@dataclass(frozen=True, slots=True)
class Maximum:
    """The largest value in ``[low, high]`` whose bytes fit, or None when ``low`` already does not.

    ``capped`` is True when ``high`` itself fits: the true maximum may lie beyond the range searched.
    """

    value: int | None
    capped: bool
    evaluations: int


def max_fitting(bytes_at: BytesAt, budget: int, low: int, high: int) -> Maximum:
    """The largest ``n`` in ``[low, high]`` with ``bytes_at(n) <= budget``, for ``bytes_at`` non-decreasing in n.

    Each step evaluates the secant guess inside the bracket (exact in one step for a linear cost,
    confirmed by evaluating one more), and a step that did not halve the bracket is followed by a
    midpoint step, so the bracket at least halves every two steps: at most about three times a
    bisection's evaluations in the worst case.
    """
    if low > high:
        msg = f"empty range [{low}, {high}]"
        raise ValueError(msg)
    cache: dict[int, int] = {}

    def cost(n: int) -> int:
        if n not in cache:
            cache[n] = bytes_at(n)
        return cache[n]

    if cost(low) > budget:
        return Maximum(None, capped=False, evaluations=len(cache))
    if cost(high) <= budget:
        return Maximum(high, capped=True, evaluations=len(cache))
    good, bad = low, high  # cost(good) <= budget < cost(bad)
    bisect_next = False
    while bad - good > 1:
        width = bad - good
        if bisect_next:
            guess = good + width // 2
        else:
            rise = cost(bad) - cost(good)
            guess = good + (budget - cost(good)) * width // rise if rise > 0 else good + width // 2
            guess = min(max(guess, good + 1), bad - 1)
        if cost(guess) <= budget:
            good = guess
            # A secant guess that fits is usually the answer: confirm it with one more at once.
            if not bisect_next and guess + 1 < bad and cost(guess + 1) > budget:
                bad = guess + 1
        else:
            bad = guess
        bisect_next = not bisect_next and bad - good > width // 2
    return Maximum(good, capped=False, evaluations=len(cache))


@dataclass(frozen=True, slots=True)
class Fewest:
    """The first candidate layout that fits, with its per-GPU bytes; ``None`` when none fits."""

    count: int | None
    layout: object | None
    per_gpu_bytes: int | None
    tried: int


def fewest_fitting(
    layouts: Iterable[tuple[int, object]], per_gpu_bytes: Callable[[object], int | None], budget: int
) -> Fewest:
    """The smallest GPU count whose layout fits ``budget`` on every GPU.

    ``layouts`` yields ``(count, layout)`` in ascending count (several layouts may share a count, e.g.
    TP 4 x PP 2 and TP 8); ``per_gpu_bytes`` gives the most loaded GPU's bytes for a layout, or None
    when the layout is invalid for the model (a TP degree that does not divide the heads). Per-GPU
    memory is not monotone in the count (replicated KV heads, uneven layer splits), so every count is
    tried in order and the first that fits is, by construction, the fewest.
    """
    tried = 0
    for count, layout in layouts:
        tried += 1
        need = per_gpu_bytes(layout)
        if need is not None and need <= budget:
            return Fewest(count, layout, need, tried)
    return Fewest(None, None, None, tried)
