"""The `Split` every protocol returns, and the checks and size summary the protocols share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Split:
    """Training data (normal samples only) and a labelled test set.

    Attributes:
        X_train: (N_train, ...) float32 normal samples.
        X_test: (N_test, ...) float32 samples, same trailing shape.
        y_test: (N_test,) int64, 1 = anomaly, 0 = normal.
        name: e.g. ``"mnist/leave-out-3"``.
        meta: protocol parameters and sizes (JSON-ready scalars and lists).
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X_train = np.asarray(self.X_train, dtype=np.float32)
        self.X_test = np.asarray(self.X_test, dtype=np.float32)
        self.y_test = np.asarray(self.y_test, dtype=np.int64)
        if self.y_test.shape != (len(self.X_test),):
            raise ValueError(
                f"y_test has shape {self.y_test.shape}; allowed is ({len(self.X_test)},) to "
                "match X_test"
            )
        if not np.isin(self.y_test, (0, 1)).all():
            raise ValueError(f"y_test holds {np.unique(self.y_test)}; allowed are 0 and 1")
        if self.X_train.shape[1:] != self.X_test.shape[1:]:
            raise ValueError(
                f"X_train {self.X_train.shape} and X_test {self.X_test.shape} must share the "
                "sample shape"
            )

    def __repr__(self) -> str:
        return (
            f"Split(name={self.name!r}, X_train={self.X_train.shape}, X_test={self.X_test.shape}, "
            f"anomalies={int(self.y_test.sum())})"
        )


def check_fraction(name: str, value: float) -> None:
    """Raise ValueError naming `name` unless 0 < `value` < 1."""
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}={value!r} is not allowed; it must lie strictly in (0, 1)")


def split_sizes(X_train: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    """The size entries of every protocol's meta: n_train, n_test, n_test_normal,
    n_test_anomaly and anomaly_fraction (0.0 for an empty test set)."""
    n_anom = int(y_test.sum())
    return {
        "n_train": len(X_train),
        "n_test": len(y_test),
        "n_test_normal": len(y_test) - n_anom,
        "n_test_anomaly": n_anom,
        "anomaly_fraction": n_anom / len(y_test) if len(y_test) else 0.0,
    }


__all__ = ["Split", "check_fraction", "split_sizes"]
