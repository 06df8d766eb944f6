"""Detector set-ups shared by ``large_data.py`` and ``scaling.py`` (run as scripts: this
folder is on ``sys.path``).

The GAN detectors train on a FIXED, SMALL budget so that large N stays affordable on two CPU
cores: ``GAN_ITERATIONS`` generator iterations (``n_epochs`` = 0.1 with the
``min_iterations`` floor: 100 up to N = 320 000, then one tenth of a pass, 156 at 500 000),
width-16 nets, and for the detectors' own steps: HistoryAD's D_TV ``DTV_STEPS`` steps
(α = 0.2 · n_epochs, as the CLI's short schedules; 100 snapshots per epoch, so about 8 in
the window), the encoder ``ENCODER_BATCHES`` batches, inversion ``INVERSION_STEPS`` steps.
What grows with N is then what each detector does per row: neighbour searches, training
scores, samples. Numbers from these budgets are costs, not quality.
"""

from __future__ import annotations

from typing import Any

GAN_ITERATIONS = 100
DTV_STEPS = 100
ENCODER_BATCHES = 100
INVERSION_STEPS = 5

#: name -> (kind, class path); "pyod-*" are PyOD's classes with their defaults.
DETECTORS: dict[str, tuple[str, str]] = {
    "knn": ("historyad", "historyad.detectors.knn:KNNDetector"),
    "recommended": ("historyad", "historyad.detectors.density_ratio:DensityRatioEnsemble"),
    "density-ratio": ("historyad", "historyad.detectors.density_ratio:DensityRatioDetector"),
    "historyad": ("historyad", "historyad.detectors.history_ad:HistoryAD"),
    "critic": ("historyad", "historyad.detectors.critic:CriticDetector"),
    "encoder": ("historyad", "historyad.detectors.encoder:EncoderDetector"),
    "inversion": ("historyad", "historyad.detectors.inversion:InversionDetector"),
    "pyod-knn": ("pyod", "pyod.models.knn:KNN"),
    "pyod-iforest": ("pyod", "pyod.models.iforest:IForest"),
}
GAN_DETECTORS = ("recommended", "density-ratio", "historyad", "critic", "encoder", "inversion")


def budget_params(name: str, n_rows: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parameters of detector ``name`` for ``n_rows`` training rows (module docstring)."""
    params: dict[str, Any] = {}
    if name in GAN_DETECTORS:
        params.update(n_epochs=0.1, min_iterations=GAN_ITERATIONS, width=16)
    if name == "historyad":
        params.update(alpha=0.02, saves_per_epoch=100, dtv_steps=DTV_STEPS)
    if name == "encoder":
        params.update(encoder_epochs=max(1e-4, ENCODER_BATCHES * 64 / n_rows))
    if name == "inversion":
        params.update(inversion_steps=INVERSION_STEPS)
    if name == "pyod-iforest":
        params.update(random_state=0)
    return {**params, **(extra or {})}


def make(name: str, n_rows: int, extra: dict[str, Any] | None = None) -> Any:
    """An unfitted detector (imports its module)."""
    import importlib

    _, path = DETECTORS[name]
    module, cls = path.split(":")
    return getattr(importlib.import_module(module), cls)(**budget_params(name, n_rows, extra))
