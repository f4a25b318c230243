"""Variational auto-encoders (Kingma & Welling 2014) on MNIST: :class:`VAE` and the
label-conditioned :class:`CVAE`.

The encoder gives ``mu`` and ``log_var`` of ``q(z | x)``; the reparameterisation
``z = mu + exp(log_var / 2) * eps`` with ``eps ~ N(0, 1)`` keeps the sample differentiable; the
decoder gives Bernoulli logits of the 784 pixels. :func:`negative_elbo` is the loss, in nats per
image: reconstruction ``BCE(logits, x)`` summed over pixels plus ``KL(q(z | x) || N(0, I))``.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.models.vae import VAE, negative_elbo
    >>> model = VAE(hidden=16, latent_dim=2)
    >>> images = hg.rand(3, 1, 28, 28)
    >>> logits, mu, log_var = model(images)
    >>> logits.shape, mu.shape
    ((3, 784), (3, 2))
    >>> float(negative_elbo(logits, images, mu, log_var)) > 0
    True
"""

from __future__ import annotations

import hybridgrad as hg
from hybridgrad import nn
from hybridgrad.models.cgan import one_hot_labels
from hybridgrad.nn import losses


def reparameterize(mu, log_var, generator=None):
    """``mu + exp(log_var / 2) * eps``, ``eps ~ N(0, 1)`` from the seeded generator.

    Example:
        >>> import hybridgrad as hg
        >>> reparameterize(hg.zeros(2, 3), hg.full((2, 3), -100.0)).abs().max().item() < 1e-10
        True
    """
    noise = hg.randn(*mu.shape, dtype=mu.dtype, generator=generator)
    return mu + hg.exp(log_var * 0.5) * noise


def negative_elbo(logits, images, mu, log_var, reduction: str = "mean"):
    """``-ELBO`` in nats per image: summed pixel BCE (Bernoulli log-likelihood of the grey
    levels) plus the closed-form ``KL(N(mu, exp(log_var)) || N(0, I))``.

    Example:
        >>> import hybridgrad as hg
        >>> logits = hg.zeros(1, 784); images = hg.full((1, 784), 0.5)
        >>> round(float(negative_elbo(logits, images, hg.zeros(1, 2), hg.zeros(1, 2))), 2)
        543.43
    """
    targets = images.reshape(images.shape[0], -1)
    reconstruction = losses.binary_cross_entropy_with_logits(
        logits, targets, reduction="none").sum(1)
    kl = 0.5 * (mu * mu + hg.exp(log_var) - 1.0 - log_var).sum(1)
    per_image = reconstruction + kl
    if reduction == "none":
        return per_image
    if reduction == "sum":
        return per_image.sum()
    return per_image.mean()


class VAE(nn.Module):
    """MLP encoder ``784 -> hidden -> (mu, log_var)`` and decoder ``latent -> hidden -> 784``
    (pixel logits). ``condition_dim`` > 0 concatenates a condition vector to both inputs (the
    CVAE); :class:`CVAE` sets it from labels.

    Example:
        >>> import hybridgrad as hg
        >>> VAE(hidden=8, latent_dim=2).sample(4).shape
        (4, 1, 28, 28)
    """

    def __init__(self, in_features: int = 784, hidden: int = 512, latent_dim: int = 20,
                 condition_dim: int = 0, image_shape=(1, 28, 28)):
        super().__init__()
        self.latent_dim, self.condition_dim = latent_dim, condition_dim
        self.image_shape = tuple(image_shape)
        self.encoder = nn.Sequential(nn.Linear(in_features + condition_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_log_var = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim + condition_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, in_features))

    def _with_condition(self, features, condition):
        return features if condition is None else hg.cat([features, condition], 1)

    def encode(self, images, condition=None):
        """``(mu, log_var)`` of ``q(z | x)``."""
        hidden = self.encoder(self._with_condition(images.reshape(images.shape[0], -1),
                                                   condition))
        return self.to_mu(hidden), self.to_log_var(hidden)

    def decode(self, z, condition=None):
        """Pixel logits ``[batch, 784]``."""
        return self.decoder(self._with_condition(z, condition))

    def forward(self, images, condition=None):
        mu, log_var = self.encode(images, condition)
        return self.decode(reparameterize(mu, log_var), condition), mu, log_var

    def sample(self, count: int, condition=None):
        """``count`` images in [0, 1] decoded from ``z ~ N(0, I)``."""
        z = hg.randn(count, self.latent_dim)
        return hg.sigmoid(self.decode(z, condition)).reshape(count, *self.image_shape)


class CVAE(VAE):
    """A VAE whose encoder and decoder also see ``one_hot(label)``; ``sample(n, labels)`` draws
    digits of the requested classes.

    Example:
        >>> import hybridgrad as hg
        >>> model = CVAE(hidden=8, latent_dim=2)
        >>> logits, mu, log_var = model(hg.rand(2, 1, 28, 28), hg.tensor([3, 4]))
        >>> logits.shape, model.sample(2, hg.tensor([1, 9])).shape
        ((2, 784), (2, 1, 28, 28))
    """

    def __init__(self, in_features: int = 784, hidden: int = 512, latent_dim: int = 20,
                 num_classes: int = 10, image_shape=(1, 28, 28)):
        super().__init__(in_features, hidden, latent_dim, num_classes, image_shape)
        self.num_classes = num_classes

    def forward(self, images, labels):
        return super().forward(images, one_hot_labels(labels, self.num_classes))

    def sample(self, count: int, labels=None):
        if labels is None:
            raise ValueError("CVAE.sample: pass the labels to condition on")
        return super().sample(count, one_hot_labels(labels, self.num_classes))
