"""ONNX reductions (Reduce*, ArgMax/ArgMin) over static axes.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins

import numpy as np

from hybridgrad.onnx.ops.core import NodeContext, _axis, _cast, _float, _ndim, const, onnx_op
from hybridgrad.ops import api

# ----------------------------------------------------------------------------------------------
# Reductions.


def _reduce_axes(ctx, axes_input_from: int):
    """Axes as a sorted tuple, or None for "all"; () means "reduce nothing" (noop)."""
    x = ctx.inputs[0]
    if ctx.version >= axes_input_from:
        axes = ctx.static(1)
    else:
        axes = ctx.attr("axes")
    if axes is None or len(axes) == 0:
        if ctx.attr("noop_with_empty_axes", 0) and ctx.version >= axes_input_from:
            return ()
        return None
    return tuple(sorted({_axis(int(a), _ndim(x)) for a in np.asarray(axes).reshape(-1)}))


def _register_reduce(op_type, function, axes_input_from=18, identity=None, noop=None):
    def handler(ctx: NodeContext):
        x = ctx.inputs[0]
        axes = _reduce_axes(ctx, axes_input_from)
        keepdims = bool(ctx.attr("keepdims", 1))
        if axes == ():
            return noop(x) if noop is not None else x
        all_axes = tuple(range(_ndim(x))) if axes is None else axes
        if keepdims:
            reduced_shape = tuple(1 if i in all_axes else s for i, s in enumerate(x.shape))
        else:
            reduced_shape = tuple(s for i, s in enumerate(x.shape) if i not in all_axes)
        if builtins.any(x.shape[a] == 0 for a in all_axes) and identity is not None:
            return const(np.full(reduced_shape, identity(x.dtype), dtype=x.dtype))
        source = _cast(x, np.int8) if x.dtype.kind == "b" else x
        out = function(source, all_axes, keepdims)
        if out.dtype != x.dtype:
            out = _cast(out, x.dtype)
        return out

    onnx_op(op_type)(handler)


def _lowest(dtype):
    if dtype.kind == "b":
        return False
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    if dtype.kind == "b":
        return True
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _mean_reduce(x, axes, keepdims):
    return api.mean(_float(x), axes, keepdims)


_register_reduce("ReduceSum", lambda x, a, k: api.sum(x, a, k), 13, lambda d: 0)
_register_reduce("ReduceMean", _mean_reduce, 18, lambda d: np.nan)
_register_reduce("ReduceMax", lambda x, a, k: api.amax(x, a, k), 18, _lowest)
_register_reduce("ReduceMin", lambda x, a, k: api.amin(x, a, k), 18, _highest)
_register_reduce("ReduceProd", lambda x, a, k: api.prod(x, a, k), 18, lambda d: 1)
_register_reduce("ReduceL1", lambda x, a, k: api.sum(api.abs(x), a, k), 18, lambda d: 0,
                 noop=lambda x: api.abs(x))
_register_reduce("ReduceL2", lambda x, a, k: api.sqrt(api.sum(_float(x) * _float(x), a, k)), 18,
                 lambda d: 0, noop=lambda x: api.abs(x))
_register_reduce("ReduceSumSquare", lambda x, a, k: api.sum(x * x, a, k), 18, lambda d: 0,
                 noop=lambda x: x * x)
_register_reduce("ReduceLogSum", lambda x, a, k: api.log(api.sum(_float(x), a, k)), 18,
                 lambda d: -np.inf, noop=lambda x: api.log(x))
_register_reduce("ReduceLogSumExp", lambda x, a, k: api.logsumexp(_float(x), a, k), 18,
                 lambda d: -np.inf, noop=lambda x: x)


def _arg_reduce(largest: bool):
    def handler(ctx: NodeContext):
        x = ctx.inputs[0]
        axis = _axis(ctx.attr("axis", 0), _ndim(x))
        keepdims = bool(ctx.attr("keepdims", 1))
        source = x if largest else -x if x.dtype.kind != "u" else _cast(x, np.int64) * -1
        if ctx.attr("select_last_index", 0):
            # Flip the axis so that the first hit is the last index, then map back.
            length = x.shape[axis]
            flipped = api.getitem(source, (slice(None),) * axis + (slice(None, None, -1),))
            index = api.argmax(flipped, axis, keepdims)
            return const(np.asarray(length - 1, dtype=np.int64)) - index
        return api.argmax(source, axis, keepdims)

    return handler


onnx_op("ArgMax")(_arg_reduce(True))
onnx_op("ArgMin")(_arg_reduce(False))
