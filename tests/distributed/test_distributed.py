"""hg.distributed without MPI: the sampler's sharding, and gradient averaging / parameter
broadcast over an in-process group of threads implementing the Communicator interface."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad import distributed as dist
from hybridgrad.distributed.parallel import _plan_buckets


class ThreadGroup:
    """``size`` communicators in one process, one per thread: a second engine, which also
    checks that the Communicator interface is enough for everything built on it."""

    def __init__(self, size: int):
        self.size = size
        self.slots = [None] * size
        self.barrier_object = threading.Barrier(size, timeout=20)
        self.calls = 0

    def communicators(self):
        return [ThreadCommunicator(self, rank) for rank in range(self.size)]

    def run(self, function):
        """Run ``function(communicator)`` on every rank in its own thread; their results."""
        results, errors = [None] * self.size, []

        def target(communicator):
            try:
                results[communicator.rank] = function(communicator)
            except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
                errors.append(error)
                self.barrier_object.abort()

        threads = [threading.Thread(target=target, args=(c,)) for c in self.communicators()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results


class ThreadCommunicator(dist.Communicator):
    def __init__(self, group: ThreadGroup, rank: int):
        self.group, self.rank, self.size = group, rank, group.size

    def allreduce(self, array, op="sum"):
        reduce = {"sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod}[op]
        self.group.slots[self.rank] = array.copy()
        self.barrier()
        result = reduce(np.stack(self.group.slots), axis=0).astype(array.dtype)
        self.barrier()
        if self.rank == 0:
            self.group.calls += 1
        array[...] = result
        return array

    def broadcast(self, array, root=0):
        if self.rank == root:
            self.group.slots[root] = array.copy()
        self.barrier()
        array[...] = self.group.slots[root]
        self.barrier()
        return array

    def barrier(self):
        self.group.barrier_object.wait()

    def abort(self, code=1):
        raise RuntimeError("abort")


# DistributedSampler.
def pytorch_shares(n, replicas, drop_last, order):
    """PyTorch's DistributedSampler.__iter__, transcribed as a plain loop."""
    if drop_last and n % replicas:
        num_samples = math.ceil((n - replicas) / replicas)
    else:
        num_samples = math.ceil(n / replicas)
    total = num_samples * replicas
    indices = list(order)
    if not drop_last:
        padding = total - len(indices)
        if padding <= len(indices):
            indices += indices[:padding]
        else:
            indices += (indices * math.ceil(padding / len(indices)))[:padding]
    else:
        indices = indices[:total]
    return [indices[rank:total:replicas] for rank in range(replicas)]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), replicas=st.integers(1, 7), drop_last=st.booleans(),
       shuffle=st.booleans(), epoch=st.integers(0, 3))
def test_sampler_matches_pytorch_algorithm(n, replicas, drop_last, shuffle, epoch):
    samplers = [dist.DistributedSampler(range(n), replicas, rank, shuffle=shuffle, seed=9,
                                        drop_last=drop_last) for rank in range(replicas)]
    for sampler in samplers:
        sampler.set_epoch(epoch)
    shares = [list(sampler) for sampler in samplers]
    order = (np.random.default_rng([9, epoch]).permutation(n).tolist() if shuffle
             else list(range(n)))
    assert shares == pytorch_shares(n, replicas, drop_last, order)
    sizes = {len(share) for share in shares}
    assert sizes == {len(samplers[0])}  # equal sizes, and __len__ is right
    flat = sum(shares, [])
    if drop_last:
        assert len(set(flat)) == len(flat)  # disjoint, nothing repeated
        assert len(flat) == n - n % replicas
    else:
        assert set(flat) == set(range(n))  # covers the data set
        assert len(flat) - n < replicas  # padding is less than one index per rank
        if n % replicas == 0:
            assert len(set(flat)) == n


