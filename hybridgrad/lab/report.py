"""The lab report: one Markdown file (images linked) and one self-contained HTML page (images
embedded as base64), built from :class:`hybridgrad.lab.Result` objects.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from hybridgrad.lab import Result
    >>> result = Result("supported in this run: 1 < 2", True, {"a": 1}, [], name="demo",
    ...                 claim_zh="一", claim_en="one")
    >>> markdown, page = write_report([result], Path(tempfile.mkdtemp()))
    >>> "supported in this run: 1 &lt; 2" in page.read_text(encoding="utf-8")
    True
"""

from __future__ import annotations

import base64
import html
import json
import os
import platform
import time
from pathlib import Path

from hybridgrad.lab import Result

_STATUS = {True: "supported", False: "not supported", None: "partly supported"}


def status(result: Result) -> str:
    """One word or two for the summary table.

    Example:
        >>> status(Result("skipped: x", None, {}, [], "x"))
        'skipped'
    """
    return "skipped" if result.skipped_reason else _STATUS[result.supported]


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).resolve().as_posix()


def markdown(results: list[Result], base: Path, header: str = "") -> str:
    """The Markdown report; image links are relative to ``base``.

    Example:
        >>> text = markdown([Result("not supported: 2 > 1", False, {}, [], name="x")], Path("."))
        >>> "| x | not supported |" in text
        True
    """
    lines = ["# hybridgrad lab report", ""]
    if header:
        lines += [header, ""]
    lines += ["| experiment | result | seconds |", "|---|---|---|"]
    lines += [f"| {r.name} | {status(r)} | {r.seconds:.1f} |" for r in results]
    for result in results:
        lines += ["", f"## {result.name}", ""]
        if result.claim_zh:
            lines += ["> " + result.claim_zh, ">", "> *" + result.claim_en + "*", ""]
        lines += [f"**Verdict** — {result.verdict}", ""]
        if result.details:
            lines += [result.details, ""]
        for image in result.images:
            lines.append(f"![{Path(image).stem}]({_relative(image, base)})")
        if result.images:
            lines.append("")
        lines += ["<details><summary>measured numbers</summary>", "", "```json",
                  json.dumps(result.numbers, indent=1, ensure_ascii=False, default=str),
                  "```", "", "</details>"]
    return "\n".join(lines) + "\n"


def _table_html(block: str) -> str:
    """A Markdown table (as written by ``markdown_table``) as an HTML table."""
    rows = [line.strip().strip("|").split("|") for line in block.strip().splitlines()]
    rows = [row for row in rows if not all(set(cell.strip()) <= {"-"} for cell in row)]
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(cell.strip())}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell.strip())}</td>" for cell in row)
                   + "</tr>" for row in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _details_html(details: str) -> str:
    parts, table = [], []
    for line in details.splitlines() + [""]:
        if line.strip().startswith("|"):
            table.append(line)
            continue
        if table:
            parts.append(_table_html("\n".join(table)))
            table = []
        if line.strip():
            parts.append(f"<p>{html.escape(line)}</p>")
    return "\n".join(parts)


def html_page(results: list[Result], header: str = "") -> str:
    """A self-contained HTML page: images embedded as ``data:image/png;base64``.

    Example:
        >>> page = html_page([Result("skipped: x", None, {}, [], "x", name="ctc")])
        >>> page.startswith("<!DOCTYPE html>") and "skipped" in page
        True
    """
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em;"
             "line-height:1.45}table{border-collapse:collapse;margin:.6em 0}td,th{border:1px "
             "solid #ccc;padding:2px 8px;font-size:90%}blockquote{color:#444;border-left:4px "
             "solid #ccc;margin:0;padding-left:1em}img{max-width:100%;margin:.4em 0}"
             ".supported{color:#17702b}.not-supported{color:#a31515}.partly-supported"
             "{color:#a36b00}.skipped{color:#666}pre{background:#f6f6f6;padding:.5em;"
             "overflow-x:auto;font-size:80%}")
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>hybridgrad lab report</title>", f"<style>{style}</style></head><body>",
             "<h1>hybridgrad lab report</h1>"]
    if header:
        parts.append(f"<p>{html.escape(header)}</p>")
    parts.append("<table><thead><tr><th>experiment</th><th>result</th><th>seconds</th></tr>"
                 "</thead><tbody>")
    for result in results:
        word = status(result)
        parts.append(f"<tr><td><a href=\"#{html.escape(result.name)}\">"
                     f"{html.escape(result.name)}</a></td><td class=\"{word.replace(' ', '-')}\">"
                     f"{word}</td><td>{result.seconds:.1f}</td></tr>")
    parts.append("</tbody></table>")
    for result in results:
        word = status(result)
        parts.append(f"<h2 id=\"{html.escape(result.name)}\">{html.escape(result.name)}</h2>")
        if result.claim_zh:
            parts.append(f"<blockquote><p lang=\"zh\">{html.escape(result.claim_zh)}</p>"
                         f"<p><em>{html.escape(result.claim_en)}</em></p></blockquote>")
        parts.append(f"<p class=\"{word.replace(' ', '-')}\"><strong>Verdict</strong> — "
                     f"{html.escape(result.verdict)}</p>")
        if result.details:
            parts.append(_details_html(result.details))
        for image in result.images:
            data = base64.b64encode(Path(image).read_bytes()).decode("ascii")
            parts.append(f"<img alt=\"{html.escape(Path(image).stem)}\" "
                         f"src=\"data:image/png;base64,{data}\">")
        numbers = json.dumps(result.numbers, indent=1, ensure_ascii=False, default=str)
        parts.append(f"<details><summary>measured numbers</summary><pre>"
                     f"{html.escape(numbers)}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def header_line(quick: bool, seed: int) -> str:
    """Run settings for the report header.

    Example:
        >>> "seed 3" in header_line(True, 3)
        True
    """
    mode = "quick mode (smoke sizes: verdicts are not meaningful)" if quick else "default sizes"
    return (f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {mode}, seed {seed}, "
            f"Python {platform.python_version()} on {platform.machine()} "
            f"({os.cpu_count()} CPUs).")


def write_report(results: list[Result], out_dir: Path, header: str = "",
                 stem: str = "report") -> tuple[Path, Path]:
    """Write ``out_dir/report.md``, ``out_dir/report.html`` and ``out_dir/results.json``.

    Returns the Markdown and HTML paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown_path, html_path = out_dir / f"{stem}.md", out_dir / f"{stem}.html"
    markdown_path.write_text(markdown(results, out_dir, header), encoding="utf-8")
    html_path.write_text(html_page(results, header), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(
        [result.to_dict() for result in results], indent=1, ensure_ascii=False, default=str),
        encoding="utf-8")
    return markdown_path, html_path


__all__ = ["header_line", "html_page", "markdown", "status", "write_report"]
