"""Compiler passes: each one a small function ``Graph -> Graph``.

* :func:`lower_linear`: the fused ``linear`` primitive becomes ``matmul(x, w.T)``, so the
  passes and kernels below that know matrix products apply to layers too;
* :func:`specialize`: give every node a concrete shape/dtype for one input signature and make
  implicit casts explicit (weak scalars get their partner's dtype, integer inputs of float-only
  operators and mixed dtypes of promoting operators get ``cast`` nodes), so later passes and the
  executor never guess;
* :func:`dead_code_elimination`: drop nodes that no output or side effect needs;
* :func:`constant_folding`: evaluate operators whose inputs are all constants;
* :func:`common_subexpression_elimination`: one node for identical (op, inputs, attrs);
* :func:`algebraic_simplification`: ``x*1, x+0, x-0, x/1, x**1 -> x``, ``--x -> x``, permute of
  permute, reshape of reshape, no-op casts/reshapes/broadcasts, ``stop_gradient`` at run time;
* :func:`elementwise_fusion`: a chain of elementwise operators becomes one ``fused`` node that the
  executor runs with NumPy ufuncs writing into one buffer, cache-block by cache-block
  (:func:`hybridgrad.symbolic.kernels.run_fused`);
* :func:`matmul_epilogue_fusion`: a matrix product read only by a fused node joins it.

The scheduling passes (execution order, batch splitting, rematerialisation) are in
:mod:`hybridgrad.symbolic.schedule`, the runtime kernels in :mod:`hybridgrad.symbolic.kernels`.

Example:
    >>> from hybridgrad.symbolic import Variable
    >>> from hybridgrad.symbolic.graph import Graph
    >>> x = Variable('x', shape=(4,))
    >>> graph = Graph.from_symbols([(x * 1 + 0).exp()])
    >>> algebraic_simplification(graph).ops()
    ['exp']
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hybridgrad import dtypes
from hybridgrad.ops.registry import OpDef, Spec, get_op, promote, run_forward
from hybridgrad.symbolic.graph import (
    STOP_GRADIENT,
    Graph,
    Node,
    SymbolError,
    infer,
    resolve_weak,
    topological,
)
from hybridgrad.symbolic.kernels import FUSED, FUSED_MATMUL

# ----------------------------------------------------------------------------------------------
# Helpers.


def rewrite(graph: Graph, replace: Callable[..., Node], pass_original: bool = False) -> Graph:
    """Rebuild ``graph`` calling ``replace(node)`` on each node (whose inputs are already
    rewritten) in order; ``replace`` returns the node itself, a new node or an existing one.

    Nodes that were dead before the pass stay (removing them is dead-code elimination's job);
    nodes that the rewrite itself left unused are dropped. With ``pass_original`` the callback
    is ``replace(node, original_node, mapping)`` (``mapping``: original id -> rewritten node),
    for passes that planned replacements by the original nodes' ids."""
    live = {n.id for n in topological(graph.outputs, graph.effects)}
    mapping: dict[int, Node] = {}
    for node in graph.nodes:
        inputs = [mapping.get(i.id, i) for i in node.inputs]
        deps = [mapping.get(d.id, d) for d in node.deps]
        if any(a is not b for a, b in zip(inputs, node.inputs)) or any(
                a is not b for a, b in zip(deps, node.deps)):
            fresh = node.copy(inputs)
            fresh.deps = deps
            node_now = fresh
        else:
            node_now = node
        mapping[node.id] = (replace(node_now, node, mapping) if pass_original
                            else replace(node_now))
    outputs = [mapping.get(o.id, o) for o in graph.outputs]
    effects = [mapping.get(e.id, e) for e in graph.effects]
    kept = [mapping[n.id] for n in graph.nodes if n.id not in live]
    return Graph(topological(outputs, effects + kept), outputs, effects)


def use_counts(graph: Graph) -> dict[int, int]:
    """How many times each node is read (as an input, an output or a side effect)."""
    counts: dict[int, int] = {n.id: 0 for n in graph.nodes}
    for node in graph.nodes:
        for child in node.inputs:
            counts[child.id] = counts.get(child.id, 0) + 1
    for node in graph.outputs + graph.effects:
        counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def _scalar_value(node: Node):
    """The single value of a constant node filled with one value, else None."""
    if node.kind != "const":
        return None
    value = np.asarray(node.value)
    if value.size == 0:
        return None
    first = value.flat[0]
    if value.size > 1 and not np.all(value == first):
        return None
    return first


def _freeze(value):
    """A hashable stand-in for an attribute value (index arrays, lists, dtypes...)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    return value


# ----------------------------------------------------------------------------------------------
# Specialisation for one input signature.


def _cast_node(node: Node, dtype: np.dtype) -> Node:
    if node.kind == "const":
        array = np.asarray(node.value).astype(dtype)
        return Node("const", value=array, spec=Spec(tuple(array.shape), array.dtype))
    cast = get_op("cast")
    return Node("op", op=cast, inputs=[node], attrs={"dtype": dtype},
                spec=Spec(node.spec.shape, dtype))


def specialize(graph: Graph, input_specs: dict[str, Spec]) -> Graph:
    """A copy of ``graph`` where every node has a spec for these input specs, with the implicit
    dtype conversions of eager mode made explicit.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> from hybridgrad.ops.registry import Spec
        >>> import numpy as np
        >>> x = Variable('x')
        >>> g = specialize(Graph.from_symbols([x.exp()]), {'x': Spec((2,), np.dtype('int64'))})
        >>> g.ops()
        ['cast', 'exp']
    """
    mapping: dict[int, Node] = {}
    for node in graph.nodes:
        if node.kind == "input":
            if node.name not in input_specs:
                raise SymbolError(f"no value given for Variable {node.name!r}")
            new = node.copy()
            new.spec = input_specs[node.name]
        elif node.kind == "param":
            new = node.copy()
            new.spec = Spec(tuple(node.value.shape), node.value.dtype)
        elif node.kind == "const":
            new = node.copy()
        else:
            inputs = [mapping[i.id] for i in node.inputs]
            specs = resolve_weak(inputs)
            fixed = []
            for child, spec in zip(inputs, specs):
                if child.weak:
                    array = np.asarray(child.value, dtype=spec.dtype)
                    child = Node("const", value=array, spec=Spec((), array.dtype))
                fixed.append(child)
            fixed = _explicit_casts(node.op, fixed)
            new = node.copy(fixed)
            new.spec = infer(node.op, [c.spec for c in fixed], node.attrs)
        new.deps = [mapping[d.id] for d in node.deps]
        mapping[node.id] = new
    outputs = [mapping[o.id] for o in graph.outputs]
    effects = [mapping[e.id] for e in graph.effects]
    kept = [mapping[n.id] for n in graph.nodes]
    return Graph(topological(outputs, effects + kept), outputs, effects)


def _explicit_casts(op: OpDef, inputs: list[Node]) -> list[Node]:
    if op.float_only:
        default = dtypes.get_default_dtype()
        return [c if c.spec.dtype.kind == "f" else _cast_node(c, default) for c in inputs]
    if op.promotes and len(inputs) > 1:
        kinds = {c.spec.dtype for c in inputs}
        if len(kinds) > 1:
            common = promote(*(c.spec.dtype for c in inputs))
            return [c if c.spec.dtype == common else _cast_node(c, common) for c in inputs]
    return inputs


# ----------------------------------------------------------------------------------------------
# The passes.


def dead_code_elimination(graph: Graph) -> Graph:
    """Keep only the nodes that outputs and side effects depend on.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(2,))
        >>> used, unused = x + 1, x * 5
        >>> g = Graph([x.node, *used.node.inputs[1:], used.node, *unused.node.inputs[1:],
        ...            unused.node], [used.node])
        >>> g.ops(), dead_code_elimination(g).ops()
        (['add', 'mul'], ['add'])
    """
    return Graph(topological(graph.outputs, graph.effects), graph.outputs, graph.effects)


FOLD_LIMIT_BYTES = 1 << 20


def _nbytes(spec: Spec) -> int:
    return int(np.prod(spec.shape, dtype=np.int64)) * np.dtype(spec.dtype).itemsize


def constant_folding(graph: Graph) -> Graph:
    """Evaluate operators whose inputs are all constants (results up to 1 MiB).

    Example:
        >>> from hybridgrad.symbolic import Variable, Constant
        >>> x = Variable('x', shape=(2,))
        >>> g = constant_folding(Graph.from_symbols([x * (Constant(2.0) * 3.0)]))
        >>> g.ops(), g.op_nodes()[0].inputs[1].value
        (['mul'], array(6., dtype=float32))
    """

    def fold(node: Node) -> Node:
        # (operators whose value changes from call to call say so: OpDef.foldable)
        if node.kind != "op" or not node.op.foldable:
            return node
        if not node.inputs or not all(i.kind == "const" for i in node.inputs):
            return node
        if node.spec is not None and _nbytes(node.spec) > FOLD_LIMIT_BYTES:
            return node
        arrays = [np.asarray(i.value, dtype=i.spec.dtype) if i.spec is not None
                  else np.asarray(i.value) for i in node.inputs]
        value = np.asarray(run_forward(node.op, [arrays] if node.op.variadic else arrays,
                                       node.attrs))
        if node.spec is not None and value.dtype != node.spec.dtype:
            value = value.astype(node.spec.dtype)
        return Node("const", value=np.array(value, copy=True),
                    spec=Spec(tuple(value.shape), value.dtype))

    return rewrite(graph, fold)


def common_subexpression_elimination(graph: Graph) -> Graph:
    """Merge nodes computing the same thing: same op, same inputs, same attributes (and equal
    small constants).

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(2,))
        >>> g = Graph.from_symbols([x.exp() + x.exp()])
        >>> g.ops(), common_subexpression_elimination(g).ops()
        (['exp', 'exp', 'add'], ['exp', 'add'])
    """
    seen: dict = {}

    def merge(node: Node) -> Node:
        if node.kind == "op":
            if not node.op.foldable or node.deps:
                return node
            key = ("op", node.op.name, tuple(i.id for i in node.inputs), _freeze(node.attrs))
        elif node.kind == "const" and node.spec is not None and np.size(node.value) <= 64:
            value = np.asarray(node.value, dtype=node.spec.dtype)
            key = ("const", node.weak, value.dtype.str, value.shape, value.tobytes())
        else:
            return node
        return seen.setdefault(key, node)

    return rewrite(graph, merge)


_IDENTITY_RIGHT = {"mul": 1, "div": 1, "pow": 1, "add": 0, "sub": 0}
_IDENTITY_LEFT = {"mul": 1, "add": 0}


def algebraic_simplification(graph: Graph) -> Graph:
    """Remove operations that do nothing and merge pairs of movement operations.

    Rules (each only where the result keeps the operand's shape and dtype): ``x*1``, ``1*x``,
    ``x+0``, ``0+x``, ``x-0``, ``x/1``, ``x**1`` -> ``x``; ``-(-x)`` -> ``x``;
    ``permute(permute(x))`` -> one permute (or ``x``); ``reshape(reshape(x))`` -> one reshape;
    reshape/broadcast/cast to the same shape/dtype -> ``x``; ``stop_gradient(x)`` -> ``x``;
    ``permute(a @ b)`` -> ``b.T @ a.T`` for matrices (a gradient ``(x.T @ g).T`` becomes
    ``g.T @ x``: no transposed copy); ``x > 0`` -> ``relu(x) > 0`` when ``relu(x)`` is computed
    anyway (relu's gradient mask then reads relu's output, so ``x`` can die early and relu can
    run in place).

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(2, 3))
        >>> algebraic_simplification(Graph.from_symbols([x.T.T - 0])).ops()
        []
    """

    relu_of: dict[int, Node] = {}

    def simplify(node: Node) -> Node:
        if node.kind != "op":
            return node
        name, inputs = node.op.name, node.inputs
        if name == "relu":
            relu_of.setdefault(inputs[0].id, node)
        if (name == "gt" and inputs[0].id in relu_of and _scalar_value(inputs[1]) == 0
                and inputs[1].spec is not None and inputs[1].spec.shape == ()):
            return node.copy([relu_of[inputs[0].id], inputs[1]])
        if (name == "permute" and tuple(node.attrs["dims"]) == (1, 0) and inputs[0].kind == "op"
                and inputs[0].op.name == "matmul" and len(inputs[0].spec.shape) == 2
                and all(len(i.spec.shape) == 2 for i in inputs[0].inputs)):
            a, b = inputs[0].inputs
            flipped = [simplify(Node("op", op=node.op, inputs=[v], attrs={"dims": (1, 0)},
                                     spec=Spec(tuple(reversed(v.spec.shape)), v.spec.dtype)))
                       for v in (b, a)]
            return Node("op", op=inputs[0].op, inputs=flipped, attrs=dict(inputs[0].attrs),
                        spec=node.spec)

        def same_spec(operand: Node) -> bool:
            return (node.spec is not None and operand.spec is not None
                    and tuple(operand.spec.shape) == tuple(node.spec.shape)
                    and operand.spec.dtype == node.spec.dtype)

        if name in _IDENTITY_RIGHT and len(inputs) == 2:
            value = _scalar_value(inputs[1])
            if value is not None and value == _IDENTITY_RIGHT[name] and same_spec(inputs[0]):
                return inputs[0]
        if name in _IDENTITY_LEFT and len(inputs) == 2:
            value = _scalar_value(inputs[0])
            if value is not None and value == _IDENTITY_LEFT[name] and same_spec(inputs[1]):
                return inputs[1]
        if name == "neg" and inputs[0].kind == "op" and inputs[0].op.name == "neg":
            return inputs[0].inputs[0]
        if name == "stop_gradient":
            return inputs[0]
        if name in ("reshape", "broadcast_to", "cast") and same_spec(inputs[0]):
            return inputs[0]
        if name == "reshape" and inputs[0].kind == "op" and inputs[0].op.name == "reshape":
            source = inputs[0].inputs[0]
            if same_spec(source):
                return source
            merged = node.copy([source])
            return merged
        if name == "permute" and inputs[0].kind == "op" and inputs[0].op.name == "permute":
            inner, outer = inputs[0].attrs["dims"], node.attrs["dims"]
            dims = tuple(inner[d] for d in outer)
            source = inputs[0].inputs[0]
            if dims == tuple(range(len(dims))):
                return source
            merged = node.copy([source])
            merged.attrs = {"dims": dims}
            return merged
        if name == "permute" and tuple(node.attrs["dims"]) == tuple(range(len(node.attrs["dims"]))):
            return inputs[0]
        return node

    return rewrite(graph, simplify)


def fold_scalar_affine(graph: Graph) -> Graph:
    """Collapse chains of ``+ c``, ``- c``, ``* c``, ``/ c`` by scalar constants on one floating
    value into at most one multiply and one add: ``((x - c1) * a) + b -> x * a + (b - c1*a)``.

    This *reassociates* floating-point arithmetic (as XLA's algebraic simplifier and C's
    ``-ffast-math`` do): the result is the same function of ``x`` but may differ from the eager
    order of operations by rounding (a few units in the last place). It applies only to single-
    use intermediates of the result's shape and dtype, and only where it removes operations.
    ``compile(..., pipeline=EXACT_PIPELINE)`` leaves it out for results bit-identical to eager.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(4,))
        >>> fold_scalar_affine(Graph.from_symbols([((x - 1) * 2 + 3) / 4])).ops()
        ['mul', 'add']
    """
    uses = use_counts(graph)
    chain: dict[int, tuple] = {}   # rewritten node id -> (x, scale, shift, original op count)

    def scalar(node: Node):
        if node.kind != "const" or node.spec is None or tuple(node.spec.shape) != ():
            return None
        return float(np.asarray(node.value))

    def fold(node: Node, original: Node, mapping: dict) -> Node:
        if (node.kind != "op" or node.op.name not in ("add", "sub", "mul", "div")
                or node.spec is None or np.dtype(node.spec.dtype).kind != "f"):
            return node
        a, b = node.inputs
        name = node.op.name
        if scalar(b) is not None and scalar(a) is None:
            operand, c, left = a, scalar(b), False
        elif scalar(a) is not None and scalar(b) is None and name in ("add", "mul", "sub"):
            operand, c, left = b, scalar(a), True
        else:
            return node
        if operand.spec != node.spec:
            return node
        inner = chain.get(operand.id) if uses.get(original.inputs[1 if left else 0].id) == 1 \
            else None
        x, scale, shift, count = inner if inner is not None else (operand, 1.0, 0.0, 0)
        if name == "add":
            shift += c
        elif name == "sub":
            scale, shift = (-scale, c - shift) if left else (scale, shift - c)
        elif name == "mul":
            scale, shift = scale * c, shift * c
        else:
            if c == 0:
                return node
            scale, shift = scale / c, shift / c
        count += 1
        chain_entry = (x, scale, shift, count)
        needed = (scale != 1.0) + (shift != 0.0)
        if inner is None or needed >= count:
            chain[node.id] = chain_entry
            return node
        dtype = node.spec.dtype
        result = x
        for op_name, value in (("mul", scale), ("add", shift)):
            if (op_name == "mul" and value == 1.0) or (op_name == "add" and value == 0.0):
                continue
            const = Node("const", value=np.asarray(value, dtype=dtype), spec=Spec((), dtype),
                         weak=True)
            result = Node("op", op=get_op(op_name), inputs=[result, const], attrs={},
                          spec=node.spec)
        if result is x:
            return x
        chain[result.id] = chain_entry
        return result

    return rewrite(graph, fold, pass_original=True)


# ----------------------------------------------------------------------------------------------
# Elementwise fusion.

def _fusable(node: Node) -> bool:
    # (OpDef.ufunc: the operator's forward as ufunc calls writing into a given array)
    if node.kind != "op" or node.op.ufunc is None or node.spec is None:
        return False
    if node.spec.dtype.kind not in "f":
        return False
    return all(i.spec is not None and i.spec.dtype == node.spec.dtype for i in node.inputs)


def elementwise_fusion(graph: Graph) -> Graph:
    """Fuse trees of elementwise operators into single ``fused`` nodes: a node joins the group
    of each input that is itself fusable, read only by it, and of the same shape and dtype.
    The group runs as a small program of NumPy ufunc calls with ``out=``, a block of rows at a
    time, with block-sized scratch registers for side branches.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(8,))
        >>> g = elementwise_fusion(Graph.from_symbols([((x * 2).exp() + x.sin()).tanh()]))
        >>> g.ops(), g.op_nodes()[0].attrs['names']
        (['fused'], ('mul', 'exp', 'sin', 'add', 'tanh'))
    """
    counts = use_counts(graph)
    outputs = {o.id for o in graph.outputs + graph.effects}
    groups: dict[int, list[Node]] = {}  # root node id -> members (inputs before users)
    for node in graph.nodes:
        if not _fusable(node):
            continue
        members: list[Node] = []
        for child in node.inputs:
            group = groups.get(child.id)
            if (group is not None and counts[child.id] == 1 and child.id not in outputs
                    and sum(i is child for i in node.inputs) == 1
                    and tuple(child.spec.shape) == tuple(node.spec.shape)):
                members += group
                del groups[child.id]
        groups[node.id] = members + [node]
    def epilogue_of_product(node: Node) -> bool:
        # A lone operator on a matrix product that nothing else reads (the bias of a layer
        # whose pre-activation the backward pass keeps) is fused too, so that
        # matmul_epilogue_fusion can apply it as the product is written.
        return any(child.kind == "op" and child.op.name == "matmul" and counts[child.id] == 1
                   and child.id not in outputs and child.spec == node.spec
                   for child in node.inputs)

    by_root = {root: members for root, members in groups.items()
               if len(members) >= 2 or epilogue_of_product(members[0])}

    def replace(node: Node, original: Node, mapping: dict) -> Node:
        members = by_root.get(original.id)
        return node if members is None else _fuse(members, mapping)

    return rewrite(graph, replace, pass_original=True)


def _fuse(members: list[Node], mapping: dict) -> Node:
    """One fused node computing the tree ``members`` (root last)."""
    inside = {n.id: n for n in members}
    externals: list[Node] = []
    program: list = []
    free: list[int] = []
    used = [1]  # register 0 is the result

    def external(child: Node) -> int:
        child = mapping.get(child.id, child)
        for index, known in enumerate(externals):
            if known is child:
                return index
        externals.append(child)
        return len(externals) - 1

    def size(node: Node) -> int:
        return 1 + sum(size(c) for c in node.inputs if c.id in inside)

    def emit(node: Node, dest: int) -> None:
        refs: list = [None] * len(node.inputs)
        temps = []
        order = sorted((i for i, c in enumerate(node.inputs) if c.id in inside),
                       key=lambda i: -size(node.inputs[i]))
        for rank, position in enumerate(order):
            if rank == 0:
                register = dest
            else:
                register = free.pop() if free else used[0]
                if register == used[0]:
                    used[0] += 1
                temps.append(register)
            emit(node.inputs[position], register)
            refs[position] = -register - 1
        for position, child in enumerate(node.inputs):
            if refs[position] is None:
                refs[position] = external(child)
        program.append((node.op.name, tuple(refs), dest))
        free.extend(temps)

    root = members[-1]
    emit(root, 0)
    return Node("op", op=FUSED, inputs=externals,
                attrs={"program": tuple(program), "names": tuple(p[0] for p in program),
                       "shape": tuple(root.spec.shape), "dtype": root.spec.dtype,
                       "registers": used[0]},
                spec=root.spec)


def matmul_epilogue_fusion(graph: Graph) -> Graph:
    """Fold a matrix product read only by a fused elementwise node into it: the product is then
    computed a block of rows at a time and consumed at once (a GEMM epilogue), so it never
    needs a buffer of its own. A weight gradient feeding an optimizer update is the typical
    case.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> a, b = Variable('a', shape=(4, 3)), Variable('b', shape=(3, 5))
        >>> g = elementwise_fusion(Graph.from_symbols([((a @ b) * 2 + 1).relu()]))
        >>> dead_code_elimination(matmul_epilogue_fusion(g)).ops()
        ['fused_matmul']
    """
    counts = use_counts(graph)
    outputs = {o.id for o in graph.outputs + graph.effects}

    def fold(node: Node, original: Node, mapping: dict) -> Node:
        if node.kind != "op" or node.op.name != "fused" or len(node.spec.shape) != 2:
            return node
        for index, child in enumerate(node.inputs):
            known = original.inputs[index]  # (use counts are by the original nodes' ids)
            if (child.kind == "op" and child.op.name == "matmul" and counts[known.id] == 1
                    and known.id not in outputs and child.spec == node.spec
                    and all(len(i.spec.shape) == 2 for i in child.inputs)
                    and sum(i is child for i in node.inputs) == 1):
                others = [c for c in node.inputs if c is not child]
                remap = {index: 0}
                for position in range(len(node.inputs)):
                    if position != index:
                        remap[position] = len(remap)
                program = tuple((name, tuple(ref if ref < 0 else remap[ref] for ref in refs),
                                 dest) for name, refs, dest in node.attrs["program"])
                attrs = dict(node.attrs, program=program,
                             names=("matmul",) + tuple(node.attrs["names"]))
                return Node("op", op=FUSED_MATMUL, inputs=list(child.inputs) + others,
                            attrs=attrs, spec=node.spec)
        return node

    return rewrite(graph, fold, pass_original=True)


def lower_linear(graph: Graph) -> Graph:
    """Rewrite ``linear(x, w)`` with a matrix ``x`` as ``matmul(x, permute(w))``.

    The fused ``linear`` primitive exists for eager mode's weight gradient (see
    ``hybridgrad/ops/fused.py``); in a compiled graph the backward pass is already written
    out, and as a plain matrix product the layer joins the compiler's matmul machinery: an
    ``out=`` kernel into a planned buffer, the bias and activation folded in as a GEMM
    epilogue (:func:`matmul_epilogue_fusion`), and row-block execution of inference graphs.
    The transposed weight is a view: BLAS reads it as is, nothing is copied.

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.ops.registry import apply
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(4, 3))
        >>> lower_linear(Graph.from_symbols([apply("linear", x, hg.ones(2, 3))])).ops()
        ['permute', 'matmul']
    """
    matmul, permute = get_op("matmul"), get_op("permute")

    def lower(node: Node) -> Node:
        if node.kind != "op" or node.op.name != "linear" or len(node.inputs[0].spec.shape) != 2:
            return node
        x, weight = node.inputs
        if x.spec.dtype != weight.spec.dtype:
            return node
        transposed = Node("op", op=permute, inputs=[weight], attrs={"dims": (1, 0)},
                          spec=Spec(tuple(reversed(weight.spec.shape)), weight.spec.dtype))
        return Node("op", op=matmul, inputs=[x, transposed], attrs={}, spec=node.spec)

    return rewrite(graph, lower)


DEFAULT_PIPELINE = (
    dead_code_elimination,
    lower_linear,
    constant_folding,
    algebraic_simplification,
    common_subexpression_elimination,
    algebraic_simplification,
    fold_scalar_affine,
    dead_code_elimination,
    elementwise_fusion,
    matmul_epilogue_fusion,
    dead_code_elimination,
)


# The default passes without floating-point reassociation: results equal eager mode's bit for bit
# (up to the order of reductions inside fused matmul epilogues).
EXACT_PIPELINE = tuple(p for p in DEFAULT_PIPELINE if p is not fold_scalar_affine)


def optimize(graph: Graph, pipeline=DEFAULT_PIPELINE) -> Graph:
    """Run the passes in order.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(4,))
        >>> optimize(Graph.from_symbols([(x * 1).exp().exp()])).ops()
        ['fused']
    """
    for apply_pass in pipeline:
        graph = apply_pass(graph)
    return graph


__all__ = ["STOP_GRADIENT", "algebraic_simplification", "common_subexpression_elimination",
           "constant_folding", "dead_code_elimination", "elementwise_fusion", "lower_linear",
           "optimize", "rewrite", "specialize", "use_counts"]
