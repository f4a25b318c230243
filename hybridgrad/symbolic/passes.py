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
  executor runs with NumPy ufuncs writing into one buffer, cache-block by cache-block.

Example:
    >>> from hybridgrad.symbolic import Variable
    >>> from hybridgrad.symbolic.graph import Graph
    >>> x = Variable('x', shape=(4,))
    >>> graph = Graph.from_symbols([(x * 1 + 0).exp()])
    >>> algebraic_simplification(graph).ops()
    ['exp']
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from hybridgrad import dtypes
from hybridgrad.ops.registry import (
    ELEMENTWISE,
    PER_SAMPLE,
    REGISTRY,
    OpDef,
    Spec,
    get_op,
    promote,
    run_forward,
)
from hybridgrad.symbolic.graph import (
    STOP_GRADIENT,
    Graph,
    Node,
    SymbolError,
    infer,
    resolve_weak,
    topological,
)

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


def _run_program(registers: list, externals: list, program: tuple) -> np.ndarray:
    """Run fused steps; register 0 is the result, the others scratch of the same shape."""
    for name, refs, dest in program:
        arrays = [registers[-ref - 1] if ref < 0 else externals[ref] for ref in refs]
        REGISTRY[name].ufunc(registers[dest], *arrays)
    return registers[0]


BLOCK_ELEMENTS = 1 << 16         # elementwise blocks: few ufunc calls, still cache-sized
MATMUL_BLOCK_ELEMENTS = 1 << 15  # matmul-epilogue blocks (their scratch is held per call)
# OpenBLAS packs the whole right operand on every call, so thin row blocks pay that packing
# many times: 41-row blocks of a (512, 256) @ (256, 784) weight gradient took 2.28 ms against
# 1.71 ms in 128-row blocks and 1.52 ms in one call.
MATMUL_MIN_ROWS = 128
# Stands for the not-yet-computed product (operand 0 of a matmul epilogue) in alias checks:
# empty, so it never counts as sharing memory with the result.
_NO_ARRAY = np.empty(0)


