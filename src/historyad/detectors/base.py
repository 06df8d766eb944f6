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

Inputs go through one layer, ``historyad.detectors.inputs.check_input``, for ``fit`` and
for every scoring call: numpy arrays, torch tensors, lists and DataFrames shaped (N, D)
tables, (N, C, T) series or (N, C, H, W) images, read by ``input_kind`` (that module's
docstring has the rules). Tables and series are standardised with training statistics
(float64, constant features detected) when ``standardize`` is "auto"; images are expected
in [-1, 1]. Every parameter and the input are checked before any training starts
(``_validate_params``, ``check_input``, ``_check_training_input``).
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
from historyad.detectors.inputs import (
    FLOAT32_SQUARE_MAX,
    INPUT_KINDS,
    InputSpec,
    InputValueError,
    check_input,
    to_numpy,
)
from historyad.detectors.outputs import OutlierOutputs
from historyad.detectors.persistence import DetectorFileError, load_detector, save_detector
from historyad.detectors.standardize import fit_standardization, to_float32

logger = logging.getLogger(__name__)

ArrayLike = np.ndarray | torch.Tensor

__all__ = ["ArrayLike", "BaseDetector", "DetectorFileError", "detector_params", "to_numpy"]

D = TypeVar("D", bound="BaseDetector")


