"""``hybridgrad export``: build a model, load its weights, trace it and write an ONNX file, then
check the file with onnxruntime against the eager model.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> register(parser.add_subparsers())
    >>> parse_factory("hybridgrad.nn:Linear(4, 2, bias=False)")
    ('hybridgrad.nn', 'Linear', [4, 2], {'bias': False})
"""

from __future__ import annotations

import ast
import importlib

import numpy as np

from hybridgrad.cli import CommandError


def parse_factory(text: str) -> tuple[str, str, list, dict]:
    """Split ``package.module:Name(literal args)`` into its parts (arguments must be Python
    literals: nothing is evaluated)."""
    if ":" not in text:
        raise CommandError(f"model {text!r} must look like 'package.module:Factory' or "
                           "'package.module:Factory(arg, key=value)'")
    module_name, call = text.split(":", 1)
    try:
        expression = ast.parse(call, mode="eval").body
    except SyntaxError as error:
        raise CommandError(f"cannot parse the model factory {call!r}: {error.msg}") from None
    if isinstance(expression, ast.Name):
        return module_name, expression.id, [], {}
    if not (isinstance(expression, ast.Call) and isinstance(expression.func, ast.Name)):
        raise CommandError(f"model factory {call!r} must be a name or a call of a name")
    try:
        args = [ast.literal_eval(a) for a in expression.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in expression.keywords}
    except ValueError:
        raise CommandError(f"the arguments of {call!r} must be Python literals") from None
    return module_name, expression.func.id, args, kwargs


def _shape(text: str) -> tuple:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise CommandError(f"--input-shape {text!r} must be comma-separated integers, e.g. "
                           "1,3,32,32") from None


def _flatten(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model to ONNX (tracing it on example inputs)",
        description="Build MODEL (package.module:Factory(args)), optionally load --weights "
                    "(a hybridgrad safetensors checkpoint), trace it on random inputs of "
                    "--input-shape and write an ONNX file, then compare onnxruntime's outputs "
                    "with the eager model.")
    parser.add_argument("model", help="package.module:Factory or package.module:Factory(args)")
    parser.add_argument("--input-shape", action="append",
                        help="shape of one input, e.g. 1,3,32,32 (repeat for several inputs)")
    parser.add_argument("--checkpoint", help="gpt: the training checkpoint to export (default "
                        "runs/gpt/checkpoint.safetensors)")
    parser.add_argument("--weights", help="checkpoint written by hg.save (a state_dict, or a "
                                          "dict holding it under 'model')")
    parser.add_argument("-o", "--output", default="model.onnx", help="ONNX file to write")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset version")
    parser.add_argument("--dynamic-batch", action="store_true",
                        help="leave axis 0 of every input and output symbolic")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the onnxruntime comparison")
    parser.set_defaults(handler=run)


def _export_zoo_model(args) -> int:
    """A zoo model with its own exporter (``ModelSpec.onnx_export``: the GPT), from its
    training checkpoint; checked in onnxruntime against the eager model."""
    import hybridgrad as hg
    from hybridgrad.models import get_spec
    from hybridgrad.training.helpers import open_model

    spec = get_spec(args.model)
    _, _, model, _ = open_model(spec.name, args.checkpoint)
    proto = spec.onnx_export(model, args.output)
    print(f"wrote {args.output}: {len(proto.graph.node)} nodes, batch and length dynamic")
    if not args.no_verify:
        import onnxruntime

        session = onnxruntime.InferenceSession(args.output, providers=["CPUExecutionProvider"])
        ids = np.random.default_rng(0).integers(0, model.vocab_size, (2, model.block_size))
        with hg.no_grad():
            expected = model(hg.tensor(ids))[0].numpy()
        (actual,) = session.run(None, {"idx": ids})
        difference = float(np.max(np.abs(actual - expected)))
        print(f"onnxruntime vs eager (2 x {model.block_size} tokens): max |difference| "
              f"{difference:.3g}")
        if difference > 1e-3:
            raise CommandError(f"onnxruntime's logits differ from the eager model by "
                               f"{difference:.3g}")
    return 0


def run(args) -> int:
    import hybridgrad as hg
    from hybridgrad.models import REGISTRY

    if ":" not in args.model and getattr(REGISTRY.get(args.model), "onnx_export", None):
        return _export_zoo_model(args)
    if not args.input_shape:
        raise CommandError("--input-shape is required to export a model factory (one per "
                           "input, e.g. --input-shape 1,3,32,32)")
    module_name, attribute, call_args, call_kwargs = parse_factory(args.model)
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise CommandError(f"cannot find the model factory {args.model!r}: {error}") from None
    model = factory(*call_args, **call_kwargs)
    if not isinstance(model, hg.nn.Module):
        raise CommandError(f"{args.model} returned a {type(model).__name__}, not a "
                           "hybridgrad.nn.Module")
    if args.weights:
        try:
            checkpoint = hg.load(args.weights)
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read the weights {args.weights!r}: {error}") from None
        state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise CommandError(f"{args.weights} holds no state_dict")
        model.load_state_dict(state)
    model.eval()
    generator = np.random.default_rng(0)
    inputs = [hg.tensor(generator.standard_normal(_shape(s)).astype(np.float32))
              for s in args.input_shape]
    names = [f"input{i}" for i in range(len(inputs))]
    try:
        with hg.no_grad():
            expected = _flatten(model(*inputs))
    except (ValueError, TypeError, IndexError) as error:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise CommandError(f"{args.model} does not run on inputs of shape {shapes}: "
                           f"{error}") from None
    output_names = [f"output{i}" for i in range(len(expected))]
    options = {"input_names": names, "output_names": output_names}
    if args.opset:
        options["opset_version"] = args.opset
    if args.dynamic_batch:
        options["dynamic_axes"] = {name: [0] for name in names + output_names}
    try:
        proto = hg.onnx.export(model, inputs, args.output, **options)
    except hg.onnx.ExportError as error:
        raise CommandError(str(error)) from None
    print(f"wrote {args.output}: {len(proto.graph.node)} nodes, "
          f"{len(proto.graph.initializer)} initializers, opset "
          f"{proto.opset_import[0].version}")
    if not args.no_verify:
        import onnxruntime

        session = onnxruntime.InferenceSession(args.output, providers=["CPUExecutionProvider"])
        actual = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})
        difference = max(float(np.max(np.abs(a - e.numpy()))) if a.size else 0.0
                         for a, e in zip(actual, expected))
        print(f"onnxruntime vs eager: max |difference| {difference:.3g}")
        if difference > 1e-3:
            raise CommandError(f"onnxruntime's outputs differ from the eager model by "
                               f"{difference:.3g}")
    return 0
