"""Communicators: the few collective operations data-parallel training needs, on NumPy buffers.

A :class:`Communicator` is the one seam between hybridgrad and a message-passing engine. It has
``rank``, ``size``, and four operations on contiguous NumPy arrays, all **in place**:
``allreduce`` (sum/max/min/prod over ranks), ``broadcast`` (from a root), ``barrier`` and
``abort``. Everything else (bucketed gradient averaging, parameter broadcast, object exchange)
is built on those, so adding an engine (NCCL, Gloo, a shared-memory one) means writing one small
subclass.

- :class:`SingleProcessCommunicator`: rank 0 of 1; every collective is the identity. Needs
  nothing installed.
- :class:`MPICommunicator`: MPI through ``mpi4py`` (``MPI.COMM_WORLD`` by default), one process
  per worker started by ``mpirun``; arrays go to ``Allreduce``/``Bcast`` as buffers, no pickling.

Example:
    >>> import numpy as np
    >>> comm = SingleProcessCommunicator()
    >>> comm.rank, comm.size
    (0, 1)
    >>> comm.allreduce(np.array([1.0, 2.0]))
    array([1., 2.])
    >>> comm.broadcast_object({"epochs": 3})
    {'epochs': 3}
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np

_OPS = ("sum", "max", "min", "prod")

# How long a rank may wait inside one collective before the job is aborted (PyTorch's default
# for its process groups is also 30 minutes).
DEFAULT_TIMEOUT = 1800.0
TIMEOUT_VARIABLE = "HYBRIDGRAD_DISTRIBUTED_TIMEOUT"


def default_timeout() -> float | None:
    """The collective timeout in seconds: ``$HYBRIDGRAD_DISTRIBUTED_TIMEOUT`` (0 or "none":
    no limit), else 1800.

    Example:
        >>> default_timeout() == float(os.environ.get("HYBRIDGRAD_DISTRIBUTED_TIMEOUT", 1800))
        True
    """
    value = os.environ.get(TIMEOUT_VARIABLE)
    if value is None or value.strip() == "":
        return DEFAULT_TIMEOUT
    if value.strip().lower() in ("0", "none"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{TIMEOUT_VARIABLE} must be a number of seconds (or 0/none for no "
                         f"limit), got {value!r}") from None
    return seconds if seconds > 0 else None

# Environment variables set by the common MPI launchers for every process they start.
_LAUNCHER_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


def launched_world_size() -> int | None:
    """The number of processes an MPI launcher (``mpirun``, ``mpiexec``, ``srun``) says it
    started, read from its environment variables; None when not started by one.

    Example:
        >>> import os
        >>> launched_world_size() is None or "OMPI_COMM_WORLD_SIZE" in os.environ
        True
    """
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return None


def mpi_available() -> bool:
    """Whether ``mpi4py`` imports and finds an MPI library (importing it initializes MPI).

    Example:
        >>> if launched_world_size():  # under mpirun; elsewhere, avoid starting MPI needlessly
        ...     assert mpi_available()
    """
    try:
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError, OSError):
        return False
    return True


class Communicator:
    """The interface every engine implements: ``rank``, ``size``, ``allreduce``,
    ``broadcast``, ``barrier`` and ``abort``. Object exchange (JSON-encodable values) is
    derived from the array operations here, so subclasses get it for free.

    Example:
        >>> import numpy as np
        >>> class Doubling(SingleProcessCommunicator):  # a pretend two-rank sum
        ...     def allreduce(self, array, op="sum"):
        ...         array *= 2
        ...         return array
        >>> Doubling().allreduce(np.ones(2))
        array([2., 2.])
    """

    rank: int = 0
    size: int = 1

    def allreduce(self, array: np.ndarray, op: str = "sum") -> np.ndarray:
        """Combine ``array`` element-wise across ranks with ``op`` (``"sum"``, ``"max"``,
        ``"min"``, ``"prod"``), in place; every rank gets the result. Returns ``array``."""
        raise NotImplementedError

    def broadcast(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``array`` on every rank with rank ``root``'s, in place. Returns it."""
        raise NotImplementedError

    def barrier(self) -> None:
        """Wait until every rank has reached this call."""
        raise NotImplementedError

    def abort(self, code: int = 1) -> None:
        """Stop every process of the job (after a rank failed), with exit status ``code``."""
        raise NotImplementedError

    # Derived operations.
    def broadcast_object(self, value=None, root: int = 0):
        """Rank ``root``'s ``value`` on every rank. Values travel as JSON (no pickling), so they
        must be JSON-encodable: numbers, strings, lists, dicts, None.

        Example:
            >>> SingleProcessCommunicator().broadcast_object([1, "a"])
            [1, 'a']
        """
        if self.size == 1:
            return json.loads(json.dumps(value))
        payload = _encode(value) if self.rank == root else b""
        length = self.broadcast(np.array([len(payload)], dtype=np.int64), root)
        buffer = np.zeros(int(length[0]), dtype=np.uint8)
        if self.rank == root:
            buffer[:] = np.frombuffer(payload, dtype=np.uint8)
        return json.loads(self.broadcast(buffer, root).tobytes().decode("utf-8"))

    def allgather_object(self, value) -> list:
        """Every rank's ``value``, as a list indexed by rank (JSON-encodable values).

        Example:
            >>> SingleProcessCommunicator().allgather_object({"rank": 0})
            [{'rank': 0}]
        """
        payload = _encode(value)
        lengths = np.zeros(self.size, dtype=np.int64)
        lengths[self.rank] = len(payload)
        self.allreduce(lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        # Each rank fills its own slice with its bytes and zeros elsewhere; a sum gathers them.
        buffer = np.zeros(int(offsets[-1]), dtype=np.uint8)
        buffer[offsets[self.rank]:offsets[self.rank + 1]] = np.frombuffer(payload, np.uint8)
        self.allreduce(buffer)
        return [json.loads(buffer[offsets[r]:offsets[r + 1]].tobytes().decode("utf-8"))
                for r in range(self.size)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


def _encode(value) -> bytes:
    try:
        return json.dumps(value, allow_nan=True, separators=(",", ":")).encode("utf-8")
    except TypeError as error:
        raise TypeError(f"Communicator: objects are exchanged as JSON; {error}") from None


def _check_buffer(array, operation: str) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"Communicator.{operation}: expected a numpy.ndarray, got "
                        f"{type(array).__name__}")
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError(f"Communicator.{operation}: the array (shape {array.shape}, dtype "
                         f"{array.dtype}) must be C-contiguous and writeable; the operation "
                         f"works in place")


def _check_op(op: str, operation: str) -> None:
    if op not in _OPS:
        raise ValueError(f"Communicator.{operation}: op must be one of {', '.join(_OPS)}, "
                         f"got {op!r}")


class SingleProcessCommunicator(Communicator):
    """Rank 0 of a world of 1: collectives return their input unchanged. Needs no MPI.

    Example:
        >>> import numpy as np
        >>> SingleProcessCommunicator().broadcast(np.arange(3))
        array([0, 1, 2])
    """

    rank = 0
    size = 1

    def allreduce(self, array: np.ndarray, op: str = "sum") -> np.ndarray:
        _check_buffer(array, "allreduce")
        _check_op(op, "allreduce")
        return array

    def broadcast(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        _check_buffer(array, "broadcast")
        if root != 0:
            raise ValueError(f"Communicator.broadcast: root {root} out of range for 1 process")
        return array

    def barrier(self) -> None:
        return None

    def abort(self, code: int = 1) -> None:
        os._exit(code)


class MPICommunicator(Communicator):
    """MPI through mpi4py: ``Allreduce``/``Bcast`` on NumPy buffers (``MPI.IN_PLACE``).

    ``comm`` is an mpi4py communicator (default ``MPI.COMM_WORLD``). Start the processes with
    ``mpirun -n N python script.py``.

    ``timeout`` (seconds; negative: :func:`default_timeout`, 30 minutes; None: no limit): a rank
    that waits longer than this inside one collective aborts the job with a message. MPI itself
    would wait forever when another rank has returned early or runs fewer steps; a watchdog
    thread (started with the first collective) turns that hang into an error.

    Example:
        >>> import numpy as np
        >>> if launched_world_size():  # run under mpirun -n N: every rank gets N
        ...     comm = MPICommunicator()
        ...     assert comm.allreduce(np.ones(1))[0] == comm.size
    """

    def __init__(self, comm=None, timeout: float | None = -1.0):
        try:
            from mpi4py import MPI
        except (ImportError, RuntimeError, OSError) as error:
            raise RuntimeError(
                f"MPICommunicator needs mpi4py and an MPI library ({error}). Install Open MPI "
                f"from the system's package manager (apt-get install openmpi-bin "
                f"libopenmpi-dev) and then pip install 'hybridgrad[distributed]'.") from None
        self._mpi = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = int(self.comm.Get_rank())
        self.size = int(self.comm.Get_size())
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}
        self.timeout = default_timeout() if timeout is not None and timeout < 0 else timeout
        self._waiting: tuple | None = None  # (operation, monotonic start) while in a collective
        self._watchdog: threading.Thread | None = None

    def _collective(self, operation: str, call, *args, **kwargs):
        if self.timeout is None or self.size == 1:
            return call(*args, **kwargs)
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                              name="hybridgrad-collective-watchdog")
            self._watchdog.start()
        self._waiting = (operation, time.monotonic())
        try:
            return call(*args, **kwargs)
        finally:
            self._waiting = None

    def _watch(self) -> None:
        period = min(1.0, self.timeout / 4)
        while True:
            time.sleep(period)
            waiting = self._waiting
            if waiting is not None and time.monotonic() - waiting[1] > self.timeout:
                sys.stderr.write(
                    f"hybridgrad.distributed: rank {self.rank} of {self.size} has waited more "
                    f"than {self.timeout:g} s in {waiting[0]} for the other ranks; one of them "
                    f"has probably stopped or runs a different number of steps. Aborting the "
                    f"job. (The limit: init(timeout=...) or ${TIMEOUT_VARIABLE}.)\n")
                sys.stderr.flush()
                self.comm.Abort(1)
                return

    def allreduce(self, array: np.ndarray, op: str = "sum") -> np.ndarray:
        _check_buffer(array, "allreduce")
        _check_op(op, "allreduce")
        if self.size > 1 and array.size:
            self._collective("allreduce", self.comm.Allreduce, self._mpi.IN_PLACE, array,
                             op=self._ops[op])
        return array

    def broadcast(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        _check_buffer(array, "broadcast")
        if not 0 <= root < self.size:
            raise ValueError(f"Communicator.broadcast: root {root} out of range for "
                             f"{self.size} processes")
        if self.size > 1 and array.size:
            self._collective("broadcast", self.comm.Bcast, array, root=root)
        return array

    def barrier(self) -> None:
        self._collective("barrier", self.comm.Barrier)

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)
