"""``torchvision.utils.make_grid`` and ``save_image`` on hybridgrad tensors.

Example:
    >>> import hybridgrad as hg
    >>> make_grid(hg.ones(3, 1, 4, 4), nrow=2, padding=1).shape
    (3, 11, 11)
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.tensor import Tensor

__all__ = ["make_grid", "save_image"]


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range=None, scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Tile a batch ``(B, C, H, W)`` into one ``(3, rows, cols)`` image, ``nrow`` images per
    row with ``padding`` pixels between them (torchvision's layout: one-channel images become
    three-channel; ``normalize`` rescales to [0, 1] by ``value_range`` or the min and max).

    Example:
        >>> import hybridgrad as hg
        >>> grid = make_grid(hg.stack([hg.zeros(1, 2, 2), hg.ones(1, 2, 2)]), padding=0)
        >>> grid.shape, grid[0].tolist()
        ((3, 2, 4), [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    """
    if isinstance(tensor, (list, tuple)):
        array = np.stack([t._array if isinstance(t, Tensor) else np.asarray(t) for t in tensor])
    else:
        array = tensor._array if isinstance(tensor, Tensor) else np.asarray(tensor)
    array = np.array(array, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 3:
        array = array[None] if array.shape[0] in (1, 3) else array[:, None]
    if array.ndim != 4:
        raise ValueError(f"make_grid: expected (B, C, H, W) images, got shape {array.shape}")
    if array.shape[1] == 1:
        array = np.repeat(array, 3, axis=1)
    if normalize:
        def scale(part):
            low, high = value_range if value_range is not None else (part.min(), part.max())
            np.clip(part, low, high, out=part)
            part -= low
            part /= max(high - low, 1e-5)
        if scale_each:
            for image in array:
                scale(image)
        else:
            scale(array)
    count = array.shape[0]
    if count == 1 and padding == 0:
        return Tensor._wrap(array[0])
    columns = min(nrow, count)
    rows = int(math.ceil(count / columns))
    height, width = array.shape[2] + padding, array.shape[3] + padding
    grid = np.full((array.shape[1], rows * height + padding, columns * width + padding),
                   pad_value, dtype=np.float32)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * height + padding, column * width + padding
        grid[:, top:top + array.shape[2], left:left + array.shape[3]] = array[index]
    return Tensor._wrap(grid)


def save_image(tensor, fp, format=None, **grid_options) -> None:  # noqa: A002 - torchvision's
    """Write ``tensor`` (one image or a batch, values in [0, 1]) as an image file, through
    :func:`make_grid`.

    Example:
        >>> import os, tempfile
        >>> import hybridgrad as hg
        >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
        >>> save_image(hg.ones(4, 1, 3, 3), path, nrow=2); os.path.getsize(path) > 0
        True
    """
    from PIL import Image

    grid = make_grid(tensor, **grid_options)._array
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(pixels).save(fp, format=format)
