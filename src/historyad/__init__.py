"""historyad: anomaly detection with generative adversarial networks.

Public API (imported lazily, so `import historyad` runs nothing heavy):
DensityRatioEnsemble (recommended), DensityRatioDetector, HistoryAD, CriticDetector,
EncoderDetector, InversionDetector, KNNDetector, load.
Scores follow one sign everywhere: higher = more anomalous.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "DensityRatioEnsemble": "historyad.detectors.density_ratio",
    "DensityRatioDetector": "historyad.detectors.density_ratio",
    "HistoryAD": "historyad.detectors.history_ad",
    "CriticDetector": "historyad.detectors.critic",
    "EncoderDetector": "historyad.detectors.encoder",
    "InversionDetector": "historyad.detectors.inversion",
    "KNNDetector": "historyad.detectors.knn",
    "load": "historyad.data",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'historyad' has no attribute {name!r}")
