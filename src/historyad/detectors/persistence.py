"""Saving and loading fitted detectors: one safetensors file per detector.

The file holds the fitted tensors (``state.*`` from each detector's ``_state_tensors``, the
training scores, the standardisation) and, as metadata, a JSON document (format, library
version, class name, parameters, input shape, threshold, extra fitted attributes) plus a
SHA-256 over both. No pickle: loading never runs code from the file. The digest is stored in
the same file, so it detects accidental corruption or a partial write, not deliberate
tampering by someone who can rewrite the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from sklearn.utils.validation import check_is_fitted

from historyad import __version__

if TYPE_CHECKING:
    from historyad.detectors.base import BaseDetector

FORMAT = "historyad-detector"


class DetectorFileError(ValueError):
    """A saved detector file is missing, truncated, modified or of another format."""


def save_detector(det: BaseDetector, path: str | Path) -> Path:
    """Write weights and config to one safetensors file (no pickle). Returns the path."""
    check_is_fitted(det, "threshold_")
    path = Path(path)
    tensors = {
        f"state.{k}": v.detach().cpu().contiguous() for k, v in det._state_tensors().items()
    }
    tensors["fitted.decision_scores"] = torch.from_numpy(np.asarray(det.decision_scores_))
    if det.mean_ is not None:
        tensors["fitted.mean"] = torch.from_numpy(det.mean_)
        tensors["fitted.scale"] = torch.from_numpy(det.scale_)
    meta = {
        "format": FORMAT,
        "version": __version__,
        "class": type(det).__name__,
        "params": _jsonable(det.get_params(deep=False)),
        "input_shape": list(det.input_shape_),
        "feature_names": _jsonable(list(getattr(det, "feature_names_in_", []))) or None,
        "threshold": det.threshold_,
        "extra": _jsonable(det._extra_meta()),
    }
    meta_json = json.dumps(meta, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(
        tensors,
        str(tmp),
        metadata={"historyad": meta_json, "sha256": _digest(tensors, meta_json)},
    )
    tmp.replace(path)
    return path



def load_detector(path: str | Path, *, expected: type | None = None) -> BaseDetector:
    """Load a detector saved by ``save``; the class is read from the file. Raises
    DetectorFileError for a missing, truncated, modified or foreign file; ``expected`` (a
    detector class) refuses a file holding another class."""
    path = Path(path)
    if not path.is_file():
        raise DetectorFileError(f"no detector file at {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DetectorFileError(
            f"{path} is not a readable safetensors detector file (truncated or corrupt?): "
            f"{exc}"
        ) from exc
    if "historyad" not in header or "sha256" not in header:
        raise DetectorFileError(f"{path} has no historyad metadata; not a detector file")
    meta_json = header["historyad"]
    if _digest(tensors, meta_json) != header["sha256"]:
        raise DetectorFileError(f"{path} failed its SHA-256 check: the file was modified")
    meta = json.loads(meta_json)
    if meta.get("format") != FORMAT:
        raise DetectorFileError(f"{path} has format {meta.get('format')!r}, not {FORMAT!r}")
    klass = _detector_class(meta["class"])
    if expected is not None and not issubclass(klass, expected):
        raise DetectorFileError(f"{path} holds a {meta['class']}, not a {expected.__name__}")
    det = klass(**_params_from_json(klass, meta["params"]))
    det.input_shape_ = tuple(meta["input_shape"])
    det.kind_ = {1: "table", 2: "series", 3: "image"}[len(det.input_shape_)]
    det.n_features_in_ = int(np.prod(det.input_shape_))
    if meta.get("feature_names"):
        det.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
    det.threshold_ = float(meta["threshold"])
    det.decision_scores_ = tensors["fitted.decision_scores"].numpy()
    det.mean_ = tensors["fitted.mean"].numpy() if "fitted.mean" in tensors else None
    det.scale_ = tensors["fitted.scale"].numpy() if "fitted.scale" in tensors else None
    state = {k[len("state.") :]: v for k, v in tensors.items() if k.startswith("state.")}
    det._load_state(state, meta.get("extra", {}))
    return det


def _detector_class(class_name: str) -> type[BaseDetector]:
    """The detector class of the library named ``class_name``. Every one is a subclass of
    BaseDetector that is already imported: importing this module runs the package's
    ``__init__``, which imports them all (no lookup in the registry, which imports this)."""
    from historyad.detectors.base import BaseDetector

    todo, seen = [BaseDetector], set()
    while todo:
        klass = todo.pop()
        if klass.__name__ == class_name and klass.__module__.startswith("historyad.detectors"):
            return klass
        seen.add(klass)
        todo.extend(k for k in klass.__subclasses__() if k not in seen)
    raise DetectorFileError(f"detector class {class_name!r} is unknown")


def _digest(tensors: dict[str, torch.Tensor], meta_json: str) -> str:
    h = hashlib.sha256(meta_json.encode())
    for key in sorted(tensors):
        t = tensors[key].contiguous()
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot save parameter value {obj!r} of type {type(obj).__name__} as JSON")


def _params_from_json(klass: type, params: dict[str, Any]) -> dict[str, Any]:
    # JSON turns tuples into lists; restore tuples where the default is a tuple.
    defaults = klass().get_params(deep=False)
    out = {}
    for k, v in params.items():
        if k not in defaults:
            raise DetectorFileError(f"saved parameter {k!r} is unknown to {klass.__name__}")
        out[k] = tuple(v) if isinstance(defaults[k], tuple) and isinstance(v, list) else v
    return out
