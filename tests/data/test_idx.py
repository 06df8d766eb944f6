"""IDX parsing, the MNIST-family loaders and the fetch layer (offline, pooch monkeypatched)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from historyad.data import fetch as fetch_mod
from historyad.data import load, read_idx, write_idx
from tests.data.writers import IDX_NAMES, write_mnist_dir

_DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])


@settings(max_examples=40, deadline=None)
@given(
    arr=_DTYPES.flatmap(
        lambda dt: hnp.arrays(
            dt,
            hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
            elements=hnp.from_dtype(np.dtype(dt), allow_nan=False),
        )
    ),
    gz=st.booleans(),
)
def test_idx_round_trip(tmp_path_factory: pytest.TempPathFactory, arr: np.ndarray, gz: bool):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == arr.dtype.newbyteorder("=")
    assert back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


def test_idx_magic_numbers(tmp_path: Path):
    write_idx(tmp_path / "img.gz", np.zeros((2, 3, 4), np.uint8))
    write_idx(tmp_path / "lab.gz", np.zeros(2, np.uint8))
    assert read_idx(tmp_path / "img.gz", magic=2051).shape == (2, 3, 4)
    assert read_idx(tmp_path / "lab.gz", magic=2049).shape == (2,)
    with pytest.raises(ValueError, match=r"lab\.gz.*magic number is 2049; expected 2051"):
        read_idx(tmp_path / "lab.gz", magic=2051)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x07", "bad IDX magic"),
        (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x07", "bad IDX magic"),
        (b"\x00\x00\x08\x00", "bad IDX magic"),
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02", "truncated header"),
        (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05" + b"\x01\x02", "truncated"),
        (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x01\x02", "trailing bytes"),
    ],
)
def test_idx_malformed(tmp_path: Path, payload: bytes, message: str):
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(ValueError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_idx_truncated_gzip_stream(tmp_path: Path):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(5000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match=r"x\.gz"):
        read_idx(path)


def test_load_mnist_layout_and_scaling(tmp_path: Path):
    raw = write_mnist_dir(tmp_path / "mnist")
    ds = load("mnist", root=tmp_path, verify=False)
    assert ds.kind == "image" and ds.name == "mnist"
    assert ds.X.shape == (18, 1, 28, 28) and ds.X.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.is_train.dtype == bool
    assert ds.is_train.sum() == 12 and (~ds.is_train).sum() == 6
    assert ds.X.min() == -1.0 and ds.X.max() == 1.0
    np.testing.assert_allclose(ds.X[:12, 0], raw["train"][0] / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(ds.y[12:], raw["test"][1])
    assert ds.classes == [str(d) for d in range(10)]
    test = load("mnist", root=tmp_path, split="test", verify=False)
    assert len(test) == 6 and not test.is_train.any()


def test_load_uses_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_mnist_dir(tmp_path / "fashion-mnist", splits=("test",))
    monkeypatch.setenv("HISTORYAD_DATA", str(tmp_path))
    ds = load("fashion-mnist", split="test", verify=False)
    assert len(ds) == 6 and ds.classes[0] == "T-shirt/top"


def test_missing_file_error_names_path_env_and_download(tmp_path: Path):
    with pytest.raises(FileNotFoundError) as err:
        load("mnist", root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert "HISTORYAD_DATA" in msg and "download=True" in msg


def test_known_hash_mismatch_is_an_error(tmp_path: Path):
    write_mnist_dir(tmp_path / "mnist")
    with pytest.raises(ValueError, match=r"SHA-256 .* does not match the canonical"):
        load("mnist", root=tmp_path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        ("labels_count", "images but 3 labels"),
        ("labels_range", r"labels span 0\.\.10; allowed are 0\.\.9"),
        ("swap", "magic number is 2049; expected 2051"),
    ],
)
def test_mnist_inconsistent_files(tmp_path: Path, mutate: str, message: str):
    directory = tmp_path / "mnist"
    write_mnist_dir(directory)
    img, lab = IDX_NAMES["train"]
    if mutate == "labels_count":
        write_idx(directory / lab, np.zeros(3, np.uint8))
    elif mutate == "labels_range":
        write_idx(directory / lab, np.full(12, 10, np.uint8) * (np.arange(12) % 2).astype(np.uint8))
    else:
        (directory / img).write_bytes((directory / lab).read_bytes())
    with pytest.raises(ValueError, match=message):
        load("mnist", root=tmp_path, verify=False)


def test_kmnist_npz_and_missing_train(tmp_path: Path):
    directory = tmp_path / "kmnist"
    write_mnist_dir(directory, splits=("test",))
    with pytest.raises(FileNotFoundError, match="split='test'") as err:
        load("kmnist", root=tmp_path, verify=False)
    assert "kmnist-train-imgs.npz" in str(err.value)
    with pytest.raises(FileNotFoundError):
        load("kmnist", root=tmp_path, split="train", verify=False)
    assert len(load("kmnist", root=tmp_path, split="test", verify=False)) == 6
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    np.savez_compressed(directory / "kmnist-train-imgs.npz", imgs)
    np.savez_compressed(directory / "kmnist-train-labels.npz", np.arange(7, dtype=np.uint8))
    ds = load("kmnist", root=tmp_path, verify=False)
    assert ds.is_train.sum() == 7 and len(ds) == 13
    assert ds.classes[:3] == ["o", "ki", "su"]
    np.testing.assert_array_equal(ds.y[:7], np.arange(7))


def test_kmnist_npz_malformed(tmp_path: Path):
    directory = tmp_path / "kmnist"
    directory.mkdir()
    np.savez(directory / "kmnist-test-imgs.npz", other=np.zeros((2, 28, 28), np.uint8))
    np.savez(directory / "kmnist-test-labels.npz", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="no 'arr_0'"):
        load("kmnist", root=tmp_path, split="test")
    (directory / "kmnist-test-imgs.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"kmnist-test-imgs.npz"):
        load("kmnist", root=tmp_path, split="test")


def test_download_uses_pooch_with_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    src = tmp_path / "src"
    write_mnist_dir(src, n_train=3, n_test=2)
    calls: list[tuple[str, str]] = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append((url, known_hash))
        if "ossci" in url:
            raise ConnectionError("mirror down")
        Path(path, fname).write_bytes((src / fname).read_bytes())
        return str(Path(path, fname))

    import pooch

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    root = tmp_path / "cache"
    ds = load("mnist", root=root, download=True, verify=False)
    assert len(ds) == 5
    assert calls[0][1] == f"sha256:{fetch_mod.REMOTE_FILES['mnist'][IDX_NAMES['train'][0]].sha256}"
    assert {u.split("/")[2] for u, _ in calls} == {
        "ossci-datasets.s3.amazonaws.com",
        "yann.lecun.com",
    }
    n_calls = len(calls)
    load("mnist", root=root, download=True, verify=False)  # present now: no new download
    assert len(calls) == n_calls


def test_download_failure_and_not_downloadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import pooch

    def failing(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(pooch, "retrieve", failing)
    with pytest.raises(RuntimeError, match=r"failed from every mirror.*offline"):
        load("cifar10", root=tmp_path, download=True)
    with pytest.raises(FileNotFoundError, match="download=True is not available for 'daphnet'"):
        load("daphnet", root=tmp_path, download=True)


def test_data_home_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HISTORYAD_DATA", str(tmp_path / "env"))
    assert fetch_mod.data_home(tmp_path / "arg") == tmp_path / "arg"
    assert fetch_mod.data_home() == tmp_path / "env"
    monkeypatch.delenv("HISTORYAD_DATA")
    assert "historyad" in str(fetch_mod.data_home())
