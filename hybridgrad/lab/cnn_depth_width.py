"""Deeper vs wider CNNs on MNIST: accuracy for the same training budget, how class-specific
(abstract) the features of each layer of the deep network are, and the first-layer filters.

Example:
    >>> import numpy as np
    >>> features = np.array([[0.0], [0.1], [1.0], [1.1]]); labels = np.array([0, 0, 1, 1])
    >>> nearest_centroid_accuracy(features, labels, features, labels)
    1.0
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import hybridgrad as hg
from hybridgrad import nn
from hybridgrad.lab import Result
from hybridgrad.lab.common import (
    accuracy_and_loss,
    fmt,
    markdown_table,
    mnist_arrays,
    outcome,
    plt,
    save,
    train_classifier,
    verdict,
)

CLAIM_ZH = ("CNN 的简单理解 * 网络越深，学习的知识越抽象：比如第一层hidden layer负责编码诸如点、"
            "线、边缘等浅层信息；第二层hidden "
            "layer编码简单点的纹理、形状等信息；第三层hidden layer编码诸如眼睛、鼻子等目标的形状"
            "……* 网络越宽，每一层学习的"
            "知识越丰富：增加网络的宽度意味着同一个hidden layer有着更多的神经元，每一个神经元代"
            "表一种颜色，一个方向，一种纹理，"
            "组合起来便可以学习到更多不同的颜色信息，各个不同的方向以及不同频率的条纹信息。")
CLAIM_EN = ("A simple view of CNNs: the deeper the network, the more abstract what it learns: the "
            "first hidden layer encodes points, lines and edges, the second simple textures and "
            "shapes, the third object parts such as eyes and noses... The wider the network, the "
            "richer what each layer learns: more neurons in one hidden layer, each standing for a "
            "colour, an orientation or a texture, together learn more colours, orientations and "
            "stripe frequencies.")


class ConvNet(nn.Module):
    """``depth`` blocks of ``Conv 3x3 (width channels) -> ReLU`` with a 2x2 max pool after the
    first two blocks, then a linear classifier.

    Example:
        >>> ConvNet(depth=3, width=2)(hg.zeros(1, 1, 28, 28)).shape
        (1, 10)
    """

    def __init__(self, depth: int, width: int):
        super().__init__()
        blocks, channels, side = [], 1, 28
        for index in range(depth):
            layers = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
            if index < 2:
                layers.append(nn.MaxPool2d(2))
                side //= 2
            blocks.append(nn.Sequential(*layers))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(width * side * side, 10)

    def features(self, images) -> list:
        """The output of every block."""
        outputs, x = [], images
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs

    def forward(self, images):
        return self.head(self.features(images)[-1].flatten(1))


def nearest_centroid_accuracy(train_features, train_labels, test_features, test_labels) -> float:
    """Accuracy of classifying by the nearest class mean: how linearly class-specific a
    representation is, without training anything.

    Example:
        >>> points = np.array([[0.0], [1.0], [10.0], [11.0]])
        >>> nearest_centroid_accuracy(points, np.array([0, 0, 1, 1]), np.array([[4.0], [7.0]]),
        ...                           np.array([0, 0]))
        0.5
    """
    centroids = np.stack([train_features[train_labels == c].mean(0)
                          for c in np.unique(train_labels)])
    distances = ((test_features[:, None, :] - centroids[None]) ** 2).sum(-1)
    return float((np.unique(train_labels)[distances.argmin(1)] == test_labels).mean())


def _block_features(model: ConvNet, images: np.ndarray) -> list[np.ndarray]:
    model.eval()
    with hg.no_grad():
        outputs = model.features(hg.tensor(images))
    # Global average over positions would discard the layout the first layers encode; a 2x2
    # average pool keeps it while making the layers comparable in size.
    pooled = []
    for output in outputs:
        data = output._array
        batch, channels, height, width = data.shape
        data = data[:, :, :height // 2 * 2, :width // 2 * 2]
        data = data.reshape(batch, channels, height // 2, 2, width // 2, 2).mean((3, 5))
        pooled.append(data.reshape(batch, -1))
    return pooled


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Train the four networks with the same budget; probe and draw."""
    out_dir = Path(out_dir)
    narrow, wide = (2, 6) if quick else (8, 24)
    shallow, deep = 1, 3
    train_count, test_count, epochs = (300, 200, 1) if quick else (6000, 1000, 3)
    x_train, y_train, x_test, y_test = mnist_arrays(train_count, test_count, seed)
    x_train = ((x_train[:, None] / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    x_test = ((x_test[:, None] / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    configs = {"baseline": (shallow, narrow), "wider": (shallow, wide),
               "deeper": (deep, narrow), "deeper + wider": (deep, wide)}
    results, models = {}, {}
    for name, (depth, width) in configs.items():
        hg.manual_seed(seed)
        model = ConvNet(depth, width)
        optimizer = hg.optim.Adam(model.parameters(), lr=2e-3)
        start = time.perf_counter()
        train_classifier(model, optimizer, x_train, y_train, epochs, 64, seed, log_every=10 ** 9)
        seconds = time.perf_counter() - start
        accuracy, loss = accuracy_and_loss(model, x_test, y_test, batch_size=250)
        results[name] = {"depth": depth, "width": width, "test_accuracy": accuracy,
                         "test_loss": loss, "train_seconds": seconds,
                         "parameters": int(sum(p.numel() for p in model.parameters()))}
        models[name] = model

    # How class-specific is each block of the deep network? (fit on train, score on test)
    probe_train = min(len(x_train), 1000)
    deep_model = models["deeper + wider"]
    train_feats = _block_features(deep_model, x_train[:probe_train])
    test_feats = _block_features(deep_model, x_test)
    pixels = nearest_centroid_accuracy(x_train[:probe_train].reshape(probe_train, -1),
                                       y_train[:probe_train], x_test.reshape(len(x_test), -1),
                                       y_test)
    by_layer = [nearest_centroid_accuracy(a, y_train[:probe_train], b, y_test)
                for a, b in zip(train_feats, test_feats)]

    pyplot = plt()
    filters = models["deeper + wider"].blocks[0][0].weight._array[:, 0]
    columns = min(8, len(filters))
    rows = -(-len(filters) // columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.2))
    for index, axis in enumerate(np.atleast_1d(axes).flat):
        axis.axis("off")
        if index < len(filters):
            limit = np.abs(filters[index]).max()
            axis.imshow(filters[index], cmap="RdBu", vmin=-limit, vmax=limit)
    figure.suptitle(f"first-layer 3x3 filters ({len(filters)} channels, deeper + wider net)",
                    fontsize=9)
    images = [save(figure, out_dir / "filters.png")]
    figure, axes = pyplot.subplots(1, 2, figsize=(10, 3.6))
    names = list(results)
    axes[0].bar(names, [results[n]["test_accuracy"] for n in names], color="tab:blue")
    axes[0].set_ylim(min(results[n]["test_accuracy"] for n in names) - 0.05, 1.0)
    axes[0].set_title(f"test accuracy ({epochs} epoch(s), {train_count} images)")
    axes[0].tick_params(axis="x", labelsize=8)
    axes[1].plot(range(0, len(by_layer) + 1), [pixels] + by_layer, marker="o")
    axes[1].set_xticks(range(0, len(by_layer) + 1),
                       ["pixels"] + [f"block {i + 1}" for i in range(len(by_layer))])
    axes[1].set_title("nearest-class-mean accuracy of each layer's features")
    images.append(save(figure, out_dir / "depth-width.png"))

    base = results["baseline"]["test_accuracy"]
    checks = {
        "deeper beats the baseline": results["deeper"]["test_accuracy"] > base,
        "wider beats the baseline": results["wider"]["test_accuracy"] > base,
        "deeper layers are more class-specific": by_layer[-1] > by_layer[0],
    }
    numbers = {"networks": results, "nearest_centroid_accuracy": {
        "pixels": pixels, **{f"block {i + 1}": v for i, v in enumerate(by_layer)}},
        "checks": checks}
    failed, supported = outcome(checks)
    because = (f"after {epochs} epoch(s) on {train_count} images, test accuracy: baseline "
               f"({shallow} conv, {narrow} channels) {fmt(base)}, wider ({wide} channels) "
               f"{fmt(results['wider']['test_accuracy'])}, deeper ({deep} convs) "
               f"{fmt(results['deeper']['test_accuracy'])}, deeper + wider "
               f"{fmt(results['deeper + wider']['test_accuracy'])}; nearest-class-mean accuracy "
               f"of the deep network's features goes from {fmt(pixels)} (pixels) through "
               + ", ".join(f"{fmt(v)}" for v in by_layer) + " (blocks 1.."
               f"{len(by_layer)}): the last block is "
               f"{'more' if checks['deeper layers are more class-specific'] else 'not more'} "
               f"class-specific than the first. 'Points and lines' in "
               f"the first layer is shown, not measured (filters.png)"
               + (f". Failed checks: {'; '.join(failed)}" if failed else ""))
    rows_table = [[n, v["depth"], v["width"], v["parameters"], v["train_seconds"],
                   v["test_accuracy"]] for n, v in results.items()]
    details = markdown_table(["network", "conv layers", "channels", "parameters",
                              "train s", "test accuracy"], rows_table)
    return Result(verdict(supported, because), supported, numbers, images, details=details)
