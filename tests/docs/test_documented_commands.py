"""Documentation that cannot rot: every ``hybridgrad ...`` and ``python ...`` command shown in
README.md, README.zh-CN.md and docs/*.md parses with the real argument parsers, and the cheap
ones (``<!-- run -->`` before their block, or ``--quick``) run to completion in a temporary
folder. See ``doc_commands.py`` for the extraction rules and the markers."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from doc_commands import Command, documentation_files, extract

from hybridgrad.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [command for path in documentation_files(ROOT) for command in extract(path, ROOT)]
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_.]*$")  # MODEL, CKPT, N, IMAGE, OUT/...


def _subparser(parser: argparse.ArgumentParser, name: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def _value_for(action) -> str:
    """A value the option accepts, standing in for a placeholder such as N or CKPT."""
    if action is not None and action.choices:
        return str(next(iter(action.choices)))
    if action is not None and action.type in (int, float):
        return "1"
    return "placeholder"


def _fill_placeholders(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Replace upper-case placeholders and '...' by values the parser accepts, so a template
    like ``--samples N`` checks the option's name, not the letter N."""
    options = {option: action for action in parser._actions
               for option in action.option_strings}
    positionals = [action for action in parser._actions
                   if not action.option_strings and not isinstance(
                       action, argparse._SubParsersAction)]
    result: list[str] = []
    previous = None
    position = 0
    for word in argv:
        takes_value = previous is not None and previous.nargs != 0 and previous.const is None \
            and not isinstance(previous, (argparse._StoreTrueAction,
                                          argparse._StoreFalseAction,
                                          argparse.BooleanOptionalAction))
        if word == "...":
            if takes_value:
                result.append(_value_for(previous))
            previous = None
            continue
        if word.startswith("-"):
            previous = options.get(word.split("=", 1)[0])
            result.append(word)
            continue
        if takes_value:
            result.append(_value_for(previous) if PLACEHOLDER.match(word) else word)
            previous = previous if previous.nargs in ("+", "*") else None
            continue
        action = positionals[position] if position < len(positionals) else None
        if action is not None and action.nargs not in ("+", "*", argparse.REMAINDER):
            position += 1
        result.append(_value_for(action) if PLACEHOLDER.match(word) and (
            action is None or action.choices) else word)
        previous = None
    return result


def _check_hybridgrad(argv: list[str]) -> None:
    parser = build_parser()
    if len(argv) <= 1:
        return  # the bare command name, mentioned in prose
    sub = _subparser(parser, argv[0])
    assert sub is not None, f"unknown sub-command {argv[0]!r}"
    if len(argv) == 1:
        return
    if argv[1] == "--help":
        return
    elided = "..." in argv  # "hybridgrad lab ...": the rest is left to the reader
    argv = [argv[0], *_fill_placeholders(sub, argv[1:])]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            args, extras = parser.parse_known_args(argv)
    except SystemExit:
        message = errors.getvalue().strip().splitlines()[-1]
        if elided and "arguments are required" in message:
            return
        raise AssertionError(message) from None
    assert not extras, f"unknown arguments {extras}"
    model = getattr(args, "model", None)
    if isinstance(model, str) and ":" not in model and not PLACEHOLDER.match(model) \
            and argv[0] in ("train", "eval", "sample", "predict", "export"):
        known = _model_names()
        assert model in known, f"unknown model {model!r} (the models are {sorted(known)})"
    for word in argv[1:]:
        # A script or file of the repository named by a command (hybridgrad run examples/x.py).
        if word.endswith(".py") and "/" in word and not word.startswith(("/", "~")):
            assert (ROOT / word).is_file(), f"{word} does not exist"


def _model_names() -> set:
    """The zoo's names, and the names the commands dispatch on themselves (``if args.model ==
    "captcha"``), so a model added either way is known without editing this test."""
    from hybridgrad.models import REGISTRY

    names = set(REGISTRY)
    for module in (ROOT / "hybridgrad" / "commands").glob("*.py"):
        source = module.read_text(encoding="utf-8")
        for found in re.findall(r"args\.model\s*==\s*[\"'](\w[\w-]*)[\"']", source):
            names.add(found)
        for group in re.findall(r"args\.model\s+in\s+[(\[{]([^)\]}]*)", source):
            names.update(re.findall(r"[\"'](\w[\w-]*)[\"']", group))
    return names


class _StopAfterParsingError(Exception):
    """Raised instead of running a script once its arguments parsed."""


