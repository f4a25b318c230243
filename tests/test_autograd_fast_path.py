"""The engine's first-order fast path: ``OpDef.forward_saving`` (arrays the node keeps, as
PyTorch's ``ctx.save_for_backward``) and ``OpDef.vjp_array`` (a VJP on arrays used when no graph
of the gradient is wanted), on a demo primitive ``cube`` whose every path is counted."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.autograd import apply_with_saved
from hybridgrad.ops import REGISTRY, apply, register
from hybridgrad.testing import gradcheck, gradgradcheck

CALLS: dict[str, int] = {}


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


def _cube_saving(xp, a, decline=False):
    _count("forward_saving")
    return _cube_arrays(xp, a)


def _cube_arrays(xp, a):
    square = a * a
    return square * a, (square,)


def _cube_vjp_array(xp, grad, inputs, output, saved, needs, decline=False):
    _count("vjp_array")
    if decline:
        return None  # the framework-operator VJP runs instead
    (square,) = saved
    return (grad * 3 * square,)


def _cube_vjp(grad, inputs, output, needs, decline=False):
    _count("vjp")
    return (grad * 3 * inputs[0] * inputs[0],)


@pytest.fixture
def cube():
    def forward(xp, a, decline=False):
        _count("forward")
        return _cube_arrays(xp, a)[0]

    register("cube_demo", shape=lambda a, decline=False: a, vjp=_cube_vjp, arg_names=("a",),
             forward_saving=_cube_saving,
             vjp_array=_cube_vjp_array)(forward)
    CALLS.clear()
    yield lambda x, **attrs: apply("cube_demo", x, **attrs)
    del REGISTRY["cube_demo"]


def test_first_order_backward_runs_the_array_vjp_on_the_saved_arrays(cube):
    x = hg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = cube(x)
    assert CALLS == {"forward_saving": 1}
    np.testing.assert_array_equal(y._node.saved[0], [1.0, 4.0, 9.0])
    y.sum().backward()
    assert CALLS == {"forward_saving": 1, "vjp_array": 1}
    assert x.grad.tolist() == [3.0, 12.0, 27.0]
    assert y._node.saved is None  # freed with the graph


def test_create_graph_uses_the_framework_vjp_so_second_derivatives_work(cube):
    x = hg.tensor([1.0, -2.0], requires_grad=True)
    (dx,) = hg.autograd.grad(cube(x).sum(), x, create_graph=True)
    assert CALLS.get("vjp") == 1 and "vjp_array" not in CALLS
    (d2x,) = hg.autograd.grad(dx.sum(), x)
    assert d2x.tolist() == [6.0, -12.0]
    x64 = hg.tensor(np.array([0.5, -1.5]), requires_grad=True)
    assert gradcheck(cube, [x64]) and gradgradcheck(cube, [x64])


def test_a_declining_array_vjp_falls_back_to_the_framework_vjp(cube):
    x = hg.tensor([2.0], requires_grad=True)
    cube(x, decline=True).backward(hg.ones(1))
    assert CALLS.get("vjp_array") == 1 and CALLS.get("vjp") == 1
    assert x.grad.tolist() == [12.0]


def test_saved_arrays_survive_retain_graph_and_nothing_is_saved_without_a_graph(cube):
    x = hg.tensor([1.0, 2.0], requires_grad=True)
    y = cube(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    with hg.no_grad():
        assert cube(x)._node is None
    assert cube(hg.tensor([1.0]))._node is None  # nothing requires grad
    assert CALLS["forward"] == 2 and CALLS["forward_saving"] == 1


def test_apply_with_saved_returns_the_saved_arrays_with_or_without_a_graph(cube):
    with hg.no_grad():
        out, (square,) = apply_with_saved("cube_demo", hg.tensor([3.0]))
    assert out.tolist() == [27.0] and square.tolist() == [9.0] and out._node is None
    with pytest.raises(ValueError, match="apply_with_saved: add saves nothing"):
        apply_with_saved("add", hg.ones(1), hg.ones(1))
