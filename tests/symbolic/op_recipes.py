"""Inputs for every registered operator, used by the graph-vs-eager parity tests.

Each entry maps an operator name to ``recipe(rng) -> (inputs, attrs, grad_inputs)``: ``inputs``
is the list of positional inputs (NumPy arrays become graph Variables; Python scalars stay
scalars), ``attrs`` the keyword attributes for ``registry.apply``, and ``grad_inputs`` the input
positions to differentiate (float64 arrays; empty for operators without gradients).

A NEW OPERATOR NEEDS AN ENTRY HERE: the parity test fails for registered operators missing from
this table. Add ``"name": lambda rng: ([array_a, array_b], {"attr": value}, (0, 1))``.
"""

from __future__ import annotations

import numpy as np


def _f(rng, *shape):
    return rng.standard_normal(shape)


def _pos(rng, *shape):
    return rng.uniform(0.5, 2.0, shape)


def _unary(make=_f, grad=(0,)):
    return lambda rng: ([make(rng, 3, 4)], {}, grad)


def _binary(grad=(0, 1), right=_f):
    return lambda rng: ([_f(rng, 3, 4), right(rng, 4)], {}, grad)


def _unit(rng, *shape):
    return rng.uniform(-0.9, 0.9, shape)


def _above_one(rng, *shape):
    return rng.uniform(1.1, 3.0, shape)


def _compare():
    return lambda rng: ([_f(rng, 3, 4).round(), _f(rng, 4).round()], {}, ())


