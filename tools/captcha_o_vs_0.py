"""How well can a network tell the captcha package's ``O`` from its ``0``, in isolation?

Most wrong reads of the captcha models are one ``O`` read as ``0`` or the reverse
(docs/captcha.md, "Where the errors are"). This experiment asks whether that is a limit of the
models or of the pictures: it renders one-character captchas of ``O`` or ``0`` with the same
package and settings (noise curve and dots included; 64 pixels high, 80 wide so the single
character is never squeezed), trains a small CNN to tell the two apart on ``--train`` of them
and reports its accuracy on ``--test`` others, at full resolution and at the half resolution the
captcha models use by default.

    python tools/captcha_o_vs_0.py                  # 20,000 + 2,000 glyphs, ~10 min, 1 core
    python tools/captcha_o_vs_0.py --train 2000 --test 500 --epochs 2   # a quick look

Example (a smoke run; the figures need the defaults):
    >>> result = run(train=64, test=32, epochs=1, factors=(2,), log=None)
    >>> sorted(result), 0.0 <= result["2"]["accuracy"] <= 1.0
    (['2'], True)
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import hybridgrad as hg
from hybridgrad import nn
from hybridgrad.data.captcha import CaptchaDataset
from hybridgrad.data.captcha_cache import downsample
from hybridgrad.nn import functional as F

CHARSET = "O0"


def render(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` one-character captchas (uint8, 64 x 80) and their labels (0: ``O``, 1: ``0``)."""
    dataset = CaptchaDataset(size=count, charset=CHARSET, length=1, height=64, width=80,
                             seed=seed)
    images = np.empty((count, 64, 80), np.uint8)
    labels = np.empty(count, np.int64)
    for index in range(count):
        images[index], text = dataset.generate(index)
        labels[index] = CHARSET.index(text)
    return images, labels


def classifier(height: int, width: int) -> nn.Module:
    """3 blocks of conv + batch norm + ReLU + 2x2 max-pool (16-32-64), then a linear layer."""
    layers, previous = [], 1
    for channels in (16, 32, 64):
        layers += [nn.Conv2d(previous, channels, 3, padding=1, bias=False),
                   nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2, 2)]
        previous = channels
    return nn.Sequential(*layers, nn.Flatten(),
                         nn.Linear(previous * (height // 8) * (width // 8), 2))


def _inputs(images: np.ndarray, factor: int) -> hg.Tensor:
    return hg.tensor((downsample(images, factor) / 127.5 - 1.0)[:, None].astype(np.float32))


def run(train: int = 20000, test: int = 2000, epochs: int = 6, batch_size: int = 64,
        factors=(1, 2), seed: int = 0, log=print) -> dict:
    """Train one classifier per downsampling factor; return accuracy and errors per factor."""
    started = time.time()
    train_images, train_labels = render(train, seed)
    test_images, test_labels = render(test, seed + 1_000_000)  # disjoint from the training set
    if log:
        log(f"rendered {train} + {test} glyphs in {time.time() - started:.0f} s")
    result = {}
    for factor in factors:
        hg.manual_seed(seed)
        height, width = 64 // factor, 80 // factor
        model = classifier(height, width)
        steps = max(train // batch_size, 1) * epochs
        optimizer = hg.optim.Adam(model.parameters(), lr=3e-3)
        schedule = hg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3,
                                                    total_steps=max(steps, 2))
        order_rng = np.random.default_rng(seed)
        began = time.time()
        model.train()
        for _ in range(epochs):
            order = order_rng.permutation(train)
            for start in range(0, max(train - batch_size + 1, 1), batch_size):
                chosen = order[start:start + batch_size]
                loss = F.cross_entropy(model(_inputs(train_images[chosen], factor)),
                                       hg.tensor(train_labels[chosen]))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
        model.eval()
        with hg.no_grad():
            predicted = np.concatenate([
                model(_inputs(test_images[i:i + 256], factor))._array.argmax(axis=1)
                for i in range(0, test, 256)])
        wrong = predicted != test_labels
        result[str(factor)] = {
            "input": f"{height}x{width}", "accuracy": float(1 - wrong.mean()),
            "O_read_as_0": int((wrong & (test_labels == 0)).sum()),
            "0_read_as_O": int((wrong & (test_labels == 1)).sum()),
            "test": int(test), "train": int(train), "epochs": int(epochs),
            "seconds": round(time.time() - began, 1)}
        if log:
            log(json.dumps(result[str(factor)]))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.train, args.test, args.epochs, seed=args.seed)


if __name__ == "__main__":
    main()
