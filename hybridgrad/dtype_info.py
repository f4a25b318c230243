"""PyTorch's dtype helpers and small top-level utilities: ``hg.finfo``, ``hg.iinfo``,
``hg.is_tensor``, ``hg.is_floating_point``, ``hg.set_default_dtype``, ``hg.promote_types``,
``hg.inference_mode``, ``hg.set_printoptions``, and the dtype aliases (``hg.int``, ``hg.half``...).

Example:
    >>> import hybridgrad as hg
    >>> hg.finfo(hg.float32).eps == float(np.finfo(np.float32).eps), hg.iinfo(hg.int64).max
    (True, 9223372036854775807)
"""

# ruff: noqa: A001, A002 - PyTorch names its arguments input, min, max, sorted
from __future__ import annotations

import builtins
import functools
import math

import numpy as np

from hybridgrad import dtypes
from hybridgrad.autograd import no_grad

int8 = np.dtype("int8")
int16 = np.dtype("int16")
short = int16
half = dtypes.float16
cdouble = np.dtype("complex128")
cfloat = np.dtype("complex64")
int = dtypes.int32  # noqa: A001 - PyTorch's spelling hg.int (int32)
uint16, uint32, uint64 = np.dtype("uint16"), np.dtype("uint32"), np.dtype("uint64")


class _UnsupportedDtype:
    """A PyTorch dtype name NumPy has no type for (``hg.bfloat16``): it exists, so programs that
    only name it (``{'bfloat16': torch.bfloat16, ...}[dtype]``) run, and any tensor asked to
    take it gets a clear error (NumPy reads ``.dtype`` when converting an object to a dtype).

    Example:
        >>> import hybridgrad as hg
        >>> try:
        ...     hg.zeros(1, dtype=hg.bfloat16)
        ... except TypeError as error:
        ...     print(str(error)[:59])
        hybridgrad.bfloat16: NumPy, hybridgrad's array backend, has
    """

    def __init__(self, name: str):
        self.name = name

    @property
    def dtype(self):
        raise TypeError(f"hybridgrad.{self.name}: NumPy, hybridgrad's array backend, has no "
                        f"{self.name} type; use hg.float32 (or hg.float16)")

    is_floating_point = True
    is_complex = False
    itemsize = 2

    def __repr__(self) -> str:
        return f"hybridgrad.{self.name}"


bfloat16 = _UnsupportedDtype("bfloat16")


class finfo:  # noqa: N801 - PyTorch's name
    """Machine limits of a floating-point dtype (``eps``, ``max``, ``min``, ``tiny``...).

    Example:
        >>> finfo(np.float64).bits
        64
    """

    def __init__(self, dtype=None):  # noqa: D107
        dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
        if dtype.kind != "f":
            raise TypeError(f"finfo: {dtype} is not a floating-point dtype")
        info = np.finfo(dtype)
        self.dtype = str(dtype)
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = float(info.tiny)
        self.smallest_normal = float(info.smallest_normal)
        self.resolution = float(info.resolution)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.smallest_normal}, tiny={self.tiny}, "
                f"dtype={self.dtype})")


class iinfo:  # noqa: N801 - PyTorch's name
    """Limits of an integer dtype (``min``, ``max``, ``bits``).

    Example:
        >>> iinfo(np.uint8).max
        255
    """

    def __init__(self, dtype):  # noqa: D107
        dtype = dtypes.to_dtype(dtype)
        if dtype.kind not in "iub":
            raise TypeError(f"iinfo: {dtype} is not an integer dtype")
        info = np.iinfo(dtype if dtype.kind != "b" else np.uint8)
        self.dtype = str(dtype)
        self.bits, self.min, self.max = info.bits, builtins.int(info.min), builtins.int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def is_tensor(obj) -> bool:
    """True for a hybridgrad tensor (PyTorch's ``torch.is_tensor``).

    Example:
        >>> import hybridgrad as hg
        >>> is_tensor(hg.zeros(1)), is_tensor([1])
        (True, False)
    """
    from hybridgrad.tensor import Tensor

    return isinstance(obj, Tensor)


def is_floating_point(input) -> bool:
    """True for a floating-point tensor.

    Example:
        >>> import hybridgrad as hg
        >>> is_floating_point(hg.zeros(1)), is_floating_point(hg.tensor([1]))
        (True, False)
    """
    return input.dtype.kind == "f"


