"""Inverted dropout: zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

The mask is drawn from :func:`hybridgrad.default_generator` (seed it with ``hg.manual_seed``), so
runs are reproducible; in evaluation mode dropout is the identity.

Example:
    >>> import hybridgrad as hg
    >>> layer = hg.nn.Dropout(0.5).eval()
    >>> layer(hg.ones(3)).tolist()
    [1.0, 1.0, 1.0]
"""

# ruff: noqa: A001, A002 - PyTorch names its tensor argument `input`
from __future__ import annotations

import warnings

import numpy as np

from hybridgrad.nn.module import Module
from hybridgrad.tensor import Tensor, default_generator

__all__ = ["Dropout", "dropout"]


def _check_p(p: float, name: str) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    return p


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: np.random.Generator | None = None):
    """Inverted dropout (PyTorch's ``F.dropout``): during training each element is zeroed with
    probability ``p`` and survivors are multiplied by ``1/(1-p)``, so the expected value is
    unchanged. ``training=False`` or ``p=0`` returns ``input`` unchanged; ``p=1`` gives zeros.

    ``inplace`` is accepted for PyTorch compatibility (a new tensor is always returned).

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(0)
        >>> sorted(set(dropout(hg.ones(100), 0.5).tolist()))
        [0.0, 2.0]
    """
    p = _check_p(p, "dropout")
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape)
    dtype = input.dtype if np.dtype(input.dtype).kind == "f" else np.dtype(np.float32)
    if p == 1.0:
        return input * Tensor._wrap(np.zeros(shape, dtype=dtype))
    if generator is None and not isinstance(input, Tensor):
        # A symbol (tracing, hg.jit / hybridize): the mask is a random primitive drawn from the
        # default generator each time the compiled graph runs, the same draw as below.
        from hybridgrad.ops.random_ops import next_draw
        from hybridgrad.ops.registry import apply

        return input * apply("dropout_mask", input, p=p, draw=next_draw())
    rng = generator if generator is not None else default_generator()
    # Keep with probability 1 - p; the scale is folded into the mask (one multiply).
    keep = rng.random(shape) >= p
    mask = keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))
    return input * Tensor._wrap(mask)


class Dropout(Module):
    """Randomly zeroes elements with probability ``p`` while training (see :func:`dropout`).

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(0)
        >>> out = hg.nn.Dropout(p=0.25)(hg.ones(1000))
        >>> sorted(set(round(v, 4) for v in out.tolist()))
        [0.0, 1.3333]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _check_p(p, "Dropout")
        self.inplace = inplace

    def forward(self, input):
        return dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


def _channel_dropout(input, p: float, training: bool, spatial: int, name: str, generator=None):
    """Zero whole channels: one draw per (sample, channel), broadcast over ``spatial`` dims."""
    p = _check_p(p, name)
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape)
    if len(shape) in (spatial + 1, spatial + 2):
        mask_shape = shape[:-spatial] + (1,) * spatial
    elif spatial >= 2 and len(shape) >= 1:
        # PyTorch's dropout2d/3d warn and go on: the input is read as one unbatched sample whose
        # channels are its first dimension (a 2-D (N, F) input loses whole rows).
        warnings.warn(f"{name}: Received a {len(shape)}-D input to {name}, which is deprecated "
                      "and will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead.", stacklevel=3)
        mask_shape = shape[:1] + (1,) * (len(shape) - 1)
    else:
        raise ValueError(f"{name}: expected a {spatial + 1}-D or {spatial + 2}-D input (batched "
                         f"or not), got shape {list(shape)}")
    dtype = input.dtype if np.dtype(input.dtype).kind == "f" else np.dtype(np.float32)
    if p == 1.0:
        return input * Tensor._wrap(np.zeros(mask_shape, dtype=dtype))
    rng = generator if generator is not None else default_generator()
    keep = rng.random(mask_shape) >= p
    return input * Tensor._wrap(keep.astype(dtype) * dtype.type(1.0 / (1.0 - p)))


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, L) inputs with probability ``p`` (scaled by 1/(1-p)).

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(0); out = dropout1d(hg.ones(1, 50, 3))
        >>> all(len(set(row)) == 1 for row in out[0].tolist())
        True
    """
    return _channel_dropout(input, p, training, 1, "dropout1d")


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, H, W) inputs with probability ``p``.

    Example:
        >>> import hybridgrad as hg
        >>> dropout2d(hg.ones(1, 2, 2, 2), training=False).sum().item()
        8.0
    """
    return _channel_dropout(input, p, training, 2, "dropout2d")


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, D, H, W) inputs with probability ``p``.

    Example:
        >>> import hybridgrad as hg
        >>> dropout3d(hg.ones(1, 2, 1, 1, 1), training=False).sum().item()
        2.0
    """
    return _channel_dropout(input, p, training, 3, "dropout3d")


def _channel_module(name: str, function, example: str) -> type:
    def forward(self, input):
        return function(input, self.p, self.training)

    doc = (f"Randomly zeroes whole channels with probability ``p`` while training (see "
           f":func:`{function.__name__}`).\n\n    Example:\n{example}")
    return type(name, (Dropout,), {"forward": forward, "__doc__": doc, "__module__": __name__})


Dropout1d = _channel_module("Dropout1d", dropout1d, """        >>> import hybridgrad as hg
        >>> hg.nn.Dropout1d(0.5).eval()(hg.ones(1, 2, 3)).sum().item()
        6.0
    """)
Dropout2d = _channel_module("Dropout2d", dropout2d, """        >>> import hybridgrad as hg
        >>> hg.manual_seed(0); out = hg.nn.Dropout2d(0.5)(hg.ones(4, 8, 2, 2))
        >>> sorted(set(out.sum(dim=(2, 3)).flatten().tolist()))
        [0.0, 8.0]
    """)
Dropout3d = _channel_module("Dropout3d", dropout3d, """        >>> import hybridgrad as hg
        >>> hg.nn.Dropout3d().eval()(hg.ones(1, 1, 1, 1, 1)).item()
        1.0
    """)
__all__ += ["Dropout1d", "Dropout2d", "Dropout3d", "dropout1d", "dropout2d", "dropout3d"]