def test_sampler_epochs_differ_and_replay():
    sampler = dist.DistributedSampler(range(20), num_replicas=2, rank=1, seed=4)
    first, second = list(sampler), list(sampler)  # iter() advances the epoch
    assert first != second and sorted(first) != list(range(0, 20, 2))
    sampler.set_epoch(0)
    assert list(sampler) == first
    other_seed = dist.DistributedSampler(range(20), num_replicas=2, rank=1, seed=5)
    assert list(other_seed) != first


def test_sampler_shares_form_the_single_process_batches():
    """Batch k on each of 2 ranks with size B, together, is batch k of size 2B in one process:
    the property that makes 2 ranks equivalent to one with a double batch."""
    n, batch = 24, 3
    single = list(dist.DistributedSampler(range(n), num_replicas=1, rank=0, seed=2))
    shares = [list(dist.DistributedSampler(range(n), num_replicas=2, rank=r, seed=2))
              for r in range(2)]
    for k in range(n // (2 * batch)):
        together = shares[0][k * batch:(k + 1) * batch] + shares[1][k * batch:(k + 1) * batch]
        assert sorted(together) == sorted(single[2 * k * batch:2 * (k + 1) * batch])


def test_sampler_in_a_dataloader_resumes_with_its_seed():
    data = hg.data.TensorDataset(hg.arange(12))
    sampler = dist.DistributedSampler(data, num_replicas=3, rank=2, seed=7)
    loader = hg.data.DataLoader(data, batch_size=2, sampler=sampler)
    epoch0 = [b[0].tolist() for b in loader]
    epoch1 = [b[0].tolist() for b in loader]
    assert epoch0 != epoch1 and len(epoch0) == 2
    assert loader.state_dict() == {"seed": 7, "epoch": 2, "batches_done": 0}
    loader.set_epoch(1)
    assert [b[0].tolist() for b in loader] == epoch1


def test_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer"):
        dist.DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        dist.DistributedSampler(range(4), num_replicas=1, rank=0, seed=-1)


def test_sampler_defaults_come_from_the_communicator():
    sampler = dist.DistributedSampler(range(5))
    assert (sampler.rank, sampler.num_replicas) == (0, 1)
    assert sorted(sampler) == list(range(5))


# Bucketing and averaging.
def test_bucket_plan_respects_cap_and_dtype():
    arrays = [np.zeros(10, np.float32), np.zeros(10, np.float32), np.zeros(100, np.float32),
              np.zeros(5, np.float64), np.zeros(5, np.float32)]
    assert _plan_buckets(arrays, cap_bytes=100) == [[0, 1], [2], [3], [4]]
    assert _plan_buckets(arrays, cap_bytes=1e9) == [[0, 1, 2], [3], [4]]


def make_parameters(rank):
    float32 = hg.nn.Parameter(hg.zeros(3, 2))
    float64 = hg.nn.Parameter(hg.zeros(4, dtype=hg.float64))
    unused_here = hg.nn.Parameter(hg.zeros(2))
    unused_everywhere = hg.nn.Parameter(hg.zeros(2))
    float32.grad = hg.full((3, 2), float(rank + 1))
    float64.grad = hg.tensor(np.arange(4.0) * (rank + 1))
    unused_here.grad = None if rank == 1 else hg.tensor([4.0, 6.0])
    return [float32, float64, unused_here, unused_everywhere]


def test_gradient_averager_averages_in_few_calls():
    group = ThreadGroup(2)

    def work(communicator):
        parameters = make_parameters(communicator.rank)
        averager = dist.GradientAverager(parameters, communicator)
        averager()
        return [None if p.grad is None else p.grad.numpy() for p in parameters], averager

    (grads0, averager0), (grads1, _) = group.run(work)
    np.testing.assert_array_equal(grads0[0], np.full((3, 2), 1.5, np.float32))
    np.testing.assert_array_equal(grads0[1], np.arange(4.0) * 1.5)
    assert grads0[0].dtype == np.float32 and grads0[1].dtype == np.float64
    np.testing.assert_array_equal(grads0[2], [2.0, 3.0])  # rank 1 had none: counts as zero
    assert grads0[3] is None  # no rank had a gradient: stays None (no phantom update)
    for mine, theirs in zip(grads0, grads1):
        assert (mine is None and theirs is None) or np.array_equal(mine, theirs)
    assert averager0.buckets == [[0], [1], [2, 3]]  # dtype runs: float32, float64, float32
    assert group.calls == 3 and averager0.calls == 3  # one allreduce per bucket


def test_broadcast_parameters_copies_rank0_weights_and_buffers():
    group = ThreadGroup(3)

    def work(communicator):
        hg.manual_seed(communicator.rank)
        model = hg.nn.Sequential(hg.nn.Linear(3, 4), hg.nn.BatchNorm1d(4))
        model[1].running_mean._array = np.full(4, float(communicator.rank), np.float32)
        model[0].bias._array.setflags(write=False)  # a read-only array gets replaced, not written
        dist.broadcast_parameters(model, communicator=communicator)
        return {name: value.numpy().copy() for name, value in model.state_dict().items()}

    states = group.run(work)
    assert states[0]["1.running_mean"].tolist() == [0.0] * 4
    assert states[0]["1.num_batches_tracked"].dtype == np.int64
    for state in states[1:]:
        for name in states[0]:
            np.testing.assert_array_equal(state[name], states[0][name], err_msg=name)


def test_broadcast_parameters_names_a_different_model():
    group = ThreadGroup(2)

    def work(communicator):
        dist.broadcast_parameters(hg.nn.Linear(2, 2 + communicator.rank),
                                  communicator=communicator)

    with pytest.raises(ValueError, match=r"rank 1's model differs from rank 0's at entry 0: "
                                         r"rank 0 has \['weight', \[2, 2\], 'float32'\]"):
        group.run(work)


def test_objects_travel_between_ranks():
    group = ThreadGroup(3)

    def work(communicator):
        gathered = communicator.allgather_object({"rank": communicator.rank, "name": "é"})
        chosen = communicator.broadcast_object([1, 2] if communicator.rank == 2 else None,
                                               root=2)
        return gathered, chosen

    for gathered, chosen in group.run(work):
        assert gathered == [{"rank": r, "name": "é"} for r in range(3)]
        assert chosen == [1, 2]


def test_distributed_optimizer_trains_like_the_mean_gradient():
    group = ThreadGroup(2)
    inputs = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)

    def work(communicator):
        hg.manual_seed(communicator.rank)
        model = hg.nn.Linear(3, 1)
        dist.broadcast_parameters(model, communicator=communicator)
        optimizer = dist.DistributedOptimizer(hg.optim.Adam(model.parameters(), lr=0.1),
                                              communicator=communicator)
        shard = hg.tensor(inputs[communicator.rank::2])
        for _ in range(3):
            optimizer.zero_grad()
            (model(shard) ** 2).mean().backward()
            optimizer.synchronize()  # e.g. before clipping; step() must not average again
            optimizer.step()
        return model.weight.numpy().copy(), optimizer.averager.calls

    (weight0, calls), (weight1, _) = group.run(work)
    hg.manual_seed(0)
    model = hg.nn.Linear(3, 1)
    optimizer = hg.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        (model(hg.tensor(inputs)) ** 2).mean().backward()
        optimizer.step()
    np.testing.assert_array_equal(weight0, weight1)
    np.testing.assert_allclose(weight0, model.weight.numpy(), atol=1e-6)
    assert calls == 3


