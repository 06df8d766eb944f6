"""Detector registry: name -> class, for the CLI, experiments and contract tests."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only; base.py never imports the registry (no cycle)
    from historyad.detectors.base import BaseDetector

# name -> (module, class); imported lazily so listing names costs nothing.
DETECTORS: dict[str, tuple[str, str]] = {
    # the detector we recommend (README, "Which detector?"): the CLI's default
    "recommended": ("historyad.detectors.density_ratio", "DensityRatioEnsemble"),
    "density-ratio": ("historyad.detectors.density_ratio", "DensityRatioDetector"),
    "historyad": ("historyad.detectors.history_ad", "HistoryAD"),
    "critic": ("historyad.detectors.critic", "CriticDetector"),
    "encoder": ("historyad.detectors.encoder", "EncoderDetector"),
    "inversion": ("historyad.detectors.inversion", "InversionDetector"),
    "knn": ("historyad.detectors.knn", "KNNDetector"),
}


def available() -> list[str]:
    """Registered detector names whose module can be imported."""
    names = []
    for name, (module, _) in DETECTORS.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        names.append(name)
    return names


def get_detector(name: str) -> type[BaseDetector]:
    """The class registered under ``name`` (e.g. "historyad", "knn")."""
    if name not in DETECTORS:
        raise ValueError(f"detector={name!r} is unknown; choose one of {sorted(DETECTORS)}")
    module, cls = DETECTORS[name]
    return getattr(importlib.import_module(module), cls)


def get_detector_class(class_name: str) -> type[BaseDetector]:
    """Look a registered detector class up by its class name."""
    for name, (_, cls) in DETECTORS.items():
        if cls == class_name:
            return get_detector(name)
    raise ValueError(f"detector class {class_name!r} is unknown")
