"""Run PyTorch programs with ``hybridgrad run`` and tabulate which ran and what stopped the rest.

Usage::

    python benchmarks/torch_programs.py DIR [--timeout 300] [--only NAME ...]

The programs: every ``*.py`` directly in ``DIR``, plus every entry of the optional table
``DIR/programs.toml``, which also gives each program cut-down arguments (fewer epochs, a dry
run) so the whole set runs in minutes::

    [programs."mnist/main.py"]        # a path relative to DIR
    args = ["--epochs", "1", "--dry-run"]
    cwd = "mnist"                     # default: the program's own folder; "{tmp}": a scratch one
    timeout = 300                     # seconds (default: --timeout)
    env = { MPLBACKEND = "Agg" }      # extra environment variables
    mpirun = 2                        # run under mpirun -n 2 (DDP scripts)
    pythonpath = ["minGPT"]           # folders (relative to DIR) the program imports from

    [programs."nanoGPT/model.py"]
    skip = "a module imported by train.py, not a program"

Each program runs in a fresh process as ``python -m hybridgrad run PROGRAM ARGS`` (this
checkout's hybridgrad first on ``PYTHONPATH``, matplotlib's non-interactive backend), and the
table says: ``ran`` (exit status 0), ``failed`` with the first missing PyTorch API (the
runner's ``... is not available in hybridgrad`` line) or else the error the program stopped
on, or ``timeout``. The benchmark for issue 15: the share of programs that ran, and which
missing APIs block the most programs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MISSING = re.compile(r"^hybridgrad run: (?:module )?(\S+) is not available in hybridgrad", re.M)
STOPPED = re.compile(r"^hybridgrad run: (.*)$", re.M)


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise SystemExit(f"reading {path} needs Python 3.11+ (tomllib) or 'pip install "
                             "tomli'") from None
    return tomllib.loads(path.read_text())


def discover(folder: Path) -> dict[str, dict]:
    """Program path (relative to ``folder``) -> its settings from ``programs.toml``."""
    table_path = folder / "programs.toml"
    table = _read_toml(table_path).get("programs", {}) if table_path.exists() else {}
    programs = {path.name: {} for path in sorted(folder.glob("*.py"))}
    programs.update(table)
    return programs


def run_one(folder: Path, name: str, settings: dict, timeout: float) -> dict:
    """Run one program; returns {program, status, seconds, reason}."""
    if settings.get("skip"):
        return {"program": name, "status": "skipped", "seconds": 0.0,
                "reason": str(settings["skip"])}
    script = (folder / name).resolve()
    if settings.get("cwd") == "{tmp}":  # outputs (checkpoints, images) go to a scratch folder
        cwd = Path(tempfile.mkdtemp(prefix="torch-program-"))
    else:
        cwd = (folder / settings["cwd"]) if "cwd" in settings else script.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("MPLBACKEND", "Agg")
    env.update({key: str(value) for key, value in settings.get("env", {}).items()})
    extra_paths = [str((folder / path).resolve()) for path in settings.get("pythonpath", [])]
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], *extra_paths])
    command = [sys.executable, "-m", "hybridgrad", "run", str(script),
               *[str(argument) for argument in settings.get("args", [])]]
    if settings.get("mpirun"):
        command = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n",
                   str(settings["mpirun"]), *command]
    started = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                                timeout=settings.get("timeout", timeout))
    except subprocess.TimeoutExpired:
        return {"program": name, "status": "timeout", "reason": "",
                "seconds": time.perf_counter() - started}
    seconds = time.perf_counter() - started
    if result.returncode == 0:
        return {"program": name, "status": "ran", "seconds": seconds, "reason": ""}
    missing = MISSING.search(result.stderr)
    if missing:
        reason = f"missing {missing.group(1)}"
    else:
        stopped = STOPPED.findall(result.stderr)
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        reason = stopped[-1] if stopped else (lines[-1] if lines else f"exit {result.returncode}")
    return {"program": name, "status": "failed", "seconds": seconds, "reason": reason[:160]}


def table(results: list[dict]) -> str:
    """A Markdown table of the results and a summary line.

    Example:
        >>> print(table([{"program": "a.py", "status": "ran", "seconds": 1.0, "reason": ""}]))
        | program | result | seconds | first missing API / error |
        |---|---|---|---|
        | a.py | ran | 1.0 |  |
        <BLANKLINE>
        ran 1 of 1 programs (100%)
    """
    lines = ["| program | result | seconds | first missing API / error |", "|---|---|---|---|"]
    for result in results:
        reason = result["reason"].replace("|", "\\|")
        lines.append(f"| {result['program']} | {result['status']} | {result['seconds']:.1f} | "
                     f"{reason} |")
    attempted = [r for r in results if r["status"] != "skipped"]
    ran = sum(r["status"] == "ran" for r in attempted)
    share = 100.0 * ran / len(attempted) if attempted else 0.0
    lines.append("")
    lines.append(f"ran {ran} of {len(attempted)} programs ({share:.0f}%)")
    blockers = Counter(r["reason"] for r in attempted if r["reason"].startswith("missing "))
    if blockers:
        lines.append("missing APIs, by programs blocked: " + ", ".join(
            f"{reason[len('missing '):]} ({count})" for reason, count in blockers.most_common()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of PyTorch programs")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per program")
    parser.add_argument("--only", nargs="*", help="run only these programs (names as listed)")
    args = parser.parse_args(argv)
    programs = discover(args.folder)
    if args.only:
        programs = {name: settings for name, settings in programs.items() if name in args.only}
    results = []
    for name, settings in programs.items():
        result = run_one(args.folder, name, settings, args.timeout)
        print(f"{name}: {result['status']} {result['seconds']:.1f} s {result['reason']}",
              file=sys.stderr, flush=True)
        results.append(result)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
