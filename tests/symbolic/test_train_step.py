"""hg.jit.train_step: forward + backward + optimizer update as one graph, equal to the eager loop.

The compiled step runs hg.optim's own update rules; the eager oracle here is each optimizer's
``step`` overridden with PyTorch's single-tensor formulas written out in NumPy (PyTorch's
layout: ``state[param]`` with 'momentum_buffer' / 'step', 'exp_avg', 'exp_avg_sq').
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hybridgrad as hg


class SGD(hg.optim.SGD):
    def step(self):  # PyTorch's single-tensor SGD
        for group in self.param_groups:
            for p in group["params"]:
                d_p = p.grad._array
                if group["weight_decay"]:
                    d_p = d_p + group["weight_decay"] * p._array
                if group["momentum"]:
                    state = self.state.setdefault(p, {})
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = hg.tensor(d_p)
                    else:
                        buf = state["momentum_buffer"]._array
                        buf *= group["momentum"]
                        buf += (1 - group["dampening"]) * d_p
                    buf = state["momentum_buffer"]._array
                    d_p = d_p + group["momentum"] * buf if group["nesterov"] else buf
                p._array -= group["lr"] * d_p


class Adam(hg.optim.Adam):
    def step(self):  # PyTorch's single-tensor Adam
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                grad = p.grad._array
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = hg.tensor(0.0)
                    state["exp_avg"] = hg.zeros_like(p)
                    state["exp_avg_sq"] = hg.zeros_like(p)
                state["step"]._array = state["step"]._array + 1
                step = float(state["step"]._array)
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * p._array
                m, v = state["exp_avg"]._array, state["exp_avg_sq"]._array
                m += (grad - m) * (1 - beta1)
                v *= beta2
                v += (1 - beta2) * grad * grad
                denom = np.sqrt(v) / math.sqrt(1 - beta2 ** step) + group["eps"]
                p._array += (-group["lr"] / (1 - beta1 ** step)) * (m / denom)


def _model():
    hg.manual_seed(0)
    return hg.nn.Sequential(hg.nn.Linear(5, 12), _Tanh(), hg.nn.Linear(12, 3))


class _Tanh(hg.nn.Module):
    def forward(self, x):
        return hg.tanh(x)


def _mse(y, t):
    return ((y - t) ** 2).mean()


def _cross_entropy(logits, targets):
    log_probs = hg.log_softmax(logits, dim=1)
    return -hg.gather(log_probs, 1, targets.reshape(-1, 1)).mean()


def _data(steps, classes=False):
    rng = np.random.default_rng(1)
    xs = [hg.tensor(rng.standard_normal((8, 5)).astype(np.float32)) for _ in range(steps)]
    if classes:
        ts = [hg.tensor(rng.integers(0, 3, 8)) for _ in range(steps)]
    else:
        ts = [hg.tensor(rng.standard_normal((8, 3)).astype(np.float32)) for _ in range(steps)]
    return xs, ts


def _train_both(model_fn, make, loss_fn, xs, ts):
    """The eager loop and the compiled step from the same initial weights; asserts equal
    losses, weights and optimizer state (PyTorch's layout); returns the compiled step."""
    eager_model, compiled_model = model_fn(), model_fn()
    eager_opt = make(eager_model.parameters())
    compiled_opt = make(compiled_model.parameters())
    step = hg.jit.train_step(compiled_model, loss_fn, compiled_opt)
    for x, t in zip(xs, ts):
        eager_model.zero_grad()
        eager_loss = loss_fn(eager_model(x), t)
        eager_loss.backward()
        eager_opt.step()
        compiled_loss = step(x, t)
        np.testing.assert_allclose(compiled_loss.item(), eager_loss.item(), rtol=1e-5)
    for (name, a), b in zip(eager_model.named_parameters(), compiled_model.parameters()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-5, atol=1e-5, err_msg=name)
        for key, value in eager_opt.state.get(a, {}).items():
            np.testing.assert_allclose(np.asarray(compiled_opt.state[b][key]._array),
                                       np.asarray(value._array), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}: {key}")
    return step


@pytest.mark.parametrize("make,loss_fn,classes", [
    (lambda p: SGD(p, lr=0.1), _mse, False),
    (lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-2), _mse, False),
    (lambda p: SGD(p, lr=0.05, momentum=0.9, dampening=0.3, nesterov=False), _cross_entropy,
     True),
    (lambda p: SGD(p, lr=0.05, momentum=0.8, nesterov=True), _mse, False),
    (lambda p: Adam(p, lr=0.01), _cross_entropy, True),
    (lambda p: Adam(p, lr=0.01, weight_decay=0.1), _mse, False),
])
def test_compiled_steps_equal_the_eager_loop(make, loss_fn, classes):
    xs, ts = _data(6, classes)
    step = _train_both(_model, make, loss_fn, xs, ts)
    from hybridgrad.symbolic import check_plan

    check_plan(step.compiled.plan)
    report = step.memory_report()
    assert report["planned_bytes"] < report["naive_bytes"]


