"""A fitted detector as an ONNX graph (``BaseDetector.to_onnx``).

The graph takes the raw samples and does all the detector does at scoring time:

    x (N, *input_shape) float32, raw
      -> (x − mean_) / scale_            (tables and series; images are used as they are)
      -> the detector's ``_score``       -> score (N,) float32
      -> score > threshold_ (the critic's interval rule: outside [threshold_low_,
         threshold_])                    -> label (N,) int64, 1 = anomaly

The fitted threshold(s) and a model card (class, parameters, library version, input shape,
kind, score convention) are stored as the model's ``metadata_props``, so a runtime with no
historyad installed can score and flag (``historyad.export.onnx`` reads them back and checks
a graph against PyTorch with onnxruntime).

Exportable: the detectors whose score is a feed-forward pass through their networks — the
WGAN critic (``CriticDetector``), the encoder detector (``EncoderDetector``, G(E(x))) and
HistoryAD's network estimator (D_TV, with the two-sided score if chosen). Not exportable,
with the reason in ``NotExportableError``: ``InversionDetector`` (its score runs an Adam
optimisation over a latent code per sample) and the memory-based detectors (kNN, the
density-ratio ones, HistoryAD's knn estimator), whose score is a nearest-neighbour search
over thousands of stored rows; an ONNX graph would have to embed that reference set and an
exact search over it (a graph as large as the data and slower than the search itself), which
we do not ship.

Exporter: ``torch.onnx.export(..., dynamo=True)``, torch's supported exporter since 2.9
(the TorchScript one, ``dynamo=False``, is deprecated and slated for removal); it needs the
``onnxscript`` package, which brings ``onnx`` and ``onnx_ir``. It works offline. The batch
axis is dynamic.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from historyad import __version__

if TYPE_CHECKING:
    from historyad.detectors.base import BaseDetector

logger = logging.getLogger(__name__)

#: The ONNX opset the graphs are written with unless another is asked for.
DEFAULT_OPSET = 18
#: the metadata_props key of the model card (JSON); the main entries are also "historyad_<name>"
CARD_KEY = "historyad_card"

_MEMORY_BASED = (
    "memory-based: its score is a nearest-neighbour search over the {what} it stores, not a "
    "pass through a network; an ONNX graph would have to embed that reference set and an "
    "exact search over it. Use the safetensors file (save/load) to deploy it"
)
#: class name -> why its instances cannot be exported (subclasses inherit the reason)
NOT_EXPORTABLE: dict[str, str] = {
    "InversionDetector": (
        "its score optimises a latent code per sample (inversion_steps Adam steps through "
        "the generator with gradients): an optimisation loop, not a feed-forward graph. "
        "Export the encoder detector instead (an encoder replaces the optimisation)"
    ),
    "KNNDetector": _MEMORY_BASED.format(what="training rows"),
    "_GeneratorContrast": _MEMORY_BASED.format(what="training rows and generated samples"),
}


class NotExportableError(ValueError):
    """The detector cannot be written as an ONNX graph (the message says why)."""


def not_exportable_reason(det: BaseDetector) -> str | None:
    """Why ``det`` cannot be exported to ONNX, or None when it can."""
    for klass in type(det).__mro__:
        if klass.__name__ in NOT_EXPORTABLE:
            return NOT_EXPORTABLE[klass.__name__]
    if getattr(det, "estimator", "network") == "knn":  # HistoryAD's knn estimator
        return _MEMORY_BASED.format(what="training rows and history samples") + (
            " (HistoryAD with estimator='network' is exportable)")
    return None


class ScoringGraph(nn.Module):
    """Standardisation, the detector's score and its 0/1 label in one module:
    x (N, *input_shape) raw -> (score (N,) float32, label (N,) int64)."""

    def __init__(self, det: BaseDetector) -> None:
        super().__init__()
        self.det = det
        # the detector's fitted networks, registered so that their weights are the graph's
        self.nets = nn.ModuleDict(
            {k.strip("_"): v for k, v in vars(det).items() if isinstance(v, nn.Module)})
        mean = det.mean_ if det.mean_ is not None else np.zeros(1, np.float32)
        scale = det.scale_ if det.scale_ is not None else np.ones(1, np.float32)
        self.standardize = det.mean_ is not None
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)))
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, np.float32)))
        self.register_buffer("threshold", torch.tensor(float(det.threshold_)))
        low = _threshold_low(det)
        self.two_sided = low is not None
        self.register_buffer("threshold_low", torch.tensor(low if low is not None else 0.0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.standardize:
            x = (x - self.mean) / self.scale  # (N, *input_shape)
        score = self.det._score(x).reshape(-1).float()  # (N,)
        flag = score > self.threshold
        if self.two_sided:
            flag = flag | (score < self.threshold_low)
        return score, flag.to(torch.int64)


def _threshold_low(det: BaseDetector) -> float | None:
    """The lower threshold of a two-sided rule (the critic's interval), else None."""
    if getattr(det, "threshold_mode", None) == "interval":
        return float(det.threshold_low_)
    return None


def model_card(det: BaseDetector, *, opset: int) -> dict[str, Any]:
    """The metadata stored with the graph: what it is, how it was fitted, how to call it."""
    from historyad.detectors.persistence import _jsonable

    low = _threshold_low(det)
    return {
        "format": "historyad-onnx",
        "version": __version__,
        "class": type(det).__name__,
        "params": _jsonable(det.get_params(deep=False)),
        "input_shape": list(det.input_shape_),
        "kind": det.kind_,
        "input": "x: float32 (N, *input_shape), raw values (standardisation is in the graph)",
        "outputs": {"score": f"float32 (N,), {det.score_doc}",
                    "label": "int64 (N,), 1 = anomaly at the fitted threshold"},
        "threshold": float(det.threshold_),
        "threshold_low": low,
        "label_rule": ("score > threshold or score < threshold_low" if low is not None
                       else "score > threshold"),
        "standardized": det.mean_ is not None,
        "contamination": float(det.contamination),
        "opset": opset,
    }


def export_onnx(det: BaseDetector, path: str | Path, *, opset: int | None = None) -> Path:
    """Write ``det`` (fitted, network-scored) to ``path`` as an ONNX model (module docstring).
    Raises NotExportableError for the detectors that have no graph, ImportError without
    onnxscript. Returns the path."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(det, "threshold_")
    reason = not_exportable_reason(det)
    if reason is not None:
        raise NotExportableError(f"{type(det).__name__} cannot be exported to ONNX: {reason}")
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter's dependency)
    except ModuleNotFoundError as exc:
        raise ImportError(
            "ONNX export needs onnx and onnxscript: pip install 'historyad[export]'"
        ) from exc
    opset = DEFAULT_OPSET if opset is None else int(opset)
    path = Path(path)
    device = det._device
    graph = ScoringGraph(det).to("cpu").eval()
    if device.type != "cpu":  # export on the CPU; the detector goes back afterwards
        _move_nets(det, "cpu")
    example = torch.zeros((2, *det.input_shape_), dtype=torch.float32)
    quiet = logging.getLogger("torch.onnx")  # the exporter's progress and registry notes
    level = quiet.level
    try:
        with (warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()),
              torch.no_grad()):
            warnings.simplefilter("ignore")
            quiet.setLevel(logging.ERROR)
            program = torch.onnx.export(
                graph, (example,), dynamo=True, verbose=False, opset_version=opset,
                input_names=["x"], output_names=["score", "label"],
                dynamic_shapes=({0: torch.export.Dim("batch")},), external_data=False,
            )
    except Exception as exc:  # torch.export could not trace the score
        raise NotExportableError(
            f"{type(det).__name__} could not be traced for ONNX export: {exc}") from exc
    finally:
        quiet.setLevel(level)
        if device.type != "cpu":
            _move_nets(det, device)
    card = model_card(det, opset=opset)
    program.model.metadata_props.update(_metadata(card))
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=False)
    logger.info("wrote %s (%s)", path, type(det).__name__)
    return path


def _metadata(card: dict[str, Any]) -> dict[str, str]:
    """metadata_props (string -> string): the whole card as JSON and its main entries."""
    flat = {k: card[k] for k in ("version", "class", "threshold", "threshold_low", "kind")}
    out = {f"historyad_{k}": json.dumps(v) if not isinstance(v, str) else v
           for k, v in flat.items()}
    out["historyad_input_shape"] = json.dumps(card["input_shape"])
    out[CARD_KEY] = json.dumps(card, sort_keys=True)
    return out


def _move_nets(det: BaseDetector, device: str | torch.device) -> None:
    """Move the detector's fitted networks (attributes that are modules) to ``device``."""
    for value in vars(det).values():
        if isinstance(value, nn.Module):
            value.to(device)
