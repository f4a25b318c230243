"""Optimizers against their update formulas written out in NumPy (3 steps, every option),
param groups, closures, zero_grad and state_dict round trips; gradient clipping."""

import itertools
import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

A = np.array([[0.5, 1.5, -0.7], [2.0, -0.3, 0.9]])
B = np.array([[0.1, -0.4, 0.3], [-1.0, 0.2, 0.05]])
P0 = np.array([[1.0, -2.0, 0.5], [0.3, 1.2, -0.8]])


def loss_of(param):
    """sum(A p^2 + B p): gradient 2 A p + B, different at every step."""
    return (hg.tensor(A) * param * param + hg.tensor(B) * param).sum()


def grad_ref(p):
    return 2 * A * p + B


def run(optimizer_class, steps=3, **options):
    param = hg.nn.Parameter(hg.tensor(P0.copy(), dtype=hg.float64))
    optimizer = optimizer_class([param], **options)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_of(param).backward()
        optimizer.step()
    return param._array, optimizer


def sgd_ref(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False, steps=3):
    p, buf = P0.copy(), None
    for _ in range(steps):
        g = grad_ref(p)
        if maximize:
            g = -g
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


SGD_OPTIONS = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.3},
    {"momentum": 0.8, "nesterov": True},
    {"weight_decay": 0.1},
    {"momentum": 0.5, "weight_decay": 0.05, "nesterov": True},
    {"maximize": True},
    {"maximize": True, "momentum": 0.9, "weight_decay": 0.01},
]


@pytest.mark.parametrize("options", SGD_OPTIONS)
def test_sgd_matches_formula(options):
    got, optimizer = run(hg.optim.SGD, lr=0.05, **options)
    np.testing.assert_allclose(got, sgd_ref(0.05, **options), rtol=1e-12)
    if options.get("momentum"):
        assert set(optimizer.state_dict()["state"][0]) == {"momentum_buffer"}


def adam_ref(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False, steps=3):
    p = P0.copy()
    m, v, v_max = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    b1, b2 = betas
    for t in range(1, steps + 1):
        g = grad_ref(p)
        if maximize:
            g = -g
        if weight_decay:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - b2 ** t)
        else:
            v_hat = v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


ADAM_OPTIONS = [
    {},
    {"betas": (0.8, 0.9)},
    {"eps": 1e-3},
    {"weight_decay": 0.1},
    {"amsgrad": True},
    {"amsgrad": True, "weight_decay": 0.05, "betas": (0.5, 0.6)},
    {"maximize": True},
]


@pytest.mark.parametrize("options", ADAM_OPTIONS)
def test_adam_matches_formula(options):
    got, optimizer = run(hg.optim.Adam, lr=0.1, **options)
    np.testing.assert_allclose(got, adam_ref(0.1, **options), rtol=1e-10)
    state = optimizer.state_dict()["state"][0]
    assert state["step"].item() == 3.0
    assert ("max_exp_avg_sq" in state) == bool(options.get("amsgrad"))


@pytest.mark.parametrize("options", ADAM_OPTIONS + [{"weight_decay": 0.0}])
def test_adamw_matches_formula(options):
    got, _ = run(hg.optim.AdamW, lr=0.1, **options)
    expected = adam_ref(0.1, decoupled=True, **{"weight_decay": 1e-2, **options})
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_adamw_differs_from_adam_with_l2():
    adamw, _ = run(hg.optim.AdamW, lr=0.1, weight_decay=0.5)
    adam, _ = run(hg.optim.Adam, lr=0.1, weight_decay=0.5)
    assert not np.allclose(adamw, adam)


def rmsprop_ref(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False, steps=3):
    p = P0.copy()
    square, grad_avg, buf = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for _ in range(steps):
        g = grad_ref(p)
        if maximize:
            g = -g
        if weight_decay:
            g = g + weight_decay * p
        square = alpha * square + (1 - alpha) * g * g
        if centered:
            grad_avg = alpha * grad_avg + (1 - alpha) * g
            avg = np.sqrt(square - grad_avg ** 2) + eps
        else:
            avg = np.sqrt(square) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


RMSPROP_OPTIONS = [
    {},
    {"alpha": 0.9},
    {"eps": 1e-2},
    {"weight_decay": 0.1},
    {"momentum": 0.9},
    {"centered": True},
    {"centered": True, "momentum": 0.5, "weight_decay": 0.01, "alpha": 0.8},
    {"maximize": True},
]


