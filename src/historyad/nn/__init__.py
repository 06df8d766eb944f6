"""Networks: pure ``nn.Module`` generators, critics and encoders (no I/O, no optimisers).

The family follows the per-sample data shape: (D,) -> MLP, (C, T) -> 1-D conv,
(C, H, W) -> 2-D conv. Use :func:`build_generator`, :func:`build_critic`, :func:`build_encoder`.
"""

from historyad.nn.conv1d import Conv1dCritic, Conv1dEncoder, Conv1dGenerator
from historyad.nn.conv2d import Conv2dCritic, Conv2dEncoder, Conv2dGenerator
from historyad.nn.factory import (
    DEFAULT_WIDTHS,
    Family,
    build_critic,
    build_encoder,
    build_generator,
    count_parameters,
    family_for,
    resolve_latent_dim,
    resolve_width,
)
from historyad.nn.mlp import MLPCritic, MLPEncoder, MLPGenerator

__all__ = [
    "DEFAULT_WIDTHS",
    "Conv1dCritic",
    "Conv1dEncoder",
    "Conv1dGenerator",
    "Conv2dCritic",
    "Conv2dEncoder",
    "Conv2dGenerator",
    "Family",
    "MLPCritic",
    "MLPEncoder",
    "MLPGenerator",
    "build_critic",
    "build_encoder",
    "build_generator",
    "count_parameters",
    "family_for",
    "resolve_latent_dim",
    "resolve_width",
]
