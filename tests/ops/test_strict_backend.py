"""The array backend is real: operators compute only through ``xp``.

The strict backend (:mod:`hybridgrad.strict_backend`) hands operators arrays that every NumPy
function refuses. The operator tests (forward and gradient checks of every primitive: the
registry's gradcheck files, ``tests/ops`` and the graph-vs-eager parity test, which runs every
registered operator) are run on it in a subprocess, so a stray ``np.`` call in any forward or
array-level VJP fails the suite.
"""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad import backend, strict_backend
from hybridgrad.ops import REGISTRY, OpError, apply, register

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_numpy_refuses_strict_arrays_and_xp_takes_them():
    xp = strict_backend.xp
    a = xp.arange(6.0).reshape(2, 3)
    for stray in (lambda: np.exp(a), lambda: np.where(a > 1, a, 0),
                  lambda: np.add.reduce(a, axis=0), lambda: a + np.zeros(3),
                  lambda: np.zeros(3) * a, lambda: np.concatenate([a, a])):
        with pytest.raises(TypeError):
            stray()
    for stray in (lambda: np.asarray(a), lambda: np.array([a, a]), lambda: np.zeros(3)[a]):
        with pytest.raises(strict_backend.HostConversionError):
            stray()
    total = xp.add.reduce(xp.exp(a) * a.dtype.type(2) + 1, axis=0, keepdims=True)
    assert type(total) is strict_backend.StrictArray and total.shape == (1, 3)
    expected = (np.exp(np.arange(6.0).reshape(2, 3)) * 2 + 1).sum(axis=0, keepdims=True)
    np.testing.assert_allclose(strict_backend.BACKEND.to_host(total), expected)
    view = a[:, 1:]
    view += 10  # in place, through a view: the parent sees it
    assert float(a[0, 1]) == 11.0
    # Reductions give 0-d device arrays, not host scalars; Python conversions still work.
    assert type(a.sum()) is strict_backend.StrictArray and int(a.sum()) == 55


def test_an_operator_calling_numpy_fails_on_the_strict_backend_only():
    @register("stray_numpy_demo", shape=lambda a: a, arg_names=("a",))
    def _stray(xp, a):
        return np.exp(a)  # the bug the strict backend exists to catch

    @register("host_array_demo", shape=lambda a: a, arg_names=("a",))
    def _host(xp, a):
        return np.zeros(a.shape)  # a NumPy array where a device array is due

    try:
        x = hg.ones(3)
        with backend.use_backend("numpy"):
            assert apply("stray_numpy_demo", x).tolist() == pytest.approx([np.e] * 3)
        with backend.use_backend("strict"):
            with pytest.raises(OpError, match="stray_numpy_demo.*StrictArray"):
                apply("stray_numpy_demo", x)
            with pytest.raises(OpError, match="host_array_demo.*instead of a device array"):
                apply("host_array_demo", x)
            assert (x * 2 + 1).tolist() == [3.0, 3.0, 3.0]  # xp code is fine
    finally:
        del REGISTRY["stray_numpy_demo"], REGISTRY["host_array_demo"]


def test_the_backend_is_chosen_in_one_place():
    assert backend.get_backend().name == os.environ.get("HYBRIDGRAD_ARRAY_BACKEND", "numpy")
    with backend.use_backend("strict") as strict:
        assert backend.get_array_module() is strict.xp
    with pytest.raises(ValueError, match="unknown array backend 'gpu'"):
        with backend.use_backend("gpu"):
            pass
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="array backend 'cupy' needs CuPy"):
            with backend.use_backend("cupy"):
                pass


def test_the_first_order_fast_paths_run_on_the_strict_backend():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((2, 3, 4, 4))
    results = []
    for name in ("numpy", "strict"):
        with backend.use_backend(name):
            x = hg.tensor(data, requires_grad=True)
            w = hg.ones(3, dtype=hg.float64)
            y = apply("batch_norm_train", x, w, hg.zeros(3, dtype=hg.float64), eps=1e-5)
            pooled = apply("max_pool2d", y, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0),
                           dilation=(1, 1), ceil_mode=False)
            (pooled * pooled).sum().backward()  # vjp_array of max_pool2d and batch_norm_train
            results.append(x.grad._array)
    np.testing.assert_array_equal(results[0], results[1])


# NumPy names that are not array code: dtypes and NumPy's warning mode.
NOT_ARRAY_CODE = {"dtype", "errstate", "iinfo", "finfo", "ndarray", "generic", "integer",
                  "floating", "bool_", "float16", "float32", "float64", "int8", "int16", "int32",
                  "int64", "uint8", "uint16", "uint32", "uint64", "complex64", "complex128"}


def _numpy_calls_in_array_code(path: pathlib.Path) -> list[str]:
    """``np.NAME`` inside every function or lambda whose first parameter is ``xp`` (forwards,
    array VJPs and the kernels they call), decorators excluded."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, (ast.FunctionDef, ast.Lambda)):
            continue
        if not node.args.args or node.args.args[0].arg != "xp":
            continue
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            for inner in ast.walk(statement):
                if (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                        and inner.value.id == "np" and inner.attr not in NOT_ARRAY_CODE):
                    found.append(f"{path.name}:{inner.lineno} np.{inner.attr}")
    return found


def test_array_code_names_no_numpy_function_even_on_paths_the_tests_miss(tmp_path):
    found = [hit for path in sorted((ROOT / "hybridgrad" / "ops").glob("*.py"))
             for hit in _numpy_calls_in_array_code(path)]
    assert found == [], "array code calls NumPy directly; use xp: " + ", ".join(found)
    stray = tmp_path / "stray.py"
    stray.write_text("def _kernel(xp, a):\n    return np.exp(a).astype(np.float32)\n"
                     "f = lambda xp, a: np.where(a, 1, 0)\n")
    assert _numpy_calls_in_array_code(stray) == ["stray.py:2 np.exp", "stray.py:3 np.where"]


def _operator_test_files() -> list[str]:
    declared = {op.gradcheck for op in REGISTRY.values() if op.gradcheck}
    return sorted({"tests/ops", "tests/symbolic/test_parity.py",
                   "tests/nn/test_max_pool_fast_backward.py", "tests/nn/test_batchnorm.py",
                   "tests/nn/test_dropout.py"} | declared)


def test_operator_suite_passes_on_the_strict_backend():
    environment = dict(os.environ, HYBRIDGRAD_ARRAY_BACKEND="strict", PYTHONPATH=str(ROOT))
    this = "tests/ops/test_strict_backend.py::test_operator_suite_passes_on_the_strict_backend"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider",
         "--deselect", this, *_operator_test_files()],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