def test_ddp_no_sync_skips_communication():
    group = ThreadGroup(2)

    def work(communicator):
        model = dist.DistributedDataParallel(hg.nn.Linear(2, 1), communicator=communicator)
        model(hg.ones(1, 2) * (communicator.rank + 1)).sum().backward()
        with model.no_sync():
            model.allreduce_gradients()
        local = model.module.weight.grad.numpy().copy()
        model.allreduce_gradients()
        return local, model.module.weight.grad.numpy().copy()

    (local0, averaged0), (local1, averaged1) = group.run(work)
    assert local0.tolist() == [[1.0, 1.0]] and local1.tolist() == [[2.0, 2.0]]
    assert averaged0.tolist() == averaged1.tolist() == [[1.5, 1.5]]


# Single process.
def test_single_process_collectives_are_identities():
    comm = dist.SingleProcessCommunicator()
    array = np.arange(4.0)
    assert comm.allreduce(array, op="max") is array and array.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="op must be one of sum, max, min, prod"):
        comm.allreduce(array, op="mean")
    with pytest.raises(ValueError, match="must be C-contiguous and writeable"):
        comm.allreduce(np.zeros((3, 3))[:, 0])
    with pytest.raises(TypeError, match="objects are exchanged as JSON"):
        comm.allgather_object({1, 2})
    weight = hg.nn.Parameter(hg.ones(2))
    (weight * 3).sum().backward()
    dist.GradientAverager([weight], comm)()
    assert weight.grad.tolist() == [3.0, 3.0]  # world of one: gradients untouched


