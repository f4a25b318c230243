"""``report.html``: one self-contained page per training run (samples, curves, per-digit
accuracy, the data and judge used), its pictures embedded as base64 PNG so the file can be
mailed or opened anywhere.

Example:
    >>> import json, os, tempfile
    >>> from hybridgrad.models import get_spec
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "metrics.jsonl"), "w") as handle:
    ...     print(json.dumps({"kind": "epoch", "epoch": 1, "label_accuracy": 0.5,
    ...                       "label_accuracy_3": 0.25, "seconds": 2.0}), file=handle)
    >>> path = write_report(folder, get_spec("cgan"), {"epochs": 1}, judge="demo judge")
    >>> "label_accuracy" in open(path).read()
    True
"""

from __future__ import annotations

import base64
import html
import json
import os
import time

from hybridgrad.training.plots import _atomic, read_metrics

REPORT_NAME = "report.html"

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; text-align: left; }
tr:nth-child(even) { background: #f4f4f4; }
.bar { background: #4a7fb5; height: 0.9em; display: inline-block; }
.reached { color: #1a7f37; font-weight: bold; } .missed { color: #b35900; font-weight: bold; }
img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
img.grid { width: 34em; }
"""


def _image(path: str, alt: str, css_class: str = "") -> str:
    with open(path, "rb") as handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    class_attribute = f' class="{css_class}"' if css_class else ""
    return (f'<img{class_attribute} src="data:image/png;base64,{encoded}" '
            f'alt="{html.escape(alt)}">')


def _per_digit(record: dict, metric: str) -> list[float] | None:
    values = [record.get(f"{metric}_{digit}") for digit in range(10)]
    return None if any(v is None for v in values) else [float(v) for v in values]


def write_report(out_dir: str, spec, config: dict, judge: str | None = None,
                 data: str | None = None, path: str | None = None) -> str:
    """Write ``out_dir/report.html`` from the run's ``metrics.jsonl`` and pictures; returns its
    path. ``judge`` and ``data`` are the sentences saying which judge and which MNIST copy the
    run used."""
    records = read_metrics(os.path.join(out_dir, "metrics.jsonl"))
    epochs = [record for record in records if record.get("kind") == "epoch"]
    last = epochs[-1] if epochs else {}
    metric = spec.metric
    value = last.get(metric)
    comparison, bar = spec.goal
    if value is None:
        verdict = f'<span class="missed">{metric} not measured</span>'
    else:
        reached = spec.meets_goal(value)
        verdict = (f'<span class="{"reached" if reached else "missed"}">{metric} {value:.4f}: bar '
                   f'{html.escape(comparison)} {bar} {"reached" if reached else "not reached"}'
                   f'</span>')
    rows = [("model", spec.name), ("epochs", f"{last.get('epoch', 0)} of "
                                             f"{config.get('epochs', '?')}"),
            ("result", verdict),
            ("training time", f"{sum(r.get('seconds', 0.0) for r in epochs):.1f} s"),
            ("data", html.escape(data or "not recorded")),
            ("judge", html.escape(judge or "none (this model is not judged)")),
            ("settings", html.escape(json.dumps({k: v for k, v in config.items()
                                                 if k != "model"}))),
            ("architecture", html.escape(json.dumps(config.get("model", {})))),
            ("written", time.strftime("%Y-%m-%d %H:%M:%S"))]
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
             f"<title>hybridgrad train {spec.name}: report</title><style>{STYLE}</style></head>",
             f"<body>\n<h1>hybridgrad train {spec.name}</h1>",
             '<table class="summary">' + "".join(
                 f"<tr><th>{name}</th><td>{cell}</td></tr>" for name, cell in rows) + "</table>"]
    samples = os.path.join(out_dir, "samples.png")
    if os.path.exists(samples):
        parts.append('<h2 id="samples">Samples</h2>')
        caption = ("row d: ten samples of digit d" if spec.task == "cgan"
                   or spec.name == "cvae" else "samples")
        parts.append(f"<p>{caption} (last epoch)</p>{_image(samples, 'samples', 'grid')}")
    digits = _per_digit(last, metric)
    if digits is not None:
        parts.append(f'<h2 id="per-digit">Per digit: {metric}</h2><table class="per-digit">'
                     "<tr><th>digit</th><th>value</th><th></th></tr>")
        for digit, score in enumerate(digits):
            parts.append(f"<tr><td>{digit}</td><td>{score:.3f}</td><td><span class=\"bar\" "
                         f"style=\"width: {max(score, 0.0) * 20:.2f}em\"></span></td></tr>")
        parts.append("</table>")
    curves = os.path.join(out_dir, "curves.png")
    if os.path.exists(curves):
        parts.append(f'<h2 id="curves">Curves</h2>{_image(curves, "curves")}')
    if epochs:
        names = [k for k in last if k not in ("kind", "epoch", "step")
                 and not k.rsplit("_", 1)[-1].isdigit()]
        parts.append('<h2 id="epochs">Epochs</h2><table class="epochs"><tr>'
                     + "".join(f"<th>{html.escape(n)}</th>" for n in ["epoch", *names])
                     + "</tr>")
        for record in epochs:
            cells = [str(record.get("epoch"))] + [
                f"{record[n]:.4g}" if isinstance(record.get(n), (int, float)) else ""
                for n in names]
            parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body>\n</html>\n")
    path = path or os.path.join(out_dir, REPORT_NAME)

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write("\n".join(parts))

    _atomic(path, write)
    return path
