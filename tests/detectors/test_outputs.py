"""PyOD's and scikit-learn's outlier-detector contract for every registered detector:
``labels_``, ``fit_predict``, ``predict_proba``, ``predict_confidence``, the estimator tag,
``contamination`` up to 0.5, and use inside PyOD's score combination and LSCP ensemble and a
scikit-learn ``Pipeline`` + ``GridSearchCV``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import is_outlier_detector
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from historyad.detectors.base import BaseDetector
from historyad.detectors.knn import KNNDetector
from tests.detectors.test_contract import NAMES, make


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(320, 4)).astype(np.float32)
    X_test = np.vstack([rng.normal(size=(60, 4)), rng.normal(4.0, 1.0, size=(20, 4))])
    y_test = np.r_[np.zeros(60), np.ones(20)].astype(int)
    return X, X_test.astype(np.float32), y_test


@pytest.fixture(scope="module")
def fitted(data: Any) -> dict[str, BaseDetector]:
    return {name: make(name).fit(data[0]) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_labels_and_fit_predict(name: str, data: Any, fitted: dict) -> None:
    X = data[0]
    det = fitted[name]
    np.testing.assert_array_equal(det.labels_, det._flag(det.decision_scores_))
    assert det.labels_.dtype == np.int64 and set(np.unique(det.labels_)) <= {0, 1}
    np.testing.assert_array_equal(make(name).fit_predict(X), det.labels_)
    if getattr(det, "threshold_mode", "quantile") == "quantile":
        assert det.labels_.mean() == pytest.approx(det.contamination, abs=2 / len(X))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["linear", "unify"])
def test_predict_proba_rows_sum_to_one_and_grow_with_the_score(
    name: str, method: str, data: Any, fitted: dict
) -> None:
    det = fitted[name]
    rng = np.random.default_rng(1)
    X = np.vstack([data[1], rng.normal(0.0, 3.0, size=(200, 4))]).astype(np.float32)
    probs = det.predict_proba(X, method=method)
    assert probs.shape == (len(X), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert ((probs >= 0) & (probs <= 1)).all()
    order = np.argsort(det.decision_function(X), kind="stable")
    assert (np.diff(probs[order, 1]) >= 0).all(), "P(anomaly) must not fall as the score grows"
    probs2, conf = det.predict_proba(X, method=method, return_confidence=True)
    np.testing.assert_array_equal(probs2, probs)
    assert conf.shape == (len(X),)


def test_predict_proba_rejects_an_unknown_method(fitted: dict, data: Any) -> None:
    with pytest.raises(ValueError, match="linear"):
        fitted["knn"].predict_proba(data[1], method="softmax")


@pytest.mark.parametrize("name", ["knn", "historyad", "encoder"])
def test_outputs_equal_pyods_own_definitions(name: str, data: Any, fitted: dict) -> None:
    """PyOD's BaseDetector methods run on our scores give our predict_proba and
    predict_confidence (a PyOD detector carrying our fitted scores and threshold)."""
    pytest.importorskip("pyod")
    from pyod.models.knn import KNN

    det = fitted[name]
    X = data[1]
    scores = det.decision_function(X)
    twin = KNN(contamination=det.contamination)
    twin.decision_scores_ = det.decision_scores_
    twin.threshold_ = det.threshold_
    twin.labels_ = det.labels_
    twin._mu, twin._sigma = det.decision_scores_.mean(), det.decision_scores_.std()
    twin._classes = 2
    twin.decision_function = lambda _X: scores
    for method in ("linear", "unify"):
        np.testing.assert_allclose(det.predict_proba(X, method=method),
                                   twin.predict_proba(X, method=method))
    np.testing.assert_allclose(det.predict_confidence(X), twin.predict_confidence(X))
    conf = det.predict_confidence(X)
    assert ((conf >= 0) & (conf <= 1)).all()


@pytest.mark.parametrize("name", NAMES)
def test_scikit_learn_sees_an_outlier_detector(name: str) -> None:
    det = make(name)
    assert is_outlier_detector(det)
    assert det.__sklearn_tags__().estimator_type == "outlier_detector"


def test_contamination_up_to_one_half(data: Any) -> None:
    X = data[0]
    det = KNNDetector(contamination=0.5).fit(X)
    assert det.labels_.mean() == pytest.approx(0.5, abs=0.01)
    for bad in (0.0, 0.51, 1.0):
        with pytest.raises(ValueError, match="contamination"):
            KNNDetector(contamination=bad).fit(X)


def test_leave_one_out_training_scores_flag_fewer_training_rows() -> None:
    """Documented: kNN's ``decision_scores_`` leave each row out of its own neighbours, so
    ``labels_`` flags ≈ contamination of the training rows while ``predict(X_train)``,
    which scores each row with itself as a neighbour, flags fewer."""
    X = np.random.default_rng(4).normal(size=(1000, 3)).astype(np.float32)
    det = KNNDetector(contamination=0.1).fit(X)
    assert det.labels_.mean() == pytest.approx(0.1, abs=0.002)
    assert det.predict(X).mean() < 0.095


# -- inside PyOD's model combination and scikit-learn's model selection -----------------
def test_every_detector_in_pyods_score_combination(data: Any, fitted: dict) -> None:
    """PyOD's recipe for combining detectors: standardise each detector's training and test
    scores with its training statistics (``pyod.utils.utility.standardizer``), then average
    or take the maximum (what ``pyod.models.combination.average`` / ``maximization`` do;
    that module needs the separate ``combo`` package, so the two reductions are written
    here)."""
    pytest.importorskip("pyod")
    from pyod.utils.utility import standardizer

    X, X_test, y_test = data
    train = np.column_stack([fitted[n].decision_scores_ for n in NAMES])
    test = np.column_stack([fitted[n].decision_function(X_test) for n in NAMES])
    train_norm, test_norm = standardizer(train, test)
    assert train_norm.shape == (len(X), len(NAMES))
    assert test_norm.shape == (len(X_test), len(NAMES))
    for combined in (test_norm.mean(axis=1), test_norm.max(axis=1)):
        assert combined.shape == (len(X_test),) and np.isfinite(combined).all()
        assert roc_auc_score(y_test, combined) > 0.9


def test_every_detector_inside_pyods_lscp_ensemble(data: Any) -> None:
    """PyOD's LSCP (locally selective combination) fits a list of PyOD detectors itself and
    reads their ``decision_scores_`` and ``decision_function``: ours go in that list."""
    pytest.importorskip("pyod")
    from pyod.models.lscp import LSCP

    X, X_test, y_test = data
    ensemble = LSCP([make(n) for n in NAMES], local_region_size=30, random_state=0)
    ensemble.fit(X)
    scores = ensemble.decision_function(X_test)
    assert scores.shape == (len(X_test),) and np.isfinite(scores).all()
    assert roc_auc_score(y_test, scores) > 0.8
    assert set(np.unique(ensemble.predict(X_test))) <= {0, 1}


def _auroc(estimator: Any, X: np.ndarray, y: np.ndarray) -> float:
    return roc_auc_score(y, estimator.decision_function(X))


@pytest.mark.parametrize("name", NAMES)
def test_every_detector_in_a_pipeline_with_grid_search(name: str, data: Any) -> None:
    """A scikit-learn Pipeline (scaler + detector) cloned and refitted by GridSearchCV over
    ``contamination`` (two values, two folds) with an AUROC scorer; the refitted best
    pipeline scores, predicts and gives probabilities."""
    _, X_test, y_test = data
    pipe = Pipeline([("scale", StandardScaler()), ("det", make(name))])
    folds = StratifiedKFold(2, shuffle=True, random_state=0)  # anomalies in both folds
    search = GridSearchCV(pipe, {"det__contamination": [0.1, 0.5]}, scoring=_auroc, cv=folds,
                          error_score="raise")
    search.fit(X_test, y_test)  # y is ignored by the detectors, used by the scorer
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["det__contamination"] in (0.1, 0.5)
    best = search.best_estimator_
    assert best.predict(X_test).shape == (len(X_test),)
    assert best.decision_function(X_test).shape == (len(X_test),)
    assert best.predict_proba(X_test).shape == (len(X_test), 2)
    assert is_outlier_detector(best.named_steps["det"])
