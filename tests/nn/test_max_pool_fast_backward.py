"""The fused first-order max-pool backward (ops/conv.py, _max_pool_backward_array) equals the
two-primitive path (max_pool2d_taps + max_pool2d_scatter), which gradients of gradients use."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.ops import apply
from hybridgrad.ops import conv as C

CASES = [
    dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False),
    dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=True),
    dict(kernel_size=(3, 3), stride=(3, 3), padding=(1, 1), dilation=(1, 1), ceil_mode=False),
    dict(kernel_size=(2, 3), stride=(3, 4), padding=(1, 0), dilation=(1, 1), ceil_mode=True),
    dict(kernel_size=(2, 2), stride=(4, 4), padding=(0, 0), dilation=(2, 2), ceil_mode=False),
]


def _two_primitive_path(x, best, g, attrs):
    taps = C._taps_array(np, x, best, **attrs)
    return C._max_pool2d_scatter.forward(np, g, taps, input_shape=x.shape, **attrs)


@pytest.mark.parametrize("attrs", CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_fused_backward_equals_taps_and_scatter(attrs, ties):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 11))
    if ties:
        x = np.round(x)  # many equal maxima: the first tap must win, as in PyTorch
    best = C._max_pool2d.forward(np, x, **attrs)
    g = rng.standard_normal(best.shape)
    fast = C._max_pool_backward_array(np, x, best, g, **attrs)
    assert fast is not None
    np.testing.assert_array_equal(fast, _two_primitive_path(x, best, g, attrs))


def test_fallback_cases_return_none():
    attrs = CASES[0]
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    best = C._max_pool2d.forward(np, x, **attrs)
    g = np.ones(best.shape)
    overlapping = dict(attrs, stride=(1, 1))
    assert C._max_pool_backward_array(np, x, C._max_pool2d.forward(np, x, **overlapping),
                                      np.ones((1, 1, 3, 3)), **overlapping) is None
    g_inf = g.copy()
    g_inf[0, 0, 0, 0] = np.inf
    assert C._max_pool_backward_array(np, x, best, g_inf, **attrs) is None
    x_nan = x.copy()
    x_nan[0, 0, 0, 0] = np.nan
    assert C._max_pool_backward_array(np, x_nan, C._max_pool2d.forward(np, x_nan, **attrs), g,
                                      **attrs) is None
    assert C._max_pool_backward_array(np, x.astype(np.int64), best.astype(np.int64), g,
                                      **attrs) is None


def test_eager_backward_and_double_backward_agree():
    rng = np.random.default_rng(1)
    data = np.round(rng.standard_normal((2, 2, 6, 6)) * 2)
    attrs = CASES[0]
    x = hg.tensor(data, requires_grad=True)
    y = apply("max_pool2d", x, **attrs)
    (y * y).sum().backward()  # first order: the fused path
    first = x.grad._array.copy()
    x2 = hg.tensor(data, requires_grad=True)
    y2 = apply("max_pool2d", x2, **attrs)
    (grad,) = hg.autograd.grad((y2 * y2).sum(), [x2], create_graph=True)  # two primitives
    np.testing.assert_array_equal(first, grad._array)
