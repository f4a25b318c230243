"""hybridgrad as an ``onnx.backend`` (the interface ONNX's conformance tests drive).

Example:
    >>> import numpy as np
    >>> from onnx import helper
    >>> from hybridgrad.onnx import backend
    >>> node = helper.make_node("Relu", ["x"], ["y"])
    >>> backend.run_node(node, [np.array([-1.0, 2.0], np.float32)])[0].tolist()
    [0.0, 2.0]
    >>> backend.supports_device("CPU")
    True
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from hybridgrad.autograd import no_grad
from hybridgrad.onnx import importer
from hybridgrad.onnx.ops import OPS, NodeContext, UnsupportedError, const, decode_attributes


def _to_numpy(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_to_numpy(v) for v in value]
    return np.asarray(value._array if hasattr(value, "_array") else value)


def _to_value(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_to_value(v) for v in value]
    return const(value)


class HybridgradRep(BackendRep):
    """A prepared model: ``run(inputs)`` returns its outputs as NumPy arrays."""

    def __init__(self, module: importer.OnnxModule) -> None:
        super().__init__()
        self.module = module

    def run(self, inputs: Any, **kwargs: Any) -> tuple:
        if isinstance(inputs, dict):
            named = {name: _to_value(value) for name, value in inputs.items()}
            positional: list = []
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            named = {}
            positional = [_to_value(value) for value in inputs]
        with no_grad():
            outputs = self.module(*positional, **named)
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        return namedtupledict("Outputs", self.module.output_names)(
            *[_to_numpy(o) for o in outputs])


class HybridgradBackend(Backend):
    """``onnx.backend.base.Backend`` running models with hybridgrad operators on the CPU."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device) and not importer.unsupported_features(model)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> HybridgradRep:
        if not cls.supports_device(device):
            raise ValueError(f"hybridgrad runs on the CPU only, not on {device!r}")
        return HybridgradRep(importer.load(model))

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> tuple:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Sequence | None = None, **kwargs: Any) -> tuple:
        """Run one node on NumPy inputs (``opset_version=`` picks the operator version)."""
        if node.domain not in importer.DEFAULT_DOMAINS or node.op_type not in OPS:
            raise UnsupportedError(f"operator {node.op_type} (domain {node.domain!r}) is not "
                                   "supported by hybridgrad")
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        version = importer._schema_version(node.op_type, opset, "") or opset
        if isinstance(inputs, dict):
            inputs = [inputs.get(name) for name in node.input]
        values = [None if value is None or not name else const(value)
                  for name, value in zip(node.input, inputs)]
        context = NodeContext(node, values, decode_attributes(node), version, len(node.output))
        with no_grad():
            outputs = OPS[node.op_type].handler(context)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        names = [name for name in node.output if name]
        return namedtupledict("Outputs", names)(*[_to_numpy(o) for o in outputs[:len(names)]])

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return Device(device).type == DeviceType.CPU


prepare = HybridgradBackend.prepare
run_model = HybridgradBackend.run_model
run_node = HybridgradBackend.run_node
supports_device = HybridgradBackend.supports_device
