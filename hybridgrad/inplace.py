"""In-place tensor methods (``add_``, ``mul_``, ``copy_``, ``normal_``, ``x[i] = v``...) as in
PyTorch, with version counters.

Three cases, as PyTorch:

* nothing to record (under ``no_grad``, or no tensor involved requires gradients): the values
  are written into the tensor's storage, seen by every view and ``.data`` alias, and the
  storage's version is bumped (:mod:`hybridgrad.versions`), so a backward pass that still needs
  the old values raises PyTorch's error instead of computing a wrong gradient;
* a leaf that requires gradients, outside ``no_grad``: PyTorch's error (``a leaf Variable that
  requires grad is being used in an in-place operation.``);
* otherwise the operation is recorded: the result is computed out of place from a snapshot of
  the old values (which keeps the producer's own backward correct), written into the storage,
  and the tensor takes the new autograd history.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.tensor([1.0, 2.0], requires_grad=True)
    >>> with hg.no_grad():
    ...     _ = w.mul_(2).add_(1)
    >>> w.tolist(), w.requires_grad, w.is_leaf
    ([3.0, 5.0], True, True)
"""

from __future__ import annotations

import numpy as np

from hybridgrad.autograd import is_grad_enabled, no_grad
from hybridgrad.ops import api
from hybridgrad.random import numpy_generator
from hybridgrad.versions import CLOCK, bump, mark_rebound, root_of

# PyTorch's message, then what to do about it.
LEAF_MESSAGE = ("a leaf Variable that requires grad is being used in an in-place operation. "
                "(Update parameters inside `with hg.no_grad():`, or through .data.)")


def _requires_grad(value) -> bool:
    return getattr(value, "requires_grad", False) is True


def _write(target, result_array: np.ndarray, name: str) -> None:
    array = target._array
    if result_array.shape != array.shape:
        try:
            result_array = np.broadcast_to(result_array, array.shape)
        except ValueError:
            raise RuntimeError(
                f"{name}: output with shape {list(array.shape)} doesn't match the broadcast "
                f"shape {list(result_array.shape)}") from None
    if result_array.dtype != array.dtype and not np.can_cast(result_array.dtype, array.dtype,
                                                             "same_kind"):
        raise RuntimeError(f"{name}: result type {_type_name(result_array.dtype)} can't be cast "
                           f"to the desired output type {_type_name(array.dtype)}")
    np.copyto(array, result_array, casting="unsafe")


