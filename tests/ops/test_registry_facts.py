"""Registry coverage of the operator facts, and the facts checked against the forwards.

Every primitive declares, on its ``OpDef`` (``hybridgrad/ops/registry.py``), the facts the
symbolic compiler, its memory planner and the ONNX exporter read: ``aliasing``, ``out_kernel``,
``ufunc`` (for elementwise operators), ``rows`` and ``foldable``. A fact left unsaid needs a
reason in ``why_not``, so a new operator fails here until it is complete (its ONNX mapping is
enforced by ``tests/onnx/test_onnx_export.py``, its gradient check by
``tests/ops/test_ops_gradcheck.py``, its recipe by ``tests/symbolic/test_parity.py``).

The facts are then checked against each operator's forward on the inputs of
``tests/symbolic/op_recipes.py``: a "fresh" result shares no memory with an input (a wrong
claim lets the memory planner reuse a buffer a view still reads), out-kernels and ufunc forms
equal the forward bit for bit (in place over the inputs they claim too), and a row rule that
accepts a batch gives the rows of the whole result when run on a block of rows.
"""

from __future__ import annotations

import numpy as np
import pytest

from hybridgrad.ops import REGISTRY
from hybridgrad.ops.kernels import SAMPLE_BLOCKS
from hybridgrad.ops.registry import ELEMENTWISE, PER_SAMPLE, OpDef, Spec, register
from hybridgrad.symbolic.graph import ASSIGN, ONES_LIKE, STOP_GRADIENT, Node
from hybridgrad.symbolic.kernels import FUSED, FUSED_MATMUL
from hybridgrad.symbolic.schedule import _rowwise
from tests.symbolic.op_recipes import RECIPES

FACTS = ("aliasing", "out_kernel", "ufunc", "rows")
# The symbolic package's own operators hold the same facts (the passes read them alike).
INTERNAL = {op.name: op for op in (STOP_GRADIENT, ONES_LIKE, ASSIGN, FUSED, FUSED_MATMUL)}


def missing_facts(op: OpDef) -> list[str]:
    """The facts ``op`` neither declares nor explains (an empty list when it is complete)."""
    problems = []
    if op.aliasing not in ("fresh", "view"):
        problems.append(f"aliasing is {op.aliasing!r}, not 'fresh' or 'view'")
    if op.out_kernel is None and not op.why_not.get("out_kernel"):
        problems.append("no out_kernel and no why_not['out_kernel']")
    if op.out_kernel is not None and op.aliasing != "fresh":
        problems.append("an out_kernel writes a fresh array: aliasing must be 'fresh'")
    if op.rows is None and not op.why_not.get("rows"):
        problems.append("no rows fact and no why_not['rows']")
    if op.rows is not None and not (op.rows in (ELEMENTWISE, PER_SAMPLE) or callable(op.rows)):
        problems.append(f"rows is {op.rows!r}: ELEMENTWISE, PER_SAMPLE, a rule or None")
    if op.rows == ELEMENTWISE and op.ufunc is None and not op.why_not.get("ufunc"):
        problems.append("elementwise without a ufunc form and no why_not['ufunc']")
    if op.extra.get("random") and op.foldable:
        problems.append("a random operator must not be foldable")
    for fact in op.why_not:
        if fact not in FACTS:
            problems.append(f"why_not names {fact!r}, not a fact ({', '.join(FACTS)})")
        elif getattr(op, fact) is not None and fact != "aliasing":
            problems.append(f"why_not explains {fact!r}, which it declares")
    return problems


@pytest.mark.parametrize("name", sorted(REGISTRY) + sorted(INTERNAL))
def test_every_primitive_declares_its_facts(name):
    op = REGISTRY.get(name) or INTERNAL[name]
    problems = missing_facts(op)
    assert not problems, (
        f"operator {name!r} ({op.forward.__module__}): " + "; ".join(problems) +
        ". Declare the fact in its register(...) call (see hybridgrad/ops/registry.py and "
        "docs/architecture.md) or give the reason in why_not={...}")


def test_coverage_check_catches_an_operator_without_facts():
    op = register("factless_demo", shape=lambda a: Spec(a.shape, a.dtype))(lambda xp, a: a)
    try:
        problems = missing_facts(op)
    finally:
        del REGISTRY["factless_demo"]
    assert any("aliasing" in p for p in problems)
    assert any("out_kernel" in p for p in problems)
    assert any("rows" in p for p in problems)


def test_ufunc_helpers_fill_every_fact():
    op = REGISTRY["floor"]
    assert (op.aliasing, op.rows, op.inplace) == ("fresh", ELEMENTWISE, slice(None))
    assert op.out_kernel() is op.ufunc and op.onnx_type == "Floor"


# ----------------------------------------------------------------------------------------------
# The facts against the forwards.


def _case(name: str):
    if name not in RECIPES:
        pytest.fail(f"no recipe for operator {name!r} in tests/symbolic/op_recipes.py: its facts "
                    "are checked on the recipe's inputs")
    inputs, attrs, _ = RECIPES[name](np.random.default_rng(0))
    op = REGISTRY[name]
    arrays = [np.asarray(value) if not isinstance(value, list) else value for value in inputs]
    return op, arrays, attrs


def _forward(op, arrays, attrs):
    with np.errstate(all="ignore"):
        return np.asarray(op.forward(np, *arrays, **attrs))


def _flat(arrays):
    """Every array of a case (the list input of a variadic operator flattened)."""
    for array in arrays:
        if isinstance(array, list):
            yield from array
        else:
            yield array


