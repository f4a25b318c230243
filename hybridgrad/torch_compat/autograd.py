"""``torch.autograd`` for PyTorch programs: hybridgrad's autograd functions plus the legacy
``Variable`` wrapper that old tutorials still call.

Example:
    >>> import hybridgrad as hg
    >>> x = Variable(hg.tensor([2.0]), requires_grad=True)
    >>> (y,) = grad((x * x).sum(), x)
    >>> y.tolist()
    [4.0]
"""

from __future__ import annotations

from hybridgrad.autograd import (  # noqa: F401 - re-exported under PyTorch's names
    backward,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from hybridgrad.legacy import Variable  # noqa: F401 - one legacy Variable (hybridgrad.legacy)
from hybridgrad.tensor import Tensor


class FunctionCtx:
    """The ``ctx`` of a custom :class:`Function`: ``save_for_backward``, ``saved_tensors``,
    ``needs_input_grad`` and any attribute the forward stores.

    Example:
        >>> import hybridgrad as hg
        >>> ctx = FunctionCtx(); ctx.save_for_backward(hg.ones(1)); len(ctx.saved_tensors)
        1
    """

    def __init__(self):
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()

    def save_for_backward(self, *tensors) -> None:
        """Keep ``tensors`` for ``backward`` (read back as ``ctx.saved_tensors``).

        Example:
            >>> ctx = FunctionCtx(); ctx.save_for_backward(1, 2); ctx.saved_tensors
            (1, 2)
        """
        self.saved_tensors = tuple(tensors)

    def mark_non_differentiable(self, *tensors) -> None:
        """Accepted (hybridgrad does not differentiate integer outputs anyway).

        Example:
            >>> FunctionCtx().mark_non_differentiable()
        """

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted: gradients reaching ``backward`` are always tensors here.

        Example:
            >>> FunctionCtx().set_materialize_grads(False)
        """


class Function:
    """PyTorch's custom autograd function: subclass it with static ``forward(ctx, *args)`` and
    ``backward(ctx, *grad_outputs)``, call ``MyFunction.apply(*args)``. The forward runs
    without recording; backward is called with the output's gradient and returns one gradient
    per argument (None for non-tensors). One tensor output.

    Example:
        >>> import hybridgrad as hg
        >>> class Cube(Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x ** 3
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         (x,) = ctx.saved_tensors
        ...         return grad * 3 * x ** 2
        >>> x = hg.tensor(2.0, requires_grad=True)
        >>> y = Cube.apply(x); y.backward()
        >>> y.item(), x.grad.item()
        (8.0, 12.0)
    """

    @classmethod
    def apply(cls, *args):
        """Run ``forward`` now and record it, so that ``backward`` runs in the backward pass
        (see the class example).

        Example:
            >>> import hybridgrad as hg
            >>> class Double(Function):
            ...     forward = staticmethod(lambda ctx, x: x * 2)
            ...     backward = staticmethod(lambda ctx, grad: grad * 2)
            >>> Double.apply(hg.tensor([1.0])).tolist()
            [2.0]
        """
        from hybridgrad.autograd import eager_apply
        from hybridgrad.ops.registry import OpDef

        op = cls.__dict__.get("_hybridgrad_op")
        if op is None:
            op = OpDef(name=f"{cls.__name__}", forward=_function_forward,
                       shape=lambda *specs, **attrs: None, vjp=_function_vjp)
            cls._hybridgrad_op = op
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        attrs = {"function": cls, "ctx": ctx, "args": args, "positions": positions}
        return eager_apply(op, tuple(args[i] for i in positions), attrs)


def _function_forward(xp, *arrays, function, ctx, args, positions):
    values = list(args)
    for position, array in zip(positions, arrays):
        values[position] = Tensor._wrap(array)
    with no_grad():
        output = function.forward(ctx, *values)
    if not isinstance(output, Tensor):
        raise TypeError(f"{function.__name__}.forward must return one Tensor (hybridgrad's "
                        f"autograd.Function supports a single tensor output), got "
                        f"{type(output).__name__}")
    return output._array


def _function_vjp(grad_output, inputs, output, needs, function, ctx, args, positions):
    grads = function.backward(ctx, grad_output)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(args):
        raise RuntimeError(f"{function.__name__}.backward returned {len(grads)} gradients but "
                           f"forward took {len(args)} arguments (PyTorch's rule: one per "
                           f"argument, None for those without)")
    return tuple(grads[position] for position in positions)
