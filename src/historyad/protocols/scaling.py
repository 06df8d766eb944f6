"""`standardize`: scale a split's features with statistics of its training part only."""

from __future__ import annotations

import numpy as np


def standardize(
    X_train: np.ndarray, X_test: np.ndarray, *, eps: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    """Standardise features with training statistics only.

    Tables (N, D): per column. Series (N, C, T) and images (N, C, H, W): per channel (axis 1),
    pooled over samples and time/space. A (near-)constant feature (std < eps) is only centred.

    Returns:
        float32 (X_train, X_test), same shapes.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    if X_train.ndim < 2 or len(X_train) == 0:
        raise ValueError(f"X_train has shape {X_train.shape}; allowed is (N >= 1, D or C, ...)")
    if X_test.shape[1:] != X_train.shape[1:]:
        raise ValueError(
            f"X_test {X_test.shape} and X_train {X_train.shape} must share the sample shape"
        )
    axes = (0,) if X_train.ndim == 2 else (0, *range(2, X_train.ndim))
    mean = X_train.mean(axis=axes, keepdims=True)
    std = X_train.std(axis=axes, keepdims=True)
    std = np.where(std < eps, 1.0, std)
    return ((X_train - mean) / std).astype(np.float32), ((X_test - mean) / std).astype(np.float32)


__all__ = ["standardize"]
