"""Shared machinery of the detectors built on a trained GAN (critic, encoder, inversion,
HistoryAD, the density-ratio detectors): the GAN parameters, declared once with their
constraints (``GAN_PARAMETERS``), GAN configs from them, training or reusing a ``GANRun``,
rebuilding nets.

One trained GAN can serve several detectors: ``Detector.from_gan(run, **params)`` returns an
unfitted detector that skips GAN training in ``fit`` (the run must have been trained on the
same, identically preprocessed data).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any, ClassVar, Self

import torch
from torch import nn

from historyad.config import (
    Constraint,
    GANConfig,
    HistoryConfig,
    Interval,
    NetConfig,
    Options,
    default_of,
)
from historyad.detectors.base import BaseDetector, detector_params

logger = logging.getLogger(__name__)

# The paper setting each ``loss`` trains with (``GANConfig.preset``): optimiser, learning rate
# and critic steps per generator step; ``gan_lr`` / ``n_critic`` override them when not None.
LOSS_PRESETS: dict[str, str] = {
    "wgan-gp": "wgan-gp",  # seed 001 Alg. 2: Adam 1e-4, β = (0.5, 0.9), 5 critic steps
    "wgan": "wgan-clip",  # seed 001 §3.2: RMSprop 5e-5, clipping c = 0.01, 5 critic steps
    "gan": "gan",  # seed 001 Alg. 1: one discriminator step per generator step, Adam 2e-4
}
# Floor on the GAN's generator iterations (``GANConfig.min_iterations``): an epoch is stretched
# on small data so that training makes at least this many (RESULTS.md, "Which generator, and
# how long the GAN trains"). The one GAN default the detectors set apart from ``GANConfig``:
# the training layer keeps the papers' schedules in epochs (``min_iterations=0``, no floor),
# the detectors add the floor (tests/detectors/test_gan_settings.py lists every difference).
MIN_ITERATIONS = 1000


@detector_params
class GANDetector(BaseDetector):
    """Base of GAN detectors; subclasses implement ``_fit_detector`` and ``_score`` and
    declare only their own parameters (``@detector_params``)."""

    # -- the GAN parameters every GAN detector takes (``GAN_PARAMETERS``) ---------------
    loss: str = "wgan-gp"  # trained with its paper setting (LOSS_PRESETS)
    n_epochs: float = default_of(GANConfig, "n_epochs")  # 5, seed 000 §4.3 (MNIST)
    batch_size: int = default_of(GANConfig, "batch_size")  # 64, seed 001 §4
    n_critic: int | None = None  # None: the loss's paper setting (LOSS_PRESETS)
    gp_lambda: float = default_of(GANConfig, "gp_lambda")  # 10, seed 001 Alg. 2
    gan_lr: float | None = None  # None: the loss's paper setting (LOSS_PRESETS)
    min_iterations: int = MIN_ITERATIONS  # floor on generator iterations (small data)
    net_size: str = default_of(NetConfig, "net_size")  # "cpu"; "paper": seed 000 §4.1
    width: int | None = default_of(NetConfig, "width")  # None: the size's default
    latent_dim: int | None = default_of(NetConfig, "latent_dim")  # None: the size's
    random_state: int = 0  # seeds the GAN, the nets and every sample the detector draws
    progress: bool = False  # progress bar during GAN training

    # the GAN's constraints are its configs' (GANConfig / NetConfig fields of the same names)
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "loss": Options(*sorted(LOSS_PRESETS)),
        "n_epochs": GANConfig.constraints["n_epochs"],
        "batch_size": GANConfig.constraints["batch_size"],
        "n_critic": GANConfig.constraints["n_critic"].or_none(),
        "gp_lambda": GANConfig.constraints["gp_lambda"],
        "gan_lr": GANConfig.constraints["gan_lr"].or_none(),
        "min_iterations": GANConfig.constraints["min_iterations"],
        "net_size": NetConfig.constraints["net_size"],
        "width": NetConfig.constraints["width"],
        "latent_dim": NetConfig.constraints["latent_dim"],
        "random_state": Interval(int),
        "progress": Options(True, False),
    }

    #: whether this detector needs the generator history recorded during GAN training
    needs_history = False
    #: the ``GANConfig.preset`` used with loss="wgan-gp" (HistoryAD: seed 000's schedule)
    wgan_gp_preset = "wgan-gp"

    @classmethod
    def from_gan(cls, run: Any, **params: Any) -> Self:
        """An unfitted detector that reuses ``run`` (a ``GANRun``) instead of training a GAN."""
        det = cls(**params)
        det._pretrained_gan = run
        return det

    # -- configs -----------------------------------------------------------------------
    def training_configs(self) -> tuple[GANConfig, NetConfig, HistoryConfig | None]:
        """The GAN, network and history configs ``fit`` trains its GAN with (parameters are
        validated first). Detectors with equal configs can share one GAN (``from_gan``)."""
        self._validate_params()
        return self._gan_config(), self._net_config(), self._history_config()

    def _gan_config(self) -> GANConfig:
        """The GAN's config: the paper preset of ``loss`` (``LOSS_PRESETS``; HistoryAD's
        WGAN-GP uses seed 000's decreasing learning rate), then this detector's parameters."""
        preset = self.wgan_gp_preset if self.loss == "wgan-gp" else LOSS_PRESETS[self.loss]
        overrides: dict[str, Any] = {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "gp_lambda": self.gp_lambda,
            "min_iterations": self.min_iterations,
            "random_state": self.random_state,
            "device": self.device,
            "progress": self.progress,
        }
        if self.gan_lr is not None:
            overrides["gan_lr"] = self.gan_lr
        if self.n_critic is not None:
            overrides["n_critic"] = self.n_critic
        return GANConfig.preset(preset, **overrides)

    def _net_config(self) -> NetConfig:
        return NetConfig(net_size=self.net_size, width=self.width, latent_dim=self.latent_dim)

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

        cfg = NetConfig(net_size=self.net_size, width=self.width, latent_dim=self.latent_dim_)
        builder = {"generator": build_generator, "critic": build_critic, "encoder": build_encoder}
        seed = self.random_state + {"generator": 0, "critic": 1, "encoder": 2}[which]
        return builder[which](tuple(self.input_shape_), cfg, seed=seed).to(self._device)

    def _extra_meta(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim_}

    def _restore(self, which: str, tensors: dict[str, torch.Tensor]) -> nn.Module:
        from historyad.detectors.persistence import check_module_state

        net = self._build(which)
        check_module_state(net, tensors, which)  # names a missing or mis-shaped tensor
        prefix = f"{which}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        net.load_state_dict(state)
        return net.eval()


#: The GAN parameters every GAN detector takes, in declaration order (with BaseDetector's
#: ``contamination``, ``standardize`` and ``device``, which every detector takes).
GAN_PARAMETERS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(GANDetector)
    if f.name not in {g.name for g in dataclasses.fields(BaseDetector)}
)


def frozen_copy(net: nn.Module) -> nn.Module:
    """A deep copy in eval mode with gradients off (scoring nets are never trained again)."""
    net = copy.deepcopy(net).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def prefixed(prefix: str, net: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in net.state_dict().items()}
