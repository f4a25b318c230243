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
    for value, expected in zip(got, (tl._array, tx.grad._array, tw.grad._array)):
        np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-10)
    assert any(n.op.name in ("conv2d", "conv2d_weight") for n in f.graph.nodes
               if n.kind == "op" and n.id in f.plan.buffer_of)
    check_plan(f.plan)
    rows = [executor.conv_block(n) for n in f.graph.nodes
            if n.kind == "op" and n.op.name == "conv2d"]
    assert rows and max(rows) < 7


class _Net(hg.nn.Module):
    """Two dropouts on parallel branches (their draw order must follow the code's order)."""

    def __init__(self):
        super().__init__()
        self.a = hg.nn.Linear(5, 8)
        self.b = hg.nn.Linear(5, 8)
        self.out = hg.nn.Linear(8, 3)
        self.drop1 = hg.nn.Dropout(0.3)
        self.drop2 = hg.nn.Dropout(0.6)

    def forward(self, x):
        left = self.drop2(self.b(x).tanh())   # drawn first in eager code
        right = self.drop1(self.a(x).relu())
        return self.out(left * 0.5 + right)


def _sgd_step(model, x, t, lr):
    loss = ((model(x) - t) ** 2).mean()
    for p in model.parameters():
        p.grad = None
    loss.backward()
    with hg.no_grad():
        for p in model.parameters():
            p._array -= lr * p.grad._array
    return loss


SGD = hg.optim.SGD


def _make(seed):
    hg.manual_seed(seed)
    return _Net()


def test_traced_dropout_draws_fresh_masks_like_eager():
    model = _make(0)
    x = hg.randn(6, 5)
    traced = hg.jit.trace(model, x)            # training mode: dropout is live
    assert "dropout_mask" in str(traced.compiled.graph)
    hg.manual_seed(123)
    eager = [model(x)._array.copy() for _ in range(3)]
    hg.manual_seed(123)
    compiled = [traced(x)._array.copy() for _ in range(3)]
    for e, c in zip(eager, compiled):
        np.testing.assert_allclose(c, e, rtol=1e-6, atol=1e-7)
    assert not np.allclose(compiled[0], compiled[1])  # a new mask on every call


def test_compiled_training_with_dropout_equals_eager_from_the_same_seed():
    eager_model, compiled_model = _make(1), _make(1)
    rng = np.random.default_rng(0)
    data = [(hg.tensor(rng.standard_normal((8, 5)).astype(np.float32)),
             hg.tensor(rng.standard_normal((8, 3)).astype(np.float32))) for _ in range(4)]

    def mse(y, t):
        return ((y - t) ** 2).mean()

    step = hg.jit.train_step(compiled_model, mse, SGD(compiled_model.parameters(), 0.1))
    hg.manual_seed(7)
    eager_losses = [_sgd_step(eager_model, x, t, 0.1).item() for x, t in data]
    hg.manual_seed(7)
    compiled_losses = [step(x, t).item() for x, t in data]
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-5)
    for a, b in zip(eager_model.parameters(), compiled_model.parameters()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-5, atol=1e-6)


def test_remat_keeps_dropout_masks_and_results():
    models = [_make(2), _make(2)]
    x = hg.randn(4, 5)
    t = hg.randn(4, 3)

    def mse(y, t):
        return ((y - t) ** 2).mean()

    losses = []
    for model, remat in zip(models, (None, "sqrt")):
        step = hg.jit.train_step(model, mse, SGD(model.parameters(), 0.1), remat=remat)
        hg.manual_seed(3)
        losses.append([step(x, t).item() for _ in range(2)])
        ops = step.compiled.graph.ops()
        assert ops.count("dropout_mask") == 2, ops   # never recomputed (a new draw)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    for a, b in zip(*(m.parameters() for m in models)):
        np.testing.assert_allclose(a._array, b._array, rtol=1e-6, atol=1e-7)


def test_scalar_affine_chains_fold_to_one_multiply_and_one_add():
    from hybridgrad.symbolic import passes as P
    from hybridgrad.symbolic.graph import Graph

    x = Variable("x", shape=(5,), dtype=np.float64)
    y = (((x - 1.5) * 2.0 + 3.0) / 4.0 - 0.25) * -1.0
    folded = P.fold_scalar_affine(P.dead_code_elimination(Graph.from_symbols([y])))
    folded = P.dead_code_elimination(folded)
    assert folded.ops() == ["mul", "add"]
    xv = np.linspace(-3, 3, 5)
    expected = (((xv - 1.5) * 2.0 + 3.0) / 4.0 - 0.25) * -1.0
    np.testing.assert_allclose(compile(y)(x=xv), expected, rtol=1e-14, atol=1e-14)
    # Shared intermediates are not folded (that would compute them twice).
    shared = x * 2.0
    two = compile([shared + 1.0, shared - 1.0])
    assert P.fold_scalar_affine(Graph.from_symbols([shared + 1.0, shared - 1.0])).ops() == [
        "mul", "add", "sub"]
    np.testing.assert_allclose(two(x=xv)[1], xv * 2 - 1)
    # The exact pipeline leaves the chain alone: bit-identical to eager.
    exact = compile(y, pipeline=P.EXACT_PIPELINE)(x=xv)
    assert np.array_equal(exact, expected)


