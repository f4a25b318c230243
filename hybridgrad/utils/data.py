"""``torch.utils.data`` under its PyTorch path: the data pipeline of :mod:`hybridgrad.data`
(``Dataset``, ``DataLoader``, ``TensorDataset``, ``random_split``, ``Subset``, the samplers) and
``DistributedSampler``.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.utils.data import DataLoader, TensorDataset
    >>> [x.shape for x, _ in DataLoader(TensorDataset(hg.zeros(5, 2), hg.arange(5)), batch_size=4)]
    [(4, 2), (1, 2)]
"""

from hybridgrad.data.dataloader import DataLoader, default_collate, default_convert
from hybridgrad.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from hybridgrad.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from hybridgrad.distributed.sampler import DistributedSampler

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset",
           "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
           "default_convert", "random_split"]
