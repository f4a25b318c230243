"""ONNX interoperability: import (``hg.onnx.load``), an ``onnx.backend`` implementation and
export (``hg.onnx.export``, tracing a model with example inputs).

ONNX describes a model as a graph of standard operators plus its trained weights
(initializers). Import turns that graph into an :class:`OnnxModule` that runs eagerly with
hybridgrad operators, so it can be differentiated and fine-tuned.

Example:
    >>> import hybridgrad as hg
    >>> "Conv" in hg.onnx.SUPPORTED or "Relu" in hg.onnx.SUPPORTED
    True
"""

from hybridgrad.onnx.exporter import DEFAULT_OPSET, ExportError, export
from hybridgrad.onnx.importer import OnnxModule, load, parse_model, unsupported_features
from hybridgrad.onnx.ops import OPS, OnnxImportError, UnsupportedError


def __getattr__(name: str):
    # SUPPORTED is derived from the operator table each time (handlers may be added later).
    if name == "SUPPORTED":
        return tuple(sorted(OPS))
    raise AttributeError(f"module 'hybridgrad.onnx' has no attribute {name!r}")


__all__ = ["DEFAULT_OPSET", "ExportError", "OPS", "OnnxImportError", "OnnxModule", "SUPPORTED",
           "UnsupportedError", "export", "load", "parse_model", "unsupported_features"]
