"""hg.linalg: differentiable norms, NumPy decompositions outside the graph."""

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.testing import gradcheck


def test_norms_match_numpy_and_gradcheck():
    a = np.array([[1.0, -2.0, 0.5], [3.0, 4.0, -1.0]])
    t = hg.tensor(a)
    assert hg.linalg.norm(t).item() == pytest.approx(np.linalg.norm(a))
    for order in (1, -1, float("inf"), -float("inf"), "fro"):
        assert hg.linalg.matrix_norm(t, order).item() == pytest.approx(np.linalg.norm(a, order))
    np.testing.assert_allclose(hg.linalg.vector_norm(t, 3, dim=1).tolist(),
                               np.linalg.norm(a, 3, axis=1))
    w = hg.tensor(a, requires_grad=True)
    assert gradcheck(lambda m: hg.linalg.matrix_norm(m, 1) + hg.linalg.norm(m), [w])


def test_decompositions_match_numpy_and_refuse_gradients():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((3, 3))
    spd = m @ m.T + 3 * np.eye(3)
    t = hg.tensor(spd)
    np.testing.assert_allclose(hg.linalg.inv(t).tolist(), np.linalg.inv(spd))
    assert hg.linalg.det(t).item() == pytest.approx(np.linalg.det(spd))
    lower = hg.linalg.cholesky(t)._array
    np.testing.assert_allclose(lower @ lower.T, spd, rtol=1e-10)
    values, vectors = hg.linalg.eigh(t)
    np.testing.assert_allclose((vectors._array * values._array) @ vectors._array.T, spd,
                               rtol=1e-10)
    np.testing.assert_allclose(hg.linalg.solve(t, hg.tensor([1.0, 2.0, 3.0])).tolist(),
                               np.linalg.solve(spd, [1.0, 2.0, 3.0]))
    assert hg.linalg.matrix_rank(t).item() == 3
    with pytest.raises(RuntimeError, match="no gradient"):
        hg.linalg.inv(hg.tensor(spd, requires_grad=True))
    with hg.no_grad():
        hg.linalg.inv(hg.tensor(spd, requires_grad=True))