def _row_blocks(out: np.ndarray, externals: list) -> tuple[int, list] | None:
    """Rows per block and which operands to slice by rows (None: no row blocking)."""
    if out.ndim == 0 or out.size <= BLOCK_ELEMENTS:
        return None
    rows = out.shape[0]
    sliced = []
    for array in externals:
        lead = array.ndim == out.ndim and array.shape[0] == rows and rows > 1
        if not lead and array.ndim == out.ndim and array.shape[0] != 1:
            return None
        sliced.append(lead)
    return max(1, BLOCK_ELEMENTS // max(1, out.size // rows)), sliced


@functools.lru_cache(maxsize=1024)
def _accumulate_form(program: tuple) -> tuple | None:
    """``(readings, product_scale)`` when the program computes ``x * x_scale + product *
    product_scale`` (terms in either order), the product being external 0: the form of an
    optimizer state fed a weight gradient, ``buf = buf * momentum + (g.T @ x) * (1 -
    dampening)``. ``readings`` are the possible ``(x, x_scale)`` external indices (``x_scale``
    None for 1; a product of two externals reads either way round, which the caller settles by
    their sizes); ``product_scale`` an external index or None. None for any other program.

    Example:
        >>> _accumulate_form((("mul", (1, 2), 0), ("mul", (0, 3), 1), ("add", (-1, -2), 0)))
        (((1, 2), (2, 1)), 3)
        >>> _accumulate_form((("add", (1, 0), 0),)), _accumulate_form((("sub", (1, 0), 0),))
        ((((1, None),), None), None)
    """
    registers: dict = {}
    for name, refs, dest in program:
        if name not in ("add", "mul") or len(refs) != 2:
            return None
        operands = [registers.get(-ref - 1) if ref < 0 else ("external", ref) for ref in refs]
        if any(operand is None for operand in operands):
            return None
        registers[dest] = (name, *operands)
    result = registers.get(0)
    if result is None or result[0] != "add":
        return None

    def readings(expression):
        if expression[0] == "external":
            return [(expression[1], None)]
        if expression[0] == "mul" and all(e[0] == "external" for e in expression[1:]):
            first, second = expression[1][1], expression[2][1]
            return [(first, second), (second, first)]
        return []

    for product_term, x_term in ((result[1], result[2]), (result[2], result[1])):
        products = [r for r in readings(product_term) if r[0] == 0 and r[1] != 0]
        xs = tuple(r for r in readings(x_term) if 0 not in r)
        if products and xs:
            return xs, products[0][1]
    return None


@functools.lru_cache(maxsize=1)
def _scipy_blas():
    """SciPy's BLAS wrappers, or None: only they expose GEMM's ``beta`` (``C = alpha * A @ B +
    beta * C`` in one call), which NumPy's matmul does not."""
    try:
        from scipy.linalg import blas
    except ImportError:
        return None
    from hybridgrad import threads

    threads.reapply()  # (SciPy brings its own OpenBLAS: hg.set_num_threads must reach it too)
    return blas


def _scalar(array) -> float | None:
    return float(array.reshape(-1)[0]) if array.size == 1 else None


def _accumulate_in_place(out, externals, program, matmul) -> np.ndarray | None:
    """``out = out * beta + (a @ b) * alpha`` as one GEMM call writing ``out`` in place, when
    the program has that form and SciPy's BLAS is there; None otherwise (the caller's general
    path then runs). Row blocks of the product fed to the update would cost 10% more on this
    OpenBLAS (``benchmarks/gemm_blocks.py``) and a whole product as much memory as ``out``."""
    form = _accumulate_form(program)
    if form is None or out.ndim != 2 or not out.flags.c_contiguous or out.size == 0 \
            or out.dtype not in (np.float32, np.float64):
        return None
    readings, product_scale = form
    operands = [None] + list(externals)
    chosen = [(x, scale) for x, scale in readings
              if operands[x].dtype == out.dtype and _same_memory(operands[x], out)
              and (scale is None or operands[scale].size == 1)]
    if not chosen:
        return None
    x, x_scale = chosen[0]
    beta = 1.0 if x_scale is None else _scalar(operands[x_scale])
    alpha = 1.0 if product_scale is None else _scalar(operands[product_scale])
    # (BLAS skips a term whose factor is 0 where NumPy would propagate a NaN through it)
    if alpha is None or beta is None or alpha == 0 or beta == 0:
        return None
    a, b = matmul
    if a.ndim != 2 or b.ndim != 2 or a.dtype != out.dtype or b.dtype != out.dtype \
            or np.may_share_memory(a, out) or np.may_share_memory(b, out):
        return None
    blas = _scipy_blas()
    if blas is None:
        return None
    # BLAS is column-major: out.T (Fortran-ordered) = b.T @ a.T, each operand passed as is
    # with a transpose flag, so nothing is copied.
    left, left_transposed = (b.T, 0) if b.flags.c_contiguous else (b, 1)
    right, right_transposed = (a.T, 0) if a.flags.c_contiguous else (a, 1)
    if not (left.flags.f_contiguous and right.flags.f_contiguous):
        return None
    gemm = blas.get_blas_funcs("gemm", dtype=out.dtype)
    result = gemm(alpha, left, right, beta=beta, c=out.T, trans_a=left_transposed,
                  trans_b=right_transposed, overwrite_c=True)
    if not np.shares_memory(result, out):   # (a wrapper that copied after all)
        np.copyto(out, result.T)
    return out


def run_fused(out: np.ndarray, externals: list, program: tuple, registers: int = 1,
              matmul: tuple | None = None) -> np.ndarray:
    """Run a fused elementwise program into ``out``, block of rows by block of rows, so that
    intermediates stay in the CPU cache (operands spanning all rows are sliced; broadcast ones,
    such as a bias, are passed whole). Extra registers are block-sized scratch arrays.

    With ``matmul=(a, b)`` the program's external 0 is ``a @ b``, computed one block of rows at
    a time (a matmul epilogue): the product is never materialised in full.

    ``out`` may be the memory of an input (the memory planner's in-place execution): each block
    is then computed in scratch first, unless ``out`` is exactly an input that no step reads
    after the first write to ``out``."""
    if matmul is not None and out.size > MATMUL_BLOCK_ELEMENTS:
        done = _accumulate_in_place(out, externals, program, matmul)
        if done is not None:
            return done
    if matmul is not None and any(np.may_share_memory(m, out) for m in matmul):
        # The product reads whole rows/columns of its operands: with ``out`` overlapping one
        # of them, compute it in full before anything is written.
        return run_fused(out, [np.matmul(*matmul)] + list(externals), program, registers)
    if any(a.size > 1 and np.may_share_memory(a, out) and not _same_memory(a, out)
           for a in externals):
        # An input overlapping the result other than element for element (a transposed view
        # of it, say): blocks would read what earlier blocks wrote. Compute aside, then copy.
        np.copyto(out, run_fused(np.empty_like(out), externals, program, registers, matmul))
        return out
    operands = list(externals) if matmul is None else [None] + list(externals)
    overlapping = any(a is not None and a.size > 1 and np.may_share_memory(a, out)
                      for a in operands)
    aliased = overlapping
    if aliased and _exact_early_alias(out, [_NO_ARRAY if a is None else a for a in operands],
                                      program):
        # (an optimizer state updated in place, ``buf = buf * momentum + grad``: each block
        # reads its rows of the old value before writing them, so no scratch copy is needed)
        aliased = False
    # The product can be written straight into the result when no operand shares its memory
    # (writing the product there would clobber that operand before the program reads it, even
    # an exact in-place alias) and the program reads the product only until its first write.
    into_out = matmul is not None and not overlapping and _reads_early(program, 0)
    if into_out:  # one product call (BLAS packs the right operand once), then the epilogue
        product = np.matmul(matmul[0], matmul[1], out=out)
        operands = [product] + list(externals)
        if out.ndim == 0 or out.size <= BLOCK_ELEMENTS:
            # (What the call below would conclude: nothing else aliases ``out`` and the product,
            # exactly ``out``, is read only before the first write; skip its checks, which
            # cost as much as a small product.)
            _run_program([out] + [np.empty_like(out) for _ in range(registers - 1)], operands,
                         program)
            return out
        return run_fused(out, operands, program, registers)
    blocking = None
    if matmul is not None and out.ndim == 2 and out.size > MATMUL_BLOCK_ELEMENTS:
        rows = out.shape[0]
        sliced = [True] + [a.ndim == 2 and a.shape[0] == rows and rows > 1 for a in externals]
        if all(a.ndim < 2 or a.shape[0] in (1, rows) for a in externals):
            blocking = (max(MATMUL_MIN_ROWS, MATMUL_BLOCK_ELEMENTS // max(1, out.shape[1])),
                        sliced)
    elif matmul is None:
        blocking = _row_blocks(out, operands)
    if blocking is None:
        if matmul is not None:
            operands[0] = np.matmul(*matmul, out=out) if into_out else np.matmul(*matmul)
        target = np.empty_like(out) if aliased else out
        scratch = [target] + [np.empty_like(out) for _ in range(registers - 1)]
        _run_program(scratch, operands, program)
        if aliased:
            np.copyto(out, target)
        return out
    step, sliced = blocking
    rows = out.shape[0]
    step = min(step, rows)
    shape = (step,) + out.shape[1:]
    scratch = [np.empty(shape, dtype=out.dtype) for _ in range(registers - 1 + aliased)]
    product = (np.empty(shape, dtype=out.dtype) if matmul is not None and not into_out
               else None)
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        count = stop - start
        blocks = [a[start:stop] if cut and a is not None else a
                  for a, cut in zip(operands, sliced)]
        if matmul is not None:
            target = out[start:stop] if into_out else product[:count]
            blocks[0] = np.matmul(matmul[0][start:stop], matmul[1], out=target)
        first = scratch[-1][:count] if aliased else out[start:stop]
        regs = [first] + [s[:count] for s in scratch[:registers - 1]]
        _run_program(regs, blocks, program)
        if aliased:
            out[start:stop] = first
    return out


def _same_memory(array: np.ndarray, out: np.ndarray) -> bool:
    """Whether ``array`` is element for element the memory of ``out`` (a broadcast operand of
    fewer dimensions never is: it is read whole by every block)."""
    return (array.shape == out.shape and array.strides == out.strides
            and array.__array_interface__["data"][0] == out.__array_interface__["data"][0])


@functools.lru_cache(maxsize=1024)
def _reads_early(program: tuple, external: int) -> bool:
    """Whether ``external`` is read only up to the first step writing the result (a property
    of the static program: cached, since every call of a fused kernel asks it again)."""
    first_write = next(i for i, (_, _, dest) in enumerate(program) if dest == 0)
    return all(i <= first_write for i, (_, refs, _) in enumerate(program) if external in refs)


def _exact_early_alias(out, externals, program) -> bool:
    """True when every input sharing memory with ``out`` is exactly ``out`` and is read only
    up to the first step that writes ``out``."""
    return all(_same_memory(array, out) and _reads_early(program, index)
               for index, array in enumerate(externals)
               if array.size > 1 and np.may_share_memory(array, out))


def _fused_forward(xp, *arrays, program, names, shape, dtype, registers=1):
    out = np.empty(shape, dtype=dtype)
    return run_fused(out, list(arrays), program, registers)


def _fused_matmul_forward(xp, a, b, *arrays, program, names, shape, dtype, registers=1):
    out = np.empty(shape, dtype=dtype)
    return run_fused(out, list(arrays), program, registers, matmul=(a, b))


def _fused_shape(*specs, shape, dtype, **_attrs):
    return Spec(tuple(shape), dtype)


def _fused_kernel(program, names, shape, dtype, registers=1):
    return lambda out, *arrays: run_fused(out, list(arrays), program, registers)


def _fused_matmul_kernel(program, names, shape, dtype, registers=1):
    return lambda out, a, b, *arrays: run_fused(out, list(arrays), program, registers,
                                                matmul=(a, b))


def _fused_matmul_rows(batched, shapes, rows, shape, **_attrs):
    # The product's rows come from its first operand's rows (the second is a weight); the
    # elementwise operands broadcast like any elementwise operator's.
    if list(batched[:2]) != [True, False]:
        return False
    for child, flag in zip(shapes[2:], batched[2:]):
        if (flag and tuple(child[:1]) != (rows,)) or (not flag and len(child) == len(shape)
                                                       and child[0] != 1):
            return False
    return True


# The compiler's own operators (not registry primitives: they exist only in optimised graphs).
FUSED = OpDef(name="fused", forward=_fused_forward, shape=_fused_shape, formula="fused({a})",
              aliasing="fresh", out_kernel=_fused_kernel, inplace=slice(None), rows=ELEMENTWISE,
              why_not={"ufunc": "a program of ufunc steps, held in its attributes"})
# (not the matmul operands in place: whole rows and columns of them are read per block)
FUSED_MATMUL = OpDef(name="fused_matmul", forward=_fused_matmul_forward, shape=_fused_shape,
                     formula="fused(matmul({a}, {b}), ...)", aliasing="fresh",
                     out_kernel=_fused_matmul_kernel, inplace=slice(2, None),
                     rows=_fused_matmul_rows)


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


def order_side_effects(graph: Graph) -> Graph:
    """Order writes into tensors (``assign``, used by compiled training steps) and schedule the
    graph for low memory.

    * every ``assign(target, value)`` runs after all other reads of ``target``; where possible
      the node computing ``value`` itself waits for them, so the memory planner can let it
      write straight into the target's array (no copy, no extra buffer);
    * the execution order is a depth-first walk that starts with the side effects needing the
      fewest nodes (the last layer's update first: its gradient is ready first) and visits the
      deepest input of each node first, so cheap values are computed just before they are used
      instead of being held through the whole backward pass.

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.symbolic.graph import ASSIGN, Symbol, as_node, build_internal
        >>> w = hg.ones(2)
        >>> later = Symbol(as_node(w)) * 3
        >>> write = build_internal(ASSIGN, [as_node(w), as_node(Symbol(as_node(w)) + 1)])
        >>> g = order_side_effects(Graph.from_symbols([later], [Symbol(write)]))
        >>> g.ops()[-1]
        'assign'
    """
    nodes = graph.nodes
    readers: dict[int, list] = {}
    for node in nodes:
        for child in node.inputs:
            readers.setdefault(child.id, []).append(node)
    # Values that share memory with a tensor (views of it) count as reads of it.
    aliases: dict[int, set] = {}
    for node in nodes:
        own = {node.id}
        if node.kind == "op" and node.op.aliasing == "view" and node.op.name != "assign":
            for child in node.inputs:
                own |= aliases.get(child.id, {child.id})
        aliases[node.id] = own
    bit = {node.id: 1 << index for index, node in enumerate(nodes)}
    ancestors: dict[int, int] = {}
    for node in nodes:
        mask = 0
        for child in node.inputs:
            mask |= ancestors[child.id] | bit[child.id]
        ancestors[node.id] = mask
    outputs = {o.id for o in graph.outputs}
    added: list = []
    for node in nodes:
        if node.kind != "op" or node.op.name != "assign":
            continue
        target, value = node.inputs
        others = [n for n in nodes if n is not node and n is not value
                  and any(target.id in aliases[c.id] for c in n.inputs)
                  and not (n.kind == "op" and n.op.name == "assign")]
        node.deps = others + ([value] if value is not target else [])
        if (value.kind == "op" and value.id not in outputs
                and (value.op.ufunc is not None or value.op in (FUSED, FUSED_MATMUL))):
            safe = [n for n in others if not ancestors[n.id] & bit[value.id]]
            if len(safe) == len(others):
                value.deps = value.deps + [n for n in safe if n not in value.deps]
                added.append(value)
    # Random operators draw from one generator: keep them in their traced order (eager order),
    # so that compiled and eager code draw the same numbers from the same seed.
    draws = sorted((n for n in nodes if n.kind == "op" and n.op.extra.get("random")),
                   key=lambda n: (n.attrs.get("draw", 0), n.id))
    for before, after in zip(draws, draws[1:]):
        if before not in after.deps and not ancestors[before.id] & bit[after.id]:
            after.deps = after.deps + [before]
    order = _schedule(graph, ancestors)
    if order is None:  # the extra waits made a cycle: keep copies instead of direct writes
        for value in added:
            value.deps = []
        order = _schedule(graph, ancestors)
    return Graph(order, graph.outputs, graph.effects)


def _schedule(graph: Graph, ancestors: dict) -> list | None:
    """Depth-first order (see :func:`order_side_effects`); None if dependencies form a cycle."""
    depth: dict[int, int] = {}
    for node in graph.nodes:
        depth[node.id] = 1 + max((depth[c.id] for c in node.inputs), default=0)
    roots = sorted(graph.effects, key=lambda n: bin(ancestors.get(n.id, 0)).count("1"))
    roots += list(graph.outputs)
    order: list[Node] = []
    state: dict[int, int] = {}  # 1: on the stack, 2: done
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                state[node.id] = 2
                order.append(node)
                continue
            if state.get(node.id) == 2:
                continue
            if state.get(node.id) == 1:
                return None
            state[node.id] = 1
            stack.append((node, True))
            children = sorted(node.inputs + node.deps, key=lambda c: depth.get(c.id, 0))
            for child in children:  # deepest last on the stack, so visited first
                if state.get(child.id) != 2:
                    if state.get(child.id) == 1:
                        return None
                    stack.append((child, False))
    return order


# ----------------------------------------------------------------------------------------------
# Batch splitting: a graph whose every value is computed row by row from its inputs' rows (an
# MLP's inference, say) can run on blocks of rows, so each intermediate buffer holds a block.

def row_independent(graph: Graph) -> set | None:
    """Ids of the nodes whose row ``i`` depends only on row ``i`` of the inputs (all inputs
    sharing their first dimension), or None when some output is not computed that way.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> x = Variable('x', shape=(8, 3))
        >>> ok = Graph.from_symbols([(x @ x.sum(dim=0, keepdim=True).T).relu()])
        >>> row_independent(ok) is None  # a sum over the batch mixes rows
        True
        >>> len(row_independent(Graph.from_symbols([x.log_softmax(dim=1)])))
        8
    """
    inputs = graph.inputs()
    if not inputs or graph.effects:
        return None
    shapes = [tuple(n.spec.shape) for n in inputs]
    if any(not shape for shape in shapes) or len({shape[0] for shape in shapes}) != 1:
        return None
    rows = shapes[0][0]
    batched: set[int] = {n.id for n in inputs}
    for node in graph.nodes:
        if node.kind != "op" or not any(i.id in batched for i in node.inputs):
            continue
        shape = tuple(node.spec.shape)
        if not shape or shape[0] != rows or not _rowwise(node, batched, rows):
            return None
        batched.add(node.id)
    if not all(o.id in batched for o in graph.outputs):
        return None
    return batched


def _rowwise(node: Node, batched: set, rows: int) -> bool:
    """Whether row ``i`` of ``node`` depends only on row ``i`` of its batched inputs (its
    operator's ``rows`` fact decides)."""
    rule = node.op.rows
    flags = [i.id in batched for i in node.inputs]
    if rule == ELEMENTWISE:
        ndim = len(node.spec.shape)
        for child, flag in zip(node.inputs, flags):
            shape = tuple(child.spec.shape)
            if flag and (len(shape) != ndim or shape[0] != rows):
                return False
            if not flag and len(shape) == ndim and shape[0] != 1:
                return False
        return True
    if rule == PER_SAMPLE:  # (batch-first image operators: sample i only reads sample i)
        return flags[0] and not any(flags[1:])
    if rule is None:
        return False
    return bool(rule(flags, [tuple(i.spec.shape) for i in node.inputs], rows, **node.attrs))


def rebatch(graph: Graph, batched: set, rows: int) -> Graph:
    """A copy of ``graph`` for inputs of ``rows`` rows (see :func:`row_independent`)."""
    mapping: dict[int, Node] = {}

    def first(shape):
        return (rows,) + tuple(shape[1:])

    for node in graph.nodes:
        new = node.copy([mapping[i.id] for i in node.inputs])
        if node.id in batched:
            new.spec = Spec(first(node.spec.shape), node.spec.dtype)
            # (an operator's ``shape`` attribute is its result's shape: reshape, broadcast_to,
            # fused; operators whose ``shape`` is something else have no row rule)
            if node.kind == "op" and "shape" in node.attrs:
                new.attrs = dict(node.attrs, shape=first(node.attrs["shape"]))
        mapping[node.id] = new
    return Graph([mapping[n.id] for n in graph.nodes], [mapping[o.id] for o in graph.outputs])


def _nbytes(spec: Spec) -> int:
    return int(np.prod(spec.shape, dtype=np.int64)) * np.dtype(spec.dtype).itemsize


def rematerialize(graph: Graph) -> Graph:
    """Trade compute for memory in a training graph (Chen et al. 2016, "sqrt(n)" checkpoints).

    The forward pass is what the outputs (the loss) depend on; the backward pass is everything
    else the side effects (the updates) need. Every ``ceil(sqrt(n))``-th of the ``n`` forward
    operators is a checkpoint, kept until the backward pass reads it; any other forward value
    the backward pass reads is recomputed from the nearest checkpoints just before it is needed
    (the schedule computes each recomputed node right before its first reader), so only the
    checkpoints and one segment at a time stay alive.

    Run it after common-subexpression elimination (which would merge the copies back).

    Example:
        >>> from hybridgrad.symbolic import Variable, grad
        >>> from hybridgrad.symbolic.graph import ASSIGN, Symbol, as_node, build_internal
        >>> import hybridgrad as hg
        >>> w = hg.nn.Parameter(hg.ones(4))
        >>> x = Variable('x', shape=(4,))
        >>> h = x
        >>> for _ in range(9):
        ...     h = (h * w).tanh()
        >>> loss = h.sum()
        >>> (g,) = grad(loss, [w])
        >>> update = build_internal(ASSIGN, [as_node(w), as_node(Symbol(as_node(w)) - g)])
        >>> graph = Graph.from_symbols([loss], [Symbol(update)])
        >>> len(rematerialize(graph).op_nodes()) > len(graph.op_nodes())
        True
    """
    if not graph.effects:
        return graph
    forward = [n for n in topological(graph.outputs) if n.kind == "op"]
    forward_ids = {n.id for n in forward}
    if len(forward) < 4:
        return graph
    # Checkpoints are chosen among the m forward values that the backward pass reads (the ones
    # that would otherwise stay alive). Segments shrink towards the output: when the backward
    # pass reaches segment i (counted from the input), the checkpoints of the i - 1 segments
    # below it are still alive, so segment i may hold M - i + 1 values for a peak of about M
    # throughout, with M(M+1)/2 >= m: M ~ sqrt(2m), where equal segments of sqrt(m) values
    # peak at 2 sqrt(m).
    read_later = set()
    for node in graph.nodes:
        if node.id not in forward_ids:
            read_later.update(c.id for c in node.inputs if c.id in forward_ids)
    stored = [n for n in forward if n.id in read_later]
    if len(stored) < 4:
        return graph
    length = math.ceil((math.sqrt(8 * len(stored) + 1) - 1) / 2)
    keep, end = set(), 0
    while end < len(stored):
        end = min(end + max(length, 1), len(stored))
        keep.add(stored[end - 1].id)
        length -= 1
    keep |= {o.id for o in graph.outputs}
    clones: dict[int, Node] = {}

    def recomputed(node: Node) -> Node:
        if node.id not in forward_ids or node.id in keep or node.op.extra.get("random"):
            return node
        clone = clones.get(node.id)
        if clone is None:
            clone = node.copy([recomputed(i) for i in node.inputs])
            clones[node.id] = clone
        return clone

    def replace(node: Node, original: Node, mapping: dict) -> Node:
        if original.id in forward_ids or node.kind != "op":
            return node
        inputs = [recomputed(i) if i.id in forward_ids else i for i in node.inputs]
        if all(a is b for a, b in zip(inputs, node.inputs)):
            return node
        fresh = node.copy(inputs)
        fresh.deps = node.deps
        return fresh

    return rewrite(graph, replace, pass_original=True)


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
