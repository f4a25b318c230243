"""LR schedulers against closed-form values; chaining; state_dict round trips."""

import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.optim import lr_scheduler as S


def make_optimizer(lrs=(1.0, 0.1), kind="sgd"):
    groups = [{"params": [hg.nn.Parameter(hg.zeros(1))], "lr": lr} for lr in lrs]
    if kind == "adam":
        return hg.optim.Adam(groups, lr=lrs[0])
    return hg.optim.SGD(groups, lr=lrs[0], momentum=0.9)


def collect(scheduler, optimizer, epochs):
    lrs = []
    for _ in range(epochs):
        lrs.append(scheduler.get_last_lr())
        assert scheduler.get_last_lr() == [g["lr"] for g in optimizer.param_groups]
        optimizer.step()
        scheduler.step()
    return np.array(lrs)


BASE = np.array([1.0, 0.1])


@pytest.mark.parametrize("make,closed_form", [
    (lambda o: S.StepLR(o, step_size=3, gamma=0.5), lambda e: 0.5 ** (e // 3)),
    (lambda o: S.StepLR(o, step_size=1), lambda e: 0.1 ** e),
    (lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
     lambda e: 0.3 ** sum(m <= e for m in [2, 5, 5, 9])),
    (lambda o: S.ExponentialLR(o, gamma=0.9), lambda e: 0.9 ** e),
    (lambda o: S.LambdaLR(o, lambda e: 1.0 / (1 + e) ** 2), lambda e: 1.0 / (1 + e) ** 2),
    (lambda o: S.LinearLR(o), lambda e: 1 / 3 + (2 / 3) * min(e, 5) / 5),
    (lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=4),
     lambda e: 1.0 - 0.8 * min(e, 4) / 4),
])
def test_multiplicative_schedulers_match_closed_form(make, closed_form):
    optimizer = make_optimizer()
    got = collect(make(optimizer), optimizer, 12)
    expected = np.array([[closed_form(e) * b for b in BASE] for e in range(12)])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_annealing_matches_closed_form_beyond_t_max(eta_min):
    optimizer = make_optimizer()
    got = collect(S.CosineAnnealingLR(optimizer, T_max=5, eta_min=eta_min), optimizer, 16)
    expected = np.array([[eta_min + (b - eta_min) * (1 + math.cos(math.pi * e / 5)) / 2
                          for b in BASE] for e in range(16)])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_lambda_per_group_and_step_with_epoch():
    optimizer = make_optimizer()
    scheduler = S.LambdaLR(optimizer, [lambda e: 0.5 ** e, lambda e: e + 1.0])
    scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([0.5, 0.2])
    step = S.StepLR(make_optimizer(), step_size=2, gamma=0.5)
    step.step(epoch=5)   # closed form for explicit epochs
    assert step.get_last_lr() == pytest.approx([0.25, 0.025])


def test_chained_schedulers_multiply():
    optimizer = make_optimizer()
    first = S.StepLR(optimizer, step_size=2, gamma=0.5)
    second = S.ExponentialLR(optimizer, gamma=0.9)
    for epoch in range(1, 7):
        optimizer.step()
        first.step()
        second.step()
        expected = [b * 0.5 ** (epoch // 2) * 0.9 ** epoch for b in BASE]
        assert [g["lr"] for g in optimizer.param_groups] == pytest.approx(expected)


def one_cycle_ref(step, total, max_lr, pct_start=0.3, div=25.0, final_div=1e4, low=0.85,
                  high=0.95, linear=False):
    initial, minimum = max_lr / div, max_lr / div / final_div
    end_warm = pct_start * total - 1

    def anneal(start, end, pct):
        if linear:
            return start + (end - start) * pct
        return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2

    if step <= end_warm:
        pct = step / end_warm
        return anneal(initial, max_lr, pct), anneal(high, low, pct)
    pct = (step - end_warm) / (total - 1 - end_warm)
    return anneal(max_lr, minimum, pct), anneal(low, high, pct)


@pytest.mark.parametrize("kind,strategy", [("sgd", "cos"), ("adam", "cos"), ("sgd", "linear")])
def test_one_cycle_matches_closed_form(kind, strategy):
    optimizer = make_optimizer(kind=kind)
    scheduler = S.OneCycleLR(optimizer, max_lr=[2.0, 0.5], total_steps=20,
                             anneal_strategy=strategy)
    for step in range(20):
        for group, max_lr in zip(optimizer.param_groups, [2.0, 0.5]):
            lr, momentum = one_cycle_ref(step, 20, max_lr, linear=strategy == "linear")
            assert group["lr"] == pytest.approx(lr, rel=1e-10)
            current = group["betas"][0] if kind == "adam" else group["momentum"]
            assert current == pytest.approx(momentum, rel=1e-10)
        optimizer.step()
        if step < 19:
            scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2.0 / 25 / 1e4)
    scheduler.step()
    with pytest.raises(ValueError, match="total steps"):
        scheduler.step()


def test_one_cycle_three_phase_and_epochs():
    optimizer = make_optimizer((1.0,))
    scheduler = S.OneCycleLR(optimizer, max_lr=1.0, epochs=2, steps_per_epoch=10,
                             three_phase=True, cycle_momentum=False)
    lrs = collect(scheduler, optimizer, 20)[:, 0]
    assert lrs[0] == pytest.approx(0.04)
    assert lrs[5] == pytest.approx(1.0)        # end of warm-up: 0.3 * 20 - 1
    assert lrs[10] == pytest.approx(0.04)      # back to initial_lr at 2 * 0.3 * 20 - 2
    assert lrs[19] == pytest.approx(0.04 / 1e4)
    assert optimizer.param_groups[0]["momentum"] == 0.9   # untouched

    class Plain(hg.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

    with pytest.raises(ValueError, match="momentum"):
        S.OneCycleLR(Plain([hg.nn.Parameter(hg.zeros(1))]), max_lr=1.0, total_steps=5)


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, step_size=2, gamma=0.5),
    lambda o: S.MultiStepLR(o, milestones=[1, 4]),
    lambda o: S.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
    lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=12),
    lambda o: S.LambdaLR(o, lambda e: 0.8 ** e),
    lambda o: S.LinearLR(o, start_factor=0.1, total_iters=7),
])
def test_state_dict_round_trip_continues_identically(make):
    optimizer = make_optimizer()
    reference = collect(make(optimizer), optimizer, 10)

    optimizer = make_optimizer()
    scheduler = make(optimizer)
    collect(scheduler, optimizer, 4)
    saved_scheduler, saved_optimizer = scheduler.state_dict(), optimizer.state_dict()
    assert "optimizer" not in saved_scheduler

    resumed_optimizer = make_optimizer()
    resumed = make(resumed_optimizer)
    resumed_optimizer.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    np.testing.assert_allclose(collect(resumed, resumed_optimizer, 6), reference[4:],
                               rtol=1e-12)


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=0.1), 2, last_epoch=3)


