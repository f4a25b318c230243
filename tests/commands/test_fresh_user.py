"""What a new user meets: ``hybridgrad train cgan`` on a machine with no data folder says where
the data and the judge come from, how long it will take and where everything went, and leaves a
self-contained ``report.html``; the shipped judge is what its record says."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from model_cli_helpers import SMALL, run_cli

from hybridgrad.training.judge import SHIPPED_JUDGE, choose_judge, shipped_judge_info


@pytest.fixture
def bare_machine(monkeypatch, tmp_path):
    """A fresh folder as working directory, no $HYBRIDGRAD_DATA, an empty user cache."""
    monkeypatch.delenv("HYBRIDGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.ids: list[str] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("href", "src"):
            if key in attrs and tag != "img":
                self.links.append(attrs[key])
        if "id" in attrs:
            self.ids.append(attrs["id"])
        self._in_cell = tag in ("td", "th")

    def handle_data(self, data):
        if self._in_cell:
            self.cells.append(data.strip())


def test_train_cgan_says_where_the_user_is(bare_machine, capsys):
    assert run_cli("train", "cgan", *SMALL, "--set", "judge_samples=50") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    first_epoch = next(i for i, line in enumerate(lines) if line.startswith("epoch 1:"))
    before = "\n".join(lines[:first_epoch])
    assert "data:  MNIST from the copy embedded in the package" in before
    assert "judge: the CNN shipped with hybridgrad (test accuracy 0.9" in before
    assert re.search(r"expected duration: about ([\d.]+ (s|min|h)|under a second) for 1 epoch",
                     before)
    assert "label_accuracy 0." in lines[first_epoch]  # measured by the shipped judge
    for name in ("samples.png", "curves.png", "checkpoint.safetensors", "report.html"):
        assert f"runs/cgan/{name}" in "\n".join(lines[first_epoch:])

    page_text = (bare_machine / "runs" / "cgan" / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(page_text)
    assert page_text.startswith("<!DOCTYPE html>") and "html" in page.tags
    assert {"samples", "per-digit", "curves", "epochs"} <= set(page.ids)
    assert len(page.images) == 2 and page.links == []  # self-contained: no file, no URL
    for source in page.images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    digits = page_text.split('id="per-digit"')[1].split("</table>")[0]
    assert digits.count("<tr>") == 11  # header + ten digits
    assert any("CNN shipped with hybridgrad" in cell for cell in page.cells)
    assert any("embedded in the package" in cell for cell in page.cells)


def test_eval_cgan_without_runs_cnn_uses_the_shipped_judge(bare_machine, capsys):
    assert run_cli("train", "cgan", *SMALL, "--set", "judge_samples=20") == 0
    capsys.readouterr()
    assert run_cli("eval", "cgan", "--samples", "20") == 0
    out = capsys.readouterr().out
    assert "judge: the CNN shipped with hybridgrad" in out and "label_accuracy" in out


def test_eval_cvae_says_which_judge_in_its_json(bare_machine, capsys):
    import json

    assert run_cli("train", "cvae", *SMALL, "--set", "judge_samples=20") == 0
    capsys.readouterr()
    assert run_cli("eval", "cvae", "--samples", "20", "--subset", "64", "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert results["judge"].startswith("the CNN shipped with hybridgrad")
    assert 0.0 <= results["label_accuracy"] <= 1.0 and len(results["per_digit"]) == 10


def test_a_trained_cnn_wins_and_a_missing_judge_is_an_error(bare_machine, capsys):
    trained = bare_machine / "runs" / "cnn" / "checkpoint.safetensors"
    assert choose_judge(None, str(trained)).kind == "shipped"
    assert run_cli("train", "cnn", *SMALL) == 0
    assert choose_judge(None, str(trained)).kind == "trained"
    assert choose_judge(str(SHIPPED_JUDGE), str(trained)).kind == "given"
    capsys.readouterr()
    assert run_cli("train", "cgan", *SMALL, "--judge", "nothing.safetensors") == 2
    assert "no judge checkpoint at nothing.safetensors" in capsys.readouterr().err


def test_shipped_judge_is_what_its_record_says(bare_machine, capsys):
    info = shipped_judge_info()
    assert info["command"].startswith("hybridgrad train cnn")
    record = (SHIPPED_JUDGE.parent / "JUDGE.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(SHIPPED_JUDGE.read_bytes()).hexdigest()
    assert digest in record and info["command"] in record
    assert run_cli("eval", "cnn", "--checkpoint", SHIPPED_JUDGE) == 0  # all 10,000 test images
    out = capsys.readouterr().out
    measured = float(re.search(r"test_accuracy\s+([\d.]+)", out).group(1))
    assert f"{measured:.4f}" == info["test_accuracy"] and measured >= 0.985


def test_version_is_the_packages(capsys):
    from pathlib import Path

    import hybridgrad

    project = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    version = re.search(r'(?m)^version = "([^"]+)"', project).group(1)  # no tomllib on 3.10
    with pytest.raises(SystemExit) as exit_:
        run_cli("--version")
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"hybridgrad {version}" == \
        f"hybridgrad {hybridgrad.__version__}"
