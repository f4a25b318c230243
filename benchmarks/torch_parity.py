"""Run one PyTorch program under PyTorch and under ``hybridgrad run`` from the same initial
weights, and compare the losses it prints (issue 15's bar: within 1e-4 relative after three
steps, for programs whose run is otherwise deterministic).

Usage::

    python benchmarks/torch_parity.py PROGRAM [--steps 3] [--torch-python PYTHON] [-- ARGS...]

Both runs go through one small driver that wraps ``torch.nn.Module.__call__``: the first time a
top-level module (one not called from inside another module's forward) is called, the PyTorch
run saves its ``state_dict`` (NumPy ``.npz``, by order of first call) and the hybridgrad run
loads it into the module of the same rank. So the two runs start from PyTorch's weights
whatever their random generators do. The numbers compared are those on the lines of standard
output that mention "loss" (or match ``--match``), in order, the first ``--steps`` of them.
Data shuffling, dropout and random inputs still draw from each framework's own generator:
programs that use them are not expected to agree.

PyTorch is needed only for the reference run (``--torch-python``, default
``/work/torchvenv/bin/python``); it is never a dependency of hybridgrad.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRIVER = r'''
import os, runpy, sys
import numpy as np
import torch

mode, folder = os.environ["PARITY_MODE"], os.environ["PARITY_DIR"]
state = {"depth": 0, "count": 0, "seen": set()}
original = torch.nn.Module.__call__


def call(self, *args, **kwargs):
    if state["depth"] == 0 and id(self) not in state["seen"]:
        state["seen"].add(id(self))
        path = os.path.join(folder, "module%d.npz" % state["count"])
        state["count"] += 1
        if mode == "save":
            np.savez(path, **{k: v.detach().cpu().numpy() for k, v in self.state_dict().items()})
        elif os.path.exists(path):
            saved = np.load(path)
            self.load_state_dict({k: torch.from_numpy(saved[k]) for k in saved.files})
    state["depth"] += 1
    try:
        return original(self, *args, **kwargs)
    finally:
        state["depth"] -= 1


torch.nn.Module.__call__ = call
program = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
runpy.run_path(program, run_name="__main__")
'''
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def losses(output: str, steps: int, pattern: str = "loss") -> list[float]:
    """The first number after ``pattern`` (a regular expression, case-insensitive) on each of
    the first ``steps`` lines where it matches.

    Example:
        >>> losses("epoch 1\\ntrain loss 0.5\\nstep 2 loss: 1e-3 lr 0.1\\n", 5)
        [0.5, 0.001]
        >>> losses("99 12.5\\n199 3.25\\n", 5, pattern=r"^\\d+ ")
        [12.5, 3.25]
    """
    values = []
    expression = re.compile(pattern, re.IGNORECASE)
    for line in output.splitlines():
        match = expression.search(line)
        if match:
            number = NUMBER.search(line, match.end())
            if number:
                values.append(float(number.group()))
        if len(values) == steps:
            break
    return values


def run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program", type=Path)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--match", default="loss",
                        help="regular expression after which each loss is printed")
    parser.add_argument("--torch-python", default="/work/torchvenv/bin/python")
    argv = sys.argv[1:] if argv is None else list(argv)
    # Everything after "--" belongs to the program (its options may share our names).
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    arguments = argv[split + 1:]
    program = args.program.resolve()
    with tempfile.TemporaryDirectory() as folder:
        driver = Path(folder) / "parity_driver.py"
        driver.write_text(DRIVER)
        env = dict(os.environ, PARITY_DIR=folder, MPLBACKEND="Agg")
        reference = run([args.torch_python, str(driver), str(program), *arguments],
                        program.parent, dict(env, PARITY_MODE="save"))
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")]
                                                           if p])
        ours = run([sys.executable, "-m", "hybridgrad", "run", str(driver), str(program),
                    *arguments], program.parent, dict(env, PARITY_MODE="load"))
    for name, result in (("PyTorch", reference), ("hybridgrad", ours)):
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{program.name}: the {name} run failed: {last}")
            return 1
    expected = losses(reference.stdout, args.steps, args.match)
    got = losses(ours.stdout, args.steps, args.match)
    print("| step | PyTorch loss | hybridgrad loss | relative difference |")
    print("|---|---|---|---|")
    worst = 0.0
    for step, (a, b) in enumerate(zip(expected, got), 1):
        difference = abs(a - b) / max(abs(a), 1e-12)
        worst = max(worst, difference)
        print(f"| {step} | {a!r} | {b!r} | {difference:.2e} |")
    same = len(expected) == len(got) == args.steps and worst <= args.tolerance
    print(f"{program.name}: {'agrees' if same else 'DIFFERS'} (worst {worst:.2e}, tolerance "
          f"{args.tolerance:g}, {len(expected)}/{len(got)} loss lines)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
