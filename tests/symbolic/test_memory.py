# ruff: noqa: A004 - hybridgrad.symbolic.compile is the notes' name
"""The memory planner: no two live values ever share a buffer (checked on random graphs), the
compiled results equal eager results, and planning really saves memory."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.ops import kernels as out_kernels
from hybridgrad.ops.registry import apply
from hybridgrad.symbolic import Variable, check_plan, compile, kernels
from hybridgrad.symbolic.graph import Graph
from hybridgrad.symbolic.memory import Plan, plan_memory

UNARY = [
    lambda a: a.tanh(), lambda a: -a, lambda a: a.relu(), lambda a: a.sin(),
    lambda a: a.T,                      # a view (permute)
    lambda a: a.reshape(2, 8).reshape(4, 4),  # views
    lambda a: a.sum(dim=0, keepdim=True) + a,
    lambda a: a * 0.5 + 1.0,
    lambda a: hg.where(a > 0, a, a * 0.1),
    lambda a: a.sigmoid() * 2 - 1,  # sigmoid allocates its own result: reused in place
    lambda a: hg.softmax(a, dim=1),
    # Operators whose facts (aliasing, out-kernel, ufunc form) came with issue 17's registry facts
    lambda a: apply("floor", a * 3.0) / 3.0,  # a ufunc form: fused, in place
    lambda a: apply("cumsum", a, axis=1, exclusive=False, reverse=False),  # allocates its own
    lambda a: a[::-1],                  # a view (getitem) with negative strides
    lambda a: apply("atan", a) + a[:, ::-1],
]
BINARY = [
    lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
    lambda a, b: hg.maximum(a, b), lambda a, b: a @ b, lambda a, b: (a @ b.T) * 0.25,
    lambda a, b: apply("remainder", a, b.abs() + 1.0),
    lambda a, b: hg.cat([a[:2], b[2:]], dim=0),
]


@st.composite
def programs(draw):
    steps = []
    count = 2
    for _ in range(draw(st.integers(3, 14))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.integers(0, len(UNARY) - 1)),
                          draw(st.integers(0, count - 1))))
        else:
            steps.append(("b", draw(st.integers(0, len(BINARY) - 1)),
                          draw(st.integers(0, count - 1)), draw(st.integers(0, count - 1))))
        count += 1
    outputs = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=3))
    return steps, outputs + [count - 1]


def _run(program, x, y):
    steps, outputs = program
    values = [x, y]
    for step in steps:
        if step[0] == "u":
            values.append(UNARY[step[1]](values[step[2]]))
        else:
            values.append(BINARY[step[1]](values[step[2]], values[step[3]]))
    return [values[i] for i in outputs]


@settings(max_examples=25, deadline=None)
@given(programs(), st.integers(0, 2**31 - 1))
def test_random_graphs_plan_is_safe_and_results_match_eager(program, seed):
    _check_random_graph(program, seed)


@settings(max_examples=25, deadline=None)
@given(programs(), st.integers(0, 2**31 - 1), st.booleans())
def test_random_graphs_match_eager_when_every_kernel_runs_in_blocks(program, seed, scipy_gemm):
    # 4 x 4 values never reach the block sizes of real workloads, so the kernels' blocked paths
    # (row blocks of fused programs, matmul epilogues and selects, in place over their inputs,
    # and products accumulated into their result by one GEMM or, without SciPy, in blocks)
    # would go untested: shrink the blocks to a few elements.
    with mock.patch.multiple(kernels, BLOCK_ELEMENTS=3, MATMUL_BLOCK_ELEMENTS=3,
                             MATMUL_MIN_ROWS=1), \
            mock.patch.object(out_kernels, "_SELECT_BLOCK_ELEMENTS", 3), \
            mock.patch.object(kernels, "_scipy_blas",
                              kernels._scipy_blas if scipy_gemm else lambda: None):
        _check_random_graph(program, seed)


def _check_random_graph(program, seed):
    rng = np.random.default_rng(seed)
    xv = rng.standard_normal((4, 4))
    yv = rng.standard_normal((4, 4))
    x, y = Variable('x', shape=(4, 4), dtype='float64'), Variable('y', shape=(4, 4),
                                                                   dtype='float64')
    f = compile(_run(program, x, y))
    feeds = {k: v for k, v in {"x": xv, "y": yv}.items() if k in f.input_names}
    check_plan(f.plan)
    eager = _run(program, hg.tensor(xv), hg.tensor(yv))
    for _ in range(2):  # the second call reuses the buffers
        results = f(**feeds)
        for got, want in zip(results, eager):
            np.testing.assert_allclose(got, want._array, rtol=1e-12, atol=1e-12)
    naive = compile(_run(program, x, y), optimize=False)(**feeds)
    for got, want in zip(naive, eager):
        np.testing.assert_allclose(got, want._array, rtol=1e-12, atol=1e-12)


def test_checker_catches_a_bad_plan():
    x = Variable('x', shape=(8,), dtype='float64')
    a = x.exp()
    b = a.matmul(x) * a  # a is read after b's first node is computed
    plan = plan_memory(Graph.from_symbols([b.sum()]))
    check_plan(plan)
    bad = Plan(graph=plan.graph, order=plan.order, buffer_of=dict(plan.buffer_of),
               buffer_sizes=[64] * 8)
    ids = list(bad.buffer_of)
    for node_id in ids:
        bad.buffer_of[node_id] = 0
    with pytest.raises(AssertionError, match="share buffer 0"):
        check_plan(bad)


def test_chain_runs_in_one_buffer_in_place():
    x = Variable('x', shape=(1000,), dtype='float64')
    y = x
    for _ in range(10):
        y = (y @ y) * y  # matmul breaks fusion; the elementwise steps go in place
    f = compile(y + 1)
    f(x=np.full(1000, 0.01))
    report = f.memory_report()
    check_plan(f.plan)
    assert report["naive_bytes"] >= 10 * 8000
    assert report["planned_bytes"] <= 2 * 8000, report


def test_planned_memory_is_smaller_than_naive_for_an_mlp_backward():
    x = Variable('x', shape=(64, 32), dtype='float32')
    w1 = Variable('w1', shape=(32, 64), dtype='float32')
    w2 = Variable('w2', shape=(64, 10), dtype='float32')
    loss = ((x @ w1).relu() @ w2).tanh().sum()
    grads = hg.symbolic.grad(loss, [w1, w2])
    f = compile(grads)
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((64, 32)).astype(np.float32),
             "w1": rng.standard_normal((32, 64)).astype(np.float32) * 0.1,
             "w2": rng.standard_normal((64, 10)).astype(np.float32) * 0.1}
    f(**feeds)
    report = f.memory_report()
    check_plan(f.plan)
    assert report["planned_bytes"] < 0.7 * report["naive_bytes"], report
    # Same gradients as eager autograd.
    tx, t1, t2 = (hg.tensor(feeds[k], requires_grad=k != "x") for k in ("x", "w1", "w2"))
    ((tx @ t1).relu() @ t2).tanh().sum().backward()
    got = f(**feeds)
    np.testing.assert_allclose(got[0], t1.grad._array, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], t2.grad._array, rtol=1e-5, atol=1e-6)


def test_results_allocated_by_an_operator_are_reused_in_place():
    x = Variable('x', shape=(64, 64), dtype='float64')
    f = compile([((x.sigmoid() * 2 - 1).exp() * x).sum()])
    value = np.random.default_rng(0).standard_normal((64, 64))
    sig = 1 / (1 + np.exp(-value))
    expected = (np.exp(sig * 2 - 1) * value).sum()
    np.testing.assert_allclose(f(x=value)[0], expected, rtol=1e-12)
    assert len(f.plan.reuse) == 1  # the fused chain writes into sigmoid's own result
    assert f.memory_report()["planned_bytes"] == 0
    check_plan(f.plan)


def test_update_whose_product_reads_the_updated_tensor():
    # w := w + 0.5 * (w @ w): the product reads all of w, so it must not be written into w
    # block by block (the matmul epilogue would otherwise read rows already overwritten).
    from hybridgrad.symbolic.graph import ASSIGN, Symbol, as_node, build_internal

    start = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32) * 0.05
    w = hg.tensor(start.copy())
    ws = Symbol(as_node(w))
    new = (ws @ ws) * 0.5 + ws
    write = Symbol(build_internal(ASSIGN, [as_node(w), new.node]))
    f = compile([ws.sum()], effects=[write])
    f()
    check_plan(f.plan)
    np.testing.assert_allclose(w._array, start + 0.5 * (start @ start), rtol=1e-5, atol=1e-6)
    assert "fused_matmul" in f.graph.ops()


def test_update_reading_a_transposed_view_of_the_updated_tensor():
    # w := w + 0.1 * w.T written straight into w: a transposed view overlaps w in another
    # order, so the fused kernel must not write block by block into w while reading it.
    from hybridgrad.symbolic.graph import ASSIGN, Symbol, as_node, build_internal

    start = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    w = hg.tensor(start.copy())
    ws = Symbol(as_node(w))
    write = Symbol(build_internal(ASSIGN, [as_node(w), (ws + ws.T * 0.1).node]))
    f = compile([ws.sum()], effects=[write])
    f()
    check_plan(f.plan)
    np.testing.assert_allclose(w._array, start + start.T * np.float32(0.1), rtol=1e-6)