def test_reduce_lr_on_plateau():
    optimizer = make_optimizer()
    scheduler = S.ReduceLROnPlateau(optimizer, patience=2, factor=0.5, cooldown=1,
                                    min_lr=[0.3, 0.0])
    metrics = [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    lrs = []
    for metric in metrics:
        scheduler.step(metric)
        lrs.append(scheduler.get_last_lr())
    # Hand trace: best 4.0 at epoch 2; epochs 3, 4, 5 are bad, and the third (> patience)
    # halves the lr at epoch 5; epoch 6 is cooldown (count reset); epochs 7, 8 bad; 3.0 at
    # epoch 9 is the new best; epochs 10, 11, 12 bad: second reduction at epoch 12, where the
    # first group stops at its min_lr.
    first = [0.5, 0.05]
    second = [0.3, 0.025]
    expected = [[1.0, 0.1]] * 4 + [first] * 7 + [second] * 3
    np.testing.assert_allclose(lrs, expected)
    saved = scheduler.state_dict()
    assert "optimizer" not in saved and saved["best"] == 3.0
    restored = S.ReduceLROnPlateau(make_optimizer(), patience=2)
    restored.load_state_dict(saved)
    assert restored.patience == 2 and restored.best == 3.0 and restored.min_lrs == [0.3, 0.0]
    maximize = S.ReduceLROnPlateau(make_optimizer(), mode="max", patience=0,
                                   threshold_mode="abs", threshold=0.5)
    for metric in [1.0, 1.4, 2.0]:
        maximize.step(metric)
    assert maximize.get_last_lr() == pytest.approx([0.1, 0.01])
