"""The graph IR: nodes, symbols (``Variable``, ``Constant``) and the handler that builds graphs.

A :class:`Symbol` is a handle on a :class:`Node`. Every operator of the eager API works on
symbols because :func:`hybridgrad.ops.registry.apply` hands symbolic inputs to
:func:`build_node`, which records ``(op, inputs, attrs)`` instead of computing, and infers the
node's shape and dtype with the operator's own shape rule. Nothing is computed until a graph is
compiled (:func:`hybridgrad.symbolic.compile`) and called.

Node kinds:

* ``input``: a :func:`Variable` (fed by name when the compiled function is called);
* ``const``: a constant array, or a *weak* Python scalar whose dtype follows its partner
  (PyTorch's rule: ``float32_symbol * 2.5`` stays float32);
* ``param``: an eager tensor met while building (a Parameter, a module buffer): its ``._array`` is
  read every time the compiled function runs, so training updates are seen;
* ``op``: a registered primitive (or an internal one such as ``stop_gradient``) applied to nodes.

Example:
    >>> import numpy as np
    >>> from hybridgrad.symbolic import Variable, Constant
    >>> A = Variable('A'); B = Variable('B')
    >>> D = B * A + Constant(1)
    >>> D.node.op.name, [i.kind for i in D.node.inputs]
    ('add', ['op', 'const'])
"""

from __future__ import annotations

import contextvars
import itertools
import linecache
import os
import sys
import weakref
from typing import Any, Iterable

import numpy as np

from hybridgrad import dtypes
from hybridgrad.ops.kernels import ones_out
from hybridgrad.ops.methods import OpsMixin
from hybridgrad.ops.registry import ELEMENTWISE, OpDef, Spec, SymbolicValue, TracingError, get_op

_ids = itertools.count()


class SymbolError(ValueError):
    """A symbolic graph cannot answer a question (an unknown shape, a missing input...)."""


# TracingError (Python code asked a symbol for a concrete value) is defined in the registry, so
# that code below this package (batch norm's state updates) can raise it; imported from here too.


# ----------------------------------------------------------------------------------------------
# Internal operators (not in the public registry: they have no eager counterpart).


def _identity_shape(a, **_attrs):
    return Spec(tuple(a.shape), a.dtype)


STOP_GRADIENT = OpDef(name="stop_gradient", forward=lambda xp, a: a, shape=_identity_shape,
                      formula="detach({a})", arg_names=("a",), aliasing="view", rows=ELEMENTWISE,
                      why_not={"out_kernel": "its input itself", "ufunc": "its input itself"})
# (never folded: it is the seed of a backward pass, made at run time rather than stored)
ONES_LIKE = OpDef(name="ones_like", forward=lambda xp, a: xp.ones_like(a), shape=_identity_shape,
                  formula="ones_like({a})", arg_names=("a",), aliasing="fresh",
                  out_kernel=ones_out, rows=ELEMENTWISE, foldable=False,
                  why_not={"ufunc": "a fill, not a function of the input's values"})


def _assign_forward(xp, target, value):
    if value is not target:  # (the planner may have computed the value in place already)
        np.copyto(target, value, casting="same_kind")
    return target


ASSIGN = OpDef(name="assign", forward=_assign_forward,
               shape=lambda target, value: Spec(tuple(target.shape), target.dtype),
               formula="{a} := {b}", arg_names=("a", "b"), aliasing="view", foldable=False,
               why_not={"out_kernel": "writes into its target, which it returns",
                        "rows": "a side effect (graphs with one never run in row blocks)"})


# ----------------------------------------------------------------------------------------------
# Nodes.


class Node:
    """One value of a graph: an input, a constant, an eager tensor read at run time, or an op.

    ``deps`` are control dependencies (nodes that must run first without being data inputs),
    used to order writes back into parameters after every read of them.
    """

    __slots__ = ("id", "kind", "op", "inputs", "attrs", "spec", "name", "value", "weak", "deps",
                 "__weakref__")

    def __init__(self, kind: str, op: OpDef | None = None, inputs: Iterable = (),
                 attrs: dict | None = None, spec: Spec | None = None, name: str | None = None,
                 value: Any = None, weak: bool = False):
        self.id = next(_ids)
        self.kind = kind
        self.op = op
        self.inputs = list(inputs)
        self.attrs = dict(attrs or {})
        self.spec = spec
        self.name = name
        self.value = value
        self.weak = weak
        self.deps: list = []

    def copy(self, inputs=None) -> Node:
        """A new node like this one (fresh id), optionally with other inputs."""
        node = Node(self.kind, self.op, self.inputs if inputs is None else inputs, self.attrs,
                    self.spec, self.name, self.value, self.weak)
        return node

    @property
    def label(self) -> str:
        if self.kind == "op":
            return self.op.name
        if self.kind == "const":
            return _const_text(self)
        return self.name or self.kind

    def __repr__(self) -> str:
        return f"<Node %{self.id} {self.label}>"


