"""Fused CTC primitives: the per-sample negative log-likelihood and its alpha-beta gradient.

``ctc_nll(log_probs (T, N, C), targets (N, S), input_lengths (N,), target_lengths (N,))`` runs
the forward (alpha) recursion over the extended label sequence ``blank, l1, blank, l2, ...,
blank`` in log space, vectorised over the batch and the label positions, with a Python loop
only over time. The gradient is ``-grad * occupancy`` from the alpha and beta recursions: the
true partial derivative of the loss with respect to ``log_probs`` (PyTorch's kernel returns
``exp(log_probs) - occupancy`` instead, which only agrees after a log_softmax backward; both
give the same gradient for the logits). A first-order backward computes it on arrays from the
alphas the forward saved (``forward_saving`` and ``vjp_array``, as PyTorch saves them); the VJP
in framework operators (symbolic graphs, ``create_graph``) is a second primitive,
``ctc_nll_backward``, which recomputes the alphas.

The second derivative is not implemented: differentiating ``ctc_nll_backward`` raises.

Example:
    >>> import numpy as np, hybridgrad as hg
    >>> from hybridgrad.ops.registry import apply
    >>> log_probs = hg.log_softmax(hg.zeros(2, 1, 2), dim=2)
    >>> nll = apply("ctc_nll", log_probs, hg.tensor([[1]]), hg.tensor([2]), hg.tensor([1]),
    ...             blank=0, zero_infinity=False)
    >>> round(float(np.exp(-nll.item())), 4)   # paths 01, 10, 11 out of four
    0.75
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.ops.registry import Spec, register

# The CTC primitives' facts: a loss over whole sequences, computed by its own recursions.
_CTC_FACTS = {"rows": "sums over time steps and labels; the batch axis is not the first",
              "out_kernel": "alpha/beta recursions allocate their own tables"}

NEG_INF = -math.inf


def _logaddexp3(xp, a, b, c, out=None):
    """Elementwise log(exp(a) + exp(b) + exp(c)) that is exact for -inf entries."""
    top = xp.maximum(a, b)
    xp.maximum(top, c, out=top)
    # Where all three are -inf, shift by 0: exp(-inf) = 0 and log(0) = -inf, as it should be.
    # (np.errstate is NumPy's warning mode, not array code: it does nothing to other backends,
    # and keeps the forward quiet where it is called directly, as the graph executor does.)
    top[top == NEG_INF] = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        total = xp.exp(a - top)
        total += xp.exp(b - top)
        total += xp.exp(c - top)
        xp.log(total, out=total)
    return xp.add(total, top, out=out)


def _extended(xp, targets, target_lengths, blank: int):
    """Extended labels (N, 2S+1), the skip mask (s may come from s-2) and the valid mask."""
    batch, max_target = targets.shape
    length = 2 * max_target + 1
    positions = xp.arange(length)
    label_index = xp.clip((positions - 1) // 2, 0, max(max_target - 1, 0))
    valid = positions[None, :] < (2 * target_lengths[:, None] + 1)
    extended = xp.full((batch, length), blank, dtype=xp.int64)
    if max_target:
        labels = targets[:, label_index].astype(xp.int64)
        odd = (positions % 2 == 1)[None, :] & valid
        extended = xp.where(odd, labels, blank)
    previous = xp.concatenate([xp.full((batch, 2), -1, dtype=xp.int64), extended[:, :-2]], axis=1)
    skip = (positions % 2 == 1)[None, :] & (positions >= 2)[None, :] & (extended != previous)
    return extended, skip, valid


def _emissions(xp, log_probs, extended):
    """log_probs[t, n, extended[n, s]] for every t: shape (T, N, L)."""
    batch = log_probs.shape[1]
    return log_probs[:, xp.arange(batch)[:, None], extended]


def _alphas(xp, emissions, skip, input_lengths):
    """Forward variables log alpha_t(s) (T, N, L); -inf for t >= input_length.

    ``emissions`` are -inf at the padded label positions, so no other validity mask is needed.
    """
    steps, batch, length = emissions.shape
    alphas = xp.full((steps, batch, length), NEG_INF, dtype=emissions.dtype)
    if steps == 0:
        return alphas
    alpha = alphas[0]
    alpha[:, :2] = emissions[0, :, :2]
    alpha[input_lengths <= 0] = NEG_INF
    skip_add = xp.where(skip, 0.0, NEG_INF).astype(emissions.dtype)
    step = xp.full((batch, length), NEG_INF, dtype=emissions.dtype)
    jump = xp.full((batch, length), NEG_INF, dtype=emissions.dtype)
    shortest = int(input_lengths.min()) if batch else 0
    for t in range(1, steps):
        step[:, 1:] = alpha[:, :-1]
        xp.add(alpha[:, :-2], skip_add[:, 2:], out=jump[:, 2:])
        alpha = _logaddexp3(xp, alpha, step, jump, out=alphas[t])
        alpha += emissions[t]
        if t >= shortest:
            alpha[t >= input_lengths] = NEG_INF
    return alphas


def _betas(xp, emissions, skip, input_lengths, target_lengths):
    """Backward variables log beta_t(s) (T, N, L), excluding the emission at t itself.

    beta_t(s) = log P(rest of the labelling from t+1 on | in state s at t), so that
    alpha_t(s) + beta_t(s) - log p is the log occupancy of state s at time t.
    """
    steps, batch, length = emissions.shape
    betas = xp.full((steps, batch, length), NEG_INF, dtype=emissions.dtype)
    rows = xp.arange(batch)
    final = xp.full((batch, length), NEG_INF, dtype=emissions.dtype)
    final[rows, 2 * target_lengths] = 0.0
    has_label = target_lengths > 0
    final[rows[has_label], 2 * target_lengths[has_label] - 1] = 0.0
    # State s may jump to s+2 when s+2 may be reached from s by a skip.
    skip_from_add = xp.where(skip[:, 2:], 0.0, NEG_INF).astype(emissions.dtype)
    step = xp.full((batch, length), NEG_INF, dtype=emissions.dtype)
    jump = xp.full((batch, length), NEG_INF, dtype=emissions.dtype)
    following = xp.empty((batch, length), dtype=emissions.dtype)
    beta = betas[steps - 1] if steps else None
    for t in range(steps - 1, -1, -1):
        if t + 1 < steps:
            xp.add(beta, emissions[t + 1], out=following)
            step[:, :-1] = following[:, 1:]
            xp.add(following[:, 2:], skip_from_add, out=jump[:, :-2])
            beta = _logaddexp3(xp, following, step, jump, out=betas[t])
            beta[t > input_lengths - 1] = NEG_INF
        else:
            beta = betas[t]
        ending = t == input_lengths - 1
        if ending.any():
            beta[ending] = final[ending]
    return betas


def _log_likelihood(xp, alphas, input_lengths, target_lengths):
    steps, batch, _ = alphas.shape
    rows = xp.arange(batch)
    result = xp.where(target_lengths == 0, 0.0, NEG_INF).astype(alphas.dtype)
    has_time = input_lengths > 0
    if steps == 0 or not has_time.any():
        return result
    last = alphas[xp.clip(input_lengths - 1, 0, steps - 1), rows]
    end_blank = last[rows, 2 * target_lengths]
    end_label = xp.where(target_lengths > 0, last[rows, xp.maximum(2 * target_lengths - 1, 0)],
                         NEG_INF)
    with np.errstate(divide="ignore"):
        total = xp.logaddexp(end_blank, end_label)
    return xp.where(has_time, total, result).astype(alphas.dtype)


def _prepare(xp, log_probs, targets, input_lengths, target_lengths, blank):
    input_lengths = input_lengths.astype(xp.int64).reshape(-1)
    target_lengths = target_lengths.astype(xp.int64).reshape(-1)
    extended, skip, valid = _extended(xp, targets.astype(xp.int64), target_lengths, blank)
    emissions = _emissions(xp, log_probs, extended)
    emissions[:, ~valid] = NEG_INF
    return extended, emissions, skip, valid, input_lengths, target_lengths


def _ctc_shape(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
    return Spec((log_probs.shape[1],), log_probs.dtype)


def _ctc_vjp(grad, inputs, output, needs, blank, zero_infinity):
    log_probs, targets, input_lengths, target_lengths = inputs
    return (ctc_nll_backward(grad, log_probs, targets, input_lengths, target_lengths, output,
                             blank, zero_infinity), None, None, None)


def _ctc_vjp_array(xp, grad, inputs, output, saved, needs, blank, zero_infinity):
    """First order: the alpha-beta gradient from the alphas the forward saved."""
    log_probs, targets, input_lengths, target_lengths = inputs
    return (_ctc_gradient(xp, grad, log_probs, targets, input_lengths, target_lengths, blank,
                          zero_infinity, saved[0]), None, None, None)


def _ctc_nll_saving(xp, log_probs, targets, input_lengths, target_lengths, blank,
                    zero_infinity):
    """The forward, also returning its alphas (T, N, L), which the backward needs."""
    _, emissions, skip, _, input_lengths, target_lengths = _prepare(
        xp, log_probs, targets, input_lengths, target_lengths, blank)
    alphas = _alphas(xp, emissions, skip, input_lengths)
    nll = 0.0 - _log_likelihood(xp, alphas, input_lengths, target_lengths)  # +0.0, never -0.0
    if zero_infinity:
        nll = xp.where(xp.isinf(nll), 0.0, nll)
    return xp.ascontiguousarray(nll, dtype=log_probs.dtype), (alphas,)


@register("ctc_nll", gradcheck="tests/nn/test_ctc.py",
          shape=_ctc_shape, vjp=_ctc_vjp, float_only=False, aliasing="fresh", why_not=_CTC_FACTS,
          formula="-log p_ctc({a} | {b})",
          derivatives=("-occupancy of each label at each time step", "0", "0", "0"),
          arg_names=("a", "b", "c", "d"),
          forward_saving=_ctc_nll_saving, vjp_array=_ctc_vjp_array)
def _ctc_nll(xp, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
    """Per-sample CTC negative log-likelihood (N,), inf for impossible alignments."""
    return _ctc_nll_saving(xp, log_probs, targets, input_lengths, target_lengths, blank,
                           zero_infinity)[0]


def _no_second_derivative(grad, inputs, output, needs, blank, zero_infinity):
    raise NotImplementedError("ctc_loss: the second derivative (gradient of the CTC gradient) "
                              "is not implemented")


@register("ctc_nll_backward", gradcheck="tests/nn/test_ctc.py",

          shape=lambda grad, log_probs, *rest, blank, zero_infinity: Spec(
              tuple(log_probs.shape), log_probs.dtype),
          vjp=_no_second_derivative, float_only=False, formula="ctc_backward({a})",
          aliasing="fresh", why_not=_CTC_FACTS,
          derivatives=("not implemented",) * 6, arg_names=("a", "b", "c", "d", "e", "f"))
def _ctc_nll_backward(xp, grad, log_probs, targets, input_lengths, target_lengths, nll, blank,
                      zero_infinity):
    """Gradient of the per-sample NLL w.r.t. log_probs, scaled by the incoming grad (N,).
    (``nll``, the forward's output, is not read: the alphas are recomputed here.)"""
    return _ctc_gradient(xp, grad, log_probs, targets, input_lengths, target_lengths, blank,
                         zero_infinity, None)


def _ctc_gradient(xp, grad, log_probs, targets, input_lengths, target_lengths, blank,
                  zero_infinity, alphas):
    """-grad * occupancy per class, from the forward's alphas (recomputed when None)."""
    extended, emissions, skip, valid, input_lengths, target_lengths = _prepare(
        xp, log_probs, targets, input_lengths, target_lengths, blank)
    if alphas is None or alphas.shape != emissions.shape:
        alphas = _alphas(xp, emissions, skip, input_lengths)
    betas = _betas(xp, emissions, skip, input_lengths, target_lengths)
    log_likelihood = _log_likelihood(xp, alphas, input_lengths, target_lengths)
    impossible = ~xp.isfinite(log_likelihood)
    safe = xp.where(impossible, 0.0, log_likelihood)
    with np.errstate(invalid="ignore", over="ignore"):
        occupancy = alphas + betas
        occupancy -= safe[None, :, None]
        xp.exp(occupancy, out=occupancy)  # (T, N, L), each entry in [0, 1]
    steps, batch, classes = log_probs.shape
    one_hot = xp.zeros((batch, extended.shape[1], classes), dtype=log_probs.dtype)
    xp.put_along_axis(one_hot, extended[:, :, None], 1.0, axis=2)
    one_hot *= valid[:, :, None]
    # (N, T, L) @ (N, L, C) -> (N, T, C): occupancy summed over the states of each class.
    per_class = xp.matmul(occupancy.transpose(1, 0, 2), one_hot).transpose(1, 0, 2)
    scale = -grad.reshape(-1).astype(log_probs.dtype)
    if zero_infinity:
        scale = xp.where(impossible, 0.0, scale)
    else:
        scale = xp.where(impossible, xp.nan, scale)
    return (per_class * scale[None, :, None].astype(log_probs.dtype)).astype(log_probs.dtype,
                                                                               copy=False)


def ctc_nll_backward(grad, log_probs, targets, input_lengths, target_lengths, nll, blank: int,
                     zero_infinity: bool):
    """Apply the ``ctc_nll_backward`` primitive (the VJP of ``ctc_nll`` in framework operators;
    ``nll`` is the forward's output, an input of the primitive that its array code does not
    read).

    Example:
        >>> import hybridgrad as hg
        >>> log_probs = hg.log_softmax(hg.zeros(1, 1, 2), dim=2)
        >>> nll = hg.tensor([0.6931])
        >>> ctc_nll_backward(hg.ones(1), log_probs, hg.tensor([[1]]), hg.tensor([1]),
        ...                  hg.tensor([1]), nll, 0, False).tolist()
        [[[-0.0, -1.0]]]
    """
    from hybridgrad.ops.registry import apply

    return apply("ctc_nll_backward", grad, log_probs, targets, input_lengths, target_lengths, nll,
                 blank=blank, zero_infinity=zero_infinity)
