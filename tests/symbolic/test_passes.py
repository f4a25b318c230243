# ruff: noqa: A004 - hybridgrad.symbolic.compile is the notes' name
"""Each compiler pass on small graphs: the node list before and after."""

from __future__ import annotations

import numpy as np

import hybridgrad as hg
from hybridgrad.ops.registry import Spec
from hybridgrad.symbolic import Constant, Variable, compile
from hybridgrad.symbolic import passes as P
from hybridgrad.symbolic.graph import Graph


def _graph(*outputs):
    return Graph.from_symbols(list(outputs))


def test_dead_code_elimination_drops_unused_nodes():
    x = Variable('x', shape=(3,))
    used, unused = x.exp(), x.sin() * 3
    nodes = [x.node, used.node, unused.node.inputs[0], unused.node.inputs[1], unused.node]
    before = Graph(nodes, [used.node])
    assert before.ops() == ["exp", "sin", "mul"]
    after = P.dead_code_elimination(before)
    assert after.ops() == ["exp"]
    assert [n.kind for n in after.nodes] == ["input", "op"]


def test_constant_folding_evaluates_constant_subgraphs():
    x = Variable('x', shape=(2,))
    table = Constant(np.array([1.0, 4.0], dtype=np.float32))
    before = _graph(x + table.sqrt() * 2)
    assert before.ops() == ["sqrt", "mul", "add"]
    after = P.constant_folding(before)
    assert after.ops() == ["add"]
    folded = after.op_nodes()[0].inputs[1]
    assert folded.kind == "const"
    np.testing.assert_array_equal(folded.value, [2.0, 4.0])
    assert folded.value.dtype == np.float32


def test_constant_folding_leaves_parameters_alone():
    from hybridgrad.symbolic.graph import Symbol, as_node

    w = Symbol(as_node(hg.nn.Parameter(hg.ones(2))))  # what tracing makes of a parameter
    before = _graph(Variable('x', shape=(2,)) * (w * 2))
    assert P.constant_folding(before).ops() == ["mul", "mul"]


def test_cse_merges_identical_nodes():
    x = Variable('x', shape=(3,))
    before = _graph(x.exp() * 2 + x.exp() * 2)
    assert before.ops() == ["exp", "mul", "exp", "mul", "add"]
    after = P.common_subexpression_elimination(before)
    assert after.ops() == ["exp", "mul", "add"]
    add = after.op_nodes()[-1]
    assert add.inputs[0] is add.inputs[1]


def test_cse_keeps_different_attributes_apart():
    x = Variable('x', shape=(2, 3))
    before = _graph(x.sum(dim=0).sum() + x.sum(dim=1).sum())
    assert P.common_subexpression_elimination(before).ops().count("sum") == 4


def test_algebraic_simplification_identities():
    x = Variable('x', shape=(2, 3))
    before = _graph(((x * 1 + 0) - 0) / 1)
    assert before.ops() == ["mul", "add", "sub", "div"]
    after = P.algebraic_simplification(before)
    assert after.ops() == [] and after.outputs[0] is x.node


def test_algebraic_simplification_keeps_broadcasting_identities():
    x = Variable('x', shape=(3,))
    ones = Constant(np.ones((2, 3), dtype=np.float32))
    # x * ones has shape (2, 3): it is not x.
    assert P.algebraic_simplification(_graph(x * ones)).ops() == ["mul"]


def test_algebraic_simplification_movement_pairs():
    x = Variable('x', shape=(2, 3, 4))
    before = _graph(x.permute(2, 0, 1).permute(1, 2, 0), x.reshape(6, 4).reshape(24),
                    x.permute(1, 0, 2).permute(2, 1, 0), hg.neg(hg.neg(x)))
    assert before.ops() == ["permute", "permute", "reshape", "reshape", "permute", "permute",
                            "neg", "neg"]
    after = P.algebraic_simplification(before)
    assert after.ops() == ["reshape", "permute"]
    assert after.outputs[0] is x.node and after.outputs[3] is x.node
    reshape = after.outputs[1]
    assert reshape.inputs[0] is x.node and reshape.attrs["shape"] == (24,)
    permute = after.outputs[2]
    assert permute.inputs[0] is x.node and permute.attrs["dims"] == (2, 0, 1)
    fn = compile(list(x_ for x_ in (x.permute(1, 0, 2).permute(2, 1, 0),)))
    value = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(fn(x=value)[0], value.transpose(1, 0, 2).transpose(2, 1, 0))


def test_elementwise_fusion_of_a_chain():
    x = Variable('x', shape=(5,))
    y = Variable('y', shape=(5,))
    before = _graph((((x * y).exp() + 1).tanh() - y).sum())
    assert before.ops() == ["mul", "exp", "add", "tanh", "sub", "sum"]
    after = P.dead_code_elimination(P.elementwise_fusion(before))
    assert after.ops() == ["fused", "sum"]
    fused = after.op_nodes()[0]
    assert fused.attrs["names"] == ("mul", "exp", "add", "tanh", "sub")
    rng = np.random.default_rng(0)
    xv, yv = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    expected = (np.tanh(np.exp(xv * yv) + np.float32(1)) - yv).sum()
    np.testing.assert_allclose(compile(_graph_out(before))(x=xv, y=yv), expected, rtol=1e-6)


