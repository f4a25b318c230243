"""The schedulers PyTorch programs use besides the basic ones (issue 15): warm restarts,
sequences and chains of schedulers, constant, polynomial and multiplicative factors, against
hand-computed values; every scheduler's state_dict resumes the same sequence."""

import math

import pytest

import hybridgrad as hg

L = hg.optim.lr_scheduler


def _optimizer(lr=1.0):
    return hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=lr, momentum=0.9)


def _lrs(scheduler, optimizer, steps):
    values = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        values.append(scheduler.get_last_lr()[0])
    return values


def test_cosine_annealing_warm_restarts_lengthens_each_period():
    optimizer = _optimizer()
    scheduler = L.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2)
    half = lambda t, period: (1 + math.cos(math.pi * t / period)) / 2  # noqa: E731
    expected = [1.0, half(1, 2), 1.0, half(1, 4), half(2, 4), half(3, 4), 1.0]
    assert _lrs(scheduler, optimizer, 6) == pytest.approx(expected, abs=1e-15)
    scheduler.step(3.5)   # fractional epochs: 1.5 into the second (4-long) period
    assert scheduler.get_last_lr()[0] == pytest.approx(half(1.5, 4))
    assert scheduler.last_epoch == 3
    with pytest.raises(ValueError, match="T_0"):
        L.CosineAnnealingWarmRestarts(optimizer, T_0=0)


def test_sequential_lr_restarts_each_scheduler_at_its_milestone():
    optimizer = _optimizer()
    scheduler = L.SequentialLR(optimizer, [L.ConstantLR(optimizer, factor=0.5, total_iters=10),
                                           L.ExponentialLR(optimizer, gamma=0.1)],
                               milestones=[3])
    assert _lrs(scheduler, optimizer, 5) == pytest.approx([0.5, 0.5, 0.5, 1.0, 0.1, 0.01])
    with pytest.raises(ValueError, match="milestones"):
        L.SequentialLR(optimizer, [L.StepLR(optimizer, 2), L.StepLR(optimizer, 3)], [])
    with pytest.raises(ValueError, match="optimizer"):
        L.SequentialLR(optimizer, [L.StepLR(_optimizer(), 2)], [])


def test_chained_constant_polynomial_and_multiplicative_schedules():
    optimizer = _optimizer()
    chained = L.ChainedScheduler([L.ConstantLR(optimizer, factor=0.5, total_iters=2),
                                  L.ExponentialLR(optimizer, gamma=0.5)])
    assert _lrs(chained, optimizer, 3) == pytest.approx([0.5, 0.25, 0.25, 0.125])
    optimizer = _optimizer()
    polynomial = L.PolynomialLR(optimizer, total_iters=4, power=2.0)
    assert _lrs(polynomial, optimizer, 5) == pytest.approx(
        [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0])
    optimizer = _optimizer()
    multiplicative = L.MultiplicativeLR(optimizer, lambda epoch: 1.0 / (epoch + 1))
    assert _lrs(multiplicative, optimizer, 3) == pytest.approx([1.0, 0.5, 0.5 / 3, 0.5 / 12])


def test_cyclic_lr_exp_range_and_beta1_cycling():
    optimizer = hg.optim.Adam([hg.nn.Parameter(hg.zeros(1))], lr=0.1)
    scheduler = L.CyclicLR(optimizer, 0.1, 0.5, step_size_up=1, mode="exp_range", gamma=0.5,
                           base_momentum=0.8, max_momentum=0.9)
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    # step t: base + (max - base) * triangle(t) * gamma**t; triangle 1 at odd t, 0 at even t
    assert _lrs(scheduler, optimizer, 3) == pytest.approx([0.1, 0.3, 0.1, 0.15])
    assert optimizer.param_groups[0]["betas"] == pytest.approx((0.9 - 0.1 * 0.125, 0.999))
    with pytest.raises(ValueError, match="momentum"):
        L.CyclicLR(hg.optim.Adagrad([hg.nn.Parameter(hg.zeros(1))]), 0.1, 0.5)


SCHEDULERS = {
    "CyclicLR": lambda o: L.CyclicLR(o, 0.1, 1.0, step_size_up=2, mode="triangular2"),
    "StepLR": lambda o: L.StepLR(o, step_size=2, gamma=0.5),
    "MultiStepLR": lambda o: L.MultiStepLR(o, milestones=[1, 4], gamma=0.3),
    "ExponentialLR": lambda o: L.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o: L.CosineAnnealingLR(o, T_max=4, eta_min=0.1),
    "OneCycleLR": lambda o: L.OneCycleLR(o, max_lr=2.0, total_steps=12),
    "LambdaLR": lambda o: L.LambdaLR(o, lambda epoch: 0.9 ** epoch),
    "LinearLR": lambda o: L.LinearLR(o, start_factor=0.25, total_iters=4),
    "CosineAnnealingWarmRestarts": lambda o: L.CosineAnnealingWarmRestarts(o, 3, 2, 0.01),
    "ConstantLR": lambda o: L.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda o: L.PolynomialLR(o, total_iters=6, power=0.5),
    "MultiplicativeLR": lambda o: L.MultiplicativeLR(o, lambda epoch: 0.8),
    "SequentialLR": lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.5, total_iters=2),
                                                 L.StepLR(o, 2)], milestones=[2]),
    "ChainedScheduler": lambda o: L.ChainedScheduler([L.ConstantLR(o, 0.5, 3),
                                                      L.ExponentialLR(o, 0.9)]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_state_dict_resumes_the_same_sequence(name):
    optimizer = _optimizer()
    scheduler = SCHEDULERS[name](optimizer)
    _lrs(scheduler, optimizer, 3)
    saved_scheduler, saved_optimizer = scheduler.state_dict(), optimizer.state_dict()
    expected = _lrs(scheduler, optimizer, 5)[1:]
    resumed_optimizer = _optimizer()
    resumed = SCHEDULERS[name](resumed_optimizer)
    resumed_optimizer.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    assert _lrs(resumed, resumed_optimizer, 5)[1:] == pytest.approx(expected, rel=1e-12)


def test_reduce_lr_on_plateau_resumes_from_its_state_dict():
    optimizer = _optimizer()
    scheduler = L.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    for loss in (1.0, 1.0):
        scheduler.step(loss)
    resumed = L.ReduceLROnPlateau(_optimizer(), patience=0, factor=0.5)
    resumed.optimizer.load_state_dict(optimizer.state_dict())
    resumed.load_state_dict(scheduler.state_dict())
    scheduler.step(1.0)
    resumed.step(1.0)
    assert resumed.get_last_lr() == scheduler.get_last_lr() == [0.25]
