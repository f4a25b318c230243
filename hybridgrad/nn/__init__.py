"""Neural-network layers, losses and utilities with PyTorch's names.

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.Sequential(hg.nn.Linear(4, 2))(hg.ones(1, 4)).shape
    (1, 2)
"""

from hybridgrad.nn import functional, init, utils
from hybridgrad.nn.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from hybridgrad.nn.attention import MultiheadAttention, PositionalEncoding
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
from hybridgrad.nn.ctc import ctc_greedy_decode, ctc_loss, ctc_prefix_beam_search
from hybridgrad.nn.dropout import Dropout
from hybridgrad.nn.layernorm import LayerNorm
from hybridgrad.nn.linear import Linear
from hybridgrad.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    CTCLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from hybridgrad.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from hybridgrad.nn.sparse import Embedding
from hybridgrad.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BCELoss",
    "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "CTCLoss", "Conv1d", "Conv2d",
    "ConvTranspose1d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "ELU", "Embedding",
    "Flatten", "GELU", "GRU", "GRUCell", "HuberLoss", "Identity", "KLDivLoss", "L1Loss", "LSTM",
    "LSTMCell", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool1d",
    "MaxPool2d", "Module", "ModuleDict", "ModuleList", "MultiheadAttention", "NLLLoss",
    "Parameter", "PositionalEncoding", "RNN", "RNNBase", "RNNCell", "RNNCellBase", "ReLU",
    "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "Tanh", "Transformer",
    "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer", "Unflatten", "ctc_greedy_decode", "ctc_loss",
    "ctc_prefix_beam_search", "functional", "init", "utils",
]


def __getattr__(name: str):
    # nn.parallel needs hybridgrad.distributed, which needs nn.Module: loaded on first use.
    if name in ("parallel", "DataParallel"):
        import importlib

        parallel = importlib.import_module("hybridgrad.nn.parallel")
        return parallel if name == "parallel" else parallel.DataParallel
    raise AttributeError(f"module 'hybridgrad.nn' has no attribute {name!r}")
