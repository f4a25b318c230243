"""Captcha splits: deterministic, disjoint, cached as PNG + labels that read back exactly."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hybridgrad.data.captcha_cache import (
    SPLIT_SEEDS,
    CaptchaSpec,
    downsample,
    generate_split,
    load_split,
    read_folder,
)
from hybridgrad.training.captcha import prepare, resolve_config

SPEC = CaptchaSpec(charset="0123456789", length=(4, 6), height=32, width=64)


def test_same_seed_same_pixels_any_thread_count():
    a, texts_a = generate_split(SPEC, "train", 6, seed=3, workers=1)
    b, texts_b = generate_split(SPEC, "train", 6, seed=3, workers=3)
    assert texts_a == texts_b and np.array_equal(a, b)
    assert {len(t) for t in texts_a} <= {4, 5, 6}
    c, texts_c = generate_split(SPEC, "train", 6, seed=4, workers=1)
    assert texts_c != texts_a and not np.array_equal(a, c)


def test_splits_use_disjoint_seeds():
    seeds = sorted(SPLIT_SEEDS.values())
    assert all(b - a >= 1_000_000 for a, b in zip(seeds, seeds[1:]))
    train = generate_split(SPEC, "train", 4, workers=1)
    test = generate_split(SPEC, "test", 4, workers=1)
    assert train[1] != test[1] and not np.array_equal(train[0], test[0])
    with pytest.raises(ValueError, match="unknown split"):
        SPEC.dataset("dev", 1)


def test_cache_writes_png_and_labels_and_reads_back_the_same(tmp_path):
    images, texts = load_split(SPEC, "val", 5, seed=1, cache_dir=str(tmp_path))
    (folder,) = os.listdir(tmp_path)
    files = sorted(os.listdir(tmp_path / folder))
    assert files == [f"{i:06d}.png" for i in range(5)] + ["labels.tsv"]
    again, texts_again = load_split(SPEC, "val", 5, seed=1, cache_dir=str(tmp_path))
    assert texts_again == texts and np.array_equal(again, images)
    fresh, fresh_texts = generate_split(SPEC, "val", 5, seed=1, workers=1)
    assert fresh_texts == texts and np.array_equal(fresh, images)
    # A different spec gets its own folder.
    load_split(CaptchaSpec(charset="0123456789", length=(4, 4), height=32, width=64), "val", 5,
               seed=1, cache_dir=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 2


def test_read_folder_rejects_a_bad_labels_file(tmp_path):
    (tmp_path / "labels.tsv").write_text("000000.png\n")
    with pytest.raises(ValueError, match="line 1"):
        read_folder(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="labels.tsv"):
        read_folder(str(tmp_path / "missing"))


def test_parse_length():
    assert CaptchaSpec.parse_length("4-6") == (4, 6)
    assert CaptchaSpec.parse_length(5) == (5, 5)
    for bad in ("6-4", "0", "a-b", "1-2-3"):
        with pytest.raises(ValueError, match="length"):
            CaptchaSpec.parse_length(bad)


def test_downsample_and_prepare():
    image = np.arange(4 * 6, dtype=np.uint8).reshape(1, 4, 6)
    assert np.array_equal(downsample(image, 2)[0],
                          image[0].reshape(2, 2, 3, 2).mean(axis=(1, 3)))
    with pytest.raises(ValueError, match="divisible"):
        downsample(image, 4)
    config = resolve_config({"height": 4, "width": 8, "downsample": 2})
    batch = prepare(np.array([[[0] * 8] * 4, [[255] * 8] * 4], np.uint8), config)
    assert batch.shape == (2, 1, 2, 4)
    assert batch._array.min() == -1.0 and batch._array.max() == 1.0


def test_on_the_fly_batches_are_the_split_reshuffled_and_repeatable():
    from hybridgrad.training.captcha import _batches

    config = resolve_config({"height": 32, "width": 64, "charset": "0123456789",
                             "length": "4-6", "train_size": 6, "batch_size": 3,
                             "cache": False, "workers": 2})
    first = list(_batches(config, None, epoch=0, steps=2))
    again = list(_batches(config, None, epoch=0, steps=2))
    assert [t for _, t in first] == [t for _, t in again]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, again))
    images, texts = generate_split(SPEC, "train", 6, workers=1)
    drawn = {text: image for batch, batch_texts in first
             for image, text in zip(batch, batch_texts)}
    assert sorted(drawn) == sorted(texts)
    for image, text in zip(images, texts):
        assert np.array_equal(drawn[text], image)