@pytest.mark.parametrize("seed", range(5))
def test_random_scalar_chains_match_eager(seed):
    rng = np.random.default_rng(seed)
    x = Variable("x", shape=(6,), dtype=np.float64)
    xv = rng.standard_normal(6)
    y, expected = x, xv.copy()
    for _ in range(8):
        kind, c = rng.integers(0, 6), float(rng.uniform(0.5, 2.0))
        if kind == 0:
            y, expected = y + c, expected + c
        elif kind == 1:
            y, expected = y - c, expected - c
        elif kind == 2:
            y, expected = y * c, expected * c
        elif kind == 3:
            y, expected = y / c, expected / c
        elif kind == 4:
            y, expected = c - y, c - expected
        else:
            y, expected = (y * c).tanh(), np.tanh(expected * c)
    np.testing.assert_allclose(compile(y)(x=xv), expected, rtol=1e-12, atol=1e-12)


def test_remat_checkpoints_cut_a_deep_mlp_step_memory_by_more_than_3x():
    from hybridgrad.symbolic import check_plan

    def deep():
        hg.manual_seed(0)
        layers = []
        for _ in range(36):
            layers += [hg.nn.Linear(16, 16), hg.nn.Tanh()]
        return hg.nn.Sequential(*layers, hg.nn.Linear(16, 3))

    def mse(y, t):
        return ((y - t) ** 2).mean()

    rng = np.random.default_rng(0)
    x = hg.tensor(rng.standard_normal((32, 16)).astype(np.float32))
    t = hg.tensor(rng.standard_normal((32, 3)).astype(np.float32))
    planned, weights = {}, {}
    for remat in (None, "sqrt"):
        model = deep()
        step = hg.jit.train_step(model, mse, SGD(model.parameters(), 0.05), remat=remat)
        for _ in range(2):
            step(x, t)
        check_plan(step.compiled.plan)
        planned[remat] = step.memory_report()["planned_bytes"]
        weights[remat] = [p._array.copy() for p in model.parameters()]
    # 36 stored activations: checkpoints plus one segment at a time, about sqrt(2 * 36) = 9.
    assert planned["sqrt"] < planned[None] / 3, planned
    for a, b in zip(weights[None], weights["sqrt"]):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def _bn_net(seed):
    hg.manual_seed(seed)
    return hg.nn.Sequential(hg.nn.Linear(4, 6), hg.nn.BatchNorm1d(6), hg.nn.ReLU(),
                            hg.nn.Linear(6, 2))


def test_batch_norm_training_traces_with_running_statistics_as_graph_updates():
    eager, compiled = _bn_net(0), _bn_net(0)
    traced = hg.jit.trace(compiled, hg.randn(8, 4))
    for _ in range(3):
        x = hg.randn(8, 4)
        np.testing.assert_allclose(traced(x)._array, eager(x)._array, rtol=1e-5, atol=1e-6)
    assert len(traced._cache) == 1   # its own updates do not force a new trace
    for name, buffer in eager[1].named_buffers():
        np.testing.assert_allclose(dict(compiled[1].named_buffers())[name]._array, buffer._array,
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    assert int(compiled[1].num_batches_tracked._array) == 3
    # Evaluation mode then uses the running statistics the compiled graph wrote.
    eager.eval(), compiled.eval()
    x = hg.randn(5, 4)
    np.testing.assert_allclose(traced(x)._array, eager(x)._array, rtol=1e-5, atol=1e-6)


def test_train_step_with_batch_norm_equals_the_eager_loop():
    eager, compiled = _bn_net(1), _bn_net(1)
    rng = np.random.default_rng(1)
    data = [(hg.tensor(rng.standard_normal((8, 4)).astype(np.float32)),
             hg.tensor(rng.standard_normal((8, 2)).astype(np.float32))) for _ in range(3)]

    def mse(y, t):
        return ((y - t) ** 2).mean()

    step = hg.jit.train_step(compiled, mse, SGD(compiled.parameters(), 0.1))
    for x, t in data:
        expected = _sgd_step(eager, x, t, 0.1).item()
        np.testing.assert_allclose(step(x, t).item(), expected, rtol=1e-5)
    for a, b in zip(eager.parameters(), compiled.parameters()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(eager.named_buffers(), compiled.buffers()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-5, atol=1e-6, err_msg=name)


def test_batch_norm_momentum_none_is_refused_while_tracing():
    from hybridgrad.symbolic import TracingError

    model = hg.nn.Sequential(hg.nn.Linear(3, 3), hg.nn.BatchNorm1d(3, momentum=None))
    with pytest.raises(TracingError, match="momentum=None"):
        hg.jit.trace(model, hg.randn(4, 3))
