"""Captcha recognisers: the notes' fixed-length one-hot CNN and a CRNN trained with CTC.

The notes encode a captcha text as ``max_captcha * char_set_len`` one-hot slots
(``idx = i * char_set_len + char_set.index(ch)``) and ask what to do when the length varies;
their answer is CRNN + CTC. Both are here:

* :class:`OneHotCNN`: conv blocks, a dense layer and ``max_len * classes`` outputs, trained per
  position with softmax cross-entropy or (as in the notes' snippet) sigmoid binary
  cross-entropy (:func:`onehot_loss`), decoded per position (:func:`onehot_decode`). For
  variable lengths, :class:`PaddedOneHotCodec` adds a padding class that fills the unused
  positions.
* :class:`CRNN` (Shi, Bai & Yao 2015): conv stack with batch norm that collapses the height, the
  width as time axis, a 2-layer bidirectional LSTM (or GRU) and a linear layer to the charset +
  blank; :func:`ctc_batch_loss` and :func:`ctc_decode` (greedy or prefix beam search).

Example:
    >>> import hybridgrad as hg
    >>> hg.manual_seed(0)
    >>> crnn = CRNN(num_classes=11, height=32, width=64, channels=(4, 8, 8, 8), hidden=8)
    >>> crnn(hg.zeros(2, 1, 32, 64)).shape          # (T, N, classes) log-probabilities
    (16, 2, 11)
    >>> cnn = OneHotCNN(max_len=4, num_classes=10, height=32, width=64, channels=(4, 8),
    ...                 hidden=16)
    >>> cnn(hg.zeros(2, 1, 32, 64)).shape
    (2, 40)
"""

from __future__ import annotations

import math
import string
from typing import Sequence

import numpy as np

import hybridgrad as hg
from hybridgrad import nn
from hybridgrad.data.encoding import DIGITS_UPPERCASE, CTCTextCodec, OneHotTextCodec
from hybridgrad.nn import functional as F

#: The notes' 62-character set: digits, lower-case and upper-case letters.
ALPHANUMERIC = string.ascii_lowercase + string.ascii_uppercase + string.digits

#: The character standing for "no character here" in :class:`PaddedOneHotCodec`.
PAD = "\x00"


def _conv_block(in_channels: int, out_channels: int, pool) -> list:
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(), nn.MaxPool2d(pool, pool)]


class PaddedOneHotCodec(OneHotTextCodec):
    """The notes' one-hot text vector with an extra padding class per position.

    Each of the ``max_len`` positions has ``len(charset) + 1`` slots; the last one
    (:data:`PAD`) marks a position past the end of a shorter text, so a fixed-size output can
    say "nothing here" and texts of any length up to ``max_len`` round-trip. Decoding reads the
    arg-max of every position and drops the padding.

    Example:
        >>> codec = PaddedOneHotCodec("AB", max_len=3)
        >>> codec.encode("BA").reshape(3, 3).tolist()
        [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
        >>> codec.decode(codec.encode("BA")), codec.classes("A")
        ('BA', [0, 2, 2])
    """

    def __init__(self, charset: str = DIGITS_UPPERCASE, max_len: int = 6):
        if PAD in charset:
            raise ValueError("PaddedOneHotCodec: the charset must not hold the padding "
                             "character '\\x00'")
        super().__init__(charset + PAD, max_len)
        self.text_charset = str(charset)

    def encode(self, text: str) -> np.ndarray:
        if PAD in text:
            raise ValueError(f"PaddedOneHotCodec: text {text!r} holds the padding character")
        if len(text) > self.max_len:
            raise ValueError(f"PaddedOneHotCodec: text {text!r} has {len(text)} characters, "
                             f"more than max_len={self.max_len}")
        return super().encode(text + PAD * (self.max_len - len(text)))

    __call__ = encode

    def classes(self, text: str) -> list[int]:
        """Class index per position (``len(charset)`` for padding): cross-entropy targets."""
        return [int(i) for i in self.encode(text).reshape(self.max_len, -1).argmax(axis=1)]

    def decode(self, values) -> str:
        return super().decode(values).replace(PAD, "")


