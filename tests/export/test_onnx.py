"""ONNX export: every network-scored detector round-trips through onnxruntime on tables,
images and series (scores within 1e-5 of PyTorch on 1000 inputs, identical labels), with
the threshold and model card in the metadata; the others refuse with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from historyad import __version__
from historyad.detectors.onnx_graph import NotExportableError, not_exportable_reason
from historyad.detectors.registry import DETECTORS
from historyad.export.onnx import (
    OnnxDetector,
    check_inputs,
    export_model,
    read_card,
    verify_onnx,
)
from tests.detectors.test_contract import make

# the network-scored detectors of the registry, and a HistoryAD variant with the two-sided
# score (a score computed from D_TV's output and the training reference, in the graph)
EXPORTABLE = ["critic", "encoder", "historyad"]
NOT_EXPORTABLE = {"inversion": "optimisation", "knn": "memory-based",
                  "density-ratio": "memory-based", "recommended": "memory-based",
                  "historyad-knn": "memory-based"}
SHAPES = {"table": (5,), "image": (1, 8, 8), "series": (3, 24)}


def test_every_registered_detector_is_classified() -> None:
    assert set(EXPORTABLE) | set(NOT_EXPORTABLE) == {*DETECTORS, "historyad-knn"}


def _data(kind: str, n: int = 160) -> np.ndarray:
    rng = np.random.default_rng({"table": 0, "image": 1, "series": 2}[kind])
    X = rng.normal(size=(n, *SHAPES[kind]))
    if kind == "image":
        X = np.tanh(X)  # images in [-1, 1]
    if kind == "series":
        X = 3.0 + 2.0 * X  # far from standardised: the graph must standardise
    return X.astype(np.float32)


@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("name", EXPORTABLE)
def test_onnx_round_trip(name: str, kind: str, tmp_path: Path) -> None:
    extra: dict[str, Any] = {"kappa": 0.5} if name == "encoder" else {}  # critic features too
    if name == "historyad" and kind == "series":
        extra["score"] = "two-sided"
    det = make(name, **extra).fit(_data(kind))
    assert not_exportable_reason(det) is None
    path = det.to_onnx(tmp_path / f"{name}-{kind}.onnx")

    X = check_inputs(det, n=1000, seed=3)  # 1000 inputs over and beyond the training data
    onnx_det = OnnxDetector(path)
    scores, labels = onnx_det.run(X)
    torch_scores = det.decision_function(X)
    assert np.abs(scores - torch_scores).max() <= 1e-5 * max(1.0, np.abs(torch_scores).max())
    np.testing.assert_array_equal(labels, det.predict(X))
    assert 0 < labels.sum() or kind == "image"  # the inputs reach past the threshold
    report = verify_onnx(det, path, X)
    assert report["labels_equal"] and report["n"] == 1000

    np.testing.assert_array_equal(onnx_det.predict(X[:1]), det.predict(X[:1]))  # batch of 1
    card = read_card(path)
    assert card["class"] == type(det).__name__ and card["version"] == __version__
    assert card["input_shape"] == list(SHAPES[kind]) and card["kind"] == kind
    assert card["threshold"] == det.threshold_ and onnx_det.threshold_ == det.threshold_
    assert card["params"] == {k: v for k, v in det.get_params().items()}
    assert card["standardized"] == (kind != "image")
    if name == "critic":  # seed 001's interval rule is in the graph too
        assert card["threshold_low"] == det.threshold_low_
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert float(props["historyad_threshold"]) == det.threshold_
    assert props["historyad_class"] == type(det).__name__
    with pytest.raises(ValueError, match="per-sample shape"):
        onnx_det.run(X[..., :2])


@pytest.mark.parametrize("name", sorted(NOT_EXPORTABLE))
def test_non_exportable_detectors_say_why(name: str, tmp_path: Path) -> None:
    det = make(name).fit(_data("table", 64))
    with pytest.raises(NotExportableError, match=NOT_EXPORTABLE[name]):
        det.to_onnx(tmp_path / "x.onnx")
    with pytest.raises(NotExportableError, match=type(det).__name__):
        export_model(det, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_export_model_from_a_saved_file(tmp_path: Path) -> None:
    det = make("critic").fit(_data("table"))
    saved = det.save(tmp_path / "critic.safetensors")
    result = export_model(saved, tmp_path / "critic.onnx", n_check=200)
    assert result["check"]["n"] == 200 and result["check"]["max_abs_diff"] <= 1e-5
    assert result["card"]["class"] == "CriticDetector"
    with pytest.raises(ValueError, match="format"):
        export_model(saved, tmp_path / "critic.xyz", format="tflite")


def test_unfitted_detector_is_not_exported(tmp_path: Path) -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make("critic").to_onnx(tmp_path / "x.onnx")
