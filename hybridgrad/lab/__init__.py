"""The lab: each claim of the study notes turned into a small, seeded, measured experiment.

Every experiment is a module with ``CLAIM_ZH`` (the notes' words), ``CLAIM_EN`` (an English
rendering) and ``run(out_dir, quick=False, seed=0) -> Result``. The verdict is computed from
the measurements of that run, never written in advance. ``hybridgrad lab NAME`` runs one,
``hybridgrad lab all`` runs them all and writes a Markdown and an HTML report
(:mod:`hybridgrad.lab.report`).

Example:
    >>> from hybridgrad import lab
    >>> "one-hot" in lab.names()
    True
    >>> lab.claim("one-hot")[1][:29]
    'One-hot encoding turns discre'
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

__all__ = ["EXPERIMENTS", "Result", "claim", "get", "jsonable", "names", "run", "skipped",
           "unknown_message"]


@dataclass
class Result:
    """What one experiment found.

    Attributes:
        verdict: one paragraph that starts with ``"supported in this run: "``,
            ``"not supported: "``, ``"partly supported: "`` or ``"skipped: "`` and quotes the
            measured numbers.
        supported: ``True``/``False``; ``None`` when skipped or when the claim's parts disagree.
        numbers: the measurements (plain floats, ints, strings, lists and dicts: JSON-ready).
        images: the PNG plots written.
        skipped_reason: why the experiment did not run (``None`` when it ran).
        details: extra Markdown (tables) for the report.
        name, claim_zh, claim_en, seconds: filled in by :func:`run`.

    Example:
        >>> Result("supported in this run: 1 < 2", True, {"a": 1}, []).supported
        True
    """

    verdict: str
    supported: bool | None
    numbers: dict
    images: list = field(default_factory=list)
    skipped_reason: str | None = None
    details: str = ""
    name: str = ""
    claim_zh: str = ""
    claim_en: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (image paths as strings).

        Example:
            >>> Result("skipped: x", None, {}, [], "x").to_dict()["skipped_reason"]
            'x'
        """
        return {"name": self.name, "verdict": self.verdict, "supported": self.supported,
                "numbers": self.numbers, "images": [str(path) for path in self.images],
                "skipped_reason": self.skipped_reason, "details": self.details,
                "claim_zh": self.claim_zh, "claim_en": self.claim_en,
                "seconds": round(self.seconds, 2)}


def skipped(reason: str, numbers: dict | None = None) -> Result:
    """A result for an experiment that could not run; the reason is stated, nothing is faked.

    Example:
        >>> skipped("needs hybridgrad.symbolic").verdict
        'skipped: needs hybridgrad.symbolic'
    """
    return Result(f"skipped: {reason}", None, dict(numbers or {}), [], reason)


def jsonable(value):
    """``value`` with NumPy scalars and arrays, tuples and non-string keys made plain JSON.

    Example:
        >>> import numpy as np
        >>> jsonable({1: np.float32(0.5), "b": (np.bool_(True), np.arange(2))})
        {'1': 0.5, 'b': [True, [0, 1]]}
    """
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return jsonable(value.tolist())
    if isinstance(value, Path):
        return str(value)
    return value


# name -> module.
EXPERIMENTS: dict[str, str] = {
    "normalization": "hybridgrad.lab.normalization",
    "loss": "hybridgrad.lab.loss",
    "one-hot": "hybridgrad.lab.one_hot",
    "positional-encoding": "hybridgrad.lab.positional_encoding",
    "attention": "hybridgrad.lab.attention",
    "paradigms": "hybridgrad.lab.paradigms",
    "epochs-batches": "hybridgrad.lab.epochs_batches",
    "cnn-depth-width": "hybridgrad.lab.cnn_depth_width",
    "iris": "hybridgrad.lab.iris",
    "gan-vs-vae": "hybridgrad.lab.gan_vs_vae",
    "ctc": "hybridgrad.lab.ctc",
}

def names() -> list[str]:
    """The experiment names, in report order.

    Example:
        >>> names()[:3]
        ['normalization', 'loss', 'one-hot']
    """
    return list(EXPERIMENTS)


def unknown_message(name: str) -> str:
    """The error text for an unknown experiment name, with the closest known one.

    Example:
        >>> unknown_message("one_hot").split(";")[0]
        "no experiment named 'one_hot' (did you mean 'one-hot'?)"
    """
    import difflib

    close = difflib.get_close_matches(name, names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no experiment named {name!r}{hint}; known: {', '.join(names())}"


def get(name: str) -> ModuleType:
    """The experiment's module.

    Example:
        >>> get("iris").__name__
        'hybridgrad.lab.iris'
    """
    if name not in EXPERIMENTS:
        raise KeyError(f"lab: {unknown_message(name)}")
    return importlib.import_module(EXPERIMENTS[name])


def claim(name: str) -> tuple[str, str]:
    """``(CLAIM_ZH, CLAIM_EN)`` of an experiment.

    Example:
        >>> "CTC" in claim("ctc")[1]
        True
    """
    module = get(name)
    return getattr(module, "CLAIM_ZH", None), getattr(module, "CLAIM_EN", None)


def run(name: str, out_dir, quick: bool = False, seed: int = 0) -> Result:
    """Run one experiment into ``out_dir/NAME`` and return its :class:`Result`.

    Example:
        >>> import tempfile
        >>> result = run("one-hot", tempfile.mkdtemp(), quick=True)
        >>> result.supported, result.verdict.startswith("supported in this run")
        (True, True)
    """
    module = get(name)
    target = Path(out_dir) / name
    target.mkdir(parents=True, exist_ok=True)
    zh, en = claim(name)
    start = time.perf_counter()
    result = module.run(target, quick=quick, seed=seed)
    result.name, result.claim_zh, result.claim_en = name, zh or "", en or ""
    result.numbers = jsonable(result.numbers)
    result.seconds = time.perf_counter() - start
    return result
