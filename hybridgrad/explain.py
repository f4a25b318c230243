"""Explain a backward pass step by step, with numbers taken from the engine's own tape.

:func:`explain` walks the recorded graph of a scalar loss and prints

1. the forward pass, one line per named node, rendered from each operator's registry
   ``formula`` template (unnamed intermediate nodes used once are written inline, so
   ``loss = (y1 - y)^2``);
2. the backward pass node by node: ``dL/d(input) = dL/d(output) * local derivative``, the local
   derivative rendered from the operator's ``derivatives`` template, and every number computed by
   running the operator's VJP on the recorded values (the same rule ``backward()`` uses);
3. the chain rule written out for each leaf that requires grad (the product of the local
   derivatives along every path from the loss), e.g. ``dL/dw = 2 * (y1 - y) * (-x) = 16``;
4. with ``learning_rate``, the gradient-descent update ``w = w - lr * dL/dw`` (computed, not
   applied: the tensors are left untouched).

Nothing is templated from known answers: the text is generated from the registry and the tape, so
any scalar expression can be explained. :func:`to_dot` draws the same graph as Graphviz DOT.

Example:
    >>> import hybridgrad as hg
    >>> x, w, y1 = hg.tensor(1.0), hg.tensor(10.0, requires_grad=True), hg.tensor(2.0)
    >>> y = w * x
    >>> loss = (y1 - y) ** 2
    >>> result = explain(loss, names={"x": x, "w": w, "y1": y1, "y": y}, learning_rate=0.1)
    ... # doctest: +ELLIPSIS
    Forward pass:
    ...
      loss = (y1 - y)^2 = (2 - 10)^2 = 64
    ...
      dL/dw = 2 * (y1 - y) * (-x) = 2 * (2 - 10) * (-1) = 2 * (-8) * (-1) = 16
    ...
      w = w - lr * dL/dw = 10 - 0.1 * 16 = 8.4
    >>> result.gradients["w"]
    16.0
"""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hybridgrad.autograd import no_grad, sum_to
from hybridgrad.tensor import Tensor

_INLINE_LIMIT = 60  # Longest intermediate expression written inline (characters).


class ExplainError(ValueError):
    """The expression cannot be explained (not a scalar, graph freed, NaN from a domain error).

    Example:
        >>> import hybridgrad as hg
        >>> try:
        ...     explain(hg.tensor([1.0, 2.0], requires_grad=True) * 2)
        ... except ExplainError as error:
        ...     print(str(error).split(";")[0])
        explain: the loss must be a scalar, got shape (2,)
    """


# Why an operator can turn finite inputs into NaN/Inf, for the domain-error messages.
_DOMAIN_HINTS = {
    "log": "log is only defined for positive inputs",
    "sqrt": "sqrt is only defined for non-negative inputs",
    "pow": "a negative base with a non-integer exponent (or 0 to a negative power) is undefined",
    "div": "division by zero",
    "exp": "exp overflowed",
}

# ----------------------------------------------------------------------------------------------
# Rendering helpers.


def format_number(value: Any) -> str:
    """Short human form of a number or small array: ``64.0 -> '64'``, ``8.4000001 -> '8.4'``.

    Example:
        >>> format_number(64.0), format_number(np.float32(8.4)), format_number([1.5, 2.0])
        ('64', '8.4', '[1.5, 2]')
    """
    array = np.asarray(value)
    if array.ndim == 0 or array.size == 1:
        number = array.reshape(()).item()
        if isinstance(number, bool):
            return str(number)
        if isinstance(number, float):
            if not np.isfinite(number):
                return str(number)
            if number == int(number) and abs(number) < 1e15:
                return str(int(number))
            return f"{number:.6g}"
        return str(number)
    if array.size <= 6:
        return "[" + ", ".join(format_number(v) for v in array) + "]"
    return f"<tensor of shape {tuple(array.shape)}>"