@pytest.mark.parametrize("options", RMSPROP_OPTIONS)
def test_rmsprop_matches_formula(options):
    got, optimizer = run(hg.optim.RMSprop, lr=0.01, **options)
    np.testing.assert_allclose(got, rmsprop_ref(0.01, **options), rtol=1e-10)
    keys = set(optimizer.state_dict()["state"][0])
    assert ("grad_avg" in keys) == bool(options.get("centered"))
    assert ("momentum_buffer" in keys) == bool(options.get("momentum"))


def test_pytorch_defaults():
    """Each optimizer's param_groups hold PyTorch 2.x's keys and default values."""
    param = [hg.nn.Parameter(hg.zeros(1))]
    expected = {
        "SGD": dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                    maximize=False, foreach=None, differentiable=False, fused=None),
        "Adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                     maximize=False, foreach=None, capturable=False, differentiable=False,
                     fused=None, decoupled_weight_decay=False),
        "AdamW": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                      maximize=False, foreach=None, capturable=False, differentiable=False,
                      fused=None, decoupled_weight_decay=True),
        "RMSprop": dict(lr=1e-2, momentum=0, alpha=0.99, eps=1e-8, centered=False,
                        weight_decay=0, capturable=False, foreach=None, maximize=False,
                        differentiable=False),
        "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False,
                         capturable=False, foreach=None, differentiable=False),
        "Adagrad": dict(lr=1e-2, lr_decay=0, eps=1e-10, weight_decay=0,
                        initial_accumulator_value=0, foreach=None, maximize=False,
                        differentiable=False, fused=None),
        "Adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None,
                       maximize=False, differentiable=False, capturable=False),
        "NAdam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                      momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False,
                      foreach=None, capturable=False, differentiable=False),
        "RAdam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False,
                      foreach=None, capturable=False, decoupled_weight_decay=False,
                      differentiable=False),
        "Rprop": dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), foreach=None,
                      maximize=False, differentiable=False, capturable=False),
        "ASGD": dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                     maximize=False, differentiable=False, capturable=False),
        "LBFGS": dict(lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7,
                      tolerance_change=1e-9, history_size=100, line_search_fn=None),
    }
    for name, defaults in expected.items():
        group = getattr(hg.optim, name)(param).param_groups[0]
        assert {k: v for k, v in group.items() if k != "params"} == defaults, name


