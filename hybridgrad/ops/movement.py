"""Shape and indexing primitives: reshape, permute, broadcast_to, cat, pad, getitem (and its
adjoint index_add_zeros), gather, scatter_add.

Example:
    >>> import hybridgrad as hg
    >>> x = hg.arange(4.0, requires_grad=True)
    >>> x[hg.tensor([0, 0, 3])].sum().backward()
    >>> x.grad.tolist()
    [2.0, 0.0, 0.0, 1.0]
"""

from __future__ import annotations

import numpy as np

from hybridgrad.ops import api
from hybridgrad.ops.registry import OpError, Spec, apply, register


def _reshape_shape(a, shape):
    if int(np.prod(a.shape, dtype=np.int64)) != int(np.prod(shape, dtype=np.int64)):
        raise OpError(f"reshape: cannot reshape a tensor of shape {tuple(a.shape)} into {shape}")
    return Spec(tuple(shape), a.dtype)


def _keeps_rows(batched, shapes, rows, shape):
    """Row rule of reshape and broadcast_to: row-wise when the input already has the rows (the
    caller checks that the result does)."""
    return tuple(shapes[0][:1]) == (rows,)


@register("reshape", shape=_reshape_shape, formula="reshape({a})", derivatives=("1",),
          arg_names=("a",), aliasing="view", rows=_keeps_rows,
          why_not={"out_kernel": "a view of its input"},
          vjp=lambda g, i, out, needs, shape: (api.reshape(g, tuple(i[0].shape)),))
def _reshape(xp, a, shape):
    """Reshape without copying when possible."""
    return xp.reshape(a, shape)


@register("permute", shape=lambda a, dims: Spec(tuple(a.shape[d] for d in dims), a.dtype),
          formula="permute({a}, {dims})", derivatives=("1",), arg_names=("a",),
          aliasing="view", rows=lambda batched, shapes, rows, dims: dims[0] == 0,
          why_not={"out_kernel": "a view of its input"},
          vjp=lambda g, i, out, needs, dims: (api.permute(g, tuple(np.argsort(dims).tolist())),))
def _permute(xp, a, dims):
    """Reorder axes."""
    return xp.transpose(a, dims)


def _broadcast_shape(a, shape):
    from hybridgrad.ops.registry import broadcast_shape

    if broadcast_shape("broadcast_to", tuple(a.shape), shape) != tuple(shape):
        raise OpError(f"broadcast_to: cannot broadcast shape {tuple(a.shape)} to {shape}")
    return Spec(tuple(shape), a.dtype)


# The gradient is g itself: the autograd engine sums it back to the input's shape.
@register("broadcast_to", shape=_broadcast_shape, formula="broadcast({a})",
          derivatives=("1 (summed over the broadcast axes)",), arg_names=("a",),
          aliasing="view", rows=_keeps_rows, why_not={"out_kernel": "a view of its input"},
          vjp=lambda g, i, out, needs, shape: (g,))
def _broadcast_to(xp, a, shape):
    """Broadcast to a shape: a read-only view, or a small filled copy (np.broadcast_to costs
    about 2.5 microseconds of Python-level set-up, filling a small array a tenth of that)."""
    size = 1
    for extent in shape:
        size *= extent
    if size <= _SMALL_BROADCAST:
        out = xp.empty(shape, dtype=a.dtype)
        out[...] = a
        return out
    return xp.broadcast_to(a, shape)


_SMALL_BROADCAST = 4096


def _cat_shape(tensors, axis):
    first = tuple(tensors[0].shape)
    total = 0
    for t in tensors:
        shape = tuple(t.shape)
        if len(shape) != len(first) or any(
            s != f for i, (s, f) in enumerate(zip(shape, first)) if i != axis
        ):
            listed = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise OpError(f"cat: shapes {listed} differ outside dimension {axis}")
        total += shape[axis]
    from hybridgrad.ops.registry import promote

    return Spec(first[:axis] + (total,) + first[axis + 1:], promote(*(t.dtype for t in tensors)))


def _cat_vjp(g, inputs, out, needs, axis):
    grads, start = [], 0
    for needed, tensor in zip(needs, inputs[0]):
        size = tensor.shape[axis]
        if needed:
            grads.append(g[(slice(None),) * axis + (slice(start, start + size),)])
        else:
            grads.append(None)
        start += size
    return grads


@register("cat", shape=_cat_shape, vjp=_cat_vjp, variadic=True, promotes=True,
          formula="cat({a})", derivatives=("1 (the matching slice)",), arg_names=("a",),
          aliasing="fresh", rows=lambda batched, shapes, rows, axis: axis != 0 and all(batched),
          why_not={"out_kernel": "not written yet (np.concatenate takes out=)"})
def _cat(xp, tensors, axis):
    """Concatenate along an axis."""
    return xp.concatenate(tensors, axis=axis)


def _pad_shape(a, widths, value):
    return Spec(tuple(s + lo + hi for s, (lo, hi) in zip(a.shape, widths)), a.dtype)


def _pad_vjp(g, inputs, out, needs, widths, value):
    index = tuple(slice(lo, lo + s) for s, (lo, _) in zip(inputs[0].shape, widths))
    return (g[index],)


@register("pad", shape=_pad_shape, vjp=_pad_vjp, formula="pad({a})",
          derivatives=("1 inside, padding dropped",), arg_names=("a",), aliasing="fresh",
          rows=lambda batched, shapes, rows, widths, value: tuple(widths[0]) == (0, 0),
          why_not={"out_kernel": "np.pad allocates (no out= form)"})
