"""train_gan: ring mode coverage, records, determinism, resume bit-identity, divergence guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.training import GANRun, train_gan
from historyad.training.checkpoint import CheckpointError, list_checkpoints

TINY = NetConfig(width=16)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets, 2 shared cores


def ring(n: int, seed: int = 0) -> np.ndarray:
    """7 gaussians (std 0.1) on the unit circle at angles 2πk/7 (seed 001's 2-D ring)."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * rng.integers(0, 7, n) / 7
    pts = np.stack([np.cos(angles), np.sin(angles)], 1) + 0.1 * rng.standard_normal((n, 2))
    return pts.astype(np.float32)


def covered_modes(samples: np.ndarray) -> int:
    """Modes holding >= 5 % of the samples within 3 std (0.3) of their centre."""
    angles = 2 * np.pi * np.arange(7) / 7
    centres = np.stack([np.cos(angles), np.sin(angles)], 1)
    dist = np.linalg.norm(samples[:, None, :] - centres[None], axis=2)  # (n, 7)
    return int(((dist < 0.3).mean(0) >= 0.05).sum())


def small_cfg(**kw: object) -> GANConfig:
    base: dict[str, object] = dict(n_epochs=2, batch_size=32, n_critic=2, gan_lr=1e-3,
                                   random_state=0)
    return GANConfig(**{**base, **kw})  # type: ignore[arg-type]


def weights(run: GANRun) -> dict[str, torch.Tensor]:
    return {
        **{f"G.{k}": v for k, v in run.generator.state_dict().items()},
        **{f"D.{k}": v for k, v in run.critic.state_dict().items()},
    }


def assert_identical(a: GANRun, b: GANRun) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert a.records == b.records


def test_wgan_gp_covers_all_ring_modes() -> None:
    # 300 generator iterations. λ_GP = 1 instead of the paper's 10: on this toy, λ = 10 makes
    # WGAN-GP hop between 1-2 modes for thousands of iterations (Gulrajani et al. use 0.1 on
    # their toys); λ = 0.1 and 1 both cover the ring within ~300 iterations.
    cfg = GANConfig(n_epochs=50, batch_size=64, gan_lr=1e-3, gp_lambda=1.0, random_state=0)
    run = train_gan(ring(2048), cfg)
    assert covered_modes(run.sample(2000).numpy()) == 7


def test_records_and_run_fields() -> None:
    X = ring(256)
    run = train_gan(X, small_cfg(n_epochs=1.5))
    assert run.iters_per_epoch == 256 // (32 * 2) == 4
    assert run.records["gen_iter"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert run.records["epoch"][-1] == pytest.approx(1.5)
    assert {len(v) for v in run.records.values()} == {6}
    assert all(v > 0 for v in run.records["gradient_penalty"][1:])
    assert run.input_shape == (2,) and run.latent_dim == 2 and run.recorder is None
    assert not run.generator.training and not run.critic.training
    assert run.sample(5, seed=1).shape == (5, 2)
    assert torch.equal(run.sample(5, seed=1), run.sample(5, seed=1))
    with pytest.raises(ValueError, match="history"):
        run.critic_average()


def test_fractional_epochs_and_small_data() -> None:
    run = train_gan(ring(10), small_cfg(n_epochs=0.2, batch_size=8))  # N < B·n_critic
    assert run.iters_per_epoch == 1 and len(run.records["gen_iter"]) == 1


def test_iteration_floor_stretches_epochs_on_small_data() -> None:
    """1000 rows at batch 64 and 5 critic steps make 3 generator iterations per epoch, 15 in
    5 epochs; the floor stretches an epoch to ceil(60 / 5) = 12 iterations (60 in all) and
    the time axis stays in epochs (the last record at epoch 5)."""
    from historyad.training.trainer import iters_per_epoch

    assert iters_per_epoch(1000, 64, 5) == 3
    assert iters_per_epoch(1000, 64, 5, min_iterations=1000, n_epochs=5.0) == 200
    assert iters_per_epoch(60_000, 64, 5, min_iterations=500, n_epochs=5.0) == 187  # no effect
    X = np.random.default_rng(0).normal(size=(1000, 2)).astype(np.float32)
    cfg = GANConfig(n_epochs=5.0, min_iterations=60, random_state=0)
    run = train_gan(X, cfg, TINY, HistoryConfig(saves_per_epoch=2, alpha=1.0, beta=0.0))
    assert run.iters_per_epoch == 12 and len(run.records["gen_iter"]) == 60
    assert run.records["epoch"][-1] == pytest.approx(5.0)
    times = run.recorder.store.times
    assert times.min() >= 1.0 and times.max() == pytest.approx(5.0)  # [α, n_epochs] in epochs
    with pytest.raises(ValueError, match="min_iterations=-1 is not allowed"):
        GANConfig(min_iterations=-1)


def test_same_seed_same_weights_and_global_rng_untouched() -> None:
    X = ring(256)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = train_gan(X, small_cfg(loss="gan", n_critic=1, n_epochs=0.5))
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(999)  # the global RNG plays no part
    b = train_gan(X, small_cfg(loss="gan", n_critic=1, n_epochs=0.5))
    assert_identical(a, b)
    c = train_gan(X, small_cfg(loss="gan", n_critic=1, n_epochs=0.5, random_state=1))
    assert not torch.equal(weights(a)["G.net.0.weight"], weights(c)["G.net.0.weight"])


class Kill(Exception):
    pass


@pytest.mark.parametrize("family", ["mlp", "conv2d"])
def test_resume_is_bit_identical(tmp_path: Path, family: str) -> None:
    if family == "mlp":
        X, nets = ring(256), TINY
    else:  # BatchNorm in the generator: running statistics must survive the resume too
        X = np.random.default_rng(0).uniform(-1, 1, (128, 1, 8, 8)).astype(np.float32)
        nets = NetConfig(width=4, latent_dim=4)
    hist = HistoryConfig(saves_per_epoch=2, alpha=0.5, beta=1.0)
    full = train_gan(X, small_cfg(), nets, hist)
    ipe = full.iters_per_epoch

    # stop after whole epoch 1, then resume with the configured n_epochs = 2
    d1 = tmp_path / "a"
    train_gan(X, small_cfg(n_epochs=1, checkpoint_dir=str(d1)), nets, hist)
    resumed = train_gan(X, small_cfg(checkpoint_dir=str(d1)), nets, hist, resume=True)
    assert_identical(full, resumed)

    # a kill in the middle of epoch 2, then resume from the epoch-1 checkpoint
    d2 = tmp_path / "b"

    def kill(gen_iter: int, record: dict[str, float]) -> None:
        assert record["gen_iter"] == gen_iter
        if gen_iter == ipe + ipe // 2:
            raise Kill

    with pytest.raises(Kill):
        train_gan(X, small_cfg(checkpoint_dir=str(d2)), nets, hist, callback=kill)
    assert [p.name for p in list_checkpoints(d2)] == [f"ckpt-{ipe:09d}"]
    resumed = train_gan(X, small_cfg(checkpoint_dir=str(d2)), nets, hist, resume=True)
    assert_identical(full, resumed)
    assert resumed.recorder is not None and full.recorder is not None
    np.testing.assert_array_equal(resumed.recorder.store.times, full.recorder.store.times)
    avg_full, avg_res = full.critic_average(), resumed.critic_average()
    assert all(torch.equal(avg_full[k], avg_res[k]) for k in avg_full)


def test_lr_decay_schedule_and_resume_with_same_n_epochs(tmp_path: Path) -> None:
    from historyad.training.trainer import _lr_at

    cfg = small_cfg(gan_lr=1e-3, lr_decay=0.1)
    assert _lr_at(cfg, 0, 11) == pytest.approx(1e-3)
    assert _lr_at(cfg, 5, 11) == pytest.approx(0.55e-3)
    assert _lr_at(cfg, 10, 11) == pytest.approx(1e-4)
    X = ring(256)
    full = train_gan(X, cfg, TINY)

    def kill(gen_iter: int, record: dict[str, float]) -> None:
        if gen_iter == 6:  # mid epoch 2 (4 iterations per epoch)
            raise Kill

    with pytest.raises(Kill):
        train_gan(X, small_cfg(gan_lr=1e-3, lr_decay=0.1, checkpoint_dir=str(tmp_path)), TINY,
                  callback=kill)
    resumed = train_gan(X, small_cfg(gan_lr=1e-3, lr_decay=0.1, checkpoint_dir=str(tmp_path)),
                        TINY, resume=True)
    assert_identical(full, resumed)


def test_resume_from_a_fractional_epoch(tmp_path: Path) -> None:
    X = ring(256)
    full = train_gan(X, small_cfg(), TINY)
    train_gan(X, small_cfg(n_epochs=1.5, checkpoint_dir=str(tmp_path)), TINY)  # ends mid-epoch
    resumed = train_gan(X, small_cfg(checkpoint_dir=str(tmp_path)), TINY, resume=True)
    assert_identical(full, resumed)


def test_disk_history_beside_checkpoints_resumes(tmp_path: Path) -> None:
    X = ring(256)
    mem = HistoryConfig(saves_per_epoch=3, alpha=0.0)
    disk = HistoryConfig(saves_per_epoch=3, alpha=0.0, history_store="disk")
    full = train_gan(X, small_cfg(progress=True), TINY, mem)
    train_gan(X, small_cfg(n_epochs=1, checkpoint_dir=str(tmp_path)), TINY, disk)
    resumed = train_gan(X, small_cfg(checkpoint_dir=str(tmp_path)), TINY, disk, resume=True)
    assert_identical(full, resumed)
    assert resumed.recorder is not None and full.recorder is not None
    assert resumed.recorder.store.kind == "disk" and len(resumed.recorder.store) == 6
    assert resumed.history_config is not None
    assert resumed.history_config.store_dir == str(tmp_path / "history_store")
    for i in range(6):
        a, b = full.recorder.store.load(i), resumed.recorder.store.load(i)
        assert all(torch.equal(a[k], b[k]) for k in a)
    sampler = resumed.history_sampler(alpha=0.5)
    assert sampler.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 2)


def test_resume_without_checkpoint_starts_fresh_and_checks_config(tmp_path: Path) -> None:
    X = ring(256)
    a = train_gan(X, small_cfg(n_epochs=1, checkpoint_dir=str(tmp_path)), TINY, resume=True)
    assert len(a.records["gen_iter"]) == a.iters_per_epoch
    with pytest.raises(CheckpointError, match="batch_size"):
        train_gan(X, small_cfg(batch_size=16, checkpoint_dir=str(tmp_path)), TINY, resume=True)
    with pytest.raises(CheckpointError, match="data"):
        train_gan(X + 1, small_cfg(checkpoint_dir=str(tmp_path)), TINY, resume=True)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        train_gan(X, small_cfg(), TINY, resume=True)


@pytest.mark.parametrize("loss", ["wgan-gp", "gan"])
def test_divergence_raises_naming_the_iteration(loss: str) -> None:
    with pytest.raises(FloatingPointError, match=r"generator iteration \d+ \(epoch"):
        train_gan(ring(256), small_cfg(loss=loss, gan_lr=1e6, n_epochs=50), TINY)


def test_bad_data_is_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        train_gan(np.full((8, 2), np.nan, dtype=np.float32), small_cfg(), TINY)
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        train_gan(np.zeros(8, dtype=np.float32), small_cfg(), TINY)


def test_resume_accepts_a_checkpoint_written_before_a_config_field_existed(
    tmp_path: Path,
) -> None:
    """A newer version's config key absent from an old checkpoint compares as its default,
    and history_store="auto" resumes into the store the checkpointed run used."""
    import json

    X, hist = ring(256), HistoryConfig(saves_per_epoch=2, alpha=0.5, beta=1.0)
    full = train_gan(X, small_cfg(), TINY, hist)
    d = tmp_path / "old"
    train_gan(X, small_cfg(n_epochs=1, checkpoint_dir=str(d)), TINY, hist)
    for state_file in d.glob("ckpt-*/state.json"):  # strip the newer key, as old files lack it
        state = json.loads(state_file.read_text())
        del state["meta"]["configs"]["history"]["memory_budget_mb"]
        state_file.write_text(json.dumps(state))
    resumed = train_gan(X, small_cfg(checkpoint_dir=str(d)), TINY, hist, resume=True)
    assert_identical(full, resumed)


def test_resume_reads_a_checkpoint_written_before_the_config_fields_were_renamed(
    tmp_path: Path,
) -> None:
    """Checkpoints written before the config fields took the detector parameters' names
    (``lr``, ``seed``, ``size``, ``store``; ``RENAMED_FIELDS``) resume bit-identically, the
    old ``store`` included (history_store="auto" resumes into it), and still refuse a run
    that differs under the old name."""
    import json

    from historyad.training.checkpoint import CheckpointError

    X = ring(256)
    hist = HistoryConfig(saves_per_epoch=2, alpha=0.5, beta=1.0, history_store="auto")
    full = train_gan(X, small_cfg(), TINY, hist)
    d = tmp_path / "old"
    train_gan(X, small_cfg(n_epochs=1, checkpoint_dir=str(d)), TINY, hist)
    for state_file in d.glob("ckpt-*/state.json"):  # the names an old version wrote
        state = json.loads(state_file.read_text())
        configs = state["meta"]["configs"]
        for key, cls in (("gan", GANConfig), ("net", NetConfig), ("history", HistoryConfig)):
            back = {new: old for old, new in cls.RENAMED_FIELDS.items()}
            configs[key] = {back.get(k, k): v for k, v in configs[key].items()}
        assert {"lr", "seed"} <= set(configs["gan"]) and "size" in configs["net"]
        assert configs["history"]["store"] == "memory"
        state_file.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"gan\.random_state: checkpoint 0, now 1"):
        train_gan(X, small_cfg(random_state=1, checkpoint_dir=str(d)), TINY, hist, resume=True)
    resumed = train_gan(X, small_cfg(checkpoint_dir=str(d)), TINY, hist, resume=True)
    assert_identical(full, resumed)
    assert resumed.history_config is not None
    assert resumed.history_config.history_store == "memory"


def test_gan_run_save_writes_weights_and_configs_without_pickle(tmp_path: Path) -> None:
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    run = train_gan(ring(256), small_cfg(n_epochs=1), TINY,
                    HistoryConfig(saves_per_epoch=2, alpha=0.5, beta=1.0))
    path = run.save(tmp_path / "gan.safetensors")
    tensors = load_file(str(path))
    for k, v in run.generator.state_dict().items():
        assert torch.equal(tensors[f"generator.{k}"], v)
    for k, v in run.critic_average().items():
        assert torch.equal(tensors[f"critic_average.{k}"], v)
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["historyad"])
    assert meta["format"] == "historyad-gan" and meta["gan_config"]["n_epochs"] == 1
    assert meta["history_config"]["saves_per_epoch"] == 2
