# ruff: noqa: N806, A004 - the notes' names (A, B, C, D, compile), verbatim
"""The notes' symbolic program (深度学习编程范式), verbatim, and what compile() exposes."""

from __future__ import annotations

import numpy as np

from hybridgrad.symbolic import Constant, Variable, compile


def test_notes_program_verbatim():
    A = Variable('A')
    B = Variable('B')
    C = B * A            # builds a graph; computes nothing
    D = C + Constant(1)
    f = compile(D)       # optimizes and plans memory
    d = f(A=np.ones(10), B=np.ones(10) * 2)   # -> array of 3.0
    assert isinstance(d, np.ndarray) and d.dtype == np.float64 and d.shape == (10,)
    assert (d == 3.0).all()


def test_building_computes_nothing_and_graph_prints():
    A, B = Variable('A'), Variable('B')
    C = B * A
    D = C + Constant(1)
    assert C.node.kind == "op" and C.node.op.name == "mul"
    assert [i.name for i in C.node.inputs] == ["B", "A"]
    f = compile(D)
    text = str(f.graph)  # the source graph: shapes unknown before the first call
    assert "mul(" in text and "add(" in text
    f(A=np.ones(10), B=np.ones(10) * 2)
    text = str(f.graph)
    assert "fused" in text and "float64(10,)" in text, text
    assert f.to_dot().startswith('digraph "graph"')
    report = f.memory_report()
    # Naive: C = B*A and D = C+1 each in their own array (2 x 80 bytes), both kept. Compiled:
    # one fused kernel writing straight into the returned array, no planned buffer.
    assert (report["naive_bytes"], report["naive_buffers"]) == (160, 2)
    assert (report["planned_bytes"], report["planned_buffers"]) == (0, 0)
    assert (report["output_bytes"], report["compiled_bytes"], report["compiled_buffers"]) == (
        80, 80, 1)


def test_inputs_by_position_new_signature_and_naive_executor():
    A, B = Variable('A'), Variable('B')
    f = compile(B * A + Constant(1))
    naive = compile(B * A + Constant(1), optimize=False)
    assert f.input_names == ["A", "B"]
    np.testing.assert_array_equal(f(np.ones(3), np.full(3, 2.0)), [3.0, 3.0, 3.0])
    out = f(A=np.arange(6, dtype=np.float32).reshape(2, 3), B=np.float32(2))
    assert out.dtype == np.float32 and out.shape == (2, 3)
    np.testing.assert_array_equal(out, naive(A=np.arange(6, dtype=np.float32).reshape(2, 3),
                                             B=np.float32(2)))


def test_outputs_are_never_overwritten_by_later_calls():
    x = Variable('x', shape=(4,), dtype='float64')
    f = compile(((x * 2).exp() - 1).tanh())
    first = f(x=np.zeros(4))
    f(x=np.ones(4))
    np.testing.assert_array_equal(first, np.zeros(4))


def test_clear_errors():
    import pytest

    A = Variable('A', shape=(3,), dtype='float32')
    f = compile(A * 2)
    with pytest.raises(TypeError, match="missing inputs"):
        f()
    with pytest.raises(ValueError, match=r"input 'A': expected shape \(3,\)"):
        f(A=np.ones(4, np.float32))
    with pytest.raises(TypeError, match="expected dtype float32"):
        f(A=np.ones(3))
    with pytest.raises(ValueError, match="of Variable 'B' is unknown"):
        Variable('B').sum(dim=0)


def test_repeated_positional_calls_keep_every_check():
    # Calls with the previous call's positional shapes and dtypes skip re-validation; anything
    # else must still be checked, and the fast path must pick the right signature.
    import pytest

    A = Variable('A', shape=(3,), dtype='float32')
    f = compile(A * 2)
    np.testing.assert_array_equal(f(np.ones(3, np.float32)), [2, 2, 2])
    np.testing.assert_array_equal(f(np.full(3, 4, np.float32)), [8, 8, 8])
    with pytest.raises(TypeError, match="expected dtype float32"):
        f(np.ones(3))
    with pytest.raises(ValueError, match=r"expected shape \(3,\)"):
        f(np.ones(4, np.float32))
    with pytest.raises(TypeError, match="takes 1 inputs"):
        f(np.ones(3, np.float32), np.ones(3, np.float32))
    x = Variable('x')
    g = compile(x + 1)
    assert g(np.ones((2, 3))).shape == (2, 3)
    assert g(np.ones(4)).tolist() == [2.0] * 4      # another signature: another executable
    assert g(np.ones((2, 3), np.float32)).dtype == np.float32
    assert g(np.ones(4)).tolist() == [2.0] * 4 and g.graph.outputs[0].spec.shape == (4,)
    assert g(x=np.ones(5)).shape == (5,) and g(np.ones(5)).shape == (5,)
    assert g.memory_report()["output_bytes"] == 40
