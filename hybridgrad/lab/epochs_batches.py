"""Epochs and batches: batch size against time per epoch, gradient noise, memory per step and
accuracy; train and test loss over many epochs on a small training subset (under- then
over-fitting).

Example:
    >>> import numpy as np
    >>> round(loglog_slope([1, 10, 100], [1.0, 0.1, 0.01]), 6)
    -1.0
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad import nn
from hybridgrad.lab import Result
from hybridgrad.lab.common import (
    fmt,
    markdown_table,
    mnist_arrays,
    outcome,
    plt,
    save,
    train_classifier,
    verdict,
)

CLAIM_ZH = ("一次 Epoch = 让所有数据通过模型正向+反向传播一次 = 一个完整的学习周期。Epoch 设置多"
            "少次合适？无定论：次数少会导致"
            "欠拟合；次数多会导致过拟合；Batch Size = 一次训练的样本数……Batch 的作用？* 效率：利"
            "用矩阵计算加速（相对于单个去训练）"
            " * 稳定性：平均每个数据样本的贡献，减少梯度的方差 * 多大合适：看情况，太小会导致训"
            "练太久；太大会导致内存受不了")
CLAIM_EN = ("One epoch = every example passes forward and backward through the model once. How "
            "many epochs? No fixed answer: too few under-fit, too many over-fit. Batch size = "
            "the number of examples per update. Batches give efficiency (matrix computation is "
            "faster than one example at a time) and stability (averaging the examples' "
            "contributions lowers the variance of the gradient). How large? It depends: too "
            "small makes training take too long; too large exhausts memory.")


def loglog_slope(xs, ys) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (-1 means ``y ~ 1/x``).

    Example:
        >>> loglog_slope([1, 2, 4], [8.0, 4.0, 2.0])
        -1.0
    """
    return float(np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)[0])


