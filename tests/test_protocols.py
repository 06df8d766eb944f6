"""Evaluation protocols: no anomaly in training, exact sizes, determinism by seed."""

from __future__ import annotations

import numpy as np
import pytest

from historyad.data import Dataset
from historyad.protocols import (
    Split,
    corrupted,
    cross_dataset,
    leave_one_class_out,
    one_class,
    standardize,
    windows,
)


def _images(n_train: int = 300, n_test: int = 100, n_classes: int = 5, seed: int = 0) -> Dataset:
    """Images whose pixel [0, 0, 0] encodes the sample id, so splits can be traced."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    X = rng.uniform(-1, 1, size=(n, 1, 4, 4)).astype(np.float32)
    X[:, 0, 0, 0] = np.arange(n)
    y = rng.integers(0, n_classes, size=n)
    is_train = np.arange(n) < n_train
    return Dataset("toy", X, y, [f"c{k}" for k in range(n_classes)], is_train, "image")


def _ids(X: np.ndarray) -> np.ndarray:
    return X[:, 0, 0, 0].astype(int)


# ----------------------------------------------------------------------------- leave one out


def test_leave_one_class_out_sizes_and_purity():
    ds = _images()
    s = leave_one_class_out(ds, 2)
    n_normal = int((ds.y != 2).sum())
    n_anom = int((ds.y == 2).sum())
    n_train = round(0.8 * n_normal)
    assert isinstance(s, Split)
    assert len(s.X_train) == n_train
    assert len(s.X_test) == n_normal - n_train + n_anom
    assert s.y_test.sum() == n_anom  # EVERY anomalous sample is in the test set
    train_ids, test_ids = _ids(s.X_train), _ids(s.X_test)
    assert (ds.y[train_ids] != 2).all()  # no anomaly in training
    np.testing.assert_array_equal(ds.y[test_ids] == 2, s.y_test == 1)
    assert not set(train_ids) & set(test_ids)
    assert set(train_ids) | set(test_ids) == set(range(len(ds)))  # train + test pooled
    assert s.meta["anomaly_class"] == 2 and s.meta["n_test_anomaly"] == n_anom
    assert s.meta["anomaly_class_name"] == "c2" and s.name == "toy/leave-out-c2"
    assert leave_one_class_out(ds, "c2").meta["anomaly_class"] == 2


def test_leave_one_class_out_seeds():
    ds = _images()
    a, b, c = (leave_one_class_out(ds, 0, seed=k) for k in (0, 0, 1))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert set(_ids(a.X_train)) != set(_ids(c.X_train))


def test_leave_one_class_out_caps():
    ds = _images()
    full = leave_one_class_out(ds, 1)
    s = leave_one_class_out(ds, 1, max_train=50, max_test=40)
    assert len(s.X_train) == 50 and len(s.X_test) == 40
    frac = full.y_test.mean()
    assert s.y_test.sum() == round(40 * frac)
    np.testing.assert_array_equal(s.X_train, full.X_train[:50])
    assert set(_ids(s.X_test)) <= set(_ids(full.X_test))
    again = leave_one_class_out(ds, 1, max_train=50, max_test=40)
    np.testing.assert_array_equal(s.X_test, again.X_test)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"anomaly_class": 7}, r"anomaly_class=7 is not allowed; 'toy' has classes 0\.\.4"),
        ({"anomaly_class": "zz"}, "anomaly_class='zz' is not a class"),
        ({"anomaly_class": 0, "train_fraction": 1.0}, "train_fraction=1.0"),
        ({"anomaly_class": 0, "max_test": 0}, "max_test=0"),
    ],
)
def test_leave_one_class_out_errors(kwargs: dict, message: str):
    with pytest.raises(ValueError, match=message):
        leave_one_class_out(_images(), **kwargs)


# ----------------------------------------------------------------------------- one class


def test_one_class():
    ds = _images()
    s = one_class(ds, 3, seed=5)
    train_ids, test_ids = _ids(s.X_train), _ids(s.X_test)
    assert sorted(train_ids) == list(np.flatnonzero(ds.is_train & (ds.y == 3)))
    assert sorted(test_ids) == list(range(300, 400))  # every test sample
    np.testing.assert_array_equal(s.y_test, (ds.y[test_ids] != 3).astype(int))
    assert s.meta["normal_class"] == 3
    np.testing.assert_array_equal(one_class(ds, 3, seed=5).X_test, s.X_test)
    assert not np.array_equal(one_class(ds, 3, seed=6).X_train, s.X_train)
    with pytest.raises(ValueError, match="no test samples"):
        one_class(ds.split("train"), 3)


# ----------------------------------------------------------------------------- cross dataset


def test_cross_dataset():
    normal = _images(200, 50)
    other = _images(0, 30, seed=9)
    other.X[:, 0, 0, 0] += 1000
    s = cross_dataset(normal, other)
    assert len(s.X_train) == 200 and len(s.X_test) == 80 and s.y_test.sum() == 30
    ids = _ids(s.X_test)
    np.testing.assert_array_equal(ids >= 1000, s.y_test == 1)
    assert (_ids(s.X_train) < 200).all()
    assert s.meta["other_split"] == "test" and s.name == "toy-vs-toy"
    capped = cross_dataset(normal, other, max_test=16, seed=1)
    assert len(capped.X_test) == 16 and capped.y_test.sum() == 6  # 30/80 of 16 = 6
    with pytest.raises(ValueError, match="sample shapes differ"):
        cross_dataset(normal, Dataset("o", np.zeros((2, 1, 5, 5)), [0, 0], ["a"], [0, 0], "image"))
    with pytest.raises(ValueError, match="needs both splits"):
        cross_dataset(normal.split("train"), other)
    all_train = Dataset("o", other.X, other.y, other.classes, np.ones(30, bool), "image")
    assert cross_dataset(normal, all_train).meta["other_split"] == "all"


# ----------------------------------------------------------------------------- windows


def test_windows_protocol():
    rng = np.random.default_rng(0)
    rec = rng.normal(5.0, 2.0, size=(400, 3))
    labels = np.zeros(400, dtype=int)
    labels[50:55] = 1  # in the training part: windows touching it are dropped
    labels[300:310] = 1
    s = windows(rec, labels, window=20, stride=10)
    # first part: 200 steps, starts 0..180 → 19 windows; starts 40, 50 touch 50..54 → dropped
    assert len(s.X_train) == 19 - 2 and s.meta["n_train_dropped"] == 2
    assert s.X_test.shape == (19, 3, 20)
    # test window k spans 200 + 10k .. 219 + 10k; anomalous steps 300..309 → k = 9, 10
    np.testing.assert_array_equal(np.flatnonzero(s.y_test), [9, 10])
    clean = rec[:200][labels[:200] == 0]
    np.testing.assert_allclose(s.meta["mean"], clean.mean(0))
    np.testing.assert_allclose(
        s.X_test[0, :, 0], (rec[200] - clean.mean(0)) / clean.std(0), rtol=1e-5
    )
    with pytest.raises(ValueError, match="train_fraction=0"):
        windows(rec, labels, window=20, stride=10, train_fraction=0)
    with pytest.raises(ValueError, match=r"labels has shape \(3,\)"):
        windows(rec, labels[:3], window=20, stride=10)


def test_windows_without_test_anomaly_warns(caplog: pytest.LogCaptureFixture):
    rec = np.random.default_rng(0).normal(size=(100, 2))
    s = windows(rec, np.zeros(100, int), window=10, stride=5)
    assert s.y_test.sum() == 0 and "no anomalous window" in caplog.text


# ----------------------------------------------------------------------------- corrupted


def test_corrupted():
    X = np.random.default_rng(0).uniform(-1, 1, (10, 1, 4, 4)).astype(np.float32)
    s = corrupted(X, sigma=0.5, seed=3)
    assert s.X_test.shape == (20, 1, 4, 4) and s.X_train.shape == (0, 1, 4, 4)
    np.testing.assert_array_equal(s.y_test, [0] * 10 + [1] * 10)
    np.testing.assert_array_equal(s.X_test[:10], X)
    assert s.X_test.min() >= -1 and s.X_test.max() <= 1
    assert not np.allclose(s.X_test[10:], X)
    np.testing.assert_array_equal(corrupted(X, sigma=0.5, seed=3).X_test, s.X_test)
    assert not np.array_equal(corrupted(X, sigma=0.5, seed=4).X_test, s.X_test)
    assert corrupted(X, sigma=3.0, clip=False).X_test.max() > 1
    assert len(corrupted(X, sigma=0.1, X_train=X[:4]).X_train) == 4
    with pytest.raises(ValueError, match="sigma=0"):
        corrupted(X, sigma=0)


# ----------------------------------------------------------------------------- standardize


def test_standardize_uses_train_statistics_only():
    rng = np.random.default_rng(0)
    tr = rng.normal(3.0, 2.0, size=(500, 2, 30))
    te = rng.normal(10.0, 1.0, size=(50, 2, 30))
    a, b = standardize(tr, te)
    assert a.dtype == np.float32 and a.shape == tr.shape and b.shape == te.shape
    np.testing.assert_allclose(a.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(a.std(axis=(0, 2)), 1, atol=1e-4)
    np.testing.assert_allclose(b, (te - tr.mean(axis=(0, 2), keepdims=True))
                               / tr.std(axis=(0, 2), keepdims=True), rtol=1e-5)  # fmt: skip
    t1, t2 = standardize(np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]]))
    np.testing.assert_allclose(t1, [[-1, 0], [1, 0]])  # constant column only centred
    np.testing.assert_allclose(t2, [[0, 1]])
    with pytest.raises(ValueError, match="share the sample shape"):
        standardize(np.zeros((3, 2)), np.zeros((3, 4)))


def test_split_validation():
    with pytest.raises(ValueError, match="allowed are 0 and 1"):
        Split(np.zeros((2, 3)), np.zeros((2, 3)), np.array([0, 2]), "x")
    with pytest.raises(ValueError, match="share the sample shape"):
        Split(np.zeros((2, 3)), np.zeros((2, 4)), np.array([0, 1]), "x")
