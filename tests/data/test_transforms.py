import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.data.transforms import (
    Compose,
    Lambda,
    Normalize,
    NormalizeToRange,
    RandomAffine,
    ToTensor,
    affine,
)


def test_to_tensor_grayscale_and_color():
    gray = np.array([[0, 51], [102, 255]], dtype=np.uint8)
    out = ToTensor()(gray)
    assert out.shape == (1, 2, 2) and out.dtype == np.float32
    assert np.allclose(out._array[0], [[0, 0.2], [0.4, 1.0]])
    color = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)  # H x W x C
    out = ToTensor()(color)
    assert out.shape == (3, 2, 4)
    assert out._array[2, 1, 3] == np.float32(color[1, 3, 2]) / 255
    floats = ToTensor()(np.full((2, 2), 3.5))
    assert floats.dtype == np.float32 and floats._array.max() == 3.5  # not rescaled
    with pytest.raises(ValueError, match="H x W"):
        ToTensor()(np.zeros(3, np.uint8))


def test_to_tensor_accepts_pil():
    from PIL import Image

    image = Image.fromarray(np.array([[0, 255]], dtype=np.uint8))
    assert ToTensor()(image).tolist() == [[[0.0, 1.0]]]


def test_normalize_per_channel_matches_formula():
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 4, 5)).astype(np.float32)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = Normalize(mean, std)(hg.tensor(x))
    expected = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[
        :, None, None]
    assert out.dtype == np.float32 and np.allclose(out._array, expected, atol=1e-6)
    normalized = Normalize(x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3)))(hg.tensor(x))._array
    assert np.allclose(normalized.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    assert np.allclose(normalized.std(axis=(0, 2, 3)), 1, atol=1e-4)
    with pytest.raises(ValueError, match="3 values but the tensor has 2 channels"):
        Normalize(mean, std)(hg.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="division by zero"):
        Normalize(0.5, 0.0)


def test_normalize_to_range_is_normalize_half_half():
    x = hg.tensor(np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 3, 4))
    a, b = NormalizeToRange(-1, 1)(x)._array, Normalize(0.5, 0.5)(x)._array
    assert np.allclose(a, b) and a.min() == -1.0 and a.max() == 1.0
    assert np.allclose(NormalizeToRange(0, 255)(x)._array, x._array * 255, atol=1e-4)
    pipeline = Compose([ToTensor(), NormalizeToRange(-1, 1)])
    out = pipeline(np.array([[0, 255, 128]], dtype=np.uint8))._array
    assert out[0, 0, 0] == -1 and out[0, 0, 1] == 1 and abs(out[0, 0, 2] - (2 * 128 / 255 - 1)) \
        < 1e-6


def test_compose_and_lambda():
    pipeline = Compose([Lambda(lambda x: x * 2), Lambda(lambda x: x + 1)])
    assert pipeline(3) == 7 and "Lambda" in repr(pipeline)
    with pytest.raises(TypeError, match="callable"):
        Lambda(3)


def test_affine_rotations_match_rot90():
    image = np.arange(36, dtype=np.uint8).reshape(6, 6)
    assert np.array_equal(affine(image, 90), np.rot90(image))
    assert np.array_equal(affine(image, -90), np.rot90(image, -1))
    assert np.array_equal(affine(image, 180, interpolation="bilinear"), np.rot90(image, 2))
    color = np.arange(75, dtype=np.uint8).reshape(5, 5, 3)
    assert np.array_equal(affine(color, 90), np.rot90(color))


def test_affine_translation_is_a_zero_filled_shift():
    image = np.arange(1, 21, dtype=np.uint8).reshape(4, 5)
    shifted = affine(image, 0, translate=(2, 1))  # right by 2, down by 1
    expected = np.zeros_like(image)
    expected[1:, 2:] = image[:-1, :-2]
    assert np.array_equal(shifted, expected)


def test_affine_bilinear_half_pixel_shift_averages_neighbours():
    image = np.array([[0.0, 10.0, 20.0, 30.0]])
    shifted = affine(image, 0, translate=(0.5, 0), interpolation="bilinear")
    assert np.allclose(shifted[0, 1:], [5.0, 15.0, 25.0])


def test_random_affine_is_deterministic_with_a_seed_and_handles_tensors():
    rng = np.random.default_rng(0)
    image = (rng.random((28, 28)) * 255).astype(np.uint8)
    a = RandomAffine(degrees=10, translate=(0.1, 0.1), generator=5)
    b = RandomAffine(degrees=10, translate=(0.1, 0.1), generator=5)
    outs_a, outs_b = [a(image) for _ in range(3)], [b(image) for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(outs_a, outs_b))
    assert not np.array_equal(outs_a[0], outs_a[1])
    assert outs_a[0].dtype == np.uint8 and outs_a[0].shape == (28, 28)
    angle, (dx, dy), zoom = RandomAffine(degrees=(5, 6), translate=(0.1, 0.2),
                                         generator=0).get_params(28, 28)
    assert 5 <= angle <= 6 and abs(dx) <= 2.8 and abs(dy) <= 5.6 and zoom == 1.0
    tensor = ToTensor()(image)
    moved = RandomAffine(degrees=0, translate=(0.1, 0.1), generator=1)(tensor)
    assert isinstance(moved, hg.Tensor) and moved.shape == (1, 28, 28)


def test_random_affine_identity_and_errors():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert np.array_equal(RandomAffine(degrees=0, generator=0)(image), image)
    with pytest.raises(ValueError, match="translate"):
        RandomAffine(degrees=0, translate=(2, 0))
    with pytest.raises(ValueError, match="non-negative"):
        RandomAffine(degrees=-5)
