"""The probability distributions PyTorch programs use most (``torch.distributions``):
``Categorical``, ``Bernoulli``, ``Normal``, ``Uniform`` and ``kl_divergence`` for two normals.

``log_prob``, ``entropy`` and ``rsample`` (the reparameterised sample) are compositions of
primitives, so they differentiate with respect to the parameters (REINFORCE's
``-m.log_prob(action) * reward``, a VAE's ``Normal(mu, std).rsample()``); ``sample`` draws from
the default generator (seed with ``hg.manual_seed``) without a gradient.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.distributions import Categorical
    >>> m = Categorical(probs=hg.tensor([0.25, 0.75]))
    >>> round(m.log_prob(hg.tensor(1)).item(), 4), round(m.entropy().item(), 4)
    (-0.2877, 0.5623)
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.ops import api
from hybridgrad.random import numpy_generator

__all__ = ["Bernoulli", "Categorical", "Distribution", "Normal", "Uniform", "kl_divergence"]


def _tensor(value, like=None):
    from hybridgrad.tensor import Tensor

    if isinstance(value, Tensor):
        return value
    dtype = like.dtype if like is not None and like.dtype.kind == "f" else np.float32
    return Tensor._wrap(np.asarray(value, dtype=dtype))


def _wrap(array):
    from hybridgrad.tensor import Tensor

    return Tensor._wrap(np.asarray(array))


def _shape(sample_shape) -> tuple:
    return (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)


class Distribution:
    """Base class: ``sample``, ``log_prob``, ``entropy``, ``batch_shape``."""

    batch_shape: tuple = ()

    def sample(self, sample_shape=()):
        raise NotImplementedError

    def log_prob(self, value):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError


class Categorical(Distribution):
    """Categories ``0..K-1`` with ``probs`` (normalised) or ``logits`` over the last dimension.

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(0)
        >>> Categorical(logits=hg.tensor([0.0, 100.0])).sample((3,)).tolist()
        [1, 1, 1]
    """

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: give exactly one of probs and logits")
        if probs is not None:
            probs = _tensor(probs)
            self.probs = probs / api.sum(probs, -1, keepdim=True)
            self.logits = api.log(self.probs)
        else:
            logits = _tensor(logits)
            self.logits = logits - api.logsumexp(logits, -1, keepdim=True)
            self.probs = api.softmax(logits, -1)
        self.batch_shape = tuple(self.probs.shape[:-1])

    def sample(self, sample_shape=()):
        """Draw category indices (int64), shaped ``sample_shape + batch_shape``."""
        probabilities = self.probs._array.astype(np.float64)
        flat = probabilities.reshape(-1, probabilities.shape[-1])
        count = int(np.prod(_shape(sample_shape), dtype=np.int64))
        rng = numpy_generator()
        cumulative = np.cumsum(flat, axis=-1)
        draws = rng.random((count, flat.shape[0], 1)) * cumulative[:, -1:][None]
        indices = (draws > cumulative[None]).sum(-1)
        return _wrap(indices.reshape(_shape(sample_shape) + self.batch_shape).astype(np.int64))

    def log_prob(self, value):
        """Log-probability of category indices ``value`` (broadcast against the batch)."""
        value = _tensor(value)
        index = api.unsqueeze(api.to(value, np.int64), -1)
        logits = self.logits
        if len(value.shape) > len(self.batch_shape):
            logits = api.broadcast_to(logits, tuple(value.shape) + (logits.shape[-1],))
        return api.squeeze(api.gather(logits, -1, index), -1)

    def entropy(self):
        """``-sum p log p`` over the categories."""
        return -api.sum(self.probs * self.logits, -1)


class Bernoulli(Distribution):
    """0/1 outcomes with ``probs`` or ``logits``.

    Example:
        >>> import hybridgrad as hg
        >>> round(Bernoulli(probs=hg.tensor(0.25)).log_prob(hg.tensor(1.0)).item(), 4)
        -1.3863
    """

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: give exactly one of probs and logits")
        if probs is not None:
            self.probs = _tensor(probs)
            clipped = api.clamp(self.probs, 1e-7, 1 - 1e-7)
            self.logits = api.log(clipped) - api.log(1 - clipped)
        else:
            self.logits = _tensor(logits)
            self.probs = api.sigmoid(self.logits)
        self.batch_shape = tuple(self.probs.shape)

    def sample(self, sample_shape=()):
        """0./1. samples, shaped ``sample_shape + batch_shape``."""
        shape = _shape(sample_shape) + self.batch_shape
        draws = numpy_generator().random(shape) < self.probs._array
        return _wrap(draws.astype(self.probs.dtype))

    def log_prob(self, value):
        """``value * log p + (1 - value) * log(1 - p)`` from the logits (no overflow)."""
        value = _tensor(value, self.logits)
        return -(value * api.softplus(-self.logits) + (1 - value) * api.softplus(self.logits))

    def entropy(self):
        """Binary entropy."""
        return api.softplus(self.logits) - self.probs * self.logits


class Normal(Distribution):
    """The normal distribution N(loc, scale^2).

    Example:
        >>> import hybridgrad as hg
        >>> round(Normal(0.0, 1.0).log_prob(hg.tensor(0.0)).item(), 4)
        -0.9189
    """

    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc = _tensor(loc)
        self.scale = _tensor(scale, self.loc)
        self.batch_shape = tuple(np.broadcast_shapes(tuple(self.loc.shape),
                                                     tuple(self.scale.shape)))

    @property
    def mean(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=()):
        """``loc + scale * eps`` with eps ~ N(0, 1): differentiable in loc and scale."""
        shape = _shape(sample_shape) + self.batch_shape
        noise = numpy_generator().standard_normal(shape).astype(self.loc.dtype
                                                                if self.loc.dtype.kind == "f"
                                                                else np.float32)
        return self.loc + self.scale * _wrap(noise)

    def sample(self, sample_shape=()):
        """A sample without gradient."""
        return self.rsample(sample_shape).detach()

    def log_prob(self, value):
        """``-(x - loc)^2 / (2 scale^2) - log(scale) - log(sqrt(2 pi))``."""
        value = _tensor(value, self.loc)
        return (-((value - self.loc) ** 2) / (2 * self.variance) - api.log(self.scale)
                - 0.5 * math.log(2 * math.pi))

    def entropy(self):
        """``0.5 + 0.5 log(2 pi) + log(scale)``."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + api.log(self.scale) + self.loc * 0


