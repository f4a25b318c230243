"""``import hybridgrad`` stays light (issue 17 item 7): the onnx package and the MPI layer load
on first use; ``__all__`` names what the package offers."""

import json
import os
import subprocess
import sys

import hybridgrad as hg


def _fresh_interpreter(code: str) -> dict:
    """Run ``code`` (which prints JSON) in a new interpreter importing this checkout."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(hg.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120, check=True)
    return json.loads(result.stdout)


def test_import_hybridgrad_does_not_import_onnx_or_the_mpi_layer():
    loaded = _fresh_interpreter(
        "import json, sys\n"
        "import hybridgrad as hg\n"
        "before = {name: name in sys.modules for name in "
        "('onnx', 'hybridgrad.onnx', 'hybridgrad.distributed', 'hybridgrad.cli')}\n"
        "from hybridgrad import *  # noqa\n"
        "star = 'onnx' in sys.modules\n"
        "exporter = hg.onnx.export.__module__\n"
        "print(json.dumps({'before': before, 'star': star, 'exporter': exporter,\n"
        "                  'after': 'onnx' in sys.modules, 'file': hg.__file__,\n"
        "                  'distributed': hasattr(hg.distributed, 'init')}))\n")
    assert loaded["file"] == hg.__file__
    assert not any(loaded["before"].values()), loaded["before"]
    assert not loaded["star"]
    assert loaded["exporter"].startswith("hybridgrad.onnx") and loaded["after"]
    assert loaded["distributed"]


def test_all_names_exist_and_lazy_submodules_are_listed_by_dir():
    missing = [name for name in hg.__all__ if not hasattr(hg, name)]
    assert not missing
    assert len(set(hg.__all__)) == len(hg.__all__)
    assert {"onnx", "distributed"} <= set(dir(hg))
    try:
        hg.no_such_attribute  # noqa: B018
    except AttributeError as error:
        assert "no_such_attribute" in str(error)
    else:
        raise AssertionError("expected AttributeError")
