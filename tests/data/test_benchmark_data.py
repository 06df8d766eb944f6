"""ADBench, SKAB and UCR-anomaly loaders and the `prefix_windows` protocol.

Real-data checks use the shared data folder (skipped, with the path, when it or a file is
absent); the parser and protocol checks use tiny hand-made files and recordings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from historyad.data import (
    ADBENCH_SETS,
    SKAB_VALVE1,
    Dataset,
    load,
    load_adbench,
    load_skab_recording,
    load_ucr_anomaly,
    read_skab_csv,
)
from historyad.data.skab import SKAB_CHANNELS
from historyad.protocols import leave_one_class_out, prefix_windows


def _need(path: Path) -> Path:
    """`path`, or skip the test naming it when it is absent from the shared data folder."""
    if not path.exists():
        pytest.skip(f"real data file {path} is absent from the shared data folder")
    return path


# ----------------------------------------------------------------------------- ADBench, real

# From the shared data README: (N, D, anomalies); the four large sets are checked under `slow`.
_ADBENCH_SMALL = {
    "12_fault": (1941, 27, 673),
    "17_InternetAds": (1966, 1555, 368),
    "35_SpamBase": (4207, 57, 1679),
    "41_Waveform": (3443, 21, 100),
    "19_landsat": (6435, 36, 1333),
    "24_mnist": (7603, 100, 700),
    "22_magic.gamma": (19020, 10, 6688),
    "5_campaign": (41188, 62, 4640),
}
_ADBENCH_LARGE = {
    "1_ALOI": (49534, 27, 1508),
    "34_smtp": (95156, 3, 30),
    "10_cover": (286048, 10, 2747),
    "16_http": (567498, 3, 2211),
}


def test_adbench_sets_are_the_folder(shared_data: Path):
    folder = _need(shared_data / "adbench")
    assert len(ADBENCH_SETS) == 12
    assert set(ADBENCH_SETS) == {p.name[: -len(".npz")] for p in folder.glob("*.npz")}
    assert set(ADBENCH_SETS) == set(_ADBENCH_SMALL) | set(_ADBENCH_LARGE)


def _check_adbench(root: Path, name: str, shape: tuple[int, int, int]) -> None:
    n, d, n_anomalies = shape
    path = _need(root / "adbench" / f"{name}.npz")
    ds = load_adbench(name, root=root)  # verifies the SHA-256
    assert ds.X.shape == (n, d) and ds.X.dtype == np.float32 and ds.kind == "table"
    assert ds.classes == ["normal", "anomaly"] and ds.is_train.all()
    assert int(ds.y.sum()) == n_anomalies and set(np.unique(ds.y)) == {0, 1}
    with np.load(path, allow_pickle=False) as raw:
        np.testing.assert_array_equal(ds.y, raw["y"])
        np.testing.assert_array_equal(ds.X, raw["X"].astype(np.float32))
    assert ds.meta["subset"] == name and ds.meta["file"] == str(path)


@pytest.mark.parametrize("name", sorted(_ADBENCH_SMALL))
def test_adbench_shapes_and_anomalies(shared_data: Path, name: str):
    _check_adbench(shared_data, name, _ADBENCH_SMALL[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_ADBENCH_LARGE))
def test_adbench_large_sets(shared_data: Path, name: str):
    _check_adbench(shared_data, name, _ADBENCH_LARGE[name])


def test_adbench_through_the_registry(shared_data: Path):
    _need(shared_data / "adbench" / "12_fault.npz")
    ds = load("adbench", subset="12_fault", root=shared_data)
    direct = load_adbench("12_fault", root=shared_data)
    assert ds.name == "adbench" and ds.X.shape == (1941, 27)
    np.testing.assert_array_equal(ds.X, direct.X)
    np.testing.assert_array_equal(ds.y, direct.y)
    assert len(load("adbench", subset="12_fault", root=shared_data, split="train")) == 1941
    with pytest.raises(ValueError, match=r"needs subset=<set name>; choose one of \['1_ALOI'"):
        load("adbench", root=shared_data)
    with pytest.raises(ValueError, match=r"subset='fault' is not a known ADBench set.*12_fault"):
        load("adbench", subset="fault", root=shared_data)
    with pytest.raises(ValueError, match="split='test' is not available for 'adbench'"):
        load("adbench", subset="12_fault", root=shared_data, split="test")
    with pytest.raises(ValueError, match="download=True is not available for 'adbench'"):
        load("adbench", subset="12_fault", root=shared_data, download=True)


def test_adbench_novelty_protocol_on_fault(shared_data: Path):
    """leave_one_class_out(ds, "anomaly", 0.8): train = 80 % of the normal rows, test = the
    other 20 % plus every anomaly. Rows are tracked by an extra index column."""
    _need(shared_data / "adbench" / "12_fault.npz")
    ds = load_adbench("12_fault", root=shared_data)
    n = len(ds)
    tagged = Dataset(
        ds.name, np.column_stack([ds.X, np.arange(n)]), ds.y, ds.classes, ds.is_train, "table"
    )
    normals = np.flatnonzero(ds.y == 0)
    anomalies = np.flatnonzero(ds.y == 1)
    assert len(normals) == 1268 and len(anomalies) == 673
    splits = {}
    for seed in (0, 1):
        s = leave_one_class_out(tagged, "anomaly", train_fraction=0.8, seed=seed)
        train = s.X_train[:, -1].astype(np.int64)
        test = s.X_test[:, -1].astype(np.int64)
        np.testing.assert_array_equal(s.X_train[:, -1], train)  # the index survived float32
        assert (ds.y[train] == 0).all()  # no anomaly in training
        assert len(train) == round(0.8 * 1268) == 1014
        assert len(np.unique(train)) == len(train) and len(np.unique(test)) == len(test)
        assert not set(train) & set(test) and len(train) + len(test) == n
        np.testing.assert_array_equal(np.sort(test[ds.y[test] == 1]), anomalies)  # all 673
        np.testing.assert_array_equal(np.sort(test[ds.y[test] == 0]), np.setdiff1d(normals, train))
        assert (s.y_test == 1).sum() == 673 and (s.y_test == 0).sum() == 1268 - 1014
        np.testing.assert_array_equal(s.y_test, ds.y[test])  # labels travel with their rows
        np.testing.assert_array_equal(s.X_test[:, :-1], ds.X[test])
        again = leave_one_class_out(tagged, "anomaly", train_fraction=0.8, seed=seed)
        np.testing.assert_array_equal(again.X_train, s.X_train)
        np.testing.assert_array_equal(again.X_test, s.X_test)
        splits[seed] = set(train)
    assert splits[0] != splits[1]  # the seed picks the 80 %


# ----------------------------------------------------------------------------- ADBench, files


def _write_npz(root: Path, name: str = "12_fault", **arrays: np.ndarray) -> Path:
    folder = root / "adbench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npz"
    np.savez(path, **arrays)
    return path


def test_adbench_file_parsing_and_checks(tmp_path: Path):
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    _write_npz(tmp_path, X=X, y=np.array([0, 1, 0, 0], dtype=np.int32))
    ds = load_adbench("12_fault", root=tmp_path, verify=False)
    assert ds.X.shape == (4, 3) and ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, [0, 1, 0, 0])
    np.testing.assert_array_equal(ds.X, X)
    with pytest.raises(ValueError, match=r"SHA-256 .* does not match"):
        load_adbench("12_fault", root=tmp_path)  # not the canonical file


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.zeros((3, 2)), "labels": np.zeros(3)}, r"holds arrays \['X', 'labels'\]"),
        ({"X": np.zeros(3), "y": np.zeros(3)}, r"X has shape \(3,\)"),
        ({"X": np.zeros((3, 2)), "y": np.zeros(2)}, r"y has shape \(2,\); allowed is \(3,\)"),
        ({"X": np.zeros((3, 2)), "y": np.array([0, 2, 1])}, r"y holds \[0 1 2\]"),
        ({"X": np.array([[0.0, np.nan]]), "y": np.zeros(1)}, "NaN or infinite"),
        ({"X": np.array([[None]], dtype=object), "y": np.zeros(1)}, "without pickle"),
    ],
)
def test_adbench_malformed(tmp_path: Path, arrays: dict, message: str):
    path = _write_npz(tmp_path, **arrays)
    with pytest.raises(ValueError, match=message) as info:
        load_adbench("12_fault", root=tmp_path, verify=False)
    assert str(path) in str(info.value)


def test_adbench_bad_arguments(tmp_path: Path):
    with pytest.raises(ValueError, match=r"name='fault' is not a known ADBench set.*'16_http'"):
        load_adbench("fault", root=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"looked for .*adbench/12_fault\.npz"):
        load_adbench("12_fault", root=tmp_path)
    _write_npz(tmp_path, X=np.zeros((2, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match="split='test' is not available"):
        load_adbench("12_fault", root=tmp_path, split="test", verify=False)
    with pytest.raises(ValueError, match="split='val' is not allowed"):
        load_adbench("12_fault", root=tmp_path, split="val", verify=False)
    with pytest.raises(ValueError, match=r"download=True is not available.*Minqi824/ADBench"):
        load_adbench("12_fault", root=tmp_path, download=True, verify=False)


# ----------------------------------------------------------------------------- SKAB


def test_skab_valve1_0(shared_data: Path):
    _need(shared_data / "skab" / "valve1" / "0.csv")
    rec = load_skab_recording("valve1/0", root=shared_data)
    assert rec.X.shape == (1147, 8) and rec.X.dtype == np.float32
    assert rec.labels.shape == (1147,) and rec.labels.dtype == np.int64
    assert int(rec.labels.sum()) == 401
    assert int(np.flatnonzero(rec.labels)[0]) == 573 and rec.labels[572] == 0
    assert rec.channels == list(SKAB_CHANNELS) and rec.channels[-1] == "Volume Flow RateRMS"
    assert rec.timestamps is not None and rec.timestamps[0] == np.datetime64("2020-03-09T10:14:33")
    assert (np.diff(rec.timestamps) >= np.timedelta64(0, "s")).all()
    # first data row of the file: 0.0265878;0.0401113;1.3302;0.054711;79.3366;...
    np.testing.assert_allclose(rec.X[0, :4], [0.0265878, 0.0401113, 1.3302, 0.054711], rtol=1e-6)


def test_skab_all_valve1_and_anomaly_free(shared_data: Path):
    _need(shared_data / "skab" / "anomaly-free" / "anomaly-free.csv")
    free = load_skab_recording("anomaly-free/anomaly-free", root=shared_data)
    assert free.X.shape == (9405, 8) and free.labels.sum() == 0
    assert len(SKAB_VALVE1) == 16 and SKAB_VALVE1[3] == "valve1/3"
    for name in SKAB_VALVE1:
        _need(shared_data / "skab" / f"{name}.csv")
        rec = load_skab_recording(name, root=shared_data)
        assert rec.X.shape[1] == 8 and 1000 < len(rec.X) < 1200
        assert rec.labels[:400].sum() == 0 and rec.labels.sum() > 300  # normal 400-row prefix


def test_skab_prefix_windows(shared_data: Path):
    _need(shared_data / "skab" / "valve1" / "0.csv")
    rec = load_skab_recording("valve1/0", root=shared_data)
    s = prefix_windows(rec.X, rec.labels, n_train=400, window=10, name="skab/valve1/0")
    assert s.X_train.shape == (391, 8, 10) and s.X_test.shape == (1147 - 400, 8, 10)
    assert s.meta["end_rows"][0] == 400 and s.meta["end_rows"][-1] == 1146
    # the first anomalous row is 573: the windows ending at 573..582 see it first
    assert s.y_test[573 - 400] == 1 and s.y_test[572 - 400] == 0
    expected = [int(rec.labels[t - 9 : t + 1].any()) for t in range(400, 1147)]
    np.testing.assert_array_equal(s.y_test, expected)


def _skab_text(rows: list[list[str]], header: list[str] | None = None) -> str:
    header = header or ["datetime", *SKAB_CHANNELS, "anomaly", "changepoint"]
    return "\r\n".join(";".join(r) for r in [header, *rows]) + "\r\n"


def _skab_row(second: int, anomaly: str = "0.0", value: str = "1.5") -> list[str]:
    return [f"2020-03-09 10:14:{second:02d}", value, *[str(k) for k in range(7)], anomaly, "0.0"]


def test_skab_csv_parsing(tmp_path: Path):
    path = tmp_path / "skab" / "valve1" / "0.csv"
    path.parent.mkdir(parents=True)
    path.write_text(_skab_text([_skab_row(0), _skab_row(1, "1.0", "-2e-3"), _skab_row(2, "1")]))
    rec = load_skab_recording("valve1/0", root=tmp_path)
    assert rec.X.shape == (3, 8) and rec.source == str(path)
    np.testing.assert_array_equal(rec.labels, [0, 1, 1])
    np.testing.assert_allclose(rec.X[:, 0], [1.5, -2e-3, 1.5], rtol=1e-6)
    np.testing.assert_array_equal(rec.X[0, 1:], np.arange(7))
    assert rec.timestamps is not None and rec.timestamps[2] == np.datetime64("2020-03-09T10:14:02")
    # the anomaly-free layout: no label columns, every row normal
    free = tmp_path / "free.csv"
    free.write_text(_skab_text([_skab_row(0)[:9]], ["datetime", *SKAB_CHANNELS]))
    assert read_skab_csv(free).labels.tolist() == [0]


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ([], None, "followed by no rows"),
        ([_skab_row(0)], ["datetime", *SKAB_CHANNELS[:-1], "anomaly", "changepoint"], "header"),
        ([_skab_row(0)], ["time", *SKAB_CHANNELS, "anomaly", "changepoint"], "header"),
        ([_skab_row(0)], ["datetime", *SKAB_CHANNELS, "changepoint", "anomaly"], "header"),
        ([_skab_row(0), _skab_row(1, value="abc")], None, r":3: 'Accelerometer1RMS' is 'abc'"),
        ([_skab_row(0), _skab_row(1, value="nan")], None, r":3: .* allowed is a finite number"),
        ([_skab_row(0, anomaly="2.0")], None, r":2: 'anomaly' is '2.0'; allowed are 0 and 1"),
        ([_skab_row(0)[:-1]], None, r":2: 10 fields; the header has 11"),
        ([["yesterday", *_skab_row(0)[1:]]], None, r":2: 'datetime' is 'yesterday'"),
    ],
)
def test_skab_csv_malformed(tmp_path: Path, rows: list, header: list | None, message: str):
    path = tmp_path / "x.csv"
    path.write_text(_skab_text(rows, header))
    with pytest.raises(ValueError, match=message) as info:
        read_skab_csv(path)
    assert str(path) in str(info.value)


def test_skab_header_checked_before_values(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text(_skab_text([_skab_row(0, value="abc")], ["datetime", "a", "b"]))
    with pytest.raises(ValueError, match="is not a SKAB header"):
        read_skab_csv(path)


def test_skab_names_and_missing(tmp_path: Path):
    for bad in ("valve1/0.csv", "../valve1/0", "valve1", "/abs/0", 3):
        with pytest.raises(ValueError, match=r"is not allowed; give '<folder>/<file stem>'"):
            load_skab_recording(bad, root=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"looked for .*skab/valve1/7\.csv"):
        load_skab_recording("valve1/7", root=tmp_path)


# ----------------------------------------------------------------------------- UCR anomaly


def test_ucr_anomaly_135(shared_data: Path):
    folder = shared_data / "ucr-anomaly"
    train_file = _need(folder / "135_UCR_Anomaly_InternalBleeding16_TRAIN.csv")
    rec, n_train = load_ucr_anomaly(135, root=shared_data)
    assert rec.X.shape == (7501, 1) and rec.labels.shape == (7501,) and n_train == 1200
    np.testing.assert_array_equal(np.flatnonzero(rec.labels), np.arange(4187, 4199))
    assert rec.channels == ["value"] and rec.source.endswith("_TEST.csv")
    assert rec.timestamps is not None and rec.timestamps.tolist()[:3] == [0, 1, 2]
    raw_train = np.loadtxt(train_file, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(rec.X[:1200, 0], raw_train[:, 1].astype(np.float32))
    s = prefix_windows(rec.X, rec.labels, n_train=n_train, window=64, name="ucr-135")
    assert s.X_train.shape == (1200 - 63, 1, 64) and s.X_test.shape == (7501 - 1200, 1, 64)
    assert s.y_test.sum() == 12 + 63  # windows ending at 4187 .. 4198 + 63


def _write_ucr(root: Path, train: list[float], test: list[float], labels: list[int]) -> Path:
    folder = root / "ucr-anomaly"
    folder.mkdir(parents=True, exist_ok=True)
    for part, values, labs in (("TRAIN", train, [0] * len(train)), ("TEST", test, labels)):
        lines = ["timestamp,value,is_anomaly"]
        lines += [f"{i},{v},{lab}" for i, (v, lab) in enumerate(zip(values, labs, strict=True))]
        (folder / f"7_UCR_Anomaly_Toy_{part}.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_ucr_anomaly_files(tmp_path: Path):
    _write_ucr(tmp_path, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 9.0, 4.0], [0, 0, 0, 1, 0])
    rec, n_train = load_ucr_anomaly(7, root=tmp_path)
    assert n_train == 3 and rec.X.shape == (5, 1)
    np.testing.assert_array_equal(rec.X[:, 0], [1, 2, 3, 9, 4])
    np.testing.assert_array_equal(rec.labels, [0, 0, 0, 1, 0])


def test_ucr_anomaly_errors(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"looked for .*ucr-anomaly/7_UCR_Anomaly_\*_TEST"):
        load_ucr_anomaly(7, root=tmp_path)
    for bad in (0, -1, True, "7"):
        with pytest.raises(ValueError, match=f"series_id={bad!r} is not allowed"):
            load_ucr_anomaly(bad, root=tmp_path)  # type: ignore[arg-type]
    folder = _write_ucr(tmp_path, [1.0, 2.0, 3.0], [1.0, 2.5, 3.0, 9.0], [0, 0, 0, 1])
    with pytest.raises(ValueError, match=r"does not start with the values of .*first at row 1"):
        load_ucr_anomaly(7, root=tmp_path)
    _write_ucr(tmp_path, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0, 0, 0])
    with pytest.raises(ValueError, match="must be shorter than the whole series"):
        load_ucr_anomaly(7, root=tmp_path)
    _write_ucr(tmp_path, [1.0, 2.0], [1.0, 2.0, 3.0], [0, 1, 0])
    with pytest.raises(ValueError, match="is_anomaly = 1 at row 1, inside the 2-row normal"):
        load_ucr_anomaly(7, root=tmp_path)
    (folder / "7_UCR_Anomaly_Toy_TEST.csv").write_text("timestamp,value,is_anomaly\n0,x,0\n")
    with pytest.raises(ValueError, match=r"_TEST\.csv:2: 'value' is 'x'"):
        load_ucr_anomaly(7, root=tmp_path)
    (folder / "7_UCR_Anomaly_Toy_TEST.csv").write_text("t,value,is_anomaly\n0,1,0\n")
    with pytest.raises(ValueError, match=r"header \['t', 'value', 'is_anomaly'\]"):
        load_ucr_anomaly(7, root=tmp_path)
    (folder / "7_UCR_Anomaly_Other_TEST.csv").write_text("timestamp,value,is_anomaly\n0,1,0\n")
    with pytest.raises(ValueError, match="series_id=7 matches 2 files"):
        load_ucr_anomaly(7, root=tmp_path)
    (folder / "7_UCR_Anomaly_Other_TEST.csv").unlink()
    (folder / "7_UCR_Anomaly_Toy_TRAIN.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"looked for .*7_UCR_Anomaly_Toy_TRAIN\.csv"):
        load_ucr_anomaly(7, root=tmp_path)


# ----------------------------------------------------------------------------- prefix_windows


def _toy() -> tuple[np.ndarray, np.ndarray]:
    """12 rows × 2 channels: channel 0 = the row index, channel 1 constant; row 8 anomalous."""
    rec = np.column_stack([np.arange(12.0), np.full(12, 5.0)])
    labels = np.zeros(12, dtype=np.int64)
    labels[8] = 1
    return rec, labels


def _rows(X: np.ndarray, s) -> np.ndarray:
    """Undo the standardisation of channel 0, giving the row index of each step."""
    return np.rint(X[:, 0, :] * s.meta["std"][0] + s.meta["mean"][0]).astype(int)


def test_prefix_windows_by_hand():
    rec, labels = _toy()
    s = prefix_windows(rec, labels, n_train=6, window=3, name="toy")
    # statistics of rows 0..5 only: mean 2.5 (not the series' 5.5); the constant channel: std 1
    assert s.meta["mean"] == [2.5, 5.0]
    assert s.meta["std"][0] == pytest.approx(np.std(np.arange(6.0))) and s.meta["std"][1] == 1.0
    std0 = np.std(np.arange(6.0))
    # test windows end at rows 6..11; the first covers rows 4, 5, 6
    assert s.meta["end_rows"] == [6, 7, 8, 9, 10, 11]
    assert s.X_test.shape == (6, 2, 3)
    np.testing.assert_allclose(s.X_test[0, 0], (np.array([4.0, 5.0, 6.0]) - 2.5) / std0, rtol=1e-6)
    np.testing.assert_array_equal(s.X_test[:, 1], 0.0)
    np.testing.assert_array_equal(_rows(s.X_test, s)[:, -1], s.meta["end_rows"])
    # row 8 is anomalous: windows 6-8 (touching at its end), 7-9, 8-10 (touching at its start)
    np.testing.assert_array_equal(s.y_test, [0, 0, 1, 1, 1, 0])
    # training: the windows inside rows 0..5, starting at 0, 1, 2, 3
    assert s.X_train.shape == (4, 2, 3)
    np.testing.assert_array_equal(_rows(s.X_train, s), [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]])
    assert s.meta["n_train_rows"] == 6 and s.meta["n_train"] == 4
    assert s.meta["window"] == 3 and s.meta["stride"] == 1 and s.meta["n_test_anomaly"] == 3
    assert s.name == "toy/prefix-6-windows-3"


def test_prefix_windows_strides():
    rec, labels = _toy()
    s = prefix_windows(rec, labels, n_train=6, window=3, stride=2, train_stride=2)
    assert s.meta["end_rows"] == [6, 8, 10] and s.meta["train_stride"] == 2
    np.testing.assert_array_equal(s.y_test, [0, 1, 1])
    np.testing.assert_array_equal(_rows(s.X_train, s)[:, 0], [0, 2])
    s = prefix_windows(rec, labels, n_train=6, window=6, stride=5)  # window == n_train
    assert s.meta["end_rows"] == [6, 11] and len(s.X_train) == 1
    np.testing.assert_array_equal(_rows(s.X_test, s)[0], [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(s.y_test, [0, 1])  # rows 6-11 include row 8


def test_prefix_windows_anomalous_prefix_rows_are_left_out():
    rec, labels = _toy()
    labels[1] = 1
    s = prefix_windows(rec, labels, n_train=6, window=2)
    # windows [0, 1] and [1, 2] hold the anomalous row 1; [2, 3], [3, 4], [4, 5] remain
    np.testing.assert_array_equal(_rows(s.X_train, s), [[2, 3], [3, 4], [4, 5]])
    assert s.meta["n_train_dropped"] == 2
    assert s.meta["mean"][0] == pytest.approx(np.mean([0, 2, 3, 4, 5]))  # row 1 left out
    # the first test window (rows 5, 6) ends at row 6 = n_train
    np.testing.assert_array_equal(_rows(s.X_test, s)[0], [5, 6])


def test_prefix_windows_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    rec = rng.standard_normal((50, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -2.0]
    labels = (rng.random(50) < 0.08).astype(np.int64)
    labels[:20] = 0
    n_train, w, stride, train_stride = 20, 5, 3, 2
    s = prefix_windows(
        rec, labels, n_train=n_train, window=w, stride=stride, train_stride=train_stride
    )
    mean, std = rec[:n_train].mean(axis=0), rec[:n_train].std(axis=0)
    z = (rec - mean) / std
    ends = list(range(n_train, 50, stride))
    np.testing.assert_allclose(s.X_test, [z[t - w + 1 : t + 1].T for t in ends], atol=1e-5)
    np.testing.assert_array_equal(s.y_test, [labels[t - w + 1 : t + 1].any() for t in ends])
    starts = range(0, n_train - w + 1, train_stride)
    np.testing.assert_allclose(s.X_train, [z[a : a + w].T for a in starts], atol=1e-5)
    assert s.meta["end_rows"] == ends and all(isinstance(t, int) for t in s.meta["end_rows"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window=0 is not allowed; it must be an integer >= 1"),
        ({"window": 7}, "window=7 is not allowed with n_train=6; it must be <= n_train"),
        ({"window": True}, "window=True is not allowed"),
        ({"window": 2.0}, "window=2.0 is not allowed"),
        ({"n_train": 12}, "n_train=12 is not allowed for a recording of 12 rows; it must be < 12"),
        ({"n_train": 0}, "n_train=0 is not allowed; it must be an integer >= 1"),
        ({"stride": 0}, "stride=0 is not allowed"),
        ({"train_stride": -1}, "train_stride=-1 is not allowed"),
    ],
)
def test_prefix_windows_bad_parameters(kwargs: dict, message: str):
    rec, labels = _toy()
    params = {"n_train": 6, "window": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        prefix_windows(rec, labels, **params)


def test_prefix_windows_bad_inputs():
    rec, labels = _toy()
    with pytest.raises(ValueError, match=r"recording has shape \(12,\)"):
        prefix_windows(rec[:, 0], labels, n_train=6, window=3)
    with pytest.raises(ValueError, match=r"labels has shape \(11,\); allowed is \(12,\)"):
        prefix_windows(rec, labels[:-1], n_train=6, window=3)
    bad = labels.copy()
    bad[0] = 2
    with pytest.raises(ValueError, match=r"labels hold \[0 1 2\]"):
        prefix_windows(rec, bad, n_train=6, window=3)
    labels[:6] = 1
    with pytest.raises(ValueError, match="all n_train=6 prefix rows are anomalous"):
        prefix_windows(rec, labels, n_train=6, window=3)
    labels[:6] = [0, 1, 0, 1, 0, 1]
    with pytest.raises(ValueError, match=r"every training window .* holds an anomalous step"):
        prefix_windows(rec, labels, n_train=6, window=2)
