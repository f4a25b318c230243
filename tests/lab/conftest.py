"""Fixtures for the lab tests: the MNIST mirror (found without hard-coding it) and one quick run
of each experiment per session, shared by the tests that inspect it."""

import os

import pytest

from tests.data_root import find_data_root


@pytest.fixture(scope="session")
def mnist_root():
    root = find_data_root()
    if root is None or not (root / "mnist").is_dir():
        pytest.skip("MNIST files not available: set HYBRIDGRAD_DATA to a folder with mnist/")
    return root


@pytest.fixture(scope="session")
def quick_results(mnist_root, tmp_path_factory):
    """``name -> Result`` of ``lab.run(name, quick=True)``, computed on first use."""
    from hybridgrad import lab

    previous = os.environ.get("HYBRIDGRAD_DATA")
    os.environ["HYBRIDGRAD_DATA"] = str(mnist_root)
    out_dir = tmp_path_factory.mktemp("lab")
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = lab.run(name, out_dir, quick=True, seed=0)
        return cache[name]

    yield get
    if previous is None:
        os.environ.pop("HYBRIDGRAD_DATA", None)
    else:
        os.environ["HYBRIDGRAD_DATA"] = previous
