"""Label encodings: ``one_hot`` (PyTorch's, defined in :mod:`hybridgrad.labels`), the
notes' fixed-length text one-hot codec and a variable-length codec for CTC.

The notes' captcha encoding puts character ``ch`` at position ``i`` into slot
``i * len(charset) + charset.index(ch)`` of a ``max_len * len(charset)`` vector;
:class:`OneHotTextCodec` is that, plus decoding from the vector or from per-position logits.
For variable-length text (the notes' question "如果是不定长编码，该如何改进?") the answer is CTC:
:class:`CTCTextCodec` maps text to label indices ``1..len(charset)`` with ``0`` reserved for the
CTC blank, batches them as padded targets + lengths (and the concatenated 1-D form), and decodes
network outputs greedily (best path: collapse repeats, drop blanks).

Example:
    >>> codec = OneHotTextCodec("0123456789", max_len=4)
    >>> vector = codec.encode("2024")
    >>> vector.shape, [int(i) for i in vector.nonzero()[0]]
    ((40,), [2, 10, 22, 34])
    >>> codec.decode(vector)
    '2024'
    >>> ctc = CTCTextCodec("abc")
    >>> ctc.encode("cab"), ctc.decode([3, 1, 2])
    ([3, 1, 2], 'cab')
"""

from __future__ import annotations

import string
from typing import NamedTuple, Sequence

import numpy as np

from hybridgrad.labels import one_hot  # noqa: F401 - re-exported (PyTorch's one_hot)
from hybridgrad.tensor import Tensor

#: The captcha charset the notes use: digits then upper-case letters (36 symbols).
DIGITS_UPPERCASE = string.digits + string.ascii_uppercase


def _check_charset(charset: str, owner: str) -> str:
    charset = str(charset)
    if not charset:
        raise ValueError(f"{owner}: charset is empty")
    repeated = sorted({ch for ch in charset if charset.count(ch) > 1})
    if repeated:
        raise ValueError(f"{owner}: charset has repeated characters {repeated}")
    return charset


def _as_numpy(values) -> np.ndarray:
    if isinstance(values, Tensor):
        return values._array
    return np.asarray(values)


class OneHotTextCodec:
    """The notes' fixed-length text one-hot: ``index = i * len(charset) + charset.index(ch)``.

    ``encode(text)`` gives a float32 vector of ``max_len * len(charset)`` (texts shorter than
    ``max_len`` leave the trailing blocks all zero). ``decode`` takes that vector, a
    ``(max_len, len(charset))`` matrix, or per-position logits of either shape, and reads the
    arg-max of each position; an all-zero block ends the text. Calling the codec encodes, so it
    can be a dataset's ``target_transform``.

    Example:
        >>> codec = OneHotTextCodec("AB", max_len=3)
        >>> codec.encode("BA").tolist()
        [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
        >>> codec.decode([[0.1, 2.0], [3.0, -1.0], [0.5, 0.4]])
        'BAA'
    """

    def __init__(self, charset: str = DIGITS_UPPERCASE, max_len: int = 4):
        self.charset = _check_charset(charset, "OneHotTextCodec")
        if int(max_len) != max_len or max_len <= 0:
            raise ValueError(f"OneHotTextCodec: max_len must be a positive integer, "
                             f"got {max_len!r}")
        self.max_len = int(max_len)
        self._lookup = {ch: i for i, ch in enumerate(self.charset)}

    @property
    def num_classes(self) -> int:
        return len(self.charset)

    @property
    def size(self) -> int:
        """Length of an encoded vector: ``max_len * len(charset)``."""
        return self.max_len * len(self.charset)

    def encode(self, text: str) -> np.ndarray:
        if len(text) > self.max_len:
            raise ValueError(f"OneHotTextCodec: text {text!r} has {len(text)} characters, more "
                             f"than max_len={self.max_len}")
        vector = np.zeros(self.size, dtype=np.float32)
        for i, ch in enumerate(text):
            if ch not in self._lookup:
                raise ValueError(f"OneHotTextCodec: character {ch!r} of {text!r} is not in the "
                                 f"charset {self.charset!r}")
            vector[i * len(self.charset) + self._lookup[ch]] = 1.0
        return vector

    __call__ = encode

    def encode_batch(self, texts: Sequence[str]) -> Tensor:
        """Encode several texts into a float32 tensor ``(N, max_len * len(charset))``."""
        return Tensor._wrap(np.stack([self.encode(t) for t in texts]) if len(texts) else
                            np.zeros((0, self.size), dtype=np.float32))

    def _positions(self, values) -> np.ndarray:
        array = _as_numpy(values)
        if array.shape[-2:] == (self.max_len, len(self.charset)):
            return array
        if array.shape and array.shape[-1] == self.size:
            return array.reshape(*array.shape[:-1], self.max_len, len(self.charset))
        raise ValueError(f"OneHotTextCodec.decode: expected a vector of {self.size} values or a "
                         f"({self.max_len}, {len(self.charset)}) matrix per text, got shape "
                         f"{tuple(array.shape)}")

    def decode(self, values) -> str:
        positions = self._positions(values)
        if positions.ndim != 2:
            raise ValueError(f"OneHotTextCodec.decode: one text at a time, got shape "
                             f"{tuple(_as_numpy(values).shape)}; use decode_batch")
        chars = []
        for row in positions:
            if not np.any(row):
                break
            chars.append(self.charset[int(np.argmax(row))])
        return "".join(chars)

    def decode_batch(self, values) -> list[str]:
        """Decode a batch ``(N, max_len * len(charset))`` or ``(N, max_len, len(charset))``."""
        positions = self._positions(values)
        return [self.decode(item) for item in positions.reshape(-1, *positions.shape[-2:])]


