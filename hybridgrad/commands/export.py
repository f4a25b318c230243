"""``hybridgrad export``: write a trained model as ONNX, then check the file with onnxruntime
against the eager model.

Two forms::

    hybridgrad export cnn --checkpoint runs/cnn/checkpoint.safetensors -o cnn.onnx
    hybridgrad export hybridgrad.nn:Linear(4, 3) --input-shape 2,4 --weights w.safetensors

A zoo name (``hybridgrad list``) rebuilds the model from its training checkpoint's own
configuration and takes its example inputs from the model's spec (``--input-shape`` overrides
them). ``package.module:Factory(args)`` builds any module; ``--weights`` (the same option as
``--checkpoint``) is a ``hg.save`` file holding a ``state_dict`` (or one under ``"model"``) or a
training checkpoint, whose configuration supplies the factory's arguments when none are given.

Preprocessing: with ``--include-preprocessing`` (the default for zoo models) the training
normalisation ``(x - mean) / std`` is the graph's first nodes, so onnxruntime users feed pixels
in [0, 1]; without it the graph takes normalised inputs and the constants are in the model's
metadata properties (``hybridgrad.normalize``, ``hybridgrad.mean``, ``hybridgrad.std``,
``hybridgrad.input``). See docs/onnx.md.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> register(parser.add_subparsers())
    >>> parse_factory("hybridgrad.nn:Linear(4, 2, bias=False)")
    ('hybridgrad.nn', 'Linear', [4, 2], {'bias': False})
    >>> parser.parse_args(["export", "cnn"]).include_preprocessing is None
    True
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import json
import os

import numpy as np

from hybridgrad import nn
from hybridgrad.cli import CommandError

#: Every training normalisation as ``(x - mean) / std`` of pixels in [0, 1] (the same maps as
#: :func:`hybridgrad.training.data.normalize`, which the tests compare them with).
NORMALIZATION_CONSTANTS = {"standard": (0.1307, 0.3081), "tanh": (0.5, 0.5), "unit": (0.0, 1.0)}


def parse_factory(text: str) -> tuple[str, str, list, dict]:
    """Split ``package.module:Name(literal args)`` into its parts (arguments must be Python
    literals: nothing is evaluated)."""
    if ":" not in text:
        raise CommandError(f"model {text!r} must be a zoo model name (see 'hybridgrad list') or "
                           "look like 'package.module:Factory' or "
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
    """Add the ``export`` sub-command."""
    parser = subparsers.add_parser(
        "export", help="export a trained model to ONNX (tracing it on example inputs)",
        description="Export MODEL to ONNX: a zoo model name (mlp, cnn, vit, cgan: rebuilt from "
                    "its training checkpoint, inputs from its spec) or "
                    "package.module:Factory(args) with --input-shape. The file is then run by "
                    "onnxruntime and compared with the eager model.")
    parser.add_argument("model", help="zoo model name ('hybridgrad list') or "
                                      "package.module:Factory(args)")
    parser.add_argument("--checkpoint", "--weights", dest="checkpoint", metavar="CKPT",
                        help="training checkpoint (zoo models: default "
                             "runs/MODEL/checkpoint.safetensors), or for a factory a hg.save "
                             "file holding a state_dict (or one under 'model')")
    parser.add_argument("--input-shape", action="append",
                        help="shape of one input, e.g. 1,3,32,32 (repeat for several inputs; "
                             "zoo models: default from the model's spec)")
    parser.add_argument("-o", "--output", help="ONNX file to write (default MODEL.onnx for a "
                                               "zoo model, else model.onnx)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset version")
    parser.add_argument("--dynamic-batch", action="store_true",
                        help="leave axis 0 of every input and output symbolic")
    parser.add_argument("--include-preprocessing", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="put the training normalisation into the graph so it takes pixels "
                             "in [0, 1] (default: on for zoo models, off for factories; when "
                             "off the constants are in the metadata properties)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the onnxruntime comparison")
    parser.set_defaults(handler=run)


def _read_weights(path: str) -> tuple[dict, dict | None]:
    """``(state_dict, training config or None)`` of a weights file or training checkpoint."""
    import hybridgrad as hg
    from hybridgrad.serialization import read_metadata
    from hybridgrad.training.checkpoint import FORMAT

    if not os.path.isfile(path):
        raise CommandError(f"no weights file at {path!r}")
    try:
        metadata = read_metadata(path)
        checkpoint = hg.load(path)
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot read the weights {path!r}: {error}") from None
    if (metadata.get("format") == FORMAT and isinstance(checkpoint, dict)
            and "model_state" in checkpoint):
        return dict(checkpoint["model_state"]), json.loads(checkpoint["config"])
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        keys = ", ".join(sorted(map(str, checkpoint))[:8]) if isinstance(checkpoint, dict) else ""
        raise CommandError(f"{path} holds no state_dict (top-level keys: {keys or 'none'}); "
                           "pass a training checkpoint of 'hybridgrad train' or a hg.save file "
                           "of model.state_dict() (or of {'model': model.state_dict()})")
    return state, None


class PreprocessedModel(nn.Module):
    """``model`` behind the training normalisation: inputs flagged as pixels (in [0, 1]) become
    ``(x - mean) / std`` first, so the traced graph starts with those nodes.

    Example:
        >>> import hybridgrad as hg
        >>> PreprocessedModel(hg.nn.Identity(), 0.5, 0.5, [True])(hg.tensor([0.0, 1.0])).tolist()
        [-1.0, 1.0]
    """

    def __init__(self, model, mean: float, std: float, pixel_flags: list[bool]):
        super().__init__()
        self.model = model
        self.mean, self.std, self.pixel_flags = float(mean), float(std), list(pixel_flags)

    def forward(self, *inputs):
        inputs = [(x - self.mean) / self.std if flag else x
                  for x, flag in zip(inputs, self.pixel_flags)]
        return self.model(*inputs)


def _plan(args) -> dict:
    """What to export: the module, its example inputs, names and preprocessing."""
    from hybridgrad.models import REGISTRY, ExportInput

    plan: dict = {"config": None, "spec": None}
    if ":" not in args.model:
        from hybridgrad.training.helpers import default_checkpoint, open_model, spec_or_error

        spec = spec_or_error(args.model)
        path = args.checkpoint or default_checkpoint(spec.name)
        _, config, model, _ = open_model(spec.name, path)
        plan.update(spec=spec, config=config, model=model, label=spec.name, checkpoint=path,
                    output=args.output or f"{spec.name}.onnx",
                    preprocess=True if args.include_preprocessing is None
                    else args.include_preprocessing)
    else:
        import hybridgrad as hg

        module_name, attribute, call_args, call_kwargs = parse_factory(args.model)
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise CommandError(f"cannot find the model factory {args.model!r}: {error}") \
                from None
        state, config = _read_weights(args.checkpoint) if args.checkpoint else (None, None)
        if config is not None and not call_args and not call_kwargs:
            call_kwargs = dict(config.get("model", {}))  # the run's own architecture
        try:
            model = factory(*call_args, **call_kwargs)
        except TypeError as error:
            raise CommandError(f"cannot build {args.model}: {error}") from None
        if not isinstance(model, hg.nn.Module):
            raise CommandError(f"{args.model} returned a {type(model).__name__}, not a "
                               "hybridgrad.nn.Module")
        if state is not None:
            try:
                model.load_state_dict(state)
            except (KeyError, ValueError, RuntimeError) as error:
                raise CommandError(f"the weights in {args.checkpoint} do not fit {args.model}: "
                                   f"{error}") from None
        # A training checkpoint of a zoo model's builder: its spec knows the example inputs.
        spec = next((entry for entry in REGISTRY.values() if entry.builder is factory),
                    None) if config is not None else None
        plan.update(spec=spec, config=config, model=model, label=args.model,
                    checkpoint=args.checkpoint,
                    output=args.output or "model.onnx",
                    preprocess=bool(args.include_preprocessing))
        if plan["preprocess"] and config is None:
            raise CommandError("--include-preprocessing needs to know the training "
                               "normalisation: pass a training checkpoint of 'hybridgrad "
                               "train' with --weights, or export a zoo model by name")
    plan["model"].eval()
    specified = plan["spec"].export_inputs(plan["config"]) if plan["spec"] else []
    if args.input_shape:
        shapes = [_shape(text) for text in args.input_shape]
        if len(shapes) == len(specified):  # the spec's inputs (names, dtypes), other shapes
            inputs = [dataclasses.replace(item, shape=shape)
                      for item, shape in zip(specified, shapes)]
        else:
            inputs = [ExportInput(f"input{i}", shape, pixels=i == 0)
                      for i, shape in enumerate(shapes)]
    elif specified:
        inputs = specified
    else:
        raise CommandError(f"{args.model}: pass --input-shape (for example --input-shape "
                           "1,1,28,28): the shapes of a factory's inputs are not known")
    plan["inputs"] = inputs
    mode = (plan["config"] or {}).get("normalize")
    plan["normalize"] = mode
    mean, std = NORMALIZATION_CONSTANTS.get(mode, (0.0, 1.0))
    plan["mean"], plan["std"] = mean, std
    flags = [item.pixels and plan["preprocess"] and mode is not None for item in inputs]
    plan["module"] = (PreprocessedModel(plan["model"], mean, std, flags)
                      if any(flags) and (mean, std) != (0.0, 1.0) else plan["model"])
    # Eval mode on the exported module itself: hg.onnx.export restores the module's mode
    # before it writes the layers it exports whole (BatchNorm), which it picks by that mode.
    plan["module"].eval()
    return plan


def _metadata(plan: dict) -> dict:
    """The model's metadata properties: what the inputs are and how they are preprocessed."""
    props = {"hybridgrad.model": plan["label"]}
    if plan.get("checkpoint"):
        props["hybridgrad.checkpoint"] = os.path.basename(str(plan["checkpoint"]))
    mode = plan["normalize"]
    pixels = [item.name for item in plan["inputs"] if item.pixels]
    if mode is None or not pixels:
        props["hybridgrad.input"] = "as the model takes them (no training normalisation known)"
        return props
    props.update({"hybridgrad.normalize": mode, "hybridgrad.mean": repr(plan["mean"]),
                  "hybridgrad.std": repr(plan["std"])})
    names = ", ".join(pixels)
    if plan["preprocess"]:
        props["hybridgrad.input"] = (f"{names}: pixels in [0, 1]; the graph's first nodes apply "
                                     f"(x - {plan['mean']}) / {plan['std']}")
    else:
        props["hybridgrad.input"] = (f"{names}: normalised pixels: feed (x - {plan['mean']}) / "
                                     f"{plan['std']} of pixels x in [0, 1]")
    return props