def _type_name(dtype) -> str:
    return {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool"}.get(np.dtype(dtype).kind, "?")


def apply_inplace(tensor, name: str, compute, *others, values_only: bool = False):
    """Run ``compute(source, *others)`` (framework ops, out of place) into ``tensor``'s storage.

    ``values_only`` marks fills whose result does not depend on the old values (``fill_``,
    ``normal_``): recorded, they keep the tensor in the graph with a zero gradient to its past.
    """
    from hybridgrad.tensor import Tensor

    grad_mode = is_grad_enabled()
    if grad_mode and tensor.requires_grad:
        if tensor._node is None:
            raise RuntimeError(LEAF_MESSAGE)
        node = tensor._node
        inputs = node.inputs[0] if node.op.variadic else (node.inputs or ())
        root = root_of(tensor._array)
        for value in inputs:
            if (_requires_grad(value) and isinstance(value, Tensor)
                    and root_of(value._array) is root):
                leaf = value._node is None
                raise RuntimeError(
                    "a view of a leaf Variable that requires grad is being used in an in-place "
                    "operation." if leaf else
                    f"{name}: in-place operation on a view ({node.op.name} of a tensor that "
                    "requires grad) is not supported: its base would not see the new history; "
                    "call .clone() on the view first, or assign out of place")
    record = grad_mode and (tensor.requires_grad or any(_requires_grad(v) for v in others))
    if not record:
        with no_grad():
            result = compute(*others) if values_only else compute(tensor, *others)
        _write(tensor, result._array if isinstance(result, Tensor) else np.asarray(result), name)
        bump(tensor._array)
        return tensor
    # Recorded: compute from a snapshot of the old values, so the node that produced them (and
    # this operation's own backward) read what they saw, then take over the new history.
    old = Tensor._wrap(tensor._array.copy())
    old._node = tensor._node
    old.requires_grad = tensor.requires_grad
    if values_only:
        # New values that ignore the old ones: a zero gradient flows to the old history.
        result = api.add(api.mul(old, 0), compute(*others))
    else:
        result = compute(old, *others)
    if result.dtype != tensor.dtype:
        _write(tensor, result._array, name)  # raises for a cast PyTorch refuses
        result = api.to(result, tensor.dtype)
    if tuple(result.shape) != tuple(tensor.shape):
        _write(tensor, result._array, name)  # raises for a shape PyTorch refuses
        result = api.broadcast_to(result, tuple(tensor.shape))
    _write(tensor, result._array, name)
    bump(tensor._array)
    tensor._node = result._node
    tensor.requires_grad = result.requires_grad
    if result._node is not None:
        # The node's values are consistent from now on: its check starts at this clock.
        result._node.clock = CLOCK[0]
    mark_rebound(tensor)
    return tensor


class InPlaceMixin:
    """PyTorch's in-place methods for :class:`hybridgrad.Tensor`."""

    __slots__ = ()

    # Arithmetic.
    def add_(self, other, alpha=1, **kwargs):
        """``self += alpha * other`` in place (also the legacy ``add_(alpha, other)``).

        Example:
            >>> import hybridgrad as hg
            >>> hg.zeros(2).add_(hg.ones(2), alpha=3).tolist()
            [3.0, 3.0]
        """
        other, alpha = _legacy_alpha(self, other, alpha, kwargs, "add_")
        return apply_inplace(self, "add_", lambda x, o: api.add(x, o if alpha == 1 else o * alpha),
                             other)

    def sub_(self, other, alpha=1, **kwargs):
        """``self -= alpha * other`` in place."""
        other, alpha = _legacy_alpha(self, other, alpha, kwargs, "sub_")
        return apply_inplace(self, "sub_", lambda x, o: api.sub(x, o if alpha == 1 else o * alpha),
                             other)

    def mul_(self, other):
        """``self *= other`` in place."""
        return apply_inplace(self, "mul_", api.mul, other)

    def div_(self, other, rounding_mode=None):
        """``self /= other`` in place (``rounding_mode`` ``"floor"``/``"trunc"`` as div)."""
        if rounding_mode is None:
            return apply_inplace(self, "div_", api.div, other)
        from hybridgrad.ops.api_math import div

        return apply_inplace(self, "div_", lambda x, o: div(x, o, rounding_mode=rounding_mode),
                             other)

    multiply_ = mul_
    subtract_ = sub_
    divide_ = div_
    true_divide_ = div_

    def pow_(self, exponent):
        """``self **= exponent`` in place."""
        return apply_inplace(self, "pow_", api.pow, exponent)

    def neg_(self):
        """Negate in place."""
        return apply_inplace(self, "neg_", api.neg)

    def addcmul_(self, tensor1, tensor2=None, value=1):
        """``self += value * tensor1 * tensor2`` in place (Adam's moment update)."""
        if tensor2 is None or not hasattr(tensor1, "shape"):  # legacy (value, t1, t2)
            value, tensor1, tensor2 = tensor1, tensor2, value
        return apply_inplace(self, "addcmul_", lambda x, a, b: x + value * (a * b),
                             tensor1, tensor2)

    def addcdiv_(self, tensor1, tensor2=None, value=1):
        """``self += value * tensor1 / tensor2`` in place."""
        if tensor2 is None or not hasattr(tensor1, "shape"):
            value, tensor1, tensor2 = tensor1, tensor2, value
        return apply_inplace(self, "addcdiv_", lambda x, a, b: x + value * (a / b),
                             tensor1, tensor2)

    def lerp_(self, end, weight):
        """``self += weight * (end - self)`` in place (exponential moving averages)."""
        if hasattr(weight, "_array"):
            return apply_inplace(self, "lerp_", lambda x, e, w: x + w * (e - x), end, weight)
        return apply_inplace(self, "lerp_", lambda x, e: x + weight * (e - x), end)

    def clamp_(self, min=None, max=None):  # noqa: A002 - PyTorch's names
        """Clamp in place."""
        watched = [v for v in (min, max) if hasattr(v, "_array")]
        return apply_inplace(self, "clamp_", lambda x, *_: api.clamp(x, min, max), *watched)

    clip_ = clamp_

    def clamp_min_(self, min):  # noqa: A002
        """Clamp from below in place."""
        return self.clamp_(min=min)

    def clamp_max_(self, max):  # noqa: A002
        """Clamp from above in place."""
        return self.clamp_(max=max)

    def masked_fill_(self, mask, value):
        """Set the elements where ``mask`` is true to ``value``, in place.

        Example:
            >>> import hybridgrad as hg
            >>> x = hg.zeros(3); x.masked_fill_(hg.tensor([True, False, True]), 5.0).tolist()
            [5.0, 0.0, 5.0]
        """
        if hasattr(value, "_array"):  # a tensor value may carry gradient
            return apply_inplace(self, "masked_fill_", lambda x, v: api.where(mask, v, x), value)
        return apply_inplace(self, "masked_fill_", lambda x: api.where(mask, value, x))

    def index_fill_(self, dim, index, value):
        """Set the slices ``index`` along ``dim`` to ``value``, in place."""
        selector = [slice(None)] * self.ndim
        selector[dim] = np.asarray(getattr(index, "_array", index)).reshape(-1)
        mask = np.zeros(self.shape, dtype=bool)
        mask[tuple(selector)] = True
        return apply_inplace(self, "index_fill_", lambda x: api.where(mask, value, x))

    # Elementwise functions.
    def exp_(self):
        """exp in place."""
        return apply_inplace(self, "exp_", api.exp)

    def log_(self):
        """log in place."""
        return apply_inplace(self, "log_", api.log)

    def sqrt_(self):
        """sqrt in place."""
        return apply_inplace(self, "sqrt_", api.sqrt)

    def abs_(self):
        """abs in place."""
        return apply_inplace(self, "abs_", api.abs)

    def sigmoid_(self):
        """sigmoid in place."""
        return apply_inplace(self, "sigmoid_", api.sigmoid)

    def tanh_(self):
        """tanh in place."""
        return apply_inplace(self, "tanh_", api.tanh)

    def relu_(self):
        """relu in place."""
        return apply_inplace(self, "relu_", api.relu)

    def sign_(self):
        """sign in place."""
        return apply_inplace(self, "sign_", api.sign)

    def floor_(self):
        """floor in place."""
        return apply_inplace(self, "floor_", lambda x: x.floor())

    def ceil_(self):
        """ceil in place."""
        return apply_inplace(self, "ceil_", lambda x: x.ceil())

    def round_(self, decimals=0):
        """round in place."""
        return apply_inplace(self, "round_", lambda x: x.round(decimals=decimals))

    def trunc_(self):
        """trunc in place."""
        return apply_inplace(self, "trunc_", lambda x: x.trunc())

    # Fills and copies.
    def copy_(self, source, non_blocking: bool = False):
        """Copy ``source``'s values (broadcast, cast to this dtype) into this tensor.

        Example:
            >>> import hybridgrad as hg
            >>> x = hg.zeros(2, 2); x.copy_(hg.tensor([1.0, 2.0])).tolist()
            [[1.0, 2.0], [1.0, 2.0]]
        """
        from hybridgrad.tensor import Tensor

        if not isinstance(source, Tensor):
            source = Tensor._wrap(np.asarray(source))
        dtype = self.dtype
        return apply_inplace(self, "copy_", lambda s: api.to(s, dtype), source, values_only=True)

    def fill_(self, value):
        """Fill with ``value``, in place.

        Example:
            >>> import hybridgrad as hg
            >>> hg.zeros(2).fill_(7).tolist()
            [7.0, 7.0]
        """
        if hasattr(value, "item") and not isinstance(value, (int, float)):
            value = value.item()
        values = np.asarray(value, dtype=self.dtype)
        return apply_inplace(self, "fill_", lambda: values, values_only=True)

    def zero_(self):
        """Fill with zeros, in place."""
        return self.fill_(0)

    def _random_fill_(self, name, draw):
        values = np.asarray(draw(self._array.shape)).astype(self.dtype, copy=False)
        return apply_inplace(self, name, lambda: values, values_only=True)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with samples of N(mean, std^2), in place.

        Example:
            >>> import hybridgrad as hg
            >>> hg.manual_seed(0); float(hg.zeros(10000).normal_(2.0, 0.5).mean()) > 1.9
            True
        """
        rng = numpy_generator(generator)
        return self._random_fill_("normal_", lambda shape: rng.normal(mean, std, shape))

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill with samples of U(a, b), in place."""
        rng = numpy_generator(generator)
        return self._random_fill_("uniform_", lambda shape: rng.uniform(a, b, shape))

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 0/1 samples that are 1 with probability ``p``, in place."""
        rng = numpy_generator(generator)
        p = np.asarray(getattr(p, "_array", p))
        return self._random_fill_("bernoulli_", lambda shape: rng.random(shape) < p)

    def exponential_(self, lambd=1.0, *, generator=None):
        """Fill with samples of an exponential distribution of rate ``lambd``, in place."""
        rng = numpy_generator(generator)
        return self._random_fill_("exponential_", lambda shape: rng.exponential(1 / lambd,
                                                                                  shape))

    def random_(self, low=0, high=None, *, generator=None):
        """Fill with random integers in ``[low, high)`` (``random_(high)`` means ``[0, high)``)."""
        rng = numpy_generator(generator)
        if high is None:
            low, high = 0, low if low else 2 ** 24
        return self._random_fill_("random_", lambda shape: rng.integers(low, high, shape))

    def fill_diagonal_(self, fill_value, wrap: bool = False):
        """Fill the main diagonal with ``fill_value``, in place."""
        mask = np.zeros(self.shape, dtype=bool)
        np.fill_diagonal(mask, True, wrap=wrap)
        return apply_inplace(self, "fill_diagonal_", lambda x: api.where(mask, fill_value, x))

    def __setitem__(self, index, value) -> None:
        """``x[index] = value`` in place; recorded (differentiable) when gradients are wanted."""
        from hybridgrad.ops.api import _freeze_index
        from hybridgrad.tensor import Tensor

        frozen = _freeze_index(index)
        if not (is_grad_enabled() and (self.requires_grad or _requires_grad(value))):
            raw = value._array if isinstance(value, Tensor) else value
            try:
                self._array[frozen] = raw
            except (ValueError, TypeError) as error:
                raise RuntimeError(f"__setitem__: {error} (tensor shape "
                                   f"{list(self._array.shape)})") from None
            bump(self._array)
            return
        mask = np.zeros(self._array.shape, dtype=bool)
        mask[frozen] = True
        target_shape = np.empty(self._array.shape, dtype=bool)[frozen].shape

        def place(x, v):
            v = api.to(v, x.dtype) if isinstance(v, Tensor) else v
            placed = api.index_put_add(x.shape, frozen, api.broadcast_to(v, target_shape))
            return api.where(mask, placed, x)

        if not isinstance(value, Tensor):
            value = Tensor._wrap(np.asarray(value, dtype=self.dtype))
        apply_inplace(self, "__setitem__", place, value)

    # Augmented assignment: in place, as PyTorch, except that while gradients are recorded
    # they rebind the name to an out-of-place result (``out += identity`` in a residual block),
    # which gives the same values and gradients without snapshotting the old values.
    def _augmented(self, other, method, operator):
        if is_grad_enabled() and (self.requires_grad or _requires_grad(other)):
            if self.requires_grad and self._node is None:
                raise RuntimeError(LEAF_MESSAGE)
            result = operator(self, other)
            if result.dtype != self.dtype and self.dtype.kind != "f":
                _write(self, result._array, method)
            return result
        return getattr(self, method)(other)

    def __iadd__(self, other):
        return self._augmented(other, "add_", api.add)

    def __isub__(self, other):
        return self._augmented(other, "sub_", api.sub)

    def __imul__(self, other):
        return self._augmented(other, "mul_", api.mul)

    def __itruediv__(self, other):
        return self._augmented(other, "div_", api.div)

    def __ipow__(self, other):
        return self._augmented(other, "pow_", api.pow)


def _legacy_alpha(tensor, other, alpha, kwargs, name):
    """PyTorch's deprecated ``add_(alpha, other)`` (``p.data.add_(-lr, p.grad)``), with its
    warning."""
    if kwargs:
        alpha = kwargs.pop("alpha", alpha)
        if "other" in kwargs:
            other = kwargs.pop("other")
        if kwargs:
            raise TypeError(f"{name}() got unexpected keyword arguments {sorted(kwargs)}")
    if (isinstance(other, (int, float)) and not isinstance(other, bool)
            and hasattr(alpha, "shape")):
        import warnings

        warnings.warn(f"This overload of {name} is deprecated:\n\t{name}(Number alpha, Tensor "
                      f"other)\nConsider using one of the following signatures instead:\n\t"
                      f"{name}(Tensor other, *, Number alpha = 1)", UserWarning, stacklevel=3)
        other, alpha = alpha, other
    if hasattr(alpha, "item"):
        alpha = alpha.item()
    return other, alpha