class CTCTargets(NamedTuple):
    """A batch of CTC targets in both of PyTorch's ``ctc_loss`` layouts.

    ``padded``: int64 ``(N, S)`` (padding is 0, the blank); ``lengths``: int64 ``(N,)``;
    ``concatenated``: int64 ``(sum(lengths),)``.
    """

    padded: Tensor
    lengths: Tensor
    concatenated: Tensor


class CTCTextCodec:
    """Variable-length text <-> label indices for CTC, with ``blank = 0`` reserved.

    Character ``charset[k]`` is label ``k + 1``. ``encode_batch`` builds :class:`CTCTargets`;
    ``decode`` maps label indices back (blanks skipped); ``greedy_decode`` reads network output
    of shape ``(T, C)`` or PyTorch's ``(T, N, C)`` (``C = len(charset) + 1``; ``batch_first`` for
    ``(N, T, C)``): arg-max per step, collapse repeats, drop blanks.

    Example:
        >>> codec = CTCTextCodec("ab")
        >>> targets = codec.encode_batch(["ab", "b"])
        >>> targets.padded.tolist(), targets.lengths.tolist(), targets.concatenated.tolist()
        ([[1, 2], [2, 0]], [2, 1], [1, 2, 2])
        >>> import numpy as np
        >>> steps = np.eye(3)[[1, 1, 0, 1, 2, 2]]   # a a _ a b b
        >>> codec.greedy_decode(steps)
        'aab'
    """

    blank = 0

    def __init__(self, charset: str = DIGITS_UPPERCASE):
        self.charset = _check_charset(charset, "CTCTextCodec")
        self._lookup = {ch: i + 1 for i, ch in enumerate(self.charset)}

    @property
    def num_classes(self) -> int:
        """Classes the network must output: ``len(charset) + 1`` (the blank)."""
        return len(self.charset) + 1

    def encode(self, text: str) -> list[int]:
        labels = []
        for ch in text:
            if ch not in self._lookup:
                raise ValueError(f"CTCTextCodec: character {ch!r} of {text!r} is not in the "
                                 f"charset {self.charset!r}")
            labels.append(self._lookup[ch])
        return labels

    __call__ = encode

    def encode_batch(self, texts: Sequence[str]) -> CTCTargets:
        encoded = [self.encode(text) for text in texts]
        lengths = np.array([len(e) for e in encoded], dtype=np.int64)
        width = int(lengths.max()) if len(encoded) else 0
        padded = np.zeros((len(encoded), width), dtype=np.int64)
        for row, labels in enumerate(encoded):
            padded[row, :len(labels)] = labels
        concatenated = np.array([label for e in encoded for label in e], dtype=np.int64)
        return CTCTargets(Tensor._wrap(padded), Tensor._wrap(lengths),
                          Tensor._wrap(concatenated))

    def decode(self, labels, length: int | None = None) -> str:
        """Label indices -> text (blanks, i.e. padding, skipped; ``length`` truncates first)."""
        array = _as_numpy(labels).astype(np.int64).reshape(-1)
        if length is not None:
            array = array[:int(length)]
        if array.size and (array.min() < 0 or array.max() > len(self.charset)):
            raise ValueError(f"CTCTextCodec.decode: labels must be in 0..{len(self.charset)}, "
                             f"got values from {int(array.min())} to {int(array.max())}")
        return "".join(self.charset[label - 1] for label in array.tolist() if label != self.blank)

    def decode_batch(self, padded, lengths=None) -> list[str]:
        """Decode a padded ``(N, S)`` batch (optionally with its lengths)."""
        array = _as_numpy(padded)
        lengths = [None] * len(array) if lengths is None else _as_numpy(lengths).tolist()
        return [self.decode(row, n) for row, n in zip(array, lengths)]

    def greedy_decode(self, outputs, batch_first: bool = False):
        """Best-path decoding of scores/log-probs ``(T, C)`` -> str, ``(T, N, C)`` -> list."""
        array = _as_numpy(outputs)
        if array.shape[-1] != self.num_classes or array.ndim not in (2, 3):
            raise ValueError(f"CTCTextCodec.greedy_decode: expected shape (T, {self.num_classes})"
                             f" or (T, N, {self.num_classes}), got {tuple(array.shape)}")
        best = np.argmax(array, axis=-1)
        if best.ndim == 1:
            return self._collapse(best)
        if not batch_first:
            best = best.T
        return [self._collapse(row) for row in best]

    def _collapse(self, best: np.ndarray) -> str:
        labels, previous = [], self.blank
        for label in best.tolist():
            if label != previous and label != self.blank:
                labels.append(label)
            previous = label
        return "".join(self.charset[label - 1] for label in labels)
