"""HistoryAD's maths: eq. (10) loss, the closed-form optimum of eq. (11), and the 1-D toy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import gaussian_kde

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.detectors.history_ad import (
    HistoryAD,
    dtv_loss,
    dtv_optimum,
    interval_distance,
    score_reference,
    tv_estimate,
    two_sided_score,
)
from historyad.evaluation.metrics import auprc
from historyad.training.trainer import train_gan


def test_interval_distance() -> None:
    d = torch.tensor([-3.0, -1.0, 0.0, 1.0, 1.5])
    torch.testing.assert_close(interval_distance(d), torch.tensor([2.0, 0.0, 0.0, 0.0, 0.5]))


def test_dtv_loss_value_by_hand() -> None:
    d_data = torch.tensor([-1.0, -2.0])  # penalty: (0 + 1)/2 = 0.5
    d_hist = torch.tensor([1.0, 3.0])  # penalty: (0 + 4)/2 = 2.0
    # E_data − E_hist + λ·(0.5 + 2.0)/2 = −1.5 − 2 + 10·1.25
    assert float(dtv_loss(d_data, d_hist, 10.0)) == pytest.approx(-3.5 + 12.5)


@pytest.mark.parametrize("p,q", [(0.9, 0.1), (0.2, 0.7), (0.5, 0.5001), (1e-3, 2.0)])
@pytest.mark.parametrize("lam", [1.0, 10.0])
def test_closed_form_minimises_the_pointwise_loss(p: float, q: float, lam: float) -> None:
    """Eq. (11) is the argmin over D of p·D − q·D + λ(p+q)/2·dist(D, [−1, 1])²."""
    grid = np.linspace(-4, 4, 400_001)
    dist = np.maximum(grid - 1, 0) + np.maximum(-1 - grid, 0)
    f = (p - q) * grid + lam * (p + q) / 2 * dist**2
    assert dtv_optimum(np.array([p]), np.array([q]), lam)[0] == pytest.approx(
        grid[np.argmin(f)], abs=1e-4
    )


def test_tv_estimate_of_perfect_separator() -> None:
    assert tv_estimate(-torch.ones(10), torch.ones(10)) == pytest.approx(1.0)


def test_trained_dtv_matches_closed_form_on_the_1d_toy() -> None:
    """Seed 000 Fig. 3: P_data = N(0, 1); D_TV trained against the recorded history matches
    D* = D*_TV + Δ* (densities by KDE) wherever the densities have mass."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4096, 1)).astype(np.float32)
    # A short, slow GAN run: its history (early generators) is narrower than the data, so
    # D* = +1 − Δ* where the history has more mass and −1 − Δ* in the data's tails.
    run = train_gan(
        X,
        GANConfig(n_epochs=2.0, batch_size=64, gan_lr=3e-4, random_state=0),
        NetConfig(width=32),
        HistoryConfig(saves_per_epoch=6, alpha=0.0, beta=1.0),
    )
    det = HistoryAD.from_gan(
        run, n_epochs=2.0, width=32, alpha=0.0, beta=1.0, saves_per_epoch=6,
        dtv_steps=800, dtv_lr=2e-3, batch_size=256, standardize=False, score="dtv",
        estimator="network",
    ).fit(X)
    hist = run.history_sampler(alpha=0.0, beta=1.0).sample(
        20_000, generator=torch.Generator().manual_seed(3)
    ).numpy().ravel()
    grid = np.linspace(-3, 3, 121)
    p = gaussian_kde(X.ravel())(grid)
    q = gaussian_kde(hist)(grid)
    target = dtv_optimum(p, q, lam=10.0)
    ours = det.decision_function(grid[:, None].astype(np.float32))
    mass = (p + q) > 0.05  # where the densities (together) have mass
    # away from the switch point (|p − q| small), the optimum is ±1 ± Δ*: compare there
    clear = mass & (np.abs(p - q) / (p + q) > 0.2)
    assert clear.sum() >= 20, "the history must differ from the data somewhere"
    err = np.abs(ours[clear] - target[clear])
    assert np.mean(err) < 0.2, f"mean |D_TV − D*| = {np.mean(err):.3f}"
    assert np.mean(np.sign(ours[mass]) == np.sign(target[mass])) > 0.9
    # the two-sided score is that same D_TV, measured against its training range
    two = HistoryAD.from_gan(
        run, n_epochs=2.0, width=32, alpha=0.0, beta=1.0, saves_per_epoch=6,
        dtv_steps=800, dtv_lr=2e-3, batch_size=256, standardize=False, score="two-sided",
        estimator="network",
    ).fit(X)
    ref = score_reference(ours_train := det.decision_function(X))
    np.testing.assert_allclose(two.score_reference_, ref, rtol=1e-5, atol=1e-6)
    expected = two_sided_score(torch.from_numpy(ours), torch.from_numpy(ref)).numpy()
    np.testing.assert_allclose(two.decision_function(grid[:, None].astype(np.float32)),
                               expected, rtol=1e-4, atol=1e-5)
    # 0 at the training median, 1 at the training 5 % and 95 % quantiles
    assert two.decision_scores_.min() == pytest.approx(0.0, abs=1e-3)
    assert np.mean(two.decision_scores_ <= 1.0) == pytest.approx(0.90, abs=0.01)
    assert ours_train.shape == (len(X),)
    # the knn estimator of the same optimum: (1/d) log(p_hist / p_data), here d = 1
    knn = HistoryAD.from_gan(run, n_epochs=2.0, width=32, alpha=0.0, beta=1.0,
                             saves_per_epoch=6, standardize=False, n_neighbors=50,
                             estimator="knn").fit(X)
    ratio = knn.decision_function(grid[:, None].astype(np.float32))
    assert np.mean(np.sign(ratio[clear]) == np.sign(target[clear])) > 0.9
    both = (p > 0.02) & (q > 0.02)  # where both KDEs are reliable
    assert np.corrcoef(ratio[both], np.log(q[both] / p[both]))[0, 1] > 0.9


