"""Reverse-mode automatic differentiation over the operations recorded by eager tensors.

How it works:

* every primitive applied to a tensor that requires gradients records a :class:`Node`
  (the operator, its inputs and attributes) on its output;
* :func:`backward` sorts the recorded graph topologically from the output and walks it in reverse,
  calling each operator's vector-Jacobian product from the registry; gradients of broadcast inputs
  are summed back to the input's shape in exactly one place, :func:`sum_to`. Without
  ``create_graph`` an operator may instead give its VJP on arrays (``OpDef.vjp_array``), from
  arrays its forward saved on the node (``OpDef.forward_saving``): batch norm, max pooling and
  CTC do, for speed;
* gradients accumulate into the ``.grad`` of leaf tensors, as in PyTorch: a second
  ``backward()`` adds to ``.grad`` (``w.grad`` becomes the sum over both passes), so call
  ``optimizer.zero_grad()`` (or set ``.grad = None``) between steps. Accumulation is out of place
  (``.grad`` is rebound to a new tensor), and a leaf's ``.grad`` always owns writeable memory
  shared with no other tensor, so optimisers may update it in place;
* ``retain_grad()`` keeps ``.grad`` on a non-leaf; :func:`grad` returns gradients instead of
  accumulating them;
* after a backward pass the graph is freed (its nodes drop their inputs, so memory is released
  early) unless ``retain_graph=True``; a second backward through a freed graph raises an error.
  ``create_graph=True`` records the backward pass itself, so gradients of gradients work.

Modes (``no_grad``, ``enable_grad``) live in :mod:`contextvars`, never in process globals.

Example:
    >>> import hybridgrad as hg
    >>> x = hg.tensor(3.0, requires_grad=True)
    >>> (x * x).backward()
    >>> x.grad.item()
    6.0
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any, Sequence

import numpy as np

from hybridgrad import dtypes
from hybridgrad.backend import CONVERTING, converting_backend
from hybridgrad.ops import registry
from hybridgrad.ops.reduction import sum_to
from hybridgrad.ops.registry import _ERR_STATE, _IGNORE_ALL, OpDef, promote, run_forward
from hybridgrad.versions import CLOCK as _INPLACE_CLOCK
from hybridgrad.versions import check_node as _check_versions

_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("grad_enabled", default=True)


class _GradMode:
    """Context manager and decorator that sets whether operations are recorded."""

    enabled = True

    def __enter__(self):
        self._token = _grad_enabled.set(self.enabled)
        return self

    def __exit__(self, *exc_info):
        _grad_enabled.reset(self._token)
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return function(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Disable gradient recording inside a ``with`` block or a decorated function.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.tensor(1.0, requires_grad=True)
        >>> with hg.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Re-enable gradient recording (inside a ``no_grad`` block, say).

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.tensor(1.0, requires_grad=True)
        >>> with hg.no_grad(), hg.enable_grad():
        ...     (w * 2).requires_grad
        True
    """

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801 - PyTorch's name
    """Set gradient recording on or off: ``with hg.set_grad_enabled(False): ...``.

    Example:
        >>> import hybridgrad as hg
        >>> with hg.set_grad_enabled(False):
        ...     hg.is_grad_enabled()
        False
    """

    def __init__(self, mode: bool):
        self.enabled = bool(mode)


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for autograd.

    Example:
        >>> is_grad_enabled()
        True
    """
    return _grad_enabled.get()


class Node:
    """One recorded operation: what produced a tensor, from which inputs, and the arrays its
    forward saved for the backward (``OpDef.forward_saving``; None for most operators)."""

    __slots__ = ("op", "inputs", "attrs", "needs", "saved", "created_at", "clock")

    def __init__(self, op: OpDef, inputs: tuple, attrs: dict, needs: tuple, saved=None):
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.needs = needs
        self.saved = saved
        # In-place operations counted so far: backward checks saved values only if more ran.
        self.clock = _INPLACE_CLOCK[0]
        # The user's file:line that created the operation, recorded only in anomaly mode
        # (walking the stack costs microseconds per op, too much for every step).
        self.created_at = _user_location() if _anomaly_enabled.get() else None

    def __repr__(self) -> str:
        return f"<{self.op.name}Backward>"


_Tensor = None  # hybridgrad.tensor.Tensor, bound on first use (tensor.py imports this module).


def _tensor_class():
    global _Tensor
    from hybridgrad.tensor import Tensor

    _Tensor = Tensor
    return Tensor


def eager_apply(op: OpDef, inputs: tuple, attrs: dict, _saved_out: list | None = None):
    """Compute a primitive on tensors now, recording it when gradients are needed.

    An operator with ``forward_saving`` runs it when the operation is recorded (or when
    ``_saved_out``, a list, asks for the saved arrays: :func:`apply_with_saved`), and its node
    keeps the saved arrays for the backward.

    This is the hot path of every eager operation, so the common case (all inputs tensors of one
    dtype) does no conversions, no imports and one context-variable read per mode.

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.ops import get_op
        >>> out = eager_apply(get_op("mul"), (hg.tensor(2.0, requires_grad=True), 3.0), {})
        >>> out.item(), out.grad_fn
        (6.0, <mulBackward>)
    """
    Tensor = _Tensor or _tensor_class()  # noqa: N806 - the class
    # A variadic op's list is copied: the caller may mutate its list after the call.
    values = list(inputs[0]) if op.variadic else inputs
    arrays = []
    needs_grad = False
    convert = False
    for value in values:
        if isinstance(value, Tensor):
            arrays.append(value._array)
            if value.requires_grad:
                needs_grad = True
        else:
            convert = True
            break
    if convert:
        values, arrays = _convert_inputs(values, Tensor, op)
        needs_grad = any(v.requires_grad for v in values)
    if op.float_only:
        for position, array in enumerate(arrays):
            if array.dtype.kind != "f":
                arrays[position] = array.astype(dtypes.get_default_dtype())
    elif op.promotes and len(arrays) > 1:
        first = arrays[0].dtype
        for array in arrays:
            if array.dtype != first:
                common = promote(*(a.dtype for a in arrays))
                arrays = [a if a.dtype == common else a.astype(common) for a in arrays]
                break
    recording = needs_grad and op.vjp is not None and _grad_enabled.get()
    saved = None
    if op.forward_saving is not None and (recording or _saved_out is not None):  # rare
        result, saved = run_forward(op, [arrays] if op.variadic else arrays, attrs, saving=True)
        if _saved_out is not None:
            _saved_out.extend(saved)
    else:
        result = run_forward(op, [arrays] if op.variadic else arrays, attrs)
    if type(result) is not np.ndarray:
        result = np.asarray(result)
    if _anomaly_enabled.get():
        _check_anomaly(op, "forward", result, values, _user_location())
    output = object.__new__(Tensor)
    output._array = result
    output.grad = None
    output._retains_grad = False
    if recording:
        needs = tuple([isinstance(v, Tensor) and v.requires_grad for v in values])
        output._node = Node(op, (values,) if op.variadic else tuple(values), attrs, needs, saved)
        output.requires_grad = True
    else:
        output._node = None
        output.requires_grad = False
    return output


registry.set_eager_handler(eager_apply)


def apply_with_saved(op: OpDef | str, *inputs: Any, **attrs: Any) -> tuple:
    """Apply an eager primitive that has ``forward_saving``: ``(output, saved arrays)``.

    The saved arrays are auxiliary results of the forward (batch norm's batch mean and variance,
    which update its running statistics), as PyTorch's ``native_batch_norm`` returns them.

    Example:
        >>> import hybridgrad as hg
        >>> out, (mean, var, inv_std) = apply_with_saved(
        ...     "batch_norm_train", hg.tensor([[1.0], [3.0]]), hg.ones(1), hg.zeros(1), eps=0.0)
        >>> out.tolist(), mean.ravel().tolist(), var.ravel().tolist()
        ([[-1.0], [1.0]], [2.0], [1.0])
    """
    op = registry.get_op(op) if isinstance(op, str) else op
    if op.forward_saving is None:
        raise ValueError(f"apply_with_saved: {op.name} saves nothing for its backward (it has no "
                         f"forward_saving)")
    saved: list = []
    output = eager_apply(op, inputs, attrs, saved)
    return output, tuple(saved)


def _convert_inputs(values, Tensor, op=None) -> tuple[list, list]:  # noqa: N803 - the class
    """Wrap Python scalars (weak dtype, as in PyTorch) and NumPy arrays as constant tensors."""
    values = list(values)
    partner = None
    for value in values:
        if isinstance(value, Tensor):
            partner = value._array.dtype
            break
    arrays = []
    for index, value in enumerate(values):
        if isinstance(value, Tensor):
            arrays.append(value._array)
        elif isinstance(value, np.ndarray):
            arrays.append(value)
            values[index] = Tensor._wrap(value)
        else:
            dtype = dtypes.scalar_dtype(value, partner)
            try:
                array = np.asarray(value, dtype=dtype)
            except OverflowError:
                from hybridgrad.ops.registry import OpError

                name = op.name if op is not None else "operator"
                raise OpError(f"{name}: the Python scalar {value!r} does not fit in the "
                              f"tensor's dtype {dtype}; convert the tensor first "
                              "(for example with .long() or .float())") from None
            arrays.append(array)
            values[index] = Tensor._wrap(array)
    return values, arrays


# ----------------------------------------------------------------------------------------------
# Anomaly detection (names the first operator that produced NaN/Inf).

_anomaly_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("anomaly", default=False)


class detect_anomaly(_GradMode):  # noqa: N801 - PyTorch's name
    """Raise as soon as an operator's forward or backward produces NaN or Inf.

    The error names the operator, whether its forward or its backward failed, the shapes and
    dtypes of its inputs and the line of user code (the first stack frame outside hybridgrad)
    that created it. Creation sites are recorded only while the mode is on.

    Example:
        >>> import hybridgrad as hg
        >>> with hg.autograd.detect_anomaly():
        ...     x = hg.tensor(-1.0, requires_grad=True)
        ...     try:
        ...         hg.log(x)
        ...     except FloatingPointError as error:
        ...         print(str(error).splitlines()[0])
        log: forward produced NaN/Inf (inputs: shape () float32)
    """

    def __init__(self, mode: bool = True):
        self.mode = mode

    def __enter__(self):
        self._token = _anomaly_enabled.set(self.mode)
        return self

    def __exit__(self, *exc_info):
        _anomaly_enabled.reset(self._token)
        return False


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly mode on or off for the current context (PyTorch's
    ``torch.autograd.set_detect_anomaly``; also ``hg.set_anomaly``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.autograd.set_detect_anomaly(True); hg.autograd.is_anomaly_enabled()
        True
        >>> hg.autograd.set_detect_anomaly(False); hg.autograd.is_anomaly_enabled()
        False
    """
    _anomaly_enabled.set(bool(mode))


