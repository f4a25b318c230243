"""The static memory planner (MXNet's memory-optimisation note, on a whole graph).

Given a specialised, optimised graph in execution order, the planner decides where every value
lives before anything runs:

* **liveness from use counts**: a value dies after the last node that reads it (views such as
  reshape/permute/broadcast keep the storage they look at alive as long as they live);
* **in-place**: an operator that can write into an input (NumPy ufuncs and fused elementwise
  chains, ``out=`` equal to an input) reuses that input's buffer when this is its last read and
  the shapes and dtypes match;
* **buffer reuse**: when a value dies its buffer goes back to a pool; the next value takes the
  smallest free buffer that fits (or grows the largest free one) before a new buffer is made.

The result is a :class:`Plan`: a buffer index per planned value, the buffer sizes (allocated once
per input signature by the executor) and what to release after each step.
:func:`check_plan` re-derives liveness independently and asserts that no two live values ever
share a buffer.

Example:
    >>> from hybridgrad.symbolic import Variable
    >>> from hybridgrad.symbolic.graph import Graph
    >>> x = Variable('x', shape=(1000,))
    >>> y = (x.exp() @ x.sin()) * x.cos().sum()
    >>> plan = plan_memory(Graph.from_symbols([y]))
    >>> check_plan(plan)
    >>> plan.naive_bytes > plan.planned_bytes
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hybridgrad.ops.registry import Spec
from hybridgrad.symbolic.graph import Graph, Node
from hybridgrad.symbolic.kernels import FUSED, FUSED_MATMUL

# What the planner knows of each operator comes from its OpDef (hybridgrad.ops.registry): an
# ``out_kernel`` (it can write into a planned buffer), ``inplace`` (which inputs' buffers it may
# take over) and ``aliasing`` ("fresh": its result never shares memory with an input).


def nbytes(spec: Spec) -> int:
    """Bytes of a value with this spec.

    Example:
        >>> nbytes(Spec((2, 3), np.dtype('float32')))
        24
    """
    return int(np.prod(spec.shape, dtype=np.int64)) * np.dtype(spec.dtype).itemsize


def inplace_inputs(node: Node) -> tuple:
    """Input positions whose buffer ``node`` may overwrite with its result."""
    positions = node.op.inplace
    if isinstance(positions, slice):
        return tuple(range(len(node.inputs))[positions])
    return tuple(positions)


def may_alias(node: Node) -> bool:
    """Whether ``node``'s result may share memory with its inputs."""
    return node.kind == "op" and node.op.aliasing != "fresh"


@dataclass
class Plan:
    """A static allocation plan (see the module docstring)."""

    graph: Graph
    order: list
    buffer_of: dict = field(default_factory=dict)      # node id -> buffer index
    buffer_sizes: list = field(default_factory=list)   # bytes per buffer
    inplace: dict = field(default_factory=dict)        # node id -> id of the input it overwrote
    direct: dict = field(default_factory=dict)         # node id -> tensor node it writes into
    reuse: dict = field(default_factory=dict)          # node id -> self-allocated input reused
    release_after: dict = field(default_factory=dict)  # step -> node ids dropped after it
    fresh: list = field(default_factory=list)          # node ids allocating their own result
    naive_bytes: int = 0
    naive_buffers: int = 0

    @property
    def planned_bytes(self) -> int:
        return int(sum(self.buffer_sizes))

    def report(self) -> dict:
        """Naive vs planned memory, in bytes and buffers."""
        fresh_bytes = sum(nbytes(n.spec) for n in self.order if n.id in set(self.fresh))
        return {
            "naive_bytes": self.naive_bytes,
            "naive_buffers": self.naive_buffers,
            "planned_bytes": self.planned_bytes,
            "planned_buffers": len(self.buffer_sizes),
            "inplace_ops": len(self.inplace),
            "direct_writes": len(self.direct),
            "reused_results": len(self.reuse),
            "self_allocating_ops": len(self.fresh),
            "self_allocated_bytes": int(fresh_bytes),
        }


