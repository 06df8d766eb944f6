"""Calibrated p-values: the split-conformal formula, the false-alarm guarantee for every
detector, Benjamini–Hochberg's false-discovery control, fit(..., calibration=...)."""

from __future__ import annotations

import numpy as np
import pytest

from historyad.detectors.conformal import (
    benjamini_hochberg,
    conformal_p_values,
    split_calibration,
    two_sided_p_values,
)
from historyad.detectors.knn import KNNDetector
from tests.detectors.test_contract import NAMES, make

ALPHA = 0.05
SEEDS = 200
N_CAL, N_TEST = 199, 100  # α·(n_cal + 1) = 10: P(p ≤ α) is exactly α for continuous scores


def far_bound(alpha: float, seeds: int, n_cal: int, n_test: int, z: float = 3.0) -> float:
    """α plus z standard deviations of the mean false-alarm rate over ``seeds`` runs, each
    with its own calibration set and ``n_test`` test normals: per run the rate varies with
    the test draws (binomial, α(1 − α)/n_test) and with the calibration set (the conditional
    rate is Beta-distributed, variance ≈ α(1 − α)/(n_cal + 2))."""
    var_run = alpha * (1 - alpha) * (1 / n_test + 1 / (n_cal + 2))
    return alpha + z * np.sqrt(var_run / seeds)


# -- the formulas ------------------------------------------------------------------------
def test_p_values_match_the_definition() -> None:
    rng = np.random.default_rng(0)
    cal = rng.normal(size=50)
    cal[:5] = cal[5]  # ties count as "at least as large"
    s = np.concatenate([rng.normal(size=30), cal[:10], [-np.inf, np.inf]])
    expected = [(1 + np.sum(cal >= v)) / (len(cal) + 1) for v in s]
    np.testing.assert_allclose(conformal_p_values(cal, s), expected)
    assert conformal_p_values(cal, [np.inf])[0] == pytest.approx(1 / 51)
    assert conformal_p_values(cal, [-np.inf])[0] == 1.0


def test_two_sided_p_values_test_both_tails() -> None:
    cal = np.arange(99.0)
    p = two_sided_p_values(cal, [-1.0, 49.0, 100.0])
    np.testing.assert_allclose(p, [2 / 100, 1.0, 2 / 100])


def test_benjamini_hochberg_is_the_step_up_rule() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10)])
        alpha = 0.1
        order = np.sort(p)
        passing = np.nonzero(order <= alpha * np.arange(1, len(p) + 1) / len(p))[0]
        cutoff = order[passing[-1]] if len(passing) else -1.0
        np.testing.assert_array_equal(benjamini_hochberg(p, alpha), p <= cutoff)
    with pytest.raises(ValueError, match="alpha"):
        benjamini_hochberg(p, 1.5)


def test_split_calibration() -> None:
    X = np.arange(100, dtype=np.float32).reshape(50, 2)
    train, cal = split_calibration(X, 0.2, seed=0)
    assert len(train) == 40 and len(cal) == 10
    assert not set(map(tuple, train)) & set(map(tuple, cal))
    series = np.arange(50 * 6, dtype=np.float32).reshape(50, 1, 6)
    train, cal = split_calibration(series, 0.2)
    np.testing.assert_array_equal(cal, series[40:])  # windows: the last contiguous block
    np.testing.assert_array_equal(train, series[:40])
    train, cal = split_calibration(X, X[:7] + 0.5)
    assert train is X and len(cal) == 7
    assert split_calibration(X, None) == (X, None)
    for bad, match in [(1.0, "fraction"), (0.0, "fraction"), (5, "fraction"),
                       (0.001, "at least 1"), (np.zeros((3, 3), np.float32), "per-sample")]:
        with pytest.raises(ValueError, match=match):
            split_calibration(X, bad)


def test_calibration_fraction_leaves_the_detectors_own_minimum() -> None:
    """A fraction that leaves fewer training rows than the detector needs is refused before
    any training, naming its own minimum (kNN with k = 5: 6 rows), not a generic 2."""
    X = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    train, cal = split_calibration(X, 0.94, min_train=6)
    assert len(train) == 6 and len(cal) == 94
    with pytest.raises(ValueError, match=r"leaves 96 for calibration and 4 for training; "
                       r"at least 1 and 6 are needed \(why\)"):
        split_calibration(X, 0.96, min_train=6, min_train_reason="why")
    with pytest.raises(ValueError, match=r"at least 1 and 6 are needed \(n_neighbors=5"):
        KNNDetector().fit(X, calibration=0.96)


