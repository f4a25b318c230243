"""Per-operator eager overhead: hybridgrad (autograd on) next to raw NumPy doing the same work.

For tiny tensors the time is almost all framework overhead (dispatch, dtype rules, wrapping,
graph recording, the backward engine), which is what this measures. Columns:

* ``numpy fwd``: the NumPy call alone (``np.add(a, b)``);
* ``hg fwd``: the same operator on tensors that require grad (records a graph node);
* ``numpy f+b``: forward, ``sum`` and the hand-written backward in NumPy;
* ``hg f+b``: ``op(a, b).sum().backward()`` with hybridgrad, gradients accumulated into leaves.

Run: ``python benchmarks/ops.py`` (``--quick`` for a short run, ``--size N`` for N x N inputs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hybridgrad as hg  # noqa: E402


def _best(function, number: int, repeat: int, timer=time.thread_time) -> float:
    """Best time per call in microseconds (the minimum is the least noisy estimate).

    The default timer is this thread's CPU time, so other processes competing for the cores
    (a shared machine) do not inflate the numbers; ``--wall`` measures wall-clock time.
    """
    times = timeit.repeat(function, number=number, repeat=repeat, timer=timer)
    return min(times) / number * 1e6


def _cases(size: int):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((size, size)).astype(np.float32)
    b_np = rng.standard_normal((size, size)).astype(np.float32)
    a = hg.tensor(a_np, requires_grad=True)
    b = hg.tensor(b_np, requires_grad=True)

    def numpy_add_fb():
        out = np.add(a_np, b_np)
        out.sum()
        grad = np.ones_like(out)
        return grad.copy(), grad.copy()

    def numpy_mul_fb():
        out = np.multiply(a_np, b_np)
        out.sum()
        grad = np.ones_like(out)
        return grad * b_np, grad * a_np

    def numpy_matmul_fb():
        out = np.matmul(a_np, b_np)
        out.sum()
        grad = np.ones_like(out)
        return grad @ b_np.T, a_np.T @ grad

    def hg_fb(function):
        def run():
            a.grad = None
            b.grad = None
            function(a, b).sum().backward()

        return run

    return [
        ("add", lambda: np.add(a_np, b_np), lambda: a + b, numpy_add_fb,
         hg_fb(lambda x, y: x + y)),
        ("mul", lambda: np.multiply(a_np, b_np), lambda: a * b, numpy_mul_fb,
         hg_fb(lambda x, y: x * y)),
        ("matmul", lambda: np.matmul(a_np, b_np), lambda: a @ b, numpy_matmul_fb,
         hg_fb(lambda x, y: x @ y)),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4, help="inputs are size x size (default 4)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--wall", action="store_true",
                        help="wall-clock time instead of this thread's CPU time")
    args = parser.parse_args(argv)
    number, repeat = (500, 3) if args.quick else (5000, 5)
    timer = time.perf_counter if args.wall else time.thread_time
    header = (f"{'op':<8} {'numpy fwd':>10} {'hg fwd':>9} {'ratio':>7}   "
              f"{'numpy f+b':>10} {'hg f+b':>9} {'ratio':>7}")
    clock = "wall-clock" if args.wall else "CPU"
    print(f"Eager overhead per call, {args.size}x{args.size} float32, microseconds of {clock} "
          f"time (best of {repeat} x {number}), autograd on")
    print(header)
    print("-" * len(header))
    for name, numpy_fwd, hg_fwd, numpy_fb, hg_fb_run in _cases(args.size):
        t_np = _best(numpy_fwd, number, repeat, timer)
        t_hg = _best(hg_fwd, number, repeat, timer)
        t_np_fb = _best(numpy_fb, number, repeat, timer)
        t_hg_fb = _best(hg_fb_run, number, repeat, timer)
        print(f"{name:<8} {t_np:>10.2f} {t_hg:>9.2f} {t_hg / t_np:>6.1f}x   "
              f"{t_np_fb:>10.2f} {t_hg_fb:>9.2f} {t_hg_fb / t_np_fb:>6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
