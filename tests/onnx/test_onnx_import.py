"""ONNX import: models built with onnx.helper, run by hybridgrad, compared with onnxruntime.

(No __init__.py in this folder on purpose: a package named ``onnx`` would shadow the real one.)
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import hybridgrad as hg
from hybridgrad.onnx import OnnxImportError, UnsupportedError, backend
from hybridgrad.testing import gradcheck

RNG = np.random.default_rng(0)
NP_TO_ONNX = {np.dtype("float32"): TensorProto.FLOAT, np.dtype("float64"): TensorProto.DOUBLE,
              np.dtype("int64"): TensorProto.INT64, np.dtype("int32"): TensorProto.INT32,
              np.dtype("bool"): TensorProto.BOOL}


def make_model(nodes, inputs: dict, outputs: list, initializers: dict | None = None,
               opset: int = 17) -> onnx.ModelProto:
    """A model whose graph inputs are ``inputs`` (name -> array) and whose outputs have
    unknown shapes (onnxruntime and hybridgrad infer them)."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(name, NP_TO_ONNX[value.dtype], value.shape)
         for name, value in inputs.items()],
        [onnx.ValueInfoProto(name=name) for name in outputs],
        [numpy_helper.from_array(value, name) for name, value in (initializers or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    # Output types come from ONNX's shape inference (onnxruntime needs them).
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for output in model.graph.output:
        if known.get(output.name) is not None and known[output.name].type.HasField("tensor_type"):
            output.type.CopyFrom(known[output.name].type)
    return model


def run_onnxruntime(model: onnx.ModelProto, inputs: dict) -> list:
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def run_hybridgrad(model: onnx.ModelProto, inputs: dict) -> list:
    module = hg.onnx.load(model)
    outputs = module(**{name: hg.tensor(value) for name, value in inputs.items()})
    if not isinstance(outputs, tuple):
        outputs = (outputs,)
    return [o.detach().numpy() for o in outputs]


def x(*shape, dtype=np.float32, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape).astype(dtype)


def i64(*values):
    return np.array(values, dtype=np.int64)


# (id, nodes, graph inputs, initializers, opset)
CASES = [
    ("add_broadcast", [helper.make_node("Add", ["a", "b"], ["y"])],
     {"a": x(2, 3, 4), "b": x(4)}, {}, 17),
    ("sub_mul_div", [helper.make_node("Sub", ["a", "b"], ["t"]),
                     helper.make_node("Mul", ["t", "a"], ["u"]),
                     helper.make_node("Div", ["u", "c"], ["y"])],
     {"a": x(3, 4), "b": x(3, 1), "c": x(4, low=1, high=2)}, {}, 17),
    ("int_div_trunc", [helper.make_node("Div", ["a", "b"], ["y"])],
     {"a": np.array([7, -7, 5, -5], np.int64), "b": np.array([2, 2, -3, -3], np.int64)}, {}, 17),
    ("pow_exp_log_sqrt", [helper.make_node("Pow", ["a", "b"], ["p"]),
                          helper.make_node("Exp", ["p"], ["e"]),
                          helper.make_node("Log", ["e"], ["l"]),
                          helper.make_node("Sqrt", ["l"], ["y"])],
     {"a": x(5, low=0.5, high=1.5), "b": x(5, low=1, high=2)}, {}, 17),
    ("activations", [helper.make_node("LeakyRelu", ["a"], ["l"], alpha=0.2),
                     helper.make_node("Elu", ["l"], ["e"], alpha=0.7),
                     helper.make_node("Selu", ["e"], ["s"]),
                     helper.make_node("HardSigmoid", ["s"], ["h"]),
                     helper.make_node("Softplus", ["a"], ["sp"]),
                     helper.make_node("Add", ["h", "sp"], ["y"])],
     {"a": x(4, 5)}, {}, 17),
    ("gelu_erf_tanh", [helper.make_node("Gelu", ["a"], ["g"]),
                       helper.make_node("Gelu", ["a"], ["t"], approximate="tanh"),
                       helper.make_node("Erf", ["a"], ["e"]),
                       helper.make_node("Tanh", ["a"], ["h"])],
     {"a": x(3, 4)}, {}, 20),
    ("softmax_axis_opset11", [helper.make_node("Softmax", ["a"], ["y"], axis=1)],
     {"a": x(2, 3, 4)}, {}, 11),
    ("softmax_logsoftmax_opset13", [helper.make_node("Softmax", ["a"], ["s"], axis=1),
                                    helper.make_node("LogSoftmax", ["a"], ["l"])],
     {"a": x(2, 3, 4)}, {}, 13),
    ("gemm_trans", [helper.make_node("Gemm", ["a", "w", "c"], ["y"], transB=1, alpha=0.5,
                                     beta=2.0)],
     {"a": x(3, 4)}, {"w": x(5, 4), "c": x(5)}, 17),
    ("matmul_batched", [helper.make_node("MatMul", ["a", "b"], ["y"])],
     {"a": x(2, 3, 4), "b": x(4, 5)}, {}, 17),
    ("reduce_opset13_axes_attr", [helper.make_node("ReduceMean", ["a"], ["m"], axes=[1]),
                                  helper.make_node("ReduceMax", ["a"], ["x"], axes=[0, 2],
                                                   keepdims=0),
                                  helper.make_node("ReduceSum", ["a", "ax"], ["s"])],
     {"a": x(2, 3, 4)}, {"ax": i64(-1)}, 13),
    ("reduce_opset18_axes_input", [helper.make_node("ReduceMean", ["a", "ax"], ["m"]),
                                   helper.make_node("ReduceL2", ["a", "ax"], ["l2"],
                                                    keepdims=0),
                                   helper.make_node("ReduceLogSumExp", ["a"], ["lse"])],
     {"a": x(2, 3, 4)}, {"ax": i64(1)}, 18),
    ("argmax_argmin", [helper.make_node("ArgMax", ["a"], ["m"], axis=1, keepdims=0),
                       helper.make_node("ArgMin", ["a"], ["n"], axis=-1)],
     {"a": x(3, 5)}, {}, 17),
    ("reshape_allowzero_flatten", [helper.make_node("Reshape", ["a", "shape"], ["r"]),
                                   helper.make_node("Flatten", ["r"], ["y"], axis=2)],
     {"a": x(2, 3, 4)}, {"shape": i64(0, 4, -1)}, 17),
    ("squeeze_unsqueeze_opset11", [helper.make_node("Unsqueeze", ["a"], ["u"], axes=[0, 3]),
                                   helper.make_node("Squeeze", ["u"], ["y"], axes=[0])],
     {"a": x(2, 3)}, {}, 11),
    ("squeeze_unsqueeze_opset13", [helper.make_node("Unsqueeze", ["a", "ax"], ["u"]),
                                   helper.make_node("Squeeze", ["u", "ax"], ["y"])],
     {"a": x(2, 3)}, {"ax": i64(1)}, 13),
    ("transpose_concat_split", [helper.make_node("Transpose", ["a"], ["t"], perm=[1, 0, 2]),
                                helper.make_node("Concat", ["t", "t"], ["c"], axis=2),
                                helper.make_node("Split", ["c", "sizes"], ["s1", "s2"], axis=2)],
     {"a": x(2, 3, 4)}, {"sizes": i64(3, 5)}, 13),
    ("split_num_outputs_opset18", [helper.make_node("Split", ["a"], ["s1", "s2", "s3"], axis=1,
                                                    num_outputs=3)],
     {"a": x(2, 7)}, {}, 18),
    ("slice_steps_negative", [helper.make_node("Slice", ["a", "st", "en", "ax", "sp"], ["y"])],
     {"a": x(5, 6)}, {"st": i64(4, 1), "en": i64(-10, 100), "ax": i64(0, 1),
                      "sp": i64(-2, 2)}, 13),
    ("gather_gather_elements", [helper.make_node("Gather", ["a", "idx"], ["g"], axis=1),
                                helper.make_node("GatherElements", ["a", "idx2"], ["e"],
                                                 axis=0)],
     {"a": x(3, 4)}, {"idx": np.array([[0, -1], [2, 1]], np.int64),
                      "idx2": np.array([[2, 0, 1, 1]], np.int64)}, 13),
    ("expand_tile_where", [helper.make_node("Expand", ["a", "shape"], ["e"]),
                           helper.make_node("Tile", ["a", "reps"], ["t"]),
                           helper.make_node("Greater", ["e", "zero"], ["c"]),
                           helper.make_node("Where", ["c", "e", "zero"], ["y"])],
     {"a": x(3, 1)}, {"shape": i64(2, 3, 4), "reps": i64(2, 3), "zero": np.zeros(1, np.float32)},
     13),
    ("pad_modes", [helper.make_node("Pad", ["a", "pads", "v"], ["c"]),
                   helper.make_node("Pad", ["a", "pads"], ["r"], mode="reflect"),
                   helper.make_node("Pad", ["a", "pads"], ["e"], mode="edge")],
     {"a": x(3, 4)}, {"pads": i64(1, 2, 2, 1), "v": np.array(1.5, np.float32)}, 13),
    ("clip_opset6_and_11", [helper.make_node("Clip", ["a", "lo", "hi"], ["y"])],
     {"a": x(10)}, {"lo": np.array(-0.5, np.float32), "hi": np.array(0.5, np.float32)}, 11),
    ("shape_constantofshape_range_cast",
     [helper.make_node("Shape", ["a"], ["s"]),
      helper.make_node("ConstantOfShape", ["s"], ["z"],
                       value=numpy_helper.from_array(np.array([2.5], np.float32))),
      helper.make_node("Range", ["r0", "r1", "r2"], ["r"]),
      helper.make_node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
      helper.make_node("Add", ["z", "rf"], ["y"])],
     {"a": x(2, 4)}, {"r0": np.array(0, np.int64), "r1": np.array(4, np.int64),
                      "r2": np.array(1, np.int64)}, 17),
    ("constant_comparisons_logic",
     [helper.make_node("Constant", [], ["k"], value_float=0.25),
      helper.make_node("Less", ["a", "k"], ["l"]),
      helper.make_node("GreaterOrEqual", ["a", "k"], ["g"]),
      helper.make_node("Not", ["g"], ["n"]),
      helper.make_node("Xor", ["l", "n"], ["y"])],
     {"a": x(6)}, {}, 17),
    ("layernorm_batchnorm_inference",
     [helper.make_node("LayerNormalization", ["a", "ls", "lb"], ["l"], axis=-1),
      helper.make_node("BatchNormalization", ["l", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
     {"a": x(2, 3, 4)}, {"ls": x(4), "lb": x(4), "s": x(3), "b": x(3), "m": x(3),
                         "v": x(3, low=0.5, high=1.5)}, 17),
    ("global_pools_lrn", [helper.make_node("GlobalAveragePool", ["a"], ["g"]),
                          helper.make_node("GlobalMaxPool", ["a"], ["m"]),
                          helper.make_node("LRN", ["a"], ["l"], size=3)],
     {"a": x(2, 5, 3, 3)}, {}, 17),
    ("resize_linear_nearest", [helper.make_node("Resize", ["a", "", "sc"], ["l"], mode="linear"),
                               helper.make_node("Resize", ["a", "", "sc"], ["n"])],
     {"a": x(1, 2, 3, 4)}, {"sc": np.array([1, 1, 2, 1.5], np.float32)}, 13),
    ("einsum_topk_cumsum", [helper.make_node("Einsum", ["a", "b"], ["e"], equation="bij,bjk->bik"),
                            helper.make_node("TopK", ["a", "k"], ["v", "i"], axis=-1),
                            helper.make_node("CumSum", ["a", "ax"], ["c"], reverse=1)],
     {"a": x(2, 3, 4), "b": x(2, 4, 5)}, {"k": i64(2), "ax": np.array(1, np.int64)}, 13),
    ("depth_space_trilu_onehot",
     [helper.make_node("DepthToSpace", ["a"], ["d"], blocksize=2, mode="CRD"),
      helper.make_node("SpaceToDepth", ["d"], ["s"], blocksize=2),
      helper.make_node("Trilu", ["m"], ["t"], upper=0),
      helper.make_node("OneHot", ["idx", "depth", "vals"], ["o"])],
     {"a": x(1, 8, 2, 3), "m": x(3, 4)},
     {"idx": i64(0, 2, -1), "depth": np.array(4, np.int64), "vals": np.array([0, 3], np.float32)},
     14),
    ("losses_sce_nll",
     [helper.make_node("SoftmaxCrossEntropyLoss", ["a", "t"], ["l", "lp"], ignore_index=1),
      helper.make_node("NegativeLogLikelihoodLoss", ["lp", "t", "w"], ["n"], reduction="sum")],
     {"a": x(4, 3, 2)}, {"t": np.array([[0, 1], [2, 2], [1, 0], [2, 1]], np.int64),
                         "w": x(3, low=0.5, high=1.0)}, 13),
    ("scatter_elements_nd_add",
     [helper.make_node("ScatterElements", ["a", "idx", "u"], ["e"], axis=1, reduction="add"),
      helper.make_node("ScatterND", ["a", "nd", "v"], ["n"])],
     {"a": x(3, 4)}, {"idx": np.array([[1, 1], [0, 3], [2, 0]], np.int64), "u": x(3, 2),
                      "nd": np.array([[2], [0]], np.int64), "v": x(2, 4)}, 16),
    ("center_crop_pad_unique",
     [helper.make_node("CenterCropPad", ["a", "shape"], ["c"]),
      helper.make_node("Unique", ["u"], ["y", "i", "inv", "cnt"], sorted=1)],
     {"a": x(5, 2)}, {"shape": i64(3, 4), "u": np.array([2.0, 1.0, 2.0, 3.0, 1.0], np.float32)},
     18),
    ("attention_gqa_causal_rmsnorm",
     [helper.make_node("Attention", ["q", "k", "v"], ["y"], is_causal=1, q_num_heads=4,
                       kv_num_heads=2),
      helper.make_node("RMSNormalization", ["y", "scale"], ["r"])],
     {"q": x(2, 3, 8), "k": x(2, 5, 4), "v": x(2, 5, 4)}, {"scale": x(8)}, 23),
    ("affine_grid_grid_sample_reflection",
     [helper.make_node("AffineGrid", ["theta", "size"], ["grid"]),
      helper.make_node("GridSample", ["img", "grid"], ["y"], padding_mode="reflection"),
      helper.make_node("GridSample", ["img", "grid"], ["z"], mode="cubic", align_corners=1)],
     {"img": x(2, 3, 4, 5), "theta": x(2, 2, 3, low=-1.2, high=1.2)},
     {"size": i64(2, 3, 3, 4)}, 20),
    ("mod_floor_round_trig",
     [helper.make_node("Mod", ["a", "b"], ["f"], fmod=1),
      helper.make_node("Floor", ["a"], ["fl"]), helper.make_node("Round", ["a"], ["r"]),
      helper.make_node("Atan", ["a"], ["t"]), helper.make_node("Sinh", ["a"], ["s"])],
     {"a": x(7), "b": x(7, low=0.5, high=1.0)}, {}, 13),
]


@pytest.mark.parametrize("name,nodes,inputs,initializers,opset", CASES,
                         ids=[case[0] for case in CASES])
def test_matches_onnxruntime(name, nodes, inputs, initializers, opset):
    outputs = [output for node in nodes for output in node.output]
    model = make_model(nodes, inputs, outputs, initializers, opset)
    expected = run_onnxruntime(model, inputs)
    actual = run_hybridgrad(model, inputs)
    for output_name, want, got in zip(outputs, expected, actual):
        assert got.dtype == want.dtype, (output_name, got.dtype, want.dtype)
        assert got.shape == want.shape, (output_name, got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=output_name)


def test_supported_list_is_the_op_table_and_large():
    assert hg.onnx.SUPPORTED == tuple(sorted(hg.onnx.OPS))
    assert len(hg.onnx.SUPPORTED) >= 80


def _mlp_model(dtype=np.float32) -> tuple[onnx.ModelProto, dict]:
    weights = {"fc1.weight": x(8, 3).astype(dtype), "fc1.bias": x(8).astype(dtype),
               "fc2.weight": x(1, 8).astype(dtype), "fc2.bias": x(1).astype(dtype)}
    nodes = [helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1),
             helper.make_node("Tanh", ["h"], ["a"]),
             helper.make_node("Gemm", ["a", "fc2.weight", "fc2.bias"], ["y"], transB=1)]
    model = make_model(nodes, {"x": np.zeros((4, 3), dtype)}, ["y"], weights)
    return model, weights


def test_initializers_become_parameters_and_fine_tuning_lowers_the_loss():
    model, weights = _mlp_model()
    module = hg.onnx.load(model.SerializeToString())
    names = dict(module.named_parameters())
    assert set(names) == {"fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"}
    np.testing.assert_array_equal(names["fc1_weight"].numpy(), weights["fc1.weight"])
    inputs = hg.tensor(x(16, 3))
    targets = hg.tensor(x(16, 1))

    def loss_value():
        prediction = module(inputs)
        return ((prediction - targets) ** 2).mean()

    first = loss_value().item()
    learning_rate = 0.1
    for _ in range(5):
        module.zero_grad()
        loss = loss_value()
        loss.backward()
        for parameter in module.parameters():
            parameter._array -= learning_rate * parameter.grad._array
    assert loss_value().item() < first * 0.9


def test_integer_initializers_are_buffers():
    model = make_model([helper.make_node("Reshape", ["a", "shape"], ["y"])], {"a": x(2, 3)},
                       ["y"], {"shape": i64(3, 2)})
    module = hg.onnx.load(model)
    assert list(dict(module.named_parameters())) == []
    assert [name for name, _ in module.named_buffers()] == ["shape"]
    assert module(hg.tensor(x(2, 3))).shape == (3, 2)


def test_imported_model_gradients_match_finite_differences():
    model, _ = _mlp_model(np.float64)
    module = hg.onnx.load(model)
    inputs = hg.tensor(x(4, 3).astype(np.float64), requires_grad=True)
    weight = dict(module.named_parameters())["fc1_weight"]
    assert gradcheck(lambda a, w: module(a), [inputs, weight])


def test_unsupported_operators_are_listed_together():
    nodes = [helper.make_node("Foo", ["a"], ["b"]), helper.make_node("Relu", ["b"], ["c"]),
             helper.make_node("Bar", ["c"], ["d"], domain="com.example"),
             helper.make_node("Baz", ["d"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("a", 1, [2])],
                              [helper.make_tensor_value_info("y", 1, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    with pytest.raises(UnsupportedError) as error:
        hg.onnx.load(model, check=False)
    message = str(error.value)
    for expected in ("operator Foo", "operator Baz", "operator Bar (domain 'com.example')",
                     "domain 'com.example'"):
        assert expected in message
    assert "Relu" not in message.split("Supported")[0]


def test_unsupported_element_type_and_opset_are_reported():
    graph = helper.make_graph([helper.make_node("Relu", ["a"], ["y"])], "g",
                              [helper.make_tensor_value_info("a", TensorProto.BFLOAT16, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 99)])
    with pytest.raises(UnsupportedError, match="BFLOAT16.*opset 99|opset 99.*BFLOAT16"):
        hg.onnx.load(model, check=False)


def test_truncated_file_is_a_clear_error_naming_the_file(tmp_path):
    model, _ = _mlp_model()
    data = model.SerializeToString()
    path = tmp_path / "mlp.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxImportError, match="mlp.onnx") as error:
        hg.onnx.load(path)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_garbage_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(bytes(RNG.integers(0, 256, 300, dtype=np.uint8)))
    with pytest.raises(OnnxImportError, match="garbage.onnx"):
        hg.onnx.load(str(garbage))
    with pytest.raises(OnnxImportError, match="missing.onnx"):
        hg.onnx.load(tmp_path / "missing.onnx")
    with pytest.raises(OnnxImportError, match="bytes"):
        hg.onnx.load(b"\x08\x07garbage")


def test_checker_failure_is_reported():
    # A node reading a value nothing produces fails onnx.checker.
    graph = helper.make_graph([helper.make_node("Relu", ["nowhere"], ["y"])], "g",
                              [helper.make_tensor_value_info("a", 1, [2])],
                              [helper.make_tensor_value_info("y", 1, [2])])
    with pytest.raises(OnnxImportError, match="failed ONNX validation"):
        hg.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_wrong_inputs_are_clear_errors():
    model, _ = _mlp_model()
    module = hg.onnx.load(model)
    with pytest.raises(OnnxImportError, match="missing inputs"):
        module()
    with pytest.raises(OnnxImportError, match="no input 'z'"):
        module(z=hg.ones(4, 3))
    with pytest.raises(OnnxImportError, match="Gemm node"):
        module(hg.ones(4, 5))


def test_backend_interface():
    model, _ = _mlp_model()
    inputs = x(4, 3)
    expected = run_onnxruntime(model, {"x": inputs})[0]
    outputs = backend.run_model(model, [inputs])
    np.testing.assert_allclose(outputs[0], expected, rtol=1e-5, atol=1e-6)
    rep = backend.prepare(model)
    np.testing.assert_allclose(rep.run({"x": inputs}).y, expected, rtol=1e-5, atol=1e-6)
    node = helper.make_node("Softmax", ["a"], ["b"], axis=0)
    result = backend.run_node(node, [np.array([0.0, 0.0], np.float32)])
    np.testing.assert_allclose(result[0], [0.5, 0.5])
    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")
    assert backend.HybridgradBackend.is_compatible(model)


def test_conformance_runner_passes_the_node_tests_of_some_operators():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[2] / "benchmarks" / "onnx_conformance.py"
    spec = importlib.util.spec_from_file_location("onnx_conformance", path)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    data = np.array([-1.0, 0.5, 2.0], np.float32)
    model = make_model([helper.make_node("Relu", ["a"], ["y"])], {"a": data}, ["y"])
    assert runner.run_case(model, [([data], [np.maximum(data, 0)])], 1e-6, 0) == ("passed", "")
    status, reason = runner.run_case(model, [([data], [data])], 1e-6, 0)
    assert status == "failed" and "values differ" in reason


def _recurrent_case(kind, direction, layout=0, lengths=False, peephole=False, extra=None):
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[kind]
    directions = 2 if direction == "bidirectional" else 1
    hidden, size, steps, batch = 3, 2, 4, 2
    inputs = {"X": x(steps, batch, size) if not layout else x(batch, steps, size)}
    initializers = {"W": x(directions, gates * hidden, size), "R": x(directions, gates * hidden,
                                                                   hidden),
                    "B": x(directions, 2 * gates * hidden)}
    names = ["X", "W", "R", "B"]
    if lengths:
        initializers["L"] = np.array([4, 2], np.int32)
        names.append("L")
    else:
        names.append("")
    state_shape = (directions, batch, hidden) if not layout else (batch, directions, hidden)
    initializers["H0"] = x(*state_shape)
    names.append("H0")
    outputs = ["Y", "Y_h"]
    if kind == "LSTM":
        initializers["C0"] = x(*state_shape)
        names.append("C0")
        outputs.append("Y_c")
        if peephole:
            initializers["P"] = x(directions, 3 * hidden)
            names.append("P")
    node = helper.make_node(kind, names, outputs, hidden_size=hidden, direction=direction,
                            layout=layout, **(extra or {}))
    return [node], inputs, initializers


RECURRENT = [
    ("rnn_forward", "RNN", "forward", {}),
    ("rnn_bidirectional_lengths", "RNN", "bidirectional", {"lengths": True}),
    ("gru_reverse", "GRU", "reverse", {}),
    ("gru_linear_before_reset_layout1", "GRU", "bidirectional",
     {"layout": 1, "extra": {"linear_before_reset": 1}}),
    ("lstm_bidirectional_lengths_peephole", "LSTM", "bidirectional",
     {"lengths": True, "peephole": True}),
    ("lstm_clip_layout1", "LSTM", "forward", {"layout": 1, "extra": {"clip": 0.5}}),
]


@pytest.mark.parametrize("name,kind,direction,options", RECURRENT,
                         ids=[case[0] for case in RECURRENT])
def test_recurrent_layers_match_onnxruntime(name, kind, direction, options):
    nodes, inputs, initializers = _recurrent_case(kind, direction, **options)
    outputs = list(nodes[0].output)
    model = make_model(nodes, inputs, outputs, initializers, 14)
    actual = run_hybridgrad(model, inputs)
    if options.get("layout"):
        # onnxruntime has no batch-first recurrent kernels: run the time-first equivalent.
        time_first = dict(initializers)
        for state in ("H0", "C0"):
            if state in time_first:
                time_first[state] = time_first[state].transpose(1, 0, 2)
        attributes = {a.name: helper.get_attribute_value(a) for a in nodes[0].attribute}
        attributes["layout"] = 0
        node = helper.make_node(kind, list(nodes[0].input), outputs, **attributes)
        reference_inputs = {"X": inputs["X"].transpose(1, 0, 2)}
        model = make_model([node], reference_inputs, outputs, time_first, 14)
        expected = run_onnxruntime(model, reference_inputs)
        expected = [expected[0].transpose(2, 0, 1, 3)] + [e.transpose(1, 0, 2)
                                                          for e in expected[1:]]
    else:
        expected = run_onnxruntime(model, inputs)
    for output_name, want, got in zip(outputs, expected, actual):
        assert got.shape == want.shape, (output_name, got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=output_name)


def test_imported_lstm_gradients_match_finite_differences():
    nodes, inputs, initializers = _recurrent_case("LSTM", "bidirectional", peephole=True)
    inputs = {k: v.astype(np.float64) for k, v in inputs.items()}
    initializers = {k: v.astype(np.float64) if v.dtype.kind == "f" else v
                    for k, v in initializers.items()}
    module = hg.onnx.load(make_model(nodes, inputs, list(nodes[0].output), initializers, 14))
    weights = dict(module.named_parameters())
    data = hg.tensor(inputs["X"], requires_grad=True)
    assert gradcheck(lambda a, w, r: module(a)[0], [data, weights["W"], weights["R"]])


def test_grid_sample_gradients_match_finite_differences():
    graph_nodes = [helper.make_node("GridSample", ["img", "grid"], ["y"],
                                    padding_mode="border")]
    image = x(1, 2, 3, 4).astype(np.float64)
    grid = x(1, 2, 3, 2, low=-0.9, high=0.9).astype(np.float64)
    model = make_model(graph_nodes, {"img": image, "grid": grid}, ["y"], opset=20)
    module = hg.onnx.load(model)
    assert gradcheck(lambda a, g: module(a, g), [hg.tensor(image, requires_grad=True),
                                                 hg.tensor(grid, requires_grad=True)])


def test_external_weights_next_to_the_file_are_loaded(tmp_path):
    model, weights = _mlp_model()
    path = tmp_path / "mlp.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="mlp.weights", size_threshold=0)
    assert (tmp_path / "mlp.weights").exists()
    module = hg.onnx.load(path)
    np.testing.assert_array_equal(dict(module.named_parameters())["fc1_weight"].numpy(),
                                  weights["fc1.weight"])


def test_control_flow_and_sequences_match_onnxruntime():
    # Loop: y_{i+1} = y_i * 2 + x, three times, also emitting every y; If picks a branch.
    body = helper.make_graph(
        [helper.make_node("Mul", ["y_in", "two"], ["doubled"]),
         helper.make_node("Add", ["doubled", "x"], ["y_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["y_out"], ["scan_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_in", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_out", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("scan_out", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    then_branch = helper.make_graph(
        [helper.make_node("Neg", ["final"], ["picked"])], "then", [],
        [helper.make_tensor_value_info("picked", TensorProto.FLOAT, [2])])
    else_branch = helper.make_graph(
        [helper.make_node("Abs", ["final"], ["picked2"])], "else", [],
        [helper.make_tensor_value_info("picked2", TensorProto.FLOAT, [2])])
    nodes = [helper.make_node("Loop", ["trips", "cond", "y0"], ["final", "all"], body=body),
             helper.make_node("ReduceSum", ["final"], ["total"], keepdims=0),
             helper.make_node("Greater", ["total", "zero"], ["positive"]),
             helper.make_node("If", ["positive"], ["branch"], then_branch=then_branch,
                              else_branch=else_branch),
             helper.make_node("SplitToSequence", ["all"], ["sequence"], axis=0, keepdims=0),
             helper.make_node("ConcatFromSequence", ["sequence"], ["joined"], axis=0)]
    inputs = {"x": x(2), "y0": x(2)}
    initializers = {"trips": np.array(3, np.int64), "cond": np.array(True),
                    "zero": np.array(0.0, np.float32)}
    model = make_model(nodes, inputs, ["final", "all", "branch", "joined"], initializers, 16)
    for output, shape in zip(model.graph.output, ([2], [3, 2], [2], [6])):
        output.CopyFrom(helper.make_tensor_value_info(output.name, TensorProto.FLOAT, shape))
    expected = run_onnxruntime(model, inputs)
    actual = run_hybridgrad(model, inputs)
    for want, got in zip(expected, actual):
        np.testing.assert_allclose(got, want, rtol=1e-6)