RECIPES = {
    "neg": _unary(), "exp": _unary(), "log": _unary(_pos), "sqrt": _unary(_pos),
    "abs": _unary(), "sign": _unary(grad=()), "sin": _unary(), "cos": _unary(), "tanh": _unary(),
    "sigmoid": _unary(), "relu": _unary(), "softplus": _unary(), "erf": _unary(),
    # Random: p=0 keeps every element (a draw still happens), so eager and graph agree.
    "dropout_mask": lambda rng: ([_f(rng, 3, 4)], {"p": 0.0}, ()),
    "cast": lambda rng: ([_f(rng, 3, 4)], {"dtype": np.dtype("float32")}, ()),
    "add": _binary(), "sub": _binary(), "mul": _binary(), "div": _binary(right=_pos),
    "pow": lambda rng: ([_pos(rng, 3, 4), _f(rng, 4)], {}, (0, 1)),
    "maximum": _binary(), "minimum": _binary(), "logaddexp": _binary(),
    "eq": _compare(), "ne": _compare(), "lt": _compare(), "le": _compare(), "gt": _compare(),
    "ge": _compare(),
    "logical_and": lambda rng: ([_f(rng, 3, 4) > 0, _f(rng, 4) > 0], {}, ()),
    "logical_or": lambda rng: ([_f(rng, 3, 4) > 0, _f(rng, 4) > 0], {}, ()),
    "logical_not": lambda rng: ([_f(rng, 3, 4) > 0], {}, ()),
    "isnan": lambda rng: ([np.array([1.0, np.nan, np.inf])], {}, ()),
    "isfinite": lambda rng: ([np.array([1.0, np.nan, np.inf])], {}, ()),
    "where": lambda rng: ([_f(rng, 3, 4) > 0, _f(rng, 3, 4), _f(rng, 4)], {}, (1, 2)),
    "clamp": lambda rng: ([_f(rng, 3, 4)], {"low": -0.5, "high": 0.5}, (0,)),
    "sum": lambda rng: ([_f(rng, 3, 4, 2)], {"axis": (0, 2), "keepdims": False}, (0,)),
    "amax": lambda rng: ([_f(rng, 3, 4)], {"axis": (1,), "keepdims": True}, (0,)),
    "prod": lambda rng: ([_pos(rng, 3, 4)], {"axis": (0,), "keepdims": False}, (0,)),
    "argmax": lambda rng: ([_f(rng, 3, 4)], {"axis": 1, "keepdims": False}, ()),
    "argmin": lambda rng: ([_f(rng, 3, 4)], {"axis": 0, "keepdims": True}, ()),
    "matmul": lambda rng: ([_f(rng, 2, 3, 4), _f(rng, 4, 5)], {}, (0, 1)),
    "linear": lambda rng: ([_f(rng, 2, 3, 4), _f(rng, 5, 4)], {}, (0, 1)),
    "batch_norm_train": lambda rng: ([_f(rng, 4, 3, 2), _f(rng, 3), _f(rng, 3)], {"eps": 1e-5},
                                     (0, 1, 2)),
    # The GPT's fused primitives (hybridgrad/ops/gpt_fused.py).
    "gelu": _unary(),
    "softmax_last": lambda rng: ([_f(rng, 2, 3, 4)], {}, (0,)),
    "layer_norm_last": lambda rng: ([_f(rng, 4, 3, 5), _pos(rng, 5), _f(rng, 5)], {"eps": 1e-5},
                                    (0, 1, 2)),
    "reshape": lambda rng: ([_f(rng, 3, 4)], {"shape": (2, 6)}, (0,)),
    "permute": lambda rng: ([_f(rng, 2, 3, 4)], {"dims": (2, 0, 1)}, (0,)),
    "broadcast_to": lambda rng: ([_f(rng, 3, 1)], {"shape": (2, 3, 4)}, (0,)),
    "cat": lambda rng: ([[_f(rng, 2, 3), _f(rng, 4, 3)]], {"axis": 0}, (0,)),
    "pad": lambda rng: ([_f(rng, 2, 3)], {"widths": ((1, 0), (2, 1)), "value": 0.5}, (0,)),
    "getitem": lambda rng: ([_f(rng, 4, 5)], {"index": (slice(None, None, 2),
                                                        np.array([0, 2, 2]))}, (0,)),
    "index_add_zeros": lambda rng: ([_f(rng, 3)], {"shape": (5,),
                                                   "index": (np.array([0, 2, 2]),)}, (0,)),
    "gather": lambda rng: ([_f(rng, 3, 4), rng.integers(0, 4, (3, 2))], {"axis": 1}, (0,)),
    "scatter_add": lambda rng: ([_f(rng, 3, 4), rng.integers(0, 4, (3, 2)), _f(rng, 3, 2)],
                                {"axis": 1}, (0, 2)),
    # Rounding, trigonometry, remainders, bitwise (hybridgrad/ops/elementwise.py); cumsum and
    # fft (hybridgrad/ops/reduction.py). An entry for an operator not registered is not used.
    "floor": _unary(), "ceil": _unary(), "round": _unary(), "trunc": _unary(), "tan": _unary(_unit),
    "asin": _unary(_unit), "acos": _unary(_unit), "atan": _unary(), "sinh": _unary(),
    "cosh": _unary(), "asinh": _unary(), "acosh": _unary(_above_one), "atanh": _unary(_unit),
    "remainder": _binary(right=_pos), "fmod": _binary(right=_pos),
    "trunc_div": lambda rng: ([rng.integers(-9, 9, (3, 4)), rng.integers(1, 5, (4,))], {}, ()),
    "bitwise_and": lambda rng: ([rng.integers(0, 16, (3, 4)), rng.integers(0, 16, (4,))], {},
                                ()),
    "bitwise_or": lambda rng: ([rng.integers(0, 16, (3, 4)), rng.integers(0, 16, (4,))], {},
                               ()),
    "bitwise_xor": lambda rng: ([rng.integers(0, 16, (3, 4)), rng.integers(0, 16, (4,))], {},
                                ()),
    "left_shift": lambda rng: ([rng.integers(0, 16, (3, 4)), rng.integers(0, 3, (4,))], {}, ()),
    "right_shift": lambda rng: ([rng.integers(0, 16, (3, 4)), rng.integers(0, 3, (4,))], {},
                                ()),
    "logical_xor": lambda rng: ([_f(rng, 3, 4) > 0, _f(rng, 4) > 0], {}, ()),
    "bitwise_not": lambda rng: ([rng.integers(0, 16, (3, 4))], {}, ()),
    "isinf": lambda rng: ([np.array([1.0, -np.inf, np.inf])], {}, ()),
    "cumsum": lambda rng: ([_f(rng, 3, 4)], {"axis": 1, "exclusive": True, "reverse": True},
                           (0,)),
    "fft": lambda rng: ([_f(rng, 2, 5, 2)], {"length": 6, "inverse": False, "onesided": True},
                        (0,)),
    "ctc_nll": lambda rng: (_ctc_inputs(rng), {"blank": 0, "zero_infinity": False}, (0,)),
    "ctc_nll_backward": lambda rng: _ctc_backward_inputs(rng),
    # hybridgrad/ops/recurrent.py
    "recurrent_layer": lambda rng: (_recurrent_inputs(rng), _RECURRENT,
                                    (0, 1, 2, 3, 4, 5, 6)),
    "recurrent_layer_backward": lambda rng: _recurrent_backward_inputs(rng),
    # hybridgrad/ops/conv.py (from the nn layers branch)
    "conv2d": lambda rng: ([_f(rng, 2, 3, 6, 6), _f(rng, 4, 3, 3, 3)], _CONV, (0, 1)),
    "conv_transpose2d": lambda rng: ([_f(rng, 2, 4, 6, 3), _f(rng, 4, 3, 3, 3)],
                                     dict(_CONV, input_size=(6, 6)), (0, 1)),
    "conv2d_weight": lambda rng: ([_f(rng, 2, 3, 6, 6), _f(rng, 2, 4, 6, 3)],
                                  dict(_CONV, kernel_size=(3, 3)), (0, 1)),
    "max_pool2d": lambda rng: ([_f(rng, 2, 3, 6, 6)], _POOL, (0,)),
    "max_pool2d_taps": lambda rng: (_pool_pair(rng), _POOL, ()),
    "max_pool2d_indices": lambda rng: (_pool_pair(rng), _POOL, ()),
    "max_pool2d_scatter": lambda rng: ([_f(rng, 2, 3, 3, 3), _taps(rng)],
                                       dict(_POOL, input_shape=(2, 3, 6, 6)), (0,)),
    "max_pool2d_gather": lambda rng: ([_f(rng, 2, 3, 6, 6), _taps(rng)], _POOL, (0,)),
}