def test_weight_gradients_fed_to_momentum_equal_the_eager_loop_at_full_size(blas):
    """Weights large enough (256 x 200) that the weight gradient goes into the momentum buffer
    the way real layers' do (one accumulating GEMM, or row blocks without SciPy)."""
    def model():
        hg.manual_seed(0)
        return hg.nn.Sequential(hg.nn.Linear(200, 256), _Tanh(), hg.nn.Linear(256, 3))

    rng = np.random.default_rng(4)
    xs = [hg.tensor(rng.standard_normal((16, 200)).astype(np.float32)) for _ in range(4)]
    ts = [hg.tensor(rng.standard_normal((16, 3)).astype(np.float32)) for _ in range(4)]
    _train_both(model, lambda p: SGD(p, lr=0.05, momentum=0.9, dampening=0.25), _mse, xs, ts)


def test_learning_rate_changes_are_read_each_step():
    xs, ts = _data(2)
    model = _model()
    opt = SGD(model.parameters(), lr=0.1)
    step = hg.jit.train_step(model, _mse, opt)
    step(xs[0], ts[0])
    opt.param_groups[0]["lr"] = 0.0
    before = [p._array.copy() for p in model.parameters()]
    step(xs[1], ts[1])
    for a, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(p._array, a)


def test_optimizers_without_a_compilable_rule_are_clear_errors():
    model = _model()
    with pytest.raises(NotImplementedError, match="LBFGS runs eagerly only"):
        hg.jit.train_step(model, _mse, hg.optim.LBFGS(model.parameters()))

    class Custom(hg.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

    with pytest.raises(NotImplementedError, match="Custom defines no update rule"):
        hg.jit.train_step(model, _mse, Custom(model.parameters()))
    with pytest.raises(TypeError, match="hybridgrad.optim.Optimizer"):
        hg.jit.train_step(model, _mse, object())


def test_rematerialisation_saves_memory_and_keeps_results():
    def deep():
        hg.manual_seed(0)
        layers = []
        for _ in range(10):
            layers += [hg.nn.Linear(32, 32), _Tanh()]
        return hg.nn.Sequential(*layers, hg.nn.Linear(32, 3))

    rng = np.random.default_rng(0)
    x = hg.tensor(rng.standard_normal((64, 32)).astype(np.float32))
    t = hg.tensor(rng.standard_normal((64, 3)).astype(np.float32))
    reports, weights = {}, {}
    for remat in (None, "sqrt"):
        model = deep()
        step = hg.jit.train_step(model, _mse, SGD(model.parameters(), lr=0.05, momentum=0.9),
                                 remat=remat)
        for _ in range(3):
            step(x, t)
        from hybridgrad.symbolic import check_plan

        check_plan(step.compiled.plan)
        reports[remat] = step.memory_report()["planned_bytes"]
        weights[remat] = [p._array.copy() for p in model.parameters()]
    assert reports["sqrt"] < 0.8 * reports[None], reports
    for a, b in zip(weights[None], weights["sqrt"]):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="remat"):
        hg.symbolic.compile(hg.symbolic.Variable('x') * 2, remat="all")
