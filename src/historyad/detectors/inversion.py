"""InversionDetector (seed 001 §5.2): invert the generator by latent optimisation."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from historyad.config import Constraint, Interval
from historyad.detectors.base import detector_params
from historyad.detectors.gan_base import GANDetector, frozen_copy, prefixed


@detector_params
class InversionDetector(GANDetector):
    """Score = ‖G(z*) − x‖² / dim after minimising ‖G(z) − x‖² − λ·log P(z) over z.

    With the prior P_Z = N(0, I), −log P(z) = ‖z‖²/2 + const. Each sample's latent starts
    from a seeded N(0, I) draw and is optimised with Adam for ``inversion_steps`` steps; the
    batch's losses are independent (Adam is elementwise), so batching changes nothing.
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
            steps=self.inversion_steps,
            lr=self.inversion_lr,
            prior_weight=self.prior_weight,
            seed=self.random_state,
        )

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return prefixed("generator", self.generator_)

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.latent_dim_ = int(meta["latent_dim"])
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
    for each x in the batch (B, *shape); with ``return_latents`` also the optimised z
    (B, latent_dim)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    z = torch.randn(len(X), latent_dim, generator=gen).to(X.device).requires_grad_(True)
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
