# ruff: noqa: A004 - hybridgrad.symbolic.compile is the notes' name
"""Graph-vs-eager parity for every registered operator (forward and symbolic gradients)."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.ops import REGISTRY
from hybridgrad.ops.registry import apply
from hybridgrad.symbolic import Variable, check_plan, compile, grad
from tests.symbolic.op_recipes import RECIPES


def _operands(inputs):
    """Variables for arrays (named x0, x1...), plain values for scalars; and the feeds."""
    symbols, feeds = [], {}
    for index, value in enumerate(inputs):
        if isinstance(value, list):
            parts = []
            for j, part in enumerate(value):
                name = f"x{index}_{j}"
                parts.append(Variable(name, shape=part.shape, dtype=part.dtype))
                feeds[name] = part
            symbols.append(parts)
        elif isinstance(value, np.ndarray):
            name = f"x{index}"
            symbols.append(Variable(name, shape=value.shape, dtype=value.dtype))
            feeds[name] = value
        else:
            symbols.append(value)
    return symbols, feeds


def _tensors(inputs, requires_grad=()):
    out = []
    for index, value in enumerate(inputs):
        if isinstance(value, list):
            out.append([hg.tensor(v, requires_grad=index in requires_grad) for v in value])
        elif isinstance(value, np.ndarray):
            out.append(hg.tensor(value, requires_grad=index in requires_grad))
        else:
            out.append(value)
    return out


def test_every_registered_operator_has_a_recipe():
    missing = sorted(set(REGISTRY) - set(RECIPES))
    assert not missing, (
        f"operators {missing} have no entry in tests/symbolic/op_recipes.py RECIPES; add one "
        f"per operator: 'name': lambda rng: ([inputs...], {{attrs}}, (differentiable input "
        f"positions,)) so that graph-vs-eager parity is tested")


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("optimize", [True, False])
def test_forward_parity(name, optimize):
    if name not in RECIPES:
        pytest.fail(f"no recipe for operator {name!r} in tests/symbolic/op_recipes.py")
    inputs, attrs, _ = RECIPES[name](np.random.default_rng(0))
    eager = apply(name, *_tensors(inputs), **attrs)._array
    symbols, feeds = _operands(inputs)
    out = apply(name, *symbols, **attrs)
    assert out.shape == eager.shape and out.dtype == eager.dtype
    # A consumer after the operator, so that planned buffers and in-place paths are exercised.
    f = compile([out, out * 2] if eager.dtype.kind == "f" else [out], optimize=optimize)
    results = f(**feeds)
    np.testing.assert_allclose(results[0], eager, rtol=1e-12, atol=0)
    assert results[0].dtype == eager.dtype
    if len(results) > 1:
        np.testing.assert_allclose(results[1], eager * 2, rtol=1e-12)
    if optimize:
        check_plan(f.plan)


@pytest.mark.parametrize("name", sorted(n for n in RECIPES if n in REGISTRY and RECIPES[n](
    np.random.default_rng(0))[2]))
def test_gradient_parity(name):
    rng = np.random.default_rng(1)
    inputs, attrs, wrt = RECIPES[name](rng)
    tensors = _tensors(inputs, requires_grad=wrt)
    out = apply(name, *tensors, **attrs)
    weights = rng.standard_normal(out.shape)
    (out * hg.tensor(weights)).sum().backward()
    symbols, feeds = _operands(inputs)
    y = (apply(name, *symbols, **attrs) * weights).sum()
    targets = [symbols[i][0] if isinstance(symbols[i], list) else symbols[i] for i in wrt]
    eager_grads = [tensors[i][0].grad._array if isinstance(tensors[i], list)
                   else tensors[i].grad._array for i in wrt]
    f = compile(grad(y, targets))
    # The gradient graph reads only the inputs it needs (add's gradient reads none).
    results = f(**{k: v for k, v in feeds.items() if k in f.input_names})
    for got, want in zip(results, eager_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    check_plan(f.plan)
