"""Removable handles for registered hooks (``Tensor.register_hook``,
``Module.register_forward_hook``), as PyTorch's ``torch.utils.hooks.RemovableHandle``.

Example:
    >>> import hybridgrad as hg
    >>> x = hg.ones(1, requires_grad=True)
    >>> with x.register_hook(lambda grad: grad * 3):
    ...     (x * 2).backward()
    >>> x.grad.item()
    6.0
"""

from __future__ import annotations

from typing import Callable


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``remove()`` unregisters the hook.

    Example:
        >>> table = {}
        >>> handle = RemovableHandle(table, print); len(table)
        1
        >>> handle.remove(); len(table)
        0
    """

    _next_id = 0

    def __init__(self, table: dict, hook: Callable):
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id
        self._table = table
        table[self.id] = hook

    def remove(self) -> None:
        self._table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()
        return False
