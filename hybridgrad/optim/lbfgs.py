"""L-BFGS (limited-memory BFGS) with PyTorch's options and optional strong-Wolfe line search.

L-BFGS runs **eagerly only**: each ``step(closure)`` re-evaluates the model several times through
the closure (a forward and backward pass per evaluation), which a compiled training step cannot
contain; :func:`hybridgrad.jit.train_step` refuses it with a clear error.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([3.0, -2.0]))
    >>> optimizer = LBFGS([w], lr=1.0)
    >>> def closure():
    ...     optimizer.zero_grad()
    ...     loss = ((w - hg.tensor([1.0, 2.0])) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = optimizer.step(closure)
    >>> [round(v, 4) for v in w.tolist()]     # a quadratic: solved within one step
    [1.0, 2.0]
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Iterable

import numpy as np

from hybridgrad.autograd import enable_grad, no_grad
from hybridgrad.optim.optimizer import Optimizer
from hybridgrad.tensor import Tensor


class LBFGS(Optimizer):
    """PyTorch's L-BFGS: the two-loop recursion over the last ``history_size`` curvature pairs
    gives a search direction; the step is ``lr`` (the first one scaled by ``1 / sum|g|``) or
    the one a strong-Wolfe line search finds (``line_search_fn="strong_wolfe"``). One step
    runs up to ``max_iter`` iterations and ``max_eval`` closure evaluations (default
    ``max_iter * 5 // 4``), stopping early when the gradient's largest entry is at most
    ``tolerance_grad`` or the step or loss change is below ``tolerance_change``.

    Eager only (it needs a closure; see the module's note). Like PyTorch's, it supports one
    parameter group.

    Example:
        >>> import hybridgrad as hg
        >>> LBFGS([hg.nn.Parameter(hg.zeros(1))]).param_groups[0]["max_eval"]
        25
    """

    _compilable = False

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def update(self, param, grad, state, group) -> None:
        """Refused: L-BFGS has no per-parameter rule (it needs a closure, eager only)."""
        raise NotImplementedError(
            "LBFGS runs eagerly only: each step re-evaluates the model through a closure "
            "(several forward and backward passes), which a compiled training step cannot "
            "contain; call optimizer.step(closure) in an eager loop")

    def _loaded_value(self, key: str, value, param: Tensor):
        # (the state holds vectors over all parameters, not values shaped like the first one)
        return copy.deepcopy(value)

    # Flat views of all parameters and gradients.
    def _flat_grad(self) -> np.ndarray:
        parts = [np.zeros(p._array.size, p._array.dtype) if p.grad is None
                 else p.grad._array.reshape(-1).astype(p._array.dtype, copy=False)
                 for p in self._params]
        return np.concatenate(parts)

    def _add_to_params(self, step_size: float, direction: np.ndarray) -> None:
        offset = 0
        for param in self._params:
            count = param._array.size
            param._array += (step_size * direction[offset:offset + count]).reshape(
                param._array.shape).astype(param._array.dtype, copy=False)
            offset += count

    def _set_params(self, arrays: list) -> None:
        for param, array in zip(self._params, arrays):
            np.copyto(param._array, array)

    def _evaluate_at(self, closure, start: list, step_size: float, direction: np.ndarray):
        """Loss and flat gradient at ``start + step_size * direction`` (parameters restored)."""
        self._add_to_params(step_size, direction)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._flat_grad()
        self._set_params(start)
        return loss, flat_grad

    def step(self, closure: Callable | None = None):
        """One L-BFGS step (up to ``max_iter`` iterations); ``closure`` is required: it zeroes
        the gradients, computes the loss, calls ``backward()`` and returns the loss. Returns the
        loss of the first evaluation."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that re-evaluates the model and "
                             "returns the loss (see hybridgrad.optim.LBFGS)")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            original_loss = closure()
        loss = float(original_loss)
        evaluations = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max(initial=0) <= tolerance_grad:
            return original_loss

        direction = _array(state.get("d"))
        step_size = state.get("t")
        old_dirs = [_array(v) for v in state.get("old_dirs", [])]
        old_steps = [_array(v) for v in state.get("old_stps", [])]
        inverse_curvatures = list(state.get("ro", []))
        hessian_diagonal = state.get("H_diag", 1.0)
        previous_grad = _array(state.get("prev_flat_grad"))
        previous_loss = state.get("prev_loss")

        iterations = 0
        with no_grad():
            while iterations < max_iter:
                iterations += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    direction = -flat_grad
                    old_dirs, old_steps, inverse_curvatures = [], [], []
                    hessian_diagonal = 1.0
                else:
                    change = flat_grad - previous_grad
                    moved = direction * step_size
                    curvature = float(change @ moved)
                    if curvature > 1e-10:   # keep only pairs with positive curvature
                        if len(old_dirs) == history_size:
                            old_dirs.pop(0)
                            old_steps.pop(0)
                            inverse_curvatures.pop(0)
                        old_dirs.append(change)
                        old_steps.append(moved)
                        inverse_curvatures.append(1.0 / curvature)
                        hessian_diagonal = curvature / float(change @ change)
                    direction = _two_loop(flat_grad, old_dirs, old_steps, inverse_curvatures,
                                          hessian_diagonal)
                previous_grad = flat_grad.copy()
                previous_loss = loss
                if state["n_iter"] == 1:
                    step_size = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
                else:
                    step_size = lr
                slope = float(flat_grad @ direction)
                if slope > -tolerance_change:   # not a descent direction
                    break
                line_evaluations = 0
                if group["line_search_fn"] == "strong_wolfe":
                    start = [p._array.copy() for p in self._params]

                    def objective(step, start=start, direction=direction):
                        return self._evaluate_at(closure, start, step, direction)

                    loss, flat_grad, step_size, line_evaluations = strong_wolfe(
                        objective, step_size, direction, loss, flat_grad, slope)
                    self._add_to_params(step_size, direction)
                    converged = np.abs(flat_grad).max(initial=0) <= tolerance_grad
                else:
                    self._add_to_params(step_size, direction)
                    converged = False
                    if iterations != max_iter:
                        with enable_grad():
                            loss = float(closure())
                        flat_grad = self._flat_grad()
                        converged = np.abs(flat_grad).max(initial=0) <= tolerance_grad
                        line_evaluations = 1
                evaluations += line_evaluations
                state["func_evals"] += line_evaluations
                if iterations == max_iter or evaluations >= max_eval or converged:
                    break
                if np.abs(direction * step_size).max(initial=0) <= tolerance_change:
                    break
                if abs(loss - previous_loss) < tolerance_change:
                    break

        state.update({
            "d": _tensor(direction), "t": step_size,
            "old_dirs": [_tensor(v) for v in old_dirs],
            "old_stps": [_tensor(v) for v in old_steps],
            "ro": inverse_curvatures, "H_diag": hessian_diagonal,
            "prev_flat_grad": _tensor(previous_grad), "prev_loss": previous_loss})
        return original_loss


def _array(value):
    return value._array if isinstance(value, Tensor) else value


def _tensor(value):
    return None if value is None else Tensor._wrap(np.array(value, copy=True))


def _two_loop(flat_grad, old_dirs, old_steps, inverse_curvatures, hessian_diagonal):
    """The L-BFGS two-loop recursion: ``-H g`` for the inverse-Hessian estimate ``H`` the
    stored pairs define (Nocedal & Wright, Algorithm 7.4)."""
    alphas = [0.0] * len(old_dirs)
    q = -flat_grad
    for i in range(len(old_dirs) - 1, -1, -1):
        alphas[i] = float(old_steps[i] @ q) * inverse_curvatures[i]
        q = q - alphas[i] * old_dirs[i]
    result = q * hessian_diagonal
    for i in range(len(old_dirs)):
        beta = float(old_dirs[i] @ result) * inverse_curvatures[i]
        result = result + (alphas[i] - beta) * old_steps[i]
    return result


def cubic_minimum(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                  bounds: tuple | None = None) -> float:
    """The minimizer of the cubic through ``(x1, f1)`` and ``(x2, f2)`` with slopes ``g1``,
    ``g2``, clipped to ``bounds`` (default: between the two points); the bounds' midpoint when
    the cubic has no minimum.

    Example:
        >>> round(cubic_minimum(0.0, 1.0, -2.0, 2.0, 1.0, 2.0), 6)   # (x - 1)^2: minimum at 1
        1.0
    """
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1 * d1 - g1 * g2
    if square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(square)
    if x1 <= x2:
        position = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        position = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(position, low), high)


