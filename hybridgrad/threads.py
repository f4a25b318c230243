"""How many threads NumPy's BLAS may use: ``hg.set_num_threads`` / ``hg.get_num_threads``.

Like ``torch.set_num_threads``, this limits the intra-op threads of the process (here: the BLAS
behind NumPy's ``matmul``, OpenBLAS or MKL), at run time, through ``threadpoolctl`` when it is
installed (it is optional: without it, set ``OPENBLAS_NUM_THREADS`` before Python starts).
hybridgrad never changes the thread count by itself.

Why it matters (docs/core-performance.md): an eager training step makes many medium-sized BLAS
calls with Python work in between. On a 2-core machine shared with other processes, OpenBLAS's
second thread made an MLP step 4-10x slower than one thread (its workers spin waiting for work
and are preempted mid-call), so ``hg.set_num_threads(1)`` is the safe choice on a busy machine.

Example:
    >>> import hybridgrad as hg
    >>> before = hg.get_num_threads()
    >>> hg.set_num_threads(1)
    >>> hg.get_num_threads()
    1
    >>> hg.set_num_threads(before)
"""

from __future__ import annotations

import os

_LIMITER = None  # the last threadpoolctl limiter, kept so that its limit stays in force
_REQUESTED: int | None = None  # the count asked for, applied again to BLAS libraries loaded later


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def set_num_threads(num_threads: int) -> None:
    """Limit NumPy's BLAS to ``num_threads`` threads for the rest of the process.

    Needs ``threadpoolctl`` (``pip install threadpoolctl``); without it, raises a RuntimeError
    that says how to set the count through ``OPENBLAS_NUM_THREADS`` instead.

    Example:
        >>> import hybridgrad as hg
        >>> hg.set_num_threads(0)
        Traceback (most recent call last):
        ...
        ValueError: set_num_threads: expected a positive number of threads, got 0
    """
    global _LIMITER, _REQUESTED
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got "
                         f"{num_threads!r}")
    threadpoolctl = _threadpoolctl()
    if threadpoolctl is None:
        raise RuntimeError(
            "set_num_threads needs the optional package threadpoolctl (pip install "
            "threadpoolctl); without it, start Python with OPENBLAS_NUM_THREADS="
            f"{num_threads} (and OMP_NUM_THREADS / MKL_NUM_THREADS) set in the environment")
    _LIMITER = threadpoolctl.threadpool_limits(limits=num_threads, user_api="blas")
    _REQUESTED = num_threads


def reapply() -> None:
    """Apply the count of the last :func:`set_num_threads` to BLAS libraries loaded since (a
    limit reaches only the libraries loaded when it is set; the compiler loads SciPy's BLAS,
    a second OpenBLAS, on first use). Does nothing if the count was never set.

    Example:
        >>> from hybridgrad import threads
        >>> threads.reapply()  # after importing a library that brings its own BLAS
    """
    global _LIMITER
    threadpoolctl = _threadpoolctl()
    if _REQUESTED is not None and threadpoolctl is not None:
        _LIMITER = threadpoolctl.threadpool_limits(limits=_REQUESTED, user_api="blas")


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses (the largest, if several BLAS are loaded).

    Without ``threadpoolctl`` this reads ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` /
    ``MKL_NUM_THREADS``, else reports the CPU count (OpenBLAS's default).

    Example:
        >>> import hybridgrad as hg
        >>> hg.get_num_threads() >= 1
        True
    """
    threadpoolctl = _threadpoolctl()
    if threadpoolctl is not None:
        import numpy  # noqa: F401 - loads the BLAS that threadpoolctl inspects

        counts = [info["num_threads"] for info in threadpoolctl.threadpool_info()
                  if info.get("user_api") == "blas"]
        if counts:
            return max(counts)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1
