"""EncoderDetector (seed 001 §5.3): an encoder trained after the GAN; score = G(E(x)) error."""

from __future__ import annotations

import logging
from typing import Any

import torch

from historyad.detectors.gan_base import MIN_ITERATIONS, GANDetector, frozen_copy, prefixed

logger = logging.getLogger(__name__)


class EncoderDetector(GANDetector):
    """Reconstruction error through a frozen generator: higher = more anomalous.

    The encoder E ends with a batch-norm (no affine) so that codes follow N(0, 1), the
    generator's prior (seed 001 §5.3). E is trained with the generator frozen on
    mean((G(E(x)) − x)²) (f-AnoGAN's "izi"). Score per sample:
    mean((G(E(x)) − x)²) + kappa · mean((f(G(E(x))) − f(x))²), f = critic features
    (kappa > 0 gives f-AnoGAN's "izi_f"; kappa = 0, the default, is seed 001's score).
    """

    def __init__(
        self,
        *,
        loss: str = "wgan-gp",
        n_epochs: float = 5.0,
        batch_size: int = 64,
        n_critic: int | None = None,  # None: the loss's paper setting (LOSS_PRESETS)
        gp_lambda: float = 10.0,  # seed 001 Alg. 2
        gan_lr: float | None = None,  # None: the loss's paper setting (LOSS_PRESETS)
        min_iterations: int = MIN_ITERATIONS,  # floor on generator iterations (small data)
        net_size: str = "cpu",
        width: int | None = None,
        latent_dim: int | None = None,
        encoder_epochs: float = 5.0,
        encoder_lr: float = 1e-3,
        kappa: float = 0.0,
        contamination: float = 0.05,
        standardize: str | bool = "auto",
        device: str = "cpu",
        random_state: int = 0,
        progress: bool = False,
    ) -> None:
        self.loss = loss
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.n_critic = n_critic
        self.gp_lambda = gp_lambda
        self.gan_lr = gan_lr
        self.min_iterations = min_iterations
        self.net_size = net_size
        self.width = width
        self.latent_dim = latent_dim
        self.encoder_epochs = encoder_epochs
        self.encoder_lr = encoder_lr
        self.kappa = kappa
        self.contamination = contamination
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _check_params(self) -> None:
        super()._check_params()
        if not self.encoder_epochs > 0:
            raise ValueError(f"encoder_epochs={self.encoder_epochs!r} is not allowed; use > 0")
        if not self.encoder_lr > 0:
            raise ValueError(f"encoder_lr={self.encoder_lr!r} is not allowed; use > 0")
        if not self.kappa >= 0:
            raise ValueError(f"kappa={self.kappa!r} is not allowed; use >= 0")

    def _fit_detector(self, X: torch.Tensor, run: Any) -> None:
        self.generator_ = frozen_copy(run.generator).to(self._device)
        self.critic_ = frozen_copy(run.critic).to(self._device)
        self.encoder_ = train_encoder(
            self._build("encoder"),
            self.generator_,
            X,
            epochs=self.encoder_epochs,
            lr=self.encoder_lr,
            batch_size=self.batch_size,
            seed=self.random_state,
        )

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        rec = self.generator_(self.encoder_(X))  # (B, *shape)
        score = (rec - X).pow(2).flatten(1).mean(1)  # (B,)
        if self.kappa > 0:
            feat = (self.critic_.features(rec) - self.critic_.features(X)).pow(2).mean(1)
            score = score + self.kappa * feat
        return score

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {
            **prefixed("generator", self.generator_),
            **prefixed("encoder", self.encoder_),
            **prefixed("critic", self.critic_),
        }

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.latent_dim_ = int(meta["latent_dim"])
        self.generator_ = self._restore("generator", tensors)
        self.encoder_ = self._restore("encoder", tensors)
        self.critic_ = self._restore("critic", tensors)


def train_encoder(
    encoder: torch.nn.Module,
    generator: torch.nn.Module,
    X: torch.Tensor,
    *,
    epochs: float,
    lr: float,
    batch_size: int,
    seed: int,
) -> torch.nn.Module:
    """Train E on mean((G(E(x)) − x)²) with G frozen (seed 001 §5.3); returns E in eval mode."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr, betas=(0.5, 0.999))
    n = len(X)
    bs = min(batch_size, n)
    steps = max(1, round(epochs * max(1, n // bs)))
    encoder.train()
    perm = torch.randperm(n, generator=gen)
    pos = 0
    for _ in range(steps):
        if pos + bs > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos : pos + bs].to(X.device)
        pos += bs
        x = X[idx]  # (B, *shape)
        loss = (generator(encoder(x)) - x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    logger.info("encoder trained for %d steps, final loss %.4f", steps, float(loss.detach()))
    return encoder.eval()
