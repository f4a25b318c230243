"""Operators: the registry (single source of truth) and the primitives registered in it.

Importing this package registers every primitive.

Example:
    >>> from hybridgrad.ops import REGISTRY
    >>> "matmul" in REGISTRY
    True
"""

from hybridgrad.ops import (  # noqa: F401 - importing registers the primitives
    conv,
    ctc,
    elementwise,  # (also rounding, inverse/hyperbolic trigonometry, remainders, bitwise)
    fused,  # linear, batch_norm_train (speed)
    gpt_fused,  # the GPT's fused exact GELU and softmax (speed)
    movement,
    random_ops,  # dropout_mask, drawn when it runs (compiled graphs included)
    recurrent,  # fused RNN/LSTM/GRU layers (speed)
    reduction,  # (also matmul, cumsum, fft)
)
from hybridgrad.ops.registry import REGISTRY, OpDef, OpError, apply, get_op, register

__all__ = ["REGISTRY", "OpDef", "OpError", "apply", "get_op", "register"]
