#!/usr/bin/env bash
# The new user's path, on a machine with no data folder, no settings and no network beyond the
# package registries (issue 18): clone the repository into a temporary folder, make a new
# virtual environment, run the README's two set-up commands (the test command on a quick
# subset), then the main command `hybridgrad train cgan --quick`, and export a quick CNN run to
# ONNX and read it back in onnxruntime on real MNIST test images. HYBRIDGRAD_DATA is unset and
# the user cache (XDG_CACHE_HOME) is an empty folder, so MNIST comes from the package itself.
#
# Usage: tools/fresh_machine.sh [REPOSITORY]   (default: this checkout; its committed HEAD)
#        KEEP=1 tools/fresh_machine.sh          keeps the temporary folder for inspection
set -euo pipefail
source_repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
work="$(mktemp -d "${TMPDIR:-/tmp}/hybridgrad-fresh.XXXXXX")"
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi
started=$(date +%s)
step() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

unset HYBRIDGRAD_DATA PYTHONPATH VIRTUAL_ENV
export XDG_CACHE_HOME="$work/empty-cache"
mkdir -p "$XDG_CACHE_HOME"

step "clone $source_repo"
if git -C "$source_repo" rev-parse --git-dir >/dev/null 2>&1; then
  git clone -q "$source_repo" "$work/hybridgrad"
  git -C "$work/hybridgrad" log --oneline -1
else  # a source tree without git (an unpacked sdist or archive): copy it as it is
  mkdir "$work/hybridgrad"
  tar -C "$source_repo" --exclude=.ci-venv --exclude=.venv --exclude=runs -cf - . \
    | tar -C "$work/hybridgrad" -xf -
fi
cd "$work/hybridgrad"

step "new virtual environment"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
python -m pip install -q --upgrade pip

step "README, first command: pip install -e \".[dev]\""
pip install -q -e ".[dev]"

step "README, second command: pytest (a quick subset: the offline paths and the docs' commands)"
pytest -q tests/test_smoke.py tests/data/test_mnist_embedded.py \
    tests/commands/test_fresh_user.py tests/docs

step "the main command, quick: hybridgrad train cgan --quick"
hybridgrad train cgan --quick --no-progress | tee "$work/cgan.log"
grep -q "data:  MNIST from the copy embedded in the package" "$work/cgan.log"
grep -q "judge: the CNN shipped with hybridgrad" "$work/cgan.log"
test -s runs/cgan/report.html && test -s runs/cgan/samples.png

step "a quick CNN, exported to ONNX"
hybridgrad train cnn --quick --no-progress --out runs/cnn-quick
hybridgrad export cnn --checkpoint runs/cnn-quick/checkpoint.safetensors -o cnn.onnx \
    --dynamic-batch

step "cnn.onnx read back in onnxruntime on the 10,000 MNIST test images (pixels in [0, 1])"
python - <<'PYTHON'
import json
import subprocess

import numpy as np
import onnxruntime

from hybridgrad.training import load_mnist

images, labels = load_mnist(False)  # the embedded copy: no data folder on this machine
session = onnxruntime.InferenceSession("cnn.onnx", providers=["CPUExecutionProvider"])
predictions = np.concatenate([session.run(None, {"images": images[i:i + 1000]})[0].argmax(1)
                              for i in range(0, len(images), 1000)])
onnx_accuracy = float((predictions == labels).mean())
result = subprocess.run(["hybridgrad", "eval", "cnn", "--checkpoint",
                         "runs/cnn-quick/checkpoint.safetensors", "--json"],
                        check=True, capture_output=True, text=True)
hybridgrad_accuracy = json.loads(result.stdout)["test_accuracy"]
print(f"onnxruntime accuracy {onnx_accuracy:.4f}, hybridgrad eval {hybridgrad_accuracy:.4f}")
assert abs(onnx_accuracy - hybridgrad_accuracy) < 1e-9, "onnxruntime and hybridgrad disagree"
PYTHON

step "done: the new user's path works (total $(( $(date +%s) - started )) s)"