set_anomaly = set_detect_anomaly


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on.

    Example:
        >>> import hybridgrad as hg
        >>> hg.autograd.is_anomaly_enabled()
        False
    """
    return _anomaly_enabled.get()


def _package_root() -> str:
    import os

    return os.path.dirname(os.path.abspath(__file__)) + os.sep


_PACKAGE_ROOT = _package_root()


def _user_location() -> str | None:
    """``file:line in function`` of the first frame outside the hybridgrad package."""
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_ROOT) and not filename.startswith("<frozen"):
            return f"{filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return None


def _check_anomaly(op: OpDef, phase: str, result, inputs, created_at: str | None = None) -> None:
    Tensor = _Tensor or _tensor_class()  # noqa: N806 - the class

    data = result._array if isinstance(result, Tensor) else result
    if isinstance(data, np.ndarray) and data.dtype.kind == "f" and not np.isfinite(data).all():
        kinds = " and ".join(kind for kind, bad in (("NaN", np.isnan(data).any()),
                                                    ("Inf", np.isinf(data).any())) if bad)
        raise FloatingPointError(_anomaly_message(op, phase, inputs, f"the result holds {kinds}",
                                                  created_at))


def _anomaly_message(op: OpDef, phase: str, inputs, detail: str, created_at) -> str:
    Tensor = _Tensor or _tensor_class()  # noqa: N806 - the class

    described = ", ".join(
        f"shape {tuple(v.shape)} {v.dtype}" for v in inputs if isinstance(v, Tensor)
    )
    message = f"{op.name}: {phase} produced NaN/Inf (inputs: {described})\n  {detail}"
    if created_at:
        message += f"\n  the operation was created at {created_at}"
    if phase == "forward":
        message += ("\n  hint: check this operation's inputs (log, sqrt or division of zero or "
                    "negative values, overflow of exp)")
    else:
        message += ("\n  hint: the forward was finite but its derivative is not (e.g. sqrt or "
                    "log at 0, pow of a negative base); clamp the input or add an epsilon")
    return message


# ----------------------------------------------------------------------------------------------
# The backward engine.


def _topological_order(roots: Sequence) -> list:
    """Tensors reachable from ``roots`` through recorded nodes, inputs before outputs."""
    order: list = []
    visited: set[int] = set()
    stack: list = [(root, False) for root in roots]
    pop, push = stack.pop, stack.append
    while stack:
        tensor, expanded = pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        push((tensor, True))
        node = tensor._node
        if node is None:
            continue
        inputs = node.inputs
        if inputs is None:
            raise RuntimeError(
                f"backward through a freed graph (at {node}): the graph is freed after the first "
                "backward pass; pass retain_graph=True to the first backward() to keep it"
            )
        for needed, value in zip(node.needs, inputs[0] if node.op.variadic else inputs):
            if needed and id(value) not in visited:
                push((value, False))
    return order


def _sum_to_array(array: np.ndarray, shape: tuple) -> np.ndarray:
    """:func:`sum_to` on a plain array (the engine's path when no graph is recorded)."""
    lead = array.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and array.shape[lead + i] != 1
    )
    if axes:
        array = array.sum(axis=axes, keepdims=True)
    return array.reshape(shape)


