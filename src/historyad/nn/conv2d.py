"""DCGAN-style 2-D convolutional nets for images (C, H, W), e.g. 1x8x8, 1x28x28, 3x32x32.

The generator ends in tanh: images are scaled to [-1, 1]. The layers, the constructor
arguments and the errors are those of :mod:`historyad.nn._conv` at rank 2.
"""

from __future__ import annotations

from historyad.nn._conv import ConvCritic, ConvEncoder, ConvGenerator


class Conv2dGenerator(ConvGenerator, rank=2, tanh=True):
    """z (N, latent_dim) -> image (N, C, H, W) in [-1, 1]; H, W >= 4."""


class Conv2dCritic(ConvCritic, rank=2):
    """image (N, C, H, W) -> score (N,); ``features`` -> (N, feature_dim). No BatchNorm."""


class Conv2dEncoder(ConvEncoder, rank=2):
    """image (N, C, H, W) -> z (N, latent_dim), standardised by BatchNorm1d(affine=False)."""


__all__ = ["Conv2dCritic", "Conv2dEncoder", "Conv2dGenerator"]
