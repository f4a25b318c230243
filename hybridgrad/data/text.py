"""Character-level text data for language models: the packaged Tiny Shakespeare corpus, a
character tokenizer, the 90/10 split and random context batches drawn from a seeded generator.

The tokenizer's vocabulary is the sorted distinct characters of the corpus (nanoGPT's and
char-rnn's convention). A character outside the vocabulary is **refused** with a
:class:`UnknownCharacterError` that names it and its position: an unknown-token id would let a
prompt silently mean something the model never saw.

Example:
    >>> from hybridgrad.data.text import CharTokenizer
    >>> tokenizer = CharTokenizer.from_text("hello world")
    >>> tokenizer.vocab_size, tokenizer.encode("hold").tolist()
    (8, [3, 5, 4, 1])
    >>> tokenizer.decode(tokenizer.encode("hello"))
    'hello'
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources

import numpy as np

__all__ = ["CORPUS_SHA256", "CharTokenizer", "TextBatches", "TextEvaluation",
           "UnknownCharacterError", "text_loaders",
           "load_corpus", "split_ids"]

CORPUS_NAME = "tinyshakespeare.txt"
CORPUS_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


class UnknownCharacterError(ValueError):
    """Text holds characters that are not in the tokenizer's vocabulary."""


def load_corpus(path: str | None = None) -> str:
    """The text of ``path`` (any UTF-8 file), or of the packaged Tiny Shakespeare corpus,
    whose SHA-256 is verified, when ``path`` is None.

    Example:
        >>> text = load_corpus()
        >>> len(text), text[:9]
        (1115394, 'First Cit')
    """
    if path is None:
        raw = resources.files("hybridgrad.data").joinpath("corpora", CORPUS_NAME).read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != CORPUS_SHA256:
            raise OSError(f"the packaged corpus {CORPUS_NAME} is damaged: sha256 {digest}, "
                          f"expected {CORPUS_SHA256}; reinstall hybridgrad")
        return raw.decode("utf-8")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"text file {path!r} does not exist (--data expects a UTF-8 "
                                f"text file)")
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text: byte {error.start} ({raw[error.start]:#x}) "
                         f"cannot be decoded") from None
    if len(text) < 2:
        raise ValueError(f"{path} holds {len(text)} character(s); a language model needs text")
    return text


class CharTokenizer:
    """Characters to integer ids and back; ``chars`` is the vocabulary in id order.

    Example:
        >>> tokenizer = CharTokenizer("ab")
        >>> try:
        ...     tokenizer.encode("abc")
        ... except UnknownCharacterError as error:
        ...     print(error)
        CharTokenizer: 'c' (U+0063) at position 2 is not in the vocabulary of 2 characters ('ab')
    """

    def __init__(self, chars):
        chars = "".join(chars)
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: the vocabulary holds a character twice")
        if not chars:
            raise ValueError("CharTokenizer: the vocabulary is empty")
        self.chars = chars
        self.stoi = {char: index for index, char in enumerate(chars)}
        # A lookup table for the common case (code points below 65536): encode in one take.
        codes = np.array([ord(char) for char in chars], dtype=np.int64)
        self._table = None
        if codes.max() < 65536:
            self._table = np.full(65536, -1, dtype=np.int64)
            self._table[codes] = np.arange(len(chars))

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer whose vocabulary is the sorted distinct characters of ``text``.

        Example:
            >>> CharTokenizer.from_text("banana").chars
            'abn'
        """
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        """The number of characters (ids are ``0 .. vocab_size - 1``)."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids (int64) of ``text``; :class:`UnknownCharacterError` for a foreign character.

        Example:
            >>> CharTokenizer("abc").encode("cab").tolist()
            [2, 0, 1]
        """
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        if self._table is not None and (codes.size == 0 or codes.max() < 65536):
            ids = self._table[codes]
        else:
            ids = np.array([self.stoi.get(char, -1) for char in text], dtype=np.int64)
        if ids.size and ids.min() < 0:
            position = int(np.argmax(ids < 0))
            char = text[position]
            shown = self.chars if len(self.chars) <= 80 else self.chars[:80] + "..."
            raise UnknownCharacterError(
                f"CharTokenizer: {char!r} (U+{ord(char):04X}) at position {position} is not in "
                f"the vocabulary of {self.vocab_size} characters ({shown!r})")
        return ids

    def decode(self, ids) -> str:
        """The text of ``ids`` (any integer sequence or array).

        Example:
            >>> CharTokenizer("abc").decode([2, 0, 1])
            'cab'
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"CharTokenizer.decode: ids must lie in [0, {self.vocab_size}), got "
                             f"values in [{ids.min()}, {ids.max()}]")
        return "".join(self.chars[index] for index in ids.tolist())

    def to_json(self) -> str:
        """The vocabulary as JSON (stored in checkpoints).

        Example:
            >>> CharTokenizer.from_json(CharTokenizer("xy").to_json()).chars
            'xy'
        """
        return json.dumps({"chars": self.chars})

    @classmethod
    def from_json(cls, text: str) -> CharTokenizer:
        """The tokenizer saved by :meth:`to_json`."""
        return cls(json.loads(text)["chars"])


