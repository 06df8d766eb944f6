"""Shared machinery of the detectors built on a trained GAN (critic, encoder, inversion,
HistoryAD): GAN configs from parameters, training or reusing a ``GANRun``, rebuilding nets.

One trained GAN can serve several detectors: ``Detector.from_gan(run, **params)`` returns an
unfitted detector that skips GAN training in ``fit`` (the run must have been trained on the
same, identically preprocessed data).
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Self

import torch
from torch import nn

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.detectors.base import BaseDetector

logger = logging.getLogger(__name__)

# Parameters common to every GAN-based detector, with defaults that cite their source.
GAN_DEFAULTS: dict[str, Any] = {
    "loss": "wgan-gp",  # seed 001 Alg. 2
    "n_epochs": 5.0,  # seed 000 §4.3
    "batch_size": 64,  # seed 001 §4
    "n_critic": 5,  # seed 001 Alg. 2
    "gp_lambda": 10.0,  # seed 001 Alg. 2
    "gan_lr": 1e-4,  # seed 001 Alg. 2
    "net_size": "cpu",
    "width": None,
    "latent_dim": None,
}


class GANDetector(BaseDetector):
    """Base of GAN detectors; subclasses implement ``_fit_detector`` and ``_score``."""

    #: whether this detector needs the generator history recorded during GAN training
    needs_history = False

    @classmethod
    def from_gan(cls, run: Any, **params: Any) -> Self:
        """An unfitted detector that reuses ``run`` (a ``GANRun``) instead of training a GAN."""
        det = cls(**params)
        det._pretrained_gan = run
        return det

    # -- configs -----------------------------------------------------------------------
    def _gan_config(self) -> GANConfig:
        return GANConfig(
            loss=self.loss,
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            n_critic=self.n_critic,
            gp_lambda=self.gp_lambda,
            lr=self.gan_lr,
            optimizer="rmsprop" if self.loss == "wgan" else "adam",
            seed=self.random_state,
            device=self.device,
            progress=self.progress,
        )

    def _net_config(self) -> NetConfig:
        return NetConfig(size=self.net_size, width=self.width, latent_dim=self.latent_dim)

    def _history_config(self) -> HistoryConfig | None:
        return None

    # -- fitting -----------------------------------------------------------------------
    def _fit(self, X: torch.Tensor) -> None:
        from historyad.training.trainer import train_gan

        run = getattr(self, "_pretrained_gan", None)
        if run is None:
            run = train_gan(
                X, self._gan_config(), self._net_config(), self._history_config()
            )
        elif tuple(run.input_shape) != tuple(X.shape[1:]):
            raise ValueError(
                f"the pre-trained GAN was fitted on per-sample shape {tuple(run.input_shape)}, "
                f"but X has {tuple(X.shape[1:])}"
            )
        if self.needs_history and run.recorder is None:
            raise ValueError(
                f"{type(self).__name__} needs a GAN trained with a generator history "
                "(history=HistoryConfig(...)); the given run has none"
            )
        self.gan_ = run
        self.latent_dim_ = int(run.latent_dim)
        self._fit_detector(X, run)

    def _fit_detector(self, X: torch.Tensor, run: Any) -> None:
        raise NotImplementedError

    # -- helpers for persistence -------------------------------------------------------
    def _build(self, which: str) -> nn.Module:
        """A freshly initialised net (seeded from ``random_state``) of the fitted shape."""
        from historyad.nn.factory import build_critic, build_encoder, build_generator

        cfg = NetConfig(size=self.net_size, width=self.width, latent_dim=self.latent_dim_)
        builder = {"generator": build_generator, "critic": build_critic, "encoder": build_encoder}
        seed = self.random_state + {"generator": 0, "critic": 1, "encoder": 2}[which]
        return builder[which](tuple(self.input_shape_), cfg, seed=seed).to(self._device)

    def _extra_meta(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim_}

    def _restore(self, which: str, tensors: dict[str, torch.Tensor]) -> nn.Module:
        net = self._build(which)
        prefix = f"{which}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        net.load_state_dict(state)
        return net.eval()


def frozen_copy(net: nn.Module) -> nn.Module:
    """A deep copy in eval mode with gradients off (scoring nets are never trained again)."""
    net = copy.deepcopy(net).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def prefixed(prefix: str, net: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in net.state_dict().items()}
