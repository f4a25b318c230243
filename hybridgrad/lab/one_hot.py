"""One-hot vs label encoding: the distances between categories, and what a linear model can fit
with each.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> result = run(Path(tempfile.mkdtemp()), quick=True)
    >>> result.numbers["one_hot_distances"][0]
    [0.0, 1.4142135623730951, 1.4142135623730951]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import hybridgrad as hg
from hybridgrad.data import one_hot
from hybridgrad.lab import Result
from hybridgrad.lab.common import fmt, markdown_table, plt, save, verdict

CLAIM_ZH = ("One-hot 编码是一种将离散的分类标签转换为二进制向量的方法，它的优点是可以消除不同类"
            "别之间的偏序关系，"
            "使得特征之间的距离计算更加合理。……不使用one-hot编码，其表示分别是x_1 = (1), x_2 = ("
            "2), "
            "x_3 = (3)。两个工作之间的距离是，d(x_1, x_2) = 1, d(x_2, x_3) = 1, d(x_1, x_3) = 2。……"
            "如果使用one-hot编码，则得到x_1 = (1, 0, 0), x_2 = (0, 1, 0), x_3 = (0, 0, 1)，"
            "那么两个工作之间的距离就都是sqrt(2)。")
CLAIM_EN = ("One-hot encoding turns discrete class labels into binary vectors; it removes the "
            "spurious order between categories, so distances between features become more "
            "reasonable. Label-encoded job types x_1 = (1), x_2 = (2), x_3 = (3) have distances "
            "d(x_1, x_2) = 1, d(x_2, x_3) = 1, d(x_1, x_3) = 2; one-hot encoded, "
            "(1, 0, 0), (0, 1, 0), (0, 0, 1), every pair is sqrt(2) apart.")


def pairwise_distances(points) -> np.ndarray:
    """Euclidean distances between the rows of ``points``, computed with hybridgrad ops.

    Example:
        >>> pairwise_distances(hg.tensor([[0.0, 0.0], [3.0, 4.0]])).tolist()
        [[0.0, 5.0], [5.0, 0.0]]
    """
    points = hg.tensor(np.asarray(points._array if isinstance(points, hg.Tensor) else points,
                                  dtype=np.float64))
    difference = points.unsqueeze(1) - points.unsqueeze(0)
    return hg.sqrt((difference * difference).sum(-1))._array


def _linear_fit_mse(features: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error of the least-squares affine fit ``targets ~ features @ w + b``."""
    design = np.concatenate([features, np.ones((len(features), 1))], 1)
    weights = np.linalg.lstsq(design, targets, rcond=None)[0]
    return float(np.mean((design @ weights - targets) ** 2))


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Measure the distances and the linear-fit errors; plot both distance matrices."""
    out_dir = Path(out_dir)
    categories = 3 if quick else 5
    labels = hg.arange(categories)
    label_encoded = (labels + 1).reshape(categories, 1)  # the notes' x_i = (i)
    one_hot_encoded = one_hot(labels, categories)
    label_distances = pairwise_distances(label_encoded)
    one_hot_distances = pairwise_distances(one_hot_encoded)
    off_diagonal = ~np.eye(categories, dtype=bool)
    one_hot_off = one_hot_distances[off_diagonal]
    label_off = label_distances[off_diagonal]
    max_deviation = float(np.abs(one_hot_off - math.sqrt(2)).max())

    # A target with no order in the categories (jobs 1 and 3 pay alike, job 2 differs): an
    # affine model of the label code must draw a line through it, one weight per one-hot
    # column fits every category's mean.
    rng = np.random.default_rng(seed)
    samples = 60 if quick else 600
    category = rng.integers(0, categories, samples)
    means = np.array([3.0, 1.0, 3.0, 0.0, 2.0])[:categories]
    targets = means[category] + rng.normal(0.0, 0.1, samples)
    label_mse = _linear_fit_mse((category + 1.0)[:, None], targets)
    one_hot_mse = _linear_fit_mse(np.eye(categories)[category][:, :-1], targets)

    pyplot = plt()
    figure, axes = pyplot.subplots(1, 2, figsize=(8, 3.6))
    for axis, matrix, title in ((axes[0], label_distances, "label encoding (1, 2, 3, ...)"),
                                (axes[1], one_hot_distances, "one-hot encoding")):
        image = axis.imshow(matrix, cmap="viridis", vmin=0)
        for (row, col), value in np.ndenumerate(matrix):
            axis.text(col, row, f"{value:.3g}", ha="center", va="center", color="white")
        axis.set_title(title)
        axis.set_xticks(range(categories), [f"x{i + 1}" for i in range(categories)])
        axis.set_yticks(range(categories), [f"x{i + 1}" for i in range(categories)])
        figure.colorbar(image, ax=axis, fraction=0.046)
    images = [save(figure, out_dir / "distances.png")]

    numbers = {
        "categories": categories,
        "label_distances": label_distances.tolist(),
        "one_hot_distances": one_hot_distances.tolist(),
        "one_hot_pair_distance_min": float(one_hot_off.min()),
        "one_hot_pair_distance_max": float(one_hot_off.max()),
        "one_hot_max_deviation_from_sqrt2": max_deviation,
        "label_pair_distance_min": float(label_off.min()),
        "label_pair_distance_max": float(label_off.max()),
        "linear_fit_mse_label_encoded": label_mse,
        "linear_fit_mse_one_hot": one_hot_mse,
    }
    equal = max_deviation < 1e-9
    ordered = float(label_off.max()) > float(label_off.min())
    supported = equal and ordered and one_hot_mse < label_mse
    because = (f"all {categories * (categories - 1) // 2} one-hot pairs are "
               f"{fmt(one_hot_off.min())}..{fmt(one_hot_off.max())} apart (sqrt(2) = "
               f"{fmt(math.sqrt(2))}, largest deviation {fmt(max_deviation)}), while label-encoded "
               f"pairs range from {fmt(label_off.min())} to {fmt(label_off.max())}; on a target "
               f"with no order in the categories an affine model fits with MSE "
               f"{fmt(one_hot_mse)} on one-hot inputs vs {fmt(label_mse)} on the label code")
    rows = [[f"x{i + 1}"] + [round(value, 4) for value in label_distances[i]]
            + [round(value, 4) for value in one_hot_distances[i]] for i in range(categories)]
    header = ([""] + [f"label d(·,x{j + 1})" for j in range(categories)]
              + [f"one-hot d(·,x{j + 1})" for j in range(categories)])
    return Result(verdict(supported, because), supported, numbers, images,
                  details=markdown_table(header, rows))
