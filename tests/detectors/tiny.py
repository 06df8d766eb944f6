"""Tiny settings of every registered detector (one or two GAN iterations, 8-unit nets), for
tests that fit each detector many times (parameter types, scikit-learn's checks)."""

from __future__ import annotations

from typing import Any


def tiny_params(*, batch_size: int = 16, saves_per_epoch: int = 2) -> dict[str, dict[str, Any]]:
    """registry name -> the parameters of a tiny fit."""
    gan: dict[str, Any] = {"n_epochs": 0.5, "batch_size": batch_size, "width": 8,
                           "min_iterations": 0}
    return {
        "knn": {"n_neighbors": 3},
        "density-ratio": {**gan, "n_neighbors": 3},
        "recommended": {**gan, "n_neighbors": 3},
        "critic": gan,
        "encoder": {**gan, "encoder_epochs": 0.5},
        "inversion": {**gan, "inversion_steps": 3},
        "historyad": {**gan, "n_epochs": 1.0, "alpha": 0.5, "saves_per_epoch": saves_per_epoch,
                      "dtv_steps": 5},
    }
