"""What ``hybridgrad export NAME`` needs to know about a zoo model: its example inputs (name,
shape with the batch first, dtype, whether they are pixels), so any model of the registry can
be exported from its training checkpoint without the user spelling out shapes.

A :class:`hybridgrad.models.ModelSpec` names a function ``export_inputs(config) ->
list[ExportInput]`` (``config`` is the run's resolved configuration; its ``model`` entry holds
the builder's arguments). A model that takes other inputs (token ids, noise) supplies its own.

Example:
    >>> [(i.name, i.shape, i.pixels) for i in image_inputs({"model": {}})]
    [('images', (1, 1, 28, 28), True)]
    >>> latent_inputs({"model": {"noise_dim": 4}})[0].shape
    (1, 14)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExportInput:
    """One input of an exported model.

    Attributes:
        name: the ONNX input name.
        shape: an example shape, axis 0 the batch (left symbolic by ``--dynamic-batch``).
        dtype: NumPy dtype name.
        pixels: images in [0, 1] that the run's ``normalize`` setting maps to the model's input
            range (the preprocessing ``--include-preprocessing`` puts into the graph).
        high: for integer inputs, the exclusive upper bound of example values (labels: 10).

    Example:
        >>> ExportInput("labels", (1,), "int64", high=10).example(np.random.default_rng(0))
        array([8])
    """

    name: str
    shape: tuple
    dtype: str = "float32"
    pixels: bool = False
    high: int = 10

    def example(self, generator: np.random.Generator, batch: int | None = None) -> np.ndarray:
        """Example values: pixels uniform in [0, 1], other floats standard normal, integers in
        ``[0, high)``; ``batch`` replaces axis 0."""
        shape = (batch, *self.shape[1:]) if batch is not None else self.shape
        dtype = np.dtype(self.dtype)
        if dtype.kind in "iu":
            return generator.integers(0, self.high, size=shape).astype(dtype)
        if self.pixels:
            return generator.random(shape).astype(dtype)
        return generator.standard_normal(shape).astype(dtype)


def image_inputs(config: dict) -> list[ExportInput]:
    """One batch of MNIST images (the classifiers, the VAE).

    Example:
        >>> image_inputs({"model": {"image_size": 32, "in_channels": 3}})[0].shape
        (1, 3, 32, 32)
    """
    model = config.get("model", {})
    size = int(model.get("image_size", 28))
    return [ExportInput("images", (1, int(model.get("in_channels", 1)), size, size),
                        pixels=True)]


def labelled_image_inputs(config: dict) -> list[ExportInput]:
    """Images and their labels (the CVAE).

    Example:
        >>> [i.name for i in labelled_image_inputs({"model": {}})]
        ['images', 'labels']
    """
    return [*image_inputs(config), ExportInput("labels", (1,), "int64",
                                               high=int(config["model"].get("num_classes", 10)))]


def latent_inputs(config: dict) -> list[ExportInput]:
    """The CGAN generator's ``z``: noise concatenated with the one-hot label (see
    :func:`hybridgrad.models.make_latent`).

    Example:
        >>> latent_inputs({"model": {}})[0].shape
        (1, 110)
    """
    model = config.get("model", {})
    width = int(model.get("noise_dim", 100)) + int(model.get("num_classes", 10))
    return [ExportInput("z", (1, width))]
