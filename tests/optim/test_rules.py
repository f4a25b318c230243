"""One update rule per optimizer (issue 17 item 2) and the optimizers PyTorch programs use
(issue 15): Adadelta, Adagrad, Adamax, NAdam, RAdam and LBFGS against their update formulas as
PyTorch's documentation writes them (NumPy, float64, several steps); each rule equal to its
eager NumPy fast path; every optimizer the same eagerly and compiled by ``jit.train_step``."""


import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.symbolic import passes

A = np.array([[0.5, 1.5, -0.7], [2.0, -0.3, 0.9]])
B = np.array([[0.1, -0.4, 0.3], [-1.0, 0.2, 0.05]])
P0 = np.array([[1.0, -2.0, 0.5], [0.3, 1.2, -0.8]])


def loss_of(param):
    """sum(A p^2 + B p): gradient 2 A p + B, different at every step."""
    return (hg.tensor(A) * param * param + hg.tensor(B) * param).sum()


def grad_ref(p):
    return 2 * A * p + B


def run(optimizer_class, steps, fast=True, **options):
    param = hg.nn.Parameter(hg.tensor(P0.copy(), dtype=hg.float64))
    optimizer = optimizer_class([param], **options)
    optimizer._fast_path = fast
    for _ in range(steps):
        optimizer.zero_grad()
        loss_of(param).backward()
        optimizer.step()
    return param._array, optimizer


def _decay(p, g, lr, weight_decay, decoupled=False):
    """(p, g) after weight decay: L2 (added to the gradient) or decoupled (AdamW's)."""
    if weight_decay and decoupled:
        return p * (1 - lr * weight_decay), g
    return p, g + weight_decay * p


FAST_CASES = [
    (hg.optim.SGD, {"lr": 0.05}),
    (hg.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    (hg.optim.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "maximize": True}),
    (hg.optim.Adam, {"lr": 0.1}),
    (hg.optim.Adam, {"lr": 0.1, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    (hg.optim.AdamW, {"lr": 0.1, "amsgrad": True}),
    (hg.optim.RMSprop, {"lr": 0.01}),
    (hg.optim.RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    (hg.optim.RMSprop, {"lr": 0.01, "centered": True, "maximize": True}),
]


@pytest.mark.parametrize("optimizer_class,options", FAST_CASES)
def test_the_eager_fast_paths_equal_the_rules(optimizer_class, options):
    fast, fast_optimizer = run(optimizer_class, 4, fast=True, **options)
    rule, rule_optimizer = run(optimizer_class, 4, fast=False, **options)
    np.testing.assert_allclose(rule, fast, rtol=1e-13, atol=1e-14)
    (fast_state,), (rule_state,) = (fast_optimizer.state.values(),
                                    rule_optimizer.state.values())
    assert sorted(fast_state) == sorted(rule_state)
    for key, value in fast_state.items():
        assert rule_state[key].dtype == value.dtype, key
        np.testing.assert_allclose(rule_state[key]._array, value._array, rtol=1e-13,
                                   atol=1e-14, err_msg=key)


# ----------------------------------------------------------------------------------------------
# Every optimizer compiles: the same weights eagerly and compiled (float64).

class _Tanh(hg.nn.Module):
    def forward(self, x):
        return hg.tanh(x)


def _double_model():
    hg.manual_seed(0)
    model = hg.nn.Sequential(hg.nn.Linear(4, 6), _Tanh(), hg.nn.Linear(6, 2))
    for param in model.parameters():
        param._array = param._array.astype(np.float64)
    return model


def _mse(y, t):
    return ((y - t) ** 2).mean()


COMPILED_CASES = [
    lambda ps: hg.optim.SGD(ps, lr=0.1),
    lambda ps: hg.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01,
                            maximize=False),
    lambda ps: hg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: hg.optim.Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01),
    lambda ps: hg.optim.AdamW(ps, lr=0.05),
    lambda ps: hg.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True, weight_decay=0.01),
    lambda ps: hg.optim.RMSprop(ps, lr=0.01),
    lambda ps: hg.optim.Adam(ps, lr=0.05, maximize=True),
]


