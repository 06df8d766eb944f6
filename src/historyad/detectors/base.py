"""BaseDetector: the scikit-learn contract shared by every detector.

- ``__init__(self, *, ...)`` only stores its keyword arguments: each class declares its own
  parameters once, as annotated class attributes with defaults, under ``@detector_params``
  (a keyword-only dataclass ``__init__``, so scikit-learn's ``get_params`` / ``set_params`` /
  ``clone`` read them from the signature as usual), with one constraint per parameter in
  ``_parameter_constraints`` (checked by ``_validate_params`` before any training);
- ``fit(X)`` validates, trains, sets fitted attributes (ending in ``_``) and returns ``self``;
- ``decision_function(X)``: shape (N,), **higher = more anomalous**;
- ``predict(X)``: 0/1, ``decision_function(X) > threshold_``, where ``threshold_`` is the
  ``1 - contamination`` quantile of ``decision_scores_`` (the training scores, computed by
  the same batched ``_score`` path as test scores; kNN leaves each training sample out of
  its own neighbours, HistoryAD takes its two-sided reference from the same pass);
- ``save(path)`` / ``load(path)``: one safetensors file (weights and arrays) whose metadata
  holds the JSON config; no pickle, and a SHA-256 of the tensor bytes catches tampering.

Inputs: numpy arrays or torch tensors shaped (N, D) tables, (N, C, T) series or
(N, C, H, W) images. Tables and series are standardised with training statistics when
``standardize`` is "auto" (images are expected in [-1, 1] already).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from historyad import __version__
from historyad.config import Check, Constraint, Interval, Options, check_params

logger = logging.getLogger(__name__)

ArrayLike = np.ndarray | torch.Tensor
FORMAT = "historyad-detector"


class DetectorFileError(ValueError):
    """A saved detector file is missing, truncated, tampered with or of another format."""


def to_numpy(X: Any, *, name: str = "X") -> np.ndarray:
    """Validate ``X`` and return a float32 array; errors name the problem."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if X.dtype == object or not (
        np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)
    ):
        raise TypeError(
            f"{name} has dtype {X.dtype}; expected a real numeric dtype (float or int)"
        )
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name} has rank {X.ndim} (shape {X.shape}); expected (N, D) tables, "
            "(N, C, T) series or (N, C, H, W) images"
        )
    if X.shape[0] == 0 or any(s == 0 for s in X.shape[1:]):
        raise ValueError(f"{name} is empty (shape {X.shape}); at least one sample is needed")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite values; clean or impute them")
    return X


D = TypeVar("D", bound="BaseDetector")


