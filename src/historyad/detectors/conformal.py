"""Split-conformal p-values and Benjamini–Hochberg false-discovery control.

A detector fitted with ``fit(X, calibration=...)`` keeps a set of normal samples out of
training and stores their scores (``calibration_scores_``). A new sample with score s then
gets the split-conformal p-value (Vovk et al., "Algorithmic learning in a random world";
Laxhammar & Falkman 2015; Bates et al. 2023, "Testing for outliers with conformal
p-values")

    p(s) = (1 + #{calibration scores ≥ s}) / (n_cal + 1).

If the calibration samples and a new normal sample are exchangeable (drawn i.i.d. from the
normal law, say), P(p ≤ α) ≤ α for every α: flagging p ≤ α keeps the false-alarm rate at
most α, whatever the detector and however poorly it was trained (a poor one only loses
power). Over a batch, ``benjamini_hochberg`` flags with the false-discovery rate controlled
at α (conformal p-values of one calibration set are positively dependent, PRDS, so BH is
valid: Bates et al. 2023).

The guarantee needs calibration samples that nothing in the detector was fitted on: with
``Detector.from_gan(run)``, the shared GAN must not have seen them either (train it on the
training part only). It is marginal (over the draw of the calibration set and the new
sample) and assumes no drift between calibration and use; recalibrate (``calibrate``) on
recent normals when the process changes.

Why these few lines and not a library: the kept conformal packages do not fit an anomaly
detector that already follows the scikit-learn contract. crepes' conformal classifiers and
regressors need class labels or regression targets for calibration, and normal data have
neither; puncc's and nonconform's anomaly-detection wrappers own the model, its fit and the
train/calibration split (and pull pandas and more), while here the split must go through
each detector's own ``fit`` (shared GANs, leave-one-out training scores); PyThresh picks
score thresholds without a false-alarm guarantee. The p-value itself is one
``np.searchsorted`` on the sorted calibration scores; BH is scipy's
``scipy.stats.false_discovery_control`` (scipy ≥ 1.11).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import false_discovery_control

from historyad.detectors.inputs import to_numpy

__all__ = [
    "benjamini_hochberg",
    "conformal_p_values",
    "split_calibration",
    "two_sided_p_values",
]


def conformal_p_values(calibration_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(N,) p-values (1 + #{calibration ≥ s}) / (n_cal + 1) of ``scores`` (N,) against
    ``calibration_scores`` (n_cal,), higher score = more anomalous; in (0, 1]."""
    cal = np.sort(np.asarray(calibration_scores, dtype=np.float64).reshape(-1))
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    at_least = len(cal) - np.searchsorted(cal, s, side="left")  # #{cal >= s}
    return (1.0 + at_least) / (len(cal) + 1.0)


def two_sided_p_values(calibration_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(N,) p-values of a test whose alternative is either tail (the critic's interval rule):
    min(1, 2·min(p_upper, p_lower)), each one-sided p-value conformal; valid by Bonferroni."""
    upper = conformal_p_values(calibration_scores, scores)
    lower = conformal_p_values(-np.asarray(calibration_scores, dtype=np.float64),
                               -np.asarray(scores, dtype=np.float64))
    return np.minimum(1.0, 2.0 * np.minimum(upper, lower))


def benjamini_hochberg(p_values: np.ndarray, alpha: float) -> np.ndarray:
    """(N,) bool: the rejections of the Benjamini–Hochberg step-up procedure at level
    ``alpha`` (expected fraction of false discoveries among the flagged ≤ alpha), i.e. the
    BH-adjusted p-values (``scipy.stats.false_discovery_control``) that are ≤ alpha."""
    check_alpha(alpha)
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if len(p) == 0:
        return np.zeros(0, dtype=bool)
    return false_discovery_control(p, method="bh") <= alpha


def check_alpha(alpha: Any) -> float:
    """``alpha`` as a float in (0, 1), else ValueError naming it."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.floating):
        raise ValueError(f"alpha={alpha!r} must be a number in (0, 1)")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha={alpha!r} must be in (0, 1) (the false-alarm rate)")
    return float(alpha)


def check_alpha_reachable(alpha: float, n_cal: int, *, two_sided: bool = False) -> None:
    """ValueError when no p-value can reach ``alpha``: with n_cal calibration scores the
    smallest conformal p-value is 1/(n_cal + 1) (twice that for a two-sided test), so a
    smaller ``alpha`` would silently flag nothing."""
    smallest = (2.0 if two_sided else 1.0) / (n_cal + 1.0)
    if alpha < smallest:
        need = math.ceil((2.0 if two_sided else 1.0) / alpha) - 1
        raise ValueError(
            f"alpha={alpha:g} is below the smallest p-value {smallest:.3g} that {n_cal} "
            f"calibration scores can give ({'2' if two_sided else '1'}/(n_cal + 1)), so "
            f"nothing could ever be flagged; hold out at least {need} normal samples "
            "(fit(X, calibration=...) / --calibration) or use a larger alpha"
        )


def split_calibration(
    X: np.ndarray, calibration: Any, *, seed: int = 0, min_train: int = 2,
    min_train_reason: str = "",
) -> tuple[np.ndarray, np.ndarray | None]:
    """(X_train, X_cal) from ``fit``'s ``calibration`` argument.

    - None: (X, None), no calibration set;
    - a fraction in (0, 1): that share of the rows (at least one, and at least one left to
      train on) is held out. Tables and images: a random subset (seeded by ``seed``).
      Series windows (rank 3): the *last* rows, one contiguous block, because windows cut
      with a stride shorter than the window overlap their neighbours, and a calibration
      window that shares most of its values with a training window scores like a training
      window (too low), which would make the p-values too small. Pass the windows of a
      separate stretch of normal data as an array for full control;
    - an array: held-out normal samples of the same per-sample shape as X.

    ``min_train`` (and why, ``min_train_reason``): the fewest rows the detector must keep
    to train on; a fraction leaving fewer is a ValueError naming both numbers.
    """
    if calibration is None:
        return X, None
    if isinstance(calibration, float | np.floating) and not isinstance(calibration, bool):
        frac = float(calibration)
        if not 0.0 < frac < 1.0:
            raise ValueError(
                f"calibration={calibration!r}: a fraction must be in (0, 1) (the share of X "
                "held out as calibration normals), or pass an array of normal samples"
            )
        n = len(X)
        n_cal = round(frac * n)
        need = max(2, int(min_train))
        if n_cal < 1 or n - n_cal < need:
            why = f" ({min_train_reason})" if min_train_reason else ""
            raise ValueError(
                f"calibration={frac} of {n} samples leaves {n_cal} for calibration and "
                f"{n - n_cal} for training; at least 1 and {need} are needed{why}"
            )
        if X.ndim == 3:  # series windows: one contiguous block at the end
            return X[: n - n_cal], X[n - n_cal :]
        perm = np.random.default_rng(seed).permutation(n)
        return X[np.sort(perm[n_cal:])], X[np.sort(perm[:n_cal])]
    if isinstance(calibration, int | bool):
        raise ValueError(
            f"calibration={calibration!r}: give a fraction in (0, 1) (e.g. 0.2) or an array "
            "of held-out normal samples"
        )
    X_cal = to_numpy(calibration, name="calibration")
    if X_cal.shape[1:] != X.shape[1:]:
        raise ValueError(
            f"calibration has per-sample shape {X_cal.shape[1:]} but X has {X.shape[1:]}"
        )
    return X, X_cal
