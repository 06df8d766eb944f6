"""The byte budget of the snapshot store: ``HistoryConfig.history_store="auto"`` -> memory or disk.

HistoryAD (seed 000 §4.3) keeps ``saves_per_epoch`` generator snapshots per epoch over the window
[α, n_epochs]: 250 snapshots of a 5 M-parameter generator are 5 GB in float32. "auto" keeps
them in memory while the projection fits ``HistoryConfig.memory_budget_mb`` and on disk
otherwise (:mod:`historyad.training.stores`).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch

from historyad.config import HistoryConfig

logger = logging.getLogger(__name__)


def resolve_store(
    history: HistoryConfig, generator: torch.nn.Module, *, n_epochs: float, per_epoch: int
) -> HistoryConfig:
    """Turn ``history_store="auto"`` into "memory" or "disk" from the projected snapshot bytes:
    (snapshots kept in [α, n_epochs]) × (generator parameters and buffers) × dtype size.

    ``per_epoch`` is the number of generator iterations per epoch (at most one snapshot each);
    any other ``history.history_store`` is returned unchanged.
    """
    if history.history_store != "auto":
        return history
    saves = min(history.saves_per_epoch, per_epoch)
    n_kept = max(1, int(np.ceil(saves * max(n_epochs - history.alpha, 0.0))) + 1)
    numel = sum(t.numel() for t in generator.state_dict().values() if t.is_floating_point())
    nbytes = n_kept * numel * (2 if history.store_dtype == "float16" else 4)
    store = "memory" if nbytes <= history.memory_budget_mb * 2**20 else "disk"
    logger.info(
        "history store 'auto' -> %r (%d snapshots × %d values ≈ %.0f MB, budget %.0f MB)",
        store,
        n_kept,
        numel,
        nbytes / 2**20,
        history.memory_budget_mb,
    )
    return dataclasses.replace(history, history_store=store)


__all__ = ["resolve_store"]