def is_complex(input) -> bool:
    """False: hybridgrad tensors are real."""
    return input.dtype.kind == "c"


def numel(input) -> builtins.int:
    """The number of elements. Example: ``hg.numel(hg.zeros(2, 3)) == 6``."""
    return builtins.int(np.prod(input.shape, dtype=np.int64))


def set_default_dtype(dtype) -> None:
    """Set the dtype of tensors made from Python floats (float32 or float64).

    Example:
        >>> import hybridgrad as hg
        >>> hg.set_default_dtype(hg.float64); hg.tensor([0.5]).dtype
        dtype('float64')
        >>> hg.set_default_dtype(hg.float32)
    """
    dtype = dtypes.to_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"only floating-point types are supported as the default type, got "
                        f"{dtype}")
    dtypes._default_float = dtype


def promote_types(type1, type2) -> np.dtype:
    """The dtype two dtypes promote to.

    Example:
        >>> promote_types(np.int64, np.float32)
        dtype('float32')
    """
    from hybridgrad.ops.registry import promote

    return promote(dtypes.to_dtype(type1), dtypes.to_dtype(type2))


def result_type(tensor1, tensor2) -> np.dtype:
    """The dtype of an arithmetic result of two tensors or scalars (Python scalars weak)."""
    first = getattr(tensor1, "dtype", None)
    second = getattr(tensor2, "dtype", None)
    if first is None:
        first = dtypes.scalar_dtype(tensor1, second)
    if second is None:
        second = dtypes.scalar_dtype(tensor2, first)
    return promote_types(first, second)


