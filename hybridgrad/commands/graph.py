"""``hybridgrad graph``: draw and inspect compiled graphs.

Examples::

    hybridgrad graph --example notes                 # the notes' program: graph + memory plan
    hybridgrad graph --example mlp-train -o step.dot # a compiled training step, Graphviz source
    hybridgrad graph --example notes -o graph.svg    # rendered with `dot` when it is installed
    hybridgrad graph --example notes --no-optimize   # the graph before the passes

Example:
    >>> from hybridgrad.cli import main
    >>> main(["graph", "--example", "notes"])  # doctest: +ELLIPSIS
    # example 'notes' (optimized)
    ...fused(...) {shape=(10,), dtype=float64, registers=1, ops='[mul,add]'} : float64(10,)
    ...
    0
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np

import hybridgrad as hg
from hybridgrad import nn

EXAMPLES = ("notes", "chain", "mlp", "mlp-train")


def _notes(optimize: bool):
    from hybridgrad.symbolic import Constant, Variable

    A = Variable('A')  # noqa: N806 - the notes' names
    B = Variable('B')  # noqa: N806
    f = hg.symbolic.compile(B * A + Constant(1), optimize=optimize)
    f(A=np.ones(10), B=np.ones(10) * 2)
    return f


def _chain(optimize: bool):
    from hybridgrad.symbolic import Variable

    x = Variable('x', shape=(1000,), dtype='float32')
    y = x
    for _ in range(5):
        y = ((y * 1.0001 + 0.5).tanh() - 0.25) * 1
    return hg.symbolic.compile(y, optimize=optimize)


def _mlp(optimize: bool):
    hg.manual_seed(0)
    model = hg.nn.Sequential(hg.nn.Linear(784, 128), _Relu(), hg.nn.Linear(128, 10)).eval()
    return hg.jit.trace(model, hg.zeros(32, 784), optimize=optimize, split_batch=False).compiled


def _mlp_train(optimize: bool):
    hg.manual_seed(0)
    model = hg.nn.Sequential(hg.nn.Linear(784, 128), _Relu(), hg.nn.Linear(128, 10))

    def loss_fn(logits, targets):
        return -hg.gather(hg.log_softmax(logits, dim=1), 1, targets.reshape(-1, 1)).mean()

    optimizer = hg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = hg.jit.train_step(model, loss_fn, optimizer, optimize=optimize)
    step(hg.zeros(32, 784), hg.zeros(32, dtype=hg.int64))
    return step.compiled


class _Relu(nn.Module):
    def forward(self, x):
        return hg.relu(x)


BUILDERS = {"notes": _notes, "chain": _chain, "mlp": _mlp, "mlp-train": _mlp_train}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "graph", help="print or draw a compiled graph and its memory plan",
        description="Compile an example program and print its optimized graph and memory "
                    "plan, or write it as Graphviz (.dot) or, with Graphviz's `dot` installed, "
                    "as .svg/.png.")
    parser.add_argument("--example", choices=EXAMPLES, default="notes",
                        help="which program to compile (default: notes, the notes' A*B+1)")
    parser.add_argument("-o", "--output", help="write the graph to this .dot, .svg or .png file")
    parser.add_argument("--no-optimize", action="store_true",
                        help="show the graph without compiler passes (the naive executor)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from hybridgrad.cli import CommandError

    optimize = not args.no_optimize
    compiled = BUILDERS[args.example](optimize)
    title = f"{args.example} ({'optimized' if optimize else 'not optimized'})"
    if not args.output:
        print(f"# example {args.example!r} ({'optimized' if optimize else 'not optimized'})")
        print(compiled.graph)
        if compiled.plan is not None or not optimize:
            from hybridgrad.symbolic.executor import format_memory_report

            report = format_memory_report(compiled.memory_report())
            print("\n".join("# " + line for line in report.splitlines()))
        return 0
    extension = os.path.splitext(args.output)[1].lower()
    source = compiled.to_dot(title)
    if extension in ("", ".dot", ".gv"):
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(source + "\n")
    elif extension in (".svg", ".png", ".pdf"):
        dot = shutil.which("dot")
        if dot is None:
            raise CommandError(f"cannot write {args.output}: Graphviz's `dot` program is not "
                               f"installed; write a .dot file instead (-o graph.dot) and render "
                               f"it elsewhere")
        result = subprocess.run([dot, f"-T{extension[1:]}", "-o", args.output],
                                input=source.encode(), capture_output=True, check=False)
        if result.returncode != 0:
            raise CommandError(f"`dot` failed: {result.stderr.decode(errors='replace').strip()}")
    else:
        raise CommandError(f"unknown output type {extension!r} for {args.output}: use .dot, "
                           f".svg, .png or .pdf")
    print(f"wrote {args.output}")
    return 0
