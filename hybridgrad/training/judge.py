"""The judge: the MNIST classifier that scores generated digits (``label_accuracy`` of the CGAN
and the CVAE), chosen in one place so every command and report says which one it used.

Order: ``--judge CKPT`` when given; else your own trained CNN (``runs/cnn/checkpoint.safetensors``
by default); else the small CNN shipped inside the package
(``hybridgrad/models/weights/judge_cnn.safetensors``, trained by ``hybridgrad train cnn``; the
command, its test accuracy and the file's SHA-256 are in ``JUDGE.md`` beside it and in the file's
metadata), so a fresh installation measures label accuracy without training a classifier first.

Example:
    >>> choice = choose_judge(None, "no/such/checkpoint.safetensors")
    >>> choice.kind, choice.path == str(SHIPPED_JUDGE)
    ('shipped', True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SHIPPED_JUDGE = Path(__file__).resolve().parents[1] / "models" / "weights" / \
    "judge_cnn.safetensors"


class JudgeNotFoundError(FileNotFoundError):
    """An explicitly requested judge checkpoint that does not exist."""


@dataclass(frozen=True)
class JudgeChoice:
    """Which judge a command uses: ``path`` (None: no judge at all), ``kind`` (``"given"``,
    ``"trained"``, ``"shipped"`` or ``"none"``) and a sentence for reports."""

    path: str | None
    kind: str
    description: str


def shipped_judge_info() -> dict:
    """The shipped judge's metadata (``test_accuracy``, ``command``), empty when absent.

    Example:
        >>> float(shipped_judge_info()["test_accuracy"]) > 0.98
        True
    """
    from hybridgrad.serialization import read_metadata

    if not SHIPPED_JUDGE.is_file():
        return {}
    return dict(read_metadata(str(SHIPPED_JUDGE)))


def choose_judge(explicit: str | None, trained: str | None) -> JudgeChoice:
    """The judge to use: ``explicit`` (must exist), else ``trained`` when it exists, else the
    shipped CNN. Raises :class:`JudgeNotFoundError` for a missing explicit path.

    Example:
        >>> try:
        ...     choose_judge("missing.safetensors", None)
        ... except JudgeNotFoundError as error:
        ...     print(str(error)[:43])
        no judge checkpoint at missing.safetensors:
    """
    if explicit:
        if not os.path.isfile(explicit):
            raise JudgeNotFoundError(
                f"no judge checkpoint at {explicit}: pass a CNN checkpoint written by "
                f"'hybridgrad train cnn', or leave --judge out to use your runs/cnn or the "
                f"CNN shipped with hybridgrad")
        return JudgeChoice(str(explicit), "given", f"{explicit} (--judge)")
    if trained and os.path.isfile(trained):
        return JudgeChoice(str(trained), "trained", f"{trained} (your trained CNN)")
    if SHIPPED_JUDGE.is_file():
        accuracy = shipped_judge_info().get("test_accuracy", "?")
        return JudgeChoice(str(SHIPPED_JUDGE), "shipped",
                           f"the CNN shipped with hybridgrad (test accuracy {accuracy}; "
                           f"hybridgrad/models/weights/JUDGE.md); train your own with "
                           f"'hybridgrad train cnn'")
    return JudgeChoice(None, "none", "none (no runs/cnn and no shipped CNN): label_accuracy is "
                                     "not measured; train one with 'hybridgrad train cnn'")
