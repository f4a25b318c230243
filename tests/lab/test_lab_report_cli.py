"""The report (Markdown + self-contained HTML) and the ``hybridgrad lab`` command."""

import base64
import json
import re
import sys
import types

from hybridgrad import lab
from hybridgrad.cli import main
from hybridgrad.lab.common import plt, save
from hybridgrad.lab.report import write_report


def _png(path):
    figure = plt().figure(figsize=(1, 1))
    figure.gca().plot([0, 1], [1, 0])
    return save(figure, path)


def test_report_embeds_images_and_quotes_claims(tmp_path):
    image = _png(tmp_path / "demo" / "plot.png")
    results = [
        lab.Result("not supported: 2 > 1", False, {"x": 2.0}, [image], details="| a |\n|---|\n"
                   "| 1 |", name="demo", claim_zh="中文", claim_en="English"),
        lab.skipped("needs something"),
    ]
    results[1].name = "other"
    markdown_path, html_path = write_report(results, tmp_path, "header")
    markdown = markdown_path.read_text(encoding="utf-8")
    page = html_path.read_text(encoding="utf-8")
    assert "| demo | not supported |" in markdown and "| other | skipped |" in markdown
    assert "](demo/plot.png)" in markdown and "> 中文" in markdown
    encoded = base64.b64encode(image.read_bytes()).decode("ascii")
    assert f"data:image/png;base64,{encoded}" in page
    assert not re.search(r'<img[^>]+src="(?!data:)', page)  # nothing external
    assert "<td>1</td>" in page and "needs something" in page
    assert json.loads((tmp_path / "results.json").read_text())[0]["numbers"] == {"x": 2.0}


def test_cli_runs_one_experiment(tmp_path, capsys):
    assert main(["lab", "one-hot", "--quick", "--out", str(tmp_path), "--seed", "1"]) == 0
    output = capsys.readouterr().out
    assert "[one-hot] supported" in output
    saved = json.loads((tmp_path / "one-hot" / "result.json").read_text())
    assert saved["verdict"].startswith("supported in this run: ")
    assert (tmp_path / "one-hot" / "distances.png").is_file()
    assert (tmp_path / "one-hot" / "report.html").is_file()


def test_cli_all_writes_the_combined_report(tmp_path, monkeypatch, capsys):
    subset = {name: lab.EXPERIMENTS[name] for name in ("one-hot", "positional-encoding", "ctc")}
    monkeypatch.setattr(lab, "EXPERIMENTS", subset)
    # (a stand-in for the slow CTC experiment that reports it was skipped)
    stand_in = types.ModuleType("hybridgrad.lab.ctc")
    stand_in.CLAIM_ZH, stand_in.CLAIM_EN = "CTC", "CTC"
    stand_in.run = lambda out_dir, quick=False, seed=0: lab.skipped("not run in this test")
    monkeypatch.setitem(sys.modules, "hybridgrad.lab.ctc", stand_in)
    assert main(["lab", "all", "--quick", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for name in subset:
        assert f'id="{name}"' in page
    assert page.count("data:image/png;base64,") == 1 + 3  # one-hot: 1 plot, positional: 3
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| ctc | skipped |" in markdown


def test_cli_list_and_unknown(capsys):
    assert main(["lab", "list"]) == 0
    assert "positional-encoding" in capsys.readouterr().out
    assert main(["lab", "normalisation"]) == 2
    assert "did you mean 'normalization'" in capsys.readouterr().err


def test_cli_all_skips_named_experiments_and_rejects_unknown_ones(tmp_path, monkeypatch, capsys):
    subset = {name: lab.EXPERIMENTS[name] for name in ("one-hot", "ctc")}
    monkeypatch.setattr(lab, "EXPERIMENTS", subset)
    assert main(["lab", "all", "--quick", "--skip", "ctc", "--out", str(tmp_path)]) == 0
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| one-hot |" in markdown and "| ctc |" not in markdown
    assert not (tmp_path / "ctc").exists()
    assert main(["lab", "all", "--skip", "ctcc", "--out", str(tmp_path)]) == 2
    assert "--skip" in capsys.readouterr().err
