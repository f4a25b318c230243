"""Tracing eager code into a graph (as ``torch.jit.trace`` / MXNet 2.0's hybridize do).

:func:`trace_graph` calls a function or module once on symbolic inputs: every operator it applies
builds a graph node instead of computing, parameters become nodes that are read each time the
compiled graph runs (so optimizer updates are seen), and the result compiles like any graph.

What cannot be traced is refused with an error naming the user's file and line:

* data-dependent Python control flow (``if x > 0``, ``bool(x)``, ``x.item()``, ``float(x)``,
  ``x.numpy()``, ``x.tolist()``): a graph has no values while it is built;
* random numbers drawn directly from :func:`hybridgrad.default_generator`: a traced draw would
  be frozen into a constant and repeat every call. Dropout (``hg.nn.Dropout``,
  ``hg.nn.functional.dropout``) traces in training mode: on symbols it builds the random
  primitive ``dropout_mask``, drawn from the default generator each time the graph runs.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.symbolic.trace import trace_graph
    >>> outputs, names = trace_graph(lambda x: hg.relu(x) * 2, [hg.ones(3)])
    >>> names, outputs[0].shape
    (['input0'], (3,))
"""

from __future__ import annotations

import numpy as np

from hybridgrad.symbolic import graph as G
from hybridgrad.symbolic.graph import Symbol, TracingError, Variable


class _NoRandomGenerator:
    """Stands in for the default generator while tracing: any draw is a clear error."""

    def __getattr__(self, name):
        filename, lineno, line = G._user_frame()
        where = f"{filename}:{lineno}" + (f": {line}" if line else "")
        raise TracingError(
            f"random numbers were drawn from hg.default_generator() while tracing (.{name}), "
            f"at {where}. A traced random mask would be frozen into a constant and repeat on "
            f"every call. Only random primitives (dropout, whose mask is the dropout_mask "
            f"operator drawn at run time) can be traced: draw through them, call model.eval() "
            f"before tracing/hybridizing, or run this step eagerly.")


def as_array(value) -> np.ndarray:
    from hybridgrad.tensor import Tensor

    if isinstance(value, Tensor):
        return value._array
    return np.asarray(value)


def trace_graph(function, example_inputs, module=None,
                state_updates: list | None = None) -> tuple[list[Symbol], list[str]]:
    """Run ``function(*symbols)`` with symbols shaped like ``example_inputs``; return the output
    symbols (a list) and the input names (``input0``, ``input1``...).

    Parameters and buffers of ``module`` get their dotted names in the graph. With a list as
    ``state_updates``, writes that the code makes into tensors (batch norm's running statistics
    in training mode) are appended to it as ``assign`` symbols, to compile as side effects;
    without one they are a :class:`TracingError`.
    """
    from hybridgrad import random as random_module

    if not isinstance(example_inputs, (list, tuple)):
        example_inputs = [example_inputs]
    swapped = []
    if module is not None:
        for name, parameter in module.named_parameters():
            G.name_tensor(parameter, name)
        for name, buffer in module.named_buffers():
            G.name_tensor(buffer, name)
        # While tracing, every module's parameters are symbols, so computations on weights
        # alone (a transpose, weight * scale) become graph nodes that read the current weights
        # at run time instead of eager results frozen at trace time. Buffers stay tensors (code
        # such as batch norm in evaluation mode computes on their arrays); the traced function
        # compares them with a snapshot on each call and traces again when they changed.
        for sub in module.modules():
            for key, value in sub._parameters.items():
                if value is not None:
                    swapped.append((sub._parameters, key, value))
                    sub._parameters[key] = Symbol(G.tensor_node(value))
    names = [f"input{i}" for i in range(len(example_inputs))]
    token = G._recorder.set([])
    updates_token = G._state_updates.set(state_updates)
    saved_generator = random_module._generator
    random_module._generator = _NoRandomGenerator()
    try:
        symbols = []
        for name, value in zip(names, example_inputs):
            array = as_array(value)
            symbols.append(Variable(name, shape=array.shape, dtype=array.dtype))
        result = function(*symbols)
    finally:
        random_module._generator = saved_generator
        G._recorder.reset(token)
        G._state_updates.reset(updates_token)
        for registry, key, value in swapped:
            registry[key] = value
    outputs = list(result) if isinstance(result, (list, tuple)) else [result]
    return [o if isinstance(o, Symbol) else Symbol(G.as_node(o)) for o in outputs], names