def _check_script(argv: list[str]) -> None:
    words = argv[1:]
    if words[:1] == ["-c"]:
        return  # inline Python code
    if words[:1] == ["-m"]:
        module = words[1]
        if module == "hybridgrad":
            _check_hybridgrad(words[2:])
        else:
            assert importlib.util.find_spec(module) is not None, f"no module {module!r}"
        return
    script = ROOT / words[0]
    assert script.is_file(), f"{words[0]} does not exist"
    source = script.read_text(encoding="utf-8")
    if len(words) == 1 or "argparse" not in source or "parse_args" not in source:
        return  # the script named in prose, or one without options: it exists
    original = argparse.ArgumentParser.parse_known_args
    outcome: dict = {}

    def parse_known_args(self, args=None, namespace=None):
        # The script's first (outermost) parse stops it, whatever its parser's prog; the
        # sub-parsers argparse calls inside that parse pass through.
        if outcome.get("depth"):
            return original(self, args, namespace)
        outcome["depth"] = 1
        args = _fill_placeholders(self, list(sys.argv[1:] if args is None else args))
        parsed, extras = original(self, args, namespace)
        outcome["extras"] = extras
        raise _StopAfterParsingError

    saved, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *words[1:]]
    sys.path.insert(0, str(script.parent))  # as "python script.py" does: sibling imports
    errors = io.StringIO()
    try:
        argparse.ArgumentParser.parse_known_args = parse_known_args
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(str(script), run_name="__main__")
    except _StopAfterParsingError:
        pass
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise AssertionError(errors.getvalue().strip() or f"exit {exit_.code}") from None
    finally:
        argparse.ArgumentParser.parse_known_args = original
        sys.argv, sys.path[:] = saved, saved_path
    if outcome.get("extras"):
        # parse_args (not parse_known_args) would refuse these.
        uses_known = "parse_known_args" in source
        assert uses_known, f"unrecognized arguments {outcome['extras']}"


def _check(command: Command) -> None:
    argv = list(command.argv)
    if argv[0] == "hybridgrad":
        _check_hybridgrad(argv[1:])
    else:
        _check_script(argv)


@pytest.mark.parametrize("command", [c for c in COMMANDS if not c.expect_error], ids=str)
def test_documented_command_parses(command):
    _check(command)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.expect_error], ids=str)
def test_documented_wrong_command_fails(command):
    with pytest.raises(AssertionError):
        _check(command)


def _blocks() -> list[list[Command]]:
    """The commands to run, grouped: a code block's commands run in order in one folder."""
    groups: dict = {}
    for command in COMMANDS:
        if command.run:
            key = (command.source, command.block if command.block is not None
                   else f"line {command.line}")
            groups.setdefault(key, []).append(command)
    return list(groups.values())


# Cheap but not seconds-cheap: every experiment of the lab (each also runs alone in tests/lab).
SLOW = ("lab all",)


def _block_params():
    return [pytest.param(block, id=str(block[0]), marks=[pytest.mark.slow] if any(
        heavy in " ".join(command.argv) for command in block for heavy in SLOW) else [])
        for block in _blocks()]


@pytest.mark.parametrize("block", _block_params())
def test_cheap_documented_commands_run(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parser = build_parser()
    for command in block:
        argv = list(command.argv)
        if argv[0] == "python" and argv[1:3] == ["-m", "hybridgrad"]:
            argv = ["hybridgrad", *argv[3:]]
        # Outputs the documentation sends to absolute folders stay in the temporary one.
        argv = [str(tmp_path / word.lstrip("/")) if word.startswith("/tmp/") else word
                for word in argv]
        if argv[0] == "hybridgrad":
            sub = _subparser(parser, argv[1])
            arguments = [argv[1], *_fill_placeholders(sub, argv[2:])]
            assert main(arguments) == 0, f"{command} failed"
        else:
            environment = {**os.environ, "PYTHONPATH": str(ROOT)}
            finished = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path,
                                      env=environment, capture_output=True, text=True,
                                      timeout=600)
            assert finished.returncode == 0, f"{command} failed: {finished.stderr[-2000:]}"


def test_the_extraction_finds_the_readme_commands():
    found = {" ".join(c.argv) for c in COMMANDS if c.source == "README.md"}
    assert {"hybridgrad train cgan", "hybridgrad explain backprop",
            "hybridgrad sample cgan --label 7 --n 16 -o sevens.png"} <= found
    assert any(c.run for c in COMMANDS)


def test_the_checker_refuses_what_is_wrong():
    for wrong in (["train", "mlp", "--quik"], ["train", "cnnn"], ["trian", "mlp"],
                  ["eval", "cnn", "--samples", "many"], ["sample", "cgan", "extra", "words"]):
        with pytest.raises(AssertionError):
            _check_hybridgrad(wrong)
    _check_hybridgrad(["eval", "MODEL", "--checkpoint", "CKPT", "--samples", "N"])
    with pytest.raises(AssertionError, match="does not exist"):
        _check_script(["python", "tools/no_such_tool.py", "--x"])
    with pytest.raises(AssertionError, match="unrecognized|error"):
        _check_script(["python", "tools/crash_test.py", "--no-such-option"])
    _check_script(["python", "tools/crash_test.py", "--kills", "N"])
