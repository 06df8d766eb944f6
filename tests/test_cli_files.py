"""Your own data through the CLI (issue 14): ``fit``, ``score``, ``evaluate --input`` on tables,
image folders and series, ``score --stream``, ``info`` and ``reproduce --list``; the real-data
acceptance runs (SKAB, UCR 135, 50 MNIST PNGs) skip when ../shared/data is absent."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from historyad.cli import app

runner = CliRunner()
KNN = ["-d", "knn", "-q"]
TINY_GAN = ["-p", "n_epochs=1", "-p", "min_iterations=20", "-p", "width=8",
            "-p", "latent_dim=4", "-p", "batch_size=32"]


pytestmark = pytest.mark.usefixtures("one_thread")


def invoke(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def ok(result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _series_csv(path: Path, n: int = 400, *, seed: int = 0, anomaly: tuple[int, int] | None
                = None, delimiter: str = ",") -> Path:
    """A 3-channel sensor recording with a timestamp, a text column and a label column."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    X = np.stack([np.sin(t / 5), np.cos(t / 7), 0.1 * rng.normal(size=n)], axis=1)
    y = np.zeros(n, int)
    if anomaly:
        a, b = anomaly
        X[a:b] += 3.0
        y[a:b] = 1
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(["time", "s1", "s2", "s3", "site", "anomaly"])
        for i in range(n):
            w.writerow([f"2024-01-01 00:{i // 60:02d}:{i % 60:02d}", *(f"{v:.6f}" for v in X[i]),
                        "A", y[i]])
    return path


# ----------------------------------------------------------------------------- tables


def test_table_fit_score_evaluate_and_info(tmp_path: Path):
    rng = np.random.default_rng(0)
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    with train.open("w") as fh:
        fh.write("a;b;note\n" + "".join(f"{x:.5f};{y:.5f};ok\n"
                                        for x, y in rng.normal(size=(200, 2))))
    pts = np.concatenate([rng.normal(size=(30, 2)), rng.normal(size=(10, 2)) + 6])
    with test.open("w") as fh:
        fh.write("b;a;is_bad\n" + "".join(f"{y:.5f};{x:.5f};{int(i >= 30)}\n"
                                          for i, (x, y) in enumerate(pts)))
    out = tmp_path / "model"
    result = invoke("fit", "--input", train, "--out", out, *KNN)
    ok(result)
    assert "features: a, b" in result.stdout and "left out (not numeric): note" in result.stdout
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "input.json", "config.json"}
    scores = tmp_path / "s.csv"
    ok(invoke("score", "--model", out / "model.safetensors", "--input", test, "--out", scores))
    rows = read_csv(scores)
    assert [r["id"] for r in rows] == [str(i) for i in range(40)]  # one row per input row
    # the columns are read by name (the test file has them in another order)
    assert np.mean([float(r["score"]) for r in rows[30:]]) > 3 * np.mean(
        [float(r["score"]) for r in rows[:30]])
    result = invoke("evaluate", "--input", test, "--label-column", "is_bad", "--model",
                    out / "model.safetensors", "--out", tmp_path / "ev", "-q")
    ok(result)
    assert "AUPRC 1.000  AUROC 1.000" in result.stdout
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["results"]["knn"][
        "auprc"] == 1.0
    result = invoke("info", out / "model.safetensors")
    ok(result)
    for text in ("KNNDetector (registry name 'knn')", "train.csv", "200 rows",
                 "features (2): a, b", "threshold:", "versions at fit: historyad",
                 "values "):
        assert text in result.stdout, text