# -- the false-alarm guarantee, every detector ---------------------------------------------
@pytest.fixture(scope="module")
def pools() -> dict[str, np.ndarray]:
    """Each detector fitted once on normals, then its scores of a pool of 3000 fresh
    normals from the same law: the 200 seeds below resample calibration and test sets
    from that pool (exchangeable draws), so each detector is fitted once."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(320, 4)).astype(np.float32)
    pool = rng.normal(size=(3000, 4)).astype(np.float32)
    return {name: make(name).fit(X).decision_function(pool) for name in NAMES}


def false_alarm_rate(scores: np.ndarray, *, two_sided: bool, seeds: int = SEEDS) -> float:
    """Mean over ``seeds`` splits of the pool of the rate of test normals with p ≤ α."""
    fn = two_sided_p_values if two_sided else conformal_p_values
    rates = []
    for seed in range(seeds):
        idx = np.random.default_rng(seed).permutation(len(scores))
        cal, test = scores[idx[:N_CAL]], scores[idx[N_CAL : N_CAL + N_TEST]]
        rates.append(np.mean(fn(cal, test) <= ALPHA))
    return float(np.mean(rates))


@pytest.mark.parametrize("name", NAMES)
def test_false_alarm_rate_is_at_most_alpha(name: str, pools: dict) -> None:
    """Over 200 seeds, the false-alarm rate at α = 0.05 on normals of the training law is
    within the binomial tolerance of α (it is exactly α in expectation here, so it must not
    be far below either: the p-values are not trivially conservative)."""
    two_sided = name == "critic"  # the critic's interval rule (threshold_mode="interval")
    rate = false_alarm_rate(pools[name], two_sided=two_sided)
    bound = far_bound(ALPHA, SEEDS, N_CAL, N_TEST)
    assert rate <= bound, f"{name}: false-alarm rate {rate:.4f} > {bound:.4f}"
    assert rate >= 2 * ALPHA - bound, f"{name}: false-alarm rate {rate:.4f} far below α"


def test_knn_fit_with_calibration_over_200_seeds() -> None:
    """The whole path, ``fit(X, calibration=0.4)`` then ``predict(X_new, alpha=0.05)``, over
    200 seeds (a new training set, split and detector each time)."""
    rates = []
    n, frac = 500, 0.4  # 200 calibration rows: α·(200 + 1) = 10.05, P(p ≤ α) = 10/201
    for seed in range(SEEDS):
        rng = np.random.default_rng(1000 + seed)
        X = rng.normal(size=(n, 3)).astype(np.float32)
        fresh = rng.normal(size=(N_TEST, 3)).astype(np.float32)
        det = KNNDetector(n_neighbors=5).fit(X, calibration=frac)
        assert len(det.calibration_scores_) == 200
        rates.append(det.predict(fresh, alpha=ALPHA).mean())
    bound = far_bound(ALPHA, SEEDS, 200, N_TEST)
    assert np.mean(rates) <= bound


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n != "knn"])
def test_gan_detectors_fit_with_calibration_over_seeds(name: str) -> None:
    """The whole path for the GAN detectors over 200 seeds, a new GAN per seed (slow: 200
    fits each; the fast tests above fit each detector once and resample its scores)."""
    seeds, rates = SEEDS, []
    for seed in range(seeds):
        rng = np.random.default_rng(2000 + seed)
        X = rng.normal(size=(400, 4)).astype(np.float32)
        fresh = rng.normal(size=(N_TEST, 4)).astype(np.float32)
        det = make(name, random_state=seed).fit(X, calibration=0.5)  # 200 calibration rows
        rates.append(det.predict(fresh, alpha=ALPHA).mean())
    assert np.mean(rates) <= far_bound(ALPHA, seeds, 200, N_TEST)


# -- false discoveries over a batch ----------------------------------------------------------
@pytest.mark.parametrize("name", ["knn", "encoder", "recommended"])
def test_benjamini_hochberg_controls_the_false_discovery_rate(name: str) -> None:
    """Mixed batches of 90 normals and 10 anomalies: with BH at q = 0.1 the mean false
    discovery proportion over 200 seeds is ≤ q·90/100 (+ tolerance), and anomalies are found;
    flagging p ≤ q one by one instead gives more false discoveries."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(320, 4)).astype(np.float32)
    normals = rng.normal(size=(3000, 4)).astype(np.float32)
    anomalies = rng.normal(3.0, 1.0, size=(500, 4)).astype(np.float32)
    det = make(name).fit(X)
    s_norm, s_anom = det.decision_function(normals), det.decision_function(anomalies)
    fn = two_sided_p_values if det._two_sided() else conformal_p_values  # critic: both tails
    q, fdp, fdp_plain, power = 0.1, [], [], []
    for seed in range(SEEDS):
        r = np.random.default_rng(seed)
        idx = r.permutation(len(s_norm))
        cal, test_n = s_norm[idx[:N_CAL]], s_norm[idx[N_CAL : N_CAL + 90]]
        test_a = s_anom[r.choice(len(s_anom), 10, replace=False)]
        p = fn(cal, np.concatenate([test_n, test_a]))
        flagged = benjamini_hochberg(p, q)
        false = flagged[:90].sum()
        fdp.append(false / max(1, flagged.sum()))
        power.append(flagged[90:].mean())
        plain = p <= q
        fdp_plain.append(plain[:90].sum() / max(1, plain.sum()))
    # FDP ∈ [0, 1]: its standard deviation is at most 0.5, well under that here
    assert np.mean(fdp) <= q * 0.9 + 3 * 0.3 / np.sqrt(SEEDS), np.mean(fdp)
    assert np.mean(power) > 0.3, f"{name}: BH finds {np.mean(power):.2f} of the anomalies"
    assert np.mean(fdp_plain) > np.mean(fdp)


