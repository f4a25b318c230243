"""hybridgrad.vision, torchvision's shape: MNIST in torchvision's layout, transforms, grids."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest
from PIL import Image

import hybridgrad as hg
from hybridgrad.vision import datasets, transforms, utils


def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28) % 256
    write_idx(raw / "train-images-idx3-ubyte.gz", images, compress=True)
    write_idx(raw / "train-labels-idx1-ubyte.gz", np.array([5, 0, 4]), compress=True)
    return tmp_path, images


def test_mnist_in_torchvisions_layout(mnist_root):
    root, images = mnist_root
    dataset = datasets.MNIST(str(root), train=True, download=True,
                             transform=transforms.Compose([transforms.ToTensor(),
                                                           transforms.Normalize((0.1307,),
                                                                                (0.3081,))]))
    assert len(dataset) == 3 and dataset.targets.tolist() == [5, 0, 4]
    assert dataset.data.dtype == np.uint8 and dataset.data.shape == (3, 28, 28)
    image, label = dataset[2]
    assert label == 4 and image.shape == (1, 28, 28)
    np.testing.assert_allclose(image.numpy()[0], (images[2] / 255 - 0.1307) / 0.3081,
                               rtol=1e-5)
    plain = datasets.MNIST(str(root))
    assert isinstance(plain[0][0], Image.Image) and plain[0][0].size == (28, 28)


def test_legacy_attributes_warn_as_torchvision_does(mnist_root):
    root, _ = mnist_root
    dataset = datasets.MNIST(str(root))
    with pytest.warns(UserWarning, match="train_data has been renamed data"):
        assert dataset.train_data is dataset.data
    with pytest.warns(UserWarning, match="train_labels has been renamed targets"):
        assert dataset.train_labels is dataset.targets
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dataset.targets.shape == (3,)


def test_nowhere_else_mnist_comes_from_the_package_and_fashion_mnist_is_named(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("HYBRIDGRAD_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match="Dataset not found.*FashionMNIST/raw"):
        datasets.FashionMNIST(str(tmp_path), download=True)
    # torchvision's download=True, offline: the MNIST packaged with hybridgrad.
    test = datasets.MNIST(str(tmp_path), train=False, download=True)
    assert len(test) == 10_000 and test.targets[0].item() == 7
    assert test.data.shape == (10_000, 28, 28) and not (tmp_path / "MNIST").exists()


def test_pil_transforms():
    image = Image.fromarray(np.arange(36, dtype=np.uint8).reshape(6, 6))
    assert transforms.Resize(3)(image).size == (3, 3)
    assert transforms.Resize((4, 2))(image).size == (2, 4)
    assert np.asarray(transforms.CenterCrop(2)(image)).tolist() == [[14, 15], [20, 21]]
    assert np.asarray(transforms.RandomHorizontalFlip(1.0)(image))[0, 0] == 5
    assert np.asarray(transforms.RandomVerticalFlip(1.0)(image))[0, 0] == 30
    padded = transforms.Pad(2, fill=9)(image)
    assert padded.size == (10, 10) and np.asarray(padded)[0, 0] == 9
    hg.manual_seed(0)
    crops = {tuple(np.asarray(transforms.RandomCrop(4, padding=1)(image)).ravel()[:2])
             for _ in range(20)}
    assert len(crops) > 1  # random positions
    rgb = Image.fromarray(np.full((2, 2, 3), 100, np.uint8))
    assert transforms.Grayscale(3)(rgb).mode == "RGB"
    assert np.asarray(transforms.Grayscale()(rgb)).tolist() == [[100, 100], [100, 100]]


def test_tensor_transforms_and_pil_round_trip():
    tensor = hg.arange(16.0).reshape(1, 4, 4) / 16
    assert transforms.CenterCrop(2)(tensor).tolist() == [[[5 / 16, 6 / 16], [9 / 16, 10 / 16]]]
    assert transforms.Resize(8)(tensor).shape == (1, 8, 8)
    picture = transforms.ToPILImage()(tensor)
    assert picture.size == (4, 4)
    back = transforms.ToTensor()(picture)
    np.testing.assert_allclose(back.numpy(), np.clip(tensor.numpy() * 255, 0, 255).astype(
        np.uint8) / 255, atol=1e-6)


def test_make_grid_layout_by_hand():
    batch = hg.stack([hg.full((1, 2, 2), float(i)) for i in range(3)])
    grid = utils.make_grid(batch, nrow=2, padding=1, pad_value=-1.0)
    # 2 columns, 2 rows of 2x2 tiles with 1 pixel of padding around each: 7 x 7, 3 channels.
    assert grid.shape == (3, 7, 7)
    expected = np.full((7, 7), -1.0)
    expected[1:3, 1:3], expected[1:3, 4:6], expected[4:6, 1:3] = 0, 1, 2
    np.testing.assert_array_equal(grid.numpy()[0], expected)
    normalized = utils.make_grid(batch, normalize=True, padding=0, nrow=3)
    assert normalized.numpy().min() == 0.0 and normalized.numpy().max() == 1.0


def test_save_image_writes_the_grid(tmp_path):
    path = tmp_path / "samples.png"
    utils.save_image(hg.stack([hg.zeros(1, 2, 2), hg.ones(1, 2, 2)]), str(path), nrow=2,
                     padding=0)
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (2, 4, 3)
    assert pixels[:, :2].max() == 0 and pixels[:, 2:].min() == 255


def test_download_falls_back_to_hybridgrads_own_copy(tmp_path, monkeypatch):
    # torchvision's download=True with no network: files under $HYBRIDGRAD_DATA/mnist serve
    # the program whose root holds nothing.
    own = tmp_path / "shared" / "mnist"
    own.mkdir(parents=True)
    write_idx(own / "t10k-images-idx3-ubyte", np.full((2, 28, 28), 7))
    write_idx(own / "t10k-labels-idx1-ubyte", np.array([1, 2]))
    monkeypatch.setenv("HYBRIDGRAD_DATA", str(tmp_path / "shared"))
    dataset = datasets.MNIST(str(tmp_path / "empty"), train=False, download=True)
    assert dataset.targets.tolist() == [1, 2] and int(dataset.data.numpy().max()) == 7
