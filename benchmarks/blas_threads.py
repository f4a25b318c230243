"""One vs two BLAS threads for the MLP step's matrix products (needs threadpoolctl).

Times the three products of a 784->512 linear layer at batch 128 (forward, weight gradient,
input gradient), alone and with a little Python work in between (as in an eager training step),
under ``threadpoolctl.threadpool_limits(n)`` for each n, alternating. Prints median wall and
process-CPU milliseconds. Pin the process to some cores with ``taskset -c 0,1`` to see whether
the machine (not the BLAS) is the bottleneck.

Run: python benchmarks/blas_threads.py [--threads 1,2] [--repeats 40]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def timed(function, repeats: int) -> tuple[float, float]:
    function()
    walls, cpus = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        cpus.append(time.process_time() - start_cpu)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls) * 1e3, statistics.median(cpus) * 1e3


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_info, threadpool_limits

    blas = [(i["internal_api"], i.get("threading_layer"), i["num_threads"])
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"BLAS: {blas}")
    rng = np.random.default_rng(0)
    x = rng.random((128, 784), dtype=np.float32)
    w = rng.random((512, 784), dtype=np.float32)
    g = rng.random((128, 512), dtype=np.float32)

    def products():
        return x @ w.T, g.T @ x, g @ w

    def with_python():
        products()
        total = 0
        for i in range(2000):  # about the Python work between BLAS calls in a step
            total += i
        return total

    print(f"{'threads':>8}{'products wall':>15}{'cpu':>8}{'+python wall':>14}{'cpu':>8}")
    for _ in range(args.rounds):
        for n in (int(v) for v in args.threads.split(",")):
            with threadpool_limits(n, user_api="blas"):
                a = timed(products, args.repeats)
                b = timed(with_python, args.repeats)
            print(f"{n:>8}{a[0]:>15.2f}{a[1]:>8.2f}{b[0]:>14.2f}{b[1]:>8.2f}")


if __name__ == "__main__":
    main()
