"""Fuzz the readers of outside files: MNIST IDX (``read_idx``), safetensors checkpoints
(``hg.load``), PyTorch zip checkpoints (``hg.load`` of a ``.pt``, through the restricted
unpickler) and ONNX models (``hg.onnx.load``, then one forward run).

Each input is a seed file mutated (truncated, bit-flipped, bytes inserted or overwritten) or a
crafted one (huge declared sizes, deep nesting, cycles, missing inputs, endless loops). Every
input must end in a normal result or the project's own error (``IDXError``,
``CheckpointError``, ``OnnxImportError``) within a second: anything else (another exception,
a time-out, a ``MemoryError``) is a finding.

Usage::

    python tools/fuzz_files.py --inputs 300            # 300 inputs per format, a table
    python tools/fuzz_files.py --formats onnx --seed 7 --show-failures
    python tools/fuzz_files.py --formats torch --inputs 1000

The run sets ``HYBRIDGRAD_MAX_ALLOC=256M`` (so a declared size that slips through cannot use
the machine's memory) and an address-space limit of 4 GiB on Linux; ``--max-alloc`` changes the
former. Exits 1 when there is any finding.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import signal
import struct
import sys
import tempfile
import time
from collections import Counter

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
TOOLS = os.path.dirname(os.path.abspath(__file__))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)  # torch_files, the PyTorch checkpoint writer

TIME_LIMIT = 1.0  # seconds an input may take
HANG_LIMIT = 10.0  # an input still running after this is stopped and counted as a hang


# ----------------------------------------------------------------------------------------------
# Mutations shared by the formats.

def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random mutation: truncate, flip bits, overwrite, insert or delete bytes, or splice
    in a large little/big-endian integer (the usual way to forge a size field)."""
    data = bytearray(data)
    kind = rng.choice(("truncate", "flip", "flip", "overwrite", "insert", "delete", "integer"))
    if not data:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 16)))
    position = rng.randrange(len(data))
    if kind == "truncate":
        return bytes(data[:position])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            index = rng.randrange(len(data))
            data[index] ^= 1 << rng.randrange(8)
    elif kind == "overwrite":
        for index in range(position, min(len(data), position + rng.randint(1, 8))):
            data[index] = rng.getrandbits(8)
    elif kind == "insert":
        data[position:position] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 16)))
    elif kind == "delete":
        del data[position:position + rng.randint(1, 16)]
    else:
        value = rng.choice((2 ** 31 - 1, 2 ** 32 - 1, 2 ** 63 - 1, 2 ** 40, 10 ** 9, 0))
        layout = rng.choice(("<Q", ">Q", "<I", ">I"))
        packed = struct.pack(layout, value % (2 ** 32 if "I" in layout else 2 ** 64))
        data[position:position + len(packed)] = packed
    return bytes(data)


# ----------------------------------------------------------------------------------------------
# IDX.

def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    dims = b"".join(struct.pack(">I", d) for d in array.shape)
    return bytes([0, 0, type_code, array.ndim]) + dims + array.astype(array.dtype.newbyteorder(">")
                                                                      ).tobytes()


def idx_seeds() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    floats = rng.standard_normal((2, 3)).astype(np.float32)
    seeds = [("images.idx", idx_bytes(images)), ("labels.idx", idx_bytes(labels)),
             ("floats.idx", idx_bytes(floats, 0x0D))]
    seeds += [(name + ".gz", gzip.compress(data)) for name, data in seeds]
    return seeds


def idx_crafted() -> list[tuple[str, bytes]]:
    huge = bytes([0, 0, 8, 3]) + struct.pack(">III", 60000, 60000, 60000)
    bomb = gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 2 ** 31) + bytes(1 << 20))
    return [
        ("empty.idx", b""),
        ("huge-dims.idx", huge),
        ("huge-dims.idx.gz", gzip.compress(huge + bytes(1000))),
        ("gzip-bomb-ish.idx.gz", bomb),
        ("ndim-255.idx", bytes([0, 0, 8, 255]) + bytes(4 * 255)),
        ("bad-type.idx", bytes([0, 0, 7, 1, 0, 0, 0, 1, 5])),
        ("zero-dim.idx", bytes([0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 9])),
        ("not-gzip.idx.gz", b"\x1f\x8b\x08\x00garbage"),
        ("trailing.idx", idx_bytes(np.arange(3, dtype=np.uint8)) + b"xx"),
    ]