def _run_backward(roots, root_grads, retain_graph: bool, create_graph: bool, wanted=None):
    """Propagate gradients from roots; return {id(tensor): grad} for ``wanted`` tensors.

    Without ``wanted`` (``Tensor.backward``), gradients accumulate into leaves' ``.grad``.
    Without ``create_graph`` nothing is recorded, so the engine's own bookkeeping (summing
    broadcast gradients, casting, accumulating) runs on plain arrays.
    """
    wrap = (_Tensor or _tensor_class())._wrap
    order = _topological_order(roots)
    grads: dict[int, Any] = {}
    for root, grad in zip(roots, root_grads):
        key = id(root)
        grads[key] = grad if key not in grads else grads[key] + grad
    wanted_ids = {id(t) for t in wanted} if wanted is not None else None
    # Arrays already handed out as some tensor's .grad (or owned by the caller): a leaf must
    # never share gradient memory with another tensor, so optimisers may update it in place.
    claimed = {id(g._array) for g in root_grads}
    results: dict[int, Any] = {}
    anomaly = _anomaly_enabled.get()
    grad_token = _grad_enabled.set(create_graph)
    error_token = _ERR_STATE.set(_IGNORE_ALL) if _ERR_STATE is not None else None
    try:
        for tensor in reversed(order):
            key = id(tensor)
            grad = grads.pop(key, None)
            if grad is None:
                continue
            hooks = getattr(tensor, "_hooks", None)  # Tensor.register_hook (PyTorch's)
            if hooks:
                grad = _run_tensor_hooks(hooks, grad)
            node = tensor._node
            if wanted_ids is not None:
                if key in wanted_ids:
                    results[key] = grad
            elif node is None or tensor._retains_grad:
                _accumulate(tensor, grad, create_graph, claimed)
            if node is None:
                continue
            op = node.op
            inputs = node.inputs[0] if op.variadic else node.inputs
            if node.clock != _INPLACE_CLOCK[0]:
                _check_versions(node, tensor)
            # First order: the operator's array code, when it has one that applies here.
            if (op.vjp_array is None or create_graph
                    or (input_grads := _array_vjp(op, node, grad, tensor, wrap)) is None):
                if anomaly:
                    input_grads = _anomaly_vjp(op, node, grad, tensor, inputs)
                else:
                    input_grads = op.vjp(grad, node.inputs, tensor, node.needs, **node.attrs)
            for needed, value, input_grad in zip(node.needs, inputs, input_grads):
                if not needed or input_grad is None:
                    continue
                target = value._array
                if create_graph:
                    input_grad = sum_to(input_grad, target.shape)
                    if input_grad.dtype != target.dtype:
                        input_grad = input_grad.to(target.dtype)
                else:
                    array = input_grad._array
                    if array.shape != target.shape:
                        array = _sum_to_array(array, target.shape)
                    if array.dtype != target.dtype:
                        array = array.astype(target.dtype)
                    if array is not input_grad._array:
                        input_grad = wrap(array)
                if anomaly:
                    _check_anomaly(op, "backward", input_grad, inputs, node.created_at)
                value_key = id(value)
                previous = grads.get(value_key)
                if previous is None:
                    grads[value_key] = input_grad
                elif create_graph:
                    grads[value_key] = previous + input_grad
                else:
                    grads[value_key] = wrap(previous._array + input_grad._array)
            if not retain_graph:
                node.inputs = None
                node.saved = None
    finally:
        if error_token is not None:
            _ERR_STATE.reset(error_token)
        _grad_enabled.reset(grad_token)
    return results


