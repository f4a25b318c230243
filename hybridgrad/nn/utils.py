"""Gradient clipping and parameter/vector conversion (PyTorch's ``torch.nn.utils``).

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([3.0, 4.0]))
    >>> w.grad = hg.tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(v, 4) for v in w.grad.tolist()]
    [0.6, 0.8]
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from hybridgrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def _as_list(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(parameters: Iterable | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type`` norm is at most
    ``max_norm``; returns the total norm before clipping (a 0-d tensor).

    As in PyTorch the scale is ``max_norm / (total_norm + 1e-6)``, applied only when below 1.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.nn.Parameter(hg.zeros(2)); w.grad = hg.tensor([-2.0, 1.0])
        >>> clip_grad_norm_(w, 10.0, norm_type="inf").item(), w.grad.tolist()
        (2.0, [-2.0, 1.0])
    """
    parameters = [p for p in _as_list(parameters) if p.grad is not None]
    grads = [p.grad._array for p in parameters]
    norm_type = float(norm_type)
    if not grads:
        return Tensor._wrap(np.zeros((), dtype=np.float32))
    dtype = np.result_type(*grads)
    if math.isinf(norm_type):
        norms = [np.max(np.abs(g)) if g.size else np.zeros((), dtype) for g in grads]
        total = max(norms)
    else:
        with np.errstate(over="ignore"):   # huge gradients give an infinite norm
            norms = [np.sum(np.abs(g.astype(np.float64)) ** norm_type) for g in grads]
            total = float(np.sum(norms)) ** (1.0 / norm_type)
    total = np.asarray(total, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped; set "
                           "error_if_nonfinite=False to clip anyway")
    coefficient = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    if coefficient < 1.0:
        # New arrays rather than in-place scaling: autograd may hand the same gradient array to
        # several leaves (x + y) or a read-only broadcast view (x.sum()).
        for parameter in parameters:
            grad = parameter.grad._array
            parameter.grad = Tensor._wrap((grad * coefficient).astype(grad.dtype, copy=False))
    return Tensor._wrap(total)


def clip_grad_value_(parameters: Iterable | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` (new gradient arrays).

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.nn.Parameter(hg.zeros(3)); w.grad = hg.tensor([-5.0, 0.5, 5.0])
        >>> clip_grad_value_([w], 1.0); w.grad.tolist()
        [-1.0, 0.5, 1.0]
    """
    clip_value = float(clip_value)
    for parameter in _as_list(parameters):
        if parameter.grad is not None:
            parameter.grad = Tensor._wrap(np.clip(parameter.grad._array, -clip_value, clip_value))


def parameters_to_vector(parameters: Iterable) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (a copy).

    Example:
        >>> import hybridgrad as hg
        >>> parameters_to_vector([hg.ones(2, 2), hg.zeros(1)]).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.0]
    """
    arrays = [p._array.reshape(-1) for p in _as_list(parameters)]
    return Tensor._wrap(np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float32))


def vector_to_parameters(vec: Tensor, parameters: Iterable) -> None:
    """Copy consecutive slices of a 1-D ``vec`` into the parameters' data, in place.

    Example:
        >>> import hybridgrad as hg
        >>> a, b = hg.zeros(2), hg.zeros(1)
        >>> vector_to_parameters(hg.tensor([1.0, 2.0, 3.0]), [a, b]); a.tolist(), b.tolist()
        ([1.0, 2.0], [3.0])
    """
    data = vec._array if isinstance(vec, Tensor) else np.asarray(vec)
    parameters = _as_list(parameters)
    total = sum(p._array.size for p in parameters)
    if data.ndim != 1 or data.size != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} elements, "
                         f"got shape {data.shape}")
    offset = 0
    for parameter in parameters:
        size = parameter._array.size
        parameter._array[...] = data[offset:offset + size].reshape(parameter._array.shape)
        offset += size
