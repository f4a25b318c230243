"""Shared helpers of the lab experiments: seeded MNIST subsets, a small training loop, plots
(matplotlib with the Agg backend) and number formatting for verdicts.

Example:
    >>> fmt(0.123456), fmt(12345.6), fmt(3)
    ('0.1235', '1.235e+04', '3')
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

import hybridgrad as hg
import hybridgrad.nn.functional as F


def fmt(value) -> str:
    """A number as it appears in verdicts: 4 significant digits (ints unchanged).

    Example:
        >>> fmt(1.0), fmt(float("nan")), fmt(2.5e-7)
        ('1', 'nan', '2.5e-07')
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def pyfloat(value) -> float:
    """A NumPy or tensor scalar as a Python float (JSON-ready).

    Example:
        >>> pyfloat(np.float32(0.5))
        0.5
    """
    if isinstance(value, hg.Tensor):
        value = value.item()
    return float(value)


def plt():
    """``matplotlib.pyplot`` with the non-interactive Agg backend.

    Example:
        >>> plt().get_backend().lower()
        'agg'
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as pyplot

    return pyplot


def save(figure, path: Path) -> Path:
    """Write ``figure`` as PNG and close it.

    Example:
        >>> import tempfile
        >>> figure = plt().figure()
        >>> save(figure, Path(tempfile.mkdtemp()) / "x.png").suffix
        '.png'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt().close(figure)
    return path


def mnist_arrays(train_count: int, test_count: int, seed: int = 0):
    """Seeded random subsets of MNIST as NumPy arrays: ``(x_train uint8 (N, 28, 28), y_train,
    x_test, y_test)``. The data are found as :class:`hybridgrad.data.MNIST` finds them
    (``root``, ``$HYBRIDGRAD_DATA/mnist`` or the cache); nothing is downloaded.

    Example:
        >>> import os
        >>> if os.environ.get("HYBRIDGRAD_DATA"):
        ...     x, y, xt, yt = mnist_arrays(10, 5)
        ...     print(x.shape, xt.shape, x.dtype)
        ... else:
        ...     print((10, 28, 28), (5, 28, 28), "uint8")
        (10, 28, 28) (5, 28, 28) uint8
    """
    from hybridgrad.data import MNIST

    rng = np.random.default_rng(seed)
    arrays = []
    for train, count in ((True, train_count), (False, test_count)):
        dataset = MNIST(train=train, download=False)
        images, labels = dataset.data._array, dataset.targets._array
        index = rng.permutation(len(labels))[:count]
        arrays += [images[index], labels[index].astype(np.int64)]
    return tuple(arrays)


def batches(count: int, batch_size: int, rng: np.random.Generator, shuffle: bool = True):
    """Index arrays of the mini-batches of one epoch.

    Example:
        >>> [len(b) for b in batches(5, 2, np.random.default_rng(0))]
        [2, 2, 1]
    """
    order = rng.permutation(count) if shuffle else np.arange(count)
    return [order[start:start + batch_size] for start in range(0, count, batch_size)]


def accuracy_and_loss(model, inputs: np.ndarray, labels: np.ndarray, batch_size: int = 1000):
    """Evaluation-mode accuracy and mean cross-entropy of a classifier on arrays.

    Example:
        >>> model = hg.nn.Linear(2, 2)
        >>> accuracy, loss = accuracy_and_loss(model, np.zeros((4, 2), np.float32),
        ...                                    np.array([0, 1, 0, 1]))
        >>> 0.0 <= accuracy <= 1.0 and loss > 0
        True
    """
    was_training = model.training
    model.eval()
    correct, total_loss = 0, 0.0
    with hg.no_grad():
        for start in range(0, len(labels), batch_size):
            logits = model(hg.tensor(inputs[start:start + batch_size]))
            target = hg.tensor(labels[start:start + batch_size])
            total_loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += int((logits._array.argmax(1) == labels[start:start + batch_size]).sum())
    model.train(was_training)
    return correct / len(labels), total_loss / len(labels)


def train_classifier(model, optimizer, x_train, y_train, epochs: int, batch_size: int,
                     seed: int = 0, x_test=None, y_test=None, log_every: int = 10,
                     loss_fn=None):
    """Mini-batch training of a classifier on arrays; returns a history dictionary:
    ``steps`` and ``losses`` (training loss every ``log_every`` steps), per-epoch
    ``train_loss``/``test_loss``/``test_accuracy`` when test arrays are given, ``epoch_seconds``.

    Example:
        >>> hg.manual_seed(0)
        >>> model = hg.nn.Linear(2, 2)
        >>> x = np.array([[1, 0], [0, 1]] * 8, np.float32); y = np.array([0, 1] * 8)
        >>> history = train_classifier(model, hg.optim.SGD(model.parameters(), lr=0.5), x, y,
        ...                            epochs=20, batch_size=4)
        >>> history["losses"][-1] < history["losses"][0]
        True
    """
    loss_fn = loss_fn or F.cross_entropy
    rng = np.random.default_rng(seed)
    history = {"steps": [], "losses": [], "train_loss": [], "test_loss": [],
               "test_accuracy": [], "train_accuracy": [], "epoch_seconds": []}
    step = 0
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        for index in batches(len(y_train), batch_size, rng):
            loss = loss_fn(model(hg.tensor(x_train[index])), hg.tensor(y_train[index]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % log_every == 0:
                history["steps"].append(step)
                history["losses"].append(pyfloat(loss))
            step += 1
        history["epoch_seconds"].append(time.perf_counter() - start)
        if x_test is not None:
            train_accuracy, train_loss = accuracy_and_loss(model, x_train, y_train)
            test_accuracy, test_loss = accuracy_and_loss(model, x_test, y_test)
            history["train_loss"].append(train_loss)
            history["train_accuracy"].append(train_accuracy)
            history["test_loss"].append(test_loss)
            history["test_accuracy"].append(test_accuracy)
    return history


def outcome(checks: dict) -> tuple[list[str], bool | None]:
    """``(failed check names, supported)`` from named pass/fail checks: supported when all
    pass, not supported when all fail, partly (None) otherwise.

    Example:
        >>> outcome({"faster": True, "smaller": False})
        (['smaller'], None)
    """
    failed = [name for name, ok in checks.items() if not ok]
    return failed, True if not failed else (False if len(failed) == len(checks) else None)


def verdict(supported: bool | None, because: str) -> str:
    """The verdict line: ``"supported in this run: ..."``, ``"not supported: ..."`` or
    ``"partly supported: ..."`` (``supported`` None).

    Example:
        >>> verdict(False, "3 > 2")
        'not supported: 3 > 2'
    """
    prefix = {True: "supported in this run", False: "not supported",
              None: "partly supported"}[supported]
    return f"{prefix}: {because}"


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table, numbers through :func:`fmt`.

    Example:
        >>> print(markdown_table(["a", "b"], [[1, 0.5]]))
        | a | b |
        |---|---|
        | 1 | 0.5 |
    """
    def cell(value):
        return fmt(value) if isinstance(value, (int, float, np.number)) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)
