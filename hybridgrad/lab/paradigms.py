"""Imperative (eager) vs symbolic (compiled) execution of the same model: time and peak memory
(tracemalloc) for inference and for a training step, with the results checked equal; and the
flexibility the notes give imperative code (data-dependent control flow) tried on the tracer.

Example:
    >>> peak_bytes(lambda: np.ones(1000)) >= 8000
    True
"""

from __future__ import annotations

import copy
import time
import tracemalloc
from pathlib import Path

import numpy as np

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad import nn
from hybridgrad.lab import Result
from hybridgrad.lab.common import fmt, markdown_table, outcome, plt, save, verdict

CLAIM_ZH = ("深度学习编程范式 Tensorflow vs Pytorch（符号式与命令式程序）命令式 * 更加灵活：原生"
            "语言的灵活性跟运行时断点 ……"
            "对应符号式（DSL）：* 节省内存：掌控全局的内存分析并优化 …… C = B * A 时，不会发生任"
            "何计算。相反，此操作会生成"
            "表示计算的计算图（也称为符号图）…… f = compile(D) 并真正的执行计算结果")
CLAIM_EN = ("Programming paradigms, TensorFlow vs PyTorch (symbolic vs imperative). Imperative: "
            "more flexible (the host language's flexibility, breakpoints at run time). Symbolic "
            "(a DSL): saves memory, because the whole computation is known and can be analysed "
            "and optimised for memory; C = B * A computes nothing but builds the computation "
            "graph (symbolic graph); f = compile(D) then really computes the result.")


def peak_bytes(function) -> int:
    """Peak traced memory (NumPy buffers included) of one call of ``function``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        function()
        return int(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def held_bytes(compiled) -> int:
    """Bytes of planned buffers a compiled function keeps between calls (0 when unknown).

    Example:
        >>> held_bytes(object())
        0
    """
    report = memory_report(compiled)
    return int(report.get("planned_bytes", 0))


def memory_report(compiled) -> dict:
    """The compiler's memory plan summary (naive vs planned bytes), ``{}`` when unavailable.

    Example:
        >>> memory_report(object())
        {}
    """
    try:
        return dict(compiled.memory_report())
    except (AttributeError, RuntimeError, ValueError):
        return {}


def jsonable_plan(report: dict) -> dict:
    """The integer and float entries of a memory report.

    Example:
        >>> jsonable_plan({"naive_bytes": 10, "note": object()})
        {'naive_bytes': 10}
    """
    return {key: value for key, value in report.items() if isinstance(value, (int, float))}


def best_time(function, repeat: int) -> float:
    """The fastest of ``repeat`` calls (the machine is shared; the minimum is the steadiest)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return min(samples)


