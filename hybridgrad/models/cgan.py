"""The conditional GAN of the notes ("CGAN MNIST 训练步骤"): a generator that turns
``concat(noise, one_hot(label))`` into a ``[batch, 1, 28, 28]`` image in [-1, 1] and a
discriminator with 10 sigmoid outputs, one per digit.

The notes' training step (see :class:`hybridgrad.training.tasks.CGANTask`):

1. G fixed: ``d_real_loss = BCE(D(real), one_hot(labels))``,
   ``d_fake_loss = BCE(D(G(z).detach()), zeros)``; D steps on their sum.
2. D fixed: ``g_loss = BCE(D(G(z)), one_hot(labels))``; G steps.

:class:`ConditionalDiscriminator` is the classic alternative (Mirza & Osindero 2014): the label
is an input and there is one real/fake output.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.models.cgan import Generator, Discriminator, make_latent
    >>> generator = Generator(noise_dim=8, width=8)
    >>> z = make_latent(hg.tensor([3, 7]), noise_dim=8)
    >>> images = generator(z)
    >>> images.shape, Discriminator(width=4)(images).shape
    ((2, 1, 28, 28), (2, 10))
"""

from __future__ import annotations

import numpy as np

import hybridgrad as hg
from hybridgrad import nn


def one_hot_labels(labels, num_classes: int = 10):
    """``[batch]`` integer labels as float32 one-hot rows ``[batch, num_classes]``.

    Example:
        >>> import hybridgrad as hg
        >>> one_hot_labels(hg.tensor([2]), 4).tolist()
        [[0.0, 0.0, 1.0, 0.0]]
    """
    indices = np.asarray(labels._array if isinstance(labels, hg.Tensor) else labels, dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f"one_hot_labels: labels must lie in [0, {num_classes}), got "
                         f"{indices.min()}..{indices.max()}")
    return hg.tensor(np.eye(num_classes, dtype=np.float32)[indices])


def make_latent(labels, noise_dim: int = 100, num_classes: int = 10, generator=None):
    """The notes' ``z_tensor``: ``concat(noise ~ N(0, 1) [batch, noise_dim], one_hot(labels))``.

    Example:
        >>> import hybridgrad as hg
        >>> make_latent(hg.tensor([0, 1, 2]), noise_dim=5).shape
        (3, 15)
    """
    count = len(labels)
    noise = hg.randn(count, noise_dim, generator=generator)
    return hg.cat([noise, one_hot_labels(labels, num_classes)], 1)


class Generator(nn.Module):
    """``z -> Linear -> [2w, 7, 7] -> ConvTranspose (14x14, w) -> ConvTranspose (28x28, 1) ->
    tanh`` with BatchNorm and ReLU between (a DCGAN generator).

    Example:
        >>> import hybridgrad as hg
        >>> Generator(noise_dim=4, width=4)(hg.zeros(2, 14)).shape
        (2, 1, 28, 28)
    """

    def __init__(self, noise_dim: int = 100, num_classes: int = 10, width: int = 32,
                 out_channels: int = 1):
        super().__init__()
        self.noise_dim, self.num_classes, self.width = noise_dim, num_classes, width
        self.project = nn.Sequential(
            nn.Linear(noise_dim + num_classes, 2 * width * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU(),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, out_channels, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z):
        features = self.project(z).reshape(z.shape[0], 2 * self.width, 7, 7)
        return self.upsample(features)


class _ImageFeatures(nn.Module):
    """``[batch, c, 28, 28] -> Conv(4, stride 2) -> LeakyReLU -> Conv(4, stride 2) -> BatchNorm
    -> LeakyReLU -> flatten``: ``[batch, 2w * 7 * 7]`` (a DCGAN discriminator body)."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2), nn.Flatten(),
        )

    def forward(self, images):
        return self.net(images)


class Discriminator(nn.Module):
    """The notes' discriminator: an image in, ``num_classes`` sigmoid units out; unit ``k`` says
    "a real image of digit k".

    Example:
        >>> import hybridgrad as hg
        >>> out = Discriminator(width=2)(hg.zeros(3, 1, 28, 28))
        >>> out.shape, bool(((out > 0) & (out < 1)).all())
        ((3, 10), True)
    """

    def __init__(self, num_classes: int = 10, width: int = 32, in_channels: int = 1):
        super().__init__()
        self.features = _ImageFeatures(in_channels, width)
        self.head = nn.Linear(2 * width * 7 * 7, num_classes)

    def forward(self, images, labels=None):
        return hg.sigmoid(self.head(self.features(images)))


class ConditionalDiscriminator(nn.Module):
    """The classic CGAN discriminator: the image and its one-hot label in, one sigmoid unit out
    (the label is concatenated to the image features).

    Example:
        >>> import hybridgrad as hg
        >>> ConditionalDiscriminator(width=2)(hg.zeros(3, 1, 28, 28), hg.tensor([1, 2, 3])).shape
        (3, 1)
    """

    def __init__(self, num_classes: int = 10, width: int = 32, in_channels: int = 1):
        super().__init__()
        self.num_classes = num_classes
        self.features = _ImageFeatures(in_channels, width)
        self.head = nn.Sequential(
            nn.Linear(2 * width * 7 * 7 + num_classes, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
        )

    def forward(self, images, labels):
        features = hg.cat([self.features(images), one_hot_labels(labels, self.num_classes)], 1)
        return hg.sigmoid(self.head(features))


class CGAN(nn.Module):
    """Generator and discriminator in one module (one ``state_dict`` with ``generator.*`` and
    ``discriminator.*`` keys). ``discriminator="notes"`` is the notes' 10-sigmoid
    discriminator, ``"classic"`` the label-conditioned one-output discriminator.

    Example:
        >>> import hybridgrad as hg
        >>> gan = CGAN(noise_dim=4, width=2)
        >>> gan.eval().generate(hg.tensor([7, 7])).shape
        (2, 1, 28, 28)
    """

    def __init__(self, noise_dim: int = 100, num_classes: int = 10, width: int = 32,
                 discriminator: str = "notes"):
        super().__init__()
        if discriminator not in ("notes", "classic"):
            raise ValueError(f"CGAN: discriminator must be 'notes' (10 sigmoid outputs) or "
                             f"'classic' (label input, one output), not {discriminator!r}")
        self.noise_dim, self.num_classes = noise_dim, num_classes
        self.discriminator_kind = discriminator
        self.generator = Generator(noise_dim, num_classes, width)
        kind = Discriminator if discriminator == "notes" else ConditionalDiscriminator
        self.discriminator = kind(num_classes, width)

    def forward(self, z):
        return self.generator(z)

    def generate(self, labels, generator=None):
        """Images in [-1, 1] of the requested digits (fresh noise from the seeded generator)."""
        return self.generator(make_latent(labels, self.noise_dim, self.num_classes, generator))
