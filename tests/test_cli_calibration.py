"""Calibrated p-values through the CLI: ``fit --calibration`` (files and datasets),
``score --alpha`` writing ``p_value`` columns, and ``--overwrite`` on the file commands."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from historyad.cli import app

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _table(path: Path, X: np.ndarray) -> Path:
    with path.open("w") as fh:
        fh.write("a,b,c\n" + "".join(",".join(f"{v:.6f}" for v in r) + "\n" for r in X))
    return path


@pytest.fixture()
def fitted(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    rng = np.random.default_rng(0)
    train = _table(tmp_path / "train.csv", rng.normal(size=(400, 3)))
    X_test = np.concatenate([rng.normal(size=(300, 3)), rng.normal(size=(20, 3)) + 5])
    test = _table(tmp_path / "test.csv", X_test)
    res = invoke("fit", "--input", train, "--out", tmp_path / "m", "-d", "knn", "-q",
                 "--calibration", "0.25")
    assert res.exit_code == 0, res.output
    assert "400 items of shape (3,), of which 100 held out of training" in res.output
    return tmp_path / "m" / "model.safetensors", test, X_test


def test_score_alpha_flags_by_p_value_and_writes_them(fitted, tmp_path: Path) -> None:
    """p-values in [1/(n_cal+1), 1]; with --alpha the label is exactly p <= alpha; the far
    cluster is flagged and the normals' false-alarm share stays near alpha (here 100 of
    the 400 training rows calibrate: p-values are multiples of 1/101)."""
    model, test, _ = fitted
    res = invoke("score", "--model", model, "--input", test, "--out", tmp_path / "s.csv",
                 "--alpha", "0.05", "-q")
    assert res.exit_code == 0, res.output
    assert "p-value <= 0.05" in res.output
    got = rows(tmp_path / "s.csv")
    p = np.array([float(r["p_value"]) for r in got])
    labels = np.array([int(r["label"]) for r in got])
    assert len(got) == 320
    assert p.min() >= 1 / 101 - 1e-9 and p.max() <= 1.0
    np.testing.assert_array_equal(labels, (p <= 0.05).astype(int))
    assert labels[300:].all()  # the shifted cluster
    assert labels[:300].mean() < 0.12  # false alarms on normals, near alpha = 0.05


def test_without_alpha_p_values_are_written_beside_the_threshold_labels(fitted,
                                                                      tmp_path: Path) -> None:
    model, test, _ = fitted
    res = invoke("score", "--model", model, "--input", test, "--out", tmp_path / "s.csv", "-q")
    assert res.exit_code == 0, res.output
    got = rows(tmp_path / "s.csv")
    assert "p_value" in got[0]
    s = np.array([float(r["score"]) for r in got])
    p = np.array([float(r["p_value"]) for r in got])
    # a higher score never has a higher p-value (p is non-increasing in the score)
    order = np.argsort(s)
    assert np.all(np.diff(p[order]) <= 1e-12)


def test_alpha_without_calibration_and_stream_alpha_are_one_line_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    train = _table(tmp_path / "train.csv", rng.normal(size=(100, 3)))
    assert invoke("fit", "--input", train, "--out", tmp_path / "m", "-d", "knn",
                  "-q").exit_code == 0
    model = tmp_path / "m" / "model.safetensors"
    res = invoke("score", "--model", model, "--input", train, "--out", tmp_path / "s.csv",
                 "--alpha", "0.1")
    assert res.exit_code == 2 and "calibration" in res.output and "Traceback" not in res.output
    res = invoke("score", "--model", model, "--input", train, "--stream", "--alpha", "0.1")
    assert res.exit_code == 2 and "--stream" in res.output


def test_file_commands_refuse_a_non_empty_out_without_overwrite(fitted, tmp_path: Path) -> None:
    model, test, _ = fitted
    out = tmp_path / "m"  # the fit's folder: not empty
    res = invoke("fit", "--input", test, "--out", out, "-d", "knn", "-q")
    assert res.exit_code == 2 and "not empty" in res.output
    assert invoke("fit", "--input", test, "--out", out, "-d", "knn", "-q",
                  "--overwrite").exit_code == 0
    assert invoke("score", "--model", model, "--input", test, "--out", tmp_path / "s.csv",
                  "-q").exit_code == 0
    res = invoke("score", "--model", model, "--input", test, "--out", tmp_path / "s.csv", "-q")
    assert res.exit_code == 2 and "exists" in res.output


def test_series_windows_get_p_values_and_alpha_flags_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 600
    t = np.arange(n)
    X = np.stack([np.sin(t / 5), np.cos(t / 7)], 1) + 0.05 * rng.normal(size=(n, 2))
    with (tmp_path / "train.csv").open("w") as fh:
        fh.write("s1,s2\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in X))
    Xt = X[:300].copy()
    Xt[150:160] += 4.0
    with (tmp_path / "test.csv").open("w") as fh:
        fh.write("s1,s2\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in Xt))
    res = invoke("fit", "--input", tmp_path / "train.csv", "--window", 20, "--stride", 5,
                 "--out", tmp_path / "m", "-d", "knn", "-q", "--calibration", "0.3")
    assert res.exit_code == 0, res.output
    res = invoke("score", "--model", tmp_path / "m" / "model.safetensors", "--input",
                 tmp_path / "test.csv", "--out", tmp_path / "s.csv", "--alpha", "0.05", "-q")
    assert res.exit_code == 0, res.output
    win = rows(tmp_path / "s.windows.csv")
    p = np.array([float(r["p_value"]) for r in win])
    lab = np.array([int(r["label"]) for r in win])
    np.testing.assert_array_equal(lab, (p <= 0.05).astype(int))
    per_row = rows(tmp_path / "s.csv")
    assert len(per_row) == 300
    flagged = np.array([int(r["label"]) for r in per_row])
    assert flagged[150:160].all()  # the rows of the injected fault
    # a row is flagged when a flagged window covers it: exactly those rows
    starts = np.array([int(r["start"]) for r in win])
    covered = np.zeros(300, int)
    for st in starts[lab == 1]:
        covered[st : st + 20] = 1
    np.testing.assert_array_equal(flagged, covered)
    # the windows clear of the fault are normal: false alarms near alpha, not more
    clear = (starts + 20 <= 150) | (starts >= 160)
    assert lab[clear].mean() < 0.15


def test_fit_dataset_with_calibration_then_score_alpha(tmp_path: Path) -> None:
    res = invoke("fit", "--dataset", "ring-2d", "--protocol", "loo", "--anomaly", "0",
                 "-d", "knn", "--out", tmp_path / "r", "--calibration", "0.2", "-q")
    assert res.exit_code == 0, res.output
    info = invoke("info", tmp_path / "r" / "model.safetensors")
    assert "calibration: 960 held-out normal scores" in info.output  # 0.2 of 4800 rows
    res = invoke("score", "--model", tmp_path / "r" / "model.safetensors", "--alpha", "0.05",
                 "--out", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    got = rows(tmp_path / "s.csv")
    p = np.array([float(r["p_value"]) for r in got])
    np.testing.assert_array_equal([int(r["prediction"]) for r in got], (p <= 0.05).astype(int))


def test_an_alpha_below_the_smallest_p_value_is_refused(tmp_path: Path) -> None:
    """With n_cal calibration scores no p-value is below 1/(n_cal + 1): an alpha under it
    would flag nothing, silently. It is an error naming how many samples to hold out."""
    from historyad.detectors import KNNDetector

    rng = np.random.default_rng(3)
    det = KNNDetector().fit(rng.normal(size=(100, 3)), calibration=0.1)  # 10 held out
    with pytest.raises(ValueError, match=r"hold out at least 19 normal samples"):
        det.predict(rng.normal(size=(5, 3)) + 100, alpha=0.05)
    assert det.predict(rng.normal(size=(5, 3)) + 100, alpha=0.1).all()  # 1/11 <= 0.1
    train = _table(tmp_path / "train.csv", rng.normal(size=(100, 3)))
    assert invoke("fit", "--input", train, "--out", tmp_path / "m", "-d", "knn", "-q",
                  "--calibration", "0.1").exit_code == 0
    res = invoke("score", "--model", tmp_path / "m" / "model.safetensors", "--input", train,
                 "--out", tmp_path / "s.csv", "--alpha", "0.05")
    assert res.exit_code == 2 and "hold out at least 19" in res.output


def test_evaluate_input_with_several_detectors_routes_each_parameter(tmp_path: Path) -> None:
    """-p key=value goes to the detectors that take it, -p label.key=value to one (as with
    --dataset); a kNN beside a GAN detector no longer refuses the GAN's settings."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    X[170:185] += 5
    with (tmp_path / "t.csv").open("w") as fh:
        fh.write("a,b,c,y\n" + "".join(f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{int(170 <= i < 185)}\n"
                                       for i, r in enumerate(X)))
    res = invoke("evaluate", "--input", tmp_path / "t.csv", "--label-column", "y",
                 "--train-rows", 120, "-d", "knn", "-d", "critic", "-p", "n_epochs=1",
                 "-p", "min_iterations=10", "-p", "width=8", "-p", "critic.batch_size=32",
                 "-p", "knn.n_neighbors=3", "--out", tmp_path / "ev", "-q")
    assert res.exit_code == 0, res.output
    assert "knn: AUPRC" in res.output and "critic: AUPRC" in res.output
    import json

    cfg = json.loads((tmp_path / "ev" / "critic" / "config.json").read_text())
    assert cfg["params"]["batch_size"] == 32 and cfg["params"]["n_epochs"] == 1


