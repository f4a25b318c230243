"""PyTorch's products and norms (``mm``, ``bmm``, ``addmm``, ``outer``, ``einsum``, ``norm``,
``cdist``, ``diag``, ``trace``, ``cross``, ``meshgrid``...), composed from ``matmul``,
``reshape``/``permute``, ``sum`` and ``getitem``, so they differentiate (twice) like those.

Example:
    >>> import hybridgrad as hg
    >>> a, b = hg.tensor([[1.0, 2.0]]), hg.tensor([[3.0], [4.0]])
    >>> hg.mm(a, b).tolist(), hg.einsum("ij,jk->ik", a, b).tolist()
    ([[11.0]], [[11.0]])
"""

# ruff: noqa: A001, A002 - PyTorch names its arguments input, min, max, sorted
from __future__ import annotations

import math

import numpy as np

from hybridgrad.ops import api


def _check_dims(name: str, tensor, ndim: int, what: str) -> None:
    if len(tensor.shape) != ndim:
        raise RuntimeError(f"{name}: {what} must be a {ndim}D tensor, got shape "
                           f"{list(tensor.shape)}")


def mm(input, mat2):
    """Matrix product of two 2-D tensors.

    Example:
        >>> import hybridgrad as hg
        >>> hg.mm(hg.eye(2), hg.tensor([[1.0], [2.0]])).tolist()
        [[1.0], [2.0]]
    """
    _check_dims("mm", input, 2, "self")
    _check_dims("mm", mat2, 2, "mat2")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x"
                           f"{input.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    return api.matmul(input, mat2)


def bmm(input, mat2):
    """Batched matrix product of two 3-D tensors.

    Example:
        >>> import hybridgrad as hg
        >>> hg.bmm(hg.ones(4, 2, 3), hg.ones(4, 3, 5)).shape
        (4, 2, 5)
    """
    _check_dims("bmm", input, 3, "batch1")
    _check_dims("bmm", mat2, 3, "batch2")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"bmm: batch shapes {list(input.shape)} and {list(mat2.shape)} "
                           "cannot be multiplied")
    return api.matmul(input, mat2)


def mv(input, vec):
    """Matrix-vector product. Example: ``hg.mv(hg.eye(2), hg.ones(2)).tolist() == [1.0, 1.0]``."""
    _check_dims("mv", input, 2, "self")
    _check_dims("mv", vec, 1, "vec")
    return api.matmul(input, vec)


def dot(input, other):
    """Inner product of two 1-D tensors.

    Example:
        >>> import hybridgrad as hg
        >>> hg.dot(hg.tensor([1.0, 2.0]), hg.tensor([3.0, 4.0])).item()
        11.0
    """
    _check_dims("dot", input, 1, "self")
    _check_dims("dot", other, 1, "other")
    return api.sum(input * other)


inner = dot
vdot = dot


def outer(input, vec2):
    """Outer product of two vectors.

    Example:
        >>> import hybridgrad as hg
        >>> hg.outer(hg.tensor([1.0, 2.0]), hg.tensor([3.0, 4.0])).tolist()
        [[3.0, 4.0], [6.0, 8.0]]
    """
    return api.unsqueeze(input, 1) * api.unsqueeze(vec2, 0)


ger = outer