def _graph_out(graph):
    from hybridgrad.symbolic.graph import Symbol

    return Symbol(graph.outputs[0])


def test_fusion_stops_at_values_with_several_readers():
    x = Variable('x', shape=(4,))
    shared = x.exp()
    before = _graph((shared + 1).sin() * shared.cos())
    after = P.dead_code_elimination(P.elementwise_fusion(before))
    # exp is read twice, so it is a group of its own; the tree (+1, sin), cos, * is one group.
    assert after.ops() == ["exp", "fused"]
    fused = after.op_nodes()[1]
    assert sorted(fused.attrs["names"]) == ["add", "cos", "mul", "sin"]
    assert fused.inputs[0] is after.op_nodes()[0]
    assert fused.attrs["registers"] == 2  # one scratch register for the side branch
    value = np.linspace(-1, 1, 4).astype(np.float32)
    e = np.exp(value)
    np.testing.assert_allclose(compile(_graph_out(after))(x=value), np.sin(e + 1) * np.cos(e),
                               rtol=1e-6)


def test_fusion_after_an_upstream_replacement():
    # Regression: a group downstream of another fused group used to be missed because its
    # nodes had been copied (new ids) when their inputs were rewritten.
    x = Variable('x', shape=(6,))
    first = (x * 2).exp()
    middle = first @ x  # not fusable: ends the first group
    second = (first * middle).tanh() - 1
    after = P.dead_code_elimination(P.elementwise_fusion(_graph(second)))
    assert after.ops() == ["fused", "matmul", "fused"]


def test_matmul_epilogue_fusion():
    a, b = Variable('a', shape=(300, 20)), Variable('b', shape=(20, 400))
    bias = Variable('bias', shape=(400,))
    before = P.elementwise_fusion(_graph(((a @ b) + bias).relu() * 0.5))
    assert P.dead_code_elimination(before).ops() == ["matmul", "fused"]
    after = P.dead_code_elimination(P.matmul_epilogue_fusion(before))
    assert after.ops() == ["fused_matmul"]
    rng = np.random.default_rng(0)
    feeds = {"a": rng.standard_normal((300, 20)).astype(np.float32),
             "b": rng.standard_normal((20, 400)).astype(np.float32),
             "bias": rng.standard_normal(400).astype(np.float32)}
    expected = np.maximum(feeds["a"] @ feeds["b"] + feeds["bias"], 0) * np.float32(0.5)
    f = compile(((a @ b) + bias).relu() * 0.5, split_batch=False)
    np.testing.assert_allclose(f(**feeds), expected, rtol=1e-5, atol=1e-5)
    assert f.graph.ops() == ["fused_matmul"]
    assert f.memory_report()["planned_bytes"] == 0  # the product never gets a buffer


def test_fused_large_arrays_run_block_by_block():
    x = Variable('x', shape=(100_000,), dtype='float64')
    f = compile(((x * 2.0).sin() + x).exp())
    value = np.linspace(-1, 1, 100_000)
    np.testing.assert_allclose(f(x=value), np.exp(np.sin(value * 2.0) + value), rtol=1e-14)
    assert f.graph.ops() == ["fused"]


def test_specialize_makes_casts_explicit():
    x = Variable('x')
    after = P.specialize(_graph(x / 2), {"x": Spec((3,), np.dtype("int64"))})
    assert after.ops() == ["cast", "div"]
    assert after.outputs[0].spec == Spec((3,), np.dtype("float32"))
    assert compile(x / 2)(x=np.array([1, 2, 3])).dtype == np.float32


def test_optimize_pipeline_end_to_end():
    x = Variable('x', shape=(3,))
    y = (x * 1).exp() + (x * 1).exp() + Constant(2.0) * 0.5
    after = P.optimize(_graph(y))
    assert after.ops() == ["exp", "fused"] or after.ops() == ["fused"]


def test_lower_linear_rewrites_matrix_inputs_only():
    from hybridgrad.ops.registry import apply

    weight = hg.randn(4, 3)
    matrix = Variable("m", shape=(5, 3))
    batch = Variable("b", shape=(2, 5, 3))
    lowered = P.lower_linear(Graph.from_symbols([apply("linear", matrix, weight),
                                                 apply("linear", batch, weight)]))
    assert sorted(lowered.ops()) == ["linear", "matmul", "permute"]
    feeds = {"m": np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32),
             "b": np.random.default_rng(1).standard_normal((2, 5, 3)).astype(np.float32)}
    compiled = compile([apply("linear", matrix, weight), apply("linear", batch, weight)])
    first, second = compiled(**feeds)
    np.testing.assert_allclose(first, feeds["m"] @ weight._array.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, feeds["b"] @ weight._array.T, rtol=1e-5, atol=1e-6)
