"""The numeric side of the input layer: the standardisation statistics of tables and series
(``standardize`` in the detectors: per feature or channel, in float64, constant features at
scale 1 as scikit-learn's ``StandardScaler`` decides them) and the float32 conversion the
networks and neighbour searches compute in."""

from __future__ import annotations

import math

import numpy as np

from historyad.detectors.inputs import FLOAT32_MAX, InputValueError


def fit_standardization(X: np.ndarray, *, name: str = "X") -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (tables) or per-channel (series, images) ``(mean, scale)``, float64,
    shaped to broadcast over one sample: (D,), (C, 1) or (C, 1, 1).

    Statistics are computed in float64 on each feature divided by its largest magnitude
    (so neither the mean nor the variance overflows, whatever the values), then scaled
    back. A feature is constant when its variance is within scikit-learn's rounding bound
    (``StandardScaler``: var <= n·eps·var + (n·mean·eps)², relative to the mean); its scale
    is 1."""
    axes = (0,) if X.ndim == 2 else (0, *range(2, X.ndim))
    n = X.size // X.shape[1]  # values per feature / channel
    peak = np.abs(X).max(axis=axes, keepdims=True).astype(np.float64)
    peak[peak == 0] = 1.0
    Z = X.astype(np.float64)  # a copy
    Z /= peak
    mean = Z.mean(axis=axes, keepdims=True)
    Z -= mean
    var = np.square(Z, out=Z).mean(axis=axes, keepdims=True)
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.where(constant, 1.0, np.sqrt(var) * peak)
    mean = mean * peak
    if not (np.isfinite(mean).all() and np.isfinite(scale).all()):  # cannot happen (peak)
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(scale)).reshape(-1))
        raise InputValueError(f"{name}: the mean or standard deviation of features "
                              f"{bad.tolist()} overflows float64; rescale them")
    return mean[0], scale[0]


def to_float32(X: np.ndarray, *, name: str = "X", standardized: bool = False) -> np.ndarray:
    """X as a contiguous float32 array (what the networks and neighbour searches compute
    in); InputValueError when a finite value lies beyond the float32 range."""
    if X.dtype == np.float32:  # a copy when read-only (torch needs writable memory)
        return np.ascontiguousarray(X) if X.flags.writeable else np.array(X, order="C")
    peak = float(np.abs(X).max()) if X.size else 0.0
    if not math.isfinite(peak) or peak > FLOAT32_MAX:
        after = " after standardisation with the training statistics" if standardized else ""
        fix = ("it is that many training standard deviations away: rescale the feature"
               if standardized else f"rescale {name}, or pass standardize=True")
        raise InputValueError(
            f"{name} has finite values beyond the float32 range{after} (largest magnitude "
            f"{peak:.3g} > {FLOAT32_MAX:.3g}); the detectors compute in float32: {fix}"
        )
    out = np.ascontiguousarray(X, dtype=np.float32)
    return out if out.flags.writeable else out.copy()
