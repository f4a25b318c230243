"""The operator registry: the single source of truth for every primitive.

Each primitive is one :class:`OpDef`. It declares

* ``forward(xp, *arrays, **attrs)``: the array code, written against the array module ``xp``;
* ``vjp(grad, inputs, output, needs, **attrs)``: its vector-Jacobian product, written with
  framework operators (so it works on tensors with ``create_graph=True`` and on symbols when the
  symbolic compiler differentiates a graph) and returning one gradient (or None) per input;
* ``shape(*specs, **attrs)``: the shape/dtype rule used by the symbolic compiler;
* ``formula`` and ``derivatives``: a one-line human rendering of the forward expression and of the
  local derivative with respect to each input, used by :func:`hybridgrad.explain`;
* ``onnx``: the ONNX export mapping (filled in by :mod:`hybridgrad.onnx`);
* the **facts** the symbolic compiler, its memory planner and the ONNX exporter read, declared
  by every primitive (``tests/ops/test_registry_facts.py`` fails for one that leaves a fact
  unsaid without a reason in ``why_not``):

  - ``aliasing``: ``"fresh"`` (the result never shares memory with an input) or ``"view"`` (it
    may: reshape, getitem...). The memory planner keeps a view's input alive with it;
  - ``out_kernel``: ``fn(**attrs) -> fn(out, *arrays)``, bound once per compiled node, computing
    the result into a given array, so the compiler can place it in a planned buffer (None: the
    forward allocates its own; see :mod:`hybridgrad.ops.kernels`);
  - ``ufunc``: ``fn(out, *arrays)``, the elementwise forward as NumPy ufunc calls with ``out=``
    (such an operator joins fused elementwise chains and may overwrite any input in place);
  - ``inplace``: the inputs whose memory the out-kernel may reuse for its result;
  - ``rows``: how row ``i`` of the result depends on the inputs, for running a compiled graph
    on blocks of a batch: ``ELEMENTWISE`` (broadcasting elementwise), ``PER_SAMPLE`` (sample
    ``i`` of a batch-first first input alone, the other inputs unbatched), a rule
    ``fn(batched, shapes, rows, **attrs) -> bool`` (``batched[k]``: whether input ``k`` is
    split by rows, ``shapes[k]`` its shape), or None (mixes rows: the graph runs whole);
  - ``foldable``: whether constant folding may evaluate it at compile time (False for random
    draws and values that change from call to call);
  - ``onnx_type``: the ONNX operator computing it one-to-one from the same inputs, from which
    the exporter derives its mapping (empty: the exporter has a handler, or an explicit error).

Eager tensors, symbolic graphs, tracing and ONNX export all go through :func:`apply`.

Example:
    >>> from hybridgrad.ops.registry import REGISTRY
    >>> REGISTRY["mul"].derivatives
    ('{b}', '{a}')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np

from hybridgrad import dtypes
from hybridgrad.backend import CONVERTING, converting_backend, xp


class Spec(NamedTuple):
    """Static description of a value: its shape and dtype (what shape rules see)."""

    shape: tuple
    dtype: np.dtype


@dataclass
class OpDef:
    """One primitive operator. See the module docstring for the meaning of each slot."""

    name: str
    forward: Callable
    shape: Callable
    vjp: Callable | None = None
    # The engine's first-order fast path (both optional; DEVELOPERS.md, "Architecture"):
    # forward_saving(xp, *arrays, **attrs) -> (output, saved): the forward that also returns a
    # tuple of arrays for the backward (PyTorch's ctx.save_for_backward); eager autograd runs it
    # instead of ``forward`` when it records the operation and keeps ``saved`` on the node.
    forward_saving: Callable | None = None
    # vjp_array(xp, grad, inputs, output, saved, needs, **attrs) -> one array (or None) per
    # input, or None when it does not apply: the VJP on arrays, used by backward() when no graph
    # of the gradient is wanted (create_graph=False); ``vjp`` stays the rule for everything else.
    vjp_array: Callable | None = None
    formula: str = ""
    derivatives: tuple = ()
    # Input names used in the formula templates, in order ("a", "b", ...).
    arg_names: tuple = ("a", "b", "c")
    # Integer inputs are cast to the default float dtype first (exp, log, ...).
    float_only: bool = False
    # Operators with a variable number of tensor inputs (cat) take them as one list.
    variadic: bool = False
    # Inputs of different dtypes are cast to their promoted dtype before the forward runs.
    promotes: bool = False
    # Filled in by hybridgrad.onnx: fn(builder, node) -> output names.
    onnx: Callable | None = None
    # Test file (relative to the repository root) holding this primitive's float64 gradient
    # check, for primitives whose check is not a case of tests/ops/test_ops_gradcheck.py. The
    # registry-wide coverage test fails for a differentiable primitive with neither.
    gradcheck: str = ""
    # Facts (see the module docstring).
    aliasing: str = ""
    out_kernel: Callable | None = None
    ufunc: Callable | None = None
    rows: str | Callable | None = None
    # Input positions whose memory the out-kernel may write its result over (a slice of the
    # inputs, or a tuple of positions); every input for ufunc-backed operators.
    inplace: tuple | slice = ()
    foldable: bool = True
    onnx_type: str = ""
    # fact name -> why this primitive does not have it (an out kernel, a row rule, a ufunc form).
    why_not: dict = field(default_factory=dict)
    doc: str = ""
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"OpDef({self.name!r})"


REGISTRY: dict[str, OpDef] = {}

# Values of OpDef.rows.
ELEMENTWISE = "elementwise"
PER_SAMPLE = "per_sample"


def register(name: str, **kwargs) -> Callable[[Callable], OpDef]:
    """Register a primitive; the decorated function is its forward.

    Example:
        >>> @register("twice_demo", shape=lambda a: a, formula="2*{a}", derivatives=("2",))
        ... def _twice(xp, a):
        ...     return a * 2
        >>> REGISTRY["twice_demo"].name
        'twice_demo'
        >>> del REGISTRY["twice_demo"]
    """

    def decorate(forward: Callable) -> OpDef:
        if isinstance(kwargs.get("ufunc"), np.ufunc):
            kwargs["ufunc"] = ufunc_kernel(kwargs["ufunc"])
        if kwargs.get("ufunc") is not None:
            kwargs.setdefault("inplace", slice(None))
            if kwargs.get("out_kernel") is None:
                kwargs["out_kernel"] = (lambda kernel: lambda: kernel)(kwargs["ufunc"])
        if name in REGISTRY:
            raise ValueError(f"operator {name!r} is registered twice")
        op = OpDef(name=name, forward=forward, doc=forward.__doc__ or "", **kwargs)
        REGISTRY[name] = op
        return op

    return decorate


def ufunc_kernel(ufunc: np.ufunc) -> Callable:
    """``fn(out, *arrays)`` calling a NumPy ufunc with ``out=`` (an operator's ``ufunc`` fact).

    Example:
        >>> out = np.empty(2)
        >>> ufunc_kernel(np.add)(out, np.ones(2), np.ones(2))
        array([2., 2.])
    """
    if ufunc.nin == 1:
        return lambda out, a: ufunc(a, out=out)
    if ufunc.nin == 2:
        return lambda out, a, b: ufunc(a, b, out=out)
    return lambda out, *arrays: ufunc(*arrays, out=out)  # pragma: no cover - no such ufunc yet


def get_op(name: str) -> OpDef:
    """Look up a primitive by name, with a clear error for unknown names.

    Example:
        >>> get_op("add").name
        'add'
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown operator {name!r}; registered: {sorted(REGISTRY)}") from None


class OpError(ValueError):
    """An operator was applied to inputs it cannot take (shapes, dtypes, domain).

    The message names the operator and the offending shapes and dtypes.
    """


class SymbolicValue:
    """Marker base class for values that build graphs instead of computing (symbols, tracers).

    :func:`apply` hands any call with such an input to the handler installed with
    :func:`set_symbolic_handler` (the symbolic package installs it on import).
    """

    __slots__ = ()


_symbolic_handler: Callable | None = None


def set_symbolic_handler(handler: Callable) -> None:
    """Install the function that builds graph nodes for symbolic inputs."""
    global _symbolic_handler
    _symbolic_handler = handler


def apply(op: OpDef | str, *inputs: Any, **attrs: Any):
    """Apply a registered primitive to tensors, symbols or scalars.

    This is the one dispatch point: symbolic inputs build a graph node, tensors compute now
    (and record the operation for autograd when gradients are needed).

    Example:
        >>> import hybridgrad as hg
        >>> apply("mul", hg.tensor(3.0), 2.0).item()
        6.0
    """
    if type(op) is str:
        try:
            op = REGISTRY[op]
        except KeyError:
            op = get_op(op)
    for value in (inputs[0] if op.variadic else inputs):
        if isinstance(value, SymbolicValue):
            if _symbolic_handler is None:
                raise RuntimeError("symbolic value used before hybridgrad.symbolic was imported")
            return _symbolic_handler(op, inputs, attrs)
    return _eager_apply(op, inputs, attrs)


def _eager_apply(op: OpDef, inputs: tuple, attrs: dict):
    # Replaced by autograd's eager_apply when hybridgrad.autograd is imported (it installs itself
    # with set_eager_handler); only reachable before, with no tensor type to compute on.
    raise RuntimeError(f"{op.name}: eager values need hybridgrad.autograd (import hybridgrad)")


def set_eager_handler(handler: Callable) -> None:
    """Install the function that computes primitives on eager values (autograd's eager_apply):
    the registry sits below autograd and never imports it."""
    global _eager_apply
    _eager_apply = handler


class TracingError(RuntimeError):
    """Python code asked a symbolic value for something only a concrete value has (``if x > 0``,
    ``x.item()``, a state update the active trace cannot record...).

    Example:
        >>> import hybridgrad as hg
        >>> try:
        ...     bool(hg.symbolic.Variable("x", shape=(2,)) > 0)
        ... except TracingError:
        ...     print("needs a concrete value")
        needs a concrete value
    """


_state_update_handler: Callable | None = None
_state_reader: Callable | None = None


def set_state_update_handler(handler: Callable, reader: Callable) -> None:
    """Install the functions that record a state update of a traced graph and read a tensor's
    state as a symbol (the symbolic package installs them on import)."""
    global _state_update_handler, _state_reader
    _state_update_handler, _state_reader = handler, reader


def state_symbol(tensor: Any) -> SymbolicValue:
    """While tracing: a symbol reading ``tensor`` each time the compiled graph runs (to write
    an update of it with :func:`update_state`, such as a counter's increment)."""
    if _state_reader is None:
        raise RuntimeError("state_symbol: hybridgrad.symbolic was not imported")
    return _state_reader(tensor)


def update_state(target: Any, value: Any) -> None:
    """``target <- value`` for module state (batch norm's running statistics): written now when
    ``value`` is an eager tensor, recorded as a side effect of the graph when it is symbolic.

    Example:
        >>> import hybridgrad as hg
        >>> running = hg.zeros(2)
        >>> update_state(running, running * 0.9 + hg.ones(2) * 0.1)
        >>> running.tolist()
        [0.10000000149011612, 0.10000000149011612]
    """
    if isinstance(value, SymbolicValue):
        if _state_update_handler is None:
            raise RuntimeError("symbolic value used before hybridgrad.symbolic was imported")
        _state_update_handler(target, value)
        return
    array = target._array
    array[...] = value._array.astype(array.dtype, copy=False)


def _ignore_float_errors():
    """A cheap equivalent of ``np.errstate(all="ignore")`` for the per-operator hot path.

    ``np.errstate`` builds its state on every entry (about 1 microsecond); NumPy 2 keeps that
    state in a context variable, so we build the "ignore" state once and set the variable.
    Falls back to ``np.errstate`` where NumPy's internals differ.
    """
    try:
        from numpy._core._ufunc_config import _extobj_contextvar

        with np.errstate(all="ignore"):
            ignore = _extobj_contextvar.get()
    except (ImportError, AttributeError):  # pragma: no cover - other NumPy versions
        return None, None
    return _extobj_contextvar, ignore


_ERR_STATE, _IGNORE_ALL = _ignore_float_errors()


def run_forward(op: OpDef, arrays: list, attrs: dict, saving: bool = False):
    """Run an operator's array code, turning NumPy's low-level errors into :class:`OpError`.

    With ``saving``, runs ``op.forward_saving`` and returns ``(output, saved)``. The arrays go
    through the active array backend (:mod:`hybridgrad.backend`).

    Floating-point warnings are silenced (``log(-1)`` is NaN, as in PyTorch); anomaly mode
    reports where NaN/Inf first appear.

    Example:
        >>> import numpy as np
        >>> run_forward(get_op("add"), [np.ones(2), np.ones(2)], {})
        array([2., 2.])
    """
    forward = op.forward if not saving else op.forward_saving
    if CONVERTING and (backend := converting_backend()) is not None:
        # Another array module: arrays are converted at this boundary.
        try:
            with np.errstate(all="ignore"):
                return backend.call(forward, *arrays, **attrs)
        except (ValueError, IndexError, TypeError) as error:
            raise _op_error(op, arrays, attrs, error) from None
    if _ERR_STATE is not None:
        token = _ERR_STATE.set(_IGNORE_ALL)
        try:
            return forward(xp, *arrays, **attrs)
        except (ValueError, IndexError, TypeError) as error:
            raise _op_error(op, arrays, attrs, error) from None
        finally:
            _ERR_STATE.reset(token)
    try:  # pragma: no cover - other NumPy versions
        with np.errstate(all="ignore"):
            return forward(xp, *arrays, **attrs)
    except (ValueError, IndexError, TypeError) as error:  # pragma: no cover
        raise _op_error(op, arrays, attrs, error) from None


def _op_error(op: OpDef, arrays: list, attrs: dict, error: Exception) -> OpError:
    values = arrays[0] if op.variadic else arrays
    # The shape rule (shared with the symbolic compiler) words most errors best.
    specs = [Spec(tuple(a.shape), a.dtype) if isinstance(a, np.ndarray) else a for a in values]
    try:
        op.shape(*([specs] if op.variadic else specs), **attrs)
    except OpError as rule_error:
        return rule_error
    except Exception:  # noqa: BLE001, S110 - a rule that cannot judge these inputs: fall through
        pass
    shapes = [tuple(a.shape) for a in values if isinstance(a, np.ndarray)]
    message = str(error)
    if "broadcast" in message and len(shapes) > 1:
        listed = " and ".join(str(s) for s in shapes)
        message = f"shapes {listed} cannot be broadcast together"
    described = ", ".join(_describe(a) for a in values)
    return OpError(f"{op.name}: {message} (inputs: {described}; attributes: {attrs})")


def _describe(array) -> str:
    if isinstance(array, np.ndarray):
        return f"shape {tuple(array.shape)} {array.dtype}"
    return repr(array)


# ----------------------------------------------------------------------------------------------
# Shape rules shared by many operators.


def broadcast_shape(op_name: str, *shapes: tuple) -> tuple:
    """NumPy broadcasting of shapes, with an error naming the operator and every shape.

    Example:
        >>> broadcast_shape("add", (2, 1), (3,))
        (2, 3)
    """
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise OpError(f"{op_name}: shapes {listed} cannot be broadcast together") from None


def promote(*dtype_list) -> np.dtype:
    """Result dtype of an elementwise operation (NumPy's rules on the given dtypes).

    Example:
        >>> promote(np.dtype("float32"), np.dtype("int64"))
        dtype('float32')
    """
    floats = [d for d in dtype_list if d.kind == "f"]
    if floats and len(floats) != len(dtype_list):
        # PyTorch keeps the float dtype when a float tensor meets an integer tensor.
        return np.result_type(*floats)
    return np.result_type(*dtype_list)


def float_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of a float-only operator's result for an input dtype.

    Example:
        >>> float_dtype(np.dtype("int64"))
        dtype('float32')
    """
    return dtype if dtype.kind == "f" else dtypes.get_default_dtype()


def elementwise_rule(name: str, result: str = "promote") -> Callable:
    """Shape rule for elementwise operators: broadcast shapes; dtype by ``result``.

    ``result`` is ``"promote"``, ``"bool"`` or ``"float"``.
    """

    def rule(*specs: Spec, **_attrs) -> Spec:
        shape = broadcast_shape(name, *(s.shape for s in specs))
        if result == "bool":
            dtype = dtypes.bool_
        elif result == "float":
            dtype = float_dtype(promote(*(s.dtype for s in specs)))
        else:
            dtype = promote(*(s.dtype for s in specs))
        return Spec(shape, dtype)

    return rule