class OneHotCNN(nn.Module):
    """The notes' captcha CNN: conv blocks, one dense layer, ``max_len * num_classes`` outputs.

    Each conv block is 3x3 conv (no bias) + batch norm + ReLU + 2x2 max pooling; the flattened
    feature map goes through ``Linear(hidden)`` + ReLU + dropout to the output layer, whose
    ``max_len`` groups of ``num_classes`` units are the per-position scores (logits).

    Args:
        max_len: positions (the notes' ``max_captcha``).
        num_classes: classes per position (``char_set_len``; + 1 with a padding class).
        height, width: input image size (grayscale, ``(N, 1, height, width)``).
        channels: output channels of the conv blocks.
        hidden: width of the dense layer.
        dropout: dropout before the output layer.

    Example:
        >>> import hybridgrad as hg
        >>> model = OneHotCNN(4, 10, height=16, width=32, channels=(2,), hidden=4)
        >>> model(hg.zeros(3, 1, 16, 32)).shape
        (3, 40)
    """

    def __init__(self, max_len: int = 4, num_classes: int = 36, height: int = 64,
                 width: int = 160, channels: Sequence[int] = (32, 64, 128, 128),
                 hidden: int = 256, dropout: float = 0.3):
        super().__init__()
        self.max_len, self.num_classes = int(max_len), int(num_classes)
        layers, previous = [], 1
        for count in channels:
            layers += _conv_block(previous, int(count), 2)
            previous = int(count)
        self.features = nn.Sequential(*layers)
        scale = 2 ** len(channels)
        if height % scale or width % scale:
            raise ValueError(f"OneHotCNN: height {height} and width {width} must be multiples "
                             f"of {scale} ({len(channels)} 2x2 poolings)")
        flat = previous * (height // scale) * (width // scale)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, self.max_len * self.num_classes))

    def forward(self, images):
        return self.classifier(self.features(images))


def onehot_loss(logits, targets, max_len: int, kind: str = "ce"):
    """Loss of :class:`OneHotCNN` scores ``(N, max_len * K)`` against one-hot ``targets``.

    ``kind="ce"``: softmax cross-entropy per position, averaged over positions and batch.
    ``kind="bce"``: the notes' ``sigmoid_cross_entropy_with_logits`` over all slots (each
    slot an independent yes/no), averaged.

    Example:
        >>> import hybridgrad as hg
        >>> logits = hg.zeros(1, 6)
        >>> targets = hg.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 1.0]])   # 2 positions x 3 classes
        >>> round(onehot_loss(logits, targets, 2, "ce").item(), 4)       # log(3)
        1.0986
        >>> round(onehot_loss(logits, targets, 2, "bce").item(), 4)      # log(2)
        0.6931
    """
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, targets)
    if kind != "ce":
        raise ValueError(f"onehot_loss: kind must be 'ce' or 'bce', got {kind!r}")
    target_array = targets._array if isinstance(targets, hg.Tensor) else np.asarray(targets)
    batch, size = target_array.shape
    if tuple(logits.shape) != (batch, size):
        raise ValueError(f"onehot_loss: logits {tuple(logits.shape)} and targets "
                         f"{(batch, size)} differ in shape")
    positions = int(max_len)
    if size % positions:
        raise ValueError(f"onehot_loss: {size} outputs do not split into {positions} positions")
    classes = target_array.reshape(batch * positions, -1).argmax(axis=1)
    return F.cross_entropy(logits.reshape(batch * positions, -1),
                           hg.tensor(classes.astype(np.int64)))


def onehot_decode(logits, codec: OneHotTextCodec) -> tuple[list[str], np.ndarray]:
    """Texts and confidences from :class:`OneHotCNN` scores ``(N, max_len * K)``.

    The confidence of a text is the product over positions of the softmax probability of the
    chosen class.

    Example:
        >>> codec = PaddedOneHotCodec("AB", max_len=2)
        >>> texts, confidence = onehot_decode(np.array([[9.0, 0, 0, 0, 0, 9.0]]), codec)
        >>> texts, bool(confidence[0] > 0.99)
        (['A'], True)
    """
    array = logits._array if isinstance(logits, hg.Tensor) else np.asarray(logits, np.float64)
    scores = array.reshape(len(array), codec.max_len, -1).astype(np.float64)
    scores = scores - scores.max(axis=2, keepdims=True)
    probabilities = np.exp(scores)
    probabilities /= probabilities.sum(axis=2, keepdims=True)
    confidence = probabilities.max(axis=2).prod(axis=1)
    return codec.decode_batch(array), confidence


