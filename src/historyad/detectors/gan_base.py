"""Shared machinery of the detectors built on a trained GAN (critic, encoder, inversion,
HistoryAD, the density-ratio detectors): the GAN parameters, declared once with their
constraints (``GAN_PARAMETERS``), GAN configs from them, training or reusing a ``GANRun``,
rebuilding nets.

One trained GAN can serve several detectors: ``Detector.from_gan(run, **params)`` returns an
unfitted detector that skips GAN training in ``fit`` (the run must have been trained on the
same, identically preprocessed data; its input shape, network width, latent dimension and,
for HistoryAD, its history are checked against the detector's before anything is trained).

Seeds: ``random_state`` (an int of any type, numpy's included) seeds the GAN, the nets and
every sample a detector draws; ``random_state=None`` means unseeded, as in scikit-learn: a
seed is drawn at the start of each ``fit`` from numpy's global RNG and kept in
``random_state_`` (saved with the detector), so nothing downstream ever sees None.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any, ClassVar, Self

import numpy as np
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
    plain,
)
from historyad.detectors.base import BaseDetector, detector_params
from historyad.detectors.inputs import InputValueError
from historyad.nn._conv import _MIN_SIZE as _CONV_MIN_SIZE

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
    random_state: int | None = 0  # seeds everything the detector draws; None: drawn at fit
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
        "random_state": Interval(int, ge=0, le=2**32 - 1, optional=True),
        "progress": Options(True, False),
    }

    #: whether this detector needs the generator history recorded during GAN training
    needs_history = False
    #: the ``GANConfig.preset`` used with loss="wgan-gp" (HistoryAD: seed 000's schedule)
    wgan_gp_preset = "wgan-gp"

    @classmethod
    def from_gan(cls, run: Any, **params: Any) -> Self:
        """An unfitted detector that reuses ``run`` (a ``GANRun``) instead of training a GAN.
        ``fit`` checks, before training anything, that the run's input shape, network width
        and latent dimension are the ones these parameters give (pass the GAN's ``width``,
        ``net_size`` and ``latent_dim``)."""
        det = cls(**params)
        det._pretrained_gan = run
        return det

    # -- seeds -------------------------------------------------------------------------
    def _seed(self) -> int:
        """This fit's seed: ``random_state``, or the seed drawn for it when that is None
        (``random_state_``; drawn now when no fit has drawn one yet)."""
        if self.random_state is not None:
            return int(self.random_state)
        if getattr(self, "random_state_", None) is None:
            self.random_state_ = _draw_seed()
        return int(self.random_state_)

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
            "random_state": self._seed(),
            "device": str(self.device),
            "progress": self.progress,
        }
        if self.gan_lr is not None:
            overrides["gan_lr"] = self.gan_lr
        if self.n_critic is not None:
            overrides["n_critic"] = self.n_critic
        # plain Python numbers: numpy parameters would not serialise with the run
        return GANConfig.preset(preset, **{k: plain(v) for k, v in overrides.items()})

    def _net_config(self) -> NetConfig:
        return NetConfig(net_size=self.net_size, width=plain(self.width),
                         latent_dim=plain(self.latent_dim))

    def _history_config(self) -> HistoryConfig | None:
        return None

    # -- checks before any training ------------------------------------------------------
    def _check_training_input(self, X: np.ndarray) -> None:
        """Before any training: the rows (base), the seed of this fit (``random_state_``),
        what the networks need of the input's shape and of ``batch_size``, and a GAN given
        to ``from_gan``."""
        super()._check_training_input(X)
        self.random_state_ = (
            int(self.random_state) if self.random_state is not None else _draw_seed()
        )
        shape = tuple(int(s) for s in X.shape[1:])
        if len(shape) >= 2:  # convolutional nets: series (C, T) and images (C, H, W)
            what = "steps" if len(shape) == 2 else "pixels in height and width"
            if min(shape[1:]) < CONV_MIN_SIZE:
                hint = ""
                if len(shape) == 2 and shape[0] >= CONV_MIN_SIZE:
                    hint = " (if X holds (N, T, C) windows pass X.transpose(0, 2, 1))"
                raise InputValueError(
                    f"X has per-sample shape {shape}: the convolutional networks of "
                    f"{type(self).__name__} need at least {CONV_MIN_SIZE} {what}{hint}"
                )
            if self.batch_size < 2 and getattr(self, "_pretrained_gan", None) is None:
                raise ValueError(
                    f"batch_size={self.batch_size!r} is not allowed for {self.kind_} input; "
                    "use an int >= 2 (the convolutional generator's batch normalisation "
                    "needs at least 2 samples per batch)"
                )
        run = getattr(self, "_pretrained_gan", None)
        if run is not None:
            self._check_pretrained(run, shape)

    def _check_pretrained(self, run: Any, shape: tuple[int, ...]) -> None:
        """ValueError unless ``run`` (given to ``from_gan``) fits X and these parameters:
        the same per-sample shape, network width and latent dimension, and a recorded
        history when this detector needs one."""
        from historyad.nn.factory import resolve_latent_dim, resolve_width

        name = type(self).__name__
        if tuple(run.input_shape) != shape:
            raise ValueError(
                f"from_gan: the GAN was trained on per-sample shape {tuple(run.input_shape)}, "
                f"but X has {shape}; train it on the same (identically preprocessed) data"
            )
        mine, theirs = self._net_config(), run.net_config
        if resolve_width(shape, mine) != resolve_width(shape, theirs):
            raise ValueError(
                f"from_gan: the GAN's networks have width {resolve_width(shape, theirs)} "
                f"(net_size={theirs.net_size!r}, width={theirs.width!r}), but {name}'s "
                f"parameters give {resolve_width(shape, mine)} (net_size={self.net_size!r}, "
                f"width={self.width!r}); pass width={resolve_width(shape, theirs)} to from_gan"
            )
        if int(run.latent_dim) != resolve_latent_dim(shape, mine):
            raise ValueError(
                f"from_gan: the GAN's latent dimension is {run.latent_dim}, but {name}'s "
                f"parameters give {resolve_latent_dim(shape, mine)} "
                f"(latent_dim={self.latent_dim!r}); pass latent_dim={run.latent_dim}"
            )
        if self.needs_history and run.recorder is None:
            raise ValueError(
                f"{name} needs a GAN trained with a generator history "
                "(history=HistoryConfig(...)); the given run has none"
            )

    # -- fitting -----------------------------------------------------------------------
    def _fit(self, X: torch.Tensor) -> None:
        from historyad.training.trainer import train_gan

        run = getattr(self, "_pretrained_gan", None)
        if run is None:
            run = train_gan(
                X, self._gan_config(), self._net_config(), self._history_config()
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

        cfg = NetConfig(net_size=self.net_size, width=plain(self.width),
                        latent_dim=self.latent_dim_)
        builder = {"generator": build_generator, "critic": build_critic, "encoder": build_encoder}
        seed = self._seed() + {"generator": 0, "critic": 1, "encoder": 2}[which]
        return builder[which](tuple(self.input_shape_), cfg, seed=seed).to(self._device)

    def _extra_meta(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim_, "random_state": self._seed()}

    def _load_gan_meta(self, meta: dict[str, Any]) -> None:
        """The fitted GAN attributes ``_extra_meta`` saved (files from before the seed was
        saved: ``random_state``, or 0)."""
        self.latent_dim_ = int(meta["latent_dim"])
        seed = meta.get("random_state", self.random_state)
        self.random_state_ = int(seed) if seed is not None else 0

    def _restore(self, which: str, tensors: dict[str, torch.Tensor]) -> nn.Module:
        from historyad.detectors.persistence import check_module_state

        net = self._build(which)
        check_module_state(net, tensors, which)  # names a missing or mis-shaped tensor
        prefix = f"{which}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        net.load_state_dict(state)
        return net.eval()


#: The smallest spatial size (series length, image height and width) of the conv nets.
CONV_MIN_SIZE = _CONV_MIN_SIZE


def _draw_seed() -> int:
    """A seed for ``random_state=None``, from numpy's global RNG (scikit-learn's
    ``check_random_state(None)``; ``np.random.seed`` makes it reproducible). In a process
    group (data-parallel training) rank 0's draw, sent to every rank: a collective call."""
    from historyad.training.distributed import current, from_main

    seed = int(np.random.randint(np.iinfo(np.int32).max))  # noqa: NPY002 - sklearn's RNG
    return int(from_main(current(), seed))


#: The GAN parameters every GAN detector takes, in declaration order (with BaseDetector's
#: ``contamination``, ``standardize``, ``device`` and ``input_kind``, which every detector
#: takes).
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
