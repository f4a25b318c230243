"""Compiled convolutions in sample blocks (bounded im2col workspace), the memory report's naive
vs planned comparison, and dropout as a random primitive drawn at run time."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.symbolic import Variable, compile, executor, grad  # noqa: A004
from hybridgrad.symbolic.memory import check_plan


@pytest.mark.parametrize("stride,padding,groups", [(1, 1, 1), (2, 0, 2)])
def test_blocked_convolutions_equal_the_operators(monkeypatch, stride, padding, groups):
    # A workspace limit of one sample's columns forces blocks of 1-3 samples.
    monkeypatch.setattr(executor, "CONV_BLOCK_BYTES", 3 * 4 * 9 * 6 * 6)
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((7, 4, 6, 6))
    wv = rng.standard_normal((6, 4 // groups, 3, 3))
    x = Variable("x", shape=xv.shape, dtype=np.float64)
    w = Variable("w", shape=wv.shape, dtype=np.float64)
    y = hg.nn.functional.conv2d(x, w, stride=stride, padding=padding, groups=groups)
    loss = (y * y).sum()
    gx, gw = grad(loss, [x, w])
    f = compile([loss, gx, gw])
    got = f(x=xv, w=wv)
    tx = hg.tensor(xv, requires_grad=True)
    tw = hg.tensor(wv, requires_grad=True)
    ty = hg.nn.functional.conv2d(tx, tw, stride=stride, padding=padding, groups=groups)
    tl = (ty * ty).sum()
    tl.backward()
    for value, expected in zip(got, (tl.data, tx.grad.data, tw.grad.data)):
        np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-10)
    assert any(n.op.name in ("conv2d", "conv2d_weight") for n in f.graph.nodes
               if n.kind == "op" and n.id in f.plan.buffer_of)
    check_plan(f.plan)
    rows = [executor.conv_block(n) for n in f.graph.nodes
            if n.kind == "op" and n.op.name == "conv2d"]
    assert rows and max(rows) < 7