def _is_device(device: Any) -> bool:
    """A device name torch can parse ('cpu', 'cuda:0', 'mps'); availability is checked at
    fit."""
    return isinstance(device, str | torch.device) and torch.device(device) is not None


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
    input_kind: str = "auto"  # how the axes are read (historyad.detectors.inputs)

    #: parameter -> constraint, this class's own parameters only (``parameter_constraints``)
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "contamination": Interval(float, gt=0, le=0.5),  # PyOD's and sklearn's range
        "standardize": Options("auto", True, False),
        "device": Check(_is_device, "a torch device such as 'cpu' or 'cuda:0'"),
        "input_kind": Options(*INPUT_KINDS),
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
        Raises ValueError / TypeError for parameters outside their constraints and for
        inputs the detector cannot take (``calibration`` included), before any training."""
        Xn = self._fit_input(X)
        if calibration is not None and not isinstance(calibration, float | int | np.number):
            calibration = self._scoring_input(calibration, name="calibration", fitted=False)
        n_all = len(Xn)
        need, why = self._min_training_rows()
        Xn, X_cal = split_calibration(Xn, calibration, seed=self._split_seed(),
                                      min_train=need, min_train_reason=why)
        if len(Xn) != n_all:  # rows held out: the checks and the scaler see the rest only
            self._check_training_input(Xn)
            self._fit_scaler(Xn)
        self._fit(self._to_tensor(Xn))
        self.decision_scores_ = self._finite(self._training_scores(Xn), Xn, "the training data")
        self._finish_fit(X_cal)  # threshold_, labels_, calibration_scores_ (outputs.py)
        return self

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Anomaly scores, shape (N,): higher = more anomalous."""
        Xn = self._scoring_input(X)
        return self._finite(self._score_array(Xn), Xn, "X")

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """sklearn's convention (higher = more normal): ``-decision_function(X)``."""
        return -self.decision_function(X)

    def prepare_training_data(self, X: ArrayLike) -> torch.Tensor:
        """Validate ``X``, record its shape, fit the scaler and return the preprocessed
        training tensor (N, *input_shape) exactly as ``fit`` trains on it (the harness uses
        this to train one GAN shared by several detectors)."""
        return self._to_tensor(self._fit_input(X))

    # -- the one input path ------------------------------------------------------------
    def _fit_input(self, X: ArrayLike) -> np.ndarray:
        """Everything ``fit`` checks before any training, in order: the parameters, the
        input (``check_input``), what this detector needs of it (``_check_training_input``:
        rows, batch sizes, a pre-trained GAN...). Records ``input_shape_``, ``kind_``,
        ``n_features_in_`` and ``feature_names_in_`` (DataFrames with string column names)
        and fits the standardisation. Returns the checked array (N, *input_shape_)."""
        self._validate_params()
        self._check_device()
        checked = check_input(X, input_kind=self.input_kind,
                              standardized=self._standardizes("image"),
                              owner=type(self).__name__)
        Xn = checked.X
        self.input_shape_ = tuple(int(s) for s in Xn.shape[1:])
        self.kind_ = checked.kind
        self.n_features_in_ = int(np.prod(self.input_shape_))
        if checked.feature_names is not None:
            self.feature_names_in_ = checked.feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._check_training_input(Xn)
        self._fit_scaler(Xn)
        return Xn

    def _input_spec(self) -> InputSpec:
        """What fit saw, for checking scoring inputs."""
        return InputSpec(self.kind_, tuple(self.input_shape_),
                         getattr(self, "feature_names_in_", None),
                         standardized=self._standardizes(self.kind_))

    def _scoring_input(self, X: ArrayLike, *, name: str = "X",
                       fitted: bool = True) -> np.ndarray:
        """``X`` through the input layer against what fit saw: the same checks as ``fit``
        plus the per-sample shape and the feature names. ``fitted=False`` inside ``fit``
        (validation sets), where ``threshold_`` is not set yet."""
        if fitted:
            check_is_fitted(self, "threshold_")
        return check_input(X, input_kind=self.input_kind, fitted=self._input_spec(),
                           name=name, owner=type(self).__name__).X

    def _check_training_input(self, X: np.ndarray) -> None:
        """What this detector needs of its (checked) training input, before any training;
        the base checks the number of rows (``_min_training_rows``). Subclasses extend it."""
        need, why = self._min_training_rows()
        if len(X) < need:
            raise InputValueError(
                f"{type(self).__name__} needs at least {need} training samples ({why}); "
                f"got n_samples={len(X)}"
            )

    def _min_training_rows(self) -> tuple[int, str]:
        """(the fewest training rows this detector can fit, why)."""
        return 1, "one"

    def _finite(self, scores: np.ndarray, X: np.ndarray, what: str) -> np.ndarray:
        """``scores``, or an error when some are not finite: InputValueError when the
        (standardised) input is so large that float32 arithmetic overflows (squares beyond
        3.4e38, i.e. values beyond ~1.8e19), else FloatingPointError (a diverged net)."""
        bad = ~np.isfinite(scores)
        if not bad.any():
            return scores
        rows = np.flatnonzero(bad)
        peak = max(float(np.abs(self._to_tensor(X[i : i + 1]).cpu().numpy()).max())
                   for i in rows[:100])
        units = " training standard deviations" if self.mean_ is not None else ""
        if peak > FLOAT32_SQUARE_MAX:
            raise InputValueError(
                f"{what}: {len(rows)} scores are not finite (the first for row {rows[0]}): "
                f"values reach {peak:.3g}{units}, too large for the detector's float32 "
                f"arithmetic (squares overflow beyond ~{FLOAT32_SQUARE_MAX:.2g}); rescale "
                "or remove these rows"
            )
        raise FloatingPointError(
            f"{what}: {len(rows)} scores of {type(self).__name__} are not finite (the first "
            f"for row {rows[0]}) although the inputs are moderate (up to {peak:.3g}{units}); "
            "the fitted networks may have diverged: refit with a lower learning rate"
        )

    def _split_seed(self) -> int:
        """The seed of the calibration hold-out: the detector's seed when it has one."""
        seed = getattr(self, "_seed", None)
        return int(seed()) if callable(seed) else 0

    def _check_device(self) -> None:
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} is not available here "
                             "(torch.cuda.is_available() is False); use device='cpu'")

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

    def _standardizes(self, kind: str) -> bool:
        """Whether inputs of ``kind`` are standardised: "auto" for tables and series."""
        if isinstance(self.standardize, str):  # "auto"
            return kind != "image"
        return bool(self.standardize)

    def _fit_scaler(self, X: np.ndarray) -> None:
        """``mean_`` / ``scale_`` (float64, per feature or channel; ``fit_standardization``)
        when this kind of input is standardised, else None."""
        if self._standardizes(self.kind_):
            self.mean_, self.scale_ = fit_standardization(X)
        else:
            self.mean_ = None
            self.scale_ = None

    def _to_tensor(self, X: np.ndarray, *, name: str = "X") -> torch.Tensor:
        """Checked rows (B, *input_shape) -> the float32 tensor the detector computes on:
        standardised in float64 with the training statistics, then cast (InputValueError
        for values beyond the float32 range)."""
        if self.mean_ is not None:
            X = (X.astype(np.float64, copy=False) - np.asarray(self.mean_, np.float64)) / \
                np.asarray(self.scale_, np.float64)
        arr = to_float32(X, name=name, standardized=self.mean_ is not None)
        return torch.from_numpy(arr).to(self._device)

    def _score_array(
        self, X: np.ndarray, fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        *, name: str = "X",
    ) -> np.ndarray:
        """``fn`` (default ``self._score``) over preprocessed batches of the checked rows X
        -> (N,) float64, in batches of ``score_batch_size`` so memory stays bounded."""
        fn = self._score if fn is None else fn
        out = []
        for start in range(0, len(X), self.score_batch_size):
            batch = self._to_tensor(X[start : start + self.score_batch_size], name=name)
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
