"""``hybridgrad lab``: run the notes' claims as measured experiments.

Examples::

    hybridgrad lab list                      # the experiments and the claims they test
    hybridgrad lab one-hot                   # one experiment -> lab-output/one-hot/, report
    hybridgrad lab normalization --quick     # seconds-long smoke run (verdict not meaningful)
    hybridgrad lab all --out results         # every experiment + report.md and report.html

Example:
    >>> from hybridgrad.cli import main
    >>> main(["lab", "list"])  # doctest: +ELLIPSIS
    normalization ...
    0
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lab", help="run the notes' claims as small measured experiments with plots",
        description="Run one experiment of the lab (or all of them) and write its plots, its "
                    "measured numbers and a verdict computed from them; 'all' also writes "
                    "report.md and a self-contained report.html. Each experiment takes up to "
                    "about three minutes on two cores; --quick runs a seconds-long smoke "
                    "version whose verdicts are not meaningful.")
    parser.add_argument("name", metavar="NAME",
                        help="an experiment name, 'all' or 'list' (see 'hybridgrad lab list')")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: checks the code path in seconds")
    parser.add_argument("--out", default="lab-output",
                        help="output folder (default: ./lab-output)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME",
                        help="with 'all': leave this experiment out (repeatable), e.g. "
                             "--skip ctc, whose full run trains two captcha models for an hour")
    parser.set_defaults(handler=run)


def _list() -> int:
    from hybridgrad import lab

    for name in lab.names():
        english = lab.claim(name)[1] or ""
        print(f"{name:20s} {english[:80]}{'...' if len(english) > 80 else ''}")
    return 0


def run(args) -> int:
    from hybridgrad import lab
    from hybridgrad.cli import CommandError
    from hybridgrad.lab.report import header_line, status, write_report

    if args.name == "list":
        return _list()
    unknown = [name for name in args.skip if name not in lab.EXPERIMENTS]
    if unknown:
        raise CommandError(f"--skip: {lab.unknown_message(unknown[0])}")
    if args.name == "all":
        selected = [name for name in lab.names() if name not in args.skip]
    elif args.name in lab.EXPERIMENTS:
        selected = [args.name]
    else:
        raise CommandError(lab.unknown_message(args.name) + "; or use 'all' or 'list'")
    out_dir = Path(args.out)
    results = []
    for name in selected:
        print(f"[{name}] running{' (quick)' if args.quick else ''}...", flush=True)
        try:
            result = lab.run(name, out_dir, quick=args.quick, seed=args.seed)
        except Exception as error:  # noqa: BLE001 - data missing etc.: report, keep going
            if len(selected) == 1:
                raise CommandError(f"experiment {name!r} failed: {type(error).__name__}: "
                                   f"{error}") from error
            result = lab.skipped(f"it failed: {type(error).__name__}: {error}")
            result.name = name
            result.claim_zh, result.claim_en = lab.claim(name)
        results.append(result)
        (out_dir / name).mkdir(parents=True, exist_ok=True)
        (out_dir / name / "result.json").write_text(
            json.dumps(result.to_dict(), indent=1, ensure_ascii=False, default=str),
            encoding="utf-8")
        print(f"[{name}] {status(result)} in {result.seconds:.1f} s: {result.verdict}",
              flush=True)
        for image in result.images:
            print(f"    {image}")
    target = out_dir if args.name == "all" else out_dir / selected[0]
    markdown_path, html_path = write_report(results, target, header_line(args.quick, args.seed))
    print(f"report: {markdown_path} and {html_path}", file=sys.stdout)
    return 0
