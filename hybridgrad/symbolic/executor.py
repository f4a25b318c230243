"""Compiled functions: specialise per input signature, optimise, plan memory, then run.

:func:`compile` returns a :class:`CompiledFunction`. On a call it looks up the input signature
(shape and dtype of every input); the first time a signature is seen it specialises the graph,
runs the passes and the memory planner, and allocates the planned buffers once. Later calls run
the stored program: each step is an out= kernel writing into its planned buffer (or in place
into an input's), or an operator's own forward for the operators without one. Outputs are
fresh arrays every call (never a planned buffer), so callers never see values overwritten.

``compile(..., optimize=False)`` gives the naive executor for comparison: no passes, every node
computed by its eager forward into its own new array, and every value kept until the end.

Example:
    >>> import numpy as np
    >>> from hybridgrad.symbolic import Variable, Constant, compile
    >>> A = Variable('A'); B = Variable('B')
    >>> f = compile(B * A + Constant(1))
    >>> f(A=np.ones(3), B=np.ones(3) * 2)
    array([3., 3., 3.])
"""

from __future__ import annotations

import numpy as np

from hybridgrad import dtypes
from hybridgrad.ops.kernels import SAMPLE_BLOCKS
from hybridgrad.ops.registry import PER_SAMPLE, Spec
from hybridgrad.symbolic import passes as P
from hybridgrad.symbolic import schedule as S
from hybridgrad.symbolic.graph import Graph, Node, SymbolError
from hybridgrad.symbolic.memory import Plan, may_alias, nbytes, plan_memory


def _kernel(node: Node):
    """fn(out, *arrays) computing ``node`` into ``out`` (its operator's ``out_kernel``)."""
    kernel, attrs = node.op.out_kernel, node.attrs
    if kernel == SAMPLE_BLOCKS:
        return _conv_kernel(node)
    if kernel is None:
        raise KeyError(node.op.name)
    return kernel(**attrs)


# Bytes of im2col workspace a convolution may use at once in compiled code (see _conv_kernel).
CONV_BLOCK_BYTES = 1 << 20


