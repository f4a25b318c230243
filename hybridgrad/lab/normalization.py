"""Input normalisation and saturation: sigmoid and tanh MLPs trained on MNIST with raw [0, 255]
pixels, [0, 1], [-1, 1], standardised pixels, and raw pixels with BatchNorm after the first
layer. Measured: loss curves, the share of saturated hidden units, accuracy after a fixed budget.

Example:
    >>> saturated_share(hg.tensor([[0.001, 0.5, 0.999]]), "sigmoid")
    0.6666666666666666
"""

from __future__ import annotations

import copy
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

CLAIM_ZH = ("归一化：一种常见的图像预处理操作，它用于将图像的像素值归一化为均值为0、标准差为1的"
            "分布，或者只将数据收窄到 -1 ~ 1 "
            "之间。* 加速训练：常用的激活函数如 Sigmoid 和 Tanh 在输入值较大或较小的区域会饱和，"
            "导致梯度接近或完全为零，从而使"
            "梯度下降变得非常缓慢或停滞。通过将像素值缩放到 -1 到 1 的范围，可以使输入值位于激活"
            "函数的线性区域，避免梯度饱和问题，"
            "提高网络的训练效果。* 模型稳定性……* 推广：Batch Normalization (BN) 层作用类似，但是"
            "应用在训练阶段，"
            "对每个小批量数据进行标准化")
CLAIM_EN = ("Normalisation maps pixel values to mean 0 and standard deviation 1, or just squeezes "
            "them into -1..1. It speeds up training: sigmoid and tanh saturate for large or small "
            "inputs, where the gradient is (nearly) zero and gradient descent crawls or stalls; "
            "scaled to -1..1, inputs stay in the activations' linear region, avoiding saturated "
            "gradients. It also helps stability. Batch Normalization layers act similarly, but "
            "during training, standardising each mini-batch.")

VARIANTS = ("raw [0,255]", "[0,1]", "[-1,1]", "standardised", "raw + BatchNorm")


def saturated_share(activations, activation: str) -> float:
    """Share of unit activations in the flat part of the curve: sigmoid outside
    [0.02, 0.98], tanh outside [-0.96, 0.96] (derivative below about 8% of its peak).

    Example:
        >>> saturated_share(hg.tensor([[0.0, 0.99]]), "tanh")
        0.5
    """
    values = np.asarray(activations._array if isinstance(activations, hg.Tensor) else activations)
    if activation == "sigmoid":
        return float(((values < 0.02) | (values > 0.98)).mean())
    return float((np.abs(values) > 0.96).mean())