def run_idx(name: str, data: bytes, folder: str):
    from hybridgrad.data.mnist import read_idx

    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return read_idx(path)


# ----------------------------------------------------------------------------------------------
# safetensors.

def safetensors_raw(header: dict, data: bytes = b"") -> bytes:
    import json

    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds(folder: str) -> list[tuple[str, bytes]]:
    import safetensors.numpy

    import hybridgrad as hg

    hg.manual_seed(0)
    model = hg.nn.Sequential(hg.nn.Linear(3, 4), hg.nn.ReLU(), hg.nn.Linear(4, 2))
    optimizer = hg.optim.Adam(model.parameters(), lr=0.01)
    model(hg.randn(2, 3)).sum().backward()
    optimizer.step()
    path = os.path.join(folder, "seed.safetensors")
    hg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3,
             "history": [1.5, float("inf"), (1, 2)], "names": {1: "a", None: "b"}}, path)
    with open(path, "rb") as handle:
        nested = handle.read()
    plain = safetensors.numpy.save({"weight": np.ones((2, 3), np.float32),
                                    "step": np.array(7, np.int64)})
    return [("checkpoint.safetensors", nested), ("plain.safetensors", plain)]


def safetensors_crafted() -> list[tuple[str, bytes]]:
    import json

    entry = {"dtype": "F32", "shape": [2 ** 20, 2 ** 20], "data_offsets": [0, 4]}
    deep = "[" * 100000 + "]" * 100000
    deep_structure = {"__metadata__": {"hybridgrad.structure": "[" * 5000 + "]" * 5000},
                      "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    bad_tags = [
        {"__float__": "not a float"}, {"__tuple__": 5}, {"__dict__": [[1]]},
        {"__dict__": [[[1, [2]], 3]], "ordered": True}, {"__tensor__": "missing"},
        {"__tensor__": ["unhashable"]}, {"__ndarray__": None}, {"__unknown__": 1},
        {"__dict__": 7},
    ]
    crafted = [
        ("empty.safetensors", b""),
        ("short.safetensors", b"\x01\x02"),
        ("header-too-long.safetensors", struct.pack("<Q", 2 ** 62) + b"{}"),
        ("huge-shape.safetensors", safetensors_raw({"w": entry}, bytes(4))),
        ("negative-offsets.safetensors", safetensors_raw(
            {"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}, bytes(4))),
        ("overlapping.safetensors", safetensors_raw(
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12))),
        ("bad-dtype.safetensors", safetensors_raw(
            {"w": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8))),
        ("deep-json-header.safetensors", struct.pack("<Q", len(deep)) + deep.encode()),
        ("deep-structure.safetensors", safetensors_raw(deep_structure, bytes(4))),
        ("header-not-object.safetensors", safetensors_raw([1, 2, 3])),
        ("metadata-not-strings.safetensors", safetensors_raw({"__metadata__": {"a": 1}})),
    ]
    for index, tag in enumerate(bad_tags):
        crafted.append((f"bad-tag-{index}.safetensors", safetensors_raw(
            {"__metadata__": {"hybridgrad.structure": json.dumps({"x": tag}),
                              "hybridgrad.version": "1"},
             "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4))))
    return crafted


def mutate_safetensors_structure(data: bytes, rng: random.Random) -> bytes:
    """A mutation of the JSON header (kept well-formed, its length field updated): another
    dtype, shape or byte range for a tensor, a dropped tensor, or a changed node of the
    hybridgrad structure metadata, so the checks behind the JSON parser are reached."""
    import json

    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    payload = data[8 + length:]
    names = [name for name in header if name != "__metadata__"]
    kind = rng.choice(("dtype", "shape", "offsets", "drop", "structure", "structure"))
    junk = [0, -1, 2 ** 40, "x", None, [], {}, [1, [2]], {"__tensor__": "nope"},
            {"__tuple__": 3}, {"__float__": "nan"}, {"__float__": "zz"}, {"__dict__": [[1]]},
            {"__ndarray__": rng.choice(names) if names else "w"}]
    if kind in ("dtype", "shape", "offsets", "drop") and names:
        name = rng.choice(names)
        entry = header[name]
        if kind == "dtype":
            entry["dtype"] = rng.choice(("F16", "F32", "F64", "I8", "U64", "BOOL", "BF16", "C64",
                                         "F8_E4M3", 7))
        elif kind == "shape":
            entry["shape"] = [rng.choice((0, 1, 2, 3, 2 ** 31, 2 ** 62, -1))
                              for _ in range(rng.randint(0, 4))]
        elif kind == "offsets":
            entry["data_offsets"] = [rng.choice((0, 4, 8, len(payload), 2 ** 40, -8))
                                     for _ in range(rng.choice((2, 2, 1, 3)))]
        else:
            del header[name]
    else:
        metadata = header.setdefault("__metadata__", {})
        structure = json.loads(metadata.get("hybridgrad.structure", "{}"))
        nodes = [structure]
        for node in nodes:  # breadth-first list of containers
            children = node.values() if isinstance(node, dict) else node
            nodes.extend(child for child in children if isinstance(child, (dict, list)))
        node = rng.choice(nodes)
        if isinstance(node, dict) and node:
            node[rng.choice(list(node))] = rng.choice(junk)
        elif isinstance(node, list) and node:
            node[rng.randrange(len(node))] = rng.choice(junk)
        metadata["hybridgrad.structure"] = json.dumps(structure)
        metadata.setdefault("hybridgrad.version", "1")
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + payload


def run_safetensors(name: str, data: bytes, folder: str):
    import hybridgrad as hg

    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return hg.load(path)


# ----------------------------------------------------------------------------------------------
# PyTorch zip checkpoints (written by tools/torch_files.py, without PyTorch).

def torch_seeds() -> list[tuple[str, bytes]]:
    """A state_dict and a nested training checkpoint, as torch.save writes them."""
    from collections import OrderedDict

    import torch_files as tf

    rng = np.random.default_rng(0)
    state = tf.state_dict_file({"fc.weight": rng.standard_normal((4, 3)).astype(np.float32),
                                "fc.bias": np.zeros(4, np.float32),
                                "bn.num_batches_tracked": np.array(3, np.int64)})
    storages: dict = {}
    nested = {"model": OrderedDict([("w", tf.tensor(np.ones((2, 2), np.float32), "0",
                                                     storages, parameter=True))]),
              "optimizer": {"state": {0: {"step": 2, "exp_avg": tf.tensor(
                  np.zeros((2, 2), np.float64), "1", storages)}},
                  "param_groups": [{"lr": 0.1, "params": [0], "betas": (0.9, 0.999)}]},
              "epoch": 3, "size": tf.Call(tf.Global("torch", "Size"), ([2, 2],))}
    return [("state_dict.pt", state),
            ("checkpoint.pt", tf.zip_file(tf.pickle_bytes(nested), storages))]


def torch_crafted() -> list[tuple[str, bytes]]:
    """Hostile globals, huge declared sizes and broken layouts."""
    from collections import OrderedDict

    import torch_files as tf

    def rebuild(numel, size, stride, offset=0, stored=4):
        storages = {"0": bytes(4 * stored)}
        call = tf.Call(tf.Global("torch._utils", "_rebuild_tensor_v2"),
                       (tf.Storage("FloatStorage", "0", numel), offset, size, stride, False,
                        OrderedDict()))
        return tf.zip_file(tf.pickle_bytes(call), storages)

    crafted = [(f"global-{module}.{name}.pt", tf.zip_file(tf.pickle_bytes(
        tf.Call(tf.Global(module, name), ("true",))), {}))
        for module, name in (("os", "system"), ("builtins", "eval"), ("subprocess", "Popen"),
                             ("builtins", "__import__"), ("numpy", "load"))]
    crafted += [
        ("huge-numel.pt", rebuild(2 ** 60, (4,), (1,))),
        ("huge-size.pt", rebuild(4, (2 ** 40, 2 ** 40), (1, 1))),
        ("huge-offset.pt", rebuild(4, (1,), (1,), offset=2 ** 62)),
        ("huge-binbytes.pt", tf.zip_file(b"\x80\x02B\xff\xff\xff\x7f.", {})),
        ("huge-frame.pt", tf.zip_file(b"\x80\x04\x95" + struct.pack("<Q", 2 ** 62) + b".", {})),
        ("huge-long4.pt", tf.zip_file(b"\x80\x02\x8b\xff\xff\xff\x7f.", {})),
        ("deep-lists.pt", tf.zip_file(b"\x80\x02" + b"]" * 20000 + b".", {})),
        ("deep-marks.pt", tf.zip_file(b"\x80\x02" + b"(" * 20000 + b"t.", {})),
        ("empty-zip.pt", tf.zip_file(b"", {})),
        ("only-magic.pt", b"PK\x03\x04"),
        ("legacy.pt", b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."),
    ]
    return crafted


def mutate_torch_structure(data: bytes, rng: random.Random) -> bytes:
    """Mutate one entry (most often the pickle) and zip again, so the archive stays readable
    and the mutation reaches the unpickler or the storage checks."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    names = sorted(entries)
    pickles = [name for name in names if name.endswith("data.pkl")]
    target = pickles[0] if pickles and rng.random() < 0.7 else rng.choice(names)
    entries[target] = mutate(entries[target], rng)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def run_torch(name: str, data: bytes, folder: str):
    import hybridgrad as hg

    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return hg.load(path)


# ----------------------------------------------------------------------------------------------
# ONNX.

def onnx_seeds() -> list[tuple[str, bytes]]:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W")
    bias = numpy_helper.from_array(np.zeros(3, np.float32), "B")
    shape = numpy_helper.from_array(np.array([2, 3], np.int64), "S")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Add", ["h", "B"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Reshape", ["r", "S"], ["y"])]
    mlp = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [2, 4])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [2, 3])], [weight, bias, shape])
    then = helper.make_graph([helper.make_node("Neg", ["x"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    other = helper.make_graph([helper.make_node("Abs", ["x"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    branch = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
         helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(
             np.array(0.0, np.float32))),
         helper.make_node("Greater", ["s", "zero"], ["c"]),
         helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other),
         helper.make_node("Shape", ["y"], ["shape"]),
         helper.make_node("ConstantOfShape", ["shape"], ["ones"],
                          value=numpy_helper.from_array(np.array([1.0], np.float32))),
         helper.make_node("Expand", ["ones", "shape"], ["z"])],
        "branch", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])])
    seeds = [(name, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
              .SerializeToString()) for name, graph in (("mlp.onnx", mlp), ("if.onnx", branch))]
    # Models exported by hybridgrad itself: convolution, pooling, batch norm, LSTM, attention.
    import hybridgrad as hg
    from hybridgrad.models import get_spec

    hg.manual_seed(0)
    for name in ("cnn", "vit"):
        spec = get_spec(name)
        model = spec.builder(**spec.resolved_config(quick=True)["model"]).eval()
        exported = hg.onnx.export(model, (hg.randn(1, 1, 28, 28),))
        seeds.append((f"{name}.onnx", exported.SerializeToString()))
    lstm = hg.nn.LSTM(3, 4, batch_first=True).eval()
    seeds.append(("lstm.onnx", hg.onnx.export(lstm, (hg.randn(2, 5, 3),)).SerializeToString()))
    return seeds


def mutate_onnx_structure(data: bytes, rng: random.Random) -> bytes:
    """A mutation at the protobuf level, so the file still parses and the importer's own
    checks and operators are reached: new dims or values for an initializer (shape tensors
    drive Reshape/Expand/ConstantOfShape), another operator type, a rewired input, new
    integer attributes, new input dims."""
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(data)
    graph = model.graph
    kind = rng.choice(("dims", "values", "op", "input", "attribute", "graph-input"))
    huge = (0, 1, 2, 3, -1, 7, 2 ** 16, 2 ** 31 - 1, 2 ** 40, -(2 ** 31))
    if kind in ("dims", "values") and graph.initializer:
        tensor = rng.choice(graph.initializer)
        if kind == "dims":
            del tensor.dims[:]
            tensor.dims.extend(rng.choice(huge[:8]) for _ in range(rng.randint(0, 4)))
        else:
            array = numpy_helper.to_array(tensor).copy()
            if array.size:
                flat = array.reshape(-1)
                for _ in range(rng.randint(1, 3)):
                    index = rng.randrange(flat.size)
                    try:
                        flat[index] = rng.choice(huge)
                    except OverflowError:
                        flat[index] = 0
                tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))
    elif kind == "op" and graph.node:
        from hybridgrad.onnx.ops import OPS

        rng.choice(graph.node).op_type = rng.choice(sorted(OPS))
    elif kind == "input" and graph.node:
        node = rng.choice(graph.node)
        names = [v.name for v in graph.input] + [t.name for t in graph.initializer] + [
            o for n in graph.node for o in n.output] + [""]
        if node.input:
            node.input[rng.randrange(len(node.input))] = rng.choice(names)
    elif kind == "attribute":
        attributes = [a for n in graph.node for a in n.attribute
                      if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS)]
        if attributes:
            attribute = rng.choice(attributes)
            if attribute.type == onnx.AttributeProto.INT:
                attribute.i = rng.choice(huge)
            elif attribute.ints:
                attribute.ints[rng.randrange(len(attribute.ints))] = rng.choice(huge)
    elif graph.input:
        dims = rng.choice(graph.input).type.tensor_type.shape.dim
        if dims:
            dims[rng.randrange(len(dims))].dim_value = rng.choice((0, 1, 2, 5, 64))
    return model.SerializeToString()


def onnx_crafted() -> list[tuple[str, bytes]]:
    from onnx import TensorProto, helper, numpy_helper

    def model(nodes, inputs, outputs, initializers=(), opset=17):
        graph = helper.make_graph(nodes, "crafted", inputs, outputs, list(initializers))
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])

    def info(name, shape=(1,), elem=TensorProto.FLOAT):
        return helper.make_tensor_value_info(name, elem, shape)

    crafted = []
    for size, dims in (("huge", [2 ** 20, 2 ** 20, 2 ** 10]), ("big", [2 ** 10, 2 ** 10, 2 ** 9])):
        shape = numpy_helper.from_array(np.array(dims, np.int64), "shape")
        for op, inputs in (("ConstantOfShape", ["shape"]), ("Expand", ["x", "shape"]),
                           ("Tile", ["x", "shape"]), ("Reshape", ["x", "shape"])):
            crafted.append((f"{size}-{op}.onnx", model(
                [helper.make_node(op, inputs, ["y"]), helper.make_node("Neg", ["y"], ["z"])],
                [info("x", [1, 1, 1])], [info("z")], [shape])))
    crafted.append(("huge-Range.onnx", model(
        [helper.make_node("Range", ["a", "b", "c"], ["y"])], [],
        [info("y", [1], TensorProto.INT64)],
        [numpy_helper.from_array(np.array(v, np.int64), n)
         for n, v in (("a", 0), ("b", 2 ** 62), ("c", 1))])))
    crafted.append(("huge-Pad.onnx", model(
        [helper.make_node("Pad", ["x", "p"], ["y"])], [info("x", [1, 1])], [info("y")],
        [numpy_helper.from_array(np.array([0, 0, 2 ** 31, 2 ** 31], np.int64), "p")])))
    crafted.append(("huge-OneHot.onnx", model(
        [helper.make_node("OneHot", ["i", "d", "v"], ["y"])],
        [info("i", [4], TensorProto.INT64)], [info("y")],
        [numpy_helper.from_array(np.array(2 ** 40, np.int64), "d"),
         numpy_helper.from_array(np.array([0.0, 1.0], np.float32), "v")])))
    # An initializer that declares 2^40 elements but carries 4 bytes of raw data.
    liar = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2 ** 20, 2 ** 20],
                            raw_data=bytes(4))
    crafted.append(("lying-initializer.onnx", model(
        [helper.make_node("Add", ["x", "W"], ["y"])], [info("x", [1])], [info("y")], [liar])))
    constant = onnx.TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[2 ** 40])
    crafted.append(("lying-constant.onnx", model(
        [helper.make_node("Constant", [], ["y"], value=constant)], [], [info("y")])))
    # If nested as deep as protobuf allows (100 levels of messages: about 30 Ifs).
    inner = helper.make_graph([helper.make_node("Identity", ["x"], ["o0"])], "g0", [],
                              [info("o0", [1])])
    leaf = inner
    built = [inner]
    for depth in range(1, 200):
        try:
            deeper = helper.make_graph(
                [helper.make_node("If", ["c"], [f"o{depth}"], then_branch=inner,
                                  else_branch=leaf)], f"g{depth}", [], [info(f"o{depth}", [1])])
            model([helper.make_node("If", ["c"], ["y"], then_branch=deeper, else_branch=leaf)],
                  [], []).SerializeToString()
        except Exception:  # noqa: BLE001 - protobuf's nesting limit reached
            break
        inner = deeper
        built.append(inner)
    inner = built[-2]  # the deepest nesting that still parses
    crafted.append(("nested-if.onnx", model(
        [helper.make_node("If", ["c"], ["y"], then_branch=inner, else_branch=leaf)],
        [info("x", [1]), info("c", [], TensorProto.BOOL)], [info("y", [1])])))
    crafted.append(("cycle.onnx", model(
        [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
        [info("x", [1])], [info("b", [1])])))
    crafted.append(("missing-input.onnx", model(
        [helper.make_node("Add", ["x", "nowhere"], ["y"])], [info("x", [1])], [info("y")])))
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["v_in"], ["v_out"])], "body",
        [info("i", [], TensorProto.INT64), info("cond_in", [], TensorProto.BOOL),
         info("v_in", [1])],
        [info("cond_out", [], TensorProto.BOOL), info("v_out", [1])])
    crafted.append(("endless-loop.onnx", model(
        [helper.make_node("Loop", ["", "t", "x"], ["y"], body=body)],
        [info("x", [1])], [info("y", [1])],
        [numpy_helper.from_array(np.array(True), "t")])))
    crafted.append(("unknown-op.onnx", model(
        [helper.make_node("NoSuchOp", ["x"], ["y"])], [info("x", [1])], [info("y")])))
    out = [(name, m.SerializeToString()) for name, m in crafted]
    # The same models loaded without onnx.checker: the importer's own checks must hold.
    out += [("unchecked-" + name, data) for name, data in out]
    out += [("empty.onnx", b""), ("garbage.onnx", b"\x08\x07garbage" * 10)]
    return out


import onnx  # noqa: E402 - after the path setup; used by onnx_crafted


def run_onnx(name: str, data: bytes, folder: str):
    import hybridgrad as hg

    module = hg.onnx.load(data, check=not name.startswith("unchecked-"))
    arguments = []
    for value_info in onnx.ModelProto.FromString(data).graph.input:
        if value_info.name in module.input_names:
            tensor_type = value_info.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") and 0 < d.dim_value <= 64 else 1
                    for d in tensor_type.shape.dim]
            dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type) \
                if tensor_type.elem_type else np.float32
            arguments.append(hg.tensor(np.ones(dims, dtype=dtype)))
    with hg.no_grad():
        return module(*arguments)


# ----------------------------------------------------------------------------------------------
# The driver.

class _TimeOut(BaseException):
    pass


def _alarm(signum, frame):
    raise _TimeOut


def project_errors() -> tuple:
    from hybridgrad.data.mnist import IDXError
    from hybridgrad.onnx import OnnxImportError
    from hybridgrad.serialization import CheckpointError

    return IDXError, CheckpointError, OnnxImportError


FORMATS = {
    "idx": (lambda folder: idx_seeds(), idx_crafted, run_idx),
    "safetensors": (safetensors_seeds, safetensors_crafted, run_safetensors),
    "onnx": (lambda folder: onnx_seeds(), onnx_crafted, run_onnx),
    "torch": (lambda folder: torch_seeds(), torch_crafted, run_torch),
}


STRUCTURAL = {"onnx": mutate_onnx_structure, "safetensors": mutate_safetensors_structure,
              "torch": mutate_torch_structure}


def mutate_structure(fmt: str, data: bytes, rng: random.Random) -> bytes:
    """The format's structural mutation; a byte mutation when the input no longer parses."""
    try:
        return STRUCTURAL[fmt](data, rng)
    except Exception:  # noqa: BLE001 - e.g. an earlier round made it unparsable
        return mutate(data, rng)


def classify(runner, name: str, data: bytes, folder: str) -> tuple[str, str]:
    """``(outcome, detail)``: outcome is ``ok``, ``clean error``, ``slow``, ``hang`` or
    ``crash``."""
    clean = project_errors()
    use_alarm = hasattr(signal, "setitimer")
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, HANG_LIMIT)
    started = time.perf_counter()
    try:
        runner(name, data, folder)
        outcome, detail = "ok", ""
    except clean as error:
        outcome, detail = "clean error", f"{type(error).__name__}: {str(error)[:160]}"
        if isinstance(error.__cause__ or error.__context__, MemoryError):
            outcome = "crash"  # wrapped, but the allocation was attempted
    except _TimeOut:
        outcome, detail = "hang", f"still running after {HANG_LIMIT:.0f} s"
    except BaseException as error:  # noqa: BLE001 - anything else is the finding
        if isinstance(error, KeyboardInterrupt):
            raise
        outcome, detail = "crash", f"{type(error).__name__}: {str(error)[:300]}"
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - started
    if outcome in ("ok", "clean error") and elapsed > TIME_LIMIT:
        outcome, detail = "slow", f"{elapsed:.2f} s; {detail}"
    return outcome, detail


def inputs_for(fmt: str, count: int, rng: random.Random, folder: str):
    """The crafted inputs, the seeds, then mutations of seeds and crafted inputs up to
    ``count`` in all."""
    seeds_of, crafted_of, _ = FORMATS[fmt]
    seeds = seeds_of(folder)
    crafted = crafted_of()
    fixed = [("crafted", name, data) for name, data in crafted]
    fixed += [("seed", name, data) for name, data in seeds]
    yield from fixed[:count]
    pool = seeds * 3 + crafted
    for _ in range(count - len(fixed)):
        name, data = rng.choice(pool)
        if fmt in STRUCTURAL and rng.random() < 0.6:
            name, data = rng.choice(seeds)
            for _ in range(rng.choice((1, 1, 2, 3))):
                data = mutate_structure(fmt, data, rng)
            yield "structured", name, data
            continue
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            data = mutate(data, rng)
        yield "mutated", name, data


def fuzz(formats, count: int, seed: int = 0, show=None) -> dict:
    """Run ``count`` inputs per format; returns {format: Counter of (origin, outcome)} and
    calls ``show(fmt, origin, name, outcome, detail)`` for every finding."""
    rng = random.Random(seed)
    results = {}
    with tempfile.TemporaryDirectory(prefix="hybridgrad-fuzz-") as folder:
        for fmt in formats:
            runner = FORMATS[fmt][2]
            counts: Counter = Counter()
            for origin, name, data in inputs_for(fmt, count, rng, folder):
                outcome, detail = classify(runner, name, data, folder)
                counts[(origin, outcome)] += 1
                if show is not None and outcome not in ("ok", "clean error"):
                    show(fmt, origin, name, outcome, detail)
            results[fmt] = counts
    return results


def table(results: dict) -> str:
    outcomes = ("ok", "clean error", "slow", "hang", "crash")
    lines = ["| format | inputs | " + " | ".join(outcomes)
             + " | crafted | seeds | byte-mutated | structure-mutated |",
             "|---|---|" + "---|" * (len(outcomes) + 4)]
    for fmt, counts in results.items():
        by_outcome = Counter()
        by_origin = Counter()
        for (origin, outcome), n in counts.items():
            by_outcome[outcome] += n
            by_origin[origin] += n
        lines.append(f"| {fmt} | {sum(counts.values())} | "
                     + " | ".join(str(by_outcome[o]) for o in outcomes)
                     + f" | {by_origin['crafted']} | {by_origin['seed']} | "
                     f"{by_origin['mutated']} | {by_origin['structured']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=300, help="inputs per format")
    parser.add_argument("--formats", default="idx,safetensors,onnx,torch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-alloc", default="256M")
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args(argv)
    os.environ["HYBRIDGRAD_MAX_ALLOC"] = args.max_alloc
    os.environ.setdefault("HYBRIDGRAD_MAX_LOOP_ITERATIONS", "10000")
    try:
        import resource

        limit = 4 * 1024 ** 3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    findings = []

    def show(fmt, origin, name, outcome, detail):
        findings.append(f"{fmt} {origin} {name}: {outcome}: {detail}")

    started = time.perf_counter()
    results = fuzz(args.formats.split(","), args.inputs, args.seed, show)
    print(table(results))
    print(f"({time.perf_counter() - started:.0f} s, seed {args.seed})")
    for finding in findings if args.show_failures else findings[:20]:
        print("finding:", finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
