"""1-D convolutional nets for multivariate time series (C, T), e.g. 6x100, 9x128.

The generator output is linear (series are standardised, not bounded).
See :mod:`historyad.nn._conv`.
"""

from __future__ import annotations

from historyad.nn._conv import ConvCritic, ConvEncoder, ConvGenerator


class Conv1dGenerator(ConvGenerator):
    """z (N, latent_dim) -> series (N, C, T); T >= 4."""

    def __init__(self, input_shape: tuple[int, ...], latent_dim: int, width: int = 32) -> None:
        super().__init__(input_shape, latent_dim, width, rank=1, tanh=False)


class Conv1dCritic(ConvCritic):
    """series (N, C, T) -> score (N,); ``features`` -> (N, feature_dim). No BatchNorm."""

    def __init__(
        self, input_shape: tuple[int, ...], width: int = 32, feature_dim: int | None = None
    ) -> None:
        super().__init__(input_shape, width, feature_dim or 3 * width, rank=1)


class Conv1dEncoder(ConvEncoder):
    """series (N, C, T) -> z (N, latent_dim), standardised by BatchNorm1d(affine=False)."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        latent_dim: int,
        width: int = 32,
        feature_dim: int | None = None,
    ) -> None:
        super().__init__(input_shape, latent_dim, width, feature_dim or 3 * width, rank=1)


__all__ = ["Conv1dCritic", "Conv1dEncoder", "Conv1dGenerator"]
