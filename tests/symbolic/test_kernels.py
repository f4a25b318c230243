"""The compiled executor's own kernels against NumPy (they must be exact, not just close)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hybridgrad.ops.kernels import where_kernel as _where_kernel
from hybridgrad.symbolic import kernels
from hybridgrad.symbolic.kernels import run_fused

MOMENTUM = (("mul", (1, 2), 0), ("mul", (0, 3), 1), ("add", (-1, -2), 0))



@settings(max_examples=60, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=1, max_dims=3,
                                                max_side=70),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16),
       zero_b=st.booleans(), into=st.sampled_from(["fresh", "a", "b"]))
def test_where_kernel_equals_numpy_bit_for_bit(shapes, dtype, seed, zero_b, into):
    rng = np.random.default_rng(seed)
    (cond_shape, a_shape, b_shape), result = shapes.input_shapes, shapes.result_shape
    condition = rng.random(cond_shape) > 0.5
    a = rng.standard_normal(a_shape).astype(dtype)
    b = np.zeros((), dtype) if zero_b else rng.standard_normal(b_shape).astype(dtype)
    special = np.array([np.nan, np.inf, -np.inf, -0.0], dtype)
    a.reshape(-1)[: min(a.size, 4)] = special[: min(a.size, 4)]
    expected = np.broadcast_to(np.where(condition, a, b), result)
    if into == "a" and a.shape == result:
        out = a  # the memory planner's in-place execution into an operand
    elif into == "b" and b.shape == result:
        out = b
    else:
        out = np.empty(result, dtype)
    got = _where_kernel(out, condition, a, b)
    assert got is out
    np.testing.assert_array_equal(got.view(np.uint8), np.ascontiguousarray(expected).view(np.uint8))


def test_where_kernel_keeps_negative_zero_and_casts_other_dtypes():
    condition = np.array([True, False, False])
    a = np.array([1.0, 2.0, 3.0], np.float32)
    out = np.empty(3, np.float32)
    _where_kernel(out, condition, a, np.array(-0.0, np.float32))
    assert np.signbit(out[1]) and out[0] == 1.0
    _where_kernel(out, condition, a, np.array(5, np.int64))  # (the general path)
    assert out.tolist() == [1.0, 5.0, 5.0]


def test_matmul_epilogue_into_the_buffer_it_reads(blas):
    """``buf = buf * 0.9 + g.T @ x`` written into ``buf`` itself (an optimizer's momentum),
    in blocks of rows: each block must read its rows of the old ``buf`` before writing them."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((64, 300)).astype(np.float32)
    x = rng.standard_normal((64, 200)).astype(np.float32)
    buffer = rng.standard_normal((300, 200)).astype(np.float32)
    expected = buffer * np.float32(0.9) + g.T @ x
    run_fused(buffer, [buffer, np.float32(0.9), np.float32(1.0)], MOMENTUM, 2, matmul=(g.T, x))
    np.testing.assert_allclose(buffer, expected, rtol=1e-5, atol=1e-4)


def test_matmul_epilogue_in_place_over_an_operand_read_with_the_product(blas):
    """``out = a @ b + out`` (the planner put the result in place over the addend, read for the
    last time here): the product must not be written into ``out`` before the addend is read.
    Found by the random-graph test of the memory planner: ``(x + x + x @ x) @ x`` was wrong."""
    rng = np.random.default_rng(1)
    for rows in (4, 300):  # the whole-array path and the row-blocked one
        a = rng.standard_normal((rows, 64))
        b = rng.standard_normal((64, 200))
        buffer = rng.standard_normal((rows, 200))
        expected = a @ b + buffer
        run_fused(buffer, [buffer], (("add", (0, 1), 0),), 1, matmul=(a, b))
        np.testing.assert_allclose(buffer, expected, rtol=1e-12, atol=1e-12)


def test_compiled_product_plus_an_addend_it_overwrites_equals_eager():
    import hybridgrad as hg
    from hybridgrad import symbolic

    def program(x):
        twice = x + x
        return [x + twice, (twice + x @ x) @ x]

    value = np.random.default_rng(0).standard_normal((4, 4))
    f = symbolic.compile(program(symbolic.Variable('x', shape=(4, 4), dtype='float64')))
    want = [t._array for t in program(hg.tensor(value))]
    for _ in range(2):
        for got, expected in zip(f(x=value), want):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_order", ["C", "F"])
@pytest.mark.parametrize("b_order", ["C", "F"])
@pytest.mark.parametrize("momentum_first", [True, False])
def test_product_accumulated_into_its_result_is_one_gemm_for_every_layout(
        dtype, a_order, b_order, momentum_first):
    if kernels._scipy_blas() is None:
        pytest.skip("SciPy is not installed (it comes with the dev and analysis extras)")
    rng = np.random.default_rng(2)
    a = np.asarray(rng.standard_normal((300, 64)), dtype=dtype, order=a_order)
    b = np.asarray(rng.standard_normal((64, 200)), dtype=dtype, order=b_order)
    buffer = rng.standard_normal((300, 200)).astype(dtype)
    keep, take = np.asarray(0.9, dtype), np.asarray(0.5, dtype)
    expected = buffer * keep + (a @ b) * take
    program = MOMENTUM if momentum_first else (
        ("mul", (3, 0), 0), ("mul", (2, 1), 1), ("add", (-1, -2), 0))  # take*p + keep*buf
    got = kernels._accumulate_in_place(buffer, [buffer, keep, take], program, (a, b))
    assert got is buffer                      # taken, and written in place
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(buffer, expected, rtol=tolerance, atol=tolerance)


def test_accumulation_falls_back_where_one_gemm_would_differ_or_cannot_apply():
    if kernels._scipy_blas() is None:
        pytest.skip("SciPy is not installed (it comes with the dev and analysis extras)")
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((300, 64)), rng.standard_normal((64, 200))
    buffer = rng.standard_normal((300, 200))
    one = np.asarray(1.0)
    # A factor of 0: BLAS would skip the term where NumPy propagates a NaN through it.
    buffer[0, 0] = np.nan
    assert kernels._accumulate_in_place(buffer, [buffer, np.asarray(0.0), one], MOMENTUM,
                                       (a, b)) is None
    run_fused(buffer, [buffer, np.asarray(0.0), one], MOMENTUM, 2, matmul=(a, b))
    assert np.isnan(buffer[0, 0])             # as eager: nan * 0 + p is nan
    # A result that is not the addend's memory, an operand overlapping it, other programs.
    other = buffer.copy()
    assert kernels._accumulate_in_place(other, [buffer, one, one], MOMENTUM, (a, b)) is None
    square = rng.standard_normal((300, 300))
    assert kernels._accumulate_in_place(square, [square, one, one], MOMENTUM,
                                       (square, square)) is None
    assert kernels._accumulate_in_place(buffer, [buffer], (("sub", (1, 0), 0),), (a, b)) is None
    strided = np.zeros((300, 400))[:, ::2]
    assert kernels._accumulate_in_place(strided, [strided, one, one], MOMENTUM, (a, b)) is None