def test_a_table_streams_row_by_row_like_the_batch(tmp_path: Path):
    rng = np.random.default_rng(1)
    path = tmp_path / "t.csv"
    path.write_text("x,y\n" + "".join(f"{a:.4f},{b:.4f}\n" for a, b in rng.normal(size=(60, 2))))
    out = tmp_path / "m"
    ok(invoke("fit", "--input", path, "--out", out, *KNN))
    batch = tmp_path / "b.csv"
    ok(invoke("score", "-m", out / "model.safetensors", "--input", path, "--out", batch, "-q"))
    result = invoke("score", "-m", out / "model.safetensors", "--stream", "--chunk-size", 1,
                    input=path.read_text())
    ok(result)
    assert result.stdout == batch.read_text()
    assert "scored 60 rows from <stdin>" in result.stderr
    result = invoke("evaluate", "--input", tmp_path, "--label-column", "y", "-m",
                    out / "model.safetensors")
    assert result.exit_code == 2 and "image folder (no labels)" in result.stderr


def test_input_excludes_dataset_options_and_names_missing_columns(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n")
    result = invoke("fit", "--input", path, "--dataset", "digits", *KNN)
    assert result.exit_code == 2 and "--dataset is for registered datasets" in result.output
    out = tmp_path / "m"
    ok(invoke("fit", "--input", path, "--out", out, *KNN))
    other = tmp_path / "o.csv"
    other.write_text("a,c\n1,2\n")
    result = invoke("score", "-m", out / "model.safetensors", "--input", other)
    assert result.exit_code == 2 and "'b' is not a column" in result.stderr


# ----------------------------------------------------------------------------- series


def test_series_windows_rows_aligned_and_stream_equals_batch(tmp_path: Path):
    train = _series_csv(tmp_path / "train.csv", 300)
    test = _series_csv(tmp_path / "test.csv", 250, seed=1, anomaly=(150, 170),
                       delimiter=";")
    out = tmp_path / "m"
    result = invoke("fit", "--input", train, "--window", 16, "--stride", 4,
                    "--label-column", "anomaly", "--out", out, *KNN)
    ok(result)
    assert "windows (3 channels × 16 rows) of 300 rows" in result.stdout
    spec = json.loads((out / "input.json").read_text())["input"]
    assert spec["timestamp_column"] == "time" and spec["columns"] == ["s1", "s2", "s3"]
    batch = tmp_path / "scores.csv"
    result = invoke("score", "-m", out / "model.safetensors", "--input", test, "--out", batch,
                    "-q")
    ok(result)
    rows = read_csv(batch)
    assert len(rows) == 250 and rows[0]["id"] == "2024-01-01 00:00:00"  # timestamps kept
    windows = read_csv(tmp_path / "scores.windows.csv")
    assert windows[0]["start"] == "2024-01-01 00:00:00" and len(windows) == 60
    # the stream from standard input, in chunks of 7 rows, writes the same rows and scores
    result = invoke("score", "-m", out / "model.safetensors", "--stream", "--chunk-size", 7,
                    input=test.read_text())
    ok(result)
    streamed = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["id"] for r in streamed] == [r["id"] for r in rows]
    np.testing.assert_allclose([float(r["score"]) for r in streamed],
                               [float(r["score"]) for r in rows], rtol=1e-6)
    assert [r["label"] for r in streamed] == [r["label"] for r in rows]
    # and from a file to a file
    out_s = tmp_path / "stream.csv"
    ok(invoke("score", "-m", out / "model.safetensors", "--stream", "--input", test,
              "--out", out_s))
    assert out_s.read_text() == batch.read_text()
    result = invoke("evaluate", "--input", test, "--label-column", "anomaly", "-m",
                    out / "model.safetensors", "--out", tmp_path / "ev", "-q")
    ok(result)
    assert "AUPRC" in result.stdout and "events (range-based" in result.stdout


