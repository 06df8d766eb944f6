"""Adversarial training: losses and update steps, the training loop, pickle-free checkpoints.

Re-exports the ``__all__`` of :mod:`historyad.training.losses` and
:mod:`historyad.training.trainer`, and the checkpoint functions below.
``historyad.training.history`` (generator history, P_Ghist sampling) is imported on demand.
"""

from historyad.training import losses, trainer
from historyad.training.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from historyad.training.losses import *  # noqa: F403
from historyad.training.trainer import *  # noqa: F403

__all__ = [
    "CheckpointError",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    *losses.__all__,
    *trainer.__all__,
]
