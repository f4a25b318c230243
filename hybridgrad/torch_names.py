"""PyTorch's top-level names that live in hybridgrad's own modules, gathered for ``hg.NAME``.

``hybridgrad/__init__.py`` star-imports this module, so adding a PyTorch-compatible function
means adding it to its home module and to that module's ``__all__``.

Example:
    >>> import hybridgrad as hg
    >>> hg.device("cpu"), hg.Size([2]).numel(), hg.floor(hg.tensor([1.5])).tolist()
    (device(type='cpu'), 2, [1.0])
"""

from hybridgrad import amp, distributions, linalg
from hybridgrad.amp import autocast
from hybridgrad.device import Size, device
from hybridgrad.dtype_info import *  # noqa: F403
from hybridgrad.factories import (
    empty,
    empty_like,
    logspace,
    rand_like,
    randint_like,
    randn_like,
)
from hybridgrad.legacy import *  # noqa: F403
from hybridgrad.ops.api_index import *  # noqa: F403
from hybridgrad.ops.api_linalg import *  # noqa: F403
from hybridgrad.ops.api_math import *  # noqa: F403
from hybridgrad.ops.api_out import *  # noqa: F403
from hybridgrad.ops.api_shape import *  # noqa: F403
from hybridgrad.random import (
    Generator,
    get_rng_state,
    initial_seed,
    seed,
    set_rng_state,
)
from hybridgrad.tensor_methods import allclose, equal, isclose

__all__ = [  # noqa: F405 - the star-imported modules' names are added below
    "Generator", "Size", "allclose", "amp", "autocast", "device", "distributions", "empty",
    "empty_like", "equal", "get_rng_state", "initial_seed", "isclose", "linalg", "logspace",
    "rand_like", "randint_like", "randn_like", "seed", "set_rng_state",
]


def _gather_all() -> None:
    from hybridgrad import dtype_info, legacy
    from hybridgrad.ops import api_index, api_linalg, api_math, api_out, api_shape

    for module in (dtype_info, legacy, api_index, api_linalg, api_math, api_out, api_shape):
        __all__.extend(module.__all__)


_gather_all()


# PyTorch also exposes many Tensor methods and nn.functional functions as torch.NAME(input, ...):
# one generated function per name, calling the method (or the functional) of the same name.
_METHOD_FUNCTIONS = (
    "abs_", "absolute", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_",
    "arcsinh_", "arctan_", "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
    "clamp_max_", "clamp_min_", "clip_", "clone", "cos_", "cosh_", "deg2rad_", "detach",
    "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_",
    "greater", "greater_equal", "index_add", "index_copy", "index_fill", "is_nonzero",
    "is_same_size", "is_signed", "less", "less_equal", "log10_", "log1p_", "log2_", "log_",
    "logit_", "masked_scatter", "movedim", "moveaxis", "nan_to_num_", "nanmean", "nansum",
    "nanquantile", "neg_", "negative_", "not_equal", "put", "rad2deg_", "reciprocal_",
    "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_",
    "swapdims", "t", "tan_", "tanh_", "tile", "trunc_", "unflatten", "xlogy_", "zero_",
)
_FUNCTIONAL_FUNCTIONS = (
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "batch_norm",
    "binary_cross_entropy_with_logits", "celu", "celu_", "conv1d", "conv2d",
    "cosine_embedding_loss", "cosine_similarity", "dropout", "embedding", "group_norm",
    "hardshrink", "hinge_embedding_loss", "instance_norm", "kl_div", "layer_norm",
    "margin_ranking_loss", "max_pool1d", "max_pool2d", "pairwise_distance", "pixel_shuffle",
    "pixel_unshuffle", "poisson_nll_loss", "prelu", "rms_norm", "rrelu", "rrelu_", "selu",
    "selu_", "threshold", "threshold_", "triplet_margin_loss",
)


def _method_function(name: str):
    def function(input, *args, **kwargs):  # noqa: A002 - PyTorch's argument name
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``hg.{name}(x, ...)`` is ``x.{name}(...)``. Example: ``hg.{name}(x)``."
    return function


def _install_generated() -> None:
    import hybridgrad.nn.functional as functional

    namespace = globals()
    for name in _METHOD_FUNCTIONS:
        if name not in namespace:
            namespace[name] = _method_function(name)
            __all__.append(name)
    for name in _FUNCTIONAL_FUNCTIONS:
        if name not in namespace and hasattr(functional, name):
            namespace[name] = getattr(functional, name)
            __all__.append(name)


_install_generated()
