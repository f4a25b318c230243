"""Neural-network layers, losses and utilities with PyTorch's names.

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.Sequential(hg.nn.Linear(4, 2))(hg.ones(1, 4)).shape
    (1, 2)
"""

from hybridgrad.nn import utils
from hybridgrad.nn.containers import (
           Flatten,
           Identity,
           ModuleDict,
           ModuleList,
           Sequential,
           Unflatten,
)
from hybridgrad.nn.ctc import ctc_greedy_decode, ctc_loss, ctc_prefix_beam_search
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

__all__ = ["Flatten", "Identity", "Linear", "Module", "ModuleDict", "ModuleList", "Parameter",
           "Sequential", "Unflatten"]
__all__ += ["BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CrossEntropyLoss", "HuberLoss",
            "KLDivLoss", "L1Loss", "MSELoss", "NLLLoss", "SmoothL1Loss", "ctc_greedy_decode",
            "ctc_loss", "ctc_prefix_beam_search", "utils"]


# Sequence models and attention (issue 3).
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
from hybridgrad.nn.dropout import Dropout
from hybridgrad.nn.layernorm import LayerNorm
from hybridgrad.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from hybridgrad.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ += ["Dropout", "ELU", "GELU", "GRU", "GRUCell", "LSTM", "LSTMCell", "LayerNorm",
            "LeakyReLU", "LogSoftmax", "MultiheadAttention", "PositionalEncoding", "RNN",
            "RNNBase", "RNNCell", "RNNCellBase", "ReLU", "SiLU", "Sigmoid", "Softmax", "Softplus",
            "Tanh", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
            "TransformerEncoder", "TransformerEncoderLayer"]
