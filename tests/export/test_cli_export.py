"""The command line's deployment parts: ``historyad export`` and ``historyad score``'s
p-value column and ``--alpha``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from historyad.cli import app
from historyad.detectors.base import BaseDetector
from tests.detectors.test_contract import make

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def critic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    X = np.random.default_rng(0).normal(size=(160, 4)).astype(np.float32)
    return make("critic").fit(X).save(tmp_path_factory.mktemp("m") / "model.safetensors")


def test_export_writes_a_checked_onnx_file(critic_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from historyad.export.onnx import OnnxDetector

    out = tmp_path / "critic.onnx"
    result = invoke("export", "--model", critic_file, "--format", "onnx", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.is_file() and "CriticDetector" in result.output
    assert "checked with onnxruntime on 1000 inputs" in result.output
    det = BaseDetector.load(critic_file)
    X = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    np.testing.assert_array_equal(OnnxDetector(out).predict(X), det.predict(X))
    # the default output path: the model's, with .onnx
    result = invoke("export", "-m", critic_file, "--no-check")
    assert result.exit_code == 0, result.output
    assert critic_file.with_suffix(".onnx").is_file() and "checked" not in result.output
    # an existing file is kept unless --overwrite
    result = invoke("export", "-m", critic_file, "--no-check")
    assert result.exit_code == 2 and "exists" in result.output
    assert invoke("export", "-m", critic_file, "--no-check", "--overwrite").exit_code == 0
    # float64 arrays (and lists) are cast to the graph's float32
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(OnnxDetector(out).decision_function(X64),
                               OnnxDetector(out).decision_function(X), rtol=0, atol=0)


def test_export_errors_exit_2_with_the_reason(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    knn = make("knn").fit(X).save(tmp_path / "knn.safetensors")
    result = invoke("export", "--model", knn, "--out", tmp_path / "knn.onnx")
    assert result.exit_code == 2 and "memory-based" in result.output
    result = invoke("export", "--model", knn, "--format", "tflite")
    assert result.exit_code == 2 and "tflite" in result.output and "onnx" in result.output
    result = invoke("export")
    assert result.exit_code == 2 and "--model" in result.output
    result = invoke("export", "--model", tmp_path / "missing.safetensors")
    assert result.exit_code == 2 and "no detector file" in result.output


def test_score_writes_p_values_and_flags_at_alpha(tmp_path: Path) -> None:
    from historyad.evaluation.jobs import make_split

    out = tmp_path / "fit"
    result = invoke("fit", "-d", "knn", "--dataset", "digits", "--anomaly", "4", "--out", out)
    assert result.exit_code == 0, result.output
    model = out / "model.safetensors"
    result = invoke("score", "--model", model, "--alpha", "0.1", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "calibration" in result.output  # fitted without one

    split = make_split("digits", "loo", "4", data=None, seed=0, quick=False)
    det = BaseDetector.load(model)
    det.calibrate(split.X_train[:150])  # (normals; fine for checking the plumbing)
    det.save(model)
    for alpha in (None, 0.1):
        scores = tmp_path / f"scores-{alpha}.csv"
        args = ["--alpha", alpha] if alpha is not None else []
        result = invoke("score", "--model", model, *args, "--out", scores)
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(scores.open()))
        assert set(rows[0]) == {"index", "label", "score", "prediction", "p_value"}
        p = np.array([float(r["p_value"]) for r in rows])
        pred = np.array([int(r["prediction"]) for r in rows])
        np.testing.assert_allclose(p, det.p_values(split.X_test), rtol=1e-5)
        if alpha is None:
            np.testing.assert_array_equal(pred, det.predict(split.X_test))
        else:
            np.testing.assert_array_equal(pred, (p <= alpha).astype(int))
