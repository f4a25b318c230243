"""Testing helpers: finite-difference gradient checks (PyTorch's ``gradcheck`` idea).

Example:
    >>> import hybridgrad as hg
    >>> x = hg.tensor([0.3, -1.2], dtype=hg.float64, requires_grad=True)
    >>> gradcheck(lambda t: (t * t).sum(), [x])
    True
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from hybridgrad.autograd import grad as autograd_grad
from hybridgrad.tensor import Tensor


def _as_output(value) -> Tensor:
    if isinstance(value, (tuple, list)):
        return sum((v * float(i + 1)).sum() for i, v in enumerate(value) if v.dtype.kind == "f")
    return value


def numerical_gradients(function: Callable, inputs: Sequence[Tensor], eps: float = 1e-6,
                        projection: np.ndarray | None = None) -> list[np.ndarray]:
    """Central differences of ``sum(projection * function(*inputs))`` for every input element.

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([2.0], dtype=hg.float64)
        >>> [round(float(g[0]), 6) for g in numerical_gradients(lambda t: t ** 2, [x])]
        [4.0]
    """
    def scalar() -> float:
        out = _as_output(function(*inputs))
        data = out._array.astype(np.float64)
        return float((data * projection).sum() if projection is not None else data.sum())

    grads = []
    for tensor in inputs:
        flat = tensor._array.reshape(-1)
        result = np.zeros(flat.shape, dtype=np.float64)
        for index in range(flat.size):
            original = flat[index]
            flat[index] = original + eps
            plus = scalar()
            flat[index] = original - eps
            minus = scalar()
            flat[index] = original
            result[index] = (plus - minus) / (2 * eps)
        grads.append(result.reshape(tensor.shape))
    return grads


def gradcheck(function: Callable, inputs: Sequence[Tensor], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0,
              raise_exception: bool = True) -> bool:
    """Compare autograd's gradients with float64 central differences.

    The (possibly non-scalar) output is contracted with a fixed random projection, so every
    output element's gradient is checked. Inputs should be float64 tensors requiring grad.

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([[1.0, 2.0]], dtype=hg.float64, requires_grad=True)
        >>> gradcheck(lambda t: hg.exp(t) * 3, [x])
        True
    """
    inputs = list(inputs)
    for position, tensor in enumerate(inputs):
        if tensor.dtype != np.float64:
            raise TypeError(f"gradcheck: input {position} is {tensor.dtype}; use float64 inputs")
    output = _as_output(function(*inputs))
    rng = np.random.default_rng(seed)
    projection = rng.standard_normal(output.shape)
    weighted = (output * Tensor._wrap(projection.astype(output.dtype))).sum()
    # An output that does not depend on the inputs through the graph (the gradient of a linear
    # function, in gradgradcheck) has zero derivative.
    analytic = autograd_grad(weighted, inputs, allow_unused=True) if weighted.requires_grad \
        else (None,) * len(inputs)
    numeric = numerical_gradients(function, inputs, eps, projection)
    for position, (got, expected) in enumerate(zip(analytic, numeric)):
        got_array = np.zeros_like(expected) if got is None else got._array
        if got_array.shape != expected.shape or not np.allclose(got_array, expected, atol=atol,
                                                                  rtol=rtol):
            if raise_exception:
                worst = np.max(np.abs(got_array - expected)) if got_array.shape == \
                    expected.shape else float("nan")
                raise AssertionError(
                    f"gradcheck: input {position}: analytic and numerical gradients differ "
                    f"(max abs difference {worst:.3g})\nanalytic:\n{got_array}\n"
                    f"numerical:\n{expected}"
                )
            return False
    return True


def gradgradcheck(function: Callable, inputs: Sequence[Tensor], eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-4, seed: int = 1) -> bool:
    """Check second derivatives: gradcheck of the (projected) first gradient.

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([0.5, 1.5], dtype=hg.float64, requires_grad=True)
        >>> gradgradcheck(lambda t: hg.sin(t) * t, [x])
        True
    """
    inputs = list(inputs)
    output = _as_output(function(*inputs))
    rng = np.random.default_rng(seed)
    projection = Tensor._wrap(rng.standard_normal(output.shape))

    def first_gradient(*values):
        out = _as_output(function(*values))
        grads = autograd_grad((out * projection).sum(), list(values), create_graph=True,
                              allow_unused=True)
        return [g for g in grads if g is not None]

    return gradcheck(first_gradient, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed + 1)
