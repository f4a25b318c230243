"""Scheduling passes: the execution order, batch splitting and rematerialisation.

* :func:`order_side_effects`: writes into tensors (``assign``) after every other read of them,
  and a depth-first order that keeps few values alive;
* :func:`row_independent` and :func:`rebatch`: a graph whose every value is computed row by row
  from its inputs' rows (an MLP's inference) runs on blocks of rows, so each intermediate buffer
  holds a block; whether an operator computes row by row is its ``rows`` fact;
* :func:`rematerialize`: recompute forward values in the backward pass from sqrt(n)
  checkpoints instead of keeping them all.

Example:
    >>> from hybridgrad.symbolic import Variable
    >>> from hybridgrad.symbolic.graph import Graph
    >>> x = Variable('x', shape=(8, 3))
    >>> len(row_independent(Graph.from_symbols([x.exp() * 2])))  # x, exp, mul
    3
"""

from __future__ import annotations

import math

from hybridgrad.ops.registry import ELEMENTWISE, PER_SAMPLE, Spec
from hybridgrad.symbolic.graph import Graph, Node, topological
from hybridgrad.symbolic.kernels import FUSED, FUSED_MATMUL
from hybridgrad.symbolic.passes import rewrite


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
