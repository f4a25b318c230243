"""``hybridgrad.utils``: PyTorch's ``torch.utils`` layout (``utils.data`` is the data pipeline).

Example:
    >>> from hybridgrad.utils import data
    >>> data.DataLoader.__module__
    'hybridgrad.data.dataloader'
"""

from hybridgrad.utils import data

__all__ = ["data"]
