"""Neural-network layers, losses and utilities with PyTorch's names.

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.Sequential(hg.nn.Linear(4, 2))(hg.ones(1, 4)).shape
    (1, 2)
"""

from hybridgrad.nn import functional, init, utils
from hybridgrad.nn.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from hybridgrad.nn.attention import MultiheadAttention, PositionalEncoding
from hybridgrad.nn.batchnorm import BatchNorm1d, BatchNorm2d
from hybridgrad.nn.containers import (
    Flatten,
    Identity,
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
    Unflatten,
)
from hybridgrad.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from hybridgrad.nn.ctc import ctc_greedy_decode, ctc_loss, ctc_prefix_beam_search
from hybridgrad.nn.distance import CosineSimilarity, PairwiseDistance
from hybridgrad.nn.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
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
from hybridgrad.nn.losses_more import (
    CosineEmbeddingLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelSoftMarginLoss,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.nn.normalization import (
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LocalResponseNorm,
    RMSNorm,
)
from hybridgrad.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from hybridgrad.nn.resampling import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    PixelShuffle,
    PixelUnshuffle,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
    ZeroPad1d,
    ZeroPad2d,
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
    # PyTorch's other layers (activations, channel dropout, normalization, resampling, padding).
    "CELU", "ConstantPad1d", "ConstantPad2d", "CosineSimilarity", "Dropout1d", "Dropout2d",
    "Dropout3d", "GLU", "GroupNorm", "Hardsigmoid", "Hardswish", "Hardtanh", "InstanceNorm1d",
    "InstanceNorm2d", "LogSigmoid", "Mish", "PReLU", "PairwiseDistance", "PixelShuffle",
    "PixelUnshuffle", "ReLU6", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
    "ReplicationPad2d", "SELU", "Softmin", "Softsign", "Tanhshrink", "Threshold", "Upsample",
    "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad2d",
    "CircularPad1d", "CircularPad2d", "CosineEmbeddingLoss", "GaussianNLLLoss", "Hardshrink",
    "HingeEmbeddingLoss", "LocalResponseNorm", "MarginRankingLoss", "MultiLabelSoftMarginLoss",
    "ParameterDict", "ParameterList", "PoissonNLLLoss", "RMSNorm", "RReLU", "SoftMarginLoss",
    "Softmax2d", "Softshrink", "TripletMarginLoss", "ZeroPad1d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
]


def __getattr__(name: str):
    # nn.parallel needs hybridgrad.distributed, which needs nn.Module: loaded on first use.
    if name in ("parallel", "DataParallel"):
        import importlib

        parallel = importlib.import_module("hybridgrad.nn.parallel")
        return parallel if name == "parallel" else parallel.DataParallel
    raise AttributeError(f"module 'hybridgrad.nn' has no attribute {name!r}")