def liveness(graph: Graph, order: list) -> tuple[dict, dict, dict]:
    """(position of each node, roots each node may alias, last step each root is needed).

    Outputs and side effects are needed until the end (position ``len(order)``).
    """
    position = {n.id: i for i, n in enumerate(order)}
    end = len(order)
    last = {n.id: position[n.id] for n in order}
    for node in order:
        for child in node.inputs:
            last[child.id] = max(last[child.id], position[node.id])
    for node in graph.outputs + graph.effects:
        last[node.id] = end
    roots: dict[int, frozenset] = {}
    for node in order:
        if may_alias(node):
            roots[node.id] = frozenset().union(*(roots[c.id] for c in node.inputs)) | {node.id}
        else:
            roots[node.id] = frozenset({node.id})
    root_last = dict(last)
    for node in order:
        for root in roots[node.id]:
            root_last[root] = max(root_last[root], last[node.id])
    return position, roots, root_last


def plan_memory(graph: Graph) -> Plan:
    """Plan buffers for every value an out= kernel produces (outputs excepted: they are fresh
    arrays each call, so callers never see a buffer that is overwritten later)."""
    order = list(graph.nodes)
    plan = Plan(graph=graph, order=order)
    position, roots, root_last = liveness(graph, order)
    outputs = {o.id for o in graph.outputs}
    plan.direct = _direct_writes(graph, order, position, roots, outputs)
    owner: dict[int, int] = {}       # buffer index -> root node id currently holding it
    free: list[int] = []
    release: dict[int, list] = {}
    for root, step in root_last.items():
        release.setdefault(min(step, len(order) - 1), []).append(root)
    for index, node in enumerate(order):
        if node.kind == "op":
            plan.naive_buffers += 0 if may_alias(node) else 1
            plan.naive_bytes += 0 if may_alias(node) else nbytes(node.spec)
            if node.id in plan.direct:
                pass
            elif node.op.out_kernel is not None and node.id not in outputs:
                if not _reuse_fresh(plan, node, index, roots, root_last):
                    _place(plan, node, index, roots, root_last, owner, free)
            elif node.id not in outputs and not may_alias(node):
                plan.fresh.append(node.id)
        for root in release.get(index, ()):
            buffer = plan.buffer_of.get(root)
            if buffer is not None and owner.get(buffer) == root:
                del owner[buffer]
                free.append(buffer)
    # What the executor may drop after each step: values whose storage is no longer needed.
    for node in order:
        step = max(root_last[r] for r in roots[node.id])
        if node.kind == "op" and step < len(order):
            plan.release_after.setdefault(step, []).append(node.id)
    return plan


def _direct_writes(graph, order, position, roots, outputs) -> dict:
    """Values that can be computed straight into the tensor an ``assign`` writes them to: an
    elementwise (or fused) node of the target's shape and dtype, scheduled after every other
    read of the target, reading the target at most directly (not through a view)."""
    direct = {}
    for node in order:
        if node.kind != "op" or node.op.name != "assign":
            continue
        target, value = node.inputs
        if (value.kind != "op" or value.id in outputs or value.id in direct
                or value.op.ufunc is None and value.op not in (FUSED, FUSED_MATMUL)
                or value.spec != target.spec or target.kind != "param"):
            continue
        if value.op not in (FUSED, FUSED_MATMUL) and any(
                target.id in roots[c.id] and c is not target for c in value.inputs):
            continue
        readers = [n for n in order if n is not node and n is not value
                   and any(target.id in roots[c.id] for c in n.inputs)]
        if all(position[n.id] < position[value.id] for n in readers):
            direct[value.id] = target.id
    return direct


def _reuse_fresh(plan, node, index, roots, root_last) -> bool:
    """In-place into the result of an operator that allocated its own array (a convolution,
    say), when this is that result's last read: no planned buffer needed at all."""
    fresh = set(plan.fresh)
    for position in inplace_inputs(node):
        child = node.inputs[position]
        if (child.id in fresh and root_last[child.id] == index and child.spec == node.spec
                and not any(child.id in roots[other.id]
                            for j, other in enumerate(node.inputs) if j != position)):
            plan.reuse[node.id] = child.id
            return True
    return False


