"""DCGAN-style 2-D convolutional nets for images (C, H, W), e.g. 1x8x8, 1x28x28, 3x32x32.

The generator ends in tanh: images are scaled to [-1, 1]. See :mod:`historyad.nn._conv`.
"""

from __future__ import annotations

from historyad.nn._conv import ConvCritic, ConvEncoder, ConvGenerator


class Conv2dGenerator(ConvGenerator):
    """z (N, latent_dim) -> image (N, C, H, W) in [-1, 1]; H, W >= 4."""

    def __init__(self, input_shape: tuple[int, ...], latent_dim: int, width: int = 32) -> None:
        super().__init__(input_shape, latent_dim, width, rank=2, tanh=True)


class Conv2dCritic(ConvCritic):
    """image (N, C, H, W) -> score (N,); ``features`` -> (N, feature_dim). No BatchNorm."""

    def __init__(
        self, input_shape: tuple[int, ...], width: int = 32, feature_dim: int | None = None
    ) -> None:
        super().__init__(input_shape, width, feature_dim or 3 * width, rank=2)


class Conv2dEncoder(ConvEncoder):
    """image (N, C, H, W) -> z (N, latent_dim), standardised by BatchNorm1d(affine=False)."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        latent_dim: int,
        width: int = 32,
        feature_dim: int | None = None,
    ) -> None:
        super().__init__(input_shape, latent_dim, width, feature_dim or 3 * width, rank=2)


__all__ = ["Conv2dCritic", "Conv2dEncoder", "Conv2dGenerator"]
