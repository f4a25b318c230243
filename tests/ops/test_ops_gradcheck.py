"""Float64 central-difference gradient checks for every differentiable primitive in the registry.

``CASES`` maps each core primitive's name to a hypothesis-driven case builder returning
``(function, input arrays)``. ``test_every_differentiable_primitive_has_a_gradcheck`` enumerates
``hybridgrad.ops.REGISTRY``: a primitive with a VJP must either have a case here or name, in its
``register(..., gradcheck="tests/<path>.py")`` slot, a test file that gradchecks it (see
DEVELOPERS.md, "Adding a primitive").
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import hybridgrad as hg
from hybridgrad.ops import REGISTRY, api, apply
from hybridgrad.testing import gradcheck, gradgradcheck

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHAPES = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
NONEMPTY = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


def _rng(data) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def _two_shapes(data):
    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    return shapes.input_shapes


def _normal(rng, shape):
    return rng.standard_normal(shape)


def _off_grid(rng, shape, scale=0.5):
    """Values (k + 0.5) * scale: never 0 nor within scale/2 of a kink at 0."""
    return (rng.integers(-4, 4, size=shape) + 0.5) * scale


def _unary(name, values=_normal):
    def case(data):
        rng = _rng(data)
        shape = data.draw(SHAPES)
        return (lambda a: apply(name, a)), [values(rng, shape)]

    return case


def _binary(name, left=_normal, right=_normal):
    def case(data):
        rng = _rng(data)
        shape_a, shape_b = _two_shapes(data)
        return (lambda a, b: apply(name, a, b)), [left(rng, shape_a), right(rng, shape_b)]

    return case


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def _away_from_zero(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def _integers(rng, shape):
    return rng.integers(-3, 3, size=shape).astype(np.float64)


def _halves(rng, shape):
    return rng.integers(-3, 3, size=shape) + 0.5


def _case_where(data):
    rng = _rng(data)
    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
    condition = hg.tensor(rng.random(shapes.input_shapes[0]) < 0.5)
    return (lambda a, b: hg.where(condition, a, b)), [
        _normal(rng, shapes.input_shapes[1]), _normal(rng, shapes.input_shapes[2])]


def _case_clamp(data):
    rng = _rng(data)
    low, high = data.draw(st.sampled_from([(-0.5, 0.5), (None, 0.5), (-0.5, None)]))
    return (lambda a: apply("clamp", a, low=low, high=high)), [
        _off_grid(rng, data.draw(SHAPES), 0.25)]


def _case_cast(data):
    rng = _rng(data)
    return (lambda a: apply("cast", a, dtype=hg.float64) * 2), [_normal(rng, data.draw(SHAPES))]


def _case_reduction(name, values=_normal):
    def case(data):
        rng = _rng(data)
        shape = data.draw(SHAPES)
        axes = data.draw(st.one_of(st.none(), st.sets(st.integers(0, len(shape) - 1))
                                   .map(lambda s: tuple(sorted(s))))) if shape else None
        keepdims = data.draw(st.booleans())
        return (lambda a: apply(name, a, axis=axes, keepdims=keepdims)), [values(rng, shape)]

    return case


def _distinct(rng, shape):
    size = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(size) * 0.5 - size / 4).reshape(shape)


def _with_zeros(rng, shape):
    values = rng.uniform(0.5, 1.5, size=shape)
    mask = rng.random(shape) < 0.3
    return np.where(mask, 0.0, values)


def _case_matmul(data):
    rng = _rng(data)
    n, k, m = (data.draw(st.integers(1, 3)) for _ in range(3))
    kind = data.draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched", "broadcast"]))
    batch_a, batch_b = _two_shapes(data) if kind == "broadcast" else ((2,), (2,))
    shapes = {
        "vv": ((k,), (k,)),
        "vm": ((k,), (k, m)),
        "mv": ((n, k), (k,)),
        "mm": ((n, k), (k, m)),
        "batched": (batch_a + (n, k), batch_b + (k, m)),
        "broadcast": (tuple(batch_a) + (n, k), tuple(batch_b) + (k, m)),
    }[kind]
    return (lambda a, b: a @ b), [_normal(rng, shapes[0]), _normal(rng, shapes[1])]


def _case_reshape(data):
    rng = _rng(data)
    shape = data.draw(SHAPES)
    target = tuple(reversed(shape)) + (1,)
    return (lambda a: apply("reshape", a, shape=target)), [_normal(rng, shape)]


def _case_permute(data):
    rng = _rng(data)
    shape = data.draw(SHAPES)
    dims = tuple(data.draw(st.permutations(range(len(shape)))))
    return (lambda a: apply("permute", a, dims=dims)), [_normal(rng, shape)]


def _case_broadcast_to(data):
    rng = _rng(data)
    shape_a, shape_b = _two_shapes(data)
    target = tuple(np.broadcast_shapes(shape_a, shape_b))
    return (lambda a: apply("broadcast_to", a, shape=target)), [_normal(rng, shape_a)]


def _case_cat(data):
    rng = _rng(data)
    shape = data.draw(NONEMPTY)
    axis = data.draw(st.integers(0, len(shape) - 1))
    count = data.draw(st.integers(1, 3))
    shapes = [shape[:axis] + (data.draw(st.integers(1, 3)),) + shape[axis + 1:]
              for _ in range(count)]
    return (lambda *xs: hg.cat(list(xs), dim=axis)), [_normal(rng, s) for s in shapes]


def _case_pad(data):
    rng = _rng(data)
    shape = data.draw(NONEMPTY)
    pads = [data.draw(st.integers(0, 2)) for _ in range(2 * data.draw(
        st.integers(1, len(shape))))]
    return (lambda a: hg.pad(a, pads, value=1.5)), [_normal(rng, shape)]


def _index_for(data, shape):
    """A random index: ints, slices with steps, None, Ellipsis, integer arrays or a bool mask."""
    kind = data.draw(st.sampled_from(["basic", "int_array", "bool_mask", "mixed"]))
    if kind == "bool_mask":
        return np.random.default_rng(data.draw(st.integers(0, 99))).random(shape) < 0.5
    index = []
    length = data.draw(st.integers(1, 4))  # Integer arrays of one index must broadcast.
    for axis, size in enumerate(shape):
        choice = data.draw(st.sampled_from(["int", "slice", "array", "none", "all"]))
        if kind == "basic" and choice == "array":
            choice = "slice"
        if kind == "int_array" and axis == 0:
            choice = "array"
        if choice == "int":
            index.append(data.draw(st.integers(-size, size - 1)))
        elif choice == "slice":
            start = data.draw(st.integers(0, size - 1))
            step = data.draw(st.sampled_from([1, 2, -1]))
            index.append(slice(start, None, step) if step > 0 else slice(None, None, step))
        elif choice == "array":
            # Repeated indices: the backward pass must accumulate them.
            index.append(np.asarray(data.draw(st.lists(st.integers(-size, size - 1),
                                                       min_size=length, max_size=length))))
        elif choice == "none":
            index.append(None)
            index.append(slice(None))
        else:
            index.append(Ellipsis if not any(i is Ellipsis for i in index) else slice(None))
    return tuple(index)


def _case_getitem(data):
    rng = _rng(data)
    shape = data.draw(NONEMPTY)
    index = _index_for(data, shape)
    return (lambda a: a[index]), [_normal(rng, shape)]


def _case_index_add_zeros(data):
    rng = _rng(data)
    shape = data.draw(NONEMPTY)
    index = _index_for(data, shape)
    values_shape = np.zeros(shape)[index].shape
    return (lambda v: api.index_put_add(shape, index, v)), [_normal(rng, values_shape)]


def _case_gather(data):
    rng = _rng(data)
    shape = data.draw(NONEMPTY)
    axis = data.draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(data.draw(st.integers(1, s)) if d != axis else data.draw(
        st.integers(1, 4)) for d, s in enumerate(shape))
    index = hg.tensor(rng.integers(0, shape[axis], size=index_shape))
    return (lambda a: hg.gather(a, axis, index)), [_normal(rng, shape)]


def _case_scatter_add(data):
    rng = _rng(data)
    shape = data.draw(NONEMPTY)
    axis = data.draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(data.draw(st.integers(1, s)) if d != axis else data.draw(
        st.integers(1, 4)) for d, s in enumerate(shape))
    index = hg.tensor(rng.integers(0, shape[axis], size=index_shape))
    return (lambda a, src: hg.scatter_add(a, axis, index, src)), [
        _normal(rng, shape), _normal(rng, index_shape)]


CASES = {
    "neg": _unary("neg"),
    "exp": _unary("exp"),
    "log": _unary("log", _positive),
    "sqrt": _unary("sqrt", _positive),
    "abs": _unary("abs", _off_grid),
    "sign": _unary("sign", _off_grid),
    "sin": _unary("sin"),
    "cos": _unary("cos"),
    "tanh": _unary("tanh"),
    "sigmoid": _unary("sigmoid"),
    "relu": _unary("relu", _off_grid),
    "softplus": _unary("softplus"),
    "erf": _unary("erf"),
    "cast": _case_cast,
    "add": _binary("add"),
    "sub": _binary("sub"),
    "mul": _binary("mul"),
    "div": _binary("div", _normal, _away_from_zero),
    "pow": _binary("pow", _positive, _normal),
    "maximum": _binary("maximum", _integers, _halves),
    "logaddexp": _binary("logaddexp"),
    "minimum": _binary("minimum", _integers, _halves),
    "where": _case_where,
    "clamp": _case_clamp,
    "sum": _case_reduction("sum"),
    "amax": _case_reduction("amax", _distinct),
    "prod": _case_reduction("prod", _with_zeros),
    "matmul": _case_matmul,
    "reshape": _case_reshape,
    "permute": _case_permute,
    "broadcast_to": _case_broadcast_to,
    "cat": _case_cat,
    "pad": _case_pad,
    "getitem": _case_getitem,
    "index_add_zeros": _case_index_add_zeros,
    "gather": _case_gather,
    "scatter_add": _case_scatter_add,
}


def _tensors(arrays):
    return [hg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_gradcheck(name, data):
    function, arrays = CASES[name](data)
    assert gradcheck(function, _tensors(arrays))


def test_every_differentiable_primitive_has_a_gradcheck():
    missing = []
    for name, op in sorted(REGISTRY.items()):
        if op.vjp is None or name in CASES:
            continue
        if op.gradcheck:
            path = ROOT / op.gradcheck
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                if "gradcheck" in text and name in text:
                    continue
            missing.append(f"{name} (declared {op.gradcheck!r}, which must exist, use "
                           f"gradcheck and mention {name!r})")
        else:
            missing.append(name)
    assert not missing, (
        "differentiable primitives without a float64 gradient check: "
        + ", ".join(missing)
        + ". Add a case to CASES in tests/ops/test_ops_gradcheck.py or pass "
        "gradcheck='tests/<your test file>.py' to register(); see DEVELOPERS.md.")


def test_coverage_check_catches_an_unchecked_primitive():
    op = hg.ops.register("unchecked_demo", shape=lambda a: a,
                         vjp=lambda g, i, out, needs: (g,))(lambda xp, a: a)
    try:
        with pytest.raises(AssertionError, match="unchecked_demo"):
            test_every_differentiable_primitive_has_a_gradcheck()
        op.gradcheck = "tests/ops/does_not_exist.py"
        with pytest.raises(AssertionError, match="unchecked_demo"):
            test_every_differentiable_primitive_has_a_gradcheck()
    finally:
        del REGISTRY["unchecked_demo"]


# Composite functions of the public API (compositions of primitives): gradients through them.
COMPOSITES = {
    "softmax": (lambda a: hg.softmax(a, dim=-1), _normal),
    "log_softmax": (lambda a: hg.log_softmax(a, dim=0), _normal),
    "logsumexp": (lambda a: hg.logsumexp(a, dim=-1), _normal),
    "mean": (lambda a: hg.mean(a, dim=0, keepdim=True), _normal),
    "var": (lambda a: hg.var(a, dim=-1), _normal),
    "std": (lambda a: hg.std(a), _normal),
    "amin": (lambda a: hg.amin(a, dim=-1), _distinct),
    "max_dim": (lambda a: a.max(dim=0).values, _distinct),
    "stack": (lambda a: hg.stack([a, a * 2], dim=-1), _normal),
    "split": (lambda a: hg.split(a, 1, dim=0)[-1], _normal),
    "chunk": (lambda a: hg.chunk(a, 2, dim=-1)[0], _normal),
    "repeat": (lambda a: a.repeat(2, 1, 3), _normal),
    "expand": (lambda a: a.unsqueeze(0).expand(2, *a.shape), _normal),
    "flatten_T": (lambda a: a.T.flatten(), _normal),
    "squeeze": (lambda a: a.unsqueeze(1).squeeze(1), _normal),
    "transpose": (lambda a: a.transpose(0, -1), _normal),
    "softplus_beta": (lambda a: hg.softplus(a, beta=2.0), _normal),
    "clone": (lambda a: a.clone(), _normal),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_composite_gradcheck(name, data):
    function, values = COMPOSITES[name]
    rng = _rng(data)
    shape = data.draw(array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=3))
    assert gradcheck(function, _tensors([values(rng, shape)]))


# Second order: the elementwise primitives and matmul.
SECOND_ORDER = ["neg", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
                "softplus", "erf", "add", "sub", "mul", "div", "pow", "maximum", "minimum",
                "logaddexp", "where", "clamp", "matmul", "sum", "amax", "prod"]


@pytest.mark.parametrize("name", SECOND_ORDER)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_gradgradcheck(name, data):
    function, arrays = CASES[name](data)
    assert gradgradcheck(function, _tensors(arrays))


SECOND_ORDER_COMPOSITES = {
    "softmax": lambda t: hg.softmax(t, dim=1),
    "log_softmax": lambda t: hg.log_softmax(t, dim=0),
    "logsumexp": lambda t: hg.logsumexp(t, dim=1),
    "var": lambda t: t.var(dim=1),
    "getitem_repeated": lambda t: (t * t)[[0, 0, 1], [2, 2, 0]],
    "cat": lambda t: hg.cat([t, t * t], 1),
    "gather": lambda t: hg.gather(t * t, 1, hg.tensor([[0, 0], [2, 1]])),
    "scatter_add": lambda t: hg.scatter_add(t * t, 1, hg.tensor([[0, 0], [2, 1]]),
                                            t[:, :2] * t[:, :2]),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER_COMPOSITES))
def test_composite_gradgradcheck(name):
    values = np.random.default_rng(0).standard_normal((2, 3))
    assert gradgradcheck(SECOND_ORDER_COMPOSITES[name], _tensors([values]))