def test_stream_errors_name_the_line_and_write_nothing_for_it(tmp_path: Path):
    train = _series_csv(tmp_path / "train.csv", 120)
    out = tmp_path / "m"
    ok(invoke("fit", "--input", train, "--window", 4, "--stride", 1, "--out", out, *KNN))
    model = out / "model.safetensors"
    lines = _series_csv(tmp_path / "t.csv", 30).read_text().splitlines()
    bad = [*lines[:21], "BAD,0.1,oops,0.3,A,0", *lines[21:]]  # line 22
    result = invoke("score", "-m", model, "--stream", "--chunk-size", 5,
                    input="\n".join(bad) + "\n")
    assert result.exit_code == 2
    assert "<stdin>:22: column 's2' is 'oops'" in result.stderr
    written = [r["id"] for r in csv.DictReader(io.StringIO(result.stdout))]
    # the rows before the bad line whose window was complete, in order; nothing after
    assert written == [f"2024-01-01 00:00:{i:02d}" for i in range(len(written))]
    assert 0 < len(written) <= 20
    assert "rows awaiting their window not written" in result.stderr
    changed = [*lines[:11], "time,s1,s2", *lines[11:]]  # the columns change mid-way
    result = invoke("score", "-m", model, "--stream", input="\n".join(changed) + "\n")
    assert result.exit_code == 2 and "<stdin>:12: 3 fields, but the header has 6" in (
        result.stderr)


def test_evaluate_fits_on_the_fly_with_train_rows(tmp_path: Path):
    path = _series_csv(tmp_path / "rec.csv", 300, anomaly=(220, 240))
    result = invoke("evaluate", "--input", path, "--label-column", "anomaly", "--train-rows",
                    150, "--window", 8, "--stride", 2, *KNN, "--out", tmp_path / "ev")
    ok(result)
    assert "(150 items, 20 anomalous" in result.stdout  # metrics on the rows after the prefix
    result = invoke("evaluate", "--input", path, "--label-column", "anomaly")
    assert result.exit_code == 2 and "exactly one of --model" in result.output


def test_a_gan_detector_saves_its_training_curves(tmp_path: Path):
    rng = np.random.default_rng(0)
    path = tmp_path / "t.npy"
    np.save(path, rng.normal(size=(80, 3)).astype(np.float32))
    out = tmp_path / "m"
    result = invoke("-v", "fit", "--input", path, "-d", "density-ratio", *TINY_GAN, "--out", out)
    ok(result)
    # the library's one INFO line per epoch (-v shows INFO logs)
    assert "INFO historyad.training.trainer: epoch 1/1: critic loss" in result.stderr
    assert "wgan-gp" in result.stderr  # the GAN's progress bar, on stderr
    header = (out / "training.csv").read_text().splitlines()[0]
    assert header == "gen_iter,epoch,critic_loss,wasserstein,gradient_penalty,generator_loss"
    assert len((out / "training.csv").read_text().splitlines()) == 21
    assert (out / "training.png").stat().st_size > 1000
    result = invoke("info", out / "model.safetensors")
    ok(result)
    assert "training curves: training.csv, training.png" in result.stdout
    quiet = invoke("fit", "--input", path, "-d", "density-ratio", *TINY_GAN, "--out",
                   tmp_path / "q", "--quiet")
    ok(quiet)
    assert "wgan-gp" not in quiet.stderr


def test_reproduce_list_describes_each_experiment():
    result = invoke("reproduce", "--list")
    ok(result)
    lines = result.stdout.strip().splitlines()
    assert len(lines) >= 10 and not any("historyad.evaluation" in ln for ln in lines)
    assert any(ln.startswith("mnist-vs-kmnist") and "KMNIST" in ln for ln in lines)


# ----------------------------------------------------------------------------- real data