class _Gaussian:
    """A stand-in for P_Ghist: N(0, std²) in 1-D."""

    def __init__(self, std: float) -> None:
        self.std = std

    def sample(self, n: int, *, rng: np.random.Generator, generator: torch.Generator
               ) -> torch.Tensor:  # fmt: skip
        return self.std * torch.randn(n, 1, generator=generator)


def test_knn_estimate_matches_the_closed_form_density_ratio() -> None:
    """With P_data = N(0, 1) and a history N(0, 2²) (4N samples, matched k), the knn
    estimator's raw score estimates log(q(x) / p(x)) = log(1/2) + 3x²/8 (d = 1), negative near
    0 and positive in the tails."""
    X = np.random.default_rng(0).normal(size=(20_000, 1)).astype(np.float32)
    det = HistoryAD(n_neighbors=200, standardize=False, estimator="knn")  # noise ~ 1/sqrt(k)
    det._fit_knn(det.prepare_training_data(X), _Gaussian(2.0))
    grid = np.linspace(-2.5, 2.5, 51, dtype=np.float32)[:, None]
    raw = det._raw(torch.from_numpy(grid)).numpy()
    exact = np.log(0.5) + 3 * grid[:, 0] ** 2 / 8
    err = np.abs(raw - exact)  # measured: mean 0.08 (the score spans −0.69 … 1.65)
    assert np.mean(err) < 0.12, f"mean |estimate − log(q/p)| = {np.mean(err):.3f}"
    clear = np.abs(exact) > 0.3
    assert np.all(np.sign(raw[clear]) == np.sign(exact[clear]))


def test_two_sided_score_by_hand() -> None:
    ref = torch.tensor([-2.0, -1.0, 1.0])  # q05, median, q95
    raw = torch.tensor([-1.0, 0.0, 1.0, 3.0, -1.5, -3.0])
    # above the median: (d + 1) / 2; below: (−1 − d) / 1
    torch.testing.assert_close(two_sided_score(raw, ref),
                               torch.tensor([0.0, 0.5, 1.0, 2.0, 0.5, 2.0]))
    np.testing.assert_allclose(score_reference(np.arange(101.0)), [5.0, 50.0, 95.0])


