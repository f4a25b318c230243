"""Mixed precision as PyTorch programs request it: ``hg.autocast`` / ``hg.amp.autocast`` and
``hg.amp.GradScaler``.

hybridgrad computes in the tensors' own dtypes (NumPy has no bfloat16, and float16 matmuls on a
CPU are slower, not faster), so ``autocast`` is a context manager and decorator that changes no
dtype: a program written for mixed precision runs, in float32. ``GradScaler`` implements
PyTorch's loss scaling (scale, unscale, skip steps with inf/NaN gradients, grow/back off the
scale) so its numbers match an unscaled float32 run.

Example:
    >>> import hybridgrad as hg
    >>> with hg.autocast(device_type="cpu", dtype=hg.float16):
    ...     hg.ones(2).dtype
    dtype('float32')
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["GradScaler", "autocast", "is_autocast_available"]


class autocast:  # noqa: N801 - PyTorch's name
    """PyTorch's ``autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``:
    accepted, computing in the tensors' own dtypes (see the module docstring).

    Example:
        >>> @autocast("cpu")
        ... def double(x):
        ...     return x * 2
        >>> double(3)
        6
    """

    def __init__(self, device_type: str = "cpu", dtype=None, enabled: bool = True,
                 cache_enabled=None):
        from hybridgrad.device import as_device

        self.device_type = as_device(device_type).type
        self.dtype, self.enabled = dtype, enabled

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self:
                return function(*args, **kwargs)

        return wrapper


def is_autocast_available(device_type: str) -> bool:
    """True for ``"cpu"`` (autocast is accepted there)."""
    return device_type == "cpu"


class GradScaler:
    """Loss scaling with PyTorch's rules: ``scaler.scale(loss).backward()``,
    ``scaler.step(optimizer)`` (unscales, skips the step when a gradient is inf/NaN),
    ``scaler.update()`` (halves the scale after a skip, doubles it after ``growth_interval``
    good steps).

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.nn.Parameter(hg.tensor([1.0]))
        >>> optimizer = hg.optim.SGD([w], lr=0.1)
        >>> scaler = GradScaler()
        >>> scaler.scale((w * 3).sum()).backward()
        >>> scaler.step(optimizer); scaler.update()
        >>> round(w.item(), 6), scaler.get_scale()
        (0.7, 65536.0)
    """

    def __init__(self, device: str = "cpu", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True):
        self._enabled = enabled
        self._scale = float(init_scale)
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval = growth_interval
        self._good_steps = 0
        self._unscaled: dict = {}
        self._found_inf = False

    def is_enabled(self) -> bool:
        """Whether scaling is on."""
        return self._enabled

    def get_scale(self) -> float:
        """The current scale (1.0 when disabled)."""
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        """``outputs * scale`` (a tensor or a list/tuple of tensors)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(output) for output in outputs)
        return outputs * self._scale

    def unscale_(self, optimizer) -> None:
        """Divide the gradients of the optimizer's parameters by the scale (once per step)."""
        if not self._enabled or id(optimizer) in self._unscaled:
            return
        found_inf = False
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                array = parameter.grad._array
                array /= array.dtype.type(self._scale)
                found_inf = found_inf or not np.isfinite(array).all()
        self._unscaled[id(optimizer)] = found_inf
        self._found_inf = self._found_inf or found_inf

    def step(self, optimizer, *args, **kwargs):
        """Unscale if needed, then ``optimizer.step()`` unless a gradient was inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        self.unscale_(optimizer)
        if self._unscaled[id(optimizer)]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        """Adjust the scale after the step(s) of one iteration."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(getattr(new_scale, "item", lambda: new_scale)())
        elif self._found_inf:
            self._scale *= self._backoff_factor
            self._good_steps = 0
        else:
            self._good_steps += 1
            if self._good_steps >= self._growth_interval:
                self._scale *= self._growth_factor
                self._good_steps = 0
        self._unscaled.clear()
        self._found_inf = False

    def state_dict(self) -> dict:
        """The scale and counters, for checkpoints."""
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._good_steps} if self._enabled else {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        if state:
            self._scale = float(state["scale"])
            self._good_steps = int(state.get("_growth_tracker", 0))
