"""Symbolic differentiation: gradient graphs built by the registry's own VJP functions.

:func:`grad` walks the graph from the output back to the inputs and calls each operator's
``vjp`` on *symbols*. The VJPs are written with framework operators, so calling them on symbols
builds the backward graph; broadcast gradients are reduced with the autograd engine's
:func:`hybridgrad.autograd.sum_to`, exactly as in eager mode. The forward and backward graphs
then compile together (and share nodes: the backward reads forward values directly).

Example:
    >>> import numpy as np
    >>> from hybridgrad.symbolic import Variable, compile, grad
    >>> A = Variable('A', shape=(3,)); B = Variable('B', shape=(3,))
    >>> y = (A * B).sum()
    >>> dA, dB = grad(y, [A, B])
    >>> compile([dA, dB])(A=np.float32([1, 2, 3]), B=np.float32([4, 5, 6]))[0]
    array([4., 5., 6.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from hybridgrad.autograd import sum_to
from hybridgrad.symbolic.graph import (
    Symbol,
    SymbolError,
    as_node,
    const_node,
    resolve_weak,
    topological,
)


def grad(output, inputs, grad_output=None, allow_unused: bool = False) -> list:
    """Symbols for d(output)/d(input) for each input (Variables, intermediate symbols or eager
    tensors such as parameters).

    ``grad_output`` seeds the backward pass (default: ones, for an output of one element).
    Inputs the output does not depend on raise an error, or give None with
    ``allow_unused=True``.

    Example:
        >>> from hybridgrad.symbolic import Variable, grad
        >>> x = Variable('x', shape=())
        >>> grad(x * x, [x])[0].node.op.name
        'add'
    """
    single = not isinstance(inputs, (list, tuple))
    inputs = [inputs] if single else list(inputs)
    root = as_node(output)
    if root.spec is None:
        raise SymbolError("grad: the output's shape is unknown; give the Variables shapes "
                          "(Variable(name, shape=..., dtype=...)) before differentiating")
    wanted = [as_node(value) for value in inputs]
    order = topological([root])
    wanted_ids = {node.id for node in wanted}
    depends: set[int] = set()
    for node in order:
        if node.id in wanted_ids or any(c.id in depends for c in node.inputs):
            depends.add(node.id)
    if grad_output is None:
        if int(np.prod(root.spec.shape, dtype=np.int64)) != 1:
            raise SymbolError(f"grad: the output has shape {tuple(root.spec.shape)}; pass "
                              f"grad_output= for outputs of more than one element")
        seed = Symbol(const_node(np.ones(root.spec.shape, dtype=root.spec.dtype)))
    else:
        seed = grad_output if isinstance(grad_output, Symbol) else Symbol(as_node(grad_output))
    grads: dict[int, Symbol] = {root.id: seed}
    found: dict[int, Symbol] = {}
    for node in reversed(order):
        g = grads.pop(node.id, None)
        if g is None:
            continue
        if node.id in wanted_ids:
            found[node.id] = g
        if node.kind != "op" or node.op.vjp is None:
            continue
        needs = tuple(c.id in depends for c in node.inputs)
        if not any(needs):
            continue
        operands = []
        for child, spec in zip(node.inputs, resolve_weak(node.inputs)):
            if child.weak:
                child = const_node(np.asarray(child.value, dtype=spec.dtype))
            operands.append(Symbol(child))
        args = (operands,) if node.op.variadic else tuple(operands)
        input_grads = node.op.vjp(g, args, Symbol(node), needs, **node.attrs)
        for needed, child, input_grad in zip(needs, node.inputs, input_grads):
            if not needed or input_grad is None:
                continue
            if not isinstance(input_grad, Symbol):
                input_grad = Symbol(as_node(input_grad))
            input_grad = sum_to(input_grad, tuple(child.spec.shape))
            if input_grad.dtype != child.spec.dtype:
                input_grad = input_grad.to(child.spec.dtype)
            previous = grads.get(child.id)
            grads[child.id] = input_grad if previous is None else previous + input_grad
    results = []
    for index, node in enumerate(wanted):
        value = found.get(node.id)
        if value is None and not allow_unused:
            raise SymbolError(f"grad: input {index} ({node.label}) was not used to compute the "
                              f"output; pass allow_unused=True to get None for it")
        results.append(value)
    return results
