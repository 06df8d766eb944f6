"""Ranking metrics for anomaly scores (higher score = more anomalous; label 1 = anomaly).

Thin, validated wrappers around scikit-learn: every function rejects length mismatches,
labels other than 0/1, single-class labels and non-finite scores with a clear ValueError.

Event-level scores of series (``range_precision_recall``): the range-based precision and
recall of Tatbul, Lee, Zdonik, Alam & Gottschlich, *Precision and Recall for Time Series*
(NeurIPS 2018, arXiv 1803.03639), with a flat positional bias and the cardinality factor
1/x, implemented here in a few lines: the kept libraries that compute them (``prts``, pinned
to numpy < 2; ``TSB-AD`` and ``vus``, which pull tensorflow or transformers) do not install
cleanly beside this package.
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


def label_ranges(labels: np.ndarray) -> list[tuple[int, int]]:
    """The runs of 1 in a 0/1 sequence as half-open ``(start, end)`` index ranges."""
    x = np.concatenate([[0], (np.asarray(labels) != 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(x))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _range_scores(ranges: list[tuple[int, int]], others: list[tuple[int, int]],
                  alpha: float) -> float:
    """Mean over ``ranges`` of α·existence + (1 − α)·cardinality·overlap (Tatbul et al. 2018,
    eqs. 2-5, flat bias): overlap = |range ∩ others| / |range|, cardinality = 1 when the range
    meets at most one of ``others``, else 1 / (the number it meets)."""
    total = 0.0
    for a, b in ranges:
        hits = [min(b, d) - max(a, c) for c, d in others if min(b, d) > max(a, c)]
        existence = 1.0 if hits else 0.0
        cardinality = 1.0 if len(hits) <= 1 else 1.0 / len(hits)
        total += alpha * existence + (1 - alpha) * cardinality * sum(hits) / (b - a)
    return total / len(ranges)


def range_precision_recall(
    y_true: np.ndarray, y_pred: np.ndarray, *, alpha: float = 0.0
) -> tuple[float, float, float]:
    """Range-based (event-level) ``(precision, recall, F1)`` of 0/1 predictions per time step
    (Tatbul et al. 2018, flat bias, cardinality factor 1/x).

    The anomalous events are the runs of 1 in ``y_true`` (R_i), the predicted events the runs
    in ``y_pred`` (P_j). Recall = mean over R_i of α·[R_i meets some P_j] + (1 − α)·γ·
    Σ_j |R_i ∩ P_j| / |R_i|; precision = mean over P_j of γ·Σ_i |P_j ∩ R_i| / |P_j| (α = 0);
    γ = 1 when the range meets at most one range of the other side, else 1 / that number.
    ``alpha`` = 1 counts an event found as soon as one of its steps is flagged. No predicted
    event: precision 0. F1 = 2PR / (P + R), 0 when both are 0.

    Raises:
        ValueError: lengths differ, values other than 0/1, no anomalous step in ``y_true``,
            or ``alpha`` outside [0, 1].
    """
    y = np.asarray(y_true)
    p = np.asarray(y_pred)
    if y.ndim != 1 or y.shape != p.shape:
        raise ValueError(f"y_true {y.shape} and y_pred {p.shape} must be 1-D of one length")
    for name, arr in (("y_true", y), ("y_pred", p)):
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} holds {np.unique(arr)[:10]}; allowed are 0 and 1")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha!r} is not allowed; it must be in [0, 1]")
    real, pred = label_ranges(y), label_ranges(p)
    if not real:
        raise ValueError("y_true holds no anomalous step; event-level scores need one")
    recall = _range_scores(real, pred, alpha)
    precision = _range_scores(pred, real, 0.0) if pred else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


__all__ = [
    "auprc",
    "auroc",
    "label_ranges",
    "pr_curve",
    "range_precision_recall",
    "ranking_metrics",
    "roc_curve",
]
