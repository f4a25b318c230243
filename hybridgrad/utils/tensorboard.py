"""``torch.utils.tensorboard.SummaryWriter`` without TensorBoard: scalars and text are appended
as JSON lines to ``log_dir/scalars.jsonl`` (one object per call: tag, value, step, wall time),
which any plotting script reads; images, histograms and graphs are accepted and not recorded.
Programs that log their losses (karpathy's makemore) run unchanged; TensorBoard cannot open
these files.

Example:
    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> writer = SummaryWriter(log_dir=folder)
    >>> writer.add_scalar("Loss/train", 0.5, 1); writer.close()
    >>> record = json.loads(open(os.path.join(folder, "scalars.jsonl")).readline())
    >>> record["tag"], record["value"], record["step"]
    ('Loss/train', 0.5, 1)
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime


def _number(value) -> float:
    return float(value.item() if hasattr(value, "item") else value)


class SummaryWriter:
    """PyTorch's writer interface over a JSON-lines file (see the module docstring).

    Example:
        >>> import tempfile
        >>> with SummaryWriter(tempfile.mkdtemp()) as writer:
        ...     writer.add_scalars("loss", {"train": 1.0, "test": 2.0}, 0)
        ...     writer.add_histogram("weights", [1, 2], 0)  # accepted, not recorded
    """

    def __init__(self, log_dir: str | None = None, comment: str = "", purge_step=None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = ""):
        if log_dir is None:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{os.uname().nodename}{comment}")
        self.log_dir = str(log_dir)
        os.makedirs(self.log_dir, exist_ok=True)
        self._file = open(os.path.join(self.log_dir, "scalars.jsonl"), "a", encoding="utf-8")

    def _write(self, record: dict) -> None:
        record.setdefault("wall_time", time.time())
        self._file.write(json.dumps(record) + "\n")

    def add_scalar(self, tag: str, scalar_value, global_step=None, walltime=None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        """Record one value.

        Example:
            >>> import tempfile
            >>> writer = SummaryWriter(tempfile.mkdtemp()); writer.add_scalar("loss", 1.0, 0)
        """
        self._write({"tag": tag, "value": _number(scalar_value), "step": global_step,
                     **({"wall_time": walltime} if walltime is not None else {})})

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step=None,
                    walltime=None) -> None:
        """Record several values under ``main_tag/name``.

        Example:
            >>> import tempfile
            >>> writer = SummaryWriter(tempfile.mkdtemp())
            >>> writer.add_scalars("loss", {"a": 1.0}, 0)
        """
        for name, value in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{name}", value, global_step, walltime)

    def add_text(self, tag: str, text_string: str, global_step=None, walltime=None) -> None:
        """Record a text.

        Example:
            >>> import tempfile
            >>> writer = SummaryWriter(tempfile.mkdtemp()); writer.add_text("note", "hello", 0)
        """
        self._write({"tag": tag, "text": str(text_string), "step": global_step})

    def _ignored(self, *args, **kwargs) -> None:
        """Accepted and not recorded (no TensorBoard event file)."""

    add_histogram = add_image = add_images = add_figure = add_graph = add_embedding = _ignored
    add_hparams = add_pr_curve = add_audio = add_video = add_mesh = _ignored

    def flush(self) -> None:
        """Write what is buffered to disk.

        Example:
            >>> import tempfile
            >>> writer = SummaryWriter(tempfile.mkdtemp()); writer.flush()
        """
        self._file.flush()

    def close(self) -> None:
        """Flush and close the file.

        Example:
            >>> import tempfile
            >>> writer = SummaryWriter(tempfile.mkdtemp()); writer.close()
        """
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
