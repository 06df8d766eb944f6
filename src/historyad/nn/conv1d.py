"""1-D convolutional nets for multivariate time series (C, T), e.g. 6x100, 9x128.

The generator output is linear (series are standardised, not bounded). The layers, the
constructor arguments and the errors are those of :mod:`historyad.nn._conv` at rank 1.
"""

from __future__ import annotations

from historyad.nn._conv import ConvCritic, ConvEncoder, ConvGenerator


class Conv1dGenerator(ConvGenerator, rank=1, tanh=False):
    """z (N, latent_dim) -> series (N, C, T); T >= 4."""


class Conv1dCritic(ConvCritic, rank=1):
    """series (N, C, T) -> score (N,); ``features`` -> (N, feature_dim). No BatchNorm."""


class Conv1dEncoder(ConvEncoder, rank=1):
    """series (N, C, T) -> z (N, latent_dim), standardised by BatchNorm1d(affine=False)."""


__all__ = ["Conv1dCritic", "Conv1dEncoder", "Conv1dGenerator"]
