"""Losses: gradient-penalty closed form, signs and values, weight clipping, update steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from historyad.config import GANConfig, NetConfig
from historyad.nn import build_critic, build_generator
from historyad.training.losses import (
    clip_weights,
    critic_loss,
    critic_step,
    generator_loss,
    generator_step,
    gradient_penalty,
)


class Linear(nn.Module):
    """D(x) = w·x + b on flattened inputs."""

    def __init__(self, w: torch.Tensor, b: float) -> None:
        super().__init__()
        self.w = nn.Parameter(w.flatten().clone())
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w + self.b  # (N, *S) -> (N,)


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2)])
def test_gradient_penalty_closed_form_for_linear_critic(shape: tuple[int, ...]) -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(shape, generator=gen)
    critic = Linear(w, 0.3)
    real, fake = torch.randn(16, *shape, generator=gen), torch.randn(16, *shape, generator=gen)
    gp = gradient_penalty(critic, real, fake, generator=gen)
    expected = (w.norm() - 1) ** 2
    assert torch.allclose(gp, expected, rtol=1e-5)
    gp.backward()  # differentiable w.r.t. the critic: d/dw (‖w‖−1)² = 2(‖w‖−1) w/‖w‖
    grad = 2 * (w.norm() - 1) * w.flatten() / w.norm()
    assert torch.allclose(critic.w.grad, grad, rtol=1e-4)


def test_gradient_penalty_interpolates_per_sample() -> None:
    seen: list[torch.Tensor] = []

    class Spy(Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.detach().clone())
            return super().forward(x)

    real, fake = torch.ones(64, 2), torch.zeros(64, 2)
    gradient_penalty(Spy(torch.ones(2), 0.0), real, fake, generator=torch.Generator())
    eps = seen[0][:, 0]  # x̂ = ε·1 + (1−ε)·0 = ε, one ε per sample, shared across features
    assert torch.equal(seen[0][:, 0], seen[0][:, 1])
    assert eps.min() >= 0 and eps.max() <= 1 and eps.std() > 0.1


def test_wgan_losses_signs_and_values() -> None:
    d_real, d_fake = torch.tensor([-1.0, -3.0]), torch.tensor([2.0, 4.0])
    for kind in ("wgan", "wgan-gp"):
        assert critic_loss(kind, d_real, d_fake).item() == pytest.approx(-2.0 - 3.0)
        assert generator_loss(kind, d_fake).item() == pytest.approx(3.0)


def test_gan_losses_are_bce_with_fake_label_one() -> None:
    s_real, s_fake = torch.tensor([0.5, -2.0]), torch.tensor([1.5, 0.0])
    bce = nn.functional.binary_cross_entropy_with_logits
    expected = bce(s_real, torch.zeros(2)) + bce(s_fake, torch.ones(2))
    assert torch.allclose(critic_loss("gan", s_real, s_fake), expected)
    assert torch.allclose(generator_loss("gan", s_fake), bce(s_fake, torch.zeros(2)))
    # a perfect critic (very low on real, very high on fake) has loss near 0
    assert critic_loss("gan", torch.tensor([-20.0]), torch.tensor([20.0])).item() < 1e-8
    assert generator_loss("gan", torch.tensor([0.0])).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="kind='lsgan'"):
        critic_loss("lsgan", s_real, s_fake)


def test_clip_keeps_weights_in_range() -> None:
    critic = build_critic((4,), NetConfig(width=8))
    with torch.no_grad():
        for p in critic.parameters():
            p.mul_(100)
    clip_weights(critic, 0.01)
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())


def test_steps_update_and_clip() -> None:
    torch.manual_seed(0)
    g, d = build_generator((4,), NetConfig(width=8)), build_critic((4,), NetConfig(width=8))
    real = torch.randn(16, 4)
    cfg = GANConfig.preset("wgan-clip")
    opt_d = torch.optim.RMSprop(d.parameters(), lr=cfg.gan_lr)
    out = critic_step(d, g, real, opt_d, cfg, noise=torch.Generator().manual_seed(1))
    assert set(out) == {"loss", "wasserstein", "gp"} and out["gp"] == 0.0
    assert all(p.abs().max() <= cfg.clip for p in d.parameters())
    assert out["loss"] == pytest.approx(-out["wasserstein"])

    cfg = GANConfig()  # wgan-gp
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3)
    out = critic_step(d, g, real, opt_d, cfg, noise=torch.Generator().manual_seed(1))
    assert out["gp"] > 0 and out["loss"] == pytest.approx(-out["wasserstein"] + 10 * out["gp"])

    before = [p.detach().clone() for p in d.parameters()]
    grads_before = [p.grad.clone() for p in d.parameters()]  # left by the critic step
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3)
    g_before = [p.detach().clone() for p in g.parameters()]
    out = generator_step(d, g, 16, opt_g, cfg, noise=torch.Generator().manual_seed(2))
    assert set(out) == {"loss"}
    assert all(torch.equal(a, p) for a, p in zip(before, d.parameters(), strict=True))
    # the critic is frozen during the generator step: no gradient accumulates in it
    assert all(torch.equal(a, p.grad) for a, p in zip(grads_before, d.parameters(),
                                                       strict=True))
    assert not all(torch.equal(a, p) for a, p in zip(g_before, g.parameters(), strict=True))
    assert all(p.requires_grad for p in d.parameters())
