"""The registry, the Dataset container and the in-memory datasets (digits, toys)."""

from __future__ import annotations

import numpy as np
import pytest

import historyad
from historyad.data import DATASETS, Dataset, available, load
from historyad.data.synthetic import ring_centres


def test_available_and_metadata():
    names = available()
    for name in ("mnist", "fashion-mnist", "kmnist", "svhn", "cifar10", "celeba",
                 "tiny-imagenet", "uci-har", "basicmotions", "daphnet", "digits", "toy-1d",
                 "ring-2d"):  # fmt: skip
        assert name in names
        assert DATASETS[name].name == name
    assert DATASETS["mnist"].downloadable and DATASETS["cifar10"].downloadable
    assert not DATASETS["uci-har"].downloadable and not DATASETS["daphnet"].downloadable
    assert DATASETS["uci-har"].kind == "series" and DATASETS["ring-2d"].kind == "table"
    assert "t10k-images-idx3-ubyte.gz" in DATASETS["kmnist"].files
    assert historyad.load is load


def test_unknown_name_split_and_params():
    with pytest.raises(ValueError, match=r"name='nope'.*choose one of \['mnist'"):
        load("nope")
    with pytest.raises(ValueError, match="split='val' is not allowed"):
        load("digits", split="val")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['windw'\].*'window'"):
        load("daphnet", windw=3)


def test_digits():
    ds = load("digits")
    assert ds.X.shape == (1797, 1, 8, 8) and ds.kind == "image"
    assert ds.X.min() == -1.0 and ds.X.max() == 1.0
    assert ds.is_train.sum() == sum(int(np.ceil(0.75 * (ds.y == k).sum())) for k in range(10))
    train = load("digits", split="train")
    assert len(train) == ds.is_train.sum() and train.is_train.all()
    np.testing.assert_array_equal(load("digits").X, ds.X)


def test_toy_1d():
    ds = load("toy-1d", size=5000, seed=3)
    assert ds.X.shape == (5000, 1) and ds.kind == "table" and ds.classes == ["normal"]
    assert abs(ds.X.mean()) < 0.05 and abs(ds.X.std() - 1) < 0.05
    np.testing.assert_array_equal(ds.X, load("toy-1d", size=5000, seed=3).X)
    assert not np.array_equal(ds.X, load("toy-1d", size=5000, seed=4).X)
    with pytest.raises(ValueError, match="split='test' is not available"):
        load("toy-1d", split="test")
    with pytest.raises(ValueError, match="size=0"):
        load("toy-1d", size=0)


def test_ring_2d():
    ds = load("ring-2d")
    assert ds.X.shape == (7000, 2) and len(ds.classes) == 7
    np.testing.assert_array_equal(np.bincount(ds.y), [1000] * 7)
    centres = ring_centres(7)
    np.testing.assert_allclose(centres[1], [np.cos(2 * np.pi / 7), np.sin(2 * np.pi / 7)])
    dist = np.linalg.norm(ds.X - centres[ds.y], axis=1)
    assert 0.11 < dist.mean() < 0.14  # Rayleigh mean 0.1·√(π/2) ≈ 0.125
    small = load("ring-2d", size=70, std=0.01, seed=1)
    assert np.linalg.norm(small.X - centres[small.y], axis=1).max() < 0.06
    np.testing.assert_array_equal(small.X, load("ring-2d", size=70, std=0.01, seed=1).X)
    with pytest.raises(ValueError, match="std=0"):
        load("ring-2d", std=0)


def test_dataset_validation():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="kind='video'"):
        Dataset("x", X, [0, 0, 0], ["a"], [True] * 3, "video")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs 4 dimensions"):
        Dataset("x", X, [0, 0, 0], ["a"], [True] * 3, "image")
    with pytest.raises(ValueError, match=r"must both have shape \(3,\)"):
        Dataset("x", X, [0, 0], ["a"], [True] * 3, "table")
    with pytest.raises(ValueError, match=r"labels y span 0\.\.1"):
        Dataset("x", X, [0, 1, 0], ["a"], [True] * 3, "table")
    ds = Dataset("x", X, [0, 1, 1], ["a", "b"], [True, False, True], "table")
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert len(ds.split("test")) == 1 and len(ds.split("train")) == 2 and ds.split(None) is ds
    assert len(ds.subset([0, 2])) == 2 and "n_train=2" in repr(ds)