def _run_tensor_hooks(hooks: dict, grad):
    """Call a tensor's gradient hooks in order; a hook's non-None result replaces the gradient."""
    for hook in list(hooks.values()):
        changed = hook(grad)
        if changed is not None:
            grad = changed
    return grad


def _anomaly_vjp(op: OpDef, node: Node, grad, output, inputs):
    try:
        return op.vjp(grad, node.inputs, output, node.needs, **node.attrs)
    except FloatingPointError as error:
        inner = str(error).splitlines()[0].split(" (inputs")[0]
        raise FloatingPointError(_anomaly_message(
            op, "backward", inputs, f"inside its VJP: {inner}", node.created_at,
        )) from None


def _array_vjp(op: OpDef, node: Node, grad, output, wrap):
    """The operator's array-level VJP (first order), its results wrapped as tensors; None when
    it declines (the framework-operator VJP then runs)."""
    inputs = node.inputs[0] if op.variadic else node.inputs
    arrays = tuple(value._array for value in inputs)
    if op.variadic:
        arrays = (list(arrays),)
    # Only a non-NumPy backend (CONVERTING non-empty) needs the context variable read.
    backend = converting_backend() if CONVERTING else None
    if backend is None:
        result = op.vjp_array(np, grad._array, arrays, output._array, node.saved,
                              node.needs, **node.attrs)
    else:
        result = backend.call(op.vjp_array, grad._array, arrays, output._array,
                              node.saved, node.needs, **node.attrs)
    if result is None:
        return None
    return [None if array is None else wrap(array) for array in result]


