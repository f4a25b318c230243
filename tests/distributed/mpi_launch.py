"""Start ``mpirun -n N python _worker.py ...`` on loopback, as root in a container if need be."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "_worker.py"


def mpi_environment() -> dict:
    """Environment for a local Open MPI job: loopback TCP only, no ssh, allowed as root, one
    BLAS thread per rank."""
    env = dict(os.environ)
    env.update({
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_btl": "self,tcp", "OMPI_MCA_btl_tcp_if_include": "lo",
        "OMPI_MCA_oob_tcp_if_include": "lo", "OMPI_MCA_plm_rsh_agent": "false",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
        "OMPI_MCA_btl_base_warn_component_unused": "0",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p]),
    })
    return env


@functools.lru_cache(maxsize=1)
def mpi_unavailable_reason() -> str | None:
    """None when ``mpirun`` and a working mpi4py are present, else why not."""
    if shutil.which("mpirun") is None:
        return ("mpirun not found: install Open MPI (apt-get install openmpi-bin "
                "libopenmpi-dev) to run the multi-process tests")
    probe = subprocess.run([sys.executable, "-c", "from mpi4py import MPI"],
                           capture_output=True, text=True, timeout=60, env=mpi_environment())
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return (f"mpi4py does not load ({last}): install Open MPI and "
                "pip install 'hybridgrad[distributed]'")
    return None


def run_mpi(processes: int, mode: str, out: Path, timeout: float = 120):
    """Run the worker on ``processes`` ranks; the CompletedProcess (text output)."""
    return run_mpi_command(processes, [str(WORKER), mode, str(out)], timeout)


def run_mpi_command(processes: int, arguments: list, timeout: float = 120):
    """``mpirun -n processes python *arguments`` from the repository root, on loopback."""
    command = ["mpirun", "-n", str(processes)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-run-as-root")
    command += [sys.executable] + [str(argument) for argument in arguments]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=mpi_environment(), cwd=ROOT)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"mpirun did not finish within {timeout} s (a hang): "
                             f"{error.stderr}") from None
