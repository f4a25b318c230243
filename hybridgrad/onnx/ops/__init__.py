"""ONNX operators implemented with hybridgrad operators (so imported models are differentiable).

Every ONNX operator the importer runs is one entry of :data:`OPS`, registered with
:func:`onnx_op` (in :mod:`hybridgrad.onnx.ops.core`) by one module per family of operators:
elementwise, activations, reductions, linear algebra, shapes, normalisation, resize, recurrent
layers, losses and scatters, attention, gated activations and rotary embeddings, control flow,
sequences, grid sampling, Fourier transforms and non-maximum suppression, convolution and
pooling. A handler receives a :class:`NodeContext` (the node's inputs as hybridgrad tensors, its
attributes, the opset version of the operator) and returns the node's outputs. ``SUPPORTED`` is
derived from this table, so the list of supported operators can never drift from the
implementations.

Shape-like inputs (``Reshape``'s shape, ``Slice``'s starts, ``Reduce*``'s axes from opset 13/18)
are read as concrete values; eagerly they always are.

Example:
    >>> from hybridgrad.onnx.ops import SUPPORTED
    >>> "MatMul" in SUPPORTED and "Gemm" in SUPPORTED
    True
"""

from hybridgrad.onnx.ops import (
    activations,
    attention,
    control_flow,
    conv_pool,
    elementwise,
    gated_rotary,
    grid_sample,
    losses_scatters,
    normalisation,
    recurrent,
    reductions,
    resize,
    sequences,
)
from hybridgrad.onnx.ops.core import (
    OPS,
    SUPPORTED_ELEMENT_TYPES,
    NodeContext,
    OnnxImportError,
    OnnxOpEntry,
    UnsupportedError,
    check_alloc,
    const,
    decode_attributes,
    element_type_name,
    np_dtype,
    onnx_op,
    refresh_supported,
    tensor_to_array,
)
from hybridgrad.onnx.ops.fourier_nms import dft
from hybridgrad.onnx.ops.linear_algebra import einsum
from hybridgrad.onnx.ops.shapes import pad_nd


def __getattr__(name: str):
    # SUPPORTED is derived from the operator table each time (handlers may be added later).
    if name == "SUPPORTED":
        return refresh_supported()
    raise AttributeError(f"module 'hybridgrad.onnx.ops' has no attribute {name!r}")
