"""The timing helper the benchmark scripts share (each runs as ``python benchmarks/NAME.py``, so
this folder heads ``sys.path`` and ``from timing import best_of`` finds it)."""

from __future__ import annotations

import time


def best_of(function, repeat: int, warmup: bool = True) -> float:
    """Seconds of the fastest of ``repeat`` calls (after one untimed call with ``warmup``): the
    minimum is the run least disturbed by other processes.

    Example:
        >>> best_of(lambda: sum(range(100)), 3) >= 0.0
        True
    """
    if warmup:
        function()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best
