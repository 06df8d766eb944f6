"""Detectors with the scikit-learn contract (higher score = more anomalous)."""

from historyad.detectors.base import BaseDetector, DetectorFileError
from historyad.detectors.critic import CriticDetector
from historyad.detectors.density_ratio import DensityRatioDetector, DensityRatioEnsemble
from historyad.detectors.encoder import EncoderDetector
from historyad.detectors.history_ad import HistoryAD
from historyad.detectors.inversion import InversionDetector
from historyad.detectors.knn import KNNDetector
from historyad.detectors.registry import available, get_detector

__all__ = [
    "BaseDetector",
    "CriticDetector",
    "DensityRatioDetector",
    "DensityRatioEnsemble",
    "DetectorFileError",
    "EncoderDetector",
    "HistoryAD",
    "InversionDetector",
    "KNNDetector",
    "available",
    "get_detector",
]
