"""PyTorch's ``torch.linalg`` essentials: norms (differentiable, composed of primitives) and the
decompositions and solvers as NumPy computations on tensors outside the graph (asking for their
gradient is a clear error rather than a silent zero).

Example:
    >>> import hybridgrad as hg
    >>> hg.linalg.norm(hg.tensor([3.0, 4.0])).item(), hg.linalg.det(hg.eye(2) * 2).item()
    (5.0, 4.0)
"""

# ruff: noqa: A002, N803, N806 - PyTorch's argument names (input, A, B, UPLO)
from __future__ import annotations

import numpy as np

from hybridgrad.ops import api
from hybridgrad.ops.api_linalg import norm as _norm

__all__ = ["cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_norm", "matrix_rank", "norm",
           "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "vector_norm"]


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None):
    """The ``ord``-norm of the elements (over ``dim``), differentiable.

    Example:
        >>> import hybridgrad as hg
        >>> vector_norm(hg.tensor([[3.0, 4.0]]), dim=1).tolist()
        [5.0]
    """
    return _norm(x, ord, dim, keepdim, dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None):
    """Frobenius (default), 1, inf, -1 or -inf norm of the matrices in the last two dims.

    Example:
        >>> import hybridgrad as hg
        >>> matrix_norm(hg.tensor([[1.0, -2.0], [3.0, 4.0]]), 1).item()
        6.0
    """
    if dtype is not None:
        A = api.to(A, dtype)
    if ord == "fro":
        return api.sqrt(api.sum(A * A, tuple(dim), keepdim))
    magnitude = api.abs(A)
    rows, cols = dim
    if ord in (1, -1):
        sums = api.sum(magnitude, rows, keepdim=True)
        pick = api.amax if ord == 1 else api.amin
        result = pick(sums, cols, keepdim=True)
    elif ord in (float("inf"), -float("inf")):
        sums = api.sum(magnitude, cols, keepdim=True)
        pick = api.amax if ord > 0 else api.amin
        result = pick(sums, rows, keepdim=True)
    else:
        raise NotImplementedError(f"matrix_norm: ord={ord!r} is not supported")
    return result if keepdim else api.squeeze(api.squeeze(result, max(rows, cols) % len(A.shape)),
                                            min(rows, cols) % len(A.shape))


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None):
    """``vector_norm`` for vectors (or with an int ``dim``), ``matrix_norm`` for matrices.

    Example:
        >>> import hybridgrad as hg
        >>> round(norm(hg.tensor([[1.0, 2.0], [2.0, 4.0]])).item(), 4)
        5.0
    """
    if isinstance(dim, int) or (dim is None and len(A.shape) == 1) or (
            dim is None and ord is None):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, "fro" if ord is None else ord, dim or (-2, -1), keepdim, dtype=dtype)


def _values(name: str, tensor) -> np.ndarray:
    from hybridgrad.autograd import is_grad_enabled

    if getattr(tensor, "requires_grad", False) and is_grad_enabled():
        raise RuntimeError(f"linalg.{name}: hybridgrad computes it with NumPy, outside the "
                           f"graph, so it has no gradient; call it on .detach() (or under "
                           f"hg.no_grad()) if no gradient is needed")
    return tensor._array


def _wrap(array):
    from hybridgrad.tensor import Tensor

    return Tensor._wrap(np.asarray(array))


def inv(A):
    """Matrix inverse (no gradient). Example: ``hg.linalg.inv(hg.eye(2) * 2)``."""
    return _wrap(np.linalg.inv(_values("inv", A)))


def pinv(A, *, rcond=None, hermitian: bool = False):
    """Moore-Penrose pseudo-inverse (no gradient)."""
    values = _values("pinv", A)
    return _wrap(np.linalg.pinv(values, hermitian=hermitian) if rcond is None else
                 np.linalg.pinv(values, rcond=rcond, hermitian=hermitian))


def det(A):
    """Determinant (no gradient). Example: ``hg.linalg.det(hg.eye(3)).item() == 1.0``."""
    return _wrap(np.linalg.det(_values("det", A)))


def slogdet(A):
    """``(sign, log|det|)`` (no gradient)."""
    sign, logabsdet = np.linalg.slogdet(_values("slogdet", A))
    return _wrap(sign), _wrap(logabsdet)


def solve(A, B, *, left: bool = True):
    """The X with ``A X = B`` (no gradient).

    Example:
        >>> import hybridgrad as hg
        >>> hg.linalg.solve(hg.eye(2) * 2, hg.tensor([2.0, 4.0])).tolist()
        [1.0, 2.0]
    """
    if not left:
        raise NotImplementedError("linalg.solve: left=False is not supported")
    return _wrap(np.linalg.solve(_values("solve", A), _values("solve", B)))


def eigh(A, UPLO: str = "L"):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices (no gradient)."""
    values, vectors = np.linalg.eigh(_values("eigh", A), UPLO=UPLO)
    return _wrap(values), _wrap(vectors)


def eigvalsh(A, UPLO: str = "L"):
    """Eigenvalues (ascending) of symmetric matrices (no gradient)."""
    return _wrap(np.linalg.eigvalsh(_values("eigvalsh", A), UPLO=UPLO))


def svd(A, full_matrices: bool = True):
    """``(U, S, Vh)`` (no gradient)."""
    u, s, vh = np.linalg.svd(_values("svd", A), full_matrices=full_matrices)
    return _wrap(u), _wrap(s), _wrap(vh)


def svdvals(A):
    """Singular values, descending (no gradient)."""
    return _wrap(np.linalg.svd(_values("svdvals", A), compute_uv=False))


def qr(A, mode: str = "reduced"):
    """``(Q, R)`` (no gradient)."""
    q, r = np.linalg.qr(_values("qr", A), mode=mode)
    return _wrap(q), _wrap(r)


def cholesky(A, *, upper: bool = False):
    """The Cholesky factor (lower, or upper with ``upper=True``; no gradient)."""
    lower = np.linalg.cholesky(_values("cholesky", A))
    return _wrap(np.swapaxes(lower, -1, -2) if upper else lower)


def matrix_rank(A, *, tol=None, hermitian: bool = False):
    """Numerical rank (no gradient)."""
    return _wrap(np.linalg.matrix_rank(_values("matrix_rank", A), tol=tol,
                                       hermitian=hermitian).astype(np.int64))