def _const_text(node: Node) -> str:
    value = node.value
    if node.weak or (isinstance(value, np.ndarray) and value.size == 1):
        return repr(np.asarray(value).item())
    if isinstance(value, np.ndarray) and value.size <= 4:
        return np.array2string(value, separator=",")
    return f"const{tuple(np.shape(value))}"


def input_node(name: str, spec: Spec | None) -> Node:
    return Node("input", name=name, spec=spec)


def const_node(value: Any) -> Node:
    """A constant: arrays are strong (own dtype), Python scalars weak (dtype from the partner)."""
    if isinstance(value, (bool, int, float, np.bool_)) and not isinstance(value, np.ndarray):
        return Node("const", value=value, weak=True)
    array = np.asarray(value)
    if array.dtype == np.float64 and not isinstance(value, (np.ndarray, np.generic)):
        array = array.astype(dtypes.get_default_dtype())
    return Node("const", value=array, spec=Spec(tuple(array.shape), array.dtype))


# Eager tensors become one node each, keyed by identity (a Parameter used twice is one node).
_tensor_nodes: dict[int, tuple] = {}


def tensor_node(tensor) -> Node:
    """The node standing for an eager tensor (read at run time), one per tensor object."""
    entry = _tensor_nodes.get(id(tensor))
    if entry is not None and entry[0]() is tensor:
        return entry[1]
    node = Node("param", value=tensor, spec=Spec(tuple(tensor.shape), tensor.dtype),
                name=_tensor_name(tensor))
    _tensor_nodes[id(tensor)] = (weakref.ref(tensor, _forgetter(_tensor_nodes, id(tensor))),
                                 node)
    recorder = _recorder.get()
    if recorder is not None:
        recorder.append(node)
    return node


def _forgetter(table: dict, key: int):
    def forget(reference) -> None:
        entry = table.get(key)
        if entry is not None and entry[0] is reference:
            del table[key]

    return forget


_TENSOR_NAMES: dict[int, tuple] = {}


def _tensor_name(tensor) -> str | None:
    entry = _TENSOR_NAMES.get(id(tensor))
    return entry[1] if entry is not None and entry[0]() is tensor else None


def name_tensor(tensor, name: str) -> None:
    """Give an eager tensor (a parameter) a name shown in graphs, e.g. ``0.weight``."""
    _TENSOR_NAMES[id(tensor)] = (weakref.ref(tensor, _forgetter(_TENSOR_NAMES, id(tensor))),
                                 name)
    entry = _tensor_nodes.get(id(tensor))
    if entry is not None and entry[0]() is tensor:
        entry[1].name = name


# ----------------------------------------------------------------------------------------------
# Symbols.


