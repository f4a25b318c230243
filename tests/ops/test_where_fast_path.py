"""where(mask, g, 0) / where(mask, 0, g) on large float arrays multiply the bit pattern by the mask
(ops/elementwise.py); the results must be bit-identical to np.where, signed zeros included."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.ops import apply
from hybridgrad.ops.elementwise import _WHERE_MULTIPLY_MIN_SIZE


def _same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zero_first", [False, True])
def test_fast_path_is_bit_identical_to_np_where(dtype, zero_first):
    rng = np.random.default_rng(0)
    n = _WHERE_MULTIPLY_MIN_SIZE * 2
    g = rng.standard_normal((2, n)).astype(dtype)
    g[0, :10] = -0.0
    mask = rng.standard_normal((2, n)) > 0
    zero = hg.tensor(np.array(0, dtype=dtype))
    args = (zero, hg.tensor(g)) if zero_first else (hg.tensor(g), zero)
    result = apply("where", hg.tensor(mask), *args)._array
    expected = np.where(mask, *(a._array for a in args))
    _same_bits(result, expected)


def test_broadcast_mask_and_non_finite_gradients():
    rng = np.random.default_rng(1)
    g = rng.standard_normal((3, _WHERE_MULTIPLY_MIN_SIZE))
    mask = rng.standard_normal((1, _WHERE_MULTIPLY_MIN_SIZE)) > 0
    _same_bits(apply("where", hg.tensor(mask), hg.tensor(g), 0.0)._array, np.where(mask, g, 0.0))
    g[0, 0], g[1, 1] = np.inf, np.nan  # inf * 0 would be NaN: np.where keeps the zeros
    mask[0, 0] = mask[0, 1] = False
    _same_bits(apply("where", hg.tensor(mask), hg.tensor(g), 0.0)._array, np.where(mask, g, 0.0))


def test_relu_gradient_of_large_input():
    rng = np.random.default_rng(2)
    data = rng.standard_normal((8, _WHERE_MULTIPLY_MIN_SIZE)).astype(np.float32)
    x = hg.tensor(data, requires_grad=True)
    g = rng.standard_normal(data.shape).astype(np.float32)
    hg.relu(x).backward(hg.tensor(g))
    _same_bits(x.grad._array, np.where(data > 0, g, np.float32(0)))