def _accumulate(tensor, grad, create_graph: bool, claimed: set) -> None:
    if create_graph:
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad
        return
    data = grad._array
    if tensor.grad is None:
        # Own, writeable memory: VJPs may return views (broadcast_to is read-only) or the same
        # array for several inputs (add passes its gradient through to both).
        if (data.base is not None or not data.flags.writeable or id(data) in claimed
                or not data.flags.c_contiguous):
            data = data.copy()
        claimed.add(id(data))
        tensor.grad = _Tensor._wrap(data)
    else:
        tensor.grad = _Tensor._wrap(tensor.grad._array + data)


def _as_tensor_grad(output, grad):
    Tensor = _Tensor or _tensor_class()  # noqa: N806 - the class

    if grad is None:
        if output.numel() != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but the output has "
                f"shape {tuple(output.shape)}; pass gradient= (a tensor of that shape)"
            )
        return Tensor._wrap(np.ones(output.shape, dtype=output.dtype))
    if not isinstance(grad, Tensor):
        grad = Tensor._wrap(np.asarray(grad, dtype=output.dtype))
    if tuple(grad.shape) != tuple(output.shape):
        raise RuntimeError(
            f"gradient has shape {tuple(grad.shape)} but the output has shape "
            f"{tuple(output.shape)}"
        )
    return grad


