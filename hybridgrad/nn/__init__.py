"""Neural-network layers, losses and utilities with PyTorch's names.

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.Sequential(hg.nn.Linear(4, 2))(hg.ones(1, 4)).shape
    (1, 2)
"""

from hybridgrad.nn import functional, init
from hybridgrad.nn.batchnorm import BatchNorm1d, BatchNorm2d
from hybridgrad.nn.containers import (
           Flatten,
           Identity,
           ModuleDict,
           ModuleList,
           Sequential,
           Unflatten,
)
from hybridgrad.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from hybridgrad.nn.linear import Linear
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.nn.pooling import (
           AdaptiveAvgPool1d,
           AdaptiveAvgPool2d,
           AvgPool1d,
           AvgPool2d,
           MaxPool1d,
           MaxPool2d,
)
from hybridgrad.nn.sparse import Embedding

__all__ = ["Flatten", "Identity", "Linear", "Module", "ModuleDict", "ModuleList", "Parameter",
           "Sequential", "Unflatten"]
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BatchNorm1d",
            "BatchNorm2d", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Embedding",
            "MaxPool1d", "MaxPool2d", "functional", "init"]