def split_ids(ids: np.ndarray, train_fraction: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """``(train, validation)``: the first ``train_fraction`` of the ids and the rest (no
    shuffling, as the published references split Tiny Shakespeare).

    Example:
        >>> train, val = split_ids(np.arange(10))
        >>> train.tolist(), val.tolist()
        ([0, 1, 2, 3, 4, 5, 6, 7, 8], [9])
    """
    cut = int(len(ids) * train_fraction)
    return ids[:cut], ids[cut:]


class TextBatches:
    """``batches`` random windows per pass: ``(x, y)`` int64 arrays of shape (batch, context),
    ``y`` the next characters of ``x``; start positions drawn from a NumPy generator seeded with
    ``seed``. ``state_dict`` records the generator and the position within the pass, so a
    resumed run draws exactly the batches an uninterrupted one would have drawn.

    Example:
        >>> loader = TextBatches(np.arange(100), context=4, batch_size=2, batches=3, seed=0)
        >>> x, y = next(iter(loader))
        >>> x.shape, bool(((y - x) == 1).all()), len(loader)
        ((2, 4), True, 3)
    """

    def __init__(self, ids: np.ndarray, context: int, batch_size: int, batches: int,
                 seed: int = 0):
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) <= context:
            raise ValueError(f"TextBatches: {len(ids)} tokens cannot fill a context of {context} "
                             f"plus its next token; use a shorter context or more text")
        if context < 1 or batch_size < 1 or batches < 1:
            raise ValueError(f"TextBatches: context ({context}), batch_size ({batch_size}) and "
                             f"batches ({batches}) must be positive")
        self.ids, self.context, self.batch_size = ids, int(context), int(batch_size)
        self.batches = int(batches)
        self.generator = np.random.default_rng(seed)
        self.position = 0
        # Windows as a strided view: a batch is one fancy-indexing gather.
        self._windows = np.lib.stride_tricks.sliding_window_view(ids, self.context + 1)

    def __len__(self) -> int:
        return self.batches

    def sample(self, generator: np.random.Generator | None = None):
        """One batch ``(x, y)`` drawn with ``generator`` (default: the loader's own)."""
        generator = generator or self.generator
        starts = generator.integers(0, len(self.ids) - self.context, size=self.batch_size)
        windows = self._windows[starts]
        return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])

    def __iter__(self):
        while self.position < self.batches:
            batch = self.sample()
            self.position += 1
            yield batch
        self.position = 0

    def state_dict(self) -> dict:
        """The generator's state and the position within the pass.

        Example:
            >>> loader = TextBatches(np.arange(50), 4, 2, 5, seed=1)
            >>> state = loader.state_dict(); first = loader.sample()[0]
            >>> loader.load_state_dict(state); bool((loader.sample()[0] == first).all())
            True
        """
        return {"generator": json.dumps(self.generator.bit_generator.state),
                "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`."""
        self.generator.bit_generator.state = json.loads(state["generator"])
        self.position = int(state["position"])


class TextEvaluation:
    """The fixed evaluation batches: ``batches`` random windows of the training split and as
    many of the validation split, drawn once from ``seed`` (the same batches at every
    evaluation).

    Example:
        >>> evaluation = TextEvaluation(np.arange(100), np.arange(50), 4, 2, 3, seed=0)
        >>> {name: len(batches) for name, batches in evaluation.splits().items()}
        {'eval_train_loss': 3, 'val_loss': 3}
    """

    def __init__(self, train_ids, val_ids, context: int, batch_size: int, batches: int,
                 seed: int = 0):
        self.batches = {}
        for offset, (name, ids) in enumerate((("eval_train_loss", train_ids),
                                              ("val_loss", val_ids))):
            sampler = TextBatches(ids, context, batch_size, batches)
            generator = np.random.default_rng([seed, 1 + offset])
            self.batches[name] = [sampler.sample(generator) for _ in range(batches)]

    def splits(self) -> dict:
        """``{"eval_train_loss": [(x, y), ...], "val_loss": [...]}``."""
        return self.batches


def text_loaders(config: dict, data_path: str | None = None):
    """``(train batches, evaluation batches, tokenizer)`` for a GPT training ``config``:
    the corpus (``data_path``, else ``config["data"]``, else the packaged Tiny Shakespeare),
    the vocabulary (``config["vocab"]`` when set, as on resume; else the corpus's sorted
    characters, written into ``config["vocab"]`` and ``config["model"]["vocab_size"]``), the
    90/10 split and the seeded batch generators.

    Example:
        >>> config = {"seed": 0, "batch_size": 2, "eval_interval": 5, "eval_batches": 1,
        ...           "model": {"block_size": 8}}
        >>> train, evaluation, tokenizer = text_loaders(config)
        >>> len(train), config["model"]["vocab_size"], tokenizer.decode(next(iter(train))[0][0])[:0]
        (5, 65, '')
    """
    path = data_path or config.get("data")
    text = load_corpus(path)
    if config.get("vocab"):
        tokenizer = CharTokenizer(config["vocab"])
    else:
        tokenizer = CharTokenizer.from_text(text)
        config["vocab"] = tokenizer.chars
    config["data"] = path
    config["model"]["vocab_size"] = tokenizer.vocab_size
    train_ids, val_ids = split_ids(tokenizer.encode(text), float(config.get("train_fraction",
                                                                            0.9)))
    context, batch_size = int(config["model"]["block_size"]), int(config["batch_size"])
    seed = int(config["seed"])
    train = TextBatches(train_ids, context, batch_size, int(config["eval_interval"]), seed)
    evaluation = TextEvaluation(train_ids, val_ids, context, batch_size,
                                int(config["eval_batches"]), seed)
    return train, evaluation, tokenizer