def backward(
    tensors,
    grad_tensors=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate gradients of ``tensors`` into the leaves they depend on.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.tensor(2.0, requires_grad=True)
        >>> backward(w * w)
        >>> w.grad.item()
        4.0
    """
    Tensor = _Tensor or _tensor_class()  # noqa: N806 - the class

    if isinstance(tensors, Tensor):
        tensors = [tensors]
        grad_tensors = [grad_tensors]
    elif grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    for tensor in tensors:
        if not tensor.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "did you create the inputs with requires_grad=True, or run under no_grad()?"
            )
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = [_as_tensor_grad(t, g) for t, g in zip(tensors, grad_tensors)]
    _run_backward(list(tensors), root_grads, retain_graph, create_graph)
    for callback in list(_backward_finished_callbacks):
        callback()


# Called after every backward() has accumulated its gradients: DistributedDataParallel averages
# them there, as PyTorch's does from inside backward (PyTorch's engine callback queue).
_backward_finished_callbacks: list = []


def register_backward_finished_callback(callback) -> object:
    """Call ``callback()`` after every ``backward()`` has filled the leaves' gradients; returns
    a handle whose ``remove()`` unregisters it.

    Example:
        >>> import hybridgrad as hg
        >>> calls = []
        >>> handle = register_backward_finished_callback(lambda: calls.append("done"))
        >>> (hg.tensor(2.0, requires_grad=True) * 3).backward(); handle.remove()
        >>> (hg.tensor(2.0, requires_grad=True) * 3).backward(); calls
        ['done']
    """
    _backward_finished_callbacks.append(callback)

    class _Handle:
        @staticmethod
        def remove() -> None:
            if callback in _backward_finished_callbacks:
                _backward_finished_callbacks.remove(callback)

    return _Handle()


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor(3.0, requires_grad=True)
        >>> (dx,) = grad(x ** 3, x, create_graph=True)
        >>> (d2x,) = grad(dx, x)
        >>> dx.item(), d2x.item()
        (27.0, 18.0)
    """
    Tensor = _Tensor or _tensor_class()  # noqa: N806 - the class

    single_output = isinstance(outputs, Tensor)
    outputs = [outputs] if single_output else list(outputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if single_output else (
            [None] * len(outputs) if grad_outputs is None else [grad_outputs]
        )
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for index, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"input {index} of grad() does not require grad")
    for tensor in outputs:
        if not tensor.requires_grad:
            raise RuntimeError("an output of grad() does not require grad (no graph to go back)")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = [_as_tensor_grad(t, g) for t, g in zip(outputs, grad_outputs)]
    results = _run_backward(outputs, root_grads, retain_graph, create_graph, wanted=inputs)
    answer = []
    for index, tensor in enumerate(inputs):
        value = results.get(id(tensor))
        if value is None and not allow_unused:
            raise RuntimeError(
                f"input {index} of grad() was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        answer.append(value)
    return tuple(answer)


def __getattr__(name: str):
    # PyTorch's torch.autograd.Variable (the legacy constructor, hybridgrad.legacy) and Function
    # for `import hybridgrad as torch` programs, loaded on first use.
    if name == "Variable":
        from hybridgrad.legacy import Variable

        return Variable
    if name in ("Function", "FunctionCtx"):
        import importlib

        return getattr(importlib.import_module("hybridgrad.torch_compat.autograd"), name)
    raise AttributeError(f"module 'hybridgrad.autograd' has no attribute {name!r}")
