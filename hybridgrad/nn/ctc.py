"""Connectionist Temporal Classification: the loss (PyTorch's ``F.ctc_loss``) and decoders.

``ctc_loss`` wraps the fused ``ctc_nll`` primitive (:mod:`hybridgrad.ops.ctc`: log-space
alpha-beta recursions vectorised over the batch and label positions). The decoders work on
NumPy arrays (or tensors) of log-probabilities shaped (T, C) or (T, N, C):

* :func:`ctc_greedy_decode`: best path (argmax per frame), repeats collapsed, blanks dropped;
* :func:`ctc_prefix_beam_search`: the standard prefix beam search, keeping for every prefix
  the log-probability of ending in a blank and in a non-blank; with a beam as wide as the
  number of prefixes it finds the exactly most probable labelling.

Example:
    >>> import hybridgrad as hg
    >>> log_probs = hg.log_softmax(hg.randn(6, 2, 4), dim=2).detach().requires_grad_()
    >>> loss = ctc_loss(log_probs, hg.tensor([[1, 2], [3, 3]]), [6, 5], [2, 2])
    >>> loss.backward()
    >>> log_probs.grad.shape
    (6, 2, 4)
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from hybridgrad.ops import api
from hybridgrad.ops.registry import apply
from hybridgrad.tensor import Tensor

__all__ = ["ctc_greedy_decode", "ctc_loss", "ctc_prefix_beam_search"]


def _int_array(name: str, value) -> np.ndarray:
    data = value._array if isinstance(value, Tensor) else np.asarray(value)
    if data.dtype.kind not in "iu" and data.size:
        raise TypeError(f"ctc_loss: {name} must hold integers, got {data.dtype}")
    return data.astype(np.int64).reshape(-1)


def _padded_targets(targets, input_lengths, target_lengths, batch: int) -> np.ndarray:
    data = targets._array if isinstance(targets, Tensor) else np.asarray(targets)
    if data.size and data.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: targets must hold integer class indices, got {data.dtype}")
    data = data.astype(np.int64)
    if data.ndim == 2:
        if data.shape[0] != batch:
            raise ValueError(f"ctc_loss: padded targets of shape {data.shape} for a batch of "
                             f"{batch}")
        if target_lengths.size and target_lengths.max() > data.shape[1]:
            raise ValueError(f"ctc_loss: target_lengths {target_lengths.tolist()} exceed the "
                             f"padded target length {data.shape[1]}")
        return data
    if data.ndim != 1:
        raise ValueError(f"ctc_loss: targets must be (N, S) padded or 1-D concatenated, got "
                         f"shape {data.shape}")
    if int(target_lengths.sum()) != data.shape[0]:
        raise ValueError(f"ctc_loss: concatenated targets have {data.shape[0]} labels but "
                         f"target_lengths sum to {int(target_lengths.sum())}")
    padded = np.zeros((batch, int(target_lengths.max()) if batch else 0), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(target_lengths)])
    for row in range(batch):
        padded[row, :target_lengths[row]] = data[offsets[row]:offsets[row + 1]]
    return padded


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False):
    """The CTC loss, with PyTorch's contract.

    Args:
        log_probs: (T, N, C) log-probabilities (log_softmax outputs); (T, C) for one sample.
        targets: class indices, padded (N, S) or concatenated 1-D (sum of target_lengths).
        input_lengths: (N,) frames used per sample (<= T).
        target_lengths: (N,) labels per sample.
        blank: the blank class.
        reduction: ``'mean'`` (each loss divided by its target length, then the batch mean),
            ``'sum'`` or ``'none'`` (per-sample losses).
        zero_infinity: impossible alignments (infinite losses) and their gradients become 0.

    The gradient is exact (alpha-beta); the second derivative is not implemented.

    Example:
        >>> import hybridgrad as hg
        >>> log_probs = hg.log_softmax(hg.zeros(3, 1, 2), dim=2)   # 8 equally likely paths
        >>> round(ctc_loss(log_probs, hg.tensor([[1]]), [3], [1], reduction="sum").item(), 4)
        0.2877
        >>> ctc_loss(log_probs, hg.tensor([[1, 1, 1]]), [3], [3], reduction="none").tolist()
        [inf]
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"ctc_loss: reduction must be 'none', 'mean' or 'sum', got "
                         f"{reduction!r}")
    shape = tuple(log_probs.shape)
    unbatched = len(shape) == 2
    if unbatched:
        log_probs = api.unsqueeze(log_probs, 1)
        shape = tuple(log_probs.shape)
    if len(shape) != 3:
        raise ValueError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got shape {shape}")
    steps, batch, classes = shape
    if not 0 <= blank < classes:
        raise ValueError(f"ctc_loss: blank {blank} is not a class index for {classes} classes")
    input_lengths = _int_array("input_lengths", input_lengths)
    target_lengths = _int_array("target_lengths", target_lengths)
    if unbatched:
        targets_data = targets._array if isinstance(targets, Tensor) else np.asarray(targets)
        targets = targets_data.reshape(1, -1)
    for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if lengths.shape != (batch,):
            raise ValueError(f"ctc_loss: {name} must have shape ({batch},), got "
                             f"{lengths.shape}")
        if (lengths < 0).any():
            raise ValueError(f"ctc_loss: {name} must be non-negative, got {lengths.tolist()}")
    if (input_lengths > steps).any():
        raise ValueError(f"ctc_loss: input_lengths {input_lengths.tolist()} exceed T={steps}")
    padded = _padded_targets(targets, input_lengths, target_lengths, batch)
    used = np.arange(padded.shape[1])[None, :] < target_lengths[:, None]
    labels = padded[used]
    if labels.size and (labels.min() < 0 or labels.max() >= classes or (labels == blank).any()):
        raise ValueError(f"ctc_loss: targets must be class indices in [0, {classes}) other than "
                         f"the blank {blank}; got {np.unique(labels).tolist()}")
    nll = apply("ctc_nll", log_probs, Tensor._wrap(padded), Tensor._wrap(input_lengths),
                Tensor._wrap(target_lengths), blank=int(blank), zero_infinity=bool(zero_infinity))
    if reduction == "sum":
        return api.sum(nll)
    if reduction == "mean":
        divisor = np.maximum(target_lengths, 1).astype(nll.dtype)
        return api.mean(nll / Tensor._wrap(divisor))
    return api.reshape(nll, ()) if unbatched else nll


