"""Attention maps of a small Vision Transformer trained on MNIST, per head: what the class
token looks at, how spread out each head is, and how different the heads are from each other
(the notes compare heads with the channels of a convolution).

Uses :class:`hybridgrad.models.ViT` (class token, learned positions, no dropout).

Example:
    >>> import numpy as np
    >>> maps = np.array([[[0.5, 0.5], [1.0, 0.0]]])  # 1 image, 2 heads, 2 patches
    >>> head_distance(maps)
    0.5
"""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import numpy as np

import hybridgrad as hg
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

CLAIM_ZH = ("多头注意力机制与卷积的多通道（channel）进行类比。多头注意力机制和卷积的多通道都涉及"
            "并行地学习不同的特征表示。它们都"
            "致力于提取输入数据的多样化特征，并捕捉输入中的不同模式和关联性。……VIT（Vision Trans"
            "former）：一个和Bert几乎"
            "一致，同时不添加任何卷积结构的图像分类模型。")
CLAIM_EN = ("Multi-head attention is analogous to the multiple channels of a convolution: both "
            "learn different feature representations in parallel, extracting diverse features "
            "and capturing different patterns and relations in the input. ViT (Vision "
            "Transformer) is an image classifier almost identical to BERT, without any "
            "convolutional structure.")


def build_vit(patch_size: int, dim: int, depth: int, heads: int, mlp_dim: int):
    """:class:`hybridgrad.models.ViT` with a class token, learned positions and no dropout;
    returns ``(model, source)``.

    Example:
        >>> model, source = build_vit(7, 8, 1, 2, 8)
        >>> source, model(hg.zeros(2, 1, 28, 28)).shape
        ('hybridgrad.models.ViT', (2, 10))
    """
    from hybridgrad.models import ViT

    return (ViT(patch_size=patch_size, dim=dim, depth=depth, heads=heads, mlp_dim=mlp_dim,
                dropout=0.0, positions="learned", pool="cls", activation="relu"),
            "hybridgrad.models.ViT")


def attention_maps(model, images) -> list[np.ndarray]:
    """Per layer, the attention weights ``(batch, heads, tokens, tokens)`` of a pre-norm ViT
    (re-running each layer's attention with ``need_weights=True``).

    Example:
        >>> model, _ = build_vit(patch_size=7, dim=8, depth=2, heads=2, mlp_dim=8)
        >>> [m.shape for m in attention_maps(model, hg.zeros(3, 1, 28, 28))]
        [(3, 2, 17, 17), (3, 2, 17, 17)]
    """
    model.eval()
    maps = []
    with hg.no_grad():
        tokens = model.patch_embedding(images)
        cls = model.class_token.expand(tokens.shape[0], 1, tokens.shape[2])
        x = hg.cat([cls, tokens], 1) + model.position_embedding
        for layer in model.encoder.layers:
            normed = layer.norm1(x) if layer.norm_first else x
            weights = layer.self_attn(normed, normed, normed, need_weights=True,
                                      average_attn_weights=False)[1]
            maps.append(np.array(weights._array))
            x = layer(x)
    return maps


def head_distance(cls_maps: np.ndarray) -> float:
    """Mean total-variation distance between the heads' attention distributions, averaged over
    images and head pairs: 0 when all heads attend alike, 1 when they look at disjoint patches.
    ``cls_maps`` is ``(images, heads, patches)``.
    """
    heads = cls_maps.shape[1]
    distances = [0.5 * np.abs(cls_maps[:, a] - cls_maps[:, b]).sum(-1).mean()
                 for a, b in combinations(range(heads), 2)]
    return float(np.mean(distances))


def normalized_entropy(cls_maps: np.ndarray) -> np.ndarray:
    """Per head, the mean entropy of its attention over patches divided by the uniform one.

    Example:
        >>> normalized_entropy(np.array([[[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]]]))
        array([1., 0.])
    """
    entropy = -(cls_maps * np.log(np.clip(cls_maps, 1e-12, None))).sum(-1)
    return entropy.mean(0) / math.log(cls_maps.shape[-1])