def test_two_sided_score_flags_both_sides() -> None:
    """An unseen class can land on either side of D_TV's training range: both count."""
    ref = torch.tensor([-1.1, -1.0, -0.8])
    s = two_sided_score(torch.tensor([-1.0, -1.5, 0.0]), ref)
    assert s[0] == 0.0 and s[1] > 1.0 and s[2] > 1.0


@pytest.mark.parametrize(
    "params,match",
    [
        ({"dtv_noise": -1.0}, "dtv_noise=-1.0"),
        ({"dtv_steps": -3}, "dtv_steps=-3"),
        ({"dtv_gp": -1.0}, "dtv_gp=-1.0"),
        ({"case": 3}, r"case=3 is not allowed; choose one of \[1, 2\]"),
        ({"alpha": 6.0, "n_epochs": 5.0}, "alpha=6.0"),
        ({"score": "raw"}, "score='raw' is not allowed"),
        ({"estimator": "kde"}, "estimator='kde' is not allowed"),
        ({"n_neighbors": 0}, "n_neighbors=0 is not allowed"),
        ({"n_history": 3}, "n_history=3 is not allowed"),
        ({"beta": "3"}, "beta='3' is not allowed"),
    ],
)
def test_bad_parameters_are_named(params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HistoryAD(**params).fit(np.zeros((10, 3), dtype=np.float32))


def test_file_from_before_the_two_sided_score_loads(tmp_path: Path) -> None:
    """Files saved before ``score_reference`` (and the knn estimator) existed load as the
    network they hold for score='dtv' and refuse score='two-sided' with a clear error."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from historyad.detectors.base import BaseDetector
    from historyad.detectors.persistence import _digest

    X = np.random.default_rng(0).normal(size=(128, 3)).astype(np.float32)
    det = HistoryAD(n_epochs=2.0, saves_per_epoch=2, dtv_steps=5, width=8, beta=3.0,
                    estimator="network", min_iterations=0).fit(X)
    det.save(tmp_path / "new.safetensors")

    def old_file(score: str) -> Path:
        tensors = load_file(str(tmp_path / "new.safetensors"))
        del tensors["state.score_reference"]
        with safe_open(str(tmp_path / "new.safetensors"), framework="pt") as f:
            meta = json.loads(f.metadata()["historyad"])
        meta["params"]["score"] = score
        for key in ("estimator", "n_neighbors", "n_history", "min_iterations"):  # added since
            del meta["params"][key]
        del meta["extra"]["estimator"]
        meta_json = json.dumps(meta, sort_keys=True)
        path = tmp_path / f"old-{score}.safetensors"
        save_file(tensors, str(path),
                  metadata={"historyad": meta_json, "sha256": _digest(tensors, meta_json)})
        return path

    old = BaseDetector.load(old_file("dtv"))
    np.testing.assert_allclose(old.decision_function(X), det.decision_function(X), rtol=1e-6)
    assert old.estimator == "network"
    with pytest.raises(ValueError, match="no score reference"):
        BaseDetector.load(old_file("two-sided"))


def test_validation_auprc_is_recorded_along_dtv_training() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 4)).astype(np.float32)
    X_val = np.vstack([rng.normal(size=(30, 4)), rng.normal(5.0, 1.0, size=(30, 4))])
    y_val = np.r_[np.zeros(30), np.ones(30)]
    params = dict(n_epochs=1.0, width=16, batch_size=32, alpha=0.2, saves_per_epoch=5,
                  dtv_steps=100, estimator="network", min_iterations=0)
    det = HistoryAD(**params).fit(X, X_val=X_val, y_val=y_val)
    rec = det.dtv_records_
    assert rec["step"] == [50, 100] and len(rec["auprc"]) == 2
    # the last record is the fitted D_TV's AUPRC on the validation set
    assert rec["auprc"][-1] == pytest.approx(auprc(y_val, det.decision_function(X_val)))
    with pytest.raises(ValueError, match="y_val"):
        HistoryAD(**params).fit(X, X_val=X_val, y_val=y_val[:-1])