def test_skab_fit_on_anomaly_free_score_and_evaluate_valve1(shared_data: Path, tmp_path: Path):
    skab = shared_data / "skab"
    out = tmp_path / "skab"
    ok(invoke("fit", "--input", skab / "anomaly-free" / "anomaly-free.csv", "--window", 32,
              "--stride", 16, "--out", out, *KNN))
    scores = tmp_path / "valve1-0.csv"
    ok(invoke("score", "-m", out / "model.safetensors", "--input", skab / "valve1" / "0.csv",
              "--out", scores, "-q"))
    rows = read_csv(scores)
    assert len(rows) == 1147 and rows[0]["id"] == "2020-03-09 10:14:33"
    result = invoke("evaluate", "--input", skab / "valve1" / "0.csv", "--label-column",
                    "anomaly", "-m", out / "model.safetensors", "--out", tmp_path / "ev", "-q")
    ok(result)
    print(result.stdout)
    auprc = json.loads((tmp_path / "ev" / "metrics.json").read_text())["results"]["knn"]["auprc"]
    assert "AUPRC" in result.stdout and auprc > 0.5  # 401 of 1147 rows are anomalous


def test_ucr_135_through_the_cli(shared_data: Path, tmp_path: Path):
    base = shared_data / "ucr-anomaly" / "135_UCR_Anomaly_InternalBleeding16"
    out = tmp_path / "ucr"
    opts = ["--timestamp-column", "timestamp", "--label-column", "is_anomaly"]
    ok(invoke("fit", "--input", f"{base}_TRAIN.csv", *opts, "--window", 64, "--stride", 8,
              "--out", out, *KNN))
    scores = tmp_path / "ucr.csv"
    ok(invoke("score", "-m", out / "model.safetensors", "--input", f"{base}_TEST.csv",
              "--out", scores, "-q"))
    rows = read_csv(scores)
    assert len(rows) == 7501 and rows[-1]["id"] == "7500"
    result = invoke("evaluate", "--input", f"{base}_TEST.csv", "--label-column", "is_anomaly",
                    "-m", out / "model.safetensors", "--out", tmp_path / "ev", "-q")
    ok(result)
    print(result.stdout)
    assert "AUPRC" in result.stdout and "events" in result.stdout


def test_fifty_mnist_pngs_fit_and_score_one_score_per_file(shared_data: Path, tmp_path: Path):
    from historyad.data import read_idx

    images = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")[:50]
    folder = tmp_path / "digits"
    for i, img in enumerate(images):
        sub = folder / ("a" if i < 25 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img, "L").save(sub / f"digit_{i:02d}.png")
    out = tmp_path / "m"
    result = invoke("fit", "--input", folder, "--out", out, *KNN)
    ok(result)
    assert "50 items of shape (1, 28, 28)" in result.stdout  # grey stays one channel
    scores = tmp_path / "s.csv"
    ok(invoke("score", "-m", out / "model.safetensors", "--input", folder, "--out", scores))
    rows = read_csv(scores)
    assert [r["id"] for r in rows] == [f"{'a' if i < 25 else 'b'}/digit_{i:02d}.png"
                                       for i in range(50)]
    assert all(np.isfinite(float(r["score"])) for r in rows)
    info = invoke("info", out / "model.safetensors")
    ok(info)
    assert "images of 1 channel, 28×28 pixels" in info.stdout
    assert "values -1 .. 1" in info.stdout  # scaled to [-1, 1] by the one function


def test_training_curves_have_labelled_axes_and_legends():
    import matplotlib.pyplot as plt

    from historyad.plotting import plot_fit_curves

    rec = {"gen_iter": [1, 2, 3], "epoch": [0.5, 1.0, 1.5], "critic_loss": [3, 2, 1],
           "wasserstein": [0, 1, 2], "gradient_penalty": [1, 0.5, 0.2],
           "generator_loss": [0, -1, -2]}
    fig = plot_fit_curves(rec, {"step": [50, 100], "loss": [1, 0.5], "tv": [0.1, 0.3]})
    gan, dtv = fig.axes
    assert gan.get_xlabel() == "epoch" and gan.get_ylabel()
    assert [t.get_text() for t in gan.get_legend().get_texts()] == [
        "critic loss", "generator loss", "Wasserstein estimate", "gradient penalty"]
    assert dtv.get_xlabel() == "D_TV step" and len(dtv.get_legend().get_texts()) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="no epoch values"):
        plot_fit_curves({"epoch": []})