def _format_attribute(value: Any) -> str:
    """An operator attribute as it reads in an expression: ``(slice(None, None, 2), 0)`` ->
    ``'::2, 0'``.

    Example:
        >>> _format_attribute((slice(1, None, None), None, Ellipsis, np.array([0, 0])))
        '1:, None, ..., [0, 0]'
    """
    if isinstance(value, tuple):
        return ", ".join(_format_attribute(item) for item in value)
    if isinstance(value, slice):
        parts = ["" if v is None else str(v) for v in (value.start, value.stop, value.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    if value is Ellipsis:
        return "..."
    if isinstance(value, np.ndarray):
        return format_number(value) if value.size <= 6 else f"<index array {value.shape}>"
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def _top_level(text: str) -> str:
    """``text`` with every parenthesised or bracketed group removed."""
    depth, kept = 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0:
            kept.append(char)
    return "".join(kept)


def _is_atom(text: str) -> bool:
    """True when ``text`` needs no parentheses next to an operator (name, number, call, group)."""
    if re.fullmatch(r"[A-Za-z_][\w.]*|\d[\w.]*", text):
        return True
    if text.startswith("-"):
        return False
    return " " not in _top_level(text) and not any(c in _top_level(text) for c in "+-*/^@")


def _negate(text: str) -> str:
    if text.startswith("-") and (_is_atom(text[1:]) or _precedence(text[1:]) >= 2):
        return text[1:]
    return "-" + text if _precedence(text) >= 2 else f"-({text})"


def _precedence(text: str) -> float:
    """Binding strength of an expression's top-level operator (4: a name, number or call)."""
    top = _top_level(text)
    if " if " in top or " where " in top or "," in top:
        return 0
    if text.startswith("-"):
        return 1.5  # Negative numbers and negations are always bracketed next to an operator.
    if " + " in top or " - " in top:
        return 1
    if any(c in top for c in "*/@"):
        return 2
    if "^" in top:
        return 3
    return 4 if " " not in top else 0


def _render(template: str, values: dict) -> str:
    """Fill ``{a}``-style placeholders, adding parentheses where the neighbouring operators bind
    tighter than the inserted expression: ``{a} * {b}`` with ``a = 'y1 - y'`` gives
    ``(y1 - y) * b``, ``{a} - {b}`` with ``b = 'w * x'`` gives ``a - w * x``."""

    def substitute(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        text = values[key]
        before = template[:match.start()].rstrip()
        after = template[match.end():].lstrip()
        if template.strip() == match.group(0) or (
                before.endswith(("(", ",")) and after.startswith((")", ","))):
            return text
        strength = _precedence(text)
        left = before[-1:] if before[-1:] in tuple("+-*/^@") else ""
        right = after[:1] if after[:1] in tuple("+-*/^@[") else ""
        if left == "-" and (len(before) == 1 or before[-2:-1] in ("(", "")):
            left = "unary"
        required = 0.0
        required = max(required, {"+": 1, "-": 2, "*": 2, "@": 2, "/": 3, "^": 4,
                                  "unary": 3, "": 0}[left])
        required = max(required, {"+": 1, "-": 1, "*": 2, "@": 2, "/": 2, "^": 4, "[": 4,
                                  "": 0}[right])
        if strength == 1.5 and (left or right):
            required = 4
        if strength == 0 and (left or right or before or after):
            required = 4
        return text if strength >= required else f"({text})"

    return re.sub(r"\{(\w+)\}", substitute, template)


def _simplify(text: str) -> str:
    """Fold constant exponents written by templates: ``x^(2 - 1)`` -> ``x``, ``x^(3 - 1)`` ->
    ``x^2``."""

    def fold(match: re.Match) -> str:
        value = float(match.group(1)) - float(match.group(2))
        return "^" + format_number(value)

    text = re.sub(r"\^\((-?\d+(?:\.\d+)?) - (\d+(?:\.\d+)?)\)", fold, text)
    return re.sub(r"\^1(?![\d.])", "", text)


def _needs_group(factor: str) -> bool:
    """A factor must be parenthesised in a product unless it is itself a plain product."""
    top = _top_level(factor)
    return (factor.startswith("-") or " + " in top or " - " in top or " if " in top
            or " where " in top or "@" in top or top.startswith("1 at") or "," in top)


def _product(factors: list[str]) -> str:
    """Join local derivatives into one product, dropping ``1`` and folding ``-1`` into the next
    factor: ``['2 * (y1 - y)', '-1', 'x'] -> '2 * (y1 - y) * (-x)'``."""
    kept: list[str] = []
    negate = False
    for factor in factors:
        if factor == "1":
            continue
        if factor == "-1":
            negate = not negate
            continue
        if negate:
            factor, negate = _negate(factor), False
        kept.append(factor)
    if negate:
        kept.append("-1")
    if not kept:
        return "1"
    if len(kept) == 1:
        return kept[0]
    return " * ".join(f"({f})" if _needs_group(f) else f for f in kept)


# ----------------------------------------------------------------------------------------------
# The graph as explain sees it.


@dataclass
class _Item:
    tensor: Tensor
    kind: str  # "leaf", "const" or "op"
    name: str = ""
    inline: bool = False
    symbol: str = ""  # name, or the inline expression
    numeric: str = ""  # the same with every leaf replaced by its value
    consumers: int = 0


@dataclass
class Explanation:
    """What :func:`explain` computed: the text, the gradients and updates by name, the DOT graph.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.tensor(3.0, requires_grad=True)
        >>> result = explain(w * w, names={"w": w}, file=io.StringIO())
        >>> result.gradients
        {'w': 6.0}
    """

    text: str
    gradients: dict = field(default_factory=dict)
    updates: dict = field(default_factory=dict)
    dot: str = ""

    def __repr__(self) -> str:
        return f"Explanation(gradients={self.gradients}, updates={self.updates})"


def _collect(loss: Tensor) -> list[Tensor]:
    """Every tensor of the recorded graph (inputs before outputs), constants included."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list = [(loss, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        node = tensor._node
        if node is None:
            continue
        if node.inputs is None:
            raise ExplainError(
                "explain: the graph of this loss was freed by an earlier backward(); call "
                "hg.explain(loss) before loss.backward(), or pass retain_graph=True to backward()")
        for value in reversed(_node_inputs(node)):
            if isinstance(value, Tensor) and id(value) not in seen:
                stack.append((value, False))
    return order


def _node_inputs(node) -> tuple:
    return tuple(node.inputs[0]) if node.op.variadic else tuple(node.inputs)


def _arg_names(op, count: int) -> list[str]:
    names = list(op.arg_names)
    if op.variadic:
        return names[:1] * count
    return names[:count] + [f"arg{i}" for i in range(len(names), count)]


class _Graph:
    def __init__(self, loss: Tensor, names: dict, root_name: str):
        self.loss = loss
        self.order = _collect(loss)
        self.items: dict[int, _Item] = {}
        given = {}
        for name, value in names.items():
            if not isinstance(value, Tensor):
                raise TypeError(f"explain: names[{name!r}] is a {type(value).__name__}, "
                                "expected a tensor")
            given[id(value)] = name
        consumers: dict[int, int] = {}
        for tensor in self.order:
            if tensor._node is not None:
                for value in _node_inputs(tensor._node):
                    consumers[id(value)] = consumers.get(id(value), 0) + 1
        counters: dict[str, int] = {}
        for tensor in self.order:
            key = id(tensor)
            node = tensor._node
            if node is None:
                if key in given:
                    item = _Item(tensor, "leaf", name=given[key])
                elif tensor.numel() == 1 and not tensor.requires_grad:
                    item = _Item(tensor, "const", name=format_number(tensor._array))
                else:
                    item = _Item(tensor, "leaf", name=self._fresh("input", counters))
                item.symbol = item.name
                # Arrays stay by name in expressions; their values are listed once.
                item.numeric = format_number(tensor._array) if tensor.numel() == 1 else item.name
            else:
                item = _Item(tensor, "op")
                if tensor is loss:
                    item.name = given.get(key, root_name)
                elif key in given:
                    item.name = given[key]
                elif consumers.get(key, 0) == 1:
                    item.inline = True
                else:
                    item.name = self._fresh(node.op.name, counters)
                if item.inline:
                    item.symbol = self.formula(tensor, "symbol")
                    item.numeric = self.formula(tensor, "numeric")
                    if len(item.symbol) > _INLINE_LIMIT:  # Long expressions get a name.
                        item.inline = False
                        item.name = self._fresh(node.op.name, counters)
                if not item.inline:
                    item.symbol = item.name
                    item.numeric = format_number(tensor._array)
            item.consumers = consumers.get(key, 0)
            self.items[key] = item

    @staticmethod
    def _fresh(prefix: str, counters: dict) -> str:
        counters[prefix] = counters.get(prefix, 0) + 1
        return f"{prefix}{counters[prefix]}"

    def item(self, tensor: Tensor) -> _Item:
        return self.items[id(tensor)]

    def values(self, tensor: Tensor, how: str) -> dict:
        """Placeholder values for ``tensor``'s node: each input as a symbol, expression or value."""
        node = tensor._node
        inputs = _node_inputs(node)
        if how == "value":
            texts = [format_number(v._array) for v in inputs]
        else:
            texts = [getattr(self.item(v), how) for v in inputs]
        names = _arg_names(node.op, len(inputs))
        # Attributes fill placeholders of their own name (clamp's {low}, getitem's {index}).
        filled = {key: _format_attribute(value) for key, value in node.attrs.items()}
        # An absent clamp bound is no bound.
        if node.attrs.get("low", 0) is None:
            filled["low"] = "-inf"
        if node.attrs.get("high", 0) is None:
            filled["high"] = "inf"
        if node.op.variadic:
            filled.update({names[0]: ", ".join(texts)} if names else {})
        else:
            filled.update(zip(names, texts))
        return filled

    def formula(self, tensor: Tensor, how: str) -> str:
        node = tensor._node
        template = node.op.formula or node.op.name + "(" + ", ".join(
            "{" + n + "}" for n in _arg_names(node.op, len(_node_inputs(node)))) + ")"
        return _render(template, self.values(tensor, how))

    def derivative(self, tensor: Tensor, position: int, how: str) -> str | None:
        node = tensor._node
        templates = node.op.derivatives
        if position >= len(templates) and not node.op.variadic:
            return None
        template = templates[0] if node.op.variadic else templates[position]
        return _simplify(_render(template, self.values(tensor, how)))


def _check_domain(graph: _Graph) -> None:
    for tensor in graph.order:
        node = tensor._node
        if node is None or tensor._array.dtype.kind != "f" or np.isfinite(tensor._array).all():
            continue
        inputs = _node_inputs(node)
        if all(np.isfinite(v._array).all() for v in inputs if v._array.dtype.kind == "f"):
            item = graph.item(tensor)
            hint = _DOMAIN_HINTS.get(node.op.name, "the result is not a finite number")
            raise ExplainError(
                f"explain: {node.op.name} produced {format_number(tensor._array)} at "
                f"{graph.formula(tensor, 'symbol')} = {graph.formula(tensor, 'value')}: {hint}"
                + ("" if item.inline else f" (computing {item.symbol})"))


def _backward(graph: _Graph) -> tuple[dict, list]:
    """Run every recorded VJP from the loss down; return gradients by id and the edge list."""
    grads: dict[int, Tensor] = {id(graph.loss): Tensor._wrap(np.ones_like(graph.loss._array))}
    edges: list = []  # (output tensor, input position, input tensor, contribution)
    with no_grad():
        for tensor in reversed(graph.order):
            node = tensor._node
            upstream = grads.get(id(tensor))
            if node is None or upstream is None:
                continue
            inputs = _node_inputs(node)
            with np.errstate(all="ignore"):
                contributions = node.op.vjp(upstream, node.inputs, tensor, node.needs,
                                            **node.attrs)
            for position, (needed, value, contribution) in enumerate(
                    zip(node.needs, inputs, contributions)):
                if not needed or contribution is None:
                    continue
                contribution = sum_to(contribution, tuple(value.shape))
                edges.append((tensor, position, value, contribution))
                previous = grads.get(id(value))
                grads[id(value)] = contribution if previous is None else previous + contribution
    return grads, edges


def _d(symbol: str) -> str:
    plain = re.fullmatch(r"[A-Za-z_]\w*|\d[\w.]*", symbol)
    return "dL/d" + (symbol if plain else f"({symbol})")


def _paths(graph: _Graph, edges: list, leaf: Tensor, limit: int = 8) -> list[list] | None:
    """Every path loss -> leaf as lists of (output tensor, position); None when too many."""
    into: dict[int, list] = {}
    for output, position, value, _ in edges:
        into.setdefault(id(value), []).append((output, position))
    paths: list[list] = []

    def walk(tensor: Tensor, suffix: list) -> bool:
        if tensor is graph.loss:
            paths.append(list(reversed(suffix)))
            return len(paths) <= limit
        for output, position in into.get(id(tensor), []):
            if not walk(output, suffix + [(output, position)]):
                return False
        return True

    try:
        return paths if walk(leaf, []) else None
    except RecursionError:  # A very deep graph: the node-by-node pass still explains it.
        return None


def explain(loss: Tensor, names: dict | None = None, learning_rate: float | None = None,
            file=None, root_name: str = "loss") -> Explanation:
    """Print the forward pass, the backward pass node by node and the chain rule for ``loss``.

    ``names`` maps names to the tensors of the expression (leaves and, optionally,
    intermediate results such as ``y``); other intermediate results used once are written
    inline, those used more often are named after their operator (``mul1``). Gradients are
    computed from the recorded graph without touching ``.grad``, and the graph is kept, so
    ``loss.backward()`` still works afterwards. With ``learning_rate`` the gradient-descent
    update of every leaf that requires grad is shown (and returned in ``updates``), not applied.

    Example:
        >>> import hybridgrad as hg
        >>> a = hg.tensor(2.0, requires_grad=True)
        >>> _ = explain(hg.exp(a * 3), names={"a": a})  # doctest: +ELLIPSIS
        Forward pass:
        ...
        Chain rule:
          dL/da = exp(a * 3) * 3 = exp(2 * 3) * 3 = exp(6) * 3 = 1210.29
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"explain: expected a tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ExplainError(f"explain: the loss must be a scalar, got shape {tuple(loss.shape)}; "
                           "reduce it first (for example with .sum() or .mean())")
    if loss._node is None:
        raise ExplainError("explain: the loss was not produced by a recorded operation; create "
                           "the inputs with requires_grad=True and do not use no_grad()")
    graph = _Graph(loss, dict(names or {}), root_name)
    _check_domain(graph)
    grads, edges = _backward(graph)
    lines: list[str] = []
    out = lines.append

    out("Forward pass:")
    given_order = {id(value): position for position, value in enumerate((names or {}).values())}
    for tensor in sorted(graph.order, key=lambda t: given_order.get(id(t), len(given_order))):
        item = graph.item(tensor)
        if item.kind == "leaf":
            note = " (requires grad)" if tensor.requires_grad else ""
            out(f"  {item.name} = {format_number(tensor._array)}{note}")
    for tensor in graph.order:
        item = graph.item(tensor)
        if item.kind != "op" or item.inline:
            continue
        parts = [f"{item.name} = {graph.formula(tensor, 'symbol')}",
                 graph.formula(tensor, "numeric"), format_number(tensor._array)]
        out("  " + " = ".join(_dedupe(parts)))

    out("")
    out(f"Backward pass (chain rule, node by node; L = {graph.item(loss).symbol}):")
    out(f"  {_d(graph.item(loss).symbol)} = 1")
    for output, position, value, contribution in edges:
        out_item, in_item = graph.item(output), graph.item(value)
        upstream = grads[id(output)]
        local = graph.derivative(output, position, "symbol") or "?"
        local_value = graph.derivative(output, position, "value") or "?"
        sign = "+=" if in_item.consumers > 1 else "="
        target = _d(in_item.symbol)
        op_name = output._node.op.name
        if "grad" in local:
            symbolic = local.replace("grad", _d(out_item.symbol))
            numeric = local_value.replace("grad", format_number(upstream._array))
        else:
            symbolic = _product([_d(out_item.symbol), local]) if local != "1" else \
                _d(out_item.symbol)
            numeric = " * ".join(_wrap_negative(f) if not _needs_group(f) or f.startswith("-")
                                 else f"({f})" for f in (format_number(upstream._array),
                                                         local_value))
        parts = [f"{target} {sign} {symbolic}", numeric, format_number(contribution._array)]
        out(f"  [{op_name}] " + " = ".join(_dedupe(parts)))

    out("")
    out("Chain rule:")
    gradients: dict[str, Any] = {}
    leaves = [t for t in graph.order if t._node is None and t.requires_grad]
    for leaf in leaves:
        item = graph.item(leaf)
        total = grads.get(id(leaf))
        if total is None:
            out(f"  {_d(item.symbol)} = 0 (L does not depend on {item.symbol})")
            gradients[item.name] = 0.0
            continue
        gradients[item.name] = total._array.item() if total.numel() == 1 else total._array.copy()
        out("  " + " = ".join(_dedupe(_chain(graph, edges, leaf) + [format_number(total._array)])))

    updates: dict[str, Any] = {}
    if learning_rate is not None:
        out("")
        out(f"Gradient-descent update (learning rate lr = {format_number(learning_rate)}):")
        for leaf in leaves:
            item = graph.item(leaf)
            total = grads.get(id(leaf))
            step = np.zeros_like(leaf._array) if total is None else total._array
            with np.errstate(all="ignore"):
                new = leaf._array - np.asarray(learning_rate, dtype=leaf._array.dtype) * step
            updates[item.name] = new.item() if new.size == 1 else new
            out(f"  {item.name} = {item.name} - lr * {_d(item.symbol)} = "
                f"{format_number(leaf._array)} - {format_number(learning_rate)} * "
                f"{_wrap_negative(format_number(step))} = {format_number(new)}")

    text = "\n".join(lines) + "\n"
    print(text, end="", file=file if file is not None else sys.stdout)
    return Explanation(text=text, gradients=gradients, updates=updates,
                       dot=_dot(graph, grads))


def _wrap_negative(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def _dedupe(parts: list[str]) -> list[str]:
    kept: list[str] = []
    for part in parts:
        bare = part.split(" = ")[-1] if not kept else part
        previous = kept[-1].split(" = ")[-1].split(" += ")[-1] if kept else None
        if previous is not None and bare == previous:
            continue
        kept.append(part)
    return kept


def _chain(graph: _Graph, edges: list, leaf: Tensor) -> list[str]:
    """``dL/dleaf = product of local derivatives``, as symbols, expressions and values."""
    item = graph.item(leaf)
    head = _d(item.symbol)
    paths = _paths(graph, edges, leaf)
    if not paths:
        return [f"{head} (too many paths to write out; see the node-by-node pass)"]
    forms = []
    for how in ("symbol", "numeric", "value"):
        terms = []
        for path in paths:
            factors = [graph.derivative(output, position, how) or "?" for output, position in path]
            if any("grad" in f for f in factors):
                return [f"{head} (accumulated through vector-Jacobian products above)"]
            terms.append(_product(factors))
        joined = ""
        for term in terms:
            if len(terms) > 1 and (" + " in _top_level(term) or _precedence(term) == 0):
                term = f"({term})"
            if not joined:
                joined = term
            elif term.startswith("-"):
                joined += " - " + term[1:]
            else:
                joined += " + " + term
        forms.append(joined)
    if any(graph.item(t).tensor.numel() != 1 for t in graph.order):
        forms = forms[:1]  # Array values do not read as a product of numbers.
    return [f"{head} = {forms[0]}"] + forms[1:]


# ----------------------------------------------------------------------------------------------
# Graphviz.


def _dot(graph: _Graph, grads: dict) -> str:
    lines = ["digraph backprop {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    ids = {id(t): f"n{i}" for i, t in enumerate(graph.order)}
    for tensor in graph.order:
        item = graph.item(tensor)
        label = f"{item.symbol} = {format_number(tensor._array)}"
        grad = grads.get(id(tensor))
        if grad is not None:
            label += f"\\n{_d(item.symbol)} = {format_number(grad._array)}"
        label = label.replace('"', '\\"')
        if tensor._node is None:
            shape = "box" if item.kind == "leaf" else "plaintext"
            lines.append(f'  {ids[id(tensor)]} [shape={shape}, label="{label}"];')
        else:
            op = tensor._node.op.name
            lines.append(f'  {ids[id(tensor)]} [shape=ellipse, label="{op}\\n{label}"];')
    for tensor in graph.order:
        if tensor._node is None:
            continue
        for value in _node_inputs(tensor._node):
            lines.append(f"  {ids[id(value)]} -> {ids[id(tensor)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_dot(loss: Tensor, names: dict | None = None) -> str:
    """Graphviz DOT text of ``loss``'s graph, each node labelled with its value and gradient.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.tensor(3.0, requires_grad=True)
        >>> print(to_dot(w * 2, {"w": w}).splitlines()[0])
        digraph backprop {
    """
    return explain(loss, names=names, file=io.StringIO()).dot


def write_graph(dot_text: str, path: str) -> list[str]:
    """Write ``dot_text`` to ``path`` (``.dot``), rendering ``.svg``/``.png`` when Graphviz's
    ``dot`` program exists. The DOT text is always written (beside an image as ``.dot``).
    Returns the paths written.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "g.dot")
        >>> write_graph("digraph g {}\\n", target) == [target]
        True
    """
    import os
    import shutil
    import subprocess

    root, suffix = os.path.splitext(path)
    suffix = suffix.lower().lstrip(".")
    if suffix not in ("dot", "svg", "png", "gv"):
        raise ValueError(f"graph: unsupported file type {suffix!r} (use .dot, .svg or .png)")
    dot_path = path if suffix in ("dot", "gv") else root + ".dot"
    with open(dot_path, "w", encoding="utf-8") as handle:
        handle.write(dot_text)
    written = [dot_path]
    if suffix in ("svg", "png"):
        program = shutil.which("dot")
        if program is not None:
            subprocess.run([program, f"-T{suffix}", dot_path, "-o", path], check=True)
            written.append(path)
    return written