def _user_frame() -> tuple[str, int, str]:
    """File, line and source text of the first stack frame outside hybridgrad."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(package + os.sep):
            line = linecache.getline(filename, frame.f_lineno).strip()
            return filename, frame.f_lineno, line
        frame = frame.f_back
    return "<unknown>", 0, ""


def _concrete_value_error(what: str) -> TracingError:
    filename, lineno, line = _user_frame()
    where = f"{filename}:{lineno}" + (f": {line}" if line else "")
    return TracingError(
        f"{what} needs a concrete value, but this is a symbol (a graph node that is computed "
        f"only when the compiled graph runs), at {where}. Data-dependent Python control flow "
        f"cannot be recorded in a graph: use hg.where(...) for elementwise choices, or run this "
        f"code eagerly (do not trace/hybridize it)."
    )


class Symbol(SymbolicValue, OpsMixin):
    """A symbolic value: operators on it build graph nodes instead of computing.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(2, 3))
        >>> (x.sum(dim=1) * 2).shape
        (2,)
    """

    __slots__ = ("node",)

    def __init__(self, node: Node):
        self.node = node

    @property
    def name(self) -> str | None:
        return self.node.name

    @property
    def shape(self) -> tuple:
        if self.node.spec is None:
            raise SymbolError(
                f"the shape of {self._describe()} is unknown while the graph is built; give it "
                f"with Variable(name, shape=..., dtype=...), or use only elementwise operators "
                f"(shapes are then inferred from the first call)")
        return tuple(self.node.spec.shape)

    @property
    def dtype(self) -> np.dtype:
        if self.node.spec is None:
            raise SymbolError(f"the dtype of {self._describe()} is unknown while the graph is "
                              f"built; give it with Variable(name, shape=..., dtype=...)")
        return self.node.spec.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def requires_grad(self) -> bool:
        return False

    @property
    def device(self) -> str:
        return "cpu"

    def detach(self) -> Symbol:
        """The same value, with gradients stopped (an identity when the graph runs)."""
        return Symbol(build_internal(STOP_GRADIENT, [self.node]))

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d symbol")
        return shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # Asking for a concrete value is data-dependent control flow: a clear error.
    def __bool__(self):
        raise _concrete_value_error("bool() of a symbol (an `if`/`while` on a graph value)")

    def item(self):
        raise _concrete_value_error(".item() of a symbol")

    def __float__(self):
        raise _concrete_value_error("float() of a symbol")

    def __int__(self):
        raise _concrete_value_error("int() of a symbol")

    def __index__(self):
        raise _concrete_value_error("using a symbol as an index/int")

    def numpy(self):
        raise _concrete_value_error(".numpy() of a symbol")

    def tolist(self):
        raise _concrete_value_error(".tolist() of a symbol")

    def __array__(self, dtype=None, copy=None):
        raise _concrete_value_error("converting a symbol to a NumPy array")

    @property
    def data(self):
        raise _concrete_value_error(".data of a symbol (array code on a traced value or "
                                    "parameter)")

    @property
    def _array(self):
        raise _concrete_value_error("the array of a symbol (array code on a traced value or "
                                    "parameter)")

    def _in_place(self, *args, **kwargs):
        raise _concrete_value_error("an in-place update of a symbol (e.g. batch-norm running "
                                    "statistics in training mode)")

    copy_ = fill_ = zero_ = __setitem__ = _in_place

    def _describe(self) -> str:
        node = self.node
        if node.kind == "input":
            return f"Variable {node.name!r}"
        return f"symbol {node.label} (%{node.id})"

    def __repr__(self) -> str:
        spec = self.node.spec
        extra = "" if spec is None else f", shape={tuple(spec.shape)}, dtype={spec.dtype}"
        return f"Symbol({self._describe()}{extra})"


def Variable(name: str, shape=None, dtype=None) -> Symbol:  # noqa: N802 - the notes' name
    """A named graph input. Shape and dtype are optional: without them they are inferred from
    the first call of the compiled function (and cached per input signature).

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> Variable('A', shape=(10,)).shape
        (10,)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"Variable: name must be a non-empty string, got {name!r}")
    spec = None
    if shape is not None:
        spec = Spec(tuple(int(s) for s in shape),
                    dtypes.to_dtype(dtype) or dtypes.get_default_dtype())
    node = input_node(name, spec)
    node.attrs["declared_dtype"] = dtypes.to_dtype(dtype)
    recorder = _recorder.get()
    if recorder is not None:
        recorder.append(node)
    return Symbol(node)


def Constant(value) -> Symbol:  # noqa: N802 - the notes' name
    """A constant in a graph. A Python number is a *weak* scalar (its dtype follows the value it
    meets, as in PyTorch); an array keeps its dtype.

    Example:
        >>> from hybridgrad.symbolic import Constant
        >>> Constant(1).node.weak, Constant([1.0, 2.0]).shape
        (True, (2,))
    """
    if isinstance(value, Symbol):
        return value
    from hybridgrad.tensor import Tensor

    if isinstance(value, Tensor):
        value = value._array
    node = const_node(value)
    recorder = _recorder.get()
    if recorder is not None:
        recorder.append(node)
    return Symbol(node)


# ----------------------------------------------------------------------------------------------
# The handler installed into the registry: apply(op, *symbols) builds a node.

# The active trace (a list collecting every node created), if any.
_recorder: contextvars.ContextVar[list | None] = contextvars.ContextVar("symbolic_recorder",
                                                                        default=None)


