"""Fixtures shared by the compiler's tests."""

from __future__ import annotations

import pytest

from hybridgrad.symbolic import kernels


@pytest.fixture(params=["scipy-gemm", "numpy-only"])
def blas(request, monkeypatch):
    """Both paths of a matrix product accumulated into its result (an optimizer state fed a
    weight gradient): one GEMM call through SciPy's BLAS, the row-blocked NumPy epilogue
    without it."""
    if request.param == "numpy-only":
        monkeypatch.setattr(kernels, "_scipy_blas", lambda: None)
    elif kernels._scipy_blas() is None:
        pytest.skip("SciPy is not installed (it comes with the dev and analysis extras)")
    return request.param
