"""torchvision's shape over hybridgrad's data code: ``datasets`` (MNIST, FashionMNIST),
``transforms`` and ``utils`` (``make_grid``, ``save_image``). ``hybridgrad run`` answers
``import torchvision`` with this package.

Example:
    >>> from hybridgrad import vision
    >>> vision.transforms.Compose([vision.transforms.ToTensor()]).transforms[0]
    ToTensor()
"""

from hybridgrad.vision import datasets, transforms, utils

__version__ = "0.20.0+hybridgrad"
__all__ = ["datasets", "transforms", "utils"]
