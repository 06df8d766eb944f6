"""The input layer of every detector: what ``fit``, ``decision_function`` and the CLI accept.

One place checks an input's type, dtype, rank, emptiness and finiteness and turns it into a
float32 array; another fits the per-feature / per-channel standardisation on training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


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
