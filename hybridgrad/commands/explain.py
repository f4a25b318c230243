"""``hybridgrad explain backprop``: the notes' walkthrough of one neuron ``y = w * x``, computed.

The engine builds ``loss = (y1 - w * x)^2``, :func:`hybridgrad.explain.explain` prints the forward
pass, the backward pass node by node (each operator's registry derivative template with numbers
from the tape) and the update ``w = w - lr * dL/dw``; ``--steps N`` then runs N steps of gradient
descent with the eager API and shows ``w`` converging to ``y1 / x``.

Example:
    >>> from hybridgrad.cli import main
    >>> main(["explain", "backprop"])  # doctest: +ELLIPSIS
    Neuron y = w * x, loss = (y1 - y)^2, learning rate 0.1
    ...
      loss = (y1 - y)^2 = (2 - 10)^2 = 64
    ...
      w = w - lr * dL/dw = 10 - 0.1 * 16 = 8.4
    0
"""

from __future__ import annotations

import argparse

import numpy as np


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain a computation step by step (the notes' backprop walkthrough)",
        description="Explain the forward pass, the backward pass node by node and the "
        "gradient-descent update of the neuron y = w * x with loss (y1 - y)^2, every number "
        "computed by the autograd engine.",
    )
    parser.add_argument("topic", choices=["backprop"], help="what to explain")
    parser.add_argument("--x", type=float, default=1.0, help="input x (default 1)")
    parser.add_argument("--w", type=float, default=10.0, help="initial weight w (default 10)")
    parser.add_argument("--y1", type=float, default=2.0, help="target output y1 (default 2)")
    parser.add_argument("--lr", "--learning-rate", dest="lr", type=float, default=0.1,
                        help="learning rate (default 0.1)")
    parser.add_argument("--steps", type=_positive, default=1,
                        help="gradient-descent steps to run (default 1; the first is explained)")
    parser.add_argument("--graph", metavar="PATH", default=None,
                        help="also draw the computation graph: .dot (Graphviz text, always "
                        "written) or .svg/.png (rendered when Graphviz's dot is installed)")
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _build(x_value: float, w_value: float, y1_value: float):
    import hybridgrad as hg

    # float64 so that the printed numbers are the exact decimals of the notes (8.4, not 8.3999996).
    x = hg.tensor(x_value, dtype=hg.float64)
    w = hg.tensor(w_value, dtype=hg.float64, requires_grad=True)
    y1 = hg.tensor(y1_value, dtype=hg.float64)
    y = w * x
    loss = (y1 - y) ** 2
    return x, w, y1, y, loss


def run(args) -> int:
    from hybridgrad.cli import CommandError
    from hybridgrad.explain import ExplainError, explain, format_number, write_graph

    for name in ("x", "w", "y1", "lr"):
        if not np.isfinite(getattr(args, name)):
            raise CommandError(f"--{name} must be a finite number, got {getattr(args, name)}")
    x, w, y1, y, loss = _build(args.x, args.w, args.y1)
    print(f"Neuron y = w * x, loss = (y1 - y)^2, learning rate {format_number(args.lr)}\n")
    try:
        result = explain(loss, names={"x": x, "w": w, "y1": y1, "y": y},
                         learning_rate=args.lr)
    except ExplainError as error:
        raise CommandError(str(error)) from None
    if args.graph:
        try:
            written = write_graph(result.dot, args.graph)
        except (OSError, ValueError) as error:
            raise CommandError(f"--graph: {error}") from None
        note = "" if args.graph in written else " (Graphviz's dot program was not found, so " \
            "only the DOT text was written; render it with: dot -Tsvg FILE.dot -o FILE.svg)"
        print(f"\nGraph written to {', '.join(written)}{note}")
    if args.steps > 1:
        _train(args, w)
    return 0


def _train(args, w) -> None:
    """Run the gradient-descent steps with the eager API, one table row per step."""
    import hybridgrad as hg
    from hybridgrad.cli import CommandError
    from hybridgrad.explain import format_number

    x = hg.tensor(args.x, dtype=hg.float64)
    y1 = hg.tensor(args.y1, dtype=hg.float64)
    w = hg.tensor(args.w, dtype=hg.float64, requires_grad=True)
    print(f"\nGradient descent for {args.steps} steps (w <- w - {format_number(args.lr)} * dL/dw):")
    print(f"  {'step':>4}  {'w before':>12}  {'loss':>12}  {'dL/dw':>12}  {'w after':>12}")
    for step in range(1, args.steps + 1):
        loss = (y1 - w * x) ** 2
        loss.backward()
        before, gradient = w.item(), w.grad.item()
        with hg.no_grad():
            w.copy_(w - args.lr * w.grad)
        w.grad = None
        if not np.isfinite(w.item()):
            raise CommandError(
                f"gradient descent diverged at step {step} (w = {w.item()}): with x = "
                f"{format_number(args.x)} the learning rate must be below "
                f"{format_number(1 / (args.x * args.x)) if args.x else 'infinity'}; "
                "try a smaller --lr")
        print(f"  {step:>4}  {before:>12.6g}  {loss.item():>12.6g}  {gradient:>12.6g}  "
              f"{w.item():>12.6g}")
    if args.x != 0:
        target = args.y1 / args.x
        print(f"w = {w.item():.6g} after {args.steps} steps; the loss is 0 at w = y1 / x = "
              f"{format_number(target)} (distance now {abs(w.item() - target):.3g})")
        # Each step multiplies the distance to the target by (1 - 2 * lr * x^2).
        factor = 1 - 2 * args.lr * args.x * args.x
        if abs(factor) >= 1:
            print(f"the learning rate is too large: each step multiplies the distance by "
                  f"{format_number(factor)}; gradient descent converges for "
                  f"0 < lr < {format_number(1 / (args.x * args.x))}")
    else:
        print("x = 0: the loss does not depend on w, so w never moves")
