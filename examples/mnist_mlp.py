"""Train the MLP 784-512-256-10 on MNIST for a few epochs with the eager API.

Run: ``HYBRIDGRAD_DATA=/path/to/data python examples/mnist_mlp.py --epochs 2``
(the folder holds ``mnist/`` with the four IDX files; downloaded to the cache when missing).
"""

from __future__ import annotations

import argparse
import time

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad import nn
from hybridgrad.data import MNIST, DataLoader, TensorDataset


def load(train: bool, root: str | None) -> TensorDataset:
    dataset = MNIST(root=root, train=train)
    images = hg.tensor(dataset.data.reshape(len(dataset), -1) / 255.0, dtype=hg.float32)
    # The standard MNIST normalisation (mean 0.1307, std 0.3081).
    return TensorDataset((images - 0.1307) / 0.3081, hg.tensor(dataset.targets, dtype=hg.int64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    hg.manual_seed(args.seed)
    train, test = load(True, args.data_dir), load(False, args.data_dir)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    optimizer = hg.optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    # One-cycle schedule: warm up, then anneal to ~0 so the last steps settle into a minimum.
    scheduler = hg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr,
                                                 total_steps=args.epochs * len(loader))
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        for images, labels in loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        with hg.no_grad():
            images, labels = test.tensors
            accuracy = (model(images).argmax(dim=1) == labels).float().mean().item()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}, test accuracy "
              f"{accuracy:.4f}, elapsed {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