def strong_wolfe(objective, step: float, direction: np.ndarray, loss: float,
                 flat_grad: np.ndarray, slope: float, c1: float = 1e-4, c2: float = 0.9,
                 tolerance_change: float = 1e-9, max_evaluations: int = 25) -> tuple:
    """A step satisfying the strong Wolfe conditions (sufficient decrease ``c1``, curvature
    ``c2``) along ``direction``: bracketing, then zooming with cubic interpolation (Nocedal &
    Wright, Algorithms 3.5 and 3.6). ``objective(step) -> (loss, flat gradient)``. Returns
    ``(loss, flat gradient, step, evaluations)``.

    Example:
        >>> import numpy as np
        >>> objective = lambda t: ((t - 3.0) ** 2, np.array([2 * (t - 3.0)]))
        >>> found = strong_wolfe(objective, 1.0, np.array([1.0]), 9.0, np.array([-6.0]), -6.0,
        ...                      c2=0.1)
        >>> round(found[2], 4), found[3]   # (t = 1 is too flat a point for c2 = 0.1)
        (3.0, 2)
    """
    direction_size = float(np.abs(direction).max(initial=0))
    new_loss, new_grad = objective(step)
    evaluations = 1
    new_slope = float(new_grad @ direction)
    previous = (0.0, loss, flat_grad, slope)
    done = False
    searches = 0
    bracket = None
    while searches < max_evaluations:
        if new_loss > loss + c1 * step * slope or (searches > 1 and new_loss >= previous[1]):
            bracket = [previous, (step, new_loss, new_grad, new_slope)]
            break
        if abs(new_slope) <= -c2 * slope:
            bracket, done = [(step, new_loss, new_grad, new_slope)], True
            break
        if new_slope >= 0:
            bracket = [previous, (step, new_loss, new_grad, new_slope)]
            break
        # Extrapolate: between 1.01 and 10 times the current step.
        low, high = step + 0.01 * (step - previous[0]), step * 10
        chosen = cubic_minimum(previous[0], previous[1], previous[3], step, new_loss, new_slope,
                               bounds=(low, high))
        previous = (step, new_loss, new_grad, new_slope)
        step = chosen
        new_loss, new_grad = objective(step)
        evaluations += 1
        new_slope = float(new_grad @ direction)
        searches += 1
    if searches == max_evaluations:
        bracket = [(0.0, loss, flat_grad, slope), (step, new_loss, new_grad, new_slope)]

    # Zoom into the bracket until a point satisfies both conditions.
    progress_poor = False
    low_index, high_index = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    while not done and searches < max_evaluations:
        steps = [entry[0] for entry in bracket]
        if abs(steps[1] - steps[0]) * direction_size < tolerance_change:
            break
        step = cubic_minimum(bracket[0][0], bracket[0][1], bracket[0][3],
                             bracket[1][0], bracket[1][1], bracket[1][3])
        # Keep away from the bracket's ends (where interpolation makes little progress).
        margin = 0.1 * (max(steps) - min(steps))
        if min(max(steps) - step, step - min(steps)) < margin:
            if progress_poor or step >= max(steps) or step <= min(steps):
                step = (max(steps) - margin if abs(step - max(steps)) < abs(step - min(steps))
                        else min(steps) + margin)
                progress_poor = False
            else:
                progress_poor = True
        else:
            progress_poor = False
        new_loss, new_grad = objective(step)
        evaluations += 1
        new_slope = float(new_grad @ direction)
        searches += 1
        entry = (step, new_loss, new_grad, new_slope)
        if new_loss > loss + c1 * step * slope or new_loss >= bracket[low_index][1]:
            bracket[high_index] = entry
            low_index, high_index = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(new_slope) <= -c2 * slope:
                done = True
            elif new_slope * (bracket[high_index][0] - bracket[low_index][0]) >= 0:
                bracket[high_index] = bracket[low_index]
            bracket[low_index] = entry
    best = bracket[low_index] if len(bracket) > 1 else bracket[0]
    return best[1], best[2], best[0], evaluations
