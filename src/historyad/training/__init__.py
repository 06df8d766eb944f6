"""Adversarial training: losses and update steps, the training loop, pickle-free checkpoints.

``historyad.training.history`` (generator history, P_Ghist sampling) is imported on demand.
"""

from historyad.training.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from historyad.training.losses import (
    clip_weights,
    critic_loss,
    critic_step,
    critic_update,
    generator_loss,
    generator_step,
    generator_update,
    gradient_penalty,
)
from historyad.training.trainer import (
    RECORD_KEYS,
    GANRun,
    iters_per_epoch,
    total_iterations,
    train_gan,
)

__all__ = [
    "RECORD_KEYS",
    "CheckpointError",
    "GANRun",
    "clip_weights",
    "critic_loss",
    "critic_step",
    "critic_update",
    "generator_loss",
    "generator_step",
    "generator_update",
    "gradient_penalty",
    "iters_per_epoch",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "total_iterations",
    "train_gan",
]