# ----------------------------------------------------------------------------------------------
# Decoding.


def _log_prob_array(log_probs) -> np.ndarray:
    data = log_probs._array if isinstance(log_probs, Tensor) else np.asarray(log_probs)
    if data.ndim not in (2, 3):
        raise ValueError(f"ctc decoding: log_probs must be (T, C) or (T, N, C), got shape "
                         f"{data.shape}")
    return data


def _lengths(input_lengths, steps: int, batch: int) -> np.ndarray:
    if input_lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    lengths = _int_array("input_lengths", input_lengths)
    if lengths.shape != (batch,) or (lengths > steps).any() or (lengths < 0).any():
        raise ValueError(f"ctc decoding: input_lengths {lengths.tolist()} must be {batch} values "
                         f"in [0, {steps}]")
    return lengths


def _collapse(path, blank: int) -> list[int]:
    labels, previous = [], None
    for label in path:
        label = int(label)
        if label != previous and label != blank:
            labels.append(label)
        previous = label
    return labels


def ctc_greedy_decode(log_probs, input_lengths=None, blank: int = 0):
    """Best-path decoding: argmax per frame, collapse repeats, drop blanks.

    Returns one label list per sample for (T, N, C) input, or one list for (T, C).

    Example:
        >>> import numpy as np
        >>> probs = np.array([[0.1, 0.9], [0.2, 0.8], [0.9, 0.1], [0.3, 0.7]])
        >>> ctc_greedy_decode(np.log(probs))
        [1, 1]
    """
    data = _log_prob_array(log_probs)
    if data.ndim == 2:
        return ctc_greedy_decode(data[:, None, :], input_lengths, blank)[0]
    steps, batch, _ = data.shape
    lengths = _lengths(input_lengths, steps, batch)
    best = data.argmax(axis=2)
    return [_collapse(best[:lengths[n], n], blank) for n in range(batch)]


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    top = max(a, b)
    return top + math.log1p(math.exp(-abs(a - b)))


def _beam_search_one(log_probs: np.ndarray, beam_width: int, blank: int):
    # Each prefix keeps (log P(prefix, ending in blank), log P(prefix, ending in a label)).
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, -math.inf)}
    classes = log_probs.shape[1]
    for frame in log_probs:
        frame = [float(v) for v in frame]
        following: dict[tuple, list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (ends_blank, ends_label) in beams.items():
            total = _logaddexp(ends_blank, ends_label)
            for label in range(classes):
                score = frame[label]
                if score == -math.inf:
                    continue
                if label == blank:
                    entry = following[prefix]
                    entry[0] = _logaddexp(entry[0], total + score)
                    continue
                extended = prefix + (label,)
                entry = following[extended]
                if prefix and prefix[-1] == label:
                    # A repeated label needs a blank in between to extend the prefix; without
                    # one it merges into the prefix's last label.
                    entry[1] = _logaddexp(entry[1], ends_blank + score)
                    same = following[prefix]
                    same[1] = _logaddexp(same[1], ends_label + score)
                else:
                    entry[1] = _logaddexp(entry[1], total + score)
        ranked = sorted(following.items(), key=lambda item: -_logaddexp(*item[1]))
        beams = {prefix: (scores[0], scores[1]) for prefix, scores in ranked[:beam_width]}
    ranked = sorted(beams.items(), key=lambda item: -_logaddexp(*item[1]))
    prefix, (ends_blank, ends_label) = ranked[0]
    return list(prefix), _logaddexp(ends_blank, ends_label)


def ctc_prefix_beam_search(log_probs, beam_width: int = 10, blank: int = 0, input_lengths=None):
    """Prefix beam search over CTC log-probabilities (T, C) or (T, N, C).

    Returns ``(labels, log_score)`` for (T, C) input, or a list of such pairs for (T, N, C).
    ``log_score`` is the log-probability of the labelling summed over all the alignments the
    beam kept (exact when the beam never pruned a prefix of it).

    Example:
        >>> import numpy as np
        >>> probs = np.array([[0.6, 0.4], [0.6, 0.4]])   # greedy says [] (p=0.36)
        >>> labels, score = ctc_prefix_beam_search(np.log(probs))
        >>> labels, round(float(np.exp(score)), 2)        # [1]: 0.24 + 0.24 + 0.16
        ([1], 0.64)
    """
    if beam_width < 1:
        raise ValueError(f"ctc_prefix_beam_search: beam_width must be >= 1, got {beam_width}")
    data = _log_prob_array(log_probs).astype(np.float64)
    if data.ndim == 2:
        return ctc_prefix_beam_search(data[:, None, :], beam_width, blank, input_lengths)[0]
    steps, batch, _ = data.shape
    lengths = _lengths(input_lengths, steps, batch)
    return [_beam_search_one(data[:lengths[n], n], beam_width, blank) for n in range(batch)]
