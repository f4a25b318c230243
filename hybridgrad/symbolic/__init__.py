"""Symbolic programming: build a graph with Variables, compile it, run it.

The notes' example (符号式程序)::

    >>> import numpy as np
    >>> from hybridgrad.symbolic import Variable, Constant, compile
    >>> A = Variable('A')
    >>> B = Variable('B')
    >>> C = B * A            # builds a graph; computes nothing
    >>> D = C + Constant(1)
    >>> f = compile(D)       # optimizes and plans memory
    >>> f(A=np.ones(10), B=np.ones(10) * 2)
    array([3., 3., 3., 3., 3., 3., 3., 3., 3., 3.])

Every operator of eager tensors works on symbols (same functions, same broadcasting), because
:func:`hybridgrad.ops.registry.apply` hands symbolic inputs to this package's handler.
See ``docs/symbolic.md``.
"""

from hybridgrad.ops import registry as _registry
from hybridgrad.symbolic.executor import CompiledFunction, compile
from hybridgrad.symbolic.grad import grad
from hybridgrad.symbolic.graph import (
    Constant,
    Graph,
    Node,
    Symbol,
    SymbolError,
    TracingError,
    Variable,
    build_node,
    record_state_update,
    state_symbol,
)
from hybridgrad.symbolic.memory import check_plan, plan_memory
from hybridgrad.symbolic.passes import optimize

_registry.set_symbolic_handler(build_node)
_registry.set_state_update_handler(record_state_update, state_symbol)

__all__ = ["CompiledFunction", "Constant", "Graph", "Node", "Symbol", "SymbolError",
           "TracingError", "Variable", "check_plan", "compile", "grad", "optimize",
           "plan_memory"]
