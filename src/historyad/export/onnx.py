"""ONNX export of fitted detectors, checked with onnxruntime, and scoring from the graph.

- ``export_model(model, out)``: a detector (or a saved ``.safetensors`` file) to an ONNX
  file through ``BaseDetector.to_onnx`` (``historyad.detectors.onnx_graph``: the
  standardisation, the score and the 0/1 label in one graph, the threshold and model card
  in ``metadata_props``), then ``verify_onnx``: onnxruntime's scores on 1000 inputs against
  PyTorch's. The CLI's ``historyad export`` calls it.
- ``OnnxDetector(path)``: score and flag with onnxruntime alone (``decision_function``,
  ``predict``, ``card``), e.g. on a machine without torch.
- ``read_card(path)``: the model card stored in a graph.

Needs the ``export`` extra: onnx, onnxscript (writing), onnxruntime (checking, scoring).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from historyad.detectors.base import BaseDetector
from historyad.detectors.inputs import to_numpy
from historyad.detectors.onnx_graph import CARD_KEY, NotExportableError, not_exportable_reason

__all__ = [
    "FORMATS",
    "ExportCheckError",
    "NotExportableError",
    "OnnxDetector",
    "check_inputs",
    "export_model",
    "read_card",
    "verify_onnx",
]

#: Export formats ``export_model`` writes.
FORMATS = ("onnx",)
#: Agreement asked of onnxruntime's scores with PyTorch's: |Δ| ≤ TOL · max(1, |score|).
TOL = 1e-5


class ExportCheckError(AssertionError):
    """onnxruntime's outputs differ from PyTorch's beyond the tolerance."""


def _ort() -> Any:
    try:
        import onnxruntime
    except ModuleNotFoundError as exc:
        raise ImportError("checking or scoring ONNX graphs needs onnxruntime: "
                          "pip install 'historyad[export]'") from exc
    return onnxruntime


def read_card(path: str | Path) -> dict[str, Any]:
    """The model card of an ONNX file written by ``to_onnx`` (class, params, version, input
    shape, threshold(s), ...); ValueError for a graph without one."""
    ort = _ort()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    if CARD_KEY not in meta:
        raise ValueError(f"{path} has no historyad model card ({CARD_KEY!r} metadata)")
    return json.loads(meta[CARD_KEY])


class OnnxDetector:
    """A detector's ONNX graph run by onnxruntime: ``decision_function`` (N,) float64 and
    ``predict`` (N,) 0/1 at the fitted threshold, as the detector it was exported from."""

    def __init__(self, path: str | Path, providers: list[str] | None = None) -> None:
        ort = _ort()
        self.path = Path(path)
        self.session = ort.InferenceSession(
            str(path), providers=providers or ["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if CARD_KEY not in meta:
            raise ValueError(f"{path} has no historyad model card ({CARD_KEY!r} metadata)")
        self.card: dict[str, Any] = json.loads(meta[CARD_KEY])
        self.input_shape_ = tuple(self.card["input_shape"])
        self.threshold_ = float(self.card["threshold"])

    def run(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """(scores (N,) float64, labels (N,) int64) of raw samples X (N, *input_shape)."""
        Xn = np.ascontiguousarray(to_numpy(X), dtype=np.float32)  # the graph takes float32
        if tuple(Xn.shape[1:]) != self.input_shape_:
            raise ValueError(f"X has per-sample shape {tuple(Xn.shape[1:])} but the graph "
                             f"takes {self.input_shape_}")
        score, label = self.session.run(["score", "label"], {"x": Xn})
        return score.astype(np.float64), label.astype(np.int64)

    def decision_function(self, X: Any) -> np.ndarray:
        return self.run(X)[0]

    def predict(self, X: Any) -> np.ndarray:
        return self.run(X)[1]


def check_inputs(det: BaseDetector, n: int = 1000, seed: int = 0) -> np.ndarray:
    """(n, *input_shape) float32 inputs spread over and beyond the training data: tables and
    series mean_ + 1.5·scale_·N(0, 1) (the standardised space), images uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    shape = (n, *det.input_shape_)
    if det.mean_ is not None:
        X = det.mean_ + det.scale_ * 1.5 * rng.standard_normal(shape)
    elif det.kind_ == "image":
        X = rng.uniform(-1.0, 1.0, size=shape)
    else:
        X = 1.5 * rng.standard_normal(shape)
    return np.ascontiguousarray(X, dtype=np.float32)


def verify_onnx(
    det: BaseDetector, path: str | Path, X: Any = None, *, n: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Score ``X`` (default ``check_inputs(det, n, seed)``) with onnxruntime and with the
    detector; ExportCheckError unless the scores agree within TOL·max(1, |score|) and the
    labels are equal (a label may differ only for a score within that tolerance of a
    threshold). Returns {"n", "max_abs_diff", "labels_equal", "near_threshold"}."""
    X = check_inputs(det, n, seed) if X is None else to_numpy(X)
    s_onnx, l_onnx = OnnxDetector(path).run(X)
    s_torch = det.decision_function(X)
    l_torch = np.asarray(det.predict(X))
    diff = np.abs(s_onnx - s_torch)
    allowed = TOL * np.maximum(1.0, np.abs(s_torch))
    if not (diff <= allowed).all():
        worst = int(np.argmax(diff - allowed))
        raise ExportCheckError(
            f"{path}: onnxruntime's score differs from PyTorch's by {diff[worst]:.3g} on "
            f"input {worst} (allowed {allowed[worst]:.3g})")
    thresholds = [det.threshold_] + ([det.threshold_low_]
                                     if getattr(det, "threshold_mode", "") == "interval" else [])
    near = np.zeros(len(X), dtype=bool)
    for t in thresholds:
        near |= np.abs(s_torch - t) <= TOL * max(1.0, abs(t))
    differ = l_onnx != l_torch
    if (differ & ~near).any():
        raise ExportCheckError(
            f"{path}: onnxruntime's labels differ from PyTorch's on {int((differ & ~near).sum())}"
            " inputs whose scores are not at a threshold")
    return {"n": len(X), "max_abs_diff": float(diff.max()), "labels_equal": not differ.any(),
            "near_threshold": int(near.sum())}


def export_model(
    model: BaseDetector | str | Path,
    out: str | Path,
    *,
    format: str = "onnx",
    check: bool = True,
    n_check: int = 1000,
    opset: int | None = None,
) -> dict[str, Any]:
    """Export a fitted detector, or the detector saved at path ``model`` (loaded on the
    CPU), to ``out`` in ``format``; with ``check``, verify it on ``n_check`` inputs
    (``verify_onnx``). Returns {"path", "card", "check"}. NotExportableError (a ValueError)
    for detectors with no graph, ValueError for an unknown format."""
    if format not in FORMATS:
        raise ValueError(f"format={format!r} is unknown; choose one of {list(FORMATS)}")
    det = model if isinstance(model, BaseDetector) else BaseDetector.load(model, device="cpu")
    reason = not_exportable_reason(det)
    if reason is not None:  # before any import of the exporter
        raise NotExportableError(f"{type(det).__name__} cannot be exported to ONNX: {reason}")
    path = det.to_onnx(out, opset=opset)
    result: dict[str, Any] = {"path": Path(path), "card": read_card(path), "check": None}
    if check:
        result["check"] = verify_onnx(det, path, n=n_check)
    return result
