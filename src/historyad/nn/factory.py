"""Build generator / critic / encoder from the per-sample data shape and a :class:`NetConfig`.

Family from the shape (without the batch dimension): (D,) -> "mlp", (C, T) -> "conv1d",
(C, H, W) -> "conv2d".

Default widths (``NetConfig.width`` overrides):

========  =====  =======  ====================================================================
family    cpu    paper    meaning of width
========  =====  =======  ====================================================================
mlp       128    512      hidden width (seed 001 ring: 2-128-128-2 / 2-128-128-1)
conv1d    32     128      base channels w (conv w, 2w; generator 4w, 2w); dense features 3w
conv2d    32     128      same; "paper" gives ~4.6 M (G) and ~5.3 M (D) parameters at 1x28x28,
                          seed 000 §4.1 (~5 M each); "cpu" ~0.76 M (G) and ~0.34 M (D)
========  =====  =======  ====================================================================

Default latent dimension (``NetConfig.latent_dim`` overrides): mlp with D <= 4 -> 2 (the 2-D
ring of seed 001 uses 2), other mlp -> 32, conv1d -> 32, conv2d -> 100 (seed 000 / 001 images).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Literal

import torch
from torch import nn

from historyad.config import NetConfig
from historyad.nn.conv1d import Conv1dCritic, Conv1dEncoder, Conv1dGenerator
from historyad.nn.conv2d import Conv2dCritic, Conv2dEncoder, Conv2dGenerator
from historyad.nn.mlp import MLPCritic, MLPEncoder, MLPGenerator

Family = Literal["mlp", "conv1d", "conv2d"]

DEFAULT_WIDTHS: dict[str, dict[Family, int]] = {
    "cpu": {"mlp": 128, "conv1d": 32, "conv2d": 32},
    "paper": {"mlp": 512, "conv1d": 128, "conv2d": 128},
}


def _shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except TypeError as exc:
        raise TypeError(
            f"input_shape={input_shape!r} is not allowed; pass a tuple of positive ints"
        ) from exc
    if not shape or any(s < 1 for s in shape):
        raise ValueError(
            f"input_shape={shape} is not allowed; pass the per-sample shape (D,), (C, T) or "
            "(C, H, W) with positive sizes and no batch dimension"
        )
    return shape


def family_for(input_shape: Sequence[int]) -> Family:
    """"mlp" for (D,), "conv1d" for (C, T), "conv2d" for (C, H, W)."""
    shape = _shape(input_shape)
    families: dict[int, Family] = {1: "mlp", 2: "conv1d", 3: "conv2d"}
    if len(shape) not in families:
        raise ValueError(
            f"input_shape={shape} (rank {len(shape)}) is not allowed; supported per-sample "
            "shapes are (D,) tables, (C, T) time series and (C, H, W) images"
        )
    return families[len(shape)]


def resolve_latent_dim(input_shape: Sequence[int], cfg: NetConfig | None = None) -> int:
    """``cfg.latent_dim`` or the family default (see the module docstring)."""
    cfg = cfg or NetConfig()
    family = family_for(input_shape)
    if cfg.latent_dim is not None:
        return int(cfg.latent_dim)
    if family == "mlp":
        return 2 if _shape(input_shape)[0] <= 4 else 32
    return 32 if family == "conv1d" else 100


def resolve_width(input_shape: Sequence[int], cfg: NetConfig | None = None) -> int:
    """``cfg.width`` or the default width of the family at ``cfg.net_size``."""
    cfg = cfg or NetConfig()
    family = family_for(input_shape)
    return int(cfg.width) if cfg.width is not None else DEFAULT_WIDTHS[cfg.net_size][family]


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Run the block with the global CPU RNG seeded, restoring the caller's RNG afterwards."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


# role -> family -> class; MLPs take the data dimension D, conv nets the shape (C, *S)
_NETS: dict[str, dict[Family, type[nn.Module]]] = {
    "generator": {"mlp": MLPGenerator, "conv1d": Conv1dGenerator, "conv2d": Conv2dGenerator},
    "critic": {"mlp": MLPCritic, "conv1d": Conv1dCritic, "conv2d": Conv2dCritic},
    "encoder": {"mlp": MLPEncoder, "conv1d": Conv1dEncoder, "conv2d": Conv2dEncoder},
}


def _build(
    role: str, input_shape: Sequence[int], cfg: NetConfig | None, seed: int | None
) -> nn.Module:
    """The ``role`` net of the family of ``input_shape``, initialised under ``seed``."""
    shape, family = _shape(input_shape), family_for(input_shape)
    width = resolve_width(shape, cfg)
    size = shape[0] if family == "mlp" else shape
    args = (size, width) if role == "critic" else (size, resolve_latent_dim(shape, cfg), width)
    with _seeded(seed):
        return _NETS[role][family](*args)


def build_generator(
    input_shape: Sequence[int], cfg: NetConfig | None = None, *, seed: int | None = None
) -> nn.Module:
    """Generator: forward(z (N, latent_dim)) -> (N, *input_shape); has ``latent_dim``.

    ``seed`` makes the initial weights reproducible without touching the global RNG.
    Raises TypeError / ValueError for an ``input_shape`` that is not (D,), (C, T) or (C, H, W).
    """
    return _build("generator", input_shape, cfg, seed)


def build_critic(
    input_shape: Sequence[int], cfg: NetConfig | None = None, *, seed: int | None = None
) -> nn.Module:
    """Critic: forward(x (N, *input_shape)) -> (N,) (high = anomalous); features(x) -> (N, F).

    Contains no BatchNorm (the gradient penalty is per sample). ``seed`` and errors: as
    :func:`build_generator`.
    """
    return _build("critic", input_shape, cfg, seed)


def build_encoder(
    input_shape: Sequence[int], cfg: NetConfig | None = None, *, seed: int | None = None
) -> nn.Module:
    """Encoder: forward(x (N, *input_shape)) -> (N, latent_dim); critic-like trunk ending in
    BatchNorm1d(latent_dim, affine=False) so the codes follow N(0, 1) (seed 001 §5.3).
    ``seed`` and errors: as :func:`build_generator`."""
    return _build("encoder", input_shape, cfg, seed)


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (scalars) of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


__all__ = [
    "DEFAULT_WIDTHS",
    "Family",
    "build_critic",
    "build_encoder",
    "build_generator",
    "count_parameters",
    "family_for",
    "resolve_latent_dim",
    "resolve_width",
]
