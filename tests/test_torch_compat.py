"""The torch import hook, the runner's error messages, PyTorch's CPU-build module answers
(cuda, backends, accelerator), legacy names and torch.autograd.Function."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad import torch_compat
from hybridgrad.commands.run import run_program
from hybridgrad.testing import gradcheck
from hybridgrad.torch_compat import MissingTorchAPIError, MissingTorchModuleError
from hybridgrad.torch_compat.autograd import Function

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def torch():
    with torch_compat.installed():
        import torch as module

        yield module
    assert "torch" not in sys.modules


def test_modules_resolve_to_hybridgrad_objects(torch):
    import torch.nn as nn
    import torch.nn.functional as F  # noqa: N812 - PyTorch's spelling
    import torch.optim.lr_scheduler as schedulers
    import torchvision
    from torch.nn.modules.loss import MSELoss
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.data.distributed import DistributedSampler

    assert torch.Tensor is hg.Tensor and nn.Linear is hg.nn.Linear
    assert F.relu is hg.nn.functional.relu
    assert DataLoader is hg.data.DataLoader and TensorDataset is hg.data.TensorDataset
    assert MSELoss is hg.nn.MSELoss and schedulers.StepLR is hg.optim.lr_scheduler.StepLR
    assert DistributedSampler is hg.distributed.DistributedSampler
    assert torchvision.transforms.ToTensor is hg.vision.transforms.ToTensor
    assert torch.nn.parallel.DistributedDataParallel is hg.nn.parallel.DistributedDataParallel
    assert torch.cuda.is_available() is False and torch.cuda.device_count() == 0
    assert torch.accelerator.is_available() is False
    assert torch.accelerator.current_accelerator() is None
    assert torch.backends.mps.is_available() is False
    assert torch.__version__.startswith("2.") and "hybridgrad" in torch.__version__


def test_writes_reach_the_hybridgrad_module(torch):
    previous = hg.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = not previous
        assert hg.backends.cudnn.benchmark is (not previous)
    finally:
        hg.backends.cudnn.benchmark = previous
    original = hg.cuda.is_available
    try:
        assert torch.cuda.is_available is original  # read once: kept on the alias
        torch.cuda.is_available = lambda: "patched"  # a program monkeypatching torch
        assert torch.cuda.is_available() == "patched" == hg.cuda.is_available()
    finally:
        hg.cuda.is_available = original


def test_missing_attribute_names_api_documentation_and_line(torch):
    assert not hasattr(torch, "no_such_function")
    with pytest.raises(MissingTorchAPIError) as error:
        torch.nn.functional.no_such_function  # noqa: B018 - the access is the test
    message = str(error.value)
    assert message.startswith("torch.nn.functional.no_such_function is not available")
    assert "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.no_such_function" \
           ".html" in message
    assert f"{__file__}:" in message and "torch.nn.functional.no_such_function" in \
        error.value.where


def test_missing_module_names_it(torch):
    with pytest.raises(MissingTorchModuleError, match=r"module torch\.no_such_module is not "
                                                       r"available .*test_torch_compat\.py:"):
        import torch.no_such_module  # noqa: F401
    with pytest.raises(ImportError):  # hasattr-style probes keep working
        from torch.nn.modules.loss import _NoSuchLoss  # noqa: F401


def test_uninstall_restores_the_import_system():
    modules = {name: getattr(hg, name) for name in ("autograd", "nn", "optim", "data")}
    functional = hg.nn.functional
    with torch_compat.installed():
        import torch  # noqa: F401
        import torch.autograd  # noqa: F401
        import torch.nn.functional  # noqa: F401
        import torch.utils.data  # noqa: F401
    assert "torch" not in sys.modules
    # Binding sub-module aliases on their parents did not reach hybridgrad's own modules.
    assert {name: getattr(hg, name) for name in modules} == modules
    assert hg.nn.functional is functional
    assert not any(isinstance(f, torch_compat.TorchFinder) for f in sys.meta_path)
    with pytest.raises(ImportError):
        import torch  # noqa: F401, F811


def test_run_behaves_like_python_script(tmp_path, capsys, monkeypatch):
    (tmp_path / "data.txt").write_text("42")
    script = tmp_path / "prog.py"
    script.write_text(
        "import argparse, sys, torch\n"
        "import helper\n"
        "parser = argparse.ArgumentParser(); parser.add_argument('--epochs', type=int)\n"
        "args = parser.parse_args()\n"
        "print(__name__, __file__ == sys.argv[0], args.epochs, open('data.txt').read(),"
        " helper.VALUE)\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(3)\n")
    (tmp_path / "helper.py").write_text("VALUE = 'helper'\n")
    monkeypatch.chdir(tmp_path)
    argv = list(sys.argv)
    assert run_program(str(script), ["--epochs", "2"]) == 3
    assert capsys.readouterr().out == "__main__ True 2 42 helper\n"
    assert sys.argv == argv and "torch" not in sys.modules


@pytest.mark.parametrize("line,api", [
    ("torch.ones(2).no_such_method()", "torch.Tensor.no_such_method"),
    ("torch.nn.Linear(1, 1).ipu()", "torch.nn.Module.ipu"),
    ("from torch.nn.modules.loss import _NoSuchLoss", "torch.nn.modules.loss._NoSuchLoss"),
    ("import torch.no_such_module", "torch.no_such_module"),
])
def test_run_reports_the_missing_api_and_the_line(tmp_path, capsys, line, api):
    script = tmp_path / "prog.py"
    script.write_text(f"import torch\n\n{line}\n")
    assert run_program(str(script), []) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"hybridgrad run: {'module ' if 'import torch.' in line else ''}"
                           f"{api} is not available in hybridgrad")
    assert f"{script}:3: {line}" in last


def test_run_reports_other_errors_with_the_line(tmp_path, capsys):
    script = tmp_path / "prog.py"
    script.write_text("import torch\nx = 1\nraise ValueError('bad value')\n")
    assert run_program(str(script), []) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"hybridgrad run: ValueError: bad value (at {script}:3: raise " \
                   "ValueError('bad value'))"


def test_command_line_entry_and_missing_program(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("import sys, torch\nprint(sys.argv[1:], torch.zeros(1).tolist())\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    result = subprocess.run([sys.executable, "-m", "hybridgrad", "run", str(script), "-x",
                             "--flag"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['-x', '--flag'] [0.0]\n"
    result = subprocess.run([sys.executable, "-m", "hybridgrad", "run", str(script), "--", "x"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout == "['--', 'x'] [0.0]\n"  # as python script.py -- x passes them
    result = subprocess.run([sys.executable, "-m", "hybridgrad", "run", "missing.py"],
                            capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "no such program: missing.py" in result.stderr


def test_legacy_tensor_types_and_variable(torch):
    from torch.autograd import Variable

    assert torch.FloatTensor(2, 3).shape == (2, 3)
    assert torch.FloatTensor(2, 3).dtype == np.float32
    assert torch.LongTensor([1, 2]).tolist() == [1, 2]
    assert torch.LongTensor([1, 2]).dtype == np.int64
    assert isinstance(hg.ones(1), torch.FloatTensor)
    assert not isinstance(hg.ones(1), torch.DoubleTensor)
    assert isinstance(hg.tensor([1]), torch.LongTensor)
    x = Variable(hg.tensor([3.0]), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [6.0]


class Legendre3(Function):
    @staticmethod
    def forward(ctx, x, scale, note):
        ctx.save_for_backward(x)
        ctx.scale = scale
        assert note == "plain values pass through"
        return scale * 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ctx.scale * 1.5 * (5 * x ** 2 - 1), None, None


def test_custom_function_gradient_matches_finite_differences():
    values = np.linspace(-1.0, 1.0, 5)
    x = hg.tensor(values, requires_grad=True)
    y = Legendre3.apply(x, 2.0, "plain values pass through")
    np.testing.assert_allclose(y.detach().numpy(), 2 * 0.5 * (5 * values ** 3 - 3 * values))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * (5 * values ** 2 - 1))
    assert gradcheck(lambda t: Legendre3.apply(t, 2.0, "plain values pass through"),
                     (hg.tensor(np.array([0.3, -0.7]), requires_grad=True),))


def test_custom_function_wrong_gradient_count_is_named():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    a = hg.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradients but forward took 2"):
        Bad.apply(a, hg.tensor(2.0)).backward()


def test_cuda_calls_as_the_cpu_build_answers():
    hg.cuda.manual_seed(0)
    hg.cuda.manual_seed_all(0)
    hg.cuda.synchronize()
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        hg.cuda.current_device()
    with pytest.raises(ValueError):
        hg.cuda.manual_seed("not a seed")


def test_import_hybridgrad_stays_light():
    code = ("import sys, hybridgrad\n"
            "print(sorted(m for m in ('hybridgrad.vision', 'hybridgrad.torch_compat', "
            "'hybridgrad.cuda', 'hybridgrad.torch_checkpoint', 'PIL') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_summary_writer_records_scalars_as_json_lines(torch, tmp_path):
    import json

    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(log_dir=str(tmp_path / "run")) as writer:
        writer.add_scalar("loss", hg.tensor(0.25), 3)
        writer.add_scalars("acc", {"train": 0.5, "test": 0.75}, 4)
        writer.add_image("ignored", hg.zeros(1, 2, 2), 4)
    records = [json.loads(line) for line in (tmp_path / "run" / "scalars.jsonl").open()]
    assert [(r["tag"], r["value"], r["step"]) for r in records] == [
        ("loss", 0.25, 3), ("acc/train", 0.5, 4), ("acc/test", 0.75, 4)]


def test_import_hybridgrad_as_torch_reaches_the_same_names():
    import hybridgrad as torch  # the other way PyTorch programs are tried

    assert torch.autograd.Variable is torch_compat.autograd.Variable
    assert torch.autograd.Function is Function
    assert torch.nn.DataParallel is torch.nn.parallel.DataParallel
    assert torch.utils.data.DataLoader is torch.data.DataLoader
    assert torch.cuda.is_available() is False and torch.vision.utils.make_grid
    with pytest.raises(AttributeError, match="no attribute 'NoSuch'"):
        torch.autograd.NoSuch  # noqa: B018


def test_run_prints_torch_names_and_serves_torch_cuda_amp(tmp_path, capsys):
    from hybridgrad.commands.run import run_program
    from hybridgrad.device import print_prefix

    script = tmp_path / "amp.py"
    script.write_text("import torch\n"
                      "scaler = torch.cuda.amp.GradScaler(enabled=False)\n"
                      "print(torch.ones(2, 3).shape, type(scaler).__name__)\n")
    assert run_program(str(script), []) == 0
    assert "torch.Size([2, 3]) GradScaler" in capsys.readouterr().out
    assert print_prefix() is None  # restored for the rest of the process
