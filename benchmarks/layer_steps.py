"""CPU time of pieces of the notes' models: BatchNorm2d forward+backward and a full training step
of ``hybridgrad.models.cnn.CNN`` (conv + BatchNorm + ReLU + max-pool stages, cross-entropy,
Adam), batch 64. PyTorch's BatchNorm2d is timed too when installed (comparison only).

Process CPU time (all threads), median of ``--repeats``; run with OPENBLAS_NUM_THREADS=1 on a
shared machine.

Run: OPENBLAS_NUM_THREADS=1 python benchmarks/layer_steps.py [--repeats 20] [--no-torch]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import hybridgrad as hg  # noqa: E402
import hybridgrad.nn.functional as F  # noqa: E402
from hybridgrad.models.cnn import CNN  # noqa: E402


def cpu_ms(function, repeats: int) -> float:
    for _ in range(2):
        function()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    shape = (64, 32, 26, 26)
    x_np = rng.standard_normal(shape, dtype=np.float32)
    g_np = rng.standard_normal(shape, dtype=np.float32)
    layer = hg.nn.BatchNorm2d(32)
    x, g = hg.tensor(x_np, requires_grad=True), hg.tensor(g_np)

    def batch_norm_step():
        x.grad = None
        layer.zero_grad()
        layer(x).backward(g)

    print(f"BatchNorm2d {shape} forward+backward: {cpu_ms(batch_norm_step, args.repeats):.2f} "
          f"ms (hybridgrad)")
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(1)
            reference = torch.nn.BatchNorm2d(32)
            tx = torch.from_numpy(x_np).requires_grad_()
            tg = torch.from_numpy(g_np)

            def torch_step():
                tx.grad = None
                reference.zero_grad()
                reference(tx).backward(tg)

            print(f"BatchNorm2d {shape} forward+backward: {cpu_ms(torch_step, args.repeats):.2f} "
                  f"ms (PyTorch {torch.__version__}, 1 thread)")
    hg.manual_seed(0)
    model = CNN()
    optimizer = hg.optim.Adam(model.parameters(), lr=1e-3)
    images = hg.tensor(rng.random((64, 1, 28, 28), dtype=np.float32))
    labels = hg.tensor(rng.integers(0, 10, 64))

    def train_step():
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()

    print(f"models.cnn.CNN training step (batch 64, Adam): {cpu_ms(train_step, args.repeats):.2f} "
          f"ms (hybridgrad)")


if __name__ == "__main__":
    main()
