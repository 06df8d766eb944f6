"""The outputs every detector gives besides its scores: PyOD's and scikit-learn's outlier
detector contract, and calibrated p-values.

``OutlierOutputs`` is a mixin of ``BaseDetector``. With a fitted detector:

- ``labels_`` (N,) 0/1: the training data's labels at ``threshold_`` (PyOD's attribute),
  from ``decision_scores_``. For the leave-one-out detectors (kNN, the density-ratio ones,
  HistoryAD's knn estimator) these scores leave each training row out of its own
  neighbours, so ``labels_`` flags about ``contamination`` of the training data, while
  ``predict(X_train)`` scores the rows *with* themselves as neighbours and flags fewer;
- ``fit_predict(X)``: ``fit(X).labels_`` (PyOD's definition; 0 = normal, 1 = anomaly, not
  scikit-learn's ±1);
- ``predict_proba(X, method="linear" | "unify")`` (N, 2) [P(normal), P(anomaly)], PyOD's
  definitions: "linear" min-max scales the score with the training scores' range and clips
  to [0, 1]; "unify" is erf((s − μ) / (σ√2)) clipped to [0, 1], μ, σ the mean and standard
  deviation of the training scores (Kriegel et al. 2011). Rows sum to 1; column 1 does not
  decrease with the score;
- ``predict_confidence(X)``: PyOD's ExCeed confidence (Perini et al. 2020) in the label
  ``predict`` gives, from the rank of the score among the training scores;
- ``p_values(X)``: split-conformal p-values against the calibration scores
  (``historyad.detectors.conformal``); ``predict(X, alpha=0.05)`` flags p ≤ α (false-alarm
  rate ≤ α on normals exchangeable with the calibration set), ``predict(X, alpha=0.05,
  fdr=True)`` flags the Benjamini–Hochberg rejections of the batch (false-discovery rate
  ≤ α). Needs ``fit(X, calibration=...)`` or ``calibrate(X_normal)``;
- the estimator tag: ``OutlierMixin`` gives ``estimator_type="outlier_detector"``
  (``sklearn.base.is_outlier_detector`` is True);
- ``to_onnx(path)``: the network-scored detectors as an ONNX graph
  (``historyad.detectors.onnx_graph``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf
from scipy.stats import binom
from sklearn.base import OutlierMixin
from sklearn.utils.validation import check_is_fitted

from historyad.detectors.conformal import (
    benjamini_hochberg,
    check_alpha,
    check_alpha_reachable,
    conformal_p_values,
    two_sided_p_values,
)

__all__ = ["OutlierOutputs"]


class OutlierOutputs(OutlierMixin):
    """PyOD / scikit-learn outputs and conformal p-values (module docstring). Needs the
    host's ``decision_function``, ``decision_scores_``, ``threshold_``, ``contamination``."""

    # -- the threshold rule (``fit`` calls ``_set_threshold``; ``predict`` ``_flag``) ----------
    def _set_threshold(self) -> None:
        """``threshold_``: the ``1 - contamination`` quantile of the training scores.
        Detectors with another rule (the critic's interval) override this and ``_flag``."""
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))

    def _flag(self, scores: np.ndarray) -> np.ndarray:
        """0/1 (N,) labels of scores (N,) at the fitted threshold: ``scores > threshold_``."""
        return (np.asarray(scores) > self.threshold_).astype(np.int64)

    def _two_sided(self) -> bool:
        """Whether both tails of the score are anomalous (p-values test both tails)."""
        return False

    def _finish_fit(self, X_cal: np.ndarray | None) -> None:
        """After ``fit`` set ``decision_scores_``: the threshold, ``labels_`` and the
        calibration scores of the held-out normals ``X_cal`` (None: none)."""
        self._set_threshold()
        self.labels_ = self._flag(self.decision_scores_)
        self.calibration_scores_ = None
        if X_cal is not None:
            self.calibrate(X_cal)

    # -- predictions -------------------------------------------------------------------
    def predict(
        self,
        X: Any,
        *,
        alpha: float | None = None,
        fdr: bool = False,
        return_confidence: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """0 = normal, 1 = anomaly.

        - ``alpha=None``: at the fitted threshold (``decision_function(X) > threshold_``;
          the critic's interval rule for it);
        - ``alpha`` in (0, 1): ``p_values(X) <= alpha``, a false-alarm rate ≤ alpha on
          normal samples exchangeable with the calibration set;
        - ``alpha`` and ``fdr=True``: the Benjamini–Hochberg rejections of the batch X, a
          false-discovery rate ≤ alpha among the flagged.

        ``return_confidence``: also PyOD's ``predict_confidence`` (at the fitted threshold).
        """
        if alpha is None:
            if fdr:
                raise ValueError("fdr=True needs alpha (the false-discovery rate to control)")
            labels = self._flag(self.decision_function(X))
        else:
            check_alpha(alpha)
            check_alpha_reachable(alpha, len(self._calibration()), two_sided=self._two_sided())
            p = self.p_values(X)
            labels = (benjamini_hochberg(p, alpha) if fdr else p <= alpha).astype(np.int64)
        if return_confidence:
            return labels, self.predict_confidence(X)
        return labels

    def fit_predict(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """``fit(X, **fit_params).labels_``: PyOD's definition, the training labels at the
        fitted threshold (0 = normal, 1 = anomaly). See the module docstring on ``labels_``
        of the leave-one-out detectors."""
        return self.fit(X, y, **fit_params).labels_

    def predict_proba(
        self, X: Any, method: str = "linear", return_confidence: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """(N, 2) [P(normal), P(anomaly)], PyOD's conversions of the score: ``"linear"``
        min-max scaling by the training scores' range, clipped to [0, 1]; ``"unify"``
        erf((s − μ)/(σ√2)) clipped to [0, 1] with the training scores' mean μ and standard
        deviation σ. Rows sum to 1, column 1 is non-decreasing in the score. These are
        score transforms, not calibrated probabilities (``p_values`` are calibrated)."""
        check_is_fitted(self, "threshold_")
        scores = self.decision_function(X)
        train = np.asarray(self.decision_scores_, dtype=np.float64)
        if method == "linear":
            low, span = train.min(), train.max() - train.min()
            anomalous = (scores - low) / (span if span > 0 else 1.0)
        elif method == "unify":
            sigma = train.std()
            anomalous = erf((scores - train.mean()) / ((sigma if sigma > 0 else 1.0) * np.sqrt(2)))
        else:
            raise ValueError(f"method={method!r} is unknown; choose 'linear' or 'unify'")
        anomalous = np.clip(anomalous, 0.0, 1.0)
        probs = np.column_stack([1.0 - anomalous, anomalous])
        if return_confidence:
            return probs, self.predict_confidence(X)
        return probs

    def predict_confidence(self, X: Any) -> np.ndarray:
        """(N,) PyOD's ExCeed confidence (Perini et al. 2020) that the label of ``predict(X)``
        (at the fitted threshold) would stay the same under a perturbed training set: with n
        training scores, k = #{training scores ≤ s} and p = (1 + k)/(2 + n), the confidence
        in "anomaly" is 1 − Binom(n, p).cdf(n − ⌊n·contamination⌋); a "normal" label gets one
        minus that. In [0, 1]."""
        check_is_fitted(self, "threshold_")
        scores = self.decision_function(X)
        train = np.sort(np.asarray(self.decision_scores_, dtype=np.float64))
        n = len(train)
        below = np.searchsorted(train, scores, side="right")  # #{train <= s}
        posterior = (1.0 + below) / (2.0 + n)
        confidence = 1.0 - binom.cdf(n - int(n * self.contamination), n, posterior)
        labels = self._flag(scores)
        return np.where(labels == 1, confidence, 1.0 - confidence)

    # -- conformal p-values ------------------------------------------------------------
    def calibrate(self, X_cal: Any) -> Any:
        """Store the scores of held-out normal samples ``X_cal`` (never trained on) as the
        calibration set of ``p_values``; replaces any earlier one (``fit(X,
        calibration=...)`` calls this). Works on a loaded detector too. Returns ``self``."""
        scores = self.decision_function(X_cal)
        self.calibration_scores_ = np.sort(scores.astype(np.float64))
        return self

    def p_values(self, X: Any) -> np.ndarray:
        """(N,) split-conformal p-values (1 + #{calibration scores ≥ s}) / (n_cal + 1) of
        the samples' scores s: small = anomalous; P(p ≤ α) ≤ α for a normal sample
        exchangeable with the calibration set. Series: one p-value per window (row).
        The critic in interval mode tests both tails, min(1, 2·min(p_upper, p_lower)).
        ValueError without a calibration set."""
        check_is_fitted(self, "threshold_")
        self._calibration()  # before scoring: no calibration set, no work
        return self.p_values_of_scores(self.decision_function(X))

    def p_values_of_scores(self, scores: np.ndarray) -> np.ndarray:
        """``p_values`` of scores (N,) already computed by ``decision_function`` (e.g. the
        window scores of a series file). ValueError without a calibration set."""
        cal = self._calibration()
        scores = np.asarray(scores, dtype=np.float64)
        if self._two_sided():
            return two_sided_p_values(cal, scores)
        return conformal_p_values(cal, scores)

    def _calibration(self) -> np.ndarray:
        """The sorted calibration scores; ValueError naming the remedies when there are none."""
        cal = getattr(self, "calibration_scores_", None)
        if cal is None:
            raise ValueError(
                f"this {type(self).__name__} has no calibration set, so it has no p-values: "
                "fit it with fit(X, calibration=0.2) (a held-out share of X) or "
                "fit(X, calibration=X_normal), or call calibrate(X_normal) with normal "
                "samples it was not trained on"
            )
        return cal

    # -- export ------------------------------------------------------------------------
    def to_onnx(self, path: str | Path, *, opset: int | None = None) -> Path:
        """Write the fitted detector as an ONNX graph: input ``x`` (N, *input_shape) float32
        raw values (the standardisation is in the graph), outputs ``score`` (N,) and
        ``label`` (N,) int64 at the fitted threshold; the threshold and the model card are
        the graph's ``metadata_props``. Network-scored detectors only (critic, encoder,
        HistoryAD's network); the others raise ``NotExportableError`` saying why. Needs
        the ``export`` extra (onnx, onnxscript). See ``historyad.detectors.onnx_graph``."""
        from historyad.detectors.onnx_graph import export_onnx

        return export_onnx(self, path, opset=opset)
