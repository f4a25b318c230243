"""Time one training step (forward + backward + SGD update) on synthetic MNIST-shaped data.

Models: an MLP 784-512-256-10 (batch 128) and a small CNN (conv 32 3x3, relu, maxpool 2,
conv 64 3x3, relu, maxpool 2, linear 128, relu, linear 10; batch 64). When PyTorch happens to be
installed, the same models run in PyTorch in the same process (same weights, loaded through the
state_dict, whose outputs are compared) and the table shows the ratio hybridgrad / PyTorch.

Both frameworks alternate in rounds (a block of steps each), and the table shows each one's best
round median, in wall-clock time and in process CPU time (on a shared machine the other users'
load lands on both alike, and CPU time does not count it at all). ``--threads N`` sets the
BLAS/OpenMP thread count of both (read before NumPy is imported).

Run: python benchmarks/train_mnist.py [--steps 10] [--rounds 3] [--threads N] [--no-torch]
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import statistics
import sys
import time


def _threads_from_argv(argv) -> str | None:
    for index, item in enumerate(argv):
        if item == "--threads" and index + 1 < len(argv):
            return argv[index + 1]
        if item.startswith("--threads="):
            return item.split("=", 1)[1]
    return None


_THREADS = _threads_from_argv(sys.argv)
if _THREADS:
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = _THREADS
# PyTorch's OpenMP workers otherwise spin after each op and steal the cores NumPy needs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

# Benchmark the checkout this script lives in, not whatever hybridgrad is installed.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import hybridgrad as hg  # noqa: E402
from hybridgrad import nn  # noqa: E402

GOALS = {"mlp": 1.5, "cnn": 2.0}


class ReLU(nn.Module):
    """Local stand-in so that this script does not depend on nn.activation."""

    def forward(self, x):
        return hg.relu(x)


def make_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), ReLU(), nn.Linear(512, 256), ReLU(),
                         nn.Linear(256, 10))


def make_cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3), ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128),
                         ReLU(), nn.Linear(128, 10))


def cross_entropy(logits, labels):
    log_probs = hg.log_softmax(logits, dim=1)
    picked = hg.gather(log_probs, 1, labels.reshape(-1, 1))
    return -picked.mean()


def hg_step(model, x, y, lr=0.01):
    loss = cross_entropy(model(x), y)
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p._array -= lr * p.grad._array
    return loss


def torch_models(torch):
    tnn = torch.nn
    mlp = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 256),
                         tnn.ReLU(), tnn.Linear(256, 10))
    cnn = tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2),
                         tnn.Conv2d(32, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                         tnn.Linear(64 * 5 * 5, 128), tnn.ReLU(), tnn.Linear(128, 10))
    return {"mlp": mlp, "cnn": cnn}


def torch_step(torch, model, x, y, lr=0.01):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    model.zero_grad(set_to_none=True)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return loss


def block(step, steps: int) -> tuple[float, float]:
    """Median (wall, CPU) milliseconds per step over a block of steps.

    CPU time is the process's (all its threads, BLAS workers included): on a loaded machine it
    does not count the time other processes hold the cores, so it is the steadier figure.
    """
    walls, cpus = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        cpus.append(time.process_time() - start_cpu)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def compare(steps_by_name: dict, steps: int, warmup: int, rounds: int) -> dict:
    """Alternate blocks of each framework's step; best round median (wall, CPU) per framework."""
    for step in steps_by_name.values():
        for _ in range(warmup):
            step()
    results = {name: [] for name in steps_by_name}
    for _ in range(rounds):
        for name, step in steps_by_name.items():
            results[name].append(block(step, steps))
    return {name: (min(v[0] for v in values), min(v[1] for v in values))
            for name, values in results.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", default=None, help="BLAS/OpenMP threads for both")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--models", default="mlp,cnn")
    args = parser.parse_args(argv)
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None
    rng = np.random.default_rng(0)
    builders = {"mlp": (make_mlp, 128), "cnn": (make_cnn, 64)}
    rows = []
    for name in args.models.split(","):
        build, batch = builders[name]
        hg.manual_seed(0)
        model = build()
        x = rng.random((batch, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, batch)
        hx, hy = hg.tensor(x), hg.tensor(y)
        steps = {"hybridgrad": functools.partial(hg_step, model, hx, hy)}
        if torch is not None:
            if args.threads:
                torch.set_num_threads(int(args.threads))
            reference = torch_models(torch)[name]
            # Same weights in both frameworks: the state_dicts share keys and shapes.
            reference.load_state_dict({k: torch.from_numpy(np.array(v._array))
                                       for k, v in model.state_dict().items()})
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)
            with torch.no_grad():
                difference = np.abs(reference(tx).numpy() - model(hx)._array).max()
            if difference > 1e-3:
                raise SystemExit(f"{name}: outputs differ from PyTorch by {difference}")
            steps["pytorch"] = functools.partial(torch_step, torch, reference, tx, ty)
        times = compare(steps, args.steps, args.warmup, args.rounds)
        rows.append((name, batch, times["hybridgrad"], times.get("pytorch")))
    print(f"{'model':<6}{'batch':>6}{'clock':>6}{'hybridgrad ms':>15}{'pytorch ms':>12}"
          f"{'ratio':>8}{'goal':>7}")
    for name, batch, ours, theirs in rows:
        for index, clock in enumerate(("wall", "cpu")):
            if theirs is None:
                print(f"{name:<6}{batch:>6}{clock:>6}{ours[index]:>15.2f}{'-':>12}{'-':>8}"
                      f"{GOALS[name]:>6}x")
            else:
                ratio = ours[index] / theirs[index]
                print(f"{name:<6}{batch:>6}{clock:>6}{ours[index]:>15.2f}{theirs[index]:>12.2f}"
                      f"{ratio:>7.2f}x{GOALS[name]:>6}x")
    if torch is not None:
        print(f"(PyTorch {torch.__version__}, {torch.get_num_threads()} threads; best of "
              f"{args.rounds} alternating rounds of {args.steps} steps, each a median; cpu = "
              f"process CPU time, steadier than wall time on a shared machine)")


if __name__ == "__main__":
    main()
