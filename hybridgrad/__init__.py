"""hybridgrad: a small deep-learning framework on NumPy, imperative and symbolic.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.tensor(10.0, requires_grad=True)
    >>> loss = (2.0 - w * 1.0) ** 2
    >>> loss.backward()
    >>> w.grad.item()
    16.0
"""

from hybridgrad import autograd, ops  # noqa: F401 - registers the primitives
from hybridgrad.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from hybridgrad.dtypes import (
    bool_,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    long,
    uint8,
)
from hybridgrad.ops.api import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    concatenate,
    cos,
    div,
    eq,
    erf,
    exp,
    expand,
    flatten,
    gather,
    ge,
    getitem,
    gt,
    isfinite,
    isnan,
    le,
    log,
    log_softmax,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    pad,
    permute,
    pow,
    prod,
    relu,
    repeat,
    reshape,
    scatter_add,
    sigmoid,
    sign,
    sin,
    softmax,
    softplus,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    swapaxes,
    tanh,
    transpose,
    unsqueeze,
    var,
    view,
    where,
)
from hybridgrad.tensor import (
    Tensor,
    arange,
    as_tensor,
    default_generator,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    zeros,
    zeros_like,
)

bool = bool_  # noqa: A001 - PyTorch's spellings hg.bool, hg.float
float = float32  # noqa: A001
__version__ = "0.1.0"


import hybridgrad.optim as optim  # noqa: E402 - needs the tensor API above
from hybridgrad import nn  # noqa: E402 - needs the tensor API above
from hybridgrad.serialization import load, save  # noqa: E402 - safetensors checkpoints

# Anomaly mode switches (reliability): PyTorch's names plus the short hg.set_anomaly.
detect_anomaly = autograd.detect_anomaly
set_anomaly = autograd.set_anomaly
is_anomaly_enabled = autograd.is_anomaly_enabled

# PyTorch's other top-level names (devices, Size, Generator, more functions): one list, in
# hybridgrad/torch_names.py, bound here.
from hybridgrad import torch_names as _torch_names  # noqa: E402

globals().update({name: getattr(_torch_names, name) for name in _torch_names.__all__})

# Importing the submodule binds hg.explain to the module; rebinding it to the function here (the
# import system does not rebind a loaded submodule) makes hg.explain(loss, ...) the entry point.
from hybridgrad.explain import explain  # noqa: E402
from hybridgrad.threads import get_num_threads, set_num_threads  # noqa: E402 - BLAS threads

# Submodules loaded on first use (``hg.onnx.export(...)``, ``hg.jit.trace(...)``): importing the
# onnx package alone takes longer than the rest of hybridgrad, MPI is needed only under mpirun,
# and the compiler and the data pipeline are not needed by every program, so ``import
# hybridgrad`` stays light.
# PyTorch's module layout is loaded the same way: hg.cuda, hg.backends, hg.accelerator,
# hg.utils.data, hg.vision (torchvision's shape) and the torch compatibility layer.
_LAZY_SUBMODULES = ("data", "distributed", "jit", "onnx", "symbolic", "accelerator", "backends",
                    "cuda", "utils", "vision", "torch_compat")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        module = importlib.import_module(f"hybridgrad.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'hybridgrad' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


# The public names (``from hybridgrad import *``): the tensor API, dtypes, modes and the main
# submodules; onnx and distributed are left out so that a star import stays light too.
__all__ = [
    "Tensor", "abs", "add", "amax", "amin", "arange", "argmax", "argmin", "as_tensor",
    "autograd", "bool", "bool_", "broadcast_to", "cat", "chunk", "clamp", "clip", "concatenate",
    "cos", "data", "default_generator", "detect_anomaly", "div", "double", "enable_grad", "eq",
    "erf", "exp", "expand", "explain", "eye", "flatten", "float", "float16", "float32",
    "float64", "from_numpy", "full", "full_like", "gather", "ge", "get_default_dtype",
    "get_num_threads", "getitem", "gt", "int32", "int64", "is_anomaly_enabled",
    "is_grad_enabled", "isfinite", "isnan", "jit", "le", "linspace", "load", "log",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logsumexp", "long", "lt",
    "manual_seed", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne", "neg",
    "nn", "no_grad", "ones", "ones_like", "optim", "pad", "permute", "pow", "prod", "rand",
    "randint", "randn", "randperm", "relu", "repeat", "reshape", "save", "scatter_add",
    "set_anomaly", "set_grad_enabled", "set_num_threads", "sigmoid", "sign", "sin", "softmax",
    "softplus", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "swapaxes",
    "symbolic", "tanh", "tensor", "transpose", "uint8", "unsqueeze", "var", "view", "where",
    "zeros", "zeros_like",
]
__all__ += sorted(set(_torch_names.__all__) - set(__all__))