class CRNN(nn.Module):
    """Convolutional recurrent network for text lines (Shi, Bai & Yao 2015), trained with CTC.

    Conv blocks (3x3 conv + batch norm + ReLU + max pooling; the first ``wide_pools`` pool 2x2,
    the rest 2x1 so the width keeps its resolution) shrink a ``height x width`` image to a
    ``channels[-1] x height/2**len(channels) x width/2**wide_pools`` map; each column,
    flattened, is one time step (``T = width / 2**wide_pools``) of a bidirectional LSTM (or
    GRU); a linear layer maps each step to ``num_classes`` scores (class 0 is the CTC blank)
    and ``forward`` returns their log-softmax, shape ``(T, N, num_classes)`` as ``ctc_loss``
    expects.

    Args:
        num_classes: ``len(charset) + 1``.
        height, width: input size; height must divide by ``2 ** len(channels)``, width by
            ``2 ** wide_pools``.
        channels: conv block widths (any number >= 2 of blocks).
        wide_pools: leading blocks that also halve the width (default 2: ``T = width / 4``;
            one more block with 3 keeps ``T`` for an input of twice the width, see
            docs/captcha.md).
        hidden: recurrent hidden size per direction.
        num_layers: recurrent layers.
        rnn: ``"lstm"`` or ``"gru"``.
        dropout: dropout between recurrent layers and before the output layer.

    Example:
        >>> import hybridgrad as hg
        >>> model = CRNN(5, height=16, width=32, channels=(2, 2, 2, 2), hidden=3, rnn="gru")
        >>> model(hg.zeros(1, 1, 16, 32)).exp().sum(-1).shape
        (8, 1)
    """

    def __init__(self, num_classes: int = 37, height: int = 64, width: int = 160,
                 channels: Sequence[int] = (32, 64, 128, 128), hidden: int = 128,
                 num_layers: int = 2, rnn: str = "lstm", dropout: float = 0.1,
                 wide_pools: int = 2):
        super().__init__()
        wide_pools = int(wide_pools)
        if len(channels) < 2:
            raise ValueError(f"CRNN: needs at least 2 conv blocks, got channels {channels}")
        if not 0 <= wide_pools <= len(channels):
            raise ValueError(f"CRNN: wide_pools must be between 0 and the {len(channels)} "
                             f"conv blocks, got {wide_pools}")
        if height % 2 ** len(channels) or width % 2 ** wide_pools:
            raise ValueError(f"CRNN: height {height} must be a multiple of "
                             f"{2 ** len(channels)} and width {width} a multiple of "
                             f"{2 ** wide_pools}")
        layers, previous = [], 1
        for block, count in enumerate(channels):
            layers += _conv_block(previous, int(count), (2, 2) if block < wide_pools else (2, 1))
            previous = int(count)
        self.features = nn.Sequential(*layers)
        self.steps = width // 2 ** wide_pools
        features = previous * (height // 2 ** len(channels))
        kinds = {"lstm": nn.LSTM, "gru": nn.GRU}
        if rnn not in kinds:
            raise ValueError(f"CRNN: rnn must be 'lstm' or 'gru', got {rnn!r}")
        self.rnn = kinds[rnn](features, hidden, num_layers=num_layers, bidirectional=True,
                              dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden, num_classes)

    def forward(self, images):
        maps = self.features(images)                      # (N, C, H', T)
        batch, channels, height, steps = maps.shape
        sequence = maps.permute(3, 0, 1, 2).reshape(steps, batch, channels * height)
        output, _ = self.rnn(sequence)                     # (T, N, 2 * hidden)
        scores = self.classifier(self.dropout(output))
        return F.log_softmax(scores, dim=2)


def ctc_batch_loss(log_probs, texts: Sequence[str], codec) -> hg.Tensor:
    """CTC loss (mean over the batch of loss / target length) of :class:`CRNN` output.

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.data.encoding import CTCTextCodec
        >>> log_probs = hg.log_softmax(hg.zeros(3, 1, 2), dim=2)
        >>> round(ctc_batch_loss(log_probs, ["a"], CTCTextCodec("a")).item(), 4)
        0.2877
    """
    targets = codec.encode_batch(texts)
    steps, batch = log_probs.shape[0], log_probs.shape[1]
    return F.ctc_loss(log_probs, targets.padded, [steps] * batch, targets.lengths,
                      blank=codec.blank, zero_infinity=True)


def ctc_decode(log_probs, codec, beam_width: int = 1) -> tuple[list[str], np.ndarray]:
    """Texts and confidences from ``(T, N, C)`` CTC log-probabilities.

    ``beam_width=1``: greedy (best path); confidence = probability of that path.
    ``beam_width>1``: prefix beam search; confidence = probability of the text summed over the
    alignments the beam kept.

    Example:
        >>> from hybridgrad.data.encoding import CTCTextCodec
        >>> probs = np.array([[0.6, 0.4], [0.6, 0.4]])[:, None, :]
        >>> ctc_decode(np.log(probs), CTCTextCodec("x"))[0]
        ['']
        >>> texts, confidence = ctc_decode(np.log(probs), CTCTextCodec("x"), beam_width=4)
        >>> texts, round(float(confidence[0]), 2)
        (['x'], 0.64)
    """
    array = log_probs._array if isinstance(log_probs, hg.Tensor) else np.asarray(log_probs)
    if beam_width <= 1:
        paths = nn.ctc_greedy_decode(array, blank=codec.blank)
        confidence = np.exp(array.max(axis=2).astype(np.float64).sum(axis=0))
        return [codec.decode(p) for p in paths], confidence
    results = nn.ctc_prefix_beam_search(array, beam_width=beam_width, blank=codec.blank)
    return ([codec.decode(labels) for labels, _ in results],
            np.array([math.exp(score) for _, score in results]))


# ----------------------------------------------------------------------------------------------
# The network a captcha config describes (the config's settings: docs/captcha.md and
# hybridgrad.training.captcha.DEFAULTS).

#: Character sets by name.
CHARSETS = {"digits_upper": DIGITS_UPPERCASE, "alnum": ALPHANUMERIC, "digits": "0123456789"}


def charset(config: dict) -> str:
    """The characters named by ``config["charset"]`` (a known name or the characters).

    Example:
        >>> len(charset({"charset": "alnum"})), charset({"charset": "XYZ"})
        (62, 'XYZ')
    """
    name = str(config["charset"])
    chars = CHARSETS.get(name, name)
    if len(set(chars)) != len(chars) or not chars:
        raise ValueError(f"captcha: charset {name!r} is empty or repeats characters; use "
                         f"{sorted(CHARSETS)} or a string of distinct characters")
    return chars


def text_lengths(config: dict) -> tuple[int, int]:
    """The shortest and longest text of ``config["length"]`` (``"4"`` or ``"4-6"``).

    Example:
        >>> text_lengths({"length": "4-6"}), text_lengths({"length": "4"})
        ((4, 6), (4, 4))
    """
    from hybridgrad.data.captcha_cache import CaptchaSpec

    return tuple(CaptchaSpec.parse_length(config["length"]))


def input_size(config: dict) -> tuple[int, int]:
    """``(height, width)`` the network sees (rendered size / downsample).

    Example:
        >>> input_size({"height": 64, "width": 160, "downsample": 2})
        (32, 80)
    """
    factor = int(config["downsample"])
    return int(config["height"]) // factor, int(config["width"]) // factor


def make_codec(config: dict):
    """``CTCTextCodec`` for the CRNN; ``PaddedOneHotCodec`` (padding class only when lengths
    vary, so fixed length 4 is exactly the notes' ``4 * char_set_len`` vector) for one-hot.

    Example:
        >>> make_codec({"model": "onehot", "charset": "digits_upper", "length": "4"}).size
        144
        >>> make_codec({"model": "onehot", "charset": "digits_upper", "length": "4-6"}).size
        222
    """
    chars, lengths = charset(config), text_lengths(config)
    if config["model"] == "crnn":
        return CTCTextCodec(chars)
    if len(set(lengths)) > 1:
        return PaddedOneHotCodec(chars, max(lengths))
    return OneHotTextCodec(chars, max(lengths))


def build_model(config: dict):
    """The network a captcha config describes (``model``: ``"crnn"`` or ``"onehot"``).

    Example:
        >>> build_model({"model": "crnn", "charset": "digits", "length": "4", "height": 32,
        ...              "width": 64, "downsample": 1, "channels": [2, 2], "hidden": 3,
        ...              "rnn": "gru", "dropout": 0.0, "wide_pools": 2}).__class__.__name__
        'CRNN'
    """
    height, width = input_size(config)
    codec = make_codec(config)
    if config["model"] == "crnn":
        return CRNN(codec.num_classes, height=height, width=width, channels=config["channels"],
                    hidden=int(config["hidden"]), rnn=config["rnn"],
                    dropout=float(config["dropout"]), wide_pools=int(config.get("wide_pools", 2)))
    return OneHotCNN(codec.max_len, codec.num_classes, height=height, width=width,
                     channels=config["channels"], hidden=int(config["onehot_hidden"]),
                     dropout=float(config["dropout"]))


def export_inputs(config: dict) -> list:
    """The example input of ``hybridgrad export captcha``: one image as the network sees it
    (``(1, 1, height / downsample, width / downsample)``, already scaled to [-1, 1]).

    Example:
        >>> export_inputs({"model": {"height": 64, "width": 160, "downsample": 2}})[0].shape
        (1, 1, 32, 80)
    """
    from hybridgrad.models.exporting import ExportInput

    height, width = input_size(config["model"])
    return [ExportInput("images", (1, 1, height, width))]


def build_captcha(**settings):
    """The registry's builder (``hybridgrad.models.REGISTRY["captcha"]``): the network of a
    captcha config given as keyword arguments (a training checkpoint keeps the whole config).

    Example:
        >>> build_captcha(model="onehot", charset="digits", length="4", height=32, width=64,
        ...               downsample=2, channels=[2, 2], onehot_hidden=8,
        ...               dropout=0.0).__class__.__name__
        'OneHotCNN'
    """
    return build_model(settings)


__all__ = ["ALPHANUMERIC", "CHARSETS", "CRNN", "OneHotCNN", "PAD", "PaddedOneHotCodec",
           "build_captcha", "build_model", "charset", "ctc_batch_loss", "ctc_decode",
           "export_inputs",
           "input_size", "make_codec", "onehot_decode", "onehot_loss", "text_lengths"]
