import hashlib
import subprocess
import sys
import threading

import numpy as np
import pytest

from hybridgrad.data import CaptchaDataset, DataLoader, Iris
from hybridgrad.data.encoding import CTCTextCodec, OneHotTextCodec
from hybridgrad.data.transforms import ToTensor


def _digest(image):
    return hashlib.sha256(image.tobytes()).hexdigest()


def test_captcha_same_seed_and_index_give_identical_bytes():
    a = CaptchaDataset(size=10, seed=3)
    b = CaptchaDataset(size=10, seed=3)
    image_a, text_a = a[4]
    b[7]  # a different access order must not matter
    image_b, text_b = b[4]
    assert text_a == text_b and image_a.tobytes() == image_b.tobytes()
    assert image_a.shape == (64, 160) and image_a.dtype == np.uint8
    assert len(text_a) == 4 and set(text_a) <= set(a.charset)
    assert image_a.std() > 10  # a real picture, not blank


def test_captcha_different_index_or_seed_gives_different_items():
    ds = CaptchaDataset(size=20, seed=0)
    texts = [ds.text(i) for i in range(20)]
    assert len(set(texts)) > 15
    assert ds[0][1] != ds[1][1] and ds[0][0].tobytes() != ds[1][0].tobytes()
    assert CaptchaDataset(size=1, seed=1)[0][1] != ds[0][1]


def test_captcha_identical_across_processes():
    ds = CaptchaDataset(size=3, seed=11)
    image, text = ds[2]
    code = ("import hashlib; from hybridgrad.data import CaptchaDataset; "
            "image, text = CaptchaDataset(size=3, seed=11)[2]; "
            "print(text, hashlib.sha256(image.tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == [text, _digest(image)]


def test_captcha_threads_are_deterministic():
    ds = CaptchaDataset(size=8, seed=2)
    expected = [_digest(ds[i][0]) for i in range(8)]
    results = {}

    def work(i):
        results[i] = _digest(ds[i][0])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(8)] == expected


def test_captcha_variable_length_and_codecs_in_a_loader():
    ds = CaptchaDataset(size=12, charset="0123456789", length=(2, 5), seed=0, height=32,
                        width=100, transform=ToTensor())
    lengths = {len(ds.text(i)) for i in range(12)}
    assert lengths <= {2, 3, 4, 5} and len(lengths) > 1
    images, texts = next(iter(DataLoader(ds, batch_size=4)))
    assert images.shape == (4, 1, 32, 100) and isinstance(texts, list)
    targets = CTCTextCodec("0123456789").encode_batch(texts)
    assert targets.lengths.tolist() == [len(t) for t in texts]
    fixed = CaptchaDataset(size=2, charset="0123456789", length=4,
                           target_transform=OneHotTextCodec("0123456789", max_len=4))
    assert fixed[0][1].shape == (40,) and fixed[0][1].sum() == 4


def test_captcha_errors():
    with pytest.raises(ValueError, match="length"):
        CaptchaDataset(length=(3, 2))
    with pytest.raises(IndexError, match="out of range"):
        CaptchaDataset(size=2)[2]


def test_iris():
    iris = Iris()
    features, label = iris[0]
    assert len(iris) == 150 and features.shape == (4,) and features.dtype == np.float32
    assert label == 0 and iris.targets.dtype == np.int64
    assert np.bincount(iris.targets._array).tolist() == [50, 50, 50]
    assert np.allclose(features, [5.1, 3.5, 1.4, 0.2])
    assert iris.classes == ["setosa", "versicolor", "virginica"]


def test_iris_without_sklearn_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"hybridgrad\[analysis\]"):
        Iris()