def test_options_that_do_not_apply_to_the_input_are_errors(tmp_path: Path) -> None:
    """--stride without --window, --channels / --size on a table, --window on an image folder
    used to be ignored silently."""
    from PIL import Image

    table = _table(tmp_path / "t.csv", np.random.default_rng(5).normal(size=(30, 3)))
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((8, 8), 30 * i, np.uint8)).save(folder / f"{i}.png")
    for args, opt in ((("--stride", 3), "--stride"), (("--channels", 3), "--channels"),
                      (("--size", 16), "--size")):
        res = invoke("fit", "--input", table, *args, "-d", "knn", "-q", "--out", tmp_path / opt)
        assert res.exit_code == 2 and f"{opt} do(es) not apply" in res.output
    res = invoke("fit", "--input", folder, "--window", 4, "-d", "knn", "-q",
                 "--out", tmp_path / "w")
    assert res.exit_code == 2 and "--window do(es) not apply" in res.output


def test_scoring_the_training_file_warns(fitted, tmp_path: Path) -> None:
    model, _, _ = fitted
    train = model.parent.parent / "train.csv"
    res = invoke("score", "--model", model, "--input", train, "--out", tmp_path / "s.csv", "-q")
    assert res.exit_code == 0 and "is the file the model was trained on" in res.output


