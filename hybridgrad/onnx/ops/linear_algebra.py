"""ONNX linear algebra: MatMul, Gemm and Einsum.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins

import numpy as np

from hybridgrad.onnx.ops.core import OnnxImportError, _like, _ndim, onnx_op
from hybridgrad.ops import api

# ----------------------------------------------------------------------------------------------
# Linear algebra.


@onnx_op("MatMul")
def _matmul(ctx):
    return api.matmul(ctx.inputs[0], ctx.inputs[1])


@onnx_op("Gemm")
def _gemm(ctx):
    a, b, c = ctx.inputs[0], ctx.inputs[1], ctx.input(2)
    if ctx.attr("transA", 0):
        a = api.transpose(a, 0, 1)
    if ctx.attr("transB", 0):
        b = api.transpose(b, 0, 1)
    out = api.matmul(a, b)
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    if alpha != 1.0:
        out = out * _like(alpha, out)
    if c is not None:
        out = out + (c if beta == 1.0 else c * _like(beta, c))
    return out


@onnx_op("Einsum")
def _einsum(ctx):
    return einsum(ctx.attr("equation"), *ctx.inputs)


def _take_diagonal(x, subs: str):
    """Resolve a repeated index (``ii``) by taking the diagonal (advanced indexing)."""
    while len(set(subs)) != len(subs):
        letter = next(c for c in subs if subs.count(c) > 1)
        first = subs.index(letter)
        second = subs.index(letter, first + 1)
        rest = [i for i in range(len(subs)) if i not in (first, second)]
        x = api.permute(x, [first, second] + rest)
        positions = np.arange(builtins.min(x.shape[0], x.shape[1]))
        x = api.getitem(x, (positions, positions))
        subs = letter + "".join(subs[i] for i in rest)
    return x, subs


def einsum(equation: str, *operands):
    """Einsum by broadcasting multiplies and sums (differentiable), with ellipses and
    repeated indices (diagonals).

    Example:
        >>> import hybridgrad as hg
        >>> einsum("ij,jk->ik", hg.ones(2, 3), hg.ones(3, 4)).shape
        (2, 4)
        >>> einsum("...ii->...i", hg.ones(5, 3, 3)).shape
        (5, 3)
    """
    equation = equation.replace(" ", "")
    inputs_part, arrow, output = equation.partition("->")
    subscripts = inputs_part.split(",")
    if len(subscripts) != len(operands):
        raise OnnxImportError(f"Einsum: {equation!r} names {len(subscripts)} operands, "
                              f"got {len(operands)}")
    used = set(equation)
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    ellipsis_dims = builtins.max(
        [_ndim(x) - (len(subs) - 3) for subs, x in zip(subscripts, operands) if "..." in subs],
        default=0)
    ellipsis_letters = "".join(spare[:ellipsis_dims])
    expanded = []
    for subs, operand in zip(subscripts, operands):
        if "..." in subs:
            count = _ndim(operand) - (len(subs) - 3)
            subs = subs.replace("...", ellipsis_letters[ellipsis_dims - count:])
        if len(subs) != _ndim(operand):
            raise OnnxImportError(f"Einsum: subscripts {subs!r} do not match an operand of "
                                  f"shape {tuple(operand.shape)}")
        expanded.append(subs)
    if arrow:
        output = output.replace("...", ellipsis_letters)
    else:
        joined = "".join(subscripts)
        singles = sorted(c for c in set(joined) if joined.count(c) == 1 and c != ".")
        output = ellipsis_letters + "".join(singles)
    letters = sorted(set("".join(expanded)))
    sizes: dict = {}
    aligned = []
    for subs, operand in zip(expanded, operands):
        operand, subs = _take_diagonal(operand, subs)
        for letter, size in zip(subs, operand.shape):
            sizes[letter] = builtins.max(sizes.get(letter, 1), size)
        order = [subs.index(letter) for letter in letters if letter in subs]
        x = api.permute(operand, order) if order else operand
        shape = [operand.shape[subs.index(letter)] if letter in subs else 1 for letter in letters]
        aligned.append(api.reshape(x, tuple(shape)))
    product = aligned[0]
    for x in aligned[1:]:
        product = product * x
    summed = tuple(i for i, letter in enumerate(letters) if letter not in output)
    if summed:
        product = api.sum(product, summed)
    kept = [letter for letter in letters if letter in output]
    shape = tuple(sizes[letter] for letter in kept)
    product = api.broadcast_to(product, shape) if tuple(product.shape) != shape else product
    order = [kept.index(letter) for letter in output]
    return api.permute(product, order) if order else product
