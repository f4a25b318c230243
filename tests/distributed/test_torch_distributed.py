"""torch.distributed's process-group calls and nn.parallel's DDP, which averages when
backward finishes (two ranks as threads of one process; the mpirun run is in
tests/torch_programs)."""

from __future__ import annotations

import numpy as np
import pytest
from test_distributed import ThreadGroup  # noqa: E402 - the thread-backed communicators

import hybridgrad as hg
from hybridgrad import distributed as dist
from hybridgrad.nn.parallel import DataParallel, DistributedDataParallel


def test_process_group_in_one_process():
    dist.init_process_group(backend="gloo")
    try:
        assert dist.is_initialized() and dist.get_backend() == "gloo"
        assert dist.get_rank() == 0 and dist.get_world_size() == 1
        value = hg.tensor([2.0, 4.0])
        dist.all_reduce(value, op=dist.ReduceOp.AVG)
        assert value.tolist() == [2.0, 4.0]
        gathered = [hg.zeros(2)]
        dist.all_gather(gathered, hg.tensor([1.0, 2.0]))
        assert gathered[0].tolist() == [1.0, 2.0]
        with pytest.raises(ValueError, match="tensor_list has 2 entries but the world has 1"):
            dist.all_gather([hg.zeros(2), hg.zeros(2)], hg.ones(2))
        assert dist.all_reduce(hg.ones(1), async_op=True).wait()
        dist.barrier()
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


def test_process_group_refusals():
    with pytest.raises(RuntimeError, match="backend 'nccl' is not available"):
        dist.init_process_group(backend="nccl")
    with pytest.raises(RuntimeError, match="world_size=4 but the job has 1 processes"):
        dist.init_process_group(backend="gloo", world_size=4)
    dist.destroy_process_group()


def test_ddp_averages_when_backward_finishes():
    group = ThreadGroup(2)

    def work(communicator):
        hg.manual_seed(communicator.rank)  # different weights: rank 0's are broadcast
        model = DistributedDataParallel(hg.nn.Linear(2, 1), communicator=communicator)
        inputs = hg.ones(1, 2) * (communicator.rank + 1)
        model(inputs).sum().backward()  # no explicit allreduce: PyTorch's DDP semantics
        averaged = model.module.weight.grad.numpy().copy()
        calls = model.averager.calls
        model.allreduce_gradients()  # already averaged: a no-op, not a second average
        assert model.averager.calls == calls > 0
        again = model.module.weight.grad.numpy().copy()
        with model.no_sync():
            model.module.weight.grad = None
            model(inputs).sum().backward()
        local = model.module.weight.grad.numpy().copy()
        return averaged, again, local

    (averaged0, again0, local0), (averaged1, again1, local1) = group.run(work)
    assert averaged0.tolist() == averaged1.tolist() == [[1.5, 1.5]]
    assert again0.tolist() == again1.tolist() == [[1.5, 1.5]]
    assert local0.tolist() == [[1.0, 1.0]] and local1.tolist() == [[2.0, 2.0]]


def test_ddp_rejects_gpu_devices_and_data_parallel_passes_through():
    with pytest.raises(ValueError, match="device_ids=\\[0\\] names GPUs"):
        DistributedDataParallel(hg.nn.Linear(1, 1), device_ids=[0])
    model = hg.nn.Linear(3, 2)
    wrapped = DataParallel(model, device_ids=None)
    x = hg.ones(4, 3)
    np.testing.assert_array_equal(wrapped(x).detach().numpy(), model(x).detach().numpy())
    assert sorted(wrapped.state_dict()) == ["module.bias", "module.weight"]