def run(args) -> int:
    """Handler of ``hybridgrad export``."""
    import onnx

    import hybridgrad as hg

    plan = _plan(args)
    generator = np.random.default_rng(0)
    arrays = [item.example(generator) for item in plan["inputs"]]
    inputs = [hg.tensor(array) for array in arrays]
    names = [item.name for item in plan["inputs"]]
    module = plan["module"]
    try:
        with hg.no_grad():
            expected = _flatten(module(*inputs))
    except (ValueError, TypeError, IndexError) as error:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise CommandError(f"{plan['label']} does not run on inputs of shape {shapes}: "
                           f"{error}") from None
    if plan["spec"] is not None and plan["spec"].task == "classifier" and len(expected) == 1:
        output_names = ["logits"]
    else:
        output_names = [f"output{i}" for i in range(len(expected))]
    options = {"input_names": names, "output_names": output_names}
    if args.opset:
        options["opset_version"] = args.opset
    if args.dynamic_batch:
        options["dynamic_axes"] = {name: [0] for name in names + output_names}
    output = plan["output"]
    try:
        proto = hg.onnx.export(module, inputs, None, **options)
    except hg.onnx.ExportError as error:
        raise CommandError(str(error)) from None
    onnx.helper.set_model_props(proto, _metadata(plan))
    if output != os.devnull:
        folder = os.path.dirname(os.path.abspath(output))
        os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(folder, f".{os.path.basename(output)}.{os.getpid()}.tmp")
        try:
            onnx.save(proto, temporary)
            os.replace(temporary, output)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
    print(f"wrote {output}: {len(proto.graph.node)} nodes, "
          f"{len(proto.graph.initializer)} initializers, opset "
          f"{proto.opset_import[0].version}")
    for prop in proto.metadata_props:
        if prop.key == "hybridgrad.input":
            print(f"  input {prop.value}")
    if not args.no_verify and output != os.devnull:
        import onnxruntime

        session = onnxruntime.InferenceSession(output, providers=["CPUExecutionProvider"])
        actual = session.run(None, dict(zip(names, arrays)))
        difference = max(float(np.max(np.abs(a - e.numpy()))) if a.size else 0.0
                         for a, e in zip(actual, expected))
        print(f"onnxruntime vs eager: max |difference| {difference:.3g}")
        if difference > 1e-3:
            raise CommandError(f"onnxruntime's outputs differ from the eager model by "
                               f"{difference:.3g}")
    return 0
