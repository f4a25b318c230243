"""Data-parallel throughput of the notes' CNN at 1 and 2 MPI ranks, and the allreduce cost.

The CNN: conv 3x3 1->32, ReLU, max-pool 2, conv 3x3 32->64, ReLU, max-pool 2, linear 3136->128,
ReLU, linear 128->10 (422k parameters, 1.7 MB of float32 gradients), on MNIST-shaped random
images (throughput does not depend on the pixel values). Each rank uses one BLAS thread and a
fixed per-rank batch (weak scaling: 2 ranks process twice the images per step). Every rank
launches through ``mpirun`` on loopback TCP; the table reports images per second over all
ranks, milliseconds per step, the time per step spent in the gradient allreduce (including
waiting there for the slowest rank), and the speedup
over one rank. A second table times a bare ``Allreduce`` of a buffer of the gradients' size.

Usage::

    python benchmarks/distributed.py                    # 1 and 2 ranks, 20 steps of 64 each
    python benchmarks/distributed.py --ranks 1 2 4 --steps 50 --batch 128

On a machine shared with other jobs the numbers are noisy: 2 ranks need 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_cnn():
    import hybridgrad as hg

    nn = hg.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def worker(args) -> None:
    """One rank: train for warm-up + timed steps; rank 0 prints a JSON line."""
    import numpy as np

    import hybridgrad as hg
    from hybridgrad import distributed as dist

    comm = dist.init(backend="mpi")
    hg.manual_seed(0)
    model = build_cnn()
    dist.broadcast_parameters(model)
    optimizer = dist.DistributedOptimizer(hg.optim.SGD(model.parameters(), lr=0.01,
                                                       momentum=0.9),
                                          bucket_cap_mb=args.bucket_mb)
    rng = np.random.default_rng(comm.rank)
    images = hg.tensor(rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32))
    labels = hg.tensor(rng.integers(0, 10, args.batch))

    def step():
        optimizer.zero_grad()
        hg.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    comm.barrier()
    averager = optimizer.averager
    averager.seconds, averager.calls = 0.0, 0
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    comm.barrier()
    elapsed = time.perf_counter() - start
    # The slowest rank sets the pace: report the largest allreduce time over ranks.
    allreduce = comm.allreduce(np.array([averager.seconds]), op="max")[0]

    # A bare allreduce of the gradients' size, for the cost of the communication alone.
    gradient_floats = sum(p._array.size for p in model.parameters())
    buffer = np.ones(gradient_floats, dtype=np.float32)
    for _ in range(3):
        comm.allreduce(buffer)
    comm.barrier()
    times = []
    for _ in range(30):
        start = time.perf_counter()
        comm.allreduce(buffer)
        times.append(time.perf_counter() - start)
    bare = comm.allreduce(np.array([float(np.median(times))]), op="max")[0]
    # ... and the same gradients as one call per tensor, as without bucketing.
    pieces = [np.ones(p._array.size, dtype=np.float32) for p in model.parameters()]
    times = []
    for _ in range(30):
        start = time.perf_counter()
        for piece in pieces:
            comm.allreduce(piece)
        times.append(time.perf_counter() - start)
    per_tensor = comm.allreduce(np.array([float(np.median(times))]), op="max")[0]
    if comm.rank == 0:
        print(json.dumps({
            "ranks": comm.size, "batch_per_rank": args.batch, "steps": args.steps,
            "seconds": elapsed, "allreduce_seconds": allreduce,
            "calls_per_step": averager.calls / args.steps,
            "gradient_mb": gradient_floats * 4 / 1e6, "bare_allreduce_seconds": bare,
            "tensors": len(pieces), "per_tensor_seconds": per_tensor}))


def launch(ranks: int, args) -> dict:
    env = dict(os.environ)
    env.update({
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_btl": "self,tcp", "OMPI_MCA_btl_tcp_if_include": "lo",
        "OMPI_MCA_oob_tcp_if_include": "lo", "OMPI_MCA_rmaps_base_oversubscribe": "1",
        "PYTHONPATH": os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH")] if p),
    })
    command = ["mpirun", "-n", str(ranks)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-run-as-root")
    command += [sys.executable, __file__, "--worker", "--steps", str(args.steps),
                "--warmup", str(args.warmup), "--batch", str(args.batch),
                "--bucket-mb", str(args.bucket_mb)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=args.timeout)
    if result.returncode != 0:
        raise SystemExit(f"mpirun -n {ranks} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64, help="images per rank per step")
    parser.add_argument("--bucket-mb", type=float, default=25.0,
                        help="gradient bucket size (tiny: one allreduce per tensor)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if shutil.which("mpirun") is None:
        raise SystemExit("mpirun not found: apt-get install openmpi-bin libopenmpi-dev, then "
                         "pip install 'hybridgrad[distributed]'")
    rows = [launch(ranks, args) for ranks in args.ranks]
    base = rows[0]["ranks"] * rows[0]["batch_per_rank"] * rows[0]["steps"] / rows[0]["seconds"]
    print(f"CNN data-parallel training, {args.batch} images per rank per step, "
          f"{args.steps} timed steps, 1 BLAS thread per rank, {os.cpu_count()} CPUs")
    print(f"{'ranks':>5} {'global batch':>12} {'images/s':>9} {'ms/step':>8} "
          f"{'allreduce+wait ms':>17} {'of step':>8} {'calls/step':>10} {'speedup':>7}")
    for row in rows:
        images = row["ranks"] * row["batch_per_rank"] * row["steps"]
        rate = images / row["seconds"]
        step_ms = 1e3 * row["seconds"] / row["steps"]
        allreduce_ms = 1e3 * row["allreduce_seconds"] / row["steps"]
        print(f"{row['ranks']:>5} {row['ranks'] * row['batch_per_rank']:>12} {rate:>9.1f} "
              f"{step_ms:>8.1f} {allreduce_ms:>17.2f} {100 * allreduce_ms / step_ms:>7.1f}% "
              f"{row['calls_per_step']:>10.0f} {rate / base:>6.2f}x")
    print("(allreduce+wait: time inside the gradient allreduce, including waiting for the "
          "slowest rank)")
    print(f"\nbare Allreduce of the {rows[0]['gradient_mb']:.2f} MB of float32 gradients, median "
          f"of 30: one bucket vs one call per tensor ({rows[0]['tensors']} tensors)")
    for row in rows:
        print(f"{row['ranks']:>5} ranks: {1e3 * row['bare_allreduce_seconds']:.3f} ms bucketed, "
              f"{1e3 * row['per_tensor_seconds']:.3f} ms per tensor")


if __name__ == "__main__":
    main()
