"""EncoderDetector (seed 001 §5.3): an encoder trained after the GAN; score = G(E(x)) error."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import torch
from tqdm.auto import tqdm

from historyad.config import Constraint, Interval, plain
from historyad.detectors.base import detector_params
from historyad.detectors.gan_base import GANDetector, frozen_copy, prefixed

logger = logging.getLogger(__name__)


@detector_params
class EncoderDetector(GANDetector):
    """Reconstruction error through a frozen generator: higher = more anomalous.

    The encoder E ends with a batch-norm (no affine) so that codes follow N(0, 1), the
    generator's prior (seed 001 §5.3). E is trained with the generator frozen on
    mean((G(E(x)) − x)²) (f-AnoGAN's "izi"). Score per sample:
    mean((G(E(x)) − x)²) + kappa · mean((f(G(E(x))) − f(x))²), f = critic features
    (kappa > 0 gives f-AnoGAN's "izi_f"; kappa = 0, the default, is seed 001's score).
    """

    encoder_epochs: float = 5.0
    encoder_lr: float = 1e-3
    kappa: float = 0.0  # weight of the critic-feature term (f-AnoGAN's "izi_f"); 0: seed 001

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "encoder_epochs": Interval(float, gt=0),
        "encoder_lr": Interval(float, gt=0),
        "kappa": Interval(float, ge=0),
    }

    def _min_training_rows(self) -> tuple[int, str]:
        return 2, "the encoder ends in a batch normalisation, which needs 2 samples per batch"

    def _check_training_input(self, X: np.ndarray) -> None:
        super()._check_training_input(X)
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size={self.batch_size!r} is not allowed for {type(self).__name__}; "
                "use an int >= 2 (the encoder ends in a batch normalisation, which needs at "
                "least 2 samples per training batch)"
            )

    def _fit_detector(self, X: torch.Tensor, run: Any) -> None:
        self.generator_ = frozen_copy(run.generator).to(self._device)
        self.critic_ = frozen_copy(run.critic).to(self._device)
        self.encoder_ = train_encoder(
            self._build("encoder"),
            self.generator_,
            X,
            epochs=float(self.encoder_epochs),
            lr=float(self.encoder_lr),
            batch_size=plain(self.batch_size),
            seed=self._seed(),
            progress=self.progress,
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
        self._load_gan_meta(meta)
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
    progress: bool = False,
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
    for _ in tqdm(range(steps), desc="encoder", unit="step", leave=False, disable=not progress):
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
