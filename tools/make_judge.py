"""Turn a CNN training checkpoint into the judge shipped with the package.

Keeps what a judge needs (model name, configuration, weights: no optimizer state), measures its
accuracy on the 10,000 MNIST test images, and writes ``hybridgrad/models/weights/
judge_cnn.safetensors`` (the accuracy and the training command in its metadata) and ``JUDGE.md``
beside it (command, accuracy, SHA-256 of the file).

Usage::

    hybridgrad train cnn --out runs/cnn
    python tools/make_judge.py runs/cnn/checkpoint.safetensors --command "hybridgrad train cnn"
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

TEMPLATE = """# The shipped judge

`judge_cnn.safetensors` is the MNIST classifier that scores generated digits (the
`label_accuracy` of `hybridgrad train cgan`, `hybridgrad eval cgan` and `hybridgrad eval cvae`)
when no `--judge` is given and no `runs/cnn/checkpoint.safetensors` exists. Every one of those
commands says which judge it used.

| | |
| --- | --- |
| trained by | `{command}` (hybridgrad's own training loop, seed {seed}, {epochs} epochs) |
| architecture | `CNN({model})` |
| accuracy on the 10,000 MNIST test images | {accuracy:.4f} ({correct} / 10000) |
| per digit | {per_digit} |
| SHA-256 of `judge_cnn.safetensors` | `{sha256}` |
| size | {size} bytes (weights and configuration only, no optimizer state) |

Made with `python tools/make_judge.py CHECKPOINT --command "{command}"` from the run's
checkpoint. The file is a training checkpoint of hybridgrad (safetensors, never pickled), so
`hybridgrad eval cnn --checkpoint hybridgrad/models/weights/judge_cnn.safetensors` measures it
again.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="training checkpoint of 'hybridgrad train cnn'")
    parser.add_argument("--command", required=True, help="the exact training command")
    parser.add_argument("--out", default=os.path.join("hybridgrad", "models", "weights"))
    args = parser.parse_args(argv)

    import json

    import hybridgrad as hg
    from hybridgrad.commands.eval import evaluate
    from hybridgrad.training import build_from_checkpoint
    from hybridgrad.training.checkpoint import FORMAT

    _, config, model, state = build_from_checkpoint(args.checkpoint, "cnn")
    results = evaluate("cnn", args.checkpoint)
    accuracy = results["test_accuracy"]
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "judge_cnn.safetensors")
    judge_state = {"model": "cnn", "config": state["config"],
                   "model_state": dict(model.state_dict())}
    # A training checkpoint (its format tag) that also records how it was made.
    hg.save(judge_state, path, metadata={"format": FORMAT, "test_accuracy": f"{accuracy:.4f}",
                                         "command": args.command})
    data = open(path, "rb").read()
    text = TEMPLATE.format(
        command=args.command, seed=config.get("seed"), epochs=config.get("epochs"),
        model=", ".join(f"{k}={v!r}" for k, v in config["model"].items()),
        accuracy=accuracy, correct=round(accuracy * 10000),
        per_digit=", ".join(f"{d}: {v:.3f}" for d, v in enumerate(results["per_digit"])),
        sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    with open(os.path.join(args.out, "JUDGE.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    print(json.dumps({"path": path, "test_accuracy": accuracy,
                      "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
