"""report.html as a browser shows it: a headless Chromium screenshot of a report must show the
embedded pictures (base64 PNG) and the per-digit bars. CI installs Chromium (.ci/run); the HTML
structure of a real run's report is tested in tests/commands/test_fresh_user.py."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from hybridgrad.models import get_spec
from hybridgrad.training.plots import plot_curves, save_image_grid
from hybridgrad.training.report import write_report

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser",
                                                 "google-chrome") if shutil.which(name)), None)


def _run(folder):
    with open(folder / "metrics.jsonl", "w") as handle:
        for step in range(1, 6):
            print(json.dumps({"kind": "step", "step": step, "g_loss": 1.0 / step}), file=handle)
        print(json.dumps({"kind": "epoch", "epoch": 1, "step": 5, "seconds": 3.0,
                          "label_accuracy": 0.55,
                          **{f"label_accuracy_{d}": d / 9 for d in range(10)}}), file=handle)
    # Mid-grey digits: a colour nothing else on the page has.
    save_image_grid(np.full((100, 1, 28, 28), 0.5), str(folder / "samples.png"), rows=10)
    plot_curves(str(folder / "metrics.jsonl"), str(folder / "curves.png"))
    return write_report(str(folder), get_spec("cgan"), {"epochs": 1}, judge="test judge",
                        data="test data")


def _count(pixels: np.ndarray, rgb, tolerance: int = 6) -> int:
    return int((np.abs(pixels.astype(int) - np.array(rgb)).max(axis=2) <= tolerance).sum())


@pytest.mark.skipif(BROWSER is None, reason="no Chromium: apt-get install chromium (.ci/run "
                    "installs it)")
def test_report_renders_in_a_headless_browser(tmp_path):
    page = _run(tmp_path)
    (tmp_path / "samples.png").unlink()  # the page must not need the files beside it
    (tmp_path / "curves.png").unlink()
    shot = tmp_path / "shot.png"
    subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1000,2200", f"--screenshot={shot}", f"file://{page}"],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert _count(pixels, (128, 128, 128), tolerance=1) > 20000  # the samples grid
    assert _count(pixels, (31, 119, 180)) > 100  # matplotlib's first line colour: the curves
    assert _count(pixels, (74, 127, 181), tolerance=2) > 1000  # the per-digit bars (CSS)
