"""Adversarial losses and single update steps, written to read like the papers.

Sign convention (all detectors rely on it): the critic D is LOW on real data and HIGH on
generated data, so its raw output is an anomaly score.

- WGAN / WGAN-GP (seed 001 Alg. 2): critic loss E_real[D(x)] - E_fake[D(G(z))] (+ λ GP),
  generator loss E[D(G(z))], Wasserstein estimate E_fake[D] - E_real[D].
- vanilla GAN (seed 001 Alg. 1): D outputs a logit s with P(fake) = sigmoid(s); critic loss
  BCE(s_real, 0) + BCE(s_fake, 1), non-saturating generator loss BCE(s_fake, 0).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import ParamSpec

import torch
import torch.nn.functional as F
from torch import nn

from historyad.config import GANConfig

_KINDS = ("gan", "wgan", "wgan-gp")
P = ParamSpec("P")


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise ValueError(f"kind={kind!r} is not allowed; choose one of {list(_KINDS)}")


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] with x̂ = ε·real + (1−ε)·fake, ε ~ U[0, 1] per sample.

    real, fake: (N, *S). Returns a 0-dim tensor that is differentiable w.r.t. the critic's
    parameters (create_graph=True). ``generator`` draws ε reproducibly.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real has shape {tuple(real.shape)} but fake has shape {tuple(fake.shape)}; "
            "they must match"
        )
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # (N, *S)
    d_hat = critic(x_hat)  # (N,)
    (grad,) = torch.autograd.grad(d_hat.sum(), x_hat, create_graph=True)  # (N, *S)
    norms = torch.linalg.vector_norm(grad.flatten(1), dim=1)  # (N,)
    return (norms - 1).square().mean()


def critic_loss(kind: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Critic loss (minimised) from scores d_real (N,) and d_fake (M,); no gradient penalty."""
    _check_kind(kind)
    if kind == "gan":
        # BCE(s, 0) = softplus(s), BCE(s, 1) = softplus(-s)
        return F.softplus(d_real).mean() + F.softplus(-d_fake).mean()
    return d_real.mean() - d_fake.mean()


def generator_loss(kind: str, d_fake: torch.Tensor) -> torch.Tensor:
    """Generator loss (minimised) from critic scores d_fake (M,) of generated samples."""
    _check_kind(kind)
    if kind == "gan":
        return F.softplus(d_fake).mean()  # non-saturating: BCE(s_fake, 0)
    return d_fake.mean()


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """Clamp every parameter of ``module`` into [-c, c] in place (WGAN, seed 001 §3.2)."""
    for p in module.parameters():
        p.clamp_(-c, c)


def _noise(
    n: int, latent_dim: int, device: torch.device, generator: torch.Generator | None
) -> torch.Tensor:
    return torch.randn(n, latent_dim, generator=generator, device=device)  # (n, latent_dim)


def critic_update(
    critic: nn.Module,
    generator: nn.Module,
    real: torch.Tensor,
    opt: torch.optim.Optimizer,
    cfg: GANConfig,
    *,
    noise: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One critic update on the real batch (N, *S); returns detached 0-dim tensors (no sync).

    Keys: "loss" (including λ·GP), "wasserstein" (E_fake[D] − E_real[D]), "gp" (0 unless
    WGAN-GP). For loss="wgan" the weights are clipped into [−clip, clip] after the step.
    ``noise`` is the torch.Generator for z and the interpolation ε.
    """
    n = real.shape[0]
    with torch.no_grad():
        fake = generator(_noise(n, generator.latent_dim, real.device, noise))  # (N, *S)
    scores = critic(torch.cat((real, fake)))  # (2N,): one pass (the critic has no BatchNorm)
    d_real, d_fake = scores[:n], scores[n:]  # (N,), (N,)
    loss = critic_loss(cfg.loss, d_real, d_fake)
    if cfg.loss == "wgan-gp":
        gp = gradient_penalty(critic, real, fake, generator=noise)
        loss = loss + cfg.gp_lambda * gp
    else:
        gp = loss.new_zeros(())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if cfg.loss == "wgan":
        clip_weights(critic, cfg.clip)
    with torch.no_grad():
        wasserstein = d_fake.mean() - d_real.mean()
    return {"loss": loss.detach(), "wasserstein": wasserstein, "gp": gp.detach()}


def generator_update(
    critic: nn.Module,
    generator: nn.Module,
    batch_size: int,
    opt: torch.optim.Optimizer,
    cfg: GANConfig,
    *,
    noise: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> dict[str, torch.Tensor]:
    """One generator update on ``batch_size`` latents; returns {"loss": detached 0-dim tensor}.

    The critic's parameters are frozen during the step (no gradient is accumulated in them).
    """
    if device is None:
        device = next(generator.parameters()).device
    params = [p for p in critic.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        fake = generator(_noise(batch_size, generator.latent_dim, torch.device(device), noise))
        loss = generator_loss(cfg.loss, critic(fake))  # fake (B, *S) -> scores (B,)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    finally:
        for p in params:
            p.requires_grad_(True)
    return {"loss": loss.detach()}


def _with_float_results(
    update: Callable[P, dict[str, torch.Tensor]], name: str, doc: str
) -> Callable[P, dict[str, float]]:
    """``update`` (same arguments) returning Python floats instead of 0-dim tensors."""

    @functools.wraps(update)
    def step(*args: P.args, **kwargs: P.kwargs) -> dict[str, float]:
        return {k: float(v) for k, v in update(*args, **kwargs).items()}

    step.__name__ = step.__qualname__ = name
    step.__doc__ = doc
    step.__signature__ = inspect.signature(update).replace(  # type: ignore[attr-defined]
        return_annotation="dict[str, float]"
    )
    return step


critic_step = _with_float_results(
    critic_update,
    "critic_step",
    """:func:`critic_update` with float results: {"loss", "wasserstein", "gp"}.""",
)
generator_step = _with_float_results(
    generator_update,
    "generator_step",
    """:func:`generator_update` with float results: {"loss"}.""",
)


__all__ = [
    "clip_weights",
    "critic_loss",
    "critic_step",
    "critic_update",
    "generator_loss",
    "generator_step",
    "generator_update",
    "gradient_penalty",
]
