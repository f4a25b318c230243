"""Data pipeline and checkpoint throughput, with references measured in the same run.

    HYBRIDGRAD_DATA=/path/to/data python benchmarks/data_pipeline.py [--quick]

Rows:
* MNIST epoch through DataLoader(batch 64, shuffle, ToTensor) with 0 and 2 worker threads,
  against the whole-array reference (one vectorised NumPy pass over ``MNIST._array``);
* ``hg.save`` / ``hg.load`` of a state_dict against ``safetensors.numpy.save_file`` /
  ``load_file`` on the same arrays (the price of atomicity and validation);
* captcha images per second.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import safetensors.numpy
from timing import best_of

import hybridgrad as hg
from hybridgrad.data import MNIST, CaptchaDataset, DataLoader, Subset
from hybridgrad.data.transforms import ToTensor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k MNIST items, smaller model")
    args = parser.parse_args()
    rows = []

    if os.environ.get("HYBRIDGRAD_DATA"):
        mnist = MNIST(train=True, transform=ToTensor(), download=False)
        dataset = Subset(mnist, range(10000)) if args.quick else mnist
        n = len(dataset)
        images = mnist.data._array[:n]

        def reference():
            order = np.random.default_rng(0).permutation(n)
            batch = images[order].astype(np.float32) / 255
            for start in range(0, n, 64):
                batch[start:start + 64]

        base = best_of(reference, 3, warmup=False)
        rows.append((f"MNIST {n} items: NumPy whole-array reference", base, 1.0))
        for workers in (0, 2):
            loader = DataLoader(dataset, batch_size=64, shuffle=True, generator=0,
                                num_workers=workers)
            seconds = best_of(lambda loader=loader: [None for _ in loader], 1, warmup=False)
            rows.append((f"MNIST {n} items: DataLoader num_workers={workers}", seconds,
                         seconds / base))
    else:
        print("(HYBRIDGRAD_DATA not set: MNIST rows skipped)")

    width = 1024 if args.quick else 2048
    state = hg.nn.Sequential(hg.nn.Linear(width, width), hg.nn.Linear(width, width)).state_dict()
    arrays = {key: value._array for key, value in state.items()}
    megabytes = sum(a.nbytes for a in arrays.values()) / 2 ** 20
    with tempfile.TemporaryDirectory() as folder:
        ours, theirs = os.path.join(folder, "a.safetensors"), os.path.join(folder, "b.safetensors")
        reference_save = best_of(lambda: safetensors.numpy.save_file(arrays, theirs), 3,
                                 warmup=False)
        save = best_of(lambda: hg.save(state, ours), 3, warmup=False)
        reference_load = best_of(lambda: safetensors.numpy.load_file(theirs), 3,
                                 warmup=False)
        load = best_of(lambda: hg.load(ours), 3, warmup=False)
    rows.append((f"save {megabytes:.0f} MB: safetensors.numpy.save_file", reference_save, 1.0))
    rows.append((f"save {megabytes:.0f} MB: hg.save (atomic, fsync)", save,
                 save / reference_save))
    rows.append((f"load {megabytes:.0f} MB: safetensors.numpy.load_file", reference_load, 1.0))
    rows.append((f"load {megabytes:.0f} MB: hg.load (validated)", load, load / reference_load))

    count = 20 if args.quick else 100
    captchas = CaptchaDataset(size=count, seed=0)
    seconds = best_of(lambda: [captchas[i] for i in range(count)], 1, warmup=False)
    rows.append((f"captcha: {count} images ({count / seconds:.0f} images/s)", seconds, 1.0))

    print(f"{'case':58s} {'seconds':>9s} {'ratio':>7s}")
    for name, seconds, ratio in rows:
        print(f"{name:58s} {seconds:9.3f} {ratio:7.2f}")


if __name__ == "__main__":
    main()
