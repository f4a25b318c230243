"""Pictures of a training run: image grids (PNG, Pillow) and loss/metric curves (PNG,
matplotlib) drawn from ``metrics.jsonl``.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
    >>> save_image_grid(np.zeros((6, 1, 28, 28)), path, rows=2).size
    (92, 62)
"""

from __future__ import annotations

import json
import os

import numpy as np


def image_grid(images, rows: int, padding: int = 2) -> np.ndarray:
    """Tile ``[n, channels, height, width]`` images in [0, 1] into one uint8 ``[H, W]`` (or
    ``[H, W, 3]``) picture of ``rows`` rows, row-major.

    Example:
        >>> import numpy as np
        >>> image_grid(np.ones((4, 1, 2, 2)), rows=2, padding=1).shape
        (7, 7)
    """
    images = np.asarray(getattr(images, "_array", images), dtype=np.float64)
    count, channels, height, width = images.shape
    columns = -(-count // rows)
    grid = np.zeros((channels, rows * (height + padding) + padding,
                     columns * (width + padding) + padding))
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[:, top:top + height, left:left + width] = images[index]
    pixels = (np.clip(grid, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return pixels[0] if channels == 1 else pixels.transpose(1, 2, 0)


def save_image_grid(images, path: str, rows: int, padding: int = 2):
    """Write :func:`image_grid` to ``path`` (PNG, written atomically); returns the PIL image.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> save_image_grid(np.ones((1, 1, 4, 4)), os.path.join(tempfile.mkdtemp(), "a.png"),
        ...                 rows=1).mode
        'L'
    """
    from PIL import Image

    picture = Image.fromarray(image_grid(images, rows, padding))
    _atomic(path, lambda temporary: picture.save(temporary, format="PNG"))
    return picture


def _atomic(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read_metrics(path: str) -> list[dict]:
    """The records of a ``metrics.jsonl`` file (one JSON object a line).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
        >>> _ = open(path, "w").write('{"kind": "epoch", "epoch": 1}\\n')
        >>> read_metrics(path)
        [{'kind': 'epoch', 'epoch': 1}]
    """
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                record = None  # a line torn by a killed process: skip it
            if isinstance(record, dict):
                records.append(record)
    return records


def plot_curves(metrics_path: str, path: str, title: str = "") -> list[str]:
    """Plot every logged quantity of ``metrics.jsonl``: training losses per logged step (left),
    per-epoch evaluation metrics (right). Returns the names plotted.

    Example:
        >>> import json, os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "metrics.jsonl"), "w") as handle:
        ...     for step in (1, 2):
        ...         print(json.dumps({"kind": "step", "step": step, "loss": 1.0 / step}),
        ...               file=handle)
        ...     print(json.dumps({"kind": "epoch", "epoch": 1, "step": 2,
        ...                       "test_accuracy": 0.9}), file=handle)
        >>> plot_curves(os.path.join(folder, "metrics.jsonl"), os.path.join(folder, "c.png"))
        ['loss', 'test_accuracy']
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    steps = [record for record in records if record.get("kind") == "step"]
    epochs = [record for record in records if record.get("kind") == "epoch"]
    skip = {"kind", "step", "epoch", "seconds", "images_per_second", "tokens_per_second", "lr"}

    def names(rows):
        found: list[str] = []
        for row in rows:
            for key, value in row.items():
                per_digit = key.rsplit("_", 1)[-1].isdigit()  # label_accuracy_7: too many lines
                if (key not in skip and key not in found and not per_digit
                        and isinstance(value, (int, float))):
                    found.append(key)
        return found

    step_names, epoch_names = names(steps), names(epochs)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name in step_names:
        points = [(row["step"], row[name]) for row in steps if name in row]
        left.plot(*zip(*points), label=name, linewidth=1, marker="." if len(points) < 20 else None)
    left.set_xlabel("step")
    left.set_title("training losses")
    for name in epoch_names:
        points = [(row["epoch"], row[name]) for row in epochs if name in row]
        right.plot(*zip(*points), marker="o", label=name)
    right.set_xlabel("epoch")
    right.set_title("per-epoch metrics")
    for axes, plotted in ((left, step_names), (right, epoch_names)):
        if plotted:
            axes.legend()
        axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    _atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    plt.close(figure)
    return step_names + epoch_names
