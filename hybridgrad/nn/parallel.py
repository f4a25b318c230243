"""``torch.nn.parallel``: ``DistributedDataParallel`` with PyTorch's semantics and
``DataParallel`` as PyTorch's CPU build runs it.

:class:`DistributedDataParallel` here averages the gradients at the end of every ``backward()``
that follows one of its forwards, as PyTorch's does, so an unmodified PyTorch DDP loop
(``loss.backward(); optimizer.step()``) trains identically on every rank. It takes PyTorch's
constructor arguments (``device_ids``, ``output_device``, ``find_unused_parameters``... are
accepted; on the CPU they change nothing). ``no_sync()`` around forward and backward skips the
averaging, as in PyTorch. :class:`hybridgrad.distributed.DistributedDataParallel` (explicit
``allreduce_gradients()``) is the class it builds on.

:class:`DataParallel` splits nothing without GPUs: PyTorch's CPU build also just runs the
wrapped module. Both keep PyTorch's ``module.`` prefix in ``state_dict`` keys.

Example:
    >>> import hybridgrad as hg
    >>> model = DistributedDataParallel(hg.nn.Linear(2, 1), device_ids=None)
    >>> model(hg.ones(3, 2)).sum().backward()   # averaged across ranks here (one rank: as is)
    >>> model.module.weight.grad.tolist()
    [[3.0, 3.0]]
    >>> sorted(DataParallel(hg.nn.Linear(2, 1)).state_dict())
    ['module.bias', 'module.weight']
"""

from __future__ import annotations

import threading
import weakref

from hybridgrad.autograd import is_grad_enabled, register_backward_finished_callback
from hybridgrad.distributed.parallel import DEFAULT_BUCKET_CAP_MB
from hybridgrad.distributed.parallel import DistributedDataParallel as _ExplicitDDP
from hybridgrad.nn.module import Module

__all__ = ["DataParallel", "DistributedDataParallel"]


class DistributedDataParallel(_ExplicitDDP):
    """Data-parallel training with PyTorch's interface: gradients are averaged across ranks when
    ``backward()`` finishes (see the module docstring).

    Example:
        >>> import hybridgrad as hg
        >>> ddp = DistributedDataParallel(hg.nn.Linear(1, 1), find_unused_parameters=True)
        >>> with ddp.no_sync():
        ...     ddp(hg.ones(1, 1)).sum().backward()    # no communication
        >>> ddp.module.weight.grad.tolist()
        [[1.0]]
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, communicator=None, **unused_options):
        if device_ids not in (None, [], ()) and any(
                str(device) not in ("cpu", "-1") for device in device_ids):
            raise ValueError(f"DistributedDataParallel: device_ids={device_ids!r} names GPUs; "
                             "hybridgrad computes on the CPU: pass device_ids=None, as PyTorch "
                             "requires for CPU modules")
        super().__init__(module, communicator=communicator,
                         bucket_cap_mb=DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None
                         else bucket_cap_mb, broadcast_buffers=broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self._pending_thread = None  # the thread whose forward awaits its backward
        self._averaged = False
        reference = weakref.ref(self)

        def after_backward() -> None:
            wrapper = reference()
            if wrapper is not None:
                wrapper._after_backward()

        self._callback_handle = register_backward_finished_callback(after_backward)
        weakref.finalize(self, self._callback_handle.remove)

    def forward(self, *args, **kwargs):
        if self.training and is_grad_enabled() and self._sync:
            # Only the thread that ran this forward averages after its backward (tests run
            # several ranks as threads of one process).
            self._pending_thread = threading.get_ident()
        self._averaged = False
        return super().forward(*args, **kwargs)

    def _after_backward(self) -> None:
        if self._pending_thread != threading.get_ident():
            return
        self._pending_thread = None
        self.averager()
        self._averaged = True

    def allreduce_gradients(self) -> None:
        """Average now, unless ``backward()`` already did since the last forward.

        Example:
            >>> import hybridgrad as hg
            >>> ddp = DistributedDataParallel(hg.nn.Linear(1, 1))
            >>> ddp(hg.ones(1, 1)).sum().backward(); ddp.allreduce_gradients()  # no second average
        """
        if not self._averaged:
            super().allreduce_gradients()


class DataParallel(Module):
    """PyTorch's ``nn.DataParallel`` without GPUs: runs ``module`` as is (PyTorch's CPU build
    does the same), keeping the ``module.`` prefix of its ``state_dict``.

    Example:
        >>> import hybridgrad as hg
        >>> DataParallel(hg.nn.Linear(2, 3))(hg.ones(4, 2)).shape
        (4, 3)
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected a Module, got {type(module).__name__}")
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
