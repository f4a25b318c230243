"""ONNX control flow: If, Loop and Scan run their body graphs eagerly (conditions must
be concrete).

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import numpy as np

from hybridgrad import limits
from hybridgrad.onnx.ops.core import UnsupportedError, _axis, _ndim, const, onnx_op
from hybridgrad.ops import api

# ----------------------------------------------------------------------------------------------
# Control flow: If, Loop and Scan run their body graphs eagerly (conditions must be concrete).


@onnx_op("If")
def _if(ctx):
    condition = bool(np.asarray(ctx.static(0)).reshape(-1)[0])
    branch = ctx.attr("then_branch") if condition else ctx.attr("else_branch")
    return ctx.extra["run_graph"](branch, [])


@onnx_op("Loop")
def _loop(ctx):
    body = ctx.attr("body")
    trip_count = ctx.static(0)
    condition = ctx.static(1)
    carried = list(ctx.inputs[2:])
    trips = None if trip_count is None else int(trip_count.reshape(-1)[0])
    keep_going = True if condition is None else bool(condition.reshape(-1)[0])
    n_carried = len(carried)
    scans: list = []
    iteration = 0
    cap = limits.max_loop_iterations()
    while keep_going and (trips is None or iteration < trips):
        if iteration >= cap:
            raise ctx.error(f"the loop is still running after {cap} iterations (trip count "
                            f"{'none' if trips is None else trips}); set "
                            "HYBRIDGRAD_MAX_LOOP_ITERATIONS to allow more")
        outputs = ctx.extra["run_graph"](body, [const(np.asarray(iteration, np.int64)),
                                                const(np.asarray(keep_going))] + carried)
        keep_going = bool(np.asarray(getattr(outputs[0], "_array", outputs[0])).reshape(-1)[0])
        carried = outputs[1:1 + n_carried]
        scans.append(outputs[1 + n_carried:])
        iteration += 1
    n_scan = len(body.output) - 1 - n_carried
    stacked = []
    for k in range(n_scan):
        pieces = [step[k] for step in scans]
        if pieces:
            stacked.append(api.stack(pieces, 0))
        else:
            raise UnsupportedError(f"Loop node {ctx.node.name!r}: a loop that runs zero times "
                                   "has scan outputs of unknown shape")
    return carried + stacked


@onnx_op("Scan", min_version=9)
def _scan(ctx):
    body = ctx.attr("body")
    n_scan_inputs = ctx.attr("num_scan_inputs")
    states = list(ctx.inputs[:len(ctx.inputs) - n_scan_inputs])
    sequences = ctx.inputs[len(ctx.inputs) - n_scan_inputs:]
    input_axes = ctx.attr("scan_input_axes", [0] * n_scan_inputs)
    input_directions = ctx.attr("scan_input_directions", [0] * n_scan_inputs)
    input_axes = [_axis(a, _ndim(seq)) for a, seq in zip(input_axes, sequences)]
    steps = sequences[0].shape[input_axes[0]] if sequences else 0
    n_outputs = len(body.output) - len(states)
    collected: list = [[] for _ in range(n_outputs)]
    for step in range(steps):
        slices = []
        for seq, axis, direction in zip(sequences, input_axes, input_directions):
            position = steps - 1 - step if direction else step
            slices.append(api.getitem(seq, (slice(None),) * axis + (position,)))
        outputs = ctx.extra["run_graph"](body, states + slices)
        states = list(outputs[:len(states)])
        for k, value in enumerate(outputs[len(states):]):
            collected[k].append(value)
    output_axes = ctx.attr("scan_output_axes", [0] * n_outputs)
    output_directions = ctx.attr("scan_output_directions", [0] * n_outputs)
    results = list(states)
    for pieces, axis, direction in zip(collected, output_axes, output_directions):
        if direction:
            pieces = pieces[::-1]
        stacked = api.stack(pieces, 0)
        axis = _axis(axis, _ndim(stacked))
        if axis:
            order = list(range(1, _ndim(stacked)))
            order.insert(axis, 0)
            stacked = api.permute(stacked, order)
        results.append(stacked)
    return results
