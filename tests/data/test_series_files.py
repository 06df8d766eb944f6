"""UCI HAR folders, UEA .ts files and Daphnet CSVs, well-formed and malformed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from historyad.data import load, load_daphnet_recording, read_ts, sliding_windows
from tests.data.writers import DAPHNET_HEADER, ts_text, write_daphnet_csv, write_har_dir

# ----------------------------------------------------------------------------- UCI HAR


def test_uci_har_folder(tmp_path: Path):
    raw = write_har_dir(tmp_path / "uci-har")
    ds = load("uci-har", root=tmp_path)
    assert ds.kind == "series" and ds.X.shape == (8, 9, 128)
    assert ds.classes[0] == "WALKING" and ds.classes[5] == "LAYING"
    np.testing.assert_array_equal(ds.y[:5], raw["train"][1] - 1)
    np.testing.assert_allclose(ds.X[:5], raw["train"][0], rtol=1e-6)
    assert ds.meta["channels"][3] == "body_gyro_x"
    assert load("uci-har", root=tmp_path, split="test").X.shape == (3, 9, 128)


def test_uci_har_contents_directly_in_folder(tmp_path: Path):
    write_har_dir(tmp_path / "x")
    (tmp_path / "x" / "UCI HAR Dataset").rename(tmp_path / "uci-har")
    assert len(load("uci-har", root=tmp_path, split="train")) == 5


@pytest.mark.parametrize("defect", ["non_numeric", "short_rows", "labels", "label_count", "nan"])
def test_uci_har_malformed(tmp_path: Path, defect: str):
    write_har_dir(tmp_path / "uci-har", length=16)
    split_dir = tmp_path / "uci-har" / "UCI HAR Dataset" / "train"
    signal = split_dir / "Inertial Signals" / "body_gyro_y_train.txt"
    if defect == "non_numeric":
        signal.write_text(signal.read_text().replace("e", "x", 1))
        message = "body_gyro_y_train.txt: not a whitespace-separated numeric table"
    elif defect == "short_rows":
        np.savetxt(signal, np.zeros((5, 15)))
        message = r"shape \(5, 15\) differs"
    elif defect == "labels":
        np.savetxt(split_dir / "y_train.txt", [1, 2, 3, 4, 7], fmt="%d")
        message = r"allowed 1\.\.6"
    elif defect == "label_count":
        np.savetxt(split_dir / "y_train.txt", [1, 2], fmt="%d")
        message = "2 labels but 5 signal rows"
    else:
        np.savetxt(signal, np.full((5, 16), np.nan))
        message = "NaN"
    with pytest.raises(ValueError, match=message):
        load("uci-har", root=tmp_path, split="train")


def test_uci_har_missing(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="download=True is not available for 'uci-har'"):
        load("uci-har", root=tmp_path)
    write_har_dir(tmp_path / "uci-har")
    (tmp_path / "uci-har" / "UCI HAR Dataset" / "test" / "y_test.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"y_test.txt"):
        load("uci-har", root=tmp_path)


# ----------------------------------------------------------------------------- .ts files


def _basicmotions(tmp_path: Path, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    classes = ["Standing", "Running", "Walking", "Badminton"]
    out = []
    for split, n in (("TRAIN", 4), ("TEST", 3)):
        X = rng.standard_normal((n, 6, 10))
        labels = [classes[i % 4] for i in range(n)]
        path = tmp_path / "basicmotions" / f"BasicMotions_{split}.ts"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ts_text(X, labels, classes))
        out.append(X)
    return np.concatenate(out)


def test_basicmotions_ts(tmp_path: Path):
    X = _basicmotions(tmp_path)
    ds = load("basicmotions", root=tmp_path, verify=False)
    assert ds.X.shape == (7, 6, 10) and ds.kind == "series"
    assert ds.classes == ["Standing", "Running", "Walking", "Badminton"]
    np.testing.assert_array_equal(ds.y, [0, 1, 2, 3, 0, 1, 2])
    np.testing.assert_allclose(ds.X, X, atol=1e-5)
    np.testing.assert_array_equal(ds.is_train, [True] * 4 + [False] * 3)


def test_ts_missing_values_and_comments(tmp_path: Path):
    path = tmp_path / "a.ts"
    text = ts_text(np.ones((2, 2, 3)), ["a", "b"], ["a", "b"], missing=True)
    path.write_text(text.replace("1.000000,1.000000:", "?,1.000000:", 1))
    ts = read_ts(path)
    assert ts.X.shape == (2, 2, 3) and np.isnan(ts.X[0, 0, 1])
    assert ts.header["problemname"] == "Test"


_GOOD = ts_text(np.zeros((2, 2, 3)), ["a", "b"], ["a", "b"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_GOOD.split("@data")[0], "no @data"),
        (_GOOD.replace(":b\n", ":c\n"), r"class label 'c' is not one of \['a', 'b'\]"),
        (_GOOD.replace("0.000000,0.000000:", "0.000000,zero:", 1), "non-numeric value"),
        (_GOOD.replace("0.000000,0.000000:", "0.000000,nan:", 1), "NaN or infinite"),
        (_GOOD.replace("@dimensions 2", "@dimensions 3"), "2 channels; the header says 3"),
        (_GOOD.replace("0.000000,0.000000:", "0.000000:", 1), "unequal lengths"),
        (_GOOD.replace("@seriesLength 3", "@seriesLength 4"), "@seriesLength says 4"),
        (_GOOD.replace("0.000000,0.000000:", "?,0.000000:", 1), "@missing false"),
        (_GOOD.replace("@timeStamps false", "@timeStamps true"), "timeStamps true"),
        (_GOOD.replace("@classLabel true a b", "@classLabel false"), "@classLabel"),
        (_GOOD.replace("@missing false", "@missing maybe"), "'maybe' is not allowed"),
        (_GOOD.split("@data")[0] + "@data\n", "holds no series"),
        ("@classLabel true a\nstray text\n@data\n0:a\n", "not a @header line"),
    ],
)
def test_ts_malformed(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.ts"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        read_ts(path)
    assert "bad.ts" in str(err.value)


def test_ts_train_test_class_mismatch(tmp_path: Path):
    _basicmotions(tmp_path)
    path = tmp_path / "basicmotions" / "BasicMotions_TEST.ts"
    path.write_text(path.read_text().replace("Badminton", "Tennis"))
    with pytest.raises(ValueError, match="differ from the train file"):
        load("basicmotions", root=tmp_path, verify=False)


# ----------------------------------------------------------------------------- Daphnet


def _daphnet(tmp_path: Path, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    values = rng.integers(-500, 1000, size=(n, 9))
    labels = np.zeros(n, dtype=np.int64)
    labels[150:160] = 1
    write_daphnet_csv(tmp_path / "daphnet" / "S06R02E0.csv", values, labels)
    return values, labels


def test_daphnet_recording_and_windows(tmp_path: Path):
    values, labels = _daphnet(tmp_path)
    rec = load_daphnet_recording(root=tmp_path, verify=False)
    assert rec.X.shape == (200, 9) and rec.X.dtype == np.float32
    np.testing.assert_array_equal(rec.X, values)
    np.testing.assert_array_equal(rec.labels, labels)
    assert rec.channels[0] == "ankle_horiz_fwd" and len(rec.channels) == 9
    ds = load("daphnet", root=tmp_path, verify=False, window=20, stride=10)
    # 100 steps per half: (100 - 20) // 10 + 1 = 9 windows each
    assert ds.X.shape == (18, 9, 20) and ds.is_train.sum() == 9
    assert ds.classes == ["normal", "anomaly"]
    test_y = ds.y[~ds.is_train]  # window k spans 100+10k .. 119+10k; anomaly at 150..159
    np.testing.assert_array_equal(np.flatnonzero(test_y), [4, 5])
    np.testing.assert_array_equal(ds.X[1], values[10:30].T)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace(",is_anomaly", ",label"), "no 'is_anomaly' column"),
        (lambda t: t.replace("trunk_vert,", ""), "8 channel columns"),
        (lambda t: t.replace(",0\n", ",x\n", 1), "non-numeric"),
        (lambda t: t.replace(",0\n", ",2\n", 1), "must be 0 or 1"),
        (lambda t: t.split("\n")[0] + "\n", "no rows"),
        (lambda t: "", "empty file"),
    ],
)
def test_daphnet_malformed(tmp_path: Path, mutate, message: str):
    _daphnet(tmp_path, n=30)
    path = tmp_path / "daphnet" / "S06R02E0.csv"
    path.write_text(mutate(path.read_text()))
    with pytest.raises(ValueError, match=message) as err:
        load_daphnet_recording(root=tmp_path, verify=False)
    assert "S06R02E0.csv" in str(err.value)


def test_daphnet_header_constant():
    assert DAPHNET_HEADER.startswith("timestamp,") and DAPHNET_HEADER.endswith(",is_anomaly")


def test_sliding_windows_exact():
    series = np.arange(20, dtype=np.float64).reshape(10, 2)
    labels = np.zeros(10, dtype=int)
    labels[7] = 1
    X, y = sliding_windows(series, labels, window=4, stride=3)
    assert X.shape == (3, 2, 4)  # starts 0, 3, 6
    np.testing.assert_array_equal(X[1, 0], [6, 8, 10, 12])
    np.testing.assert_array_equal(y, [0, 0, 1])
    with pytest.raises(ValueError, match="window=11"):
        sliding_windows(series, window=11, stride=1)
    with pytest.raises(ValueError, match="stride=0"):
        sliding_windows(series, window=2, stride=0)
    with pytest.raises(ValueError, match=r"labels has shape \(3,\)"):
        sliding_windows(series, np.zeros(3), window=2, stride=1)
