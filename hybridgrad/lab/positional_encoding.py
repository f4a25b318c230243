"""The sinusoidal positional encoding against the notes' four requirements, compared with the
naive codes ``pos`` (1, 2, 3, ...) and ``pos / length``; the "clock" view of its frequencies.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> result = run(Path(tempfile.mkdtemp()), quick=True)
    >>> result.supported, result.numbers["sinusoidal"]["max_abs_value"] <= 1.0
    (True, True)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from hybridgrad.lab import Result
from hybridgrad.lab.common import fmt, markdown_table, plt, save, verdict
from hybridgrad.nn.attention import sinusoidal_positional_encoding

CLAIM_ZH = ("位置编码的要求：选择正弦跟余弦组合编码 * 每个位置都有唯一的编码。* 在不同长度的句子"
            "中，两个时间步之间的距离"
            "应该一致。* 模型不受句子长短的影响，并且编码范围是有界的。（不会随着句子加长数字就"
            "无限增大）* 必须是确定性的。"
            "……第一个词编码为 [1,2,3]，则位置可用向量 [秒，分，时]来表示……秒针走一个周期 60 秒，"
            "分针走一步；"
            "分走一个周期 60 分，时针+1")
CLAIM_EN = ("Requirements of a positional encoding, met by combining sines and cosines: every "
            "position gets a unique code; the distance between two time steps is the same in "
            "sentences of different lengths; the model is not affected by sentence length and the "
            "code is bounded (values do not grow without limit as sentences get longer); it must "
            "be deterministic. Think of the dimensions as the hands of a clock (seconds, minutes, "
            "hours): each turns with its own period, so near and far relations are tracked at "
            "once.")


def _naive_codes(length: int, d_model: int) -> dict:
    """The two encodings the notes' question rules out: raw positions and positions / length."""
    positions = np.arange(length, dtype=np.float64)[:, None]
    return {"linear pos": np.repeat(positions, d_model, 1),
            "pos / length": np.repeat(positions / max(length - 1, 1), d_model, 1)}