def _scaled(input, product, beta, alpha):
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product + api.mul(input, 0)  # PyTorch ignores input (even NaN) when beta is 0
    return (input if beta == 1 else input * beta) + product


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.addmm(hg.ones(1, 1), hg.ones(1, 2), hg.ones(2, 1), alpha=2).tolist()
        [[5.0]]
    """
    return _scaled(input, mm(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    return _scaled(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``."""
    return _scaled(input, api.sum(bmm(batch1, batch2), 0), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``."""
    return _scaled(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    return _scaled(input, outer(vec1, vec2), beta, alpha)


def tensordot(a, b, dims=2):
    """Contract the last ``dims`` axes of ``a`` with the first of ``b`` (or given axis lists).

    Example:
        >>> import hybridgrad as hg
        >>> hg.tensordot(hg.ones(2, 3, 4), hg.ones(3, 4, 5), dims=2).shape
        (2, 5)
    """
    if isinstance(dims, int):
        axes_a = list(range(len(a.shape) - dims, len(a.shape)))
        axes_b = list(range(dims))
    else:
        axes_a, axes_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    axes_a = [d % len(a.shape) for d in axes_a]
    axes_b = [d % len(b.shape) for d in axes_b]
    free_a = [d for d in range(len(a.shape)) if d not in axes_a]
    free_b = [d for d in range(len(b.shape)) if d not in axes_b]
    size = int(np.prod([a.shape[d] for d in axes_a], dtype=np.int64))
    left = api.reshape(api.permute(a, free_a + axes_a), -1, size)
    right = api.reshape(api.permute(b, axes_b + free_b), size, -1)
    return api.reshape(api.matmul(left, right), tuple(a.shape[d] for d in free_a)
                     + tuple(b.shape[d] for d in free_b))


def _parse_einsum(equation: str, operands) -> tuple[list, str]:
    equation = equation.replace(" ", "")
    if "->" in equation:
        inputs, output = equation.split("->")
    else:
        inputs, output = equation, None
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): {len(terms)} operand subscripts for {len(operands)} "
                         "operands")
    expanded = []
    for term, operand in zip(terms, operands):
        if "..." in term:
            missing = len(operand.shape) - (len(term) - 3)
            term = term.replace("...", "".join(chr(0x3B1 + i) for i in range(missing)))
        if len(term) != len(operand.shape):
            raise ValueError(f"einsum(): subscripts '{term}' do not match an operand of shape "
                             f"{list(operand.shape)}")
        if len(set(term)) != len(term):
            raise NotImplementedError(f"einsum(): repeated subscripts within one operand "
                                      f"('{term}', a diagonal) are not supported")
        expanded.append(term)
    if output is None:
        counts = {}
        for term in expanded:
            for letter in term:
                counts[letter] = counts.get(letter, 0) + 1
        ellipsis = sorted({c for c in counts if ord(c) >= 0x3B1})
        output = "".join(ellipsis) + "".join(sorted(c for c, n in counts.items()
                                                    if n == 1 and ord(c) < 0x3B1))
    elif "..." in output:
        longest = max(expanded, key=lambda t: sum(ord(c) >= 0x3B1 for c in t))
        output = output.replace("...", "".join(c for c in longest if ord(c) >= 0x3B1))
    return expanded, output


def _sum_out(operand, term: str, keep: set) -> tuple:
    """Sum over the letters of ``term`` that are not in ``keep``."""
    axes = [i for i, letter in enumerate(term) if letter not in keep]
    if axes:
        operand = api.sum(operand, tuple(axes))
        term = "".join(letter for letter in term if letter in keep)
    return operand, term


def _contract(a, term_a: str, b, term_b: str, keep: set) -> tuple:
    """Contract two operands over their shared letters not in ``keep``, with one matmul."""
    a, term_a = _sum_out(a, term_a, keep | set(term_b))
    b, term_b = _sum_out(b, term_b, keep | set(term_a))
    batch = [c for c in term_a if c in term_b and c in keep]
    contracted = [c for c in term_a if c in term_b and c not in keep]
    left = [c for c in term_a if c not in term_b]
    right = [c for c in term_b if c not in term_a]
    sizes = dict(zip(term_a, a.shape))
    sizes.update(zip(term_b, b.shape))
    a = api.permute(a, [term_a.index(c) for c in batch + left + contracted])
    b = api.permute(b, [term_b.index(c) for c in batch + contracted + right])

    def total(letters):
        return int(np.prod([sizes[c] for c in letters], dtype=np.int64))

    batch_shape = tuple(sizes[c] for c in batch)
    a = api.reshape(a, batch_shape + (total(left), total(contracted)))
    b = api.reshape(b, batch_shape + (total(contracted), total(right)))
    product = api.matmul(a, b)
    result = api.reshape(product, batch_shape + tuple(sizes[c] for c in left + right))
    return result, "".join(batch + left + right)


def einsum(equation: str, *operands):
    """Einstein summation, e.g. ``"bij,bjk->bik"`` (one matmul per pair of operands).

    Example:
        >>> import hybridgrad as hg
        >>> hg.einsum("i,i->", hg.tensor([1.0, 2.0]), hg.tensor([3.0, 4.0])).item()
        11.0
        >>> hg.einsum("ij->ji", hg.tensor([[1, 2]])).tolist()
        [[1], [2]]
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, output = _parse_einsum(equation, operands)
    current, term = operands[0], terms[0]
    for position in range(1, len(operands)):
        later = set(output).union(*terms[position + 1:]) if position + 1 < len(terms) else set(
            output)
        current, term = _contract(current, term, operands[position], terms[position], later)
    current, term = _sum_out(current, term, set(output))
    if term != output:
        current = api.permute(current, [term.index(c) for c in output])
    return current


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """Vector p-norm (``p`` 2 by default, ``'fro'``, ``1``, ``inf``, ``-inf``, ``0`` or any
    number) over all elements or ``dim``; ``'nuc'`` is not supported.

    Example:
        >>> import hybridgrad as hg
        >>> hg.norm(hg.tensor([3.0, 4.0])).item(), hg.norm(hg.tensor([3.0, -4.0]), 1).item()
        (5.0, 7.0)
    """
    if dtype is not None:
        input = api.to(input, dtype)
    if isinstance(dim, int):
        dim = (dim,)
    if p == "fro" or p == 2 or p is None:
        return api.sqrt(api.sum(input * input, dim, keepdim))
    if p == "nuc" or isinstance(p, str):
        raise NotImplementedError(f"norm: p={p!r} is not supported")
    magnitude = api.abs(input)
    if p == math.inf:
        return api.amax(magnitude, dim, keepdim)
    if p == -math.inf:
        return api.amin(magnitude, dim, keepdim)
    if p == 0:
        return api.sum(api.to(input != 0, input.dtype), dim, keepdim)
    if p == 1:
        return api.sum(magnitude, dim, keepdim)
    return api.sum(magnitude ** p, dim, keepdim) ** (1.0 / p)


def dist(input, other, p: float = 2):
    """The p-norm of ``input - other``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.dist(hg.tensor([0.0, 0.0]), hg.tensor([3.0, 4.0])).item()
        5.0
    """
    return norm(input - other, p)


def cdist(x1, x2, p: float = 2.0, compute_mode=None):
    """Pairwise p-norm distances between the rows of ``x1`` (…, P, M) and ``x2`` (…, R, M).

    Example:
        >>> import hybridgrad as hg
        >>> hg.cdist(hg.tensor([[0.0, 0.0]]), hg.tensor([[3.0, 4.0], [0.0, 1.0]])).tolist()
        [[5.0, 1.0]]
    """
    differences = api.unsqueeze(x1, -2) - api.unsqueeze(x2, -3)
    if p == 2:
        # The gradient of sqrt at 0 is infinite; PyTorch's is 0 there (equal rows).
        squared = api.sum(differences * differences, -1)
        zero = squared == 0
        return api.where(zero, 0.0, api.sqrt(api.where(zero, 1.0, squared)))
    return norm(differences, p, -1)


def diag(input, diagonal: int = 0):
    """A 1-D tensor's diagonal matrix, or a 2-D tensor's ``diagonal``-th diagonal.

    Example:
        >>> import hybridgrad as hg
        >>> hg.diag(hg.tensor([1, 2])).tolist(), hg.diag(hg.tensor([[1, 2], [3, 4]])).tolist()
        ([[1, 0], [0, 2]], [1, 4])
    """
    if len(input.shape) == 1:
        size = input.shape[0] + builtins_abs(diagonal)
        rows = np.arange(input.shape[0]) + builtins_max(-diagonal, 0)
        cols = np.arange(input.shape[0]) + builtins_max(diagonal, 0)
        return api.index_put_add((size, size), (rows, cols), input)
    if len(input.shape) != 2:
        raise RuntimeError(f"diag(): expected a 1-D or 2-D tensor, got shape "
                           f"{list(input.shape)}")
    return diagonal_of(input, diagonal)


def builtins_abs(value: int) -> int:
    return value if value >= 0 else -value


def builtins_max(a: int, b: int) -> int:
    return a if a >= b else b


def diagonal_of(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """The diagonal of the (dim1, dim2) planes, as a last dimension (PyTorch's ``diagonal``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.diagonal(hg.arange(9).reshape(3, 3), 1).tolist()
        [1, 5]
    """
    ndim = len(input.shape)
    dim1, dim2 = dim1 % ndim, dim2 % ndim
    others = [d for d in range(ndim) if d not in (dim1, dim2)]
    moved = api.permute(input, others + [dim1, dim2])
    rows, cols = moved.shape[-2], moved.shape[-1]
    start_row, start_col = builtins_max(-offset, 0), builtins_max(offset, 0)
    length = builtins_max(min(rows - start_row, cols - start_col), 0)
    index = (Ellipsis, np.arange(length) + start_row, np.arange(length) + start_col)
    return api.getitem(moved, index)


diagonal = diagonal_of


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """Matrices whose diagonals are the last dimension of ``input`` (last two dims only)."""
    if (dim1, dim2) != (-2, -1):
        raise NotImplementedError("diag_embed: only dim1=-2, dim2=-1 is supported")
    length = input.shape[-1]
    size = length + builtins_abs(offset)
    rows = np.arange(length) + builtins_max(-offset, 0)
    cols = np.arange(length) + builtins_max(offset, 0)
    shape = tuple(input.shape[:-1]) + (size, size)
    return api.index_put_add(shape, (Ellipsis, rows, cols), input)


def trace(input):
    """Sum of the main diagonal of a 2-D tensor.

    Example:
        >>> import hybridgrad as hg
        >>> hg.trace(hg.tensor([[1.0, 2.0], [3.0, 4.0]])).item()
        5.0
    """
    _check_dims("trace", input, 2, "input")
    return api.sum(diagonal_of(input))


def cross(input, other, dim: int | None = None):
    """Cross product of 3-vectors along ``dim`` (the first dimension of size 3 by default).

    Example:
        >>> import hybridgrad as hg
        >>> hg.cross(hg.tensor([1.0, 0.0, 0.0]), hg.tensor([0.0, 1.0, 0.0])).tolist()
        [0.0, 0.0, 1.0]
    """
    if dim is None:
        dim = next((i for i, s in enumerate(input.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in shape {list(input.shape)}")
    axis = dim % len(input.shape)

    def part(tensor, position):
        return api.getitem(tensor, tuple([slice(None)] * axis + [slice(position, position + 1)]))

    a0, a1, a2 = (part(input, i) for i in range(3))
    b0, b1, b2 = (part(other, i) for i in range(3))
    return api.cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis)


def meshgrid(*tensors, indexing: str | None = None):
    """Coordinate grids from 1-D tensors (``indexing`` 'ij', PyTorch's default, or 'xy').

    Example:
        >>> import hybridgrad as hg
        >>> rows, cols = hg.meshgrid(hg.tensor([1, 2]), hg.tensor([3, 4, 5]), indexing="ij")
        >>> rows.shape, cols[0].tolist()
        ((2, 3), [3, 4, 5])
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        import warnings

        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    swap = indexing == "xy" and len(tensors) >= 2
    ordered = list(tensors)
    if swap:
        ordered[0], ordered[1] = ordered[1], ordered[0]
    shape = tuple(t.shape[0] for t in ordered)
    grids = []
    for position, tensor in enumerate(ordered):
        view = [1] * len(ordered)
        view[position] = tensor.shape[0]
        grids.append(api.broadcast_to(api.reshape(tensor, tuple(view)), shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def broadcast_tensors(*tensors):
    """The tensors broadcast to their common shape.

    Example:
        >>> import hybridgrad as hg
        >>> [t.shape for t in hg.broadcast_tensors(hg.ones(2, 1), hg.ones(3))]
        [(2, 3), (2, 3)]
    """
    shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t if tuple(t.shape) == shape else api.broadcast_to(t, shape) for t in tensors)


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to."""
    from hybridgrad.device import Size

    return Size(np.broadcast_shapes(*(tuple(s) if not isinstance(s, int) else (s,)
                                      for s in shapes)))


def block_diag(*tensors):
    """A block-diagonal matrix of 2-D tensors."""
    rows = sum(t.shape[0] for t in tensors)
    cols = sum(t.shape[1] for t in tensors)
    result, row, col = None, 0, 0
    for tensor in tensors:
        placed = api.pad(tensor, (col, cols - col - tensor.shape[1], row,
                                rows - row - tensor.shape[0]))
        result = placed if result is None else result + placed
        row, col = row + tensor.shape[0], col + tensor.shape[1]
    return result


__all__ = [
    "addbmm", "addmm", "addmv", "addr", "baddbmm", "block_diag", "bmm", "broadcast_shapes",
    "broadcast_tensors", "cdist", "cross", "diag", "diag_embed", "diagonal", "dist", "dot",
    "einsum", "ger", "inner", "meshgrid", "mm", "mv", "norm", "outer", "tensordot", "trace",
    "vdot",
]
