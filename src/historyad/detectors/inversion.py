"""InversionDetector (seed 001 §5.2): invert the generator by latent optimisation."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import numpy as np
import torch

from historyad.config import Constraint, Interval
from historyad.detectors.base import detector_params
from historyad.detectors.gan_base import GANDetector, frozen_copy, prefixed


@detector_params
class InversionDetector(GANDetector):
    """Score = ‖G(z*) − x‖² / dim after minimising ‖G(z) − x‖² − λ·log P(z) over z.

    With the prior P_Z = N(0, I), −log P(z) = ‖z‖²/2 + const. Each sample's latent starts
    from an N(0, I) draw seeded by the sample itself (a hash of its preprocessed float32
    values) and ``random_state`` (``start_latents``), and is optimised with Adam for
    ``inversion_steps`` steps. The batch's losses are independent (Adam is elementwise) and
    no start depends on the other rows or on the row's position, so a row scores the same
    alone, in any batch and in any order (up to float rounding of batched matrix products).
    AnoGAN-like and slow: every score needs ``inversion_steps`` forward/backward passes.
    Higher = more anomalous.
    """

    inversion_steps: int = 100
    inversion_lr: float = 0.05
    prior_weight: float = 1e-3  # λ of the −λ·log P(z) term

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "inversion_steps": Interval(int, ge=1),
        "inversion_lr": Interval(float, gt=0),
        "prior_weight": Interval(float, ge=0),
    }

    def _fit_detector(self, X: torch.Tensor, run: Any) -> None:
        self.generator_ = frozen_copy(run.generator).to(self._device)

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        return invert(
            self.generator_,
            X,
            latent_dim=self.latent_dim_,
            steps=int(self.inversion_steps),
            lr=float(self.inversion_lr),
            prior_weight=float(self.prior_weight),
            seed=self._seed(),
        )

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return prefixed("generator", self.generator_)

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self._load_gan_meta(meta)
        self.generator_ = self._restore("generator", tensors)


def invert(
    generator: torch.nn.Module,
    X: torch.Tensor,
    *,
    latent_dim: int,
    steps: int,
    lr: float,
    prior_weight: float,
    seed: int,
    return_latents: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Per-sample residuals (B,) after minimising ‖G(z) − x‖²/dim − λ·log N(z; 0, I) over z
    for each x in the batch (B, *shape), each z starting at ``start_latents(X, ...)``; with
    ``return_latents`` also the optimised z (B, latent_dim)."""
    z = start_latents(X, latent_dim, seed).to(X.device).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            residual = (generator(z) - X).pow(2).flatten(1).mean(1)  # (B,)
            neg_log_prior = 0.5 * z.pow(2).sum(1)  # (B,)  −log N(z; 0, I) + const
            loss = (residual + prior_weight * neg_log_prior).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        residual = (generator(z) - X).pow(2).flatten(1).mean(1)
    return (residual, z.detach()) if return_latents else residual


def start_latents(X: torch.Tensor, latent_dim: int, seed: int) -> torch.Tensor:
    """(B, latent_dim) starting latents, one N(0, I) draw per row of X (B, *shape), seeded
    by the row alone: the first 8 bytes of BLAKE2b(row's float32 bytes, key = ``seed``).
    A row gets the same start whatever batch it is in and wherever it sits there."""
    rows = X.detach().to("cpu", torch.float32).reshape(len(X), -1).numpy() + np.float32(0)
    # (+ 0 turns -0.0 into 0.0: equal values, equal starts)
    key = int(seed).to_bytes(8, "little", signed=False)
    out = torch.empty(len(X), latent_dim)
    gen = torch.Generator(device="cpu")
    for i, row in enumerate(np.ascontiguousarray(rows)):
        digest = hashlib.blake2b(row.tobytes(), digest_size=8, key=key).digest()
        gen.manual_seed(int.from_bytes(digest, "little") >> 1)  # < 2**63
        out[i] = torch.randn(latent_dim, generator=gen)
    return out
