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


def test_detector_defaults_are_the_configs_defaults_but_the_listed_ones() -> None:
    """Every detector parameter that is also a field of GANConfig / NetConfig /
    HistoryConfig / DTVConfig has that field's default, except the listed deliberate
    differences. Catches a default edited in one place only (written twice)."""
    import dataclasses

    from historyad.config import DTVConfig, GANConfig, HistoryConfig, NetConfig
    from historyad.detectors.registry import DETECTORS, get_detector

    deliberate = {
        # the detectors' floor on generator iterations; the training layer keeps the papers'
        # epoch schedules (RESULTS.md, "Which generator, and how long the GAN trains")
        "min_iterations": (MIN_ITERATIONS, 0),
        # None: the paper setting of the detector's loss (LOSS_PRESETS) / estimator
        "gan_lr": (None, 1e-4), "n_critic": (None, 5), "beta": (None, 3.0),
    }
    checked = set()
    for name in DETECTORS:
        klass = get_detector(name)
        params = klass().get_params(deep=False)
        for cfg in (GANConfig, NetConfig, HistoryConfig, DTVConfig):
            for f in dataclasses.fields(cfg):
                if f.name not in params or f.default is dataclasses.MISSING:
                    continue
                if f.name in ("random_state", "device", "progress"):  # per-run settings
                    assert params[f.name] == f.default, (klass.__name__, f.name)
                    continue
                if cfg is DTVConfig and f.name == "batch_size":  # the GAN's, by design
                    continue
                checked.add(f.name)
                if f.name in deliberate:
                    assert (params[f.name], f.default) == deliberate[f.name], f.name
                else:
                    assert params[f.name] == f.default, (klass.__name__, cfg.__name__, f.name)
    assert {"n_epochs", "batch_size", "gp_lambda", "net_size", "saves_per_epoch", "alpha",
            "dtv_steps", "lam", "min_iterations"} <= checked
