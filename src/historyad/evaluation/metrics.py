"""Ranking metrics for anomaly scores (higher score = more anomalous; label 1 = anomaly).

Thin, validated wrappers around scikit-learn: every function rejects length mismatches,
labels other than 0/1, single-class labels and non-finite scores with a clear ValueError.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from sklearn import metrics as _skm

logger = logging.getLogger(__name__)


def _check(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return (y (N,) int64 in {0, 1} with both classes, scores (N,) float64)."""
    y = np.asarray(y_true)
    s = np.asarray(scores)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(
            f"y_true {y.shape} and scores {s.shape} must be 1-D arrays of the same length"
        )
    if len(y) != len(s):
        raise ValueError(
            f"y_true has {len(y)} labels but scores has {len(s)} values; lengths must match"
        )
    if len(y) == 0:
        raise ValueError("y_true and scores are empty; at least one sample per class is needed")
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number) or not np.isin(y, (0, 1)).all():
        raise ValueError(
            f"y_true holds {np.unique(y)[:10]}; allowed are 0 (normal) and 1 (anomaly)"
        )
    y = y.astype(np.int64)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        only = "anomalies (1)" if n_pos else "normal samples (0)"
        raise ValueError(
            f"y_true holds only {only}; AUROC/AUPRC need both classes (0 = normal, 1 = anomaly)"
        )
    if not np.issubdtype(s.dtype, np.number) or s.dtype == bool:
        raise ValueError(f"scores have dtype {s.dtype}; allowed are real numbers")
    s = s.astype(np.float64)
    bad = ~np.isfinite(s)
    if bad.any():
        kind = "NaN" if np.isnan(s).any() else "infinite"
        raise ValueError(
            f"scores hold {int(bad.sum())} non-finite values ({kind}, first at index "
            f"{int(np.flatnonzero(bad)[0])}); only finite numbers are allowed"
        )
    return y, s


def auprc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (anomaly = positive class).

    ``AP = Σ_n (R_n − R_{n−1}) P_n`` over score thresholds (scikit-learn's
    ``average_precision_score``). A random ranking scores about the anomaly fraction.
    """
    y, s = _check(y_true, scores)
    return float(_skm.average_precision_score(y, s))


def auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: P(score of an anomaly > score of a normal), ties count ½."""
    y, s = _check(y_true, scores)
    return float(_skm.roc_auc_score(y, s))


def ranking_metrics(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """``(auprc, auroc)``; both NaN when ``y_true`` holds one class only (undefined)."""
    y = np.asarray(y_true)
    if y.size == 0 or y.min() == y.max():
        return math.nan, math.nan
    return auprc(y, scores), auroc(y, scores)


def pr_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve: (precision (K+1,), recall (K+1,), thresholds (K,)).

    Recall decreases along the arrays; the last point is (precision 1, recall 0).
    """
    y, s = _check(y_true, scores)
    precision, recall, thresholds = _skm.precision_recall_curve(y, s)
    return precision, recall, thresholds


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve: (false-positive rate (K,), true-positive rate (K,), thresholds (K,)).

    Starts at (0, 0) with threshold +inf and ends at (1, 1); all thresholds are kept.
    """
    y, s = _check(y_true, scores)
    fpr, tpr, thresholds = _skm.roc_curve(y, s, drop_intermediate=False)
    return fpr, tpr, thresholds


__all__ = ["auprc", "auroc", "pr_curve", "ranking_metrics", "roc_curve"]