def check_requirements(encode, lengths: tuple, d_model: int, offsets=(1, 2, 5, 10)) -> dict:
    """Measure the four requirements for ``encode(length, d_model) -> (length, d_model)``.

    * unique: the smallest distance between two different positions (> 0 means unique);
    * step distance: for each offset k, how much ``|PE[p + k] - PE[p]|`` varies over p and over
      the sentence lengths (0 means the distance depends on k only);
    * bounded: the largest absolute value, at each length;
    * deterministic: largest difference between two calls.

    Example:
        >>> values = check_requirements(
        ...     lambda n, d: np.asarray(sinusoidal_positional_encoding(n, d, "float64")._array),
        ...     (20, 40), 8)
        >>> values["min_distance_between_positions"] > 0, values["step_distance_spread"] < 1e-9
        (True, True)
    """
    tables = {length: np.asarray(encode(length, d_model), dtype=np.float64) for length in lengths}
    longest = tables[max(lengths)]
    squared = (longest * longest).sum(1)
    gram = squared[:, None] + squared[None, :] - 2 * longest @ longest.T
    distances = np.sqrt(np.maximum(gram, 0.0))
    np.fill_diagonal(distances, np.inf)
    step_values = {}
    spread = 0.0
    for offset in offsets:
        per_length = []
        for table in tables.values():
            steps = np.linalg.norm(table[offset:] - table[:-offset], axis=1)
            per_length.append(steps)
        joined = np.concatenate(per_length)
        step_values[offset] = float(joined.mean())
        spread = max(spread, float(joined.max() - joined.min()))
    repeat = np.asarray(encode(max(lengths), d_model), dtype=np.float64)
    return {
        "min_distance_between_positions": float(distances.min()),
        "step_distance_by_offset": {str(k): v for k, v in step_values.items()},
        "step_distance_spread": spread,
        "max_abs_value_by_length": {str(n): float(np.abs(t).max()) for n, t in tables.items()},
        "max_abs_value": float(max(np.abs(t).max() for t in tables.values())),
        "repeat_difference": float(np.abs(repeat - longest).max()),
    }


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Check the requirements, plot the table, the periods and the clock hands."""
    del seed  # the encoding is deterministic; nothing random here
    out_dir = Path(out_dir)
    d_model = 32 if quick else 128
    lengths = (50, 200) if quick else (50, 500, 2000)

    def sinusoidal(length, dim):
        return sinusoidal_positional_encoding(length, dim, "float64")._array

    measured = {"sinusoidal": check_requirements(sinusoidal, lengths, d_model)}
    for name in ("linear pos", "pos / length"):
        measured[name] = check_requirements(
            lambda length, dim, name=name: _naive_codes(length, dim)[name], lengths, d_model)
    sine = measured["sinusoidal"]
    periods = [2 * math.pi * 10000 ** (2 * (i // 2) / d_model) for i in range(d_model)]

    pyplot = plt()
    table = sinusoidal(100, d_model)
    figure, axis = pyplot.subplots(figsize=(8, 4))
    image = axis.imshow(table, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    axis.set_xlabel("dimension")
    axis.set_ylabel("position")
    axis.set_title(f"sinusoidal positional encoding (100 positions, d_model={d_model})")
    figure.colorbar(image, ax=axis)
    images = [save(figure, out_dir / "heatmap.png")]

    figure, axes = pyplot.subplots(1, 2, figsize=(10, 3.8))
    axes[0].semilogy(range(d_model), periods, ".-")
    axes[0].set_xlabel("dimension")
    axes[0].set_ylabel("period (positions per turn)")
    axes[0].set_title("each dimension is a clock hand with its own period")
    hands = [0, d_model // 4, d_model // 2, d_model - 2]
    positions = np.arange(0, 60)
    for rank, dim in enumerate(hands):
        angle = 2 * math.pi * positions / periods[dim]
        radius = 1.0 - 0.2 * rank
        axes[1].plot(radius * np.sin(angle), radius * np.cos(angle), ".-", markersize=3,
                     label=f"dim {dim}: period {periods[dim]:.3g}")
    axes[1].set_aspect("equal")
    axes[1].set_title("hands after positions 0..59")
    axes[1].legend(fontsize=7, loc="lower left")
    images.append(save(figure, out_dir / "clock.png"))

    figure, axis = pyplot.subplots(figsize=(6, 3.6))
    for name, values in measured.items():
        offsets = [int(k) for k in values["step_distance_by_offset"]]
        for length in lengths:
            codes = (sinusoidal(length, d_model) if name == "sinusoidal"
                     else _naive_codes(length, d_model)[name])
            axis.plot(offsets, [np.linalg.norm(codes[k] - codes[0]) for k in offsets],
                      marker="o", label=f"{name}, length {length}")
    axis.set_yscale("log")
    axis.set_xlabel("offset k")
    axis.set_ylabel("|PE[k] - PE[0]|")
    axis.set_title("distance between steps vs sentence length")
    axis.legend(fontsize=6)
    images.append(save(figure, out_dir / "step-distance.png"))

    unique = sine["min_distance_between_positions"] > 1e-6
    constant = sine["step_distance_spread"] < 1e-9
    bounded = sine["max_abs_value"] <= 1.0
    deterministic = sine["repeat_difference"] == 0.0
    linear, scaled = measured["linear pos"], measured["pos / length"]
    supported = unique and constant and bounded and deterministic
    because = (f"over {max(lengths)} positions (d_model {d_model}) the closest two positions "
               f"are {fmt(sine['min_distance_between_positions'])} apart (unique); "
               f"|PE[p+k] - PE[p]| varies by at most {fmt(sine['step_distance_spread'])} over p "
               f"and lengths {', '.join(map(str, lengths))} (k=1: "
               f"{fmt(sine['step_distance_by_offset']['1'])}); the largest |value| is "
               f"{fmt(sine['max_abs_value'])} (bounded); two calls differ by "
               f"{fmt(sine['repeat_difference'])}. For contrast the raw position code reaches "
               f"{fmt(linear['max_abs_value'])} and pos/length changes the step distance by "
               f"{fmt(scaled['step_distance_spread'])} between lengths")
    rows = [[name, values["min_distance_between_positions"], values["step_distance_spread"],
             values["max_abs_value"], values["repeat_difference"]]
            for name, values in measured.items()]
    details = markdown_table(["code", "min distance between positions", "step-distance spread",
                              "max |value|", "repeat difference"], rows)
    numbers = {**measured, "d_model": d_model, "lengths": list(lengths),
               "periods_first_last": [periods[0], periods[-1]]}
    return Result(verdict(supported, because), supported, numbers, images, details=details)
