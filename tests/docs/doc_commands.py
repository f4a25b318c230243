"""Extract the shell commands the documentation shows (``hybridgrad ...``, ``python ...``), so a
test can check each against the real argument parsers.

Sources: fenced code blocks (shell-like languages or none; ``$ `` prompts stripped, ``\\``
continuations joined, ``# comments`` dropped) and inline code spans (which may wrap across
lines). ``python`` code blocks are programs, not commands, and are skipped.

Markers (HTML comments, invisible when rendered), on a line of their own before a block, a
table or a paragraph:

* ``<!-- run -->``: the commands of the next code block are cheap; the test runs them, in
  order, in a temporary folder. Commands containing ``--quick`` run without the marker.
* ``<!-- expect-error: hybridgrad train mlp --quik -->`` (anywhere in the file): that command
  is shown deliberately wrong (next to its error message); the test checks that it *fails*.

Error messages quoted in the text (``hybridgrad train: unknown option ...``: a sub-command
followed by a colon) are not commands.

Template notation in documented commands: ``a|b`` (alternatives: the first is checked),
``[--flag]`` (optional: checked as present), ``...`` (omitted arguments: dropped); upper-case
words (``MODEL``, ``CKPT``) are placeholders.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console", "text", "zsh"}
PROGRAMS = ("hybridgrad", "python", "python3")


@dataclass(frozen=True)
class Command:
    """One documented command: its words (``argv[0]`` is ``hybridgrad`` or ``python``), where
    it is, whether it is cheap enough to run and whether it is meant to fail."""

    argv: tuple
    source: str
    line: int
    block: int | None = None  # index of its code block in the file (None: inline)
    run: bool = False
    expect_error: bool = False

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {' '.join(self.argv)}"


def _words(text: str) -> list[str] | None:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return None


def _strip_prefix(words: list[str]) -> list[str] | None:
    """Drop ``VAR=value`` prefixes, ``mpirun -n 2 ...`` and ``timeout 60``; None when the line
    does not start a documented program."""
    index = 0
    while index < len(words) and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[index]):
        index += 1
    words = words[index:]
    if words and words[0] in ("mpirun", "mpiexec"):
        starts = [i for i, word in enumerate(words) if word in PROGRAMS]
        words = words[starts[0]:] if starts else []
    if not words or words[0] not in PROGRAMS:
        return None
    if words[0] == "python3":
        words = ["python", *words[1:]]
    return words


def _template(words: list[str]) -> list[str]:
    result = []
    for word in words:
        if word in ("...", "…"):
            result.append("...")  # the checker drops it, or fills an option's missing value
            continue
        if word.endswith("...") and len(word) > 3:
            word = word[:-3]  # IMAGE...: one or more
        if word.startswith("{") and word.endswith("}") and "," in word:
            word = word[1:-1].split(",")[0]  # {cgan,cvae,vae}: the first choice
        if word.startswith("[") and word.endswith("]") and len(word) > 2:
            word = word[1:-1]
        elif word.startswith("[") and word[1:2] == "-":
            word = word[1:]
        elif word.endswith("]") and "[" not in word:
            word = word[:-1]
        if "|" in word and not word.startswith("|"):
            word = word.split("|")[0]
        result.append(word)
    return result


def _command(text: str) -> list[str] | None:
    text = re.sub(r"<[^<>]+>", "PLACEHOLDER", text.strip())  # --judge <the CNN above>
    if text.startswith("$ "):
        text = text[2:]
    words = _words(text)
    if not words:
        return None
    words = _strip_prefix(words)
    if words is None or len(words) < 2 and words[0] != "hybridgrad":
        return None
    if words[0] == "hybridgrad" and len(words) > 1 and words[1].endswith(":"):
        return None  # "hybridgrad train: unknown option ...": a quoted error message
    argv = _template(words)
    if argv[1:] == ["..."]:
        return None  # "`python ...` commands": a mention of commands in general
    return argv


FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
INLINE = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)")


def extract(path: Path, root: Path) -> list[Command]:
    """Every documented command of the Markdown file ``path`` (relative names from ``root``).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.md").write_text("Run `hybridgrad list`.\\n\\n<!-- run -->\\n"
        ...                                  "```bash\\n$ python tools/x.py --n 1  # note\\n```\\n")
        >>> [(c.argv, c.run) for c in extract(folder / "a.md", folder)]
        [(('python', 'tools/x.py', '--n', '1'), True), (('hybridgrad', 'list'), False)]
    """
    source = str(path.relative_to(root))
    lines = path.read_text(encoding="utf-8").splitlines()
    wrong = {" ".join(_command(m) or []) for m in re.findall(
        r"<!--\s*expect-error:\s*(.*?)\s*-->", "\n".join(lines))}
    commands: list[Command] = []
    prose: list[tuple[int, str]] = []  # (line number, text) outside code blocks
    marker = None
    in_block, fence, language, block_index = False, "", "", -1
    pending = ""
    pending_line = 0
    run_block = False
    for number, line in enumerate(lines, start=1):
        opening = FENCE.match(line)
        if not in_block and opening:
            in_block, fence, language = True, opening.group(2), opening.group(3).lower()
            block_index += 1
            run_block, marker = marker == "run", None
            continue
        if in_block:
            if line.strip().startswith(fence[:3]) and line.strip().strip(fence[0]) == "":
                in_block = False
                continue
            if language not in SHELL_LANGUAGES:
                continue
            if language in ("text", "console") and not line.lstrip().startswith("$ "):
                continue  # program output shown as text; only its prompts are commands
            if not pending:
                pending_line = number
            pending += line.rstrip()
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            argv = _command(pending)
            pending = ""
            if argv:
                commands.append(Command(tuple(argv), source, pending_line, block_index,
                                        run=run_block or "--quick" in argv,
                                        expect_error=" ".join(argv) in wrong))
            continue
        stripped = line.strip()
        if stripped == "<!-- run -->":
            marker = "run"
            continue
        prose.append((number, line))
    # Inline code spans: join the prose (a span may wrap onto the next line).
    text = "\n".join(line for _, line in prose)
    starts = []
    position = 0
    for number, line in prose:
        starts.append((position, number))
        position += len(line) + 1
    for match in INLINE.finditer(text):
        argv = _command(match.group(1).replace("\n", " "))
        if not argv:
            continue
        expect_error = " ".join(argv) in wrong
        line_number = max(number for start, number in starts if start <= match.start())
        commands.append(Command(tuple(argv), source, line_number, None,
                                run="--quick" in argv and not expect_error,
                                expect_error=expect_error))
    return commands


def documentation_files(root: Path) -> list[Path]:
    """README.md, README.zh-CN.md and docs/*.md."""
    files = [root / "README.md", root / "README.zh-CN.md", *sorted((root / "docs").glob("*.md"))]
    return [path for path in files if path.is_file()]