# Writes into tensors (``assign`` symbols) recorded while tracing eager code that updates state
# (batch norm's running statistics): None when the active trace does not accept them.
_state_updates: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "symbolic_state_updates", default=None)


def state_symbol(tensor) -> Symbol:
    """A symbol reading ``tensor`` (a buffer, say) each time the compiled graph runs."""
    return Symbol(tensor_node(tensor))


def record_state_update(tensor, value) -> None:
    """While tracing, record ``tensor <- value`` (a symbol of the tensor's shape) as a side
    effect of the graph: the compiled function writes it into the tensor on every call. Eager
    code updating module state (batch norm's running statistics in training mode) calls this
    when its input is a symbol.

    Raises :class:`TracingError` when the active trace does not take state updates (only
    ``hg.jit.trace``, ``Module.hybridize`` and ``hg.jit.train_step`` do).
    """
    updates = _state_updates.get()
    if updates is None:
        filename, lineno, line = _user_frame()
        where = f"{filename}:{lineno}" + (f": {line}" if line else "")
        raise TracingError(f"a tensor's state (running statistics, say) is updated while "
                           f"tracing at {where}, and this trace cannot record updates; trace "
                           f"with hg.jit.trace/hg.jit.train_step or in evaluation mode")
    target = tensor_node(tensor)
    node = as_node(value)
    if node.spec is not None and tuple(node.spec.shape) != tuple(target.spec.shape):
        raise SymbolError(f"state update: value of shape {tuple(node.spec.shape)} for a tensor "
                          f"of shape {tuple(target.spec.shape)}")
    if node.spec is not None and node.spec.dtype != target.spec.dtype:
        node = build_internal(get_op("cast"), [node], {"dtype": target.spec.dtype})
    updates.append(Symbol(build_internal(ASSIGN, [target, node])))


def as_node(value: Any) -> Node:
    """The node for any operand: a symbol's node, an eager tensor's node, or a constant."""
    if isinstance(value, Symbol):
        return value.node
    from hybridgrad.tensor import Tensor

    if isinstance(value, Tensor):
        return tensor_node(value)
    node = const_node(value)
    recorder = _recorder.get()
    if recorder is not None:
        recorder.append(node)
    return node


def resolve_weak(nodes: list[Node]) -> list[Spec | None]:
    """Specs of an op's inputs, giving weak scalars the dtype of their partner (PyTorch's rule:
    the partner is the first non-scalar input)."""
    partner = None
    for node in nodes:
        if not node.weak:
            if node.spec is None:
                return [None] * len(nodes)
            partner = node.spec.dtype
            break
    return [Spec((), dtypes.scalar_dtype(n.value, partner)) if n.weak else n.spec for n in nodes]


def infer(op: OpDef, specs: list, attrs: dict) -> Spec | None:
    """Run an operator's shape rule (None when an input's shape is unknown)."""
    if any(s is None for s in specs):
        return None
    spec = op.shape(specs, **attrs) if op.variadic else op.shape(*specs, **attrs)
    return Spec(tuple(int(d) for d in spec.shape), np.dtype(spec.dtype))


def build_node(op: OpDef, inputs: tuple, attrs: dict) -> Symbol:
    """The symbolic handler: record ``op(inputs, **attrs)`` as a node and infer its spec."""
    flat = list(inputs[0]) if op.variadic else list(inputs)
    return Symbol(build_internal(op, [as_node(v) for v in flat], attrs))


def build_internal(op: OpDef, nodes: list[Node], attrs: dict | None = None) -> Node:
    attrs = dict(attrs or {})
    specs = resolve_weak(nodes)
    node = Node("op", op=op, inputs=nodes, attrs=attrs, spec=infer(op, specs, attrs))
    recorder = _recorder.get()
    if recorder is not None:
        recorder.append(node)
    return node


# ----------------------------------------------------------------------------------------------
# Graphs.