_CONV = {"stride": (1, 2), "padding": (1, 1), "dilation": (1, 1), "groups": 1}
_POOL = {"kernel_size": (2, 2), "stride": (2, 2), "padding": (0, 0), "dilation": (1, 1),
         "ceil_mode": False}


def _pool_pair(rng):
    from hybridgrad.ops import REGISTRY

    x = _f(rng, 2, 3, 6, 6)
    return [x, REGISTRY["max_pool2d"].forward(np, x, **_POOL)]


def _taps(rng):
    from hybridgrad.ops import REGISTRY

    return REGISTRY["max_pool2d_taps"].forward(np, *_pool_pair(rng), **_POOL)


def _ctc_inputs(rng):
    """CTC log-probabilities (T=6, N=2, C=4), targets, input and target lengths."""
    logits = rng.standard_normal((6, 2, 4))
    log_probs = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    targets = rng.integers(1, 4, (2, 3))
    return [log_probs, targets, np.array([6, 5]), np.array([3, 2])]


def _ctc_backward_inputs(rng):
    from hybridgrad.ops import REGISTRY

    inputs = _ctc_inputs(rng)
    nll = REGISTRY["ctc_nll"].forward(np, *inputs, blank=0, zero_infinity=False)
    return [rng.standard_normal(2)] + inputs + [nll], {"blank": 0, "zero_infinity": False}, ()


_RECURRENT = {"mode": "LSTM", "reverse": True}


def _recurrent_inputs(rng):
    """An LSTM layer: x (L=4, N=2, I=3), h0, c0 (2, 5), weights (20, 3), (20, 5), biases."""
    return [_f(rng, 4, 2, 3), _f(rng, 2, 5), _f(rng, 2, 5), _f(rng, 20, 3), _f(rng, 20, 5),
            _f(rng, 20), _f(rng, 20)]


def _recurrent_backward_inputs(rng):
    from hybridgrad.ops import REGISTRY

    inputs = _recurrent_inputs(rng)
    out = REGISTRY["recurrent_layer"].forward(np, *inputs, **_RECURRENT)
    grad = rng.standard_normal(out.shape)
    return ([grad, out] + inputs[:5], dict(_RECURRENT, input_grad=True), ())