def _flat_gradient(model, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    model.zero_grad()
    F.cross_entropy(model(hg.tensor(inputs)), hg.tensor(labels)).backward()
    return np.concatenate([p.grad._array.ravel() for p in model.parameters()])


def gradient_noise(model, inputs: np.ndarray, labels: np.ndarray, batch_size: int,
                   repeats: int, rng: np.random.Generator) -> float:
    """Mean squared distance between mini-batch gradients and the gradient over all of
    ``inputs``: the variance that averaging over a batch is meant to reduce.

    Example:
        >>> hg.manual_seed(0)
        >>> model = nn.Linear(3, 2)
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
        >>> y = np.arange(64) % 2
        >>> small = gradient_noise(model, x, y, 2, 20, np.random.default_rng(0))
        >>> large = gradient_noise(model, x, y, 32, 20, np.random.default_rng(0))
        >>> small > large
        True
    """
    full = _flat_gradient(model, inputs, labels)
    distances = []
    for _ in range(repeats):
        index = rng.choice(len(labels), batch_size, replace=False)
        distances.append(float(((_flat_gradient(model, inputs[index], labels[index]) - full)
                                ** 2).sum()))
    model.zero_grad()
    return float(np.mean(distances))


def step_peak_bytes(model, inputs: np.ndarray, labels: np.ndarray) -> int:
    """Peak memory (tracemalloc, NumPy buffers included) of one forward+backward step.

    Example:
        >>> step_peak_bytes(nn.Linear(4, 2), np.zeros((8, 4), np.float32), np.zeros(8, int)) > 0
        True
    """
    model.zero_grad()
    tracemalloc.start()
    try:
        F.cross_entropy(model(hg.tensor(inputs)), hg.tensor(labels)).backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    model.zero_grad()
    return int(peak)


def _mlp(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def _pixels(images: np.ndarray) -> np.ndarray:
    return ((images.reshape(len(images), -1) / 255.0 - 0.1307) / 0.3081).astype(np.float32)


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Batch-size sweep, then the long run on a small subset."""
    out_dir = Path(out_dir)
    if quick:
        batch_sizes, train_count, epochs, repeats = (8, 128), 512, 1, 4
        small_count, long_epochs, test_count = 64, 8, 300
    else:
        # Measured step costs: 0.7 ms at batch 4, 15 ms at batch 1024 (784-64-10): about
        # 40 s of CPU for the sweep, 20 s for the long run.
        batch_sizes, train_count, epochs, repeats = (4, 16, 64, 256, 1024), 10000, 3, 16
        small_count, long_epochs, test_count = 500, 50, 2000
    x_train, y_train, x_test, y_test = mnist_arrays(train_count, test_count, seed)
    x_train, x_test = _pixels(x_train), _pixels(x_test)

    sweep = {}
    noise_rng = np.random.default_rng(seed + 1)
    for batch_size in batch_sizes:
        hg.manual_seed(seed)
        model = _mlp(64)
        noise = gradient_noise(model, x_train, y_train, batch_size, repeats, noise_rng)
        peak = step_peak_bytes(model, x_train[:batch_size], y_train[:batch_size])
        optimizer = hg.optim.SGD(model.parameters(), lr=0.05)
        history = train_classifier(model, optimizer, x_train, y_train, epochs, batch_size, seed,
                                   x_test, y_test, log_every=10 ** 9)
        sweep[batch_size] = {"seconds_per_epoch": float(np.mean(history["epoch_seconds"])),
                             "gradient_noise": noise, "step_peak_bytes": peak,
                             "updates_per_epoch": -(-train_count // batch_size),
                             "test_accuracy": history["test_accuracy"][-1]}

    # Many epochs on few examples: under-fitting first, over-fitting later.
    hg.manual_seed(seed)
    model = _mlp(256)
    optimizer = hg.optim.Adam(model.parameters(), lr=2e-3)
    start = time.perf_counter()
    long = train_classifier(model, optimizer, x_train[:small_count], y_train[:small_count],
                            long_epochs, 32, seed, x_test, y_test, log_every=10 ** 9)
    long_seconds = time.perf_counter() - start
    test_loss, train_loss = np.array(long["test_loss"]), np.array(long["train_loss"])
    best = int(test_loss.argmin())

    pyplot = plt()
    sizes = list(batch_sizes)
    figure, axes = pyplot.subplots(1, 4, figsize=(15, 3.5))
    panels = (("seconds_per_epoch", "seconds per epoch"), ("gradient_noise",
              "E|g_batch - g|^2"), ("step_peak_bytes", "peak bytes per step"),
              ("test_accuracy", f"test accuracy after {epochs} epoch(s)"))
    for axis, (key, title) in zip(axes, panels):
        axis.plot(sizes, [sweep[b][key] for b in sizes], marker="o")
        axis.set_xscale("log", base=2)
        if key != "test_accuracy":
            axis.set_yscale("log")
        axis.set_xlabel("batch size")
        axis.set_title(title, fontsize=10)
    images = [save(figure, out_dir / "batch-size.png")]
    figure, axis = pyplot.subplots(figsize=(6, 4))
    epochs_axis = np.arange(1, long_epochs + 1)
    axis.plot(epochs_axis, train_loss, label=f"train ({small_count} images)")
    axis.plot(epochs_axis, test_loss, label=f"test ({test_count} images)")
    axis.axvline(best + 1, color="gray", linestyle=":", label=f"best test loss, epoch {best + 1}")
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("cross-entropy")
    axis.set_title("too few epochs under-fit, too many over-fit")
    axis.legend(fontsize=8)
    images.append(save(figure, out_dir / "epochs.png"))

    smallest, largest = sizes[0], sizes[-1]
    slope = loglog_slope(sizes, [sweep[b]["gradient_noise"] for b in sizes])
    checks = {
        "larger batches take less time per epoch": (
            sweep[largest]["seconds_per_epoch"] < sweep[smallest]["seconds_per_epoch"]),
        "larger batches have less gradient variance": (
            sweep[largest]["gradient_noise"] < sweep[smallest]["gradient_noise"]),
        "larger batches need more memory per step": (
            sweep[largest]["step_peak_bytes"] > sweep[smallest]["step_peak_bytes"]),
        "few epochs under-fit": test_loss[0] > test_loss[best] and best > 0,
        "many epochs over-fit": (test_loss[-1] > test_loss[best]
                                 and train_loss[-1] < train_loss[best]),
    }
    numbers = {"batch_sweep": {str(b): v for b, v in sweep.items()},
               "gradient_noise_loglog_slope": slope,
               "long_run": {"train_images": small_count, "epochs": long_epochs,
                            "train_loss": train_loss.tolist(), "test_loss": test_loss.tolist(),
                            "best_epoch": best + 1, "seconds": long_seconds},
               "checks": checks}
    failed, supported = outcome(checks)
    because = (
        f"batch {smallest} vs {largest}: {fmt(sweep[smallest]['seconds_per_epoch'])} vs "
        f"{fmt(sweep[largest]['seconds_per_epoch'])} s per epoch of {train_count} images; "
        f"gradient variance {fmt(sweep[smallest]['gradient_noise'])} vs "
        f"{fmt(sweep[largest]['gradient_noise'])} (log-log slope {fmt(slope)}, 1/B would be -1); "
        f"peak memory per step {fmt(sweep[smallest]['step_peak_bytes'])} vs "
        f"{fmt(sweep[largest]['step_peak_bytes'])} bytes; test accuracy after {epochs} epoch(s) "
        f"{fmt(sweep[smallest]['test_accuracy'])} vs {fmt(sweep[largest]['test_accuracy'])} "
        f"(same learning rate, so fewer updates for large batches). On {small_count} training "
        f"images the test loss falls from {fmt(test_loss[0])} (epoch 1) to its minimum "
        f"{fmt(test_loss[best])} at epoch {best + 1}, then ends at {fmt(test_loss[-1])} "
        f"(epoch {long_epochs}) while the training loss goes from {fmt(train_loss[best])} to "
        f"{fmt(train_loss[-1])}"
        + (f". Failed checks: {'; '.join(failed)}" if failed else ""))
    rows = [[b, v["updates_per_epoch"], v["seconds_per_epoch"], v["gradient_noise"],
             v["step_peak_bytes"], v["test_accuracy"]] for b, v in sweep.items()]
    details = markdown_table(["batch size", "updates per epoch", "s per epoch",
                              "gradient variance", "peak bytes per step", "test accuracy"], rows)
    return Result(verdict(supported, because), supported, numbers, images, details=details)