# -- the estimator API ------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_fit_with_calibration_gives_p_values_and_alpha_predictions(name: str) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 4)).astype(np.float32)
    X_new = np.vstack([rng.normal(size=(30, 4)), rng.normal(5.0, 1.0, size=(10, 4))])
    det = make(name).fit(X, calibration=0.25)
    assert len(det.decision_scores_) == 300 and len(det.calibration_scores_) == 100
    p = det.p_values(X_new)
    assert p.shape == (40,) and ((p > 0) & (p <= 1)).all()
    fn = two_sided_p_values if det._two_sided() else conformal_p_values
    np.testing.assert_allclose(p, fn(det.calibration_scores_, det.decision_function(X_new)))
    np.testing.assert_array_equal(det.predict(X_new, alpha=0.1), (p <= 0.1).astype(int))
    np.testing.assert_array_equal(det.predict(X_new, alpha=0.1, fdr=True),
                                  benjamini_hochberg(p, 0.1).astype(int))
    np.testing.assert_array_equal(det.predict(X_new), det._flag(det.decision_function(X_new)))


def test_p_values_need_a_calibration_set_and_calibrate_adds_one() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    det = KNNDetector().fit(X)
    for call in (lambda: det.p_values(X[:5]), lambda: det.predict(X[:5], alpha=0.05)):
        with pytest.raises(ValueError, match="calibration"):
            call()
    held_out = rng.normal(size=(99, 3)).astype(np.float32)
    det.calibrate(held_out)
    assert det.p_values(X[:5]).shape == (5,)
    assert det.p_values(held_out).min() == pytest.approx(2 / 100)  # its own maximum
    for kwargs, match in [({"alpha": 0.0}, "alpha"), ({"alpha": 2}, "alpha"),
                          ({"fdr": True}, "alpha")]:
        with pytest.raises(ValueError, match=match):
            det.predict(X[:5], **kwargs)
    with pytest.raises(ValueError, match="calibration"):
        KNNDetector().fit(X, calibration=1.5)


@pytest.mark.parametrize("name", ["knn", "recommended", "historyad"])
def test_series_get_one_p_value_per_window(name: str) -> None:
    rng = np.random.default_rng(2)
    windows = np.tanh(rng.normal(size=(200, 2, 16))).astype(np.float32)
    det = make(name).fit(windows, calibration=0.2)
    assert len(det.calibration_scores_) == 40
    np.testing.assert_allclose(det.calibration_scores_,
                               np.sort(det.decision_function(windows[160:])))
    p = det.p_values(windows[:7])
    assert p.shape == (7,)
