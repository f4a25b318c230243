"""hg.set_num_threads / hg.get_num_threads (hybridgrad/threads.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hybridgrad as hg
from hybridgrad import threads


def test_set_then_get_round_trips_and_reaches_numpy_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = hg.get_num_threads()
    try:
        hg.set_num_threads(1)
        assert hg.get_num_threads() == 1
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(i["num_threads"] == 1 for i in blas)
    finally:
        hg.set_num_threads(before)
    assert hg.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_set_num_threads_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive number"):
        hg.set_num_threads(bad)


def test_without_threadpoolctl(monkeypatch):
    monkeypatch.setattr(threads, "_threadpoolctl", lambda: None)
    with pytest.raises(RuntimeError, match="OPENBLAS_NUM_THREADS=3"):
        hg.set_num_threads(3)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "5")
    assert hg.get_num_threads() == 5
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert hg.get_num_threads() >= 1


def test_import_changes_no_thread_setting():
    code = ("import os, sys; import hybridgrad; "
            "print('threadpoolctl' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = {k: v for k, v in __import__("os").environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out == ["False", "None"]


def test_the_count_reaches_scipys_blas_loaded_after_it():
    """The compiler loads SciPy's BLAS (a second OpenBLAS) on first use; a limit set before
    that must reach it too (threadpoolctl limits only the libraries loaded when it is set)."""
    pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy")
    code = ("import hybridgrad as hg, threadpoolctl; hg.set_num_threads(1); "
            "from hybridgrad.symbolic.kernels import _scipy_blas; _scipy_blas(); "
            "blas = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']; "
            "print(len(blas), max(i['num_threads'] for i in blas))")
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    libraries, most = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                     text=True, env=env, check=True).stdout.split()
    assert int(most) == 1, f"{libraries} BLAS libraries, one of them uses {most} threads"