def _pad(xp, a, widths, value):
    """Constant padding (NumPy's pad_width order: one (before, after) pair per axis)."""
    return xp.pad(a, widths, mode="constant", constant_values=value)


# ----------------------------------------------------------------------------------------------
# Indexing.


def _has_array(index: tuple) -> bool:
    return any(isinstance(item, np.ndarray) for item in index)


def _on_device(xp, index: tuple) -> tuple:
    """Index arrays are attributes, kept as NumPy arrays: give the array module its own copy
    (nothing to do when it is NumPy)."""
    if xp is np or not _has_array(index):
        return index
    return tuple(xp.asarray(item) if isinstance(item, np.ndarray) else item for item in index)


def _index_shape(shape: tuple, index: tuple) -> tuple:
    # Indexing a zero-strided view allocates nothing for basic indices.
    dummy = np.broadcast_to(np.zeros((), dtype=np.int8), shape)
    try:
        return tuple(dummy[index].shape)
    except IndexError as error:
        raise OpError(f"getitem: {error} (tensor of shape {shape})") from None


@register("getitem", shape=lambda a, index: Spec(_index_shape(tuple(a.shape), index), a.dtype),
          formula="{a}[{index}]", derivatives=("1 at the selected elements",), arg_names=("a",),
          aliasing="view", why_not={"out_kernel": "a view of its input (basic indexing)",
                                    "rows": "an index may select, drop or mix rows"},
          vjp=lambda g, i, out, needs, index: (
              api.index_put_add(tuple(i[0].shape), index, g),))
def _getitem(xp, a, index):
    """NumPy indexing."""
    return a[_on_device(xp, index)]


@register("index_add_zeros", shape=lambda values, shape, index: Spec(tuple(shape), values.dtype),
          formula="scatter({a})", derivatives=("1 at the indexed elements",), arg_names=("a",),
          aliasing="fresh", why_not={"out_kernel": "zeros, then an unbuffered add at indices",
                                     "rows": "its shape attribute is the whole result's"},
          vjp=lambda g, i, out, needs, shape, index: (api.getitem(g, index),))
def _index_add_zeros(xp, values, shape, index):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated indices accumulate)."""
    out = xp.zeros(shape, dtype=values.dtype)
    if _has_array(index):
        xp.add.at(out, _on_device(xp, index), values)
    else:
        out[index] = values
    return out


def _gather_index(a_shape, index, axis):
    """Slice the input so that take_along_axis sees PyTorch's gather shapes."""
    return tuple(slice(None) if d == axis else slice(0, index.shape[d])
                 for d in range(len(a_shape)))


def _gather_shape(a, index, axis):
    if len(index.shape) != len(a.shape) or index.dtype.kind not in "iu":
        raise OpError(f"gather: index must be an integer tensor with as many dimensions as the "
                      f"input; got input {tuple(a.shape)}, index {tuple(index.shape)} "
                      f"{index.dtype}")
    return Spec(tuple(index.shape), a.dtype)


def _gather_vjp(g, inputs, out, needs, axis):
    a, index = inputs
    # Zeros of a's shape (a constant, in eager and symbolic mode alike); scatter_add copies it.
    base = apply("broadcast_to", np.zeros((), dtype=a.dtype), shape=tuple(a.shape))
    return (api.scatter_add(base, axis, index, g), None)


@register("gather", shape=_gather_shape, vjp=_gather_vjp, formula="gather({a})",
          derivatives=("1 at the gathered elements (accumulated)", "0"), arg_names=("a", "index"),
          aliasing="fresh", rows=lambda batched, shapes, rows, axis: axis != 0 and all(batched),
          why_not={"out_kernel": "np.take_along_axis allocates"})
def _gather(xp, a, index, axis):
    """PyTorch's gather along ``axis``."""
    if index.ndim != a.ndim:
        raise ValueError(f"index has {index.ndim} dimensions, input has {a.ndim}")
    return xp.take_along_axis(a[_gather_index(a.shape, index, axis)], index, axis=axis)


@register("scatter_add", shape=lambda a, index, src, axis: Spec(tuple(a.shape), a.dtype),
          formula="scatter_add({a}, {c})", derivatives=("1", "0", "1 at the scattered slots"),
          arg_names=("a", "index", "c"), aliasing="fresh",
          rows=lambda batched, shapes, rows, axis: axis != 0 and all(batched),
          why_not={"out_kernel": "a copy of the input, then an unbuffered add at indices"},
          vjp=lambda g, i, out, needs, axis: (g if needs[0] else None, None,
                                              api.gather(g, axis, i[1]) if needs[2] else None))
def _scatter_add(xp, a, index, src, axis):
    """out = a; out[..., index, ...] += src along ``axis`` (PyTorch's scatter_add)."""
    if index.ndim != a.ndim or src.ndim != a.ndim:
        raise ValueError(f"input, index and src need the same number of dimensions, got "
                         f"{a.shape}, {index.shape}, {src.shape}")
    out = a.copy()
    # One broadcastable coordinate per axis (NumPy's indices(sparse=True), which CuPy lacks).
    grid = [xp.arange(size).reshape((1,) * axis_ + (size,) + (1,) * (index.ndim - axis_ - 1))
            for axis_, size in enumerate(index.shape)]
    grid[axis] = index
    xp.add.at(out, tuple(grid), src[tuple(slice(0, s) for s in index.shape)].astype(a.dtype))
    return out