def can_cast(from_, to) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` -> ``to`` for in-place results."""
    return bool(np.can_cast(dtypes.to_dtype(from_), dtypes.to_dtype(to), "same_kind"))


class inference_mode(no_grad):  # noqa: N801 - PyTorch's name
    """``torch.inference_mode``: no gradient recording (as ``no_grad``), as a context manager
    or a decorator (``@hg.inference_mode()`` or bare ``@hg.inference_mode``).

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.ones(1, requires_grad=True)
        >>> with hg.inference_mode():
        ...     (w * 2).requires_grad
        False
        >>> @hg.inference_mode
        ... def predict(x):
        ...     return w * x
        >>> predict(3.0).requires_grad
        False
    """

    def __new__(cls, mode=True):
        if callable(mode):  # used bare as a decorator
            instance = super().__new__(cls)
            instance.__init__(True)
            return instance(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):  # noqa: D107
        self.enabled = not bool(mode)

    def __call__(self, function):
        enabled = self.enabled

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            context = inference_mode(not enabled)
            with context:
                return function(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode`` (approximated: gradient recording is off)."""
    from hybridgrad.autograd import is_grad_enabled

    return not is_grad_enabled()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """Printing options for tensors (PyTorch's names, applied through NumPy's printing).

    Example:
        >>> import hybridgrad as hg
        >>> hg.set_printoptions(precision=2); repr(hg.tensor([1/3]))
        'tensor([0.33])'
        >>> hg.set_printoptions(profile="default")
    """
    options = {}
    if profile == "default":
        options.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        options.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        options.update(precision=4, threshold=np.inf, edgeitems=3, linewidth=80)
    for name, value in (("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            options[name] = value
    if sci_mode is not None:
        options["suppress"] = not sci_mode
    if options:
        np.set_printoptions(**options)
    if precision is not None or profile is not None:
        import sys

        # (``hybridgrad.tensor`` the attribute is the function; the module is in sys.modules.)
        digits = precision if precision is not None else options.get("precision", 4)
        sys.modules["hybridgrad.tensor"].PRINT_PRECISION = digits


__all__ = [
    "bfloat16", "can_cast", "cdouble", "cfloat", "finfo", "half", "iinfo", "inference_mode", "int",
    "int16", "int8", "is_complex", "is_floating_point", "is_inference_mode_enabled",
    "is_tensor", "numel", "promote_types", "result_type", "set_default_dtype",
    "set_printoptions", "short", "uint16", "uint32", "uint64",
]


# Process-wide switches PyTorch programs set at start-up. hybridgrad's NumPy kernels are
# deterministic and compute float32 matmuls in float32, so these record the request and change
# nothing else.
_settings = {"deterministic": False, "matmul_precision": "highest", "interop_threads": 1,
             "warn_always": False}

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan
newaxis = None


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor",  # noqa: A001
            mode=None, options=None, disable: bool = False):
    """PyTorch's ``torch.compile``: returns ``model`` unchanged (same numbers, eager speed);
    use ``module.hybridize()`` for hybridgrad's own graph compiler. Works as a decorator too.

    Example:
        >>> import hybridgrad as hg
        >>> layer = hg.nn.Linear(1, 1)
        >>> hg.compile(layer) is layer
        True
    """
    if model is None:
        return lambda function: function
    return model


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record the request (hybridgrad's kernels are deterministic already).

    Example:
        >>> import hybridgrad as hg
        >>> hg.use_deterministic_algorithms(True); hg.are_deterministic_algorithms_enabled()
        True
        >>> hg.use_deterministic_algorithms(False)
    """
    _settings["deterministic"] = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    """Whether :func:`use_deterministic_algorithms` was turned on."""
    return _settings["deterministic"]


def set_float32_matmul_precision(precision: str) -> None:
    """Record PyTorch's matmul precision hint (``"highest"``, ``"high"``, ``"medium"``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.set_float32_matmul_precision("high"); hg.get_float32_matmul_precision()
        'high'
        >>> hg.set_float32_matmul_precision("highest")
    """
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision: {precision!r}; expected highest, high or medium")
    _settings["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    """The hint set by :func:`set_float32_matmul_precision` (``"highest"`` by default)."""
    return _settings["matmul_precision"]


def set_num_interop_threads(count: int) -> None:
    """Record the inter-op thread count (hybridgrad runs operations one at a time)."""
    _settings["interop_threads"] = int(count)


def get_num_interop_threads() -> int:
    """The count set by :func:`set_num_interop_threads` (1 by default)."""
    return _settings["interop_threads"]


def set_warn_always(flag: bool) -> None:
    """Record PyTorch's warn-always flag."""
    _settings["warn_always"] = bool(flag)


def is_warn_always_enabled() -> bool:
    """The flag set by :func:`set_warn_always`."""
    return _settings["warn_always"]


def set_default_device(device) -> None:
    """Only the CPU exists: accepts it (and refuses others as factories do).

    Example:
        >>> import hybridgrad as hg
        >>> hg.set_default_device("cpu"); hg.get_default_device()
        device(type='cpu')
    """
    from hybridgrad.device import check_device

    check_device(device if device is not None else "cpu")


def get_default_device():
    """``device(type='cpu')``."""
    from hybridgrad.device import CPU

    return CPU


def typename(obj) -> str:
    """PyTorch's type name of a tensor (``'torch.FloatTensor'``) or of any object.

    Example:
        >>> import hybridgrad as hg
        >>> hg.typename(hg.zeros(1)), hg.typename(3)
        ('torch.FloatTensor', 'int')
    """
    if is_tensor(obj):
        return obj.type()
    return type(obj).__qualname__ if type(obj).__module__ == "builtins" else (
        f"{type(obj).__module__}.{type(obj).__qualname__}")


def scalar_tensor(value, *, dtype=None, device=None, requires_grad: bool = False):
    """A 0-d tensor (float32 by default, as PyTorch).

    Example:
        >>> import hybridgrad as hg
        >>> hg.scalar_tensor(3).dtype
        dtype('float32')
    """
    from hybridgrad.factories import tensor

    return tensor(value, dtype=dtype or dtypes.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad: bool = False):
    """PyTorch's ``asarray``: share memory with a tensor or array when possible.

    Example:
        >>> import hybridgrad as hg
        >>> hg.asarray([1, 2]).tolist()
        [1, 2]
    """
    from hybridgrad.factories import as_tensor, tensor

    if copy:
        return tensor(obj, dtype=dtype, device=device, requires_grad=requires_grad)
    result = as_tensor(obj, dtype=dtype, device=device)
    return result.requires_grad_(True) if requires_grad else result


__all__ += [
    "are_deterministic_algorithms_enabled", "asarray", "compile", "e",
    "get_default_device", "get_float32_matmul_precision", "get_num_interop_threads", "inf",
    "is_warn_always_enabled", "nan", "newaxis", "pi", "scalar_tensor", "set_default_device",
    "set_float32_matmul_precision", "set_num_interop_threads", "set_warn_always", "typename",
    "use_deterministic_algorithms",
]
