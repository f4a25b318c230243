"""A small convolutional classifier for 28x28 images (MNIST), also the project's judge of
generated digits (``hybridgrad eval cgan`` scores samples with it).

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.models.cnn import CNN
    >>> CNN(channels=(4, 8), hidden=16)(hg.zeros(2, 1, 28, 28)).shape
    (2, 10)
"""

from __future__ import annotations

from hybridgrad import nn


class CNN(nn.Module):
    """Two ``Conv(3x3) -> BatchNorm -> ReLU -> MaxPool`` stages (28 -> 14 -> 7), then
    ``Linear -> ReLU -> Dropout -> Linear``: about 1.2 million multiply-adds per image with the
    default channels, small enough for a NumPy epoch on two cores in under two minutes.

    Args:
        in_channels: image channels (1 for MNIST).
        channels: output channels of the two stages.
        hidden: width of the fully connected hidden layer.
        num_classes: number of output logits.
        dropout: dropout probability before the last layer.
        image_size: side of the square input image (divisible by 4).

    Example:
        >>> import hybridgrad as hg
        >>> model = CNN(channels=(2, 4), hidden=8, dropout=0.0)
        >>> model(hg.zeros(1, 1, 28, 28)).shape
        (1, 10)
    """

    def __init__(self, in_channels: int = 1, channels=(16, 32), hidden: int = 128,
                 num_classes: int = 10, dropout: float = 0.3, image_size: int = 28):
        super().__init__()
        first, second = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, first, 3, padding=1, bias=False), nn.BatchNorm2d(first),
            nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(first, second, 3, padding=1, bias=False), nn.BatchNorm2d(second),
            nn.ReLU(), nn.MaxPool2d(2),
        )
        side = image_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(second * side * side, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, num_classes),
        )

    def forward(self, images):
        return self.classifier(self.features(images))
