"""Random primitives: values drawn from :func:`hybridgrad.default_generator` when the operator
runs, so compiled graphs draw fresh numbers on every call (never a mask frozen at trace time).

``dropout_mask(x, p)`` is inverted dropout's scaled keep-mask: ``1/(1-p)`` where a uniform draw
is ``>= p``, else 0, with ``x``'s shape and (floating) dtype. It draws exactly what eager
:func:`hybridgrad.nn.functional.dropout` draws (``default_generator().random(shape)``), so a
traced model and the eager one give identical results from the same seed. The operator carries
``extra={"random": True}``: the graph compiler never folds, merges or rematerialises it, and
runs random nodes in the order of their ``draw`` attribute (the order eager code draws in).

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.ops import apply
    >>> hg.manual_seed(0)
    >>> sorted(set(apply("dropout_mask", hg.ones(100), p=0.5).tolist()))
    [0.0, 2.0]
"""

from __future__ import annotations

import itertools

import numpy as np

from hybridgrad.ops.registry import Spec, register

_DRAWS = itertools.count()


def next_draw() -> int:
    """A increasing number for the ``draw`` attribute of a random node built while tracing: the
    graph compiler runs random nodes in this order, the order in which eager code draws."""
    return next(_DRAWS)


def _mask_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def _dropout_mask_shape(a, p, draw=0):
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout_mask: p must be in [0, 1), got {p}")
    return Spec(tuple(a.shape), _mask_dtype(a.dtype))


@register("dropout_mask", shape=_dropout_mask_shape, formula="dropout_mask({a})",
          arg_names=("a",), extra={"random": True}, aliasing="fresh", foldable=False,
          why_not={"rows": "a random draw: blocks of rows would draw other numbers",
                   "out_kernel": "draws from the generator into a new array"})
def _dropout_mask(xp, a, p, draw=0):
    """Scaled keep-mask of inverted dropout (no gradient: the mask does not depend on ``a``'s
    values, only on its shape). ``draw`` only orders random nodes in a graph."""
    from hybridgrad.random import default_generator

    dtype = _mask_dtype(a.dtype)
    # Drawn on the host by the one generator eager code draws from; the array module gets a copy.
    keep = xp.asarray(default_generator().random(tuple(a.shape)) >= p)
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))
