import threading
import time
from collections import namedtuple

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    random_split,
)


def _dataset(n=10):
    return TensorDataset(hg.arange(n).float(), hg.arange(n))


def _labels(loader):
    return [y.tolist() for _, y in loader]


def test_tensor_dataset_subset_concat():
    ds = _dataset(5)
    assert len(ds) == 5 and ds[-1][1].item() == 4
    with pytest.raises(IndexError, match="out of range"):
        ds[5]
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(hg.zeros(3), hg.zeros(4))
    both = ConcatDataset([ds, Subset(ds, [4, 0])])
    assert len(both) == 7 and [both[i][1].item() for i in range(7)] == [0, 1, 2, 3, 4, 4, 0]
    assert len(ds + ds) == 10


def test_random_split_counts_fractions_and_errors():
    ds = _dataset(10)
    a, b = random_split(ds, [7, 3], generator=0)
    assert len(a) == 7 and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    c, d = random_split(ds, [7, 3], generator=0)
    assert a.indices == c.indices
    parts = random_split(ds, [0.34, 0.33, 0.33], generator=1)
    assert [len(p) for p in parts] == [4, 3, 3]
    with pytest.raises(ValueError, match="does not equal"):
        random_split(ds, [5, 4])
    hg.manual_seed(3)
    first = random_split(ds, [5, 5])[0].indices
    hg.manual_seed(3)
    assert random_split(ds, [5, 5])[0].indices == first


def test_sequential_batches_and_drop_last():
    assert _labels(DataLoader(_dataset(10), batch_size=4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    loader = DataLoader(_dataset(10), batch_size=4, drop_last=True)
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(loader) == 2
    assert len(DataLoader(_dataset(10), batch_size=4)) == 3
    x, y = next(iter(DataLoader(_dataset(10), batch_size=4)))
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (4,)


def test_shuffle_is_a_permutation_and_differs_between_epochs():
    loader = DataLoader(_dataset(20), batch_size=5, shuffle=True, generator=42)
    epoch0, epoch1 = sum(_labels(loader), []), sum(_labels(loader), [])
    assert sorted(epoch0) == list(range(20)) and sorted(epoch1) == list(range(20))
    assert epoch0 != epoch1 and epoch0 != list(range(20))


def test_order_of_epoch_k_depends_only_on_seed_and_k():
    a = DataLoader(_dataset(20), batch_size=5, shuffle=True, generator=7)
    orders = [_labels(a) for _ in range(3)]
    b = DataLoader(_dataset(20), batch_size=5, shuffle=True, generator=7)
    b.set_epoch(2)
    assert _labels(b) == orders[2]
    b.set_epoch(0)
    assert _labels(b) == orders[0] and _labels(b) == orders[1]  # then advances
    np_generator = np.random.default_rng(7)
    c = DataLoader(_dataset(20), batch_size=5, shuffle=True, generator=np_generator)
    d = DataLoader(_dataset(20), batch_size=5, shuffle=True,
                   generator=np.random.default_rng(7))
    assert _labels(c) == _labels(d)


def test_default_seed_comes_from_manual_seed():
    hg.manual_seed(11)
    first = _labels(DataLoader(_dataset(16), batch_size=16, shuffle=True))
    hg.manual_seed(11)
    again = _labels(DataLoader(_dataset(16), batch_size=16, shuffle=True))
    hg.manual_seed(12)
    other = _labels(DataLoader(_dataset(16), batch_size=16, shuffle=True))
    assert first == again and first != other


def test_resume_mid_epoch_from_state_dict():
    loader = DataLoader(_dataset(23), batch_size=4, shuffle=True, generator=3)
    full = [_labels(loader), _labels(loader)]
    loader = DataLoader(_dataset(23), batch_size=4, shuffle=True, generator=3)
    _labels(loader)
    iterator = iter(loader)
    seen = [next(iterator)[1].tolist() for _ in range(2)]
    state = loader.state_dict()
    assert state == {"seed": 3, "epoch": 1, "batches_done": 2}
    assert seen == full[1][:2]
    resumed = DataLoader(_dataset(23), batch_size=4, shuffle=True)  # different default seed
    resumed.load_state_dict(state)
    assert _labels(resumed) == full[1][2:]
    assert resumed.state_dict() == {"seed": 3, "epoch": 2, "batches_done": 0}


def test_state_dict_round_trips_through_checkpoint(tmp_path):
    loader = DataLoader(_dataset(9), batch_size=2, shuffle=True, generator=5)
    iterator = iter(loader)
    next(iterator)
    hg.save({"loader": loader.state_dict()}, tmp_path / "c.safetensors")
    restored = DataLoader(_dataset(9), batch_size=2, shuffle=True)
    restored.load_state_dict(hg.load(tmp_path / "c.safetensors")["loader"])
    assert _labels(restored) == [batch[1].tolist() for batch in iterator]


def test_sampler_and_batch_sampler_options():
    sampler = SubsetRandomSampler([1, 3, 5, 7], generator=0)
    loader = DataLoader(_dataset(10), batch_size=2, sampler=sampler)
    assert sorted(sum(_labels(loader), [])) == [1, 3, 5, 7]
    batches = BatchSampler(SequentialSampler(range(5)), 3, drop_last=False)
    assert _labels(DataLoader(_dataset(5), batch_sampler=batches)) == [[0, 1, 2], [3, 4]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_dataset(5), sampler=sampler, shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_dataset(5), batch_sampler=batches, batch_size=2)
    replaced = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=1))
    assert len(replaced) == 50 and set(replaced) <= {0, 1, 2}


def test_unbatched_loading():
    loader = DataLoader(_dataset(3), batch_size=None)
    samples = list(loader)
    assert len(samples) == 3 and samples[2][1].item() == 2