def prepare(images: np.ndarray, variant: str) -> np.ndarray:
    """Flattened float32 pixels under one of :data:`VARIANTS`.

    Example:
        >>> prepare(np.array([[0, 255]], np.uint8), "[-1,1]").tolist()
        [[-1.0, 1.0]]
    """
    pixels = images.reshape(len(images), -1).astype(np.float32)
    if variant in ("raw [0,255]", "raw + BatchNorm"):
        return pixels
    if variant == "[0,1]":
        return pixels / 255.0
    if variant == "[-1,1]":
        return pixels / 127.5 - 1.0
    if variant == "standardised":
        return ((pixels / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    raise ValueError(f"normalization: unknown variant {variant!r}")


def build(variant: str, activation: str, hidden: int) -> nn.Sequential:
    """``784 -> hidden -> act -> hidden -> act -> 10``; BatchNorm1d before each activation for
    the ``raw + BatchNorm`` variant.

    Example:
        >>> build("[0,1]", "tanh", 8)(hg.zeros(2, 784)).shape
        (2, 10)
    """
    act = nn.Sigmoid if activation == "sigmoid" else nn.Tanh
    norm = variant == "raw + BatchNorm"
    layers = [nn.Linear(784, hidden)] + ([nn.BatchNorm1d(hidden)] if norm else []) + [act()]
    layers += [nn.Linear(hidden, hidden)] + ([nn.BatchNorm1d(hidden)] if norm else []) + [act()]
    return nn.Sequential(*layers, nn.Linear(hidden, 10))


def hidden_saturation(model: nn.Sequential, inputs: np.ndarray, activation: str,
                      batch_statistics: bool = False) -> float:
    """Saturated share of the first hidden layer's activations: evaluation mode, or with
    ``batch_statistics`` a copy in training mode, so BatchNorm normalises with the statistics
    of ``inputs`` as it does during training (the model's running statistics are untouched).

    Example:
        >>> model = build("raw + BatchNorm", "tanh", 4)
        >>> hidden_saturation(model, np.full((8, 784), 255, np.float32), "tanh", True)
        0.0
    """
    if batch_statistics:
        model = copy.deepcopy(model).train()
    was_training = model.training
    if not batch_statistics:
        model.eval()
    first_act = next(i for i, layer in enumerate(model) if isinstance(layer, (nn.Sigmoid,
                                                                                nn.Tanh)))
    with hg.no_grad():
        hidden = hg.tensor(inputs)
        for layer in list(model)[:first_act + 1]:
            hidden = layer(hidden)
    model.train(was_training)
    return saturated_share(hidden, activation)


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Train every (activation, variant) pair with the same budget and compare."""
    out_dir = Path(out_dir)
    train_count, test_count, epochs = (320, 200, 1) if quick else (6000, 2000, 3)
    hidden, batch_size, lr = 64, 32, 0.1
    x_train, y_train, x_test, y_test = mnist_arrays(train_count, test_count, seed)
    runs = {}
    for activation in ("sigmoid", "tanh"):
        for variant in VARIANTS:
            hg.manual_seed(seed)
            model = build(variant, activation, hidden)
            train_in, test_in = prepare(x_train, variant), prepare(x_test, variant)
            before = hidden_saturation(model, test_in, activation, batch_statistics=True)
            optimizer = hg.optim.SGD(model.parameters(), lr=lr)
            history = train_classifier(model, optimizer, train_in, y_train, epochs, batch_size,
                                       seed, log_every=5)
            accuracy, test_loss = accuracy_and_loss(model, test_in, y_test)
            losses = np.array(history["losses"])
            runs[(activation, variant)] = {
                "saturation_at_init": before,
                "saturation_after": hidden_saturation(model, test_in, activation),
                "test_accuracy": accuracy, "test_loss": test_loss,
                "mean_train_loss_first_epoch": float(np.nanmean(
                    losses[:max(1, len(losses) // epochs)])),
                "curve": (history["steps"], history["losses"]),
            }

    pyplot = plt()
    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4), sharey=True)
    for axis, activation in zip(axes, ("sigmoid", "tanh")):
        for variant in VARIANTS:
            steps, losses = runs[(activation, variant)]["curve"]
            axis.plot(steps, losses, label=variant, linewidth=1)
        axis.set_title(f"{activation} MLP: training loss (SGD lr {lr}, batch {batch_size})")
        axis.set_xlabel("step")
        axis.set_yscale("log")
    axes[0].set_ylabel("cross-entropy")
    axes[0].legend(fontsize=8)
    images = [save(figure, out_dir / "loss-curves.png")]

    figure, axes = pyplot.subplots(1, 2, figsize=(12, 3.8))
    positions = np.arange(len(VARIANTS))
    for offset, activation in ((-0.2, "sigmoid"), (0.2, "tanh")):
        axes[0].bar(positions + offset, [runs[(activation, v)]["saturation_at_init"]
                                         for v in VARIANTS], 0.4, label=activation)
        axes[1].bar(positions + offset, [runs[(activation, v)]["test_accuracy"]
                                         for v in VARIANTS], 0.4, label=activation)
    for axis, title in ((axes[0], "share of saturated first-layer units (at init)"),
                        (axes[1], f"test accuracy after {epochs} epoch(s)")):
        axis.set_xticks(positions, VARIANTS, fontsize=8)
        axis.set_title(title)
        axis.legend(fontsize=8)
    images.append(save(figure, out_dir / "saturation-accuracy.png"))

    numbers = {f"{activation} / {variant}": {k: v for k, v in values.items() if k != "curve"}
               for (activation, variant), values in runs.items()}
    numbers["budget"] = {"train": train_count, "test": test_count, "epochs": epochs,
                         "batch_size": batch_size, "lr": lr, "hidden": hidden}
    checks, reasons = {}, []
    for activation in ("sigmoid", "tanh"):
        raw, scaled = runs[(activation, "raw [0,255]")], runs[(activation, "[-1,1]")]
        standard, batchnorm = runs[(activation, "standardised")], runs[(activation,
                                                                         "raw + BatchNorm")]
        checks[f"{activation}: raw saturates more than [-1,1]"] = (
            raw["saturation_at_init"] > scaled["saturation_at_init"])
        checks[f"{activation}: [-1,1] and standardised beat raw"] = (
            min(scaled["test_accuracy"], standard["test_accuracy"]) > raw["test_accuracy"])
        checks[f"{activation}: BatchNorm rescues raw pixels"] = (
            batchnorm["test_accuracy"] > raw["test_accuracy"])
        reasons.append(
            f"{activation}: saturated units at init {fmt(raw['saturation_at_init'])} raw vs "
            f"{fmt(scaled['saturation_at_init'])} in [-1,1]; test accuracy raw "
            f"{fmt(raw['test_accuracy'])}, [0,1] "
            f"{fmt(runs[(activation, '[0,1]')]['test_accuracy'])}, [-1,1] "
            f"{fmt(scaled['test_accuracy'])}, standardised {fmt(standard['test_accuracy'])}, "
            f"raw + BatchNorm {fmt(batchnorm['test_accuracy'])}")
    numbers["checks"] = checks
    failed, supported = outcome(checks)
    because = (f"after {epochs} epoch(s) on {train_count} images: " + "; ".join(reasons)
               + (f". Failed checks: {'; '.join(failed)}" if failed else ""))
    rows = [[activation, variant, values["saturation_at_init"], values["saturation_after"],
             values["mean_train_loss_first_epoch"], values["test_loss"], values["test_accuracy"]]
            for (activation, variant), values in runs.items()]
    details = markdown_table(["activation", "input", "saturated at init", "saturated after",
                              "mean train loss, epoch 1", "test loss", "test accuracy"], rows)
    return Result(verdict(supported, because), supported, numbers, images, details=details)
