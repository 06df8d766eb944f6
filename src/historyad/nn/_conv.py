"""Rank-generic DCGAN-style convolutional generator / critic / encoder (1-D and 2-D).

Generator: Linear -> (4w, ceil(S/4)...) -> BN -> ReLU -> ConvT(x2) -> BN -> ReLU -> ConvT(x2)
-> centre crop to S -> optional tanh. Critic: Conv(stride 2) -> LeakyReLU(0.2) -> Conv(stride 2)
-> LeakyReLU -> flatten -> Linear(., F) -> LeakyReLU -> Linear(F, 1), with no BatchNorm (the
gradient penalty is per sample; seed 000 §4.1: "CNN with downscaling and LeakyReLU then fully
connected layers"). Every convolution has kernel 4, stride 2, padding 1, so a spatial size S
becomes S // 2 going down and 2 S going up.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from torch import nn

_SLOPE = 0.2
_MIN_SIZE = 4  # two stride-2 convolutions need every spatial size >= 4

_LAYERS: dict[int, tuple[type[nn.Module], type[nn.Module], type[nn.Module]]] = {
    1: (nn.Conv1d, nn.ConvTranspose1d, nn.BatchNorm1d),
    2: (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d),
}


def check_shape(shape: tuple[int, ...], rank: int, who: str) -> tuple[int, tuple[int, ...]]:
    """(channels, spatial sizes) of ``shape`` = (C, *S) with len(S) == rank, all S >= 4."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != rank + 1 or any(s < 1 for s in shape):
        names = "(C, T)" if rank == 1 else "(C, H, W)"
        raise ValueError(f"{who}: input_shape={shape} is not allowed; expected {names}")
    channels, spatial = shape[0], shape[1:]
    if any(s < _MIN_SIZE for s in spatial):
        raise ValueError(
            f"{who}: input_shape={shape} is not allowed; every spatial size must be >= {_MIN_SIZE}"
        )
    return channels, spatial


class ConvGenerator(nn.Module):
    """z (N, latent_dim) -> x (N, C, *S) with ``input_shape`` = (C, *S), the data shape.

    A subclass fixes the rank and the output layer: ``class G(ConvGenerator, rank=2, tanh=True)``.
    """

    rank: ClassVar[Literal[1, 2]]
    tanh: ClassVar[bool]  # end in tanh (data scaled to [-1, 1]) instead of a linear output

    def __init_subclass__(cls, *, rank: Literal[1, 2], tanh: bool, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.rank, cls.tanh = rank, tanh

    def __init__(self, input_shape: tuple[int, ...], latent_dim: int, width: int = 32) -> None:
        super().__init__()
        channels, spatial = check_shape(input_shape, self.rank, type(self).__name__)
        _, conv_t, norm = _LAYERS[self.rank]
        self.latent_dim = int(latent_dim)
        self.output_shape: tuple[int, ...] = (channels, *spatial)
        self.seed_shape: tuple[int, ...] = (4 * width, *(math.ceil(s / 4) for s in spatial))
        self.fc = nn.Linear(latent_dim, math.prod(self.seed_shape), bias=False)
        self.body = nn.Sequential(
            norm(4 * width),
            nn.ReLU(),
            conv_t(4 * width, 2 * width, 4, 2, 1, bias=False),
            norm(2 * width),
            nn.ReLU(),
            conv_t(2 * width, channels, 4, 2, 1),
        )
        full = [4 * c for c in self.seed_shape[1:]]
        crops = [slice((f - s) // 2, (f - s) // 2 + s) for f, s in zip(full, spatial, strict=True)]
        self._crop = (slice(None), slice(None), *crops)
        self.out = nn.Tanh() if self.tanh else nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"{type(self).__name__}: z has shape {tuple(z.shape)}; "
                f"expected (N, {self.latent_dim})"
            )
        h = self.fc(z).view(z.shape[0], *self.seed_shape)  # (N, L) -> (N, 4w, *ceil(S/4))
        h = self.body(h)  # -> (N, C, *4 ceil(S/4))
        return self.out(h[self._crop])  # centre crop -> (N, C, *S)


class ConvTrunk(nn.Module):
    """x (N, C, *S) -> features (N, F); two stride-2 convolutions then a dense layer, no BN.

    A concrete subclass fixes the rank: ``class D(ConvCritic, rank=2)``. F = ``feature_dim``,
    by default 3·width.
    """

    rank: ClassVar[Literal[1, 2]]

    def __init_subclass__(cls, *, rank: Literal[1, 2] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if rank is not None:
            cls.rank = rank

    def __init__(
        self, input_shape: tuple[int, ...], width: int = 32, feature_dim: int | None = None
    ) -> None:
        super().__init__()
        channels, spatial = check_shape(input_shape, self.rank, type(self).__name__)
        conv, _, _ = _LAYERS[self.rank]
        feature_dim = feature_dim or 3 * width
        self.input_shape: tuple[int, ...] = (channels, *spatial)
        self.feature_dim = int(feature_dim)
        flat = 2 * width * math.prod((s // 2) // 2 for s in spatial)
        self.trunk = nn.Sequential(
            conv(channels, width, 4, 2, 1),
            nn.LeakyReLU(_SLOPE),
            conv(width, 2 * width, 4, 2, 1),
            nn.LeakyReLU(_SLOPE),
            nn.Flatten(),
            nn.Linear(flat, feature_dim),
            nn.LeakyReLU(_SLOPE),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, F) of x (N, C, *S)."""
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"{type(self).__name__}: x has shape {tuple(x.shape)}; "
                f"expected (N, {', '.join(map(str, self.input_shape))})"
            )
        return self.trunk(x)  # (N, C, *S) -> (N, 2w, *S//4) -> (N, F)


class ConvCritic(ConvTrunk):
    """x (N, C, *S) -> score (N,); low on real data, high on generated / anomalous data."""

    def __init__(
        self, input_shape: tuple[int, ...], width: int = 32, feature_dim: int | None = None
    ) -> None:
        super().__init__(input_shape, width, feature_dim)
        self.head = nn.Linear(self.feature_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (N, C, *S) -> (N, F)
        return self.head(h).squeeze(1)  # (N, F) -> (N,)


class ConvEncoder(ConvTrunk):
    """x (N, C, *S) -> z (N, latent_dim); ends in BatchNorm1d(affine=False) (seed 001 §5.3)."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        latent_dim: int,
        width: int = 32,
        feature_dim: int | None = None,
    ) -> None:
        super().__init__(input_shape, width, feature_dim)
        self.latent_dim = int(latent_dim)
        self.head = nn.Linear(self.feature_dim, latent_dim)
        self.norm = nn.BatchNorm1d(latent_dim, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (N, C, *S) -> (N, F)
        return self.norm(self.head(h))  # (N, F) -> (N, latent_dim)
