"""Devices, Tensor.to and the creation functions' PyTorch keyword arguments."""

import numpy as np
import pytest

import hybridgrad as hg


def test_device_parsing_equality_and_printing():
    assert hg.device("cuda:1") == hg.device("cuda", 1)
    assert hg.device("cuda") != hg.device("cuda:0")
    assert hg.device(hg.device("cpu")) == hg.device("cpu")
    assert repr(hg.device("cpu")) == "device(type='cpu')"
    assert repr(hg.device("cuda:0")) == "device(type='cuda', index=0)"
    assert str(hg.device("cuda", 2)) == "cuda:2"
    assert (hg.device("cpu").type, hg.device("cpu").index) == ("cpu", None)
    assert len({hg.device("cpu"), hg.device("cpu"), hg.device("cuda")}) == 2
    # As PyTorch: a device is not equal to its string.
    assert hg.device("cpu") != "cpu"


def test_bad_device_strings_name_the_valid_types():
    with pytest.raises(RuntimeError, match="device type at start of device string: gpu"):
        hg.device("gpu")
    with pytest.raises(RuntimeError, match="Invalid device string"):
        hg.device("cuda:x")


def test_cuda_requests_raise_the_cpu_builds_assertion():
    for make in (lambda: hg.zeros(2, device="cuda"), lambda: hg.ones(1).cuda(),
                 lambda: hg.ones(1).to("cuda:0"), lambda: hg.nn.Linear(2, 2).cuda(),
                 lambda: hg.tensor([1.0], device=hg.device("cuda"))):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            make()
    with pytest.raises(RuntimeError, match="no 'mps' backend"):
        hg.zeros(1, device="mps")


def test_tensor_device_attributes():
    x = hg.zeros(2)
    assert x.device == hg.device("cpu")
    assert x.device.type == "cpu"
    assert not x.is_cuda and x.is_cpu and x.get_device() == -1
    assert x.cpu() is x


def test_to_in_all_its_forms():
    x = hg.tensor([1.5, 2.5])
    assert x.to("cpu") is x and x.to(hg.device("cpu")) is x and x.to(hg.float32) is x
    assert x.to(hg.float64).dtype == np.float64
    assert x.to("cpu", hg.float64).dtype == np.float64
    assert x.to(device="cpu", dtype=hg.int64).tolist() == [1, 2]
    assert x.to(hg.zeros(1, dtype=hg.float64)).dtype == np.float64
    assert x.to("cpu", non_blocking=True) is x
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied._array is not x._array
    assert x.to(memory_format=None) is x
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(devise="cpu")


def test_to_a_dtype_is_differentiable():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    (w.to(hg.float64) * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0] and w.grad.dtype == np.float32


def test_size_is_a_tuple_with_numel():
    x = hg.zeros(2, 3)
    assert isinstance(x.shape, hg.Size) and isinstance(x.size(), hg.Size)
    assert x.shape == (2, 3) and x.size(1) == 3 and x.shape.numel() == 6
    assert hg.Size([4]) + (5,) == (4, 5) and isinstance(hg.Size([4]) + (5,), hg.Size)


@pytest.mark.parametrize("make", [
    lambda **k: hg.zeros(2, 3, **k), lambda **k: hg.ones((2, 3), **k),
    lambda **k: hg.empty(2, 3, **k), lambda **k: hg.full((2, 3), 1.5, **k),
    lambda **k: hg.rand(2, 3, **k), lambda **k: hg.randn(2, 3, **k),
    lambda **k: hg.arange(6.0, **k).reshape(2, 3), lambda **k: hg.eye(2, 3, **k),
    lambda **k: hg.linspace(0, 1, 6, **k).reshape(2, 3),
    lambda **k: hg.zeros_like(hg.ones(2, 3), **k), lambda **k: hg.ones_like(hg.ones(2, 3), **k),
    lambda **k: hg.full_like(hg.ones(2, 3), 2.0, **k), lambda **k: hg.rand_like(hg.ones(2, 3), **k),
    lambda **k: hg.randn_like(hg.ones(2, 3), **k),
    lambda **k: hg.tensor([[1.0] * 3] * 2, **k),
])
def test_factories_take_device_and_requires_grad(make):
    out = make(device="cpu", requires_grad=True)
    assert out.shape == (2, 3) and out.requires_grad
    with pytest.raises(AssertionError):
        make(device="cuda")


def test_randint_reads_pytorchs_two_forms():
    hg.manual_seed(0)
    high_only = hg.randint(3, (1000,))
    assert high_only.shape == (1000,) and set(high_only.tolist()) == {0, 1, 2}
    bounded = hg.randint(5, 8, (1000,))
    assert set(bounded.tolist()) == {5, 6, 7}
    assert hg.randint(2, size=(3, 4)).shape == (3, 4)
    assert hg.randint(low=1, high=2, size=(2,)).tolist() == [1, 1]
    assert hg.randint(0, 10, (2,), dtype=hg.float32).dtype == np.float32
    with pytest.raises(RuntimeError, match="less than"):
        hg.randint(5, 5, (1,))


def test_generator_streams_are_independent_and_reproducible():
    first = hg.rand(3, generator=hg.Generator().manual_seed(7)).tolist()
    hg.manual_seed(123)
    assert hg.rand(3, generator=hg.Generator().manual_seed(7)).tolist() == first
    assert hg.randperm(5, generator=hg.Generator().manual_seed(1)).tolist() == \
        hg.randperm(5, generator=hg.Generator().manual_seed(1)).tolist()
    generator = hg.Generator().manual_seed(2)
    state = generator.get_state()
    a = hg.randn(4, generator=generator).tolist()
    generator.set_state(state)
    assert hg.randn(4, generator=generator).tolist() == a
    # NumPy's methods are answered too (data pipelines draw from it directly).
    assert sorted(generator.permutation(3).tolist()) == [0, 1, 2]


def test_rng_state_round_trip_and_initial_seed():
    hg.manual_seed(11)
    assert hg.initial_seed() == 11
    state = hg.get_rng_state()
    a = hg.rand(3).tolist()
    hg.set_rng_state(state)
    assert hg.rand(3).tolist() == a


def test_out_argument_of_factories_writes_in_place():
    out = hg.zeros(3)
    alias = out.data
    result = hg.arange(3, out=out)
    assert result is out and alias.tolist() == [0.0, 1.0, 2.0]


def test_tensor_from_a_list_of_scalar_tensors():
    assert hg.tensor([hg.tensor(1.0), hg.tensor(2.0)]).tolist() == [1.0, 2.0]