def test_default_collate_rules():
    Point = namedtuple("Point", "x y")
    batch = default_collate([Point(1, 2.5), Point(3, 4.5)])
    assert isinstance(batch, Point) and batch.x.dtype == np.int64
    assert batch.y.dtype == np.float64  # PyTorch's rule for Python floats
    nested = default_collate([{"image": np.zeros((2, 2), np.uint8), "meta": ("a", True)},
                              {"image": np.ones((2, 2), np.uint8), "meta": ("b", False)}])
    assert nested["image"].shape == (2, 2, 2) and nested["image"].dtype == np.uint8
    assert nested["meta"][0] == ["a", "b"] and nested["meta"][1].dtype == np.bool_
    assert default_collate([np.float32(1), np.float32(2)]).dtype == np.float32
    with pytest.raises(RuntimeError, match=r"same shape.*\(2,\).*\(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object()])


class _Slow(Dataset):
    def __init__(self, n, fail_at=None):
        self.n, self.fail_at = n, fail_at
        self.threads = set()

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        self.threads.add(threading.current_thread().name)
        if index == self.fail_at:
            raise KeyError(f"bad item {index}")
        time.sleep(0.001 * ((index * 7) % 3))  # finish out of order
        return np.full(2, index, dtype=np.int64)


def test_background_threads_give_the_same_batches_in_order():
    dataset = _Slow(30)
    sync = DataLoader(dataset, batch_size=4, shuffle=True, generator=9)
    threaded = DataLoader(dataset, batch_size=4, shuffle=True, generator=9, num_workers=3,
                          prefetch_factor=2)
    expected = [b.tolist() for b in sync]
    dataset.threads.clear()
    assert [b.tolist() for b in threaded] == expected
    assert any(name.startswith("hybridgrad-loader") for name in dataset.threads)


def test_worker_exception_propagates_with_original_type():
    loader = DataLoader(_Slow(20, fail_at=13), batch_size=4, num_workers=2)
    seen = []
    with pytest.raises(KeyError, match="bad item 13"):
        for batch in loader:
            seen.append(batch)
    assert len(seen) == 3  # the batches before the failing one arrived


def test_breaking_out_stops_the_workers():
    before = {t.name for t in threading.enumerate()}
    loader = DataLoader(_Slow(200), batch_size=2, num_workers=2)
    for index, _ in enumerate(loader):
        if index == 2:
            break
    deadline = time.time() + 5
    while time.time() < deadline:
        extra = {t.name for t in threading.enumerate()} - before
        if not any(name.startswith("hybridgrad-loader") for name in extra):
            break
        time.sleep(0.01)
    assert not any(t.name.startswith("hybridgrad-loader") for t in threading.enumerate()
                   if t.name not in before)


def test_worker_init_fn_called_per_thread():
    ids = []
    lock = threading.Lock()

    def init(worker_id):
        with lock:
            ids.append(worker_id)

    list(DataLoader(_Slow(12), batch_size=1, num_workers=2, worker_init_fn=init))
    assert sorted(ids) == list(range(len(ids))) and 1 <= len(ids) <= 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(_dataset(), num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(_dataset(), prefetch_factor=2)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), batch_size=0)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(_dataset(), shuffle=True, generator="seed")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 30), st.integers(1, 8), st.booleans(), st.booleans(),
       st.integers(0, 2 ** 32))
def test_batches_cover_the_dataset_exactly(n, batch_size, drop_last, shuffle, seed):
    loader = DataLoader(_dataset(n), batch_size=batch_size, drop_last=drop_last,
                        shuffle=shuffle, generator=seed)
    batches = _labels(loader)
    assert len(batches) == len(loader)
    assert all(len(b) == batch_size for b in batches[:-1] if b)
    seen = sum(batches, [])
    expected = n - n % batch_size if drop_last else n
    assert len(seen) == expected and len(set(seen)) == expected
    if not shuffle:
        assert seen == list(range(expected))


def test_random_sampler_with_replacement_draws_lazily():
    # PyTorch draws lazily; 10**10 indices drawn up front would be a 74.5 GiB allocation.
    import itertools
    import tracemalloc

    sampler = RandomSampler(range(7), replacement=True, num_samples=10**10, generator=2)
    tracemalloc.start()
    try:
        first = list(itertools.islice(iter(sampler), 10_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(sampler) == 10**10 and set(first) <= set(range(7))
    assert peak < 50 * 1024 * 1024
    # Drawing block by block gives the stream one whole draw gives.
    small = RandomSampler(range(5), replacement=True, num_samples=9000, generator=4)
    rng = np.random.default_rng([small.seed, 0])
    assert list(small) == rng.integers(0, 5, size=9000).tolist()


def test_random_sampler_without_replacement_repeats_whole_permutations():
    sampler = RandomSampler(range(4), num_samples=10, generator=5)
    order = list(sampler)
    assert len(order) == 10 and sorted(order[:4]) == [0, 1, 2, 3] == sorted(order[4:8])


def test_weighted_random_sampler_follows_the_weights():
    from hybridgrad.data.sampler import WeightedRandomSampler

    sampler = WeightedRandomSampler(hg.tensor([1.0, 3.0, 0.0]), 20_000, generator=3)
    counts = np.bincount(list(sampler), minlength=3)
    assert len(sampler) == 20_000 and counts[2] == 0
    assert abs(counts[1] / counts.sum() - 0.75) < 0.02
    assert sorted(WeightedRandomSampler([5, 1, 1, 1], 4, replacement=False, generator=0)) == [
        0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="cannot draw 3 samples without replacement from 2"):
        WeightedRandomSampler([1, 1, 0], 3, replacement=False)
    with pytest.raises(ValueError, match="not all zero"):
        WeightedRandomSampler([0, 0], 1)
