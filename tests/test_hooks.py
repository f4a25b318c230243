"""Tensor.register_hook: gradient hooks run in backward, may replace the gradient, and remove."""

import pytest

import hybridgrad as hg


def test_hook_sees_and_replaces_an_intermediate_gradient():
    x = hg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda grad: seen.append(grad.tolist()))
    handle = h.register_hook(lambda grad: grad * 0.5)
    (h * h).sum().backward()
    # d/dh sum(h^2) = 2h = [6, 12]; halved before flowing to x (times 3).
    assert seen == [[6.0, 12.0]]
    assert x.grad.tolist() == [9.0, 18.0]
    handle.remove()
    x.grad = None
    (x * 3 * (x * 3)).sum().backward()
    assert x.grad.tolist() == [18.0, 36.0]


def test_leaf_hook_changes_the_accumulated_grad_and_autograd_grad():
    w = hg.tensor([1.0, -1.0], requires_grad=True)
    w.register_hook(lambda grad: grad.clamp(-0.5, 0.5))
    (w * 4).sum().backward()
    assert w.grad.tolist() == [0.5, 0.5]
    (gradient,) = hg.autograd.grad((w * 4).sum(), w)
    assert gradient.tolist() == [0.5, 0.5]


def test_hook_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        hg.ones(1).register_hook(lambda grad: grad)
