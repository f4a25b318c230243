"""Version counters: catch a backward pass that would read values changed in place.

PyTorch gives every storage a version that each in-place operation bumps; an autograd node
remembers the versions of what it saved, and backward refuses to run on changed values. Here a
storage is a NumPy array's root (views, ``.data`` and ``.detach()`` share it), and to keep the
eager hot path free of per-input work a node records only a global clock (one integer read per
recorded operation). Backward compares clocks: only when some in-place operation ran after the
node was recorded does it look at the node's inputs and output, and it raises PyTorch's error
when a value the node's VJP reads was modified, or when a tensor it must route gradient through
was rebound by a recorded in-place operation.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.tensor([1.0, 2.0], requires_grad=True)
    >>> y = w.exp()
    >>> with hg.no_grad():
    ...     _ = y.mul_(2)
    >>> try:
    ...     y.sum().backward()
    ... except RuntimeError as error:
    ...     print(str(error)[:80])
    one of the variables needed for gradient computation has been modified by an inp
"""

from __future__ import annotations

import dis
import weakref

import numpy as np

# CLOCK[0] counts in-place operations since start-up; a node records it when created.
CLOCK = [0]
# id(root array) -> [version, recent modification clocks (newest last)]; entries are dropped
# when the root array dies, so a reused id never inherits another array's history.
_ROOTS: dict[int, list] = {}
# id(tensor) -> clock of the last recorded in-place operation that rebound the tensor's node.
_REBOUND: dict[int, int] = {}
_HISTORY = 64


def root_of(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (views share their root's version).

    Example:
        >>> a = np.zeros(4); root_of(a[1:].reshape(3, 1)) is a
        True
    """
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def version(array: np.ndarray) -> int:
    """How many in-place operations have modified this array's storage.

    Example:
        >>> version(np.zeros(2))
        0
    """
    entry = _ROOTS.get(id(root_of(array)))
    return 0 if entry is None else entry[0]


def bump(array: np.ndarray) -> None:
    """Record an in-place modification of ``array``'s storage (advances the clock).

    Example:
        >>> a = np.zeros(2); bump(a); bump(a[:1]); version(a)
        2
    """
    CLOCK[0] += 1
    root = root_of(array)
    key = id(root)
    entry = _ROOTS.get(key)
    if entry is None:
        entry = _ROOTS[key] = [0, []]
        weakref.finalize(root, _ROOTS.pop, key, None)
    entry[0] += 1
    history = entry[1]
    history.append(CLOCK[0])
    if len(history) > _HISTORY:
        del history[0]


def mark_rebound(tensor) -> None:
    """Record that a recorded in-place operation gave ``tensor`` a new autograd node."""
    key = id(tensor)
    if key not in _REBOUND:
        weakref.finalize(tensor, _REBOUND.pop, key, None)
    _REBOUND[key] = CLOCK[0]


def _modified_since(array: np.ndarray, clock: int) -> tuple[int, int] | None:
    """(current version, version at ``clock``) when the storage changed after ``clock``."""
    entry = _ROOTS.get(id(root_of(array)))
    if entry is None or not entry[1] or entry[1][-1] <= clock:
        return None
    later = sum(1 for stamp in entry[1] if stamp > clock)
    return entry[0], entry[0] - later


_READS: dict = {}


def _reads(function, position: int) -> bool:
    """Whether a VJP's argument at ``position`` (inputs: 1, output: 2) is ever loaded."""
    key = (function, position)
    answer = _READS.get(key)
    if answer is None:
        code = getattr(function, "__code__", None)
        if code is None or position >= code.co_argcount:
            answer = True  # unknown callables: assume they read everything
        else:
            name = code.co_varnames[position]
            answer = any(ins.argval == name and ins.opname.startswith(("LOAD_", "STORE_DEREF"))
                         for ins in dis.get_instructions(code))
            # A nested function (closure) reading the argument shows as LOAD_CLOSURE/DEREF.
            answer = answer or name in code.co_cellvars
        _READS[key] = answer
    return answer


def _describe(tensor, role: str) -> str:
    kind = {"f": "FloatTensor", "i": "LongTensor", "u": "ByteTensor", "b": "BoolTensor"}.get(
        tensor._array.dtype.kind, "Tensor")
    if tensor._array.dtype == np.float64:
        kind = "DoubleTensor"
    shape = ", ".join(str(size) for size in tensor._array.shape)
    return f"[hybridgrad.{kind} [{shape}]], which is {role}"


def _error(tensor, role: str, current: int, expected: int) -> RuntimeError:
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {_describe(tensor, role)}, is at version {current}; expected version "
        f"{expected} instead. Hint: do the in-place operation on a clone (x = x.clone()), or "
        f"after backward(); hg.autograd.set_detect_anomaly(True) names the operation."
    )


def check_node(node, output) -> None:
    """Raise PyTorch's error when ``node`` (recorded at ``node.clock``) would read changed values.

    Called by the backward engine only when ``node.clock`` differs from the current clock.
    """
    clock = node.clock
    op = node.op
    inputs = node.inputs[0] if op.variadic else node.inputs
    # The first-order array VJP (xp, grad, inputs, output, saved, needs) may read what the
    # framework VJP does not; saved arrays may be views of the inputs or the output.
    array_vjp = getattr(op, "vjp_array", None)
    reads_saved = array_vjp is not None and getattr(node, "saved", None) is not None and \
        _reads(array_vjp, 4)
    reads_inputs = (_reads(op.vjp, 1) or reads_saved
                    or (array_vjp is not None and _reads(array_vjp, 2)))
    reads_output = (_reads(op.vjp, 2) or reads_saved
                    or (array_vjp is not None and _reads(array_vjp, 3)))
    for position, value in enumerate(inputs):
        array = getattr(value, "_array", None)
        if array is None:
            continue
        if reads_inputs:
            changed = _modified_since(array, clock)
            if changed is not None:
                producer = value._node
                role = (f"output 0 of {producer.op.name}" if producer is not None
                        else f"input {position} of {op.name}")
                raise _error(value, role, *changed)
        if node.needs[position] and _REBOUND.get(id(value), -1) > clock:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {_describe(value, f'input {position} of {op.name}')}, was "
                f"used by {op.name} before an in-place operation recorded a new history for it; "
                f"hybridgrad cannot route the gradient around it. Hint: use an out-of-place "
                f"operation (x = x + y instead of x.add_(y)) or clone first."
            )
    if reads_output:
        changed = _modified_since(output._array, clock)
        if changed is not None:
            raise _error(output, f"output 0 of {op.name}", *changed)