def _equal(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("name", sorted(n for n in REGISTRY if REGISTRY[n].aliasing == "fresh"))
def test_fresh_results_share_no_memory_with_the_inputs(name):
    op, arrays, attrs = _case(name)
    out = _forward(op, arrays, attrs)
    for array in _flat(arrays):
        assert not np.shares_memory(out, array), f"{name} claims 'fresh' but returns a view"


@pytest.mark.parametrize("name", sorted(n for n in REGISTRY
                                        if callable(REGISTRY[n].out_kernel)))
def test_out_kernels_equal_the_forward_also_in_place(name):
    op, arrays, attrs = _case(name)
    expected = _forward(op, arrays, attrs)
    out = np.empty_like(expected)
    kernel = op.out_kernel(**attrs)
    with np.errstate(all="ignore"):
        kernel(out, *arrays)
    assert _equal(out, expected), f"{name}: out_kernel differs from the forward"
    if op.ufunc is not None:
        out = np.empty_like(expected)
        with np.errstate(all="ignore"):
            op.ufunc(out, *arrays)
        assert _equal(out, expected), f"{name}: ufunc form differs from the forward"
    positions = op.inplace
    positions = range(len(arrays))[positions] if isinstance(positions, slice) else positions
    for position in positions:
        source = arrays[position]
        if source.shape != expected.shape or source.dtype != expected.dtype:
            continue
        overwritten = [a.copy() for a in arrays]
        with np.errstate(all="ignore"):
            kernel(overwritten[position], *overwritten)
        assert _equal(overwritten[position], expected), (
            f"{name}: writing over input {position} in place changes the result")


# Row-wise cases for the operators whose parity recipe has no batch axis to split (a shape or
# axis attribute covering axis 0): (inputs, attributes).
ROW_CASES = {
    "reshape": (lambda rng: [rng.standard_normal((4, 3, 2))], {"shape": (4, 6)}),
    "broadcast_to": (lambda rng: [rng.standard_normal((4, 1, 3))], {"shape": (4, 2, 3)}),
    "permute": (lambda rng: [rng.standard_normal((4, 2, 3))], {"dims": (0, 2, 1)}),
    "pad": (lambda rng: [rng.standard_normal((4, 3))], {"widths": ((0, 0), (1, 2)),
                                                         "value": 0.5}),
    "sum": (lambda rng: [rng.standard_normal((4, 3, 2))], {"axis": (1,), "keepdims": False}),
    "prod": (lambda rng: [rng.standard_normal((4, 3))], {"axis": (1,), "keepdims": True}),
    "argmin": (lambda rng: [rng.standard_normal((4, 3))], {"axis": 1, "keepdims": False}),
}


def _accepts(op, arrays, attrs, whole, batched) -> bool:
    """The batch splitter's own decision (``schedule._rowwise``) for these inputs."""
    inputs = [Node("input", spec=Spec(np.shape(a), np.asarray(a).dtype)) for a in arrays]
    node = Node("op", op=op, inputs=inputs, attrs=attrs, spec=Spec(whole.shape, whole.dtype))
    ids = {i.id for i, flag in zip(inputs, batched) if flag}
    return _rowwise(node, ids, whole.shape[0])


@pytest.mark.parametrize("name", sorted(n for n in REGISTRY if REGISTRY[n].rows is not None
                                        and not REGISTRY[n].variadic
                                        and not REGISTRY[n].extra.get("random")))
def test_row_facts_hold_on_blocks_of_rows(name):
    op, arrays, attrs = _case(name)
    if name in ROW_CASES:
        make, attrs = ROW_CASES[name]
        arrays = make(np.random.default_rng(0))
    whole = _forward(op, arrays, attrs)
    rows = whole.shape[0]
    assert rows >= 2, f"{name}: give it a case with a batch of rows in ROW_CASES"
    checked = 0
    spans = [a.ndim > 0 and a.shape[0] == rows for a in arrays]
    for batched in ([index == 0 and span for index, span in enumerate(spans)], spans):
        if not any(batched) or not _accepts(op, arrays, attrs, whole, batched):
            continue
        block = slice(1, rows)
        parts = [a[block] if flag else a for a, flag in zip(arrays, batched)]
        # (as schedule.rebatch does: a ``shape`` attribute is the result's shape)
        block_attrs = dict(attrs)
        if "shape" in attrs:
            block_attrs["shape"] = (rows - 1,) + tuple(attrs["shape"][1:])
        part = _forward(op, parts, block_attrs)
        assert part.shape == whole[block].shape and np.allclose(
            part, whole[block], equal_nan=True, rtol=1e-12, atol=0), (
            f"{name}: its rows fact accepts batched={batched}, but a block of rows differs")
        checked += 1
    assert checked, f"{name}: its rows fact accepts no batch layout of its case"


def test_fact_counts_cover_the_whole_registry():
    # What the compiler knows: every primitive has an aliasing kind (none left "unknown"), and
    # every elementwise primitive may run in row blocks.
    unknown = [n for n, op in REGISTRY.items() if op.aliasing not in ("fresh", "view")]
    assert unknown == []
    elementwise = [n for n, op in REGISTRY.items() if op.rows == ELEMENTWISE]
    assert {"floor", "sin", "bitwise_and", "isinf", "where", "cast"} <= set(elementwise)
    assert REGISTRY["gt"].out_kernel is None  # (see BOOLEAN_RESULT in ops/elementwise.py)
    assert REGISTRY["conv2d"].out_kernel == SAMPLE_BLOCKS