@dataclass_transform(kw_only_default=True, eq_default=False)
def detector_params(cls: type[D]) -> type[D]:
    """Declare a detector class's parameters: its annotated class attributes (name, type,
    default) become the arguments of a keyword-only ``__init__`` that only stores them, after
    those of its bases. Every parameter needs a constraint in ``_parameter_constraints``
    (the class's own dict; the bases' are merged in), else TypeError at import."""
    cls = dataclasses.dataclass(kw_only=True, eq=False, repr=False)(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    declared = set(cls.parameter_constraints())
    if names != declared:
        raise TypeError(
            f"{cls.__name__}: parameters without a constraint {sorted(names - declared)}, "
            f"constraints without a parameter {sorted(declared - names)}"
        )
    return cls


@detector_params
class BaseDetector(BaseEstimator):
    """Common machinery; subclasses implement ``_fit``, ``_score`` and the state hooks."""

    #: Sign and meaning of scores, for docs and reports.
    score_doc: ClassVar[str] = "higher = more anomalous"
    #: Batch size used for scoring (bounded memory).
    score_batch_size: ClassVar[int] = 1024

    # -- parameters every detector takes -----------------------------------------------
    contamination: float = 0.05  # expected anomaly fraction: sets ``threshold_``
    standardize: str | bool = "auto"  # "auto": tables and series yes, images no
    device: str = "cpu"

    #: parameter -> constraint, this class's own parameters only (``parameter_constraints``)
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "contamination": Interval(float, gt=0, lt=0.5),
        "standardize": Options("auto", True, False),
        "device": Check(lambda d: isinstance(d, str | torch.device),
                        "a torch device such as 'cpu' or 'cuda:0'"),
    }

    @classmethod
    def parameter_constraints(cls) -> dict[str, Constraint]:
        """Every parameter's constraint: the ``_parameter_constraints`` of the class and its
        bases, bases first (the order ``_validate_params`` checks them in)."""
        merged: dict[str, Constraint] = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("_parameter_constraints", {}))
        return merged

    def _validate_params(self) -> None:
        """Raise ValueError naming the first parameter outside its constraint, its value
        and what is allowed; ``fit`` calls this before any training."""
        check_params(self.get_params(deep=False), self.parameter_constraints())

    # -- the estimator API -------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None) -> Self:
        """Train on normal data ``X``; ``y`` is ignored (present for sklearn pipelines).
        Raises ValueError for parameters outside their constraints, before any training."""
        self._validate_params()
        Xn = to_numpy(X)
        self._fit(self.prepare_training_data(Xn))
        self.decision_scores_ = self._training_scores(Xn)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))
        self.n_features_in_ = int(np.prod(self.input_shape_))
        return self

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Anomaly scores, shape (N,): higher = more anomalous."""
        check_is_fitted(self, "threshold_")
        Xn = to_numpy(X)
        if tuple(Xn.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has per-sample shape {tuple(Xn.shape[1:])} but the detector was fitted on "
                f"{self.input_shape_} (features / channels / length must match fit)"
            )
        return self._score_array(Xn)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """0 = normal, 1 = anomaly: ``decision_function(X) > threshold_``."""
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """sklearn's convention (higher = more normal): ``-decision_function(X)``."""
        return -self.decision_function(X)

    def prepare_training_data(self, X: ArrayLike) -> torch.Tensor:
        """Validate ``X``, record its shape, fit the scaler and return the preprocessed
        training tensor (N, *input_shape) exactly as ``fit`` trains on it (the harness uses
        this to train one GAN shared by several detectors)."""
        self._validate_params()
        Xn = to_numpy(X)
        self.input_shape_ = tuple(int(s) for s in Xn.shape[1:])
        self.kind_ = {1: "table", 2: "series", 3: "image"}[len(self.input_shape_)]
        self._fit_scaler(Xn)
        return self._to_tensor(Xn)

    # -- hooks -------------------------------------------------------------------------
    def _fit(self, X: torch.Tensor) -> None:
        raise NotImplementedError

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        """Scores of one preprocessed batch (B, *input_shape) -> (B,)."""
        raise NotImplementedError

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """``decision_scores_`` (N,): the training data through the test-time scoring path.
        Detectors whose score is calibrated on their own training outputs override this to
        set that calibration and score in one pass."""
        return self._score_array(X)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        """Fitted tensors to save (network weights, arrays)."""
        return {}

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Rebuild fitted networks from saved tensors (``input_shape_`` is already set)."""

    def _extra_meta(self) -> dict[str, Any]:
        """Fitted JSON-serialisable attributes to save beside the params."""
        return {}

    # -- preprocessing & batched scoring -----------------------------------------------
    @property
    def _device(self) -> torch.device:
        return torch.device(self.device)

    def _fit_scaler(self, X: np.ndarray) -> None:
        mode = self.standardize
        use = (mode == "auto" and self.kind_ != "image") or mode is True
        if use:
            axes = (0,) if X.ndim == 2 else (0, *range(2, X.ndim))  # per feature / channel
            mean = X.mean(axis=axes, keepdims=True)[0]
            std = X.std(axis=axes, keepdims=True)[0]
            self.mean_ = mean.astype(np.float32)
            self.scale_ = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        else:
            self.mean_ = None
            self.scale_ = None

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        if self.mean_ is not None:
            X = (X - self.mean_) / self.scale_
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(self._device)

    def _score_array(
        self, X: np.ndarray, fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> np.ndarray:
        """``fn`` (default ``self._score``) over preprocessed batches of X -> (N,) float64,
        in batches of ``score_batch_size`` so memory stays bounded."""
        fn = self._score if fn is None else fn
        out = []
        for start in range(0, len(X), self.score_batch_size):
            batch = self._to_tensor(X[start : start + self.score_batch_size])
            with torch.no_grad():
                out.append(fn(batch).detach().float().cpu().numpy().reshape(-1))
        return np.concatenate(out).astype(np.float64)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write weights and config to one safetensors file (no pickle). Returns the path."""
        check_is_fitted(self, "threshold_")
        path = Path(path)
        tensors = {
            f"state.{k}": v.detach().cpu().contiguous() for k, v in self._state_tensors().items()
        }
        tensors["fitted.decision_scores"] = torch.from_numpy(np.asarray(self.decision_scores_))
        if self.mean_ is not None:
            tensors["fitted.mean"] = torch.from_numpy(self.mean_)
            tensors["fitted.scale"] = torch.from_numpy(self.scale_)
        meta = {
            "format": FORMAT,
            "version": __version__,
            "class": type(self).__name__,
            "params": _jsonable(self.get_params(deep=False)),
            "input_shape": list(self.input_shape_),
            "threshold": self.threshold_,
            "extra": _jsonable(self._extra_meta()),
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

    @classmethod
    def load(cls, path: str | Path) -> BaseDetector:
        """Load a detector saved by ``save``; the class is read from the file. Raises
        DetectorFileError for a missing, truncated, tampered or foreign file."""
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
        if cls is not BaseDetector and not issubclass(klass, cls):
            raise DetectorFileError(f"{path} holds a {meta['class']}, not a {cls.__name__}")
        det = klass(**_params_from_json(klass, meta["params"]))
        det.input_shape_ = tuple(meta["input_shape"])
        det.kind_ = {1: "table", 2: "series", 3: "image"}[len(det.input_shape_)]
        det.n_features_in_ = int(np.prod(det.input_shape_))
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