def _place(plan, node, index, roots, root_last, owner, free) -> None:
    size = nbytes(node.spec)
    for position in inplace_inputs(node):
        child = node.inputs[position]
        buffer = plan.buffer_of.get(child.id)
        if (buffer is not None and owner.get(buffer) == child.id and roots[child.id] == {child.id}
                and root_last[child.id] == index and child.spec.dtype == node.spec.dtype
                and tuple(child.spec.shape) == tuple(node.spec.shape)
                and not any(child.id in roots[other.id]
                            for j, other in enumerate(node.inputs) if j != position)):
            plan.buffer_of[node.id] = buffer
            plan.inplace[node.id] = child.id
            owner[buffer] = node.id
            return
    fitting = [b for b in free if plan.buffer_sizes[b] >= size]
    if fitting:
        buffer = min(fitting, key=lambda b: plan.buffer_sizes[b])
    elif free:  # growing a free buffer always costs less than a new one
        buffer = max(free, key=lambda b: plan.buffer_sizes[b])
        plan.buffer_sizes[buffer] = size
    else:
        buffer = len(plan.buffer_sizes)
        plan.buffer_sizes.append(size)
    if buffer in free:
        free.remove(buffer)
    plan.buffer_of[node.id] = buffer
    owner[buffer] = node.id


def check_plan(plan: Plan) -> None:
    """Assert that no two values that are live at the same time share a buffer (the one
    exception: an in-place operator taking over the buffer of an input read for the last time),
    and that every buffer is large enough. Liveness is re-derived here from the graph, by a
    simpler method than the planner's.

    Example:
        >>> from hybridgrad.symbolic import Variable
        >>> from hybridgrad.symbolic.graph import Graph
        >>> x = Variable('x', shape=(3,))
        >>> check_plan(plan_memory(Graph.from_symbols([(x.exp() + 1) * x])))
    """
    order = plan.order
    index = {n.id: i for i, n in enumerate(order)}
    end = len(order)
    # Interval of each storage: from its definition to the last read of it or of any view of it.
    readers: dict[int, set] = {n.id: {n.id} for n in order}
    for node in order:
        if may_alias(node):
            for child in node.inputs:
                for group in readers.values():
                    if child.id in group:
                        group.add(node.id)
    last_read = {n.id: index[n.id] for n in order}
    for node in order:
        for child in node.inputs:
            last_read[child.id] = max(last_read[child.id], index[node.id])
    for node in plan.graph.outputs + plan.graph.effects:
        last_read[node.id] = end
    # A result written into an input's own array: that input (and every view of it) must be
    # read for the last time by the node overwriting it.
    for node_id, child_id in list(plan.reuse.items()) + list(plan.inplace.items()):
        stop = max(last_read[r] for r in readers[child_id])
        assert stop == index[node_id], (
            f"%{node_id} overwrites %{child_id}, which is still read at step {stop}")
    intervals = {}
    for node_id, buffer in plan.buffer_of.items():
        node = order[index[node_id]]
        assert plan.buffer_sizes[buffer] >= nbytes(node.spec), f"buffer {buffer} too small"
        stop = max(last_read[r] for r in readers[node_id])
        intervals[node_id] = (index[node_id], stop, buffer)
    items = sorted(intervals.items(), key=lambda item: item[1][0])
    for a_pos, (a_id, (a_start, a_stop, a_buf)) in enumerate(items):
        for b_id, (b_start, b_stop, b_buf) in items[a_pos + 1:]:
            if a_buf != b_buf or b_start > a_stop:
                continue
            handoff = plan.inplace.get(b_id) == a_id and b_start == a_stop
            assert handoff, (
                f"values %{a_id} (steps {a_start}-{a_stop}) and %{b_id} (steps {b_start}-"
                f"{b_stop}) are live together but share buffer {a_buf}")
