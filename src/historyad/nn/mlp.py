"""Fully connected generator / critic / encoder for tabular data of shape (D,).

Seed 001 (2-D ring): generator 2-128-128-2 and critic 2-128-128-1, i.e. two hidden layers of
width 128. The generator's output is linear (tables are standardised, not bounded).
"""

from __future__ import annotations

import torch
from torch import nn

_SLOPE = 0.2  # LeakyReLU slope of the critic / encoder


def _check_input(x: torch.Tensor, shape: tuple[int, ...], who: str) -> None:
    if tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"{who}: x has shape {tuple(x.shape)}; expected (N, {', '.join(map(str, shape))})"
        )


def _check_latent(z: torch.Tensor, latent_dim: int, who: str) -> None:
    if z.dim() != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"{who}: z has shape {tuple(z.shape)}; expected (N, {latent_dim})")


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> x (N, D): Linear-ReLU-Linear-ReLU-Linear (linear output)."""

    def __init__(self, dim: int, latent_dim: int, width: int = 128) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.output_shape: tuple[int, ...] = (int(dim),)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, dim),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_latent(z, self.latent_dim, "MLPGenerator")
        return self.net(z)  # (N, latent_dim) -> (N, D)


class _MLPTrunk(nn.Module):
    """x (N, D) -> features (N, width): Linear-LeakyReLU-Linear-LeakyReLU (no BatchNorm)."""

    def __init__(self, dim: int, width: int) -> None:
        super().__init__()
        self.input_shape: tuple[int, ...] = (int(dim),)
        self.feature_dim = int(width)
        self.trunk = nn.Sequential(
            nn.Linear(dim, width),
            nn.LeakyReLU(_SLOPE),
            nn.Linear(width, width),
            nn.LeakyReLU(_SLOPE),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, width) of x (N, D)."""
        _check_input(x, self.input_shape, type(self).__name__)
        return self.trunk(x)  # (N, D) -> (N, width)


class MLPCritic(_MLPTrunk):
    """x (N, D) -> score (N,); low on real data, high on generated / anomalous data."""

    def __init__(self, dim: int, width: int = 128) -> None:
        super().__init__(dim, width)
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (N, D) -> (N, width)
        return self.head(h).squeeze(1)  # (N, width) -> (N,)


class MLPEncoder(_MLPTrunk):
    """x (N, D) -> z (N, latent_dim); ends in BatchNorm1d(affine=False) so codes follow N(0, 1)."""

    def __init__(self, dim: int, latent_dim: int, width: int = 128) -> None:
        super().__init__(dim, width)
        self.latent_dim = int(latent_dim)
        self.head = nn.Linear(width, latent_dim)
        self.norm = nn.BatchNorm1d(latent_dim, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (N, D) -> (N, width)
        return self.norm(self.head(h))  # (N, width) -> (N, latent_dim)


__all__ = ["MLPCritic", "MLPEncoder", "MLPGenerator"]