def topological(outputs: Iterable[Node], extra: Iterable[Node] = ()) -> list[Node]:
    """Nodes reachable from ``outputs`` (inputs and control dependencies first), each once."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in list(extra) + list(outputs):
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node.id in seen:
                continue
            seen.add(node.id)
            stack.append((node, True))
            for child in reversed(node.inputs + node.deps):
                if child.id not in seen:
                    stack.append((child, False))
    return order


class Graph:
    """A list of nodes in execution order, the outputs, and side effects (writes into tensors).

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(3,))
        >>> print(Graph.from_symbols([x * 2]))
        %0 = input x : float32(3,)
        %1 = const 2 : float32()
        %2 = mul(%0, %1) : float32(3,)
        return %2
    """

    def __init__(self, nodes: list[Node], outputs: list[Node], effects: list[Node] | None = None):
        self.nodes = list(nodes)
        self.outputs = list(outputs)
        self.effects = list(effects or [])

    @classmethod
    def from_symbols(cls, outputs, effects=()) -> Graph:
        outs = [as_node(o) for o in outputs]
        effect_nodes = [as_node(e) for e in effects]
        graph = cls(topological(outs, effect_nodes), outs, effect_nodes)
        # Give weak scalars their resolved dtype where it is known already.
        for node in graph.nodes:
            if node.kind == "op":
                for child, spec in zip(node.inputs, resolve_weak(node.inputs)):
                    if child.weak and spec is not None and child.spec is None:
                        child.spec = spec
        return graph

    def inputs(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "input"]

    def op_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "op"]

    def describe(self, numbering: dict | None = None) -> list[str]:
        """One line per node, ``%i = op(%a, %b) attrs : dtype(shape)``, numbered from 0."""
        number = numbering if numbering is not None else {}
        for node in self.nodes:
            number.setdefault(node.id, len(number))
        lines = []
        for node in self.nodes:
            spec = node.spec
            typed = "" if spec is None else f" : {spec.dtype}{tuple(spec.shape)}"
            ref = f"%{number[node.id]}"
            if node.kind == "op":
                args = ", ".join(f"%{number[i.id]}" for i in node.inputs)
                attrs = _attr_text(node.attrs)
                lines.append(f"{ref} = {node.op.name}({args}){attrs}{typed}")
            elif node.kind == "const":
                lines.append(f"{ref} = const {_const_text(node)}{typed}")
            elif node.kind == "param":
                lines.append(f"{ref} = tensor {node.name or '?'}{typed}")
            else:
                lines.append(f"{ref} = input {node.name}{typed}")
        outs = ", ".join(f"%{number[o.id]}" for o in self.outputs)
        if self.effects:
            lines.append(f"effects {', '.join('%' + str(number[e.id]) for e in self.effects)}")
        lines.append(f"return {outs}")
        return lines

    def ops(self) -> list[str]:
        """Operator names in execution order (handy in tests)."""
        return [n.op.name for n in self.nodes if n.kind == "op"]

    def __str__(self) -> str:
        return "\n".join(self.describe())

    __repr__ = __str__

    def to_dot(self, title: str = "graph") -> str:
        """Graphviz source of the graph (inputs as ellipses, ops as boxes)."""
        lines = [f'digraph "{title}" {{', "  rankdir=LR;", '  node [fontname="Helvetica"];']
        for node in self.nodes:
            spec = "" if node.spec is None else f"\\n{node.spec.dtype}{tuple(node.spec.shape)}"
            if node.kind == "op":
                label = node.op.name
                if node.op.name == "fused":
                    label = "fused: " + " ".join(node.attrs["names"])
                shape, color = "box", "lightblue" if node.op.name == "fused" else "white"
            elif node.kind == "input":
                label, shape, color = node.name, "ellipse", "palegreen"
            elif node.kind == "param":
                label, shape, color = node.name or "tensor", "ellipse", "khaki"
            else:
                label, shape, color = _const_text(node), "plaintext", "white"
            label = label.replace('"', "'")
            lines.append(f'  n{node.id} [label="{label}{spec}", shape={shape}, style=filled, '
                         f'fillcolor="{color}"];')
            for child in node.inputs:
                lines.append(f"  n{child.id} -> n{node.id};")
        for index, out in enumerate(self.outputs):
            lines.append(f'  out{index} [label="output {index}", shape=doubleoctagon];')
            lines.append(f"  n{out.id} -> out{index};")
        lines.append("}")
        return "\n".join(lines)


def _attr_text(attrs: dict) -> str:
    shown = {k: v for k, v in attrs.items() if k not in ("program", "names")}
    if "names" in attrs:
        shown["ops"] = "[" + ",".join(attrs["names"]) + "]"
    if not shown:
        return ""
    parts = []
    for key, value in shown.items():
        text = repr(value) if not isinstance(value, np.dtype) else str(value)
        if len(text) > 40:
            text = text[:37] + "..."
        parts.append(f"{key}={text}")
    return " {" + ", ".join(parts) + "}"