def _mlp(width: int, depth: int) -> nn.Sequential:
    layers, features = [], 784
    for _ in range(depth):
        layers += [nn.Linear(features, width), nn.Tanh()]
        features = width
    return nn.Sequential(*layers, nn.Linear(features, 10))


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Measure both paradigms on an MLP."""
    import hybridgrad.jit as jit
    import hybridgrad.symbolic as symbolic

    out_dir = Path(out_dir)
    width, depth, batch, repeat, steps = (64, 2, 64, 3, 3) if quick else (512, 4, 512, 10, 10)
    rng = np.random.default_rng(seed)
    inputs = hg.tensor(rng.normal(size=(batch, 784)).astype(np.float32))
    targets = hg.tensor(rng.integers(0, 10, batch))

    # Inference.
    hg.manual_seed(seed)
    model = _mlp(width, depth).eval()

    def eager_inference():
        with hg.no_grad():
            return model(inputs)

    compile_start = time.perf_counter()
    compiled = jit.trace(model, inputs)
    compiled(inputs)
    inference_compile_seconds = time.perf_counter() - compile_start
    inference_difference = float(np.abs(compiled(inputs)._array - eager_inference()._array).max())
    measured = {"inference": {
        "eager_seconds": best_time(eager_inference, repeat),
        "compiled_seconds": best_time(lambda: compiled(inputs), repeat),
        "eager_peak_bytes": peak_bytes(eager_inference),
        "compiled_peak_bytes": peak_bytes(lambda: compiled(inputs)) + held_bytes(compiled),
        "max_output_difference": inference_difference,
        "plan": jsonable_plan(memory_report(compiled)),
        "compile_seconds": inference_compile_seconds}}

    # Training: the same steps eagerly and compiled, from the same weights.
    hg.manual_seed(seed)
    eager_model = _mlp(width, depth)
    compiled_model = copy.deepcopy(eager_model)
    eager_optimizer = hg.optim.SGD(eager_model.parameters(), lr=0.01, momentum=0.9)
    compiled_optimizer = hg.optim.SGD(compiled_model.parameters(), lr=0.01, momentum=0.9)

    def eager_step():
        loss = F.cross_entropy(eager_model(inputs), targets)
        eager_optimizer.zero_grad()
        loss.backward()
        eager_optimizer.step()
        return loss

    compile_start = time.perf_counter()
    compiled_step = jit.train_step(compiled_model, F.cross_entropy, compiled_optimizer)
    compiled_step(inputs, targets)
    training_compile_seconds = time.perf_counter() - compile_start
    eager_step()
    for _ in range(steps):
        eager_step()
        compiled_step(inputs, targets)
    weight_difference = max(float(np.abs(a._array - b._array).max()) for a, b in
                            zip(eager_model.parameters(), compiled_model.parameters()))
    measured["training step"] = {
        "eager_seconds": best_time(eager_step, repeat),
        "compiled_seconds": best_time(lambda: compiled_step(inputs, targets), repeat),
        "eager_peak_bytes": peak_bytes(eager_step),
        "compiled_peak_bytes": (peak_bytes(lambda: compiled_step(inputs, targets))
                                + held_bytes(compiled_step)),
        "max_weight_difference": weight_difference,
        "plan": jsonable_plan(memory_report(compiled_step)),
        "compile_seconds": training_compile_seconds}

    # Flexibility: Python control flow on a value is fine eagerly, refused by the tracer.
    def data_dependent(x):
        return x * 2 if x.sum() > 0 else x * -1

    eager_ok = data_dependent(inputs) is not None
    try:
        jit.trace(data_dependent, inputs)
        refused, message = False, ""
    except (symbolic.TracingError, symbolic.SymbolError, TypeError, RuntimeError) as error:
        refused, message = True, str(error).splitlines()[0][:160]

    pyplot = plt()
    figure, axes = pyplot.subplots(1, 2, figsize=(10, 3.6))
    cases = list(measured)
    positions = np.arange(len(cases))
    for axis, key, title, scale in ((axes[0], "seconds", "time per call (ms)", 1e3),
                                    (axes[1], "peak_bytes", "peak memory (MiB)", 2 ** -20)):
        axis.bar(positions - 0.2, [measured[c][f"eager_{key}"] * scale for c in cases], 0.4,
                 label="eager")
        axis.bar(positions + 0.2, [measured[c][f"compiled_{key}"] * scale for c in cases], 0.4,
                 label="compiled")
        axis.set_xticks(positions, cases)
        axis.set_title(title)
        axis.legend(fontsize=8)
    figure.suptitle(f"MLP 784-{width}x{depth}-10, batch {batch}", fontsize=9)
    images = [save(figure, out_dir / "eager-vs-compiled.png")]

    train, infer = measured["training step"], measured["inference"]
    checks = {
        "compiled training uses less memory": (train["compiled_peak_bytes"]
                                               < train["eager_peak_bytes"]),
        "compiled inference uses less memory": (infer["compiled_peak_bytes"]
                                                < infer["eager_peak_bytes"]),
        "compiled results equal eager ones": (infer["max_output_difference"] < 1e-4
                                              and train["max_weight_difference"] < 1e-4),
        "data-dependent Python control flow runs eagerly but is refused by the tracer":
            eager_ok and refused,
    }
    numbers = {"cases": measured, "model": f"MLP 784-{width}x{depth}-10 (tanh), batch {batch}",
               "tracer_refused_data_dependent_branch": refused, "tracer_message": message,
               "checks": checks}
    failed, supported = outcome(checks)
    because = (
        f"training step peak memory {fmt(train['eager_peak_bytes'] / 2 ** 20)} MiB eager vs "
        f"{fmt(train['compiled_peak_bytes'] / 2 ** 20)} MiB compiled (ratio "
        f"{fmt(train['compiled_peak_bytes'] / train['eager_peak_bytes'])}), time "
        f"{fmt(train['eager_seconds'] * 1e3)} vs {fmt(train['compiled_seconds'] * 1e3)} ms; "
        f"inference {fmt(infer['eager_peak_bytes'] / 2 ** 20)} vs "
        f"{fmt(infer['compiled_peak_bytes'] / 2 ** 20)} MiB, "
        f"{fmt(infer['eager_seconds'] * 1e3)} vs {fmt(infer['compiled_seconds'] * 1e3)} ms; "
        f"largest differences: outputs {fmt(infer['max_output_difference'])}, weights after "
        f"{steps + 1} steps {fmt(train['max_weight_difference'])}; an `if x.sum() > 0` branch "
        f"{'was refused' if refused else 'was accepted'} by the tracer"
        + (f"; the memory plan of the training graph needs {fmt(train['plan']['planned_bytes'])}"
           f" bytes in {train['plan'].get('planned_buffers', '?')} buffers instead of "
           f"{fmt(train['plan']['naive_bytes'])} (one buffer per node)"
           if {"planned_bytes", "naive_bytes"} <= set(train["plan"]) else "")
        + (f". Failed checks: {'; '.join(failed)}" if failed else ""))
    rows = [[case, v["eager_seconds"] * 1e3, v["compiled_seconds"] * 1e3,
             v["eager_peak_bytes"] / 2 ** 20, v["compiled_peak_bytes"] / 2 ** 20,
             v["compile_seconds"]] for case, v in measured.items()]
    details = markdown_table(["case", "eager ms", "compiled ms", "eager MiB", "compiled MiB",
                              "compile s"], rows)
    return Result(verdict(supported, because), supported, numbers, images, details=details)
