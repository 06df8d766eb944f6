"""Counts and shapes on the real files of the shared data folder (skipped when it is absent)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from historyad.data import Dataset, load, load_daphnet_recording
from historyad.protocols import cross_dataset, leave_one_class_out, one_class, windows

_TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def mnist(shared_data: Path) -> Dataset:
    start = time.perf_counter()
    ds = load("mnist", root=shared_data)  # verifies the four SHA-256 sums
    _TIMES["mnist"] = time.perf_counter() - start
    return ds


def test_mnist(mnist: Dataset):
    ds, elapsed = mnist, _TIMES["mnist"]
    assert ds.X.shape == (70000, 1, 28, 28) and ds.X.dtype == np.float32
    assert ds.is_train.sum() == 60000 and (~ds.is_train).sum() == 10000
    assert ds.X.min() == -1.0 and ds.X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(ds.y[~ds.is_train])[:2], [980, 1135])
    assert elapsed < 10  # ~1 s alone; generous for a shared CPU


def test_kmnist_test_split_and_missing_train(shared_data: Path):
    ds = load("kmnist", root=shared_data, split="test")
    assert ds.X.shape == (10000, 1, 28, 28) and not ds.is_train.any()
    np.testing.assert_array_equal(np.bincount(ds.y), [1000] * 10)
    for split in (None, "train"):
        with pytest.raises(FileNotFoundError, match="KMNIST train images are missing"):
            load("kmnist", root=shared_data, split=split)


def test_basicmotions(shared_data: Path):
    ds = load("basicmotions", root=shared_data)
    assert ds.X.shape == (80, 6, 100) and ds.kind == "series"
    assert ds.is_train.sum() == 40
    assert ds.classes == ["Standing", "Running", "Walking", "Badminton"]
    np.testing.assert_array_equal(np.bincount(ds.y[ds.is_train]), [10] * 4)
    assert np.isfinite(ds.X).all()


def test_daphnet(shared_data: Path):
    rec = load_daphnet_recording(root=shared_data)
    assert rec.X.shape == (7040, 9) and rec.labels.shape == (7040,)
    assert rec.channels[-1] == "trunk_horiz_lateral"
    ds = load("daphnet", root=shared_data, window=64, stride=32)
    half = 3520
    n_half = (half - 64) // 32 + 1
    assert ds.X.shape == (2 * n_half, 9, 64) and ds.is_train.sum() == n_half
    np.testing.assert_array_equal(ds.X[1], rec.X[32:96].T)
    # This copy of S06R02E0 holds no freezing-of-gait step (is_anomaly is 0 throughout).
    assert rec.labels.sum() == ds.y.sum() == 0


def test_mnist_protocols(mnist: Dataset, shared_data: Path):
    s = leave_one_class_out(mnist, 0)
    n_anomaly = 5923 + 980  # digit 0 in train + test
    n_normal = 70000 - n_anomaly
    assert len(s.X_train) == round(0.8 * n_normal) == 50478
    assert len(s.X_test) == n_normal - 50478 + n_anomaly and s.y_test.sum() == n_anomaly
    s = one_class(mnist, 1, max_test=1000)
    assert len(s.X_train) == 6742 and len(s.X_test) == 1000
    assert s.y_test.sum() == round(1000 * (10000 - 1135) / 10000)
    kmnist = load("kmnist", root=shared_data, split="test")
    s = cross_dataset(mnist, kmnist)
    assert len(s.X_train) == 60000 and len(s.X_test) == 20000 and s.y_test.sum() == 10000


def test_daphnet_windows_protocol(shared_data: Path):
    rec = load_daphnet_recording(root=shared_data)
    s = windows(rec.X, rec.labels, window=64, stride=32)
    assert s.X_train.shape == (109, 9, 64) and s.X_test.shape == (109, 9, 64)
    assert abs(float(s.X_train.mean())) < 0.1