def conv_block(node: Node) -> int:
    """Samples per block for a convolution node so that its im2col columns (input channels x
    kernel taps x output pixels per sample) stay within :data:`CONV_BLOCK_BYTES`."""
    weight = node.inputs[1] if node.op.name != "conv2d_weight" else node
    out_channels, cg, kh, kw = weight.spec.shape
    pixels_of = node if node.op.name == "conv2d" else node.inputs[
        0 if node.op.name == "conv_transpose2d" else 1]
    oh, ow = pixels_of.spec.shape[2:]
    groups = node.attrs.get("groups", 1)
    per_sample = cg * groups * kh * kw * oh * ow * np.dtype(node.spec.dtype).itemsize
    return max(1, CONV_BLOCK_BYTES // max(1, per_sample))


def _conv_kernel(node: Node):
    """fn(out, a, b) running a convolution primitive on blocks of samples into ``out``.

    The operators compute every sample independently (``conv2d``, ``conv_transpose2d``) or sum
    over samples (``conv2d_weight``, the weight gradient), so a block of samples at a time
    computes the same values while the operator's internal im2col columns, which the memory
    planner cannot see, hold one block instead of the whole batch. The operator itself is
    unchanged: this is its eager forward called on slices."""
    op, attrs, rows = node.op, node.attrs, conv_block(node)
    reduce = node.op.rows != PER_SAMPLE  # (the weight gradient sums over the samples)

    def run(out, a, b):
        total = a.shape[0]
        if rows >= total:
            np.copyto(out, op.forward(np, a, b, **attrs), casting="unsafe")
            return out
        for start in range(0, total, rows):
            part = op.forward(np, a[start:start + rows], b[start:start + rows] if reduce else b,
                              **attrs)
            if not reduce:
                out[start:start + rows] = part
            elif start == 0:
                np.copyto(out, part, casting="unsafe")
            else:
                np.add(out, part, out=out, casting="unsafe")
        return out

    return run


def _generic(node: Node):
    op, attrs = node.op, node.attrs
    if op.variadic:
        return lambda *arrays: np.asarray(op.forward(np, list(arrays), **attrs))
    return lambda *arrays: np.asarray(op.forward(np, *arrays, **attrs))


class Executable:
    """One specialised graph with its plan and buffers, ready to run."""

    def __init__(self, graph: Graph, plan: Plan | None, share: list | None = None):
        self.graph = graph
        self.plan = plan
        slot = {n.id: i for i, n in enumerate(graph.nodes)}
        self.size = len(graph.nodes)
        self.inputs = [(n.name, slot[n.id]) for n in graph.nodes if n.kind == "input"]
        self.params = [(slot[n.id], n.value) for n in graph.nodes if n.kind == "param"]
        self.consts = [(slot[n.id], np.asarray(n.value, dtype=n.spec.dtype))
                       for n in graph.nodes if n.kind == "const"]
        sizes = [] if plan is None else plan.buffer_sizes
        if share is not None and len(share) >= len(sizes) and all(
                size <= len(buffer) for size, buffer in zip(sizes, share)):
            # (an executable that never runs at the same time as the owner of these buffers:
            # the last, shorter block of rows of a split batch)
            self.buffers = [buffer[:size] for size, buffer in zip(sizes, share)]
        else:
            self.buffers = [np.empty(size, np.uint8) for size in sizes]
        outputs = {o.id for o in graph.outputs}
        steps = []
        for index, node in enumerate(graph.nodes):
            if node.kind != "op":
                continue
            ins = tuple(slot[c.id] for c in node.inputs)
            if plan is None or node.op.out_kernel is None:
                function = _generic(node)
                if node.op.name == "permute" and node.inputs[0].kind == "param":
                    function = _view_of_param(function)
            elif node.id in plan.direct:
                # Written straight into the tensor that an assign would copy it to.
                ins = ins + (slot[plan.direct[node.id]],)
                function = _bind_last(_kernel(node))
            elif node.id in plan.reuse:
                # In place into an input's self-allocated result, read here for the last time.
                ins = ins + (slot[plan.reuse[node.id]],)
                function = _bind_reused(_kernel(node))
            elif node.id in plan.buffer_of:
                buffer = self.buffers[plan.buffer_of[node.id]]
                view = buffer[:nbytes(node.spec)].view(node.spec.dtype).reshape(node.spec.shape)
                function = _bind(_kernel(node), view)
            elif node.id in outputs:
                function = _bind_fresh(_kernel(node), node.spec)
            else:
                function = _generic(node)
            frees = () if plan is None else tuple(slot[i] for i in plan.release_after.get(index,
                                                                                            ()))
            steps.append((function, ins, slot[node.id], frees))
        self.steps = steps
        self.outputs = []
        seen = set()
        for out in graph.outputs:
            needs_copy = out.kind != "op" or may_alias(out) or out.id in seen
            seen.add(out.id)
            self.outputs.append((slot[out.id], needs_copy))

    def run(self, feeds: dict) -> list:
        env = [None] * self.size
        for name, index in self.inputs:
            env[index] = feeds[name]
        for index, tensor in self.params:
            env[index] = tensor._array
        for index, array in self.consts:
            env[index] = array
        with np.errstate(all="ignore"):
            for function, ins, out, frees in self.steps:
                env[out] = function(*[env[i] for i in ins])
                for index in frees:
                    env[index] = None
        return [np.array(env[i], copy=True) if copy else env[i] for i, copy in self.outputs]


def _view_of_param(function):
    """``function`` (a transposing view) of a parameter's array, computed again only when the
    parameter holds another array: a view sees in-place updates, and at batch size 1 the
    per-call cost of re-deriving ``w.T`` was measurable (three layers: ~8 of ~120 us). Only
    ``permute``, which always returns a view: a reshape may copy, and a copy would go stale."""
    last = [None, None]

    def run(array):
        if last[0] is not array:
            last[0], last[1] = array, function(array)
        return last[1]

    return run


def _bind(kernel, view):
    return lambda *arrays: kernel(view, *arrays)


# Target bytes of the largest intermediate block when a batch is split into row blocks.
SPLIT_BLOCK_BYTES = 1 << 17


class SplitExecutable:
    """Runs a row-independent graph on blocks of rows (see :func:`schedule.row_independent`):
    buffers are planned for one block, so memory no longer grows with the batch."""

    def __init__(self, graph: Graph, batched: set, rows: int):
        self.graph = graph
        self.batched = batched
        self.rows = rows
        self.block = self._make(rows, share=None)
        self.plan = self.block.plan
        self._tails: dict[int, Executable] = {}

    def _make(self, rows: int, share: list | None) -> Executable:
        graph = S.rebatch(self.graph, self.batched, rows)
        return Executable(graph, plan_memory(graph), share=share)

    def run(self, feeds: dict) -> list:
        total = next(iter(feeds.values())).shape[0]
        outputs = [np.empty(o.spec.shape, dtype=o.spec.dtype) for o in self.graph.outputs]
        for start in range(0, total, self.rows):
            stop = min(start + self.rows, total)
            executable = self.block
            if stop - start != self.rows:
                executable = self._tails.get(stop - start)
                if executable is None:
                    executable = self._tails[stop - start] = self._make(
                        stop - start, share=self.block.buffers)
            results = executable.run({k: v[start:stop] for k, v in feeds.items()})
            for out, part in zip(outputs, results):
                out[start:stop] = part
        return outputs


def _split_rows(graph: Graph, batched: set) -> int:
    total = graph.inputs()[0].spec.shape[0]
    widest = max((nbytes(n.spec) // max(total, 1) for n in graph.nodes
                  if n.id in batched and n.kind == "op"), default=0)
    return max(1, SPLIT_BLOCK_BYTES // max(widest, 1))


def _bind_reused(kernel):
    def run(*arrays):
        out = arrays[-1]
        if not out.flags.writeable:
            out = np.empty_like(out)
        return kernel(out, *arrays[:-1])

    return run


def _bind_last(kernel):
    return lambda *arrays: kernel(arrays[-1], *arrays[:-1])


def _bind_fresh(kernel, spec: Spec):
    shape, dtype = tuple(spec.shape), spec.dtype
    return lambda *arrays: kernel(np.empty(shape, dtype=dtype), *arrays)


class CompiledFunction:
    """A compiled graph: call it with the inputs by name (or in order of the variables).

    Attributes: :attr:`graph` (the optimised graph of the last signature, printable),
    :meth:`to_dot`, :meth:`memory_report`.
    """

    def __init__(self, outputs, effects=(), optimize: bool = True, pipeline=None,
                 split_batch: bool = True, remat: str | None = None):
        self.split_batch = split_batch
        if remat not in (None, "sqrt"):
            raise ValueError(f"compile: remat must be None or 'sqrt', got {remat!r}")
        single = not isinstance(outputs, (list, tuple))
        self._single = single
        self.source = Graph.from_symbols([outputs] if single else list(outputs), effects)
        self.optimize = optimize
        self.pipeline = P.DEFAULT_PIPELINE if pipeline is None else tuple(pipeline)
        if remat == "sqrt":  # after CSE (which would merge the recomputed copies back)
            at = self.pipeline.index(P.elementwise_fusion)
            self.pipeline = self.pipeline[:at] + (S.rematerialize,) + self.pipeline[at:]
        inputs = sorted(self.source.inputs(), key=lambda n: n.id)
        names = [n.name for n in inputs]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise SymbolError(f"compile: several Variables are named {duplicated}; names must "
                              f"be unique")
        self.input_names = names
        self._declared = {n.name: n for n in inputs}
        self._cache: dict = {}
        self._last: Executable | None = None
        # (executable, specs, ((shape, dtype) per input)) of the last call: its fast path.
        self._previous: tuple | None = None
        if all(n.spec is not None for n in inputs):
            self._executable({n.name: n.spec for n in inputs})

    # Signatures.
    def _feeds(self, args, kwargs) -> dict:
        if len(args) > len(self.input_names):
            raise TypeError(f"compiled function takes {len(self.input_names)} inputs "
                            f"({self.input_names}), got {len(args)} positional")
        feeds = dict(zip(self.input_names, args))
        for name, value in kwargs.items():
            if name not in self._declared:
                raise TypeError(f"compiled function has no input {name!r}; inputs: "
                                f"{self.input_names}")
            if name in feeds:
                raise TypeError(f"input {name!r} given twice")
            feeds[name] = value
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise TypeError(f"compiled function: missing inputs {missing}")
        from hybridgrad.tensor import Tensor

        for name, value in feeds.items():
            array = value._array if isinstance(value, Tensor) else value
            if not isinstance(array, np.ndarray):
                array = np.asarray(array)
                if array.dtype == np.float64 and not isinstance(value, np.generic):
                    array = array.astype(dtypes.get_default_dtype())
            node = self._declared[name]
            declared = node.attrs.get("declared_dtype")
            if declared is not None and array.dtype != declared:
                raise TypeError(f"input {name!r}: expected dtype {declared}, got {array.dtype}")
            if node.spec is not None and tuple(array.shape) != tuple(node.spec.shape):
                raise ValueError(f"input {name!r}: expected shape {tuple(node.spec.shape)}, got "
                                 f"{tuple(array.shape)}")
            feeds[name] = array
        return feeds

    def _executable(self, specs: dict) -> Executable:
        key = tuple((name, tuple(specs[name].shape), specs[name].dtype.str)
                    for name in self.input_names)
        executable = self._cache.get(key)
        if executable is None:
            graph = P.specialize(self.source, specs)
            if self.optimize:
                graph = S.order_side_effects(P.optimize(graph, self.pipeline))
                plan = plan_memory(graph)
                batched = S.row_independent(graph) if self.split_batch else None
                rows = _split_rows(graph, batched) if batched else 0
                executable = None
                if batched and graph.inputs()[0].spec.shape[0] >= 2 * rows:
                    split = SplitExecutable(graph, batched, rows)
                    # Worth it only when the whole-batch buffers are much larger than a block's.
                    if plan.planned_bytes > 2 * (split.plan.planned_bytes + SPLIT_BLOCK_BYTES):
                        executable = split
                if executable is None:
                    executable = Executable(graph, plan)
            else:
                executable = Executable(S.order_side_effects(graph), None)
            self._cache[key] = executable
        self._last = executable
        self._last_specs = specs
        return executable

    def __call__(self, *args, **kwargs):
        if self._previous is not None and not kwargs:
            executable, specs, signature = self._previous
            if len(args) == len(signature) and all(
                    type(a) is np.ndarray and a.shape == shape and a.dtype == dtype
                    for a, (shape, dtype) in zip(args, signature)):
                # The previous call's positional array signature: its checks (names, declared
                # dtypes, shapes) passed for exactly these shapes and dtypes.
                self._last, self._last_specs = executable, specs
                results = executable.run(dict(zip(self.input_names, args)))
                return results[0] if self._single else tuple(results)
        feeds = self._feeds(args, kwargs)
        specs = {name: Spec(tuple(a.shape), a.dtype) for name, a in feeds.items()}
        executable = self._executable(specs)
        results = executable.run(feeds)
        self._previous = (executable, specs, tuple((feeds[name].shape, feeds[name].dtype)
                                                   for name in self.input_names))
        return results[0] if self._single else tuple(results)

    # Introspection.
    @property
    def graph(self) -> Graph:
        """The optimised graph of the last input signature (the source graph before any)."""
        return self._last.graph if self._last is not None else self.source

    @property
    def plan(self) -> Plan | None:
        return None if self._last is None else self._last.plan

    def to_dot(self, title: str = "graph") -> str:
        """Graphviz source of :attr:`graph`.

        Example:
            >>> from hybridgrad.symbolic import Variable, compile
            >>> x = Variable('x', shape=(2,))
            >>> compile(x.exp() + 1).to_dot().splitlines()[0]
            'digraph "graph" {'
        """
        return self.graph.to_dot(title)

    def memory_report(self) -> dict:
        """Memory of the naive executor vs the compiled one, for the last input signature.

        * ``naive_bytes`` / ``naive_buffers``: what ``compile(..., optimize=False)`` allocates
          per call: every operator result of the *unoptimised* graph (views excepted) in its
          own array, all kept until the end;
        * ``planned_bytes`` / ``planned_buffers``: the buffers the compiled function keeps
          between calls (allocated once per signature, for one row block when the batch is
          split);
        * ``output_bytes`` / ``output_buffers``: the fresh arrays returned on each call;
        * ``self_allocated_bytes`` / ``self_allocating_ops``: results of operators without an
          ``out=`` kernel, which allocate their own arrays (freed after their last read);
        * ``compiled_bytes`` / ``compiled_buffers``: the sum of the three, an upper bound on
          what one compiled call holds at once (operators' internal temporaries excepted);
        * ``inplace_ops``, ``direct_writes`` (results written straight into a parameter or
          optimizer state), ``reused_results``; ``row_block`` when the batch is split.

        :func:`format_memory_report` prints it as a small table.

        Example:
            >>> import numpy as np
            >>> from hybridgrad.symbolic import Variable, Constant, compile
            >>> A = Variable('A'); B = Variable('B')
            >>> f = compile(B * A + Constant(1)); _ = f(A=np.ones(10), B=np.ones(10))
            >>> r = f.memory_report()
            >>> r['naive_bytes'], r['naive_buffers'], r['planned_bytes'], r['compiled_bytes']
            (160, 2, 0, 80)
        """
        if self._last is None:
            raise SymbolError("memory_report: call the compiled function once first (the "
                              "shapes of its inputs are not known yet)")
        naive = plan_memory(S.order_side_effects(P.specialize(self.source, self._last_specs)))
        plan = self._last.plan
        if plan is None:  # the naive executor itself: everything it computes is kept
            report = naive.report()
            report.update(planned_bytes=0, planned_buffers=0, output_bytes=0, output_buffers=0,
                          self_allocated_bytes=naive.naive_bytes,
                          self_allocating_ops=naive.naive_buffers,
                          compiled_bytes=naive.naive_bytes, compiled_buffers=naive.naive_buffers)
            return report
        report = plan.report()
        report["naive_bytes"], report["naive_buffers"] = naive.naive_bytes, naive.naive_buffers
        seen, output_bytes = set(), 0
        for out in self._last.graph.outputs:
            if out.id not in seen:
                seen.add(out.id)
                output_bytes += nbytes(out.spec)
        report["output_bytes"], report["output_buffers"] = output_bytes, len(seen)
        if isinstance(self._last, SplitExecutable):
            report["row_block"] = self._last.rows
        report["compiled_bytes"] = (report["planned_bytes"] + output_bytes
                                    + report["self_allocated_bytes"])
        report["compiled_buffers"] = (report["planned_buffers"] + len(seen)
                                      + report["self_allocating_ops"])
        return report

    def __repr__(self) -> str:
        return f"<CompiledFunction inputs={self.input_names} optimize={self.optimize}>"


def compile(outputs, optimize: bool = True, effects=(), pipeline=None,  # noqa: A001
            split_batch: bool = True, remat: str | None = None) -> CompiledFunction:
    """Compile symbols into a callable: optimise the graph and plan its memory.

    ``outputs`` is one symbol or a list of them; inputs are passed by Variable name (or in order
    of creation). ``optimize=False`` gives the naive executor. A graph that computes every row
    of its outputs from the same row of its inputs (inference of an MLP, say) runs on blocks of
    rows, with buffers planned for one block; ``split_batch=False`` turns that off.
    ``remat='sqrt'`` recomputes forward values in the backward pass of training graphs
    (graphs with side effects) from sqrt(n) checkpoints (see :func:`schedule.rematerialize`).

    Example:
        >>> import numpy as np
        >>> from hybridgrad.symbolic import Variable, compile
        >>> x = Variable('x')
        >>> compile(x * x)(x=np.arange(3.0))
        array([0., 1., 4.])
    """
    return CompiledFunction(outputs, effects, optimize, pipeline, split_batch, remat)


def format_memory_report(report: dict) -> str:
    """A :meth:`CompiledFunction.memory_report` as lines of text (what ``hybridgrad graph``
    prints).

    Example:
        >>> print(format_memory_report(dict(naive_bytes=160, naive_buffers=2, planned_bytes=0,
        ...     planned_buffers=0, output_bytes=80, output_buffers=1, self_allocated_bytes=0,
        ...     self_allocating_ops=0, compiled_bytes=80, compiled_buffers=1)))
        memory per call            bytes  arrays
          naive executor             160       2  (every result of the unoptimised graph, kept)
          compiled                    80       1  (= planned + outputs + operator-allocated)
            planned buffers            0       0  (allocated once, reused every call)
            outputs                   80       1  (fresh arrays returned to the caller)
            operator-allocated         0       0  (ops without out= kernels)
    """
    rows = [("naive executor", "naive", "(every result of the unoptimised graph, kept)", 2),
            ("compiled", "compiled", "(= planned + outputs + operator-allocated)", 2),
            ("planned buffers", "planned", "(allocated once, reused every call)", 4),
            ("outputs", "output", "(fresh arrays returned to the caller)", 4),
            ("operator-allocated", "self_allocated", "(ops without out= kernels)", 4)]
    lines = [f"{'memory per call':22} {'bytes':>9}  arrays"]
    for label, key, note, indent in rows:
        count = report.get(f"{key}_buffers", report.get("self_allocating_ops", 0))
        lines.append(f"{' ' * indent}{label:{22 - indent}} {report.get(key + '_bytes', 0):>9} "
                     f"{count:>7}  {note}")
    extra = [f"{k}={report[k]}" for k in ("inplace_ops", "direct_writes", "reused_results",
                                          "row_block") if report.get(k)]
    if extra:
        lines.append("  " + ", ".join(extra))
    return "\n".join(lines)