def _class_token_maps(model, images) -> np.ndarray:
    """Last layer, class token's row, patches only, renormalised: (images, heads, patches)."""
    last = attention_maps(model, images)[-1][:, :, 0, 1:]
    return last / last.sum(-1, keepdims=True)


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Train the ViT briefly, then draw and measure the class token's attention per head."""
    out_dir = Path(out_dir)
    patch, dim, depth, heads, mlp_dim = 4, 32, 2, 4, 64
    train_count, test_count, epochs = (256, 128, 1) if quick else (8000, 1000, 4)
    x_train, y_train, x_test, y_test = mnist_arrays(train_count, test_count, seed)
    x_train = ((x_train[:, None] / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    x_test = ((x_test[:, None] / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    hg.manual_seed(seed)
    model, source = build_vit(patch, dim, depth, heads, mlp_dim)
    probe = hg.tensor(x_test[:200])
    initial_maps = _class_token_maps(model, probe)
    optimizer = hg.optim.Adam(model.parameters(), lr=2e-3)
    history = train_classifier(model, optimizer, x_train, y_train, epochs, 64, seed,
                               x_test, y_test, log_every=10)
    accuracy, _ = accuracy_and_loss(model, x_test, y_test, batch_size=250)
    trained_maps = _class_token_maps(model, probe)
    distance_before, distance_after = head_distance(initial_maps), head_distance(trained_maps)
    entropy_after = normalized_entropy(trained_maps)

    # Four digits of different classes, each head's map over the image.
    chosen, seen = [], set()
    for index, label in enumerate(y_test[:200]):
        if int(label) not in seen:
            seen.add(int(label))
            chosen.append(index)
        if len(chosen) == 4:
            break
    side = 28 // patch
    pyplot = plt()
    figure, axes = pyplot.subplots(len(chosen), heads + 1, figsize=(1.8 * (heads + 1),
                                                                    1.8 * len(chosen)))
    for row, index in enumerate(chosen):
        axes[row, 0].imshow(x_test[index, 0], cmap="gray")
        axes[row, 0].set_title(f"digit {int(y_test[index])}", fontsize=8)
        for head in range(heads):
            attention = trained_maps[index, head].reshape(side, side)
            axes[row, head + 1].imshow(x_test[index, 0], cmap="gray")
            axes[row, head + 1].imshow(np.kron(attention, np.ones((patch, patch))), cmap="jet",
                                       alpha=0.55)
            if row == 0:
                axes[row, head + 1].set_title(f"head {head + 1}", fontsize=8)
    for axis in axes.flat:
        axis.axis("off")
    figure.suptitle("class-token attention, last layer", fontsize=9)
    images = [save(figure, out_dir / "attention-maps.png")]
    figure, axes = pyplot.subplots(1, 2, figsize=(10, 3.4))
    axes[0].plot(history["steps"], history["losses"])
    axes[0].set_title(f"training loss ({source.split('.')[-1]}, {train_count} images)")
    axes[0].set_xlabel("step")
    axes[1].bar([f"head {h + 1}" for h in range(heads)], entropy_after)
    axes[1].axhline(1.0, color="gray", linestyle=":")
    axes[1].set_title("attention entropy / uniform (1 = looks everywhere)")
    images.append(save(figure, out_dir / "training-entropy.png"))

    checks = {"a convolution-free Transformer classifies digits well above chance":
              accuracy > 0.5,
              "training makes the heads attend differently": distance_after > distance_before}
    numbers = {"model": source, "test_accuracy": accuracy, "train_images": train_count,
               "epochs": epochs, "head_distance_at_init": distance_before,
               "head_distance_trained": distance_after,
               "normalized_entropy_per_head": [float(v) for v in entropy_after],
               "checks": checks}
    failed, supported = outcome(checks)
    because = (f"the ViT ({source}, {depth} layers, {heads} heads, {patch}x{patch} patches, no "
               f"convolution) reaches test accuracy {fmt(accuracy)} after {epochs} epoch(s) on "
               f"{train_count} images (chance 0.1; 'well above' taken as > 0.5); the mean "
               f"total-variation distance between the heads' class-token attention goes from "
               f"{fmt(distance_before)} at initialisation to {fmt(distance_after)} after "
               f"training, with normalised entropies "
               + ", ".join(fmt(v) for v in entropy_after)
               + " per head (1 = uniform)"
               + (f". Failed checks: {'; '.join(failed)}" if failed else ""))
    details = markdown_table(["head", "normalised entropy"],
                             [[h + 1, float(v)] for h, v in enumerate(entropy_after)])
    return Result(verdict(supported, because), supported, numbers, images, details=details)
