"""Network factory: shapes, no BatchNorm in critics, encoder codes ~ N(0, 1), sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from historyad.config import NetConfig
from historyad.nn import (
    build_critic,
    build_encoder,
    build_generator,
    count_parameters,
    family_for,
    resolve_latent_dim,
)

SHAPES = [(2,), (64,), (1, 8, 8), (1, 28, 28), (3, 32, 32), (6, 100), (9, 128)]


@pytest.mark.parametrize("shape", SHAPES)
def test_output_shapes(shape: tuple[int, ...]) -> None:
    cfg = NetConfig()
    g, d, e = build_generator(shape, cfg), build_critic(shape, cfg), build_encoder(shape, cfg)
    z = torch.randn(4, g.latent_dim)
    x = g(z)
    assert x.shape == (4, *shape)
    assert d(x).shape == (4,)
    assert d.features(x).ndim == 2 and d.features(x).shape[0] == 4
    assert e(x).shape == (4, g.latent_dim)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())


def test_families_and_latent_defaults() -> None:
    assert family_for((2,)) == "mlp" and family_for((6, 100)) == "conv1d"
    assert family_for((1, 28, 28)) == "conv2d"
    assert resolve_latent_dim((2,), NetConfig()) == 2
    assert resolve_latent_dim((64,), NetConfig()) == 32
    assert resolve_latent_dim((1, 28, 28), NetConfig()) == 100
    assert resolve_latent_dim((1, 28, 28), NetConfig(latent_dim=7)) == 7
    with pytest.raises(ValueError, match="rank 4"):
        family_for((1, 2, 3, 4))
    with pytest.raises(ValueError, match="spatial size"):
        build_critic((1, 3, 8), NetConfig())


def test_ring_architecture_matches_seed_001() -> None:
    g, d = build_generator((2,), NetConfig()), build_critic((2,), NetConfig())
    g_dims = [(m.in_features, m.out_features) for m in g.modules() if isinstance(m, nn.Linear)]
    d_dims = [(m.in_features, m.out_features) for m in d.modules() if isinstance(m, nn.Linear)]
    assert g_dims == [(2, 128), (128, 128), (128, 2)]
    assert d_dims == [(2, 128), (128, 128), (128, 1)]


def test_images_in_range_and_seeded_init() -> None:
    g = build_generator((1, 28, 28), NetConfig(), seed=3)
    g2 = build_generator((1, 28, 28), NetConfig(), seed=3)
    pairs = zip(g.state_dict().values(), g2.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    x = g(torch.randn(3, g.latent_dim))
    assert x.abs().max() <= 1.0


def test_encoder_codes_standard_normal_in_train_mode() -> None:
    e = build_encoder((1, 8, 8), NetConfig(width=8)).train()
    z = e(torch.randn(256, 1, 8, 8) * 3 + 1)
    assert z.mean(0).abs().max() < 1e-4
    assert (z.std(0, unbiased=False) - 1).abs().max() < 1e-2
    last = list(e.modules())[-1]
    assert isinstance(last, nn.BatchNorm1d) and not last.affine


def test_sizes() -> None:
    shape = (1, 28, 28)
    for build in (build_generator, build_critic):
        assert 0.2e6 < count_parameters(build(shape, NetConfig(net_size="cpu"))) < 0.8e6
        assert abs(count_parameters(build(shape, NetConfig(net_size="paper"))) - 5e6) < 0.3 * 5e6
    small = build_critic((2,), NetConfig(width=16))
    assert count_parameters(small) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)


def test_bad_inputs_name_the_value() -> None:
    d = build_critic((6, 100), NetConfig())
    with pytest.raises(ValueError, match=r"\(N, 6, 100\)"):
        d(torch.randn(2, 6, 99))
    g = build_generator((2,), NetConfig())
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        g(torch.randn(2, 3))
