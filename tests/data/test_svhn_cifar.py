"""SVHN .mat files and the CIFAR-10 tarball (with the restricted unpickler)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from historyad.data import load
from historyad.data.cifar import RestrictedUnpickler, restricted_loads
from tests.data.writers import cifar_pickle, write_cifar_tarball


def _write_svhn(path: Path, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = ((np.arange(n) % 10) + 1).astype(np.uint8).reshape(-1, 1)  # 1..10, 10 = digit 0
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"X": X, "y": y})
    return X, y


def test_svhn_loads_and_maps_label_10_to_0(tmp_path: Path):
    X, _ = _write_svhn(tmp_path / "svhn" / "train_32x32.mat", 12)
    _write_svhn(tmp_path / "svhn" / "test_32x32.mat", 5, seed=1)
    ds = load("svhn", root=tmp_path, verify=False)
    assert ds.X.shape == (17, 3, 32, 32) and ds.is_train.sum() == 12
    assert ds.y[9] == 0 and ds.y[0] == 1 and set(ds.y[:12]) <= set(range(10))
    # channel-first layout: pixel (r, c) of channel k of image i
    np.testing.assert_allclose(ds.X[3, 2, 5, 7], X[5, 7, 2, 3] / 127.5 - 1, atol=1e-6)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"X": np.zeros((32, 32, 3, 2), np.uint8)}, "needs variables 'X' and 'y'"),
        ({"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1))}, "allowed is"),
        ({"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1))}, "must agree"),
        ({"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [11]])}, "1..10"),
        ({"X": np.zeros((32, 32, 3, 2), np.float64), "y": np.ones((2, 1))}, "uint8"),
    ],
)
def test_svhn_malformed(tmp_path: Path, content: dict, message: str):
    path = tmp_path / "svhn" / "test_32x32.mat"
    path.parent.mkdir()
    scipy.io.savemat(path, content)
    with pytest.raises(ValueError, match=message):
        load("svhn", root=tmp_path, split="test", verify=False)


def test_svhn_corrupt_file(tmp_path: Path):
    path = tmp_path / "svhn" / "test_32x32.mat"
    path.parent.mkdir()
    path.write_bytes(b"MATLAB 5.0 but then garbage" * 3)
    with pytest.raises(ValueError, match=r"test_32x32.mat"):
        load("svhn", root=tmp_path, split="test", verify=False)


def test_cifar_tarball(tmp_path: Path):
    batches = write_cifar_tarball(tmp_path / "cifar10" / "cifar-10-python.tar.gz")
    ds = load("cifar10", root=tmp_path, verify=False)
    assert ds.X.shape == (24, 3, 32, 32) and ds.is_train.sum() == 20
    assert ds.classes[0] == "airplane" and ds.classes[-1] == "truck"
    data, labels = batches["data_batch_2"]
    np.testing.assert_array_equal(ds.y[4:8], labels)
    np.testing.assert_allclose(ds.X[4], data[0].reshape(3, 32, 32) / 127.5 - 1, atol=1e-6)
    test = load("cifar10", root=tmp_path, split="test", verify=False)
    np.testing.assert_array_equal(test.y, batches["test_batch"][1])


def test_cifar_accepts_numpy2_module_name():
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    out = restricted_loads(cifar_pickle({b"data": arr}, py2_names=False), source="x")
    np.testing.assert_array_equal(out["data"], arr)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "obj",
    [
        _Evil(),
        {b"data": np.array([Path("x")], dtype=object)},
        {b"a": __import__("collections").OrderedDict()},
    ],
)
def test_restricted_unpickler_refuses_other_globals(obj: object):
    payload = pickle.dumps(obj, protocol=3)
    with pytest.raises(ValueError, match="refused"):
        restricted_loads(payload, source="evil")
    assert issubclass(RestrictedUnpickler, pickle.Unpickler)


def test_cifar_evil_member_is_refused(tmp_path: Path):
    path = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    write_cifar_tarball(path, members={"data_batch_3": pickle.dumps(_Evil(), protocol=2)})
    with pytest.raises(ValueError, match=r"data_batch_3.*refused"):
        load("cifar10", root=tmp_path, verify=False)


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (cifar_pickle({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "3072"),
        (cifar_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "must agree"),
        (cifar_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}), "0..9"),
        (cifar_pickle({b"labels": [0]}), "needs keys"),
        (cifar_pickle([1, 2]), "expected a dict"),
        (b"\x80\x03garbage", "not a valid CIFAR pickle"),
    ],
)
def test_cifar_malformed_batches(tmp_path: Path, member: bytes, message: str):
    path = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    write_cifar_tarball(path, members={"test_batch": member})
    with pytest.raises(ValueError, match=message):
        load("cifar10", root=tmp_path, split="test", verify=False)


def test_cifar_not_a_tarball(tmp_path: Path):
    path = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    path.parent.mkdir()
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ValueError, match=r"cifar-10-python.tar.gz"):
        load("cifar10", root=tmp_path, verify=False)