def test_invalid_options_raise():
    param = [hg.nn.Parameter(hg.zeros(1))]
    with pytest.raises(ValueError, match="Nesterov"):
        hg.optim.SGD(param, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        hg.optim.Adam(param, lr=-1)
    with pytest.raises(ValueError, match="beta"):
        hg.optim.Adam(param, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        hg.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        hg.optim.SGD([{"params": param}, {"params": param}], lr=0.1)


def test_float32_parameters_keep_float32_state():
    param = hg.nn.Parameter(hg.tensor(P0.astype(np.float32)))
    for optimizer_class in (hg.optim.SGD, hg.optim.Adam, hg.optim.RMSprop):
        options = {"momentum": 0.9} if optimizer_class is not hg.optim.Adam else {"amsgrad": True}
        optimizer = optimizer_class([param], lr=0.01, **options)
        optimizer.zero_grad()
        loss_of(param).backward()
        optimizer.step()
        assert param.dtype == np.float32
        for key, value in optimizer.state[param].items():
            if key != "step":
                assert value.dtype == np.float32, (optimizer_class, key)


def test_param_groups_with_own_options_and_skipped_parameters():
    a = hg.nn.Parameter(hg.tensor([1.0, 2.0], dtype=hg.float64))
    b = hg.nn.Parameter(hg.tensor([3.0], dtype=hg.float64))
    unused = hg.nn.Parameter(hg.tensor([5.0], dtype=hg.float64))
    optimizer = hg.optim.SGD([{"params": [a]}, {"params": [b, unused], "lr": 0.5,
                                                 "momentum": 0.9}], lr=0.1)
    assert optimizer.param_groups[0]["momentum"] == 0
    ((a * a).sum() + (b * b).sum()).backward()
    optimizer.step()
    assert a.tolist() == pytest.approx([1.0 - 0.1 * 2, 2.0 - 0.1 * 4])
    assert b.tolist() == pytest.approx([3.0 - 0.5 * 6])
    assert unused.tolist() == [5.0] and unused not in optimizer.state
    optimizer.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0]
    optimizer.zero_grad()
    assert a.grad is None


def test_closure_is_evaluated_with_gradients():
    param = hg.nn.Parameter(hg.tensor([2.0], dtype=hg.float64))
    optimizer = hg.optim.SGD([param], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (param * param).sum()
        loss.backward()
        return loss

    with hg.no_grad():
        loss = optimizer.step(closure)
    assert loss.item() == 4.0 and param.item() == pytest.approx(1.0)


def _train(optimizer, params, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        sum(loss_of(p) for p in params).backward()
        optimizer.step()


@pytest.mark.parametrize("make", [
    lambda ps: hg.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: hg.optim.Adam(ps, lr=0.1, amsgrad=True),
    lambda ps: hg.optim.AdamW(ps, lr=0.1),
    lambda ps: hg.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
])
def test_state_dict_round_trip_continues_identically(make):
    def fresh():
        return [hg.nn.Parameter(hg.tensor(P0.copy(), dtype=hg.float64)),
                hg.nn.Parameter(hg.tensor(P0[0].copy() * 2, dtype=hg.float64))]

    reference_params = fresh()
    reference = make([{"params": reference_params[:1]}, {"params": reference_params[1:]}])
    _train(reference, reference_params, 5)

    params = fresh()
    optimizer = make([{"params": params[:1]}, {"params": params[1:]}])
    _train(optimizer, params, 2)
    saved = optimizer.state_dict()
    snapshot = [p._array.copy() for p in params]
    assert [group["params"] for group in saved["param_groups"]] == [[0], [1]]
    assert set(saved["state"]) == {0, 1}
    _train(optimizer, params, 1)   # must not change the saved snapshot

    resumed_params = [hg.nn.Parameter(hg.tensor(data)) for data in snapshot]
    resumed = make([{"params": resumed_params[:1]}, {"params": resumed_params[1:]}])
    resumed.load_state_dict(saved)
    _train(resumed, resumed_params, 3)
    for got, expected in zip(resumed_params, reference_params):
        np.testing.assert_array_equal(got._array, expected._array)


def test_load_state_dict_checks_group_sizes():
    a, b = hg.nn.Parameter(hg.zeros(1)), hg.nn.Parameter(hg.zeros(1))
    saved = hg.optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match"):
        hg.optim.SGD([a], lr=0.1).load_state_dict(saved)


# ----------------------------------------------------------------------------------------------
# Gradient clipping.


@pytest.mark.parametrize("norm_type,max_norm",
                         list(itertools.product((2.0, 1.0, 3.0, math.inf), (0.5, 100.0))))
def test_clip_grad_norm(norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    params = [hg.nn.Parameter(hg.zeros(*g.shape, dtype=hg.float64)) for g in grads]
    for param, grad in zip(params, grads):
        param.grad = hg.tensor(grad.copy())
    flat = np.concatenate([g.ravel() for g in grads])
    expected = np.max(np.abs(flat)) if math.isinf(norm_type) else np.sum(
        np.abs(flat) ** norm_type) ** (1 / norm_type)
    total = clip_grad_norm_(params, max_norm, norm_type)
    assert total.item() == pytest.approx(expected)
    scale = min(max_norm / (expected + 1e-6), 1.0)
    for param, grad in zip(params, grads):
        np.testing.assert_allclose(param.grad._array, grad * scale, rtol=1e-12)


def test_clip_grad_value_and_vector_conversion():
    param = hg.nn.Parameter(hg.zeros(3))
    param.grad = hg.tensor([-3.0, 0.25, 7.0])
    clip_grad_value_(param, 0.5)
    assert param.grad.tolist() == [-0.5, 0.25, 0.5]
    with pytest.raises(RuntimeError, match="non-finite"):
        param.grad = hg.tensor([np.inf, 0.0, 0.0])
        clip_grad_norm_([param], 1.0, error_if_nonfinite=True)
    a, b = hg.nn.Parameter(hg.zeros(2, 2)), hg.nn.Parameter(hg.zeros(3))
    vector_to_parameters(hg.arange(7.0), [a, b])
    assert parameters_to_vector([a, b]).tolist() == list(range(7))


def test_clipping_handles_shared_and_read_only_gradients():
    # x + y hands the same gradient array to both leaves; x.sum() gives a broadcast view.
    x, y = hg.nn.Parameter(hg.zeros(4)), hg.nn.Parameter(hg.zeros(4))
    ((x + y) * 3.0).sum().backward()
    total = clip_grad_norm_([x, y], 1.0)
    assert total.item() == pytest.approx(math.sqrt(8 * 9))
    expected = 3.0 / math.sqrt(72)
    np.testing.assert_allclose(x.grad._array, expected, rtol=1e-5)
    np.testing.assert_allclose(y.grad._array, expected, rtol=1e-5)
    z = hg.nn.Parameter(hg.zeros(3))
    z.sum().backward()
    assert z.grad._array.flags.writeable
    clip_grad_value_([z], 0.5)
    assert z.grad.tolist() == [0.5, 0.5, 0.5]
    z.grad = None
    z.sum().backward()
    clip_grad_norm_([z], 0.1)
    assert np.linalg.norm(z.grad._array) == pytest.approx(0.1, rel=1e-4)