@pytest.mark.parametrize("make", COMPILED_CASES)
def test_every_optimizer_gives_the_same_weights_eagerly_and_compiled(make):
    rng = np.random.default_rng(2)
    data = [(hg.tensor(rng.standard_normal((5, 4))), hg.tensor(rng.standard_normal((5, 2))))
            for _ in range(6)]
    eager_model, compiled_model = _double_model(), _double_model()
    eager_opt = make(list(eager_model.parameters()))
    compiled_opt = make(list(compiled_model.parameters()))
    step = hg.jit.train_step(compiled_model, _mse, compiled_opt)
    for x, t in data:
        eager_opt.zero_grad()
        eager_loss = _mse(eager_model(x), t)
        eager_loss.backward()
        eager_opt.step()
        np.testing.assert_allclose(step(x, t).item(), eager_loss.item(), rtol=1e-6)
    for a, b in zip(eager_model.parameters(), compiled_model.parameters()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-6, atol=1e-6)
        for key, value in eager_opt.state[a].items():
            np.testing.assert_allclose(compiled_opt.state[b][key]._array, value._array,
                                       rtol=1e-6, atol=1e-6, err_msg=key)


def test_compiled_steps_follow_a_scheduler_and_a_loaded_state():
    x, t = hg.tensor(np.ones((3, 4))), hg.tensor(np.zeros((3, 2)))
    eager_model, compiled_model = _double_model(), _double_model()
    eager_opt = hg.optim.Adam(eager_model.parameters(), lr=0.1)
    compiled_opt = hg.optim.Adam(compiled_model.parameters(), lr=0.1)
    schedulers = [hg.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5)
                  for o in (eager_opt, compiled_opt)]
    step = hg.jit.train_step(compiled_model, _mse, compiled_opt)
    for number in range(4):
        if number == 2:   # new state tensors: the compiled step must write into those
            compiled_opt.load_state_dict(compiled_opt.state_dict())
        eager_opt.zero_grad()
        _mse(eager_model(x), t).backward()
        eager_opt.step()
        step(x, t)
        for scheduler in schedulers:
            scheduler.step()
    for a, b in zip(eager_model.parameters(), compiled_model.parameters()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-9, atol=1e-12)


def test_compiled_sgd_momentum_keeps_the_fused_accumulating_gemm(monkeypatch):
    """The rewritten SGD rule still produces ``buf = buf * momentum + (g.T @ x) * c``, which
    the compiler runs as one GEMM accumulating into the buffer (``_accumulate_in_place``)."""
    if passes._scipy_blas() is None:
        pytest.skip("SciPy's BLAS is not installed: the accumulating GEMM is unavailable")
    hits = []
    original = passes._accumulate_in_place

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        hits.append(result is not None)
        return result

    monkeypatch.setattr(passes, "_accumulate_in_place", spy)
    hg.manual_seed(0)
    model = hg.nn.Sequential(hg.nn.Linear(300, 256), _Tanh(), hg.nn.Linear(256, 3))
    optimizer = hg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, dampening=0.1)
    step = hg.jit.train_step(model, _mse, optimizer)
    x = hg.tensor(np.random.default_rng(0).standard_normal((16, 300)).astype(np.float32))
    t = hg.zeros(16, 3)
    for _ in range(3):
        step(x, t)
    assert any(hits), "no momentum update ran as an accumulating GEMM"


def test_a_fused_one_element_program_may_write_over_an_input_it_reads_again():
    """(found by NAdam's compiled step: the planner gave a 0-d result its input's buffer, and
    the fused kernel skipped its overlap check for one-element operands)"""
    x, two = np.array(3.0), np.array(2.0)
    program = (("mul", (0, 1), 0), ("add", (-1, 0), 0))   # x * 2 + x, written into x
    assert float(passes.run_fused(x, [x, two], program)) == 9.0