def test_stream_of_a_parquet_file_says_stream_reads_text(fitted, tmp_path: Path) -> None:
    model, _, _ = fitted
    pq = tmp_path / "x.parquet"
    pq.write_bytes(b"PAR1 not text")
    res = invoke("score", "--model", model, "--input", pq, "--stream")
    assert res.exit_code == 2 and "--stream reads delimited text" in res.output


def test_a_table_model_saved_from_python_scores_a_csv_by_column_name(tmp_path: Path) -> None:
    """No input.json beside it: the columns are found by ``feature_names_in_``."""
    pd = pytest.importorskip("pandas")
    from historyad.detectors import KNNDetector

    rng = np.random.default_rng(6)
    df = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    det = KNNDetector().fit(df)
    det.save(tmp_path / "py" / "model.safetensors")
    new = pd.DataFrame(rng.normal(size=(12, 3)), columns=["c", "a", "b"])
    new["note"] = "x"
    new.to_csv(tmp_path / "new.csv", index=False)
    res = invoke("score", "--model", tmp_path / "py" / "model.safetensors", "--input",
                 tmp_path / "new.csv", "--out", tmp_path / "s.csv", "-q")
    assert res.exit_code == 0, res.output
    got = np.array([float(r["score"]) for r in rows(tmp_path / "s.csv")])
    np.testing.assert_allclose(got, det.decision_function(new[["a", "b", "c"]]), rtol=1e-6)
