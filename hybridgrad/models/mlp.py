"""A multi-layer perceptron classifier for 28x28 images (MNIST).

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.models.mlp import MLP
    >>> MLP(hidden_sizes=(16,))(hg.zeros(2, 1, 28, 28)).shape
    (2, 10)
"""

from __future__ import annotations

from hybridgrad import nn


class MLP(nn.Module):
    """Flatten, then ``Linear -> ReLU -> Dropout`` per hidden size, then a linear classifier.

    Args:
        in_features: pixels per image (784 for MNIST).
        hidden_sizes: widths of the hidden layers.
        num_classes: number of output logits.
        dropout: dropout probability after each hidden activation.

    Example:
        >>> import hybridgrad as hg
        >>> model = MLP(hidden_sizes=(8, 4), dropout=0.0)
        >>> model(hg.zeros(3, 784)).shape
        (3, 10)
    """

    def __init__(self, in_features: int = 784, hidden_sizes=(512, 256), num_classes: int = 10,
                 dropout: float = 0.2):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, images):
        return self.net(images)
