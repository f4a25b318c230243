"""Crash-safety harness: kill ``hybridgrad train`` with SIGKILL at random moments, resume each
time from the last checkpoint, and check that

(a) after the first checkpoint was written, a valid checkpoint always exists (it loads, and its
    step count never goes backwards), and
(b) the run, finished after all its kills, ends with model and optimizer states bitwise
    identical to an uninterrupted run with the same seed.

Kills come in three kinds, cycled: at a uniformly random moment of the run (start-up included),
while a checkpoint is being written (``HYBRIDGRAD_TEST_WRITE_PAUSE`` makes the writer pause
half-way through its temporary file; the harness kills when that file appears), and just after
a checkpoint was replaced (the next steps are running).

Usage::

    HYBRIDGRAD_DATA=/path/to/data python tools/crash_test.py --kills 20
    python tools/crash_test.py --kills 5 --mode fork     # forked workers: no start-up cost

``--mode subprocess`` (default) starts ``python -m hybridgrad train mlp --quick ...`` as a new
process each time; ``--mode fork`` forks this process and calls ``hybridgrad.cli.main`` in the
child (what the fast unit test uses). Prints one line per kill and a summary; exits 1 unless
every kill was survived.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

CHECKPOINT = "checkpoint.safetensors"
KINDS = ("anytime", "during-write", "after-save")


@dataclass
class Report:
    kills_tried: int = 0
    kills_survived: int = 0
    by_kind: dict = field(default_factory=lambda: {kind: [0, 0] for kind in KINDS})
    runs_completed: int = 0
    runs_identical: int = 0
    torn_temporaries_seen: int = 0
    problems: list = field(default_factory=list)

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {ok}/{tried}" for kind, (ok, tried) in self.by_kind.items())
        return (f"kills survived {self.kills_survived}/{self.kills_tried} ({kinds}); runs "
                f"finished bitwise identical to the uninterrupted run: "
                f"{self.runs_identical}/{self.runs_completed}; kills that left a torn "
                f"temporary file beside an intact checkpoint: {self.torn_temporaries_seen}")


def _train_args(out: str, epochs: int, every: int, seed: int, resume: bool) -> list[str]:
    common = ["--no-progress", "--checkpoint-every", str(every), "--out", out]
    if resume:
        return ["train", "mlp", "--resume", os.path.join(out, CHECKPOINT), *common]
    return ["train", "mlp", "--quick", "--epochs", str(epochs), "--seed", str(seed), *common]


class _Worker:
    """One training process (a new interpreter, or a fork of this one)."""

    def __init__(self, argv: list[str], mode: str, write_pause: float):
        env_pause = str(write_pause) if write_pause > 0 else ""
        self.log_path = os.path.join(tempfile.gettempdir(), f"hybridgrad-crash-{os.getpid()}.log")
        if mode == "subprocess":
            env = dict(os.environ, HYBRIDGRAD_TEST_WRITE_PAUSE=env_pause,
                       PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
            self.process = subprocess.Popen([sys.executable, "-m", "hybridgrad", *argv],
                                            env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE)
            self.pid = self.process.pid
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the child: train, never return into the caller's code
                code = 1
                try:
                    null = os.open(os.devnull, os.O_WRONLY)
                    errors = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                    os.dup2(null, 1)
                    os.dup2(errors, 2)
                    os.environ["HYBRIDGRAD_TEST_WRITE_PAUSE"] = env_pause
                    from hybridgrad.cli import main

                    code = main(argv)
                finally:
                    os._exit(code)
            self.process, self.pid = None, pid
        self.returncode = None

    def poll(self):
        if self.returncode is not None:
            return self.returncode
        if self.process is not None:
            self.returncode = self.process.poll()
        else:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> bool:
        """SIGKILL; True if the process was still running."""
        if self.poll() is not None:
            return False
        os.kill(self.pid, signal.SIGKILL)
        self.wait()
        return True

    def wait(self, timeout: float = 600.0):
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
            time.sleep(0.002)
        return self.returncode

    def error_text(self) -> str:
        if self.process is not None and self.process.stderr is not None:
            return self.process.stderr.read().decode("utf-8", "replace")[-2000:]
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()[-2000:]
        except OSError:
            return ""


def _states(path: str) -> dict[str, np.ndarray]:
    """Model and optimizer arrays of a checkpoint, flattened by key."""
    from hybridgrad.training.checkpoint import load_checkpoint

    state = load_checkpoint(path)
    flat: dict[str, np.ndarray] = {}

    def walk(value, key):
        if hasattr(value, "data") and isinstance(value._array, np.ndarray):
            flat[key] = value._array
        elif isinstance(value, np.ndarray):
            flat[key] = value
        elif isinstance(value, dict):
            for name, item in value.items():
                walk(item, f"{key}.{name}")
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, f"{key}.{index}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[key] = np.asarray(value)

    walk(state["model_state"], "model")
    walk(state["optimizers"], "optimizers")
    return flat


def bitwise_equal(first: str, second: str) -> tuple[bool, str]:
    """Whether two checkpoints hold bitwise identical model and optimizer states."""
    a, b = _states(first), _states(second)
    if a.keys() != b.keys():
        return False, f"different keys: {sorted(a.keys() ^ b.keys())[:5]}"
    for key in a:
        if a[key].dtype != b[key].dtype or a[key].shape != b[key].shape \
                or a[key].tobytes() != b[key].tobytes():
            return False, f"{key} differs"
    return True, ""


def _checkpoint_step(path: str) -> int:
    from hybridgrad.training.checkpoint import load_checkpoint

    progress = load_checkpoint(path)["progress"]
    return int(progress["global_step"]) + (1_000_000 if progress.get("finished") else 0)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1


def _writing(folder: str) -> bool:
    """Whether the temporary file of an atomic checkpoint write exists in ``folder``."""
    try:
        return any(name.startswith(f".{CHECKPOINT}.") for name in os.listdir(folder))
    except FileNotFoundError:
        return False


def _wait_for(condition, worker: _Worker, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if worker.poll() is not None:
            return False
        time.sleep(0.001)
    return False


def run_campaign(kills: int = 20, mode: str = "subprocess", epochs: int = 3,
                 checkpoint_every: int = 2, seed: int = 0, write_pause: float = 0.05,
                 workdir: str | None = None, log=print, rng_seed: int = 1234,
                 kinds: tuple = KINDS) -> Report:
    """Kill training runs ``kills`` times and check (a) and (b); returns the :class:`Report`."""
    rng = random.Random(rng_seed)
    if mode == "fork":  # import the plotting stack once, before forking, not in every child
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401

        import hybridgrad.cli  # noqa: F401
        import hybridgrad.training  # noqa: F401
    report = Report()
    own_workdir = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="hybridgrad-crash-")
    try:
        reference = os.path.join(workdir, "reference")
        started = time.monotonic()
        worker = _Worker(_train_args(reference, epochs, checkpoint_every, seed, False), mode, 0)
        if worker.wait() != 0:
            raise RuntimeError(f"the uninterrupted run failed: {worker.error_text()}")
        duration = time.monotonic() - started
        log(f"uninterrupted run: {duration:.2f} s ({mode})")
        reference_checkpoint = os.path.join(reference, CHECKPOINT)
        run_index = 0
        while report.kills_tried < kills:
            run_index += 1
            out = os.path.join(workdir, f"run{run_index}")
            checkpoint = os.path.join(out, CHECKPOINT)
            run_kills: list[str] = []
            last_step = -1
            while True:
                resume = os.path.exists(checkpoint)
                if report.kills_tried >= kills:
                    kind = None
                else:
                    kind = kinds[report.kills_tried % len(kinds)]
                pause = write_pause if kind == "during-write" else 0.0
                before = _mtime(checkpoint)
                worker = _Worker(_train_args(out, epochs, checkpoint_every, seed, resume), mode,
                                 pause)
                if kind is None:
                    if worker.wait() != 0:
                        report.problems.append(f"run {run_index}: final resume failed: "
                                               f"{worker.error_text()}")
                    break
                if kind == "anytime":
                    time.sleep(rng.uniform(0.0, duration))
                    hit = worker.poll() is None
                elif kind == "during-write":
                    hit = _wait_for(lambda folder=out: _writing(folder), worker, duration * 3)
                    time.sleep(rng.uniform(0.0, pause * 0.9))
                else:
                    hit = _wait_for(lambda path=checkpoint, old=before: _mtime(path) != old,
                                    worker, duration * 3)
                    time.sleep(rng.uniform(0.0, duration / 20))
                killed = worker.kill() if hit else False
                if not killed:  # finished before the kill landed: the run is over
                    if worker.wait() != 0:
                        report.problems.append(f"run {run_index}: failed: "
                                               f"{worker.error_text()}")
                    break
                report.kills_tried += 1
                report.by_kind[kind][1] += 1
                torn = os.path.isdir(out) and any(name.endswith(".tmp")
                                                  for name in os.listdir(out))
                report.torn_temporaries_seen += bool(torn and os.path.exists(checkpoint))
                # (a) a valid checkpoint exists once one was written; steps never go back.
                verdict = "no checkpoint yet"
                if os.path.exists(checkpoint):
                    try:
                        step = _checkpoint_step(checkpoint)
                    except Exception as error:  # noqa: BLE001 - any failure is the finding
                        verdict = f"INVALID checkpoint: {error}"
                        report.problems.append(f"run {run_index}: {verdict}")
                    else:
                        verdict = f"valid checkpoint at step {step % 1_000_000}"
                        if step < last_step:
                            verdict = f"checkpoint went back from {last_step} to {step}"
                            report.problems.append(f"run {run_index}: {verdict}")
                        last_step = step
                elif last_step >= 0:
                    verdict = "the checkpoint VANISHED"
                    report.problems.append(f"run {run_index}: {verdict}")
                ok = "INVALID" not in verdict and "VANISHED" not in verdict \
                    and "went back" not in verdict
                run_kills.append(kind if ok else "")
                log(f"kill {report.kills_tried:3d} ({kind:12s}, run {run_index}): {verdict}"
                    f"{', torn .tmp left' if torn else ''}")
            # (b) the finished run equals the uninterrupted one bit for bit.
            report.runs_completed += 1
            same, why = (bitwise_equal(reference_checkpoint, checkpoint)
                         if os.path.exists(checkpoint) else (False, "no final checkpoint"))
            report.runs_identical += same
            if not same:
                report.problems.append(f"run {run_index}: final state differs ({why})")
            log(f"run {run_index} finished after {len(run_kills)} kill(s): "
                f"{'bitwise identical' if same else 'DIFFERENT: ' + why}")
            for kind in run_kills:
                if kind and same:
                    report.kills_survived += 1
                    report.by_kind[kind][0] += 1
        return report
    finally:
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--mode", choices=("subprocess", "fork"), default="subprocess")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"comma-separated kill kinds to cycle through ({', '.join(KINDS)})")
    parser.add_argument("--write-pause", type=float, default=0.05,
                        help="seconds the writer pauses half-way through a checkpoint for "
                        "the during-write kills")
    args = parser.parse_args(argv)
    if not os.environ.get("HYBRIDGRAD_DATA"):
        print("note: HYBRIDGRAD_DATA is not set; MNIST must be in the user cache",
              file=sys.stderr)
    started = time.monotonic()
    report = run_campaign(args.kills, args.mode, args.epochs, args.checkpoint_every, args.seed,
                          args.write_pause, kinds=tuple(args.kinds.split(",")))
    print(report.summary())
    for problem in report.problems:
        print("problem:", problem)
    print(f"({time.monotonic() - started:.0f} s)")
    ok = report.kills_survived == report.kills_tried and not report.problems
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
