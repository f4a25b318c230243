"""Data pipeline: datasets, samplers, the DataLoader, transforms, label encodings and the data
sets the notes use (MNIST, Iris, synthetic captchas).

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad import data
    >>> loader = data.DataLoader(data.TensorDataset(hg.zeros(10, 3), hg.arange(10)),
    ...                          batch_size=4, shuffle=True, generator=0)
    >>> [x.shape for x, _ in loader]
    [(4, 3), (4, 3), (2, 3)]
"""

from hybridgrad.data import transforms
from hybridgrad.data.captcha import CaptchaDataset
from hybridgrad.data.dataloader import DataLoader, default_collate, default_convert
from hybridgrad.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from hybridgrad.data.encoding import (
    DIGITS_UPPERCASE,
    CTCTargets,
    CTCTextCodec,
    OneHotTextCodec,
    one_hot,
)
from hybridgrad.data.iris import Iris
from hybridgrad.data.mnist import MNIST, DatasetNotFoundError, IDXError, read_idx
from hybridgrad.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = ["BatchSampler", "CTCTargets", "CTCTextCodec", "CaptchaDataset", "ConcatDataset",
           "DIGITS_UPPERCASE", "DataLoader", "Dataset", "DatasetNotFoundError", "IDXError",
           "Iris", "MNIST", "OneHotTextCodec", "RandomSampler", "Sampler", "SequentialSampler",
           "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
           "default_collate", "default_convert", "one_hot", "random_split", "read_idx",
           "transforms"]
