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
  ``predict(X, alpha=0.05)`` flags by calibrated p-values instead;
- ``decision_scores_`` are therefore *leave-one-out* scores for the memory-based detectors
  (kNN, density-ratio, recommended, HistoryAD's knn estimator): distributed like the scores
  of fresh normals, so ``labels_`` and ``predict`` on fresh normals flag about
  ``contamination``, but ``predict(X_train)`` scores each row with itself as a neighbour
  and flags fewer (8 % instead of 10 %, say). For the network detectors they are the
  test-time scores of the data the networks were fitted on (fresh normals may score
  higher: held-out calibration data, ``fit(X, calibration=...)``, corrects for that);
- PyOD's outputs (``labels_``, ``fit_predict``, ``predict_proba``, ``predict_confidence``),
  conformal p-values and ONNX export come from ``OutlierOutputs``
  (``historyad.detectors.outputs``);
- ``save(path)`` / ``load(path)``: one safetensors file (weights and arrays) whose metadata
  holds the JSON config; no pickle (``historyad.detectors.persistence``).

Inputs: numpy arrays or torch tensors shaped (N, D) tables, (N, C, T) series or
(N, C, H, W) images. Tables and series are standardised with training statistics when
``standardize`` is "auto" (images are expected in [-1, 1] already).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from historyad.config import Check, Constraint, Interval, Options, check_params
from historyad.detectors.conformal import split_calibration
from historyad.detectors.inputs import to_numpy
from historyad.detectors.outputs import OutlierOutputs
from historyad.detectors.persistence import DetectorFileError, load_detector, save_detector

logger = logging.getLogger(__name__)

ArrayLike = np.ndarray | torch.Tensor

__all__ = ["ArrayLike", "BaseDetector", "DetectorFileError", "detector_params", "to_numpy"]

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
class BaseDetector(OutlierOutputs, BaseEstimator):
    """Common machinery; subclasses implement ``_fit``, ``_score`` and the state hooks."""

    #: Sign and meaning of scores, for docs and reports.
    score_doc: ClassVar[str] = "higher = more anomalous"
    #: Batch size used for scoring (bounded memory).
    score_batch_size: ClassVar[int] = 1024

    # -- parameters every detector takes -----------------------------------------------
    contamination: float = 0.05  # expected anomaly fraction in (0, 0.5]: sets ``threshold_``
    standardize: str | bool = "auto"  # "auto": tables and series yes, images no
    device: str = "cpu"

    #: parameter -> constraint, this class's own parameters only (``parameter_constraints``)
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "contamination": Interval(float, gt=0, le=0.5),  # PyOD's and sklearn's range
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
    def fit(self, X: ArrayLike, y: Any = None, *, calibration: Any = None) -> Self:
        """Train on normal data ``X``; ``y`` is ignored (present for sklearn pipelines).
        ``calibration``: a fraction of X (e.g. 0.2) or an array of normal samples kept out
        of training, whose scores calibrate ``p_values`` (``conformal.split_calibration``).
        Raises ValueError for parameters outside their constraints, before any training."""
        self._validate_params()
        Xn = to_numpy(X)
        Xn, X_cal = split_calibration(Xn, calibration, seed=getattr(self, "random_state", 0))
        self._fit(self.prepare_training_data(Xn))
        self.decision_scores_ = self._training_scores(Xn)
        self.n_features_in_ = int(np.prod(self.input_shape_))
        self._finish_fit(X_cal)  # threshold_, labels_, calibration_scores_ (outputs.py)
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

    # -- persistence (historyad.detectors.persistence) -----------------------------------
    def save(self, path: str | Path, *, key: str | bytes | None = None) -> Path:
        """Write weights and config to one safetensors file (no pickle). Returns the path.
        ``key``: also sign it (HMAC-SHA256). See ``persistence.save_detector``."""
        return save_detector(self, path, key=key)

    @classmethod
    def load(
        cls, path: str | Path, device: str | None = None, *, key: str | bytes | None = None
    ) -> BaseDetector:
        """Load a detector saved by ``save``; the class is read from the file. ``device``:
        where to put it (default: the saved device, or the CPU when that is a GPU this
        machine lacks); ``key``: refuse the file unless it is signed with it. Raises
        DetectorFileError for a missing, truncated, corrupt, incomplete or foreign file. See
        ``historyad.detectors.persistence.load_detector``."""
        return load_detector(path, expected=cls, device=device, key=key)