class Uniform(Distribution):
    """The uniform distribution on [low, high).

    Example:
        >>> import hybridgrad as hg
        >>> round(Uniform(0.0, 4.0).log_prob(hg.tensor(1.0)).item(), 4)
        -1.3863
    """

    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low = _tensor(low)
        self.high = _tensor(high, self.low)
        self.batch_shape = tuple(np.broadcast_shapes(tuple(self.low.shape),
                                                     tuple(self.high.shape)))

    def rsample(self, sample_shape=()):
        """``low + (high - low) * u`` with u ~ U(0, 1)."""
        shape = _shape(sample_shape) + self.batch_shape
        unit = numpy_generator().random(shape).astype(np.float32)
        return self.low + (self.high - self.low) * _wrap(unit)

    def sample(self, sample_shape=()):
        """A sample without gradient."""
        return self.rsample(sample_shape).detach()

    def log_prob(self, value):
        """``-log(high - low)`` inside the support, ``-inf`` outside."""
        value = _tensor(value, self.low)
        inside = api.logical_and(value >= self.low, value < self.high)
        return api.where(inside, -api.log(self.high - self.low), -math.inf)

    def entropy(self):
        """``log(high - low)``."""
        return api.log(self.high - self.low)


def kl_divergence(p: Distribution, q: Distribution):
    """KL(p || q) for two normals or two categoricals.

    Example:
        >>> import hybridgrad as hg
        >>> kl_divergence(Normal(0.0, 1.0), Normal(0.0, 1.0)).item()
        0.0
    """
    if isinstance(p, Normal) and isinstance(q, Normal):
        ratio = (p.scale / q.scale) ** 2
        return 0.5 * (ratio + ((p.loc - q.loc) / q.scale) ** 2 - 1 - api.log(ratio))
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        return api.sum(p.probs * (p.logits - q.logits), -1)
    raise NotImplementedError(f"kl_divergence({type(p).__name__}, {type(q).__name__}) is not "
                              "implemented")
