"""One update rule per optimizer (issue 17 item 2) and the optimizers PyTorch programs use
(issue 15): Adadelta, Adagrad, Adamax, NAdam, RAdam and LBFGS against their update formulas as
PyTorch's documentation writes them (NumPy, float64, several steps); each rule equal to its
eager NumPy fast path; every optimizer the same eagerly and compiled by ``jit.train_step``."""

import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.symbolic import kernels

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


# PyTorch's documented algorithms, written out in NumPy.
def adagrad_ref(steps, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10, maximize=False):
    p, total = P0.copy(), np.full_like(P0, initial_accumulator_value)
    for t in range(1, steps + 1):
        g = -grad_ref(p) if maximize else grad_ref(p)
        p, g = _decay(p, g, lr, weight_decay)
        clr = lr / (1 + (t - 1) * lr_decay)
        total = total + g * g
        p = p - clr * g / (np.sqrt(total) + eps)
    return p


def adadelta_ref(steps, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    p, v, u = P0.copy(), np.zeros_like(P0), np.zeros_like(P0)
    for _ in range(steps):
        g = -grad_ref(p) if maximize else grad_ref(p)
        p, g = _decay(p, g, lr, weight_decay)
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
    return p


def adamax_ref(steps, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    (b1, b2), p = betas, P0.copy()
    m, u = np.zeros_like(P0), np.zeros_like(P0)
    for t in range(1, steps + 1):
        g = -grad_ref(p) if maximize else grad_ref(p)
        p, g = _decay(p, g, lr, weight_decay)
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        p = p - lr / (1 - b1 ** t) * m / u
    return p


def nadam_ref(steps, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    (b1, b2), p = betas, P0.copy()
    m, v, product = np.zeros_like(P0), np.zeros_like(P0), 1.0
    for t in range(1, steps + 1):
        g = -grad_ref(p) if maximize else grad_ref(p)
        p, g = _decay(p, g, lr, weight_decay, decoupled_weight_decay)
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        product = float(np.float32(product) * np.float32(mu))   # (PyTorch: in float32)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        d = np.sqrt(v / (1 - b2 ** t)) + eps
        p = p - lr * (1 - mu) / (1 - product) * g / d
        p = p - lr * mu_next / (1 - product * mu_next) * m / d
    return p


def radam_ref(steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              decoupled_weight_decay=False, maximize=False):
    (b1, b2), p = betas, P0.copy()
    m, v = np.zeros_like(P0), np.zeros_like(P0)
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, steps + 1):
        g = -grad_ref(p) if maximize else grad_ref(p)
        p, g = _decay(p, g, lr, weight_decay, decoupled_weight_decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        corrected = m / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
            p = p - corrected * lr * adaptive * rect
        else:
            p = p - corrected * lr
    return p


def rprop_ref(steps, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    p, prev, size = P0.copy(), np.zeros_like(P0), np.full_like(P0, lr)
    for _ in range(steps):
        g = -grad_ref(p) if maximize else grad_ref(p)
        agreement = g * prev
        size = np.clip(np.where(agreement > 0, size * etas[1],
                                np.where(agreement < 0, size * etas[0], size)), *step_sizes)
        g = np.where(agreement < 0, 0.0, g)
        p = p - np.sign(g) * size
        prev = g
    return p


def asgd_ref(steps, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False):
    p, ax, eta, mu = P0.copy(), np.zeros_like(P0), np.float32(lr), np.float32(1.0)
    for t in range(1, steps + 1):
        g = -grad_ref(p) if maximize else grad_ref(p)
        p, g = _decay(p, g, lr, weight_decay)
        p = p * (1 - lambd * float(eta)) - float(eta) * g
        ax = p.copy() if mu == 1 else ax + (p - ax) * float(mu)
        eta = np.float32(lr / (1 + lambd * lr * t) ** alpha)   # (kept in float32, as PyTorch)
        mu = np.float32(1 / max(1, t - t0))
    return p


CASES = [
    (hg.optim.Rprop, rprop_ref, {"lr": 0.05}),
    (hg.optim.Rprop, rprop_ref, {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2),
                                 "maximize": True}),
    (hg.optim.ASGD, asgd_ref, {"lr": 0.05, "t0": 3, "weight_decay": 0.01}),
    (hg.optim.ASGD, asgd_ref, {"lr": 0.05, "lambd": 0.1, "alpha": 0.5, "maximize": True}),
    (hg.optim.Adagrad, adagrad_ref, {"lr": 0.1}),
    (hg.optim.Adagrad, adagrad_ref, {"lr": 0.1, "lr_decay": 0.3, "weight_decay": 0.1,
                                     "initial_accumulator_value": 0.5, "eps": 1e-3}),
    (hg.optim.Adagrad, adagrad_ref, {"lr": 0.05, "maximize": True}),
    (hg.optim.Adadelta, adadelta_ref, {}),
    (hg.optim.Adadelta, adadelta_ref, {"lr": 0.5, "rho": 0.7, "eps": 1e-3,
                                       "weight_decay": 0.2, "maximize": True}),
    (hg.optim.Adamax, adamax_ref, {"lr": 0.1}),
    (hg.optim.Adamax, adamax_ref, {"lr": 0.1, "betas": (0.8, 0.9), "eps": 1e-3,
                                   "weight_decay": 0.1, "maximize": True}),
    (hg.optim.NAdam, nadam_ref, {"lr": 0.1}),
    (hg.optim.NAdam, nadam_ref, {"lr": 0.1, "betas": (0.8, 0.95), "momentum_decay": 0.1,
                                 "weight_decay": 0.1}),
    (hg.optim.NAdam, nadam_ref, {"lr": 0.1, "weight_decay": 0.1,
                                 "decoupled_weight_decay": True, "maximize": True}),
    (hg.optim.RAdam, radam_ref, {"lr": 0.1}),
    (hg.optim.RAdam, radam_ref, {"lr": 0.1, "betas": (0.8, 0.9), "weight_decay": 0.1}),
    (hg.optim.RAdam, radam_ref, {"lr": 0.1, "weight_decay": 0.1,
                                 "decoupled_weight_decay": True, "maximize": True}),
]


@pytest.mark.parametrize("optimizer_class,reference,options", CASES)
def test_new_optimizers_match_pytorchs_formulas(optimizer_class, reference, options):
    steps = 9   # (RAdam's rectified branch starts at step 6 with beta2 = 0.999 and 3 with 0.9)
    result, _ = run(optimizer_class, steps, **options)
    np.testing.assert_allclose(result, reference(steps, **options), rtol=1e-12, atol=1e-12)


def test_accepted_pytorch_only_arguments_change_nothing():
    plain, _ = run(hg.optim.Adam, 3, lr=0.1)
    flagged, _ = run(hg.optim.Adam, 3, lr=0.1, foreach=True, capturable=True,
                     differentiable=True, fused=False)
    np.testing.assert_array_equal(flagged, plain)


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


@pytest.mark.parametrize("optimizer_class", [hg.optim.Adadelta, hg.optim.Adagrad,
                                             hg.optim.Adamax, hg.optim.NAdam, hg.optim.RAdam,
                                             hg.optim.Rprop, hg.optim.ASGD])
def test_float32_parameters_keep_float32_state_and_pytorch_state_keys(optimizer_class):
    param = hg.nn.Parameter(hg.tensor(P0.astype(np.float32)))
    optimizer = optimizer_class([param], lr=0.01)
    loss_of(param).backward()
    optimizer.step()
    assert param.dtype == np.float32
    keys = {"Adadelta": ["acc_delta", "square_avg", "step"], "Adagrad": ["step", "sum"],
            "Adamax": ["exp_avg", "exp_inf", "step"],
            "NAdam": ["exp_avg", "exp_avg_sq", "mu_product", "step"],
            "RAdam": ["exp_avg", "exp_avg_sq", "step"], "Rprop": ["prev", "step", "step_size"],
            "ASGD": ["ax", "eta", "mu", "step"]}[optimizer_class.__name__]
    assert sorted(optimizer.state[param]) == keys
    for key, value in optimizer.state[param].items():
        assert value.dtype == np.float32, key
        if key in ("step", "mu_product", "eta", "mu"):
            assert value.shape == ()


@pytest.mark.parametrize("make", [
    lambda ps: hg.optim.Adagrad(ps, lr=0.1, lr_decay=0.1),
    lambda ps: hg.optim.Adadelta(ps),
    lambda ps: hg.optim.Adamax(ps, lr=0.1),
    lambda ps: hg.optim.NAdam(ps, lr=0.1),
    lambda ps: hg.optim.RAdam(ps, lr=0.1),
    lambda ps: hg.optim.Rprop(ps, lr=0.1),
    lambda ps: hg.optim.ASGD(ps, lr=0.1, t0=2),
])
def test_state_dict_round_trip_continues_identically(make):
    def fresh():
        return [hg.nn.Parameter(hg.tensor(P0.copy(), dtype=hg.float64))]

    def train(optimizer, params, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            loss_of(params[0]).backward()
            optimizer.step()

    reference_params = fresh()
    reference = make(reference_params)
    train(reference, reference_params, 4)
    saved = reference.state_dict()
    resumed_params = [hg.nn.Parameter(hg.tensor(reference_params[0]._array.copy()))]
    resumed = make(resumed_params)
    resumed.load_state_dict(saved)
    train(reference, reference_params, 3)
    train(resumed, resumed_params, 3)
    np.testing.assert_allclose(resumed_params[0]._array, reference_params[0]._array,
                               rtol=1e-14, atol=0)


# ----------------------------------------------------------------------------------------------
# LBFGS (eager only).

QUADRATIC = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
TARGET = np.array([1.0, -2.0, 0.5])


def _lbfgs_problem(**options):
    x = hg.nn.Parameter(hg.tensor([0.0, 0.0, 0.0], dtype=hg.float64))
    optimizer = hg.optim.LBFGS([x], **options)
    calls = []

    def closure():
        optimizer.zero_grad()
        loss = 0.5 * (x @ (hg.tensor(QUADRATIC) @ x)) - (hg.tensor(TARGET) * x).sum()
        loss.backward()
        calls.append(1)
        return loss

    return x, optimizer, closure, calls


def test_lbfgs_first_iteration_is_a_scaled_gradient_step():
    x, optimizer, closure, calls = _lbfgs_problem(lr=0.5, max_iter=1)
    loss = optimizer.step(closure)
    g = -TARGET   # the gradient at 0: Q x - b
    step = min(1.0, 1.0 / np.abs(g).sum()) * 0.5
    np.testing.assert_allclose(x._array, -step * g, rtol=1e-15)
    assert loss.item() == 0.0 and len(calls) == 1   # (the last iteration does not re-evaluate)
    assert optimizer.state[x]["n_iter"] == 1 and optimizer.state[x]["func_evals"] == 1


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_solves_a_convex_quadratic(line_search_fn):
    x, optimizer, closure, calls = _lbfgs_problem(max_iter=50, line_search_fn=line_search_fn,
                                                  tolerance_grad=1e-12, tolerance_change=1e-15,
                                                  max_eval=100)
    for _ in range(3):
        optimizer.step(closure)
    np.testing.assert_allclose(x._array, np.linalg.solve(QUADRATIC, TARGET), rtol=1e-7)
    assert len(calls) == optimizer.state[x]["func_evals"]


def test_lbfgs_refuses_a_missing_closure_and_parameter_groups():
    x, optimizer, _, _ = _lbfgs_problem()
    with pytest.raises(ValueError, match="closure"):
        optimizer.step()
    with pytest.raises(ValueError, match="parameter groups"):
        hg.optim.LBFGS([{"params": [x]}, {"params": [hg.nn.Parameter(hg.zeros(1))]}])


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
    lambda ps: hg.optim.Adadelta(ps, weight_decay=0.01),
    lambda ps: hg.optim.Adagrad(ps, lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1),
    lambda ps: hg.optim.Adamax(ps, lr=0.05, weight_decay=0.01),
    lambda ps: hg.optim.NAdam(ps, lr=0.05, weight_decay=0.01, decoupled_weight_decay=True),
    lambda ps: hg.optim.RAdam(ps, lr=0.05, betas=(0.9, 0.9)),
    lambda ps: hg.optim.Adam(ps, lr=0.05, maximize=True),
    lambda ps: hg.optim.Rprop(ps, lr=0.05),
    lambda ps: hg.optim.ASGD(ps, lr=0.05, t0=2, weight_decay=0.01),
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
    if kernels._scipy_blas() is None:
        pytest.skip("SciPy's BLAS is not installed: the accumulating GEMM is unavailable")
    hits = []
    original = kernels._accumulate_in_place

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        hits.append(result is not None)
        return result

    monkeypatch.setattr(kernels, "_accumulate_in_place", spy)
    hg.manual_seed(0)
    model = hg.nn.Sequential(hg.nn.Linear(300, 256), _Tanh(), hg.nn.Linear(256, 3))
    optimizer = hg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, dampening=0.1)
    step = hg.jit.train_step(model, _mse, optimizer)
    x = hg.tensor(np.random.default_rng(0).standard_normal((16, 300)).astype(np.float32))
    t = hg.zeros(16, 3)
    for _ in range(3):
        step(x, t)
    assert any(hits), "no momentum update ran as an accumulating GEMM"


def test_lbfgs_state_dict_round_trip_continues_identically():
    x, optimizer, closure, _ = _lbfgs_problem(max_iter=2, line_search_fn="strong_wolfe")
    optimizer.step(closure)
    y, resumed, resumed_closure, _ = _lbfgs_problem(max_iter=2, line_search_fn="strong_wolfe")
    y._array[...] = x._array
    resumed.load_state_dict(optimizer.state_dict())
    optimizer.step(closure)
    resumed.step(resumed_closure)
    np.testing.assert_array_equal(y._array, x._array)


def test_a_fused_one_element_program_may_write_over_an_input_it_reads_again():
    """(found by NAdam's compiled step: the planner gave a 0-d result its input's buffer, and
    the fused kernel skipped its overlap check for one-element operands)"""
    x, two = np.array(3.0), np.array(2.0)
    program = (("mul", (0, 1), 0), ("add", (-1, 0), 0))   # x * 2 + x, written into x
    assert float(kernels.run_fused(x, [x, two], program)) == 9.0


def test_compiled_step_counters_are_computed_once_per_group_while_in_lockstep():
    """Equal step counters across a group are read from one tensor (the bias corrections are
    then computed once per group); counters that differ are each read, with the same results
    as eager steps either way."""
    x, t = hg.tensor(np.ones((3, 4))), hg.tensor(np.zeros((3, 2)))
    eager_model, compiled_model = _double_model(), _double_model()
    eager_opt = hg.optim.Adam(eager_model.parameters(), lr=0.1)
    compiled_opt = hg.optim.Adam(compiled_model.parameters(), lr=0.1)
    step = hg.jit.train_step(compiled_model, _mse, compiled_opt)

    def both(steps):
        for _ in range(steps):
            eager_opt.zero_grad()
            _mse(eager_model(x), t).backward()
            eager_opt.step()
            step(x, t)

    def scalar_ops():   # powers beta^t, fused into elementwise programs or not
        return sum((n.op.name,) + tuple(n.attrs.get("names", ())) == ("pow",)
                   or "pow" in n.attrs.get("names", ()) and n.op.name == "fused"
                   for n in step.graph.nodes if n.kind == "op")

    both(2)
    shared = scalar_ops()
    for optimizer, model in ((eager_opt, eager_model), (compiled_opt, compiled_model)):
        optimizer.state[next(iter(model.parameters()))]["step"]._array[...] = 7.0
    both(2)
    separate = scalar_ops()
    assert separate >= 3 * shared, (separate, shared)   # (4 parameters: once, then each)
    for a, b in zip(eager_model.parameters(), compiled_model.parameters()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(compiled_opt.state[b]["step"]._array,
                                      eager_opt.state[a]["step"]._array)


def test_named_parameters_are_accepted_as_in_pytorch():
    model = hg.nn.Linear(2, 1)
    optimizer = hg.optim.SGD(model.named_parameters(), lr=0.1)
    group = optimizer.param_groups[0]
    assert group["param_names"] == ["weight", "bias"]
    assert group["params"] == [model.weight, model.bias]
    assert optimizer.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    with pytest.raises(ValueError, match="with/without names"):
        optimizer.add_param_group({"params": [hg.nn.Parameter(hg.zeros(1))]})