def test_init_rejects_unknown_backend_and_explains_missing_mpi(monkeypatch):
    with pytest.raises(ValueError, match="backend must be one of auto, mpi, single"):
        dist.init(backend="nccl")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if mpi4py were not installed
    with pytest.raises(RuntimeError, match=r"needs mpi4py.*hybridgrad\[distributed\]"):
        dist.MPICommunicator()


def test_average_buffers_means_running_statistics():
    group = ThreadGroup(2)

    def work(communicator):
        norm = hg.nn.BatchNorm1d(3)
        norm(hg.tensor(np.full((4, 3), 10.0 * communicator.rank, np.float32)
                       + np.arange(4.0, dtype=np.float32)[:, None]))
        norm.num_batches_tracked._array = np.array(5 + communicator.rank)
        dist.average_buffers(norm, communicator)
        return norm.running_mean.numpy().copy(), int(norm.num_batches_tracked.item())

    (mean0, count0), (mean1, count1) = group.run(work)
    # momentum 0.1 from 0: rank r's running mean is 0.1 * (10 r + 1.5); their mean is 0.65.
    np.testing.assert_allclose(mean0, np.full(3, 0.65, np.float32), rtol=1e-6)
    np.testing.assert_array_equal(mean0, mean1)
    assert count0 == count1 == 5  # integer buffers: rank 0's


def test_collective_timeout_from_the_environment(monkeypatch):
    from hybridgrad.distributed.communicator import default_timeout

    for value, expected in (("", 1800.0), ("7.5", 7.5), ("0", None), ("none", None)):
        monkeypatch.setenv("HYBRIDGRAD_DISTRIBUTED_TIMEOUT", value)
        assert default_timeout() == expected
    monkeypatch.setenv("HYBRIDGRAD_DISTRIBUTED_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="must be a number of seconds"):
        default_timeout()


def test_single_process_training_without_mpi4py():
    """Outside mpirun everything works with mpi4py unimportable, and auto mode never loads it."""
    env = {k: v for k, v in os.environ.items()
           if k not in dist.communicator._LAUNCHER_SIZE_VARIABLES}
    code = """
import sys
sys.modules["mpi4py"] = None  # as if not installed: any import of it fails
import hybridgrad as hg
from hybridgrad import distributed as dist
comm = dist.init()
model = hg.nn.Linear(3, 2)
dist.broadcast_parameters(model)
optimizer = dist.DistributedOptimizer(hg.optim.SGD(model.parameters(), lr=0.1))
data = hg.data.TensorDataset(hg.randn(8, 3), hg.tensor([0, 1] * 4))
loader = hg.data.DataLoader(data, batch_size=4, sampler=dist.DistributedSampler(data))
before = model.weight.numpy().copy()
for inputs, labels in loader:
    optimizer.zero_grad()
    hg.nn.functional.cross_entropy(model(inputs), labels).backward()
    optimizer.step()
print(type(comm).__name__, comm.size, len(loader), bool((model.weight.numpy() != before).any()))
"""
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=60, cwd=Path(__file__).parents[2])
    assert output.stdout.split() == ["SingleProcessCommunicator", "1", "2", "True"], \
        output.stderr
