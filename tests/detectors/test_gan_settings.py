"""The GAN each detector trains: the paper setting of its loss, unless overridden."""

from __future__ import annotations

import pytest

from historyad.detectors import (
    CriticDetector,
    DensityRatioEnsemble,
    EncoderDetector,
    HistoryAD,
)
from historyad.detectors.gan_base import MIN_ITERATIONS


def test_wgan_gp_follows_seed_001_algorithm_2() -> None:
    gan, _, history = CriticDetector().training_configs()
    assert (gan.loss, gan.optimizer, gan.gan_lr, gan.betas, gan.n_critic, gan.gp_lambda) == (
        "wgan-gp", "adam", 1e-4, (0.5, 0.9), 5, 10.0)
    assert gan.lr_decay is None and history is None
    assert gan.min_iterations == MIN_ITERATIONS == 1000


def test_weight_clipping_follows_seed_001() -> None:
    """WGAN with clipping: RMSprop at 5e-5, c = 0.01, five critic steps (seed 001 §3.2)."""
    gan, _, _ = EncoderDetector(loss="wgan").training_configs()
    assert (gan.optimizer, gan.gan_lr, gan.clip, gan.n_critic) == ("rmsprop", 5e-5, 0.01, 5)


def test_vanilla_gan_takes_one_discriminator_step() -> None:
    """Seed 001 Algorithm 1: one discriminator step per generator step."""
    gan, _, _ = DensityRatioEnsemble(loss="gan").training_configs()
    assert (gan.loss, gan.n_critic, gan.optimizer, gan.gan_lr) == ("gan", 1, "adam", 2e-4)


def test_historyad_trains_with_seed_000s_schedule_and_history() -> None:
    det = HistoryAD()
    gan, _, history = det.training_configs()
    assert (gan.loss, gan.optimizer, gan.gan_lr, gan.lr_decay) == ("wgan-gp", "adam", 5e-4, 0.1)
    assert (history.saves_per_epoch, history.alpha, history.beta) == (50, 1.0, 3.0)
    params = det.get_params()
    assert params["estimator"] == "network" and params["lam"] == 10.0 and params["case"] == 1


def test_explicit_settings_win_over_the_preset() -> None:
    gan, _, _ = CriticDetector(loss="wgan", gan_lr=1e-3, n_critic=2).training_configs()
    assert (gan.gan_lr, gan.n_critic, gan.optimizer) == (1e-3, 2, "rmsprop")
    with pytest.raises(ValueError, match="loss='lsgan' is not allowed"):
        CriticDetector(loss="lsgan").training_configs()
