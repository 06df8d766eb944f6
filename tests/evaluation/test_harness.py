"""The one fit-and-score path (``evaluation.harness``) and the jobs of the CLI."""

from __future__ import annotations

import math

import numpy as np

from historyad.evaluation import harness, jobs

FAST = {"n_epochs": 2.0, "width": 8, "min_iterations": 0}


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    X_test = np.vstack([rng.normal(size=(30, 3)), rng.normal(4, 1, size=(30, 3))])
    return X, X_test.astype(np.float32), np.r_[np.zeros(30), np.ones(30)].astype(int)


def test_a_given_gan_run_is_shared_through_the_public_api(monkeypatch) -> None:
    import historyad.training.trainer as trainer
    from historyad.detectors.critic import CriticDetector

    X, X_test, y = _data()
    calls = []
    real = trainer.train_gan
    monkeypatch.setattr(trainer, "train_gan", lambda *a, **k: calls.append(1) or real(*a, **k))
    run = harness.train_gan_for(CriticDetector(**FAST), X)
    assert len(calls) == 1
    specs = {"critic": {"name": "critic"}, "knn": {"name": "knn"},
             "critic-head": {"name": "critic"}}
    res = harness.evaluate_detectors(
        X, X_test, y, specs, gan=FAST, gan_run=run, keep_models=True, fit_max={"knn": 50},
        extra={"tag": "t"}, dataset="toy", anomaly=1,
    )  # fmt: skip
    assert len(calls) == 1  # nothing trained again
    assert [r.detector for r in res] == ["critic", "knn", "critic-head"]
    assert res[0].model.gan_ is run and res[2].model.gan_ is run
    assert len(res[1].model.decision_scores_) == 50
    rec = res[0].record()
    assert rec["tag"] == "t" and rec["anomaly"] == "1" and rec["dataset"] == "toy"
    assert rec["fit_seconds"] >= run.fit_seconds - 1e-3


def test_fit_each_is_lazy_and_score_fitted_gives_nan_on_one_class() -> None:
    X, X_test, _ = _data()
    fitted = harness.fit_each(X, {"knn": {"name": "knn"}, "knn3": {"name": "knn",
                                                                    "n_neighbors": 3}})
    label, det, seconds = next(fitted)
    assert label == "knn" and seconds >= 0
    res = harness.score_fitted(label, det, seconds, X_test, np.zeros(len(X_test), int))
    assert math.isnan(res.auprc) and math.isnan(res.auroc)
    assert [lab for lab, _, _ in fitted] == ["knn3"]


def test_evaluate_settings_routes_parameters_and_announces_the_short_schedule_alpha() -> None:
    specs, gan, history, notes = jobs.evaluate_settings(
        ["historyad", "knn"], {"n_epochs": 1, "historyad.dtv_steps": 5, "n_neighbors": 3},
        gan={}, history={}, device="cpu", seed=4, quick=False,
    )  # fmt: skip
    assert gan == {"device": "cpu", "random_state": 4, "n_epochs": 1}
    assert specs == {"historyad": {"name": "historyad", "dtv_steps": 5, "n_neighbors": 3},
                     "knn": {"name": "knn", "device": "cpu", "n_neighbors": 3}}
    assert history == {"alpha": 0.2} and "alpha=0.2" in notes[0]
    # an explicit alpha, a longer schedule or no HistoryAD: nothing is set
    for names, params, hist in ((["historyad"], {"n_epochs": 1}, {"alpha": 0.5}),
                                (["historyad"], {"n_epochs": 2}, {}),
                                (["critic"], {"n_epochs": 1}, {})):
        _, _, history, notes = jobs.evaluate_settings(
            names, params, gan={}, history=hist, device="cpu", seed=0, quick=False)
        assert history == hist and notes == []


def test_gan_keys_are_defined_once() -> None:
    from historyad.evaluation.experiments import gan_helpers

    assert not hasattr(gan_helpers, "GAN_KEYS")
    assert jobs.GAN_KEYS is harness.GAN_KEYS
