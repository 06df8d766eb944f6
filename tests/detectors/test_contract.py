"""The scikit-learn contract, checked for every registered detector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from historyad.detectors.base import BaseDetector, DetectorFileError
from historyad.detectors.registry import DETECTORS, get_detector

# Tiny schedules so the whole contract runs in seconds on 2 CPU cores (no iteration floor).
_GAN_FAST: dict[str, Any] = {"n_epochs": 0.5, "batch_size": 32, "width": 16,
                             "min_iterations": 0}
FAST: dict[str, dict[str, Any]] = {
    "knn": {"n_neighbors": 3},
    "density-ratio": {**_GAN_FAST, "n_neighbors": 3},
    "recommended": {**_GAN_FAST, "n_neighbors": 3},
    "critic": _GAN_FAST,
    "encoder": {**_GAN_FAST, "encoder_epochs": 1.0},
    "inversion": {**_GAN_FAST, "inversion_steps": 5},
    "historyad": {
        **_GAN_FAST,
        "n_epochs": 1.0,
        "alpha": 0.2,
        "saves_per_epoch": 10,
        "dtv_steps": 20,
    },
}
# HistoryAD's two estimators of eq. (11)'s optimum: seed 000's network (the default) and knn.
FAST["historyad-knn"] = {**FAST["historyad"], "estimator": "knn"}
NAMES = [*sorted(DETECTORS), "historyad-knn"]
# memory-based detectors: training rows leave themselves out of their own neighbours
LEAVE_SELF_OUT = {"knn", "density-ratio", "recommended", "historyad-knn"}


def make(name: str, **extra: Any) -> BaseDetector:
    return get_detector(name.removesuffix("-knn"))(**{**FAST[name], **extra})


def normal_and_shifted(n_train: int, n_shifted: int) -> tuple[np.ndarray, np.ndarray]:
    """(X (n_train, 4) standard normal, X_test: 20 normal rows then n_shifted rows centred
    at 4), float32, seed 0."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_train, 4)).astype(np.float32)
    X_test = np.vstack([rng.normal(size=(20, 4)), rng.normal(4.0, 1.0, size=(n_shifted, 4))])
    return X, X_test.astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return normal_and_shifted(320, 20)


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, np.ndarray]) -> dict[str, BaseDetector]:
    X, _ = data
    return {name: make(name).fit(X) for name in NAMES}


def test_registry_covers_the_paper_detectors_knn_and_ours() -> None:
    assert set(DETECTORS) == {"historyad", "critic", "encoder", "inversion", "knn",
                              "density-ratio", "recommended"}
    assert get_detector("recommended").__name__ == "DensityRatioEnsemble"


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_init_only_stores_params(name: str) -> None:
    det = get_detector(name)()
    params = det.get_params()
    assert params  # every param is readable back
    assert not [k for k in vars(det) if k.endswith("_") and not k.startswith("_")]
    clone(det)  # sklearn's clone works: __init__ stores arguments unchanged
    with pytest.raises(TypeError):
        get_detector(name)(1)  # keyword-only


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_sets_fitted_attributes(name: str, data: Any) -> None:
    X, _ = data
    det = make(name)
    assert det.fit(X) is det
    assert det.decision_scores_.shape == (len(X),)
    assert np.isfinite(det.threshold_)
    assert det.input_shape_ == (4,)


@pytest.mark.parametrize("name", NAMES)
def test_training_scores_take_the_test_scoring_path(name: str, data: Any, fitted: dict) -> None:
    X, _ = data
    det = fitted[name]
    expected = det.decision_function(X)
    if name in LEAVE_SELF_OUT:  # documented exception, checked in the two tests below
        assert not np.allclose(det.decision_scores_, expected)
        return
    np.testing.assert_allclose(det.decision_scores_, expected, rtol=1e-6, atol=1e-6)


def test_knn_training_scores_leave_each_row_out_by_hand() -> None:
    """Points 0, 1, 3, 7, 15 on a line, k = 3. Leaving each row out, its other distances
    are 0: (1, 3, 7, 15), 1: (1, 2, 6, 14), 3: (2, 3, 4, 12), 7: (4, 6, 7, 8),
    15: (8, 12, 14, 15); the third smallest: 7, 6, 4, 7, 14. A new point at 2 is 2, 1, 1,
    5, 13 away: third smallest 2. Standardised, every distance is divided by the std
    (np.std of the five points, 5.276...)."""
    X = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])
    det = get_detector("knn")(n_neighbors=3, standardize=False).fit(X)
    np.testing.assert_allclose(det.decision_scores_, [7.0, 6.0, 4.0, 7.0, 14.0])
    np.testing.assert_allclose(det.decision_function(np.array([[2.0]])), [2.0])
    scaled = get_detector("knn")(n_neighbors=3).fit(X)
    std = np.sqrt(np.mean((X - 5.2) ** 2))  # mean 26 / 5 = 5.2
    np.testing.assert_allclose(scaled.decision_scores_, np.array([7, 6, 4, 7, 14]) / std)
    # mean: the mean of the k = 3 distances: (1+3+7)/3, (1+2+6)/3, (2+3+4)/3, ...
    mean = get_detector("knn")(n_neighbors=3, standardize=False, method="mean").fit(X)
    np.testing.assert_allclose(mean.decision_scores_, [11 / 3, 3.0, 3.0, 17 / 3, 34 / 3])


@pytest.mark.parametrize("name", sorted(LEAVE_SELF_OUT))
def test_memory_based_threshold_is_calibrated_on_fresh_normals(name: str) -> None:
    """Leave-self-out training scores are distributed like the scores of fresh normals, so
    ``predict`` flags about ``contamination`` of them. Scoring the training rows against
    themselves (a zero self-distance) would put the threshold far too low (≈ 50 % flagged)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 3)).astype(np.float32)
    fresh = rng.normal(size=(3000, 3)).astype(np.float32)
    det = make(name, contamination=0.1).fit(X)
    rate = det.predict(fresh).mean()
    assert 0.05 < rate < 0.17, f"{name} flags {rate:.3f} of fresh normals at contamination 0.1"


@pytest.mark.parametrize("name", ["historyad", "historyad-knn"])
def test_two_sided_training_scores_take_the_test_scoring_path(name: str, data: Any) -> None:
    """Properties the two-sided score has by definition, checked on the training scores
    without its formula: 0 at the raw median, 1 at the raw 5 % and 95 % quantiles, so
    about 90 % of training rows score <= 1; it grows with the distance from the median on
    each side; the same detector with score="dtv" gives the raw scores."""
    X, _ = data
    det = make(name, score="two-sided").fit(X)
    raw = make(name).fit(X).decision_scores_  # score="dtv", same seed: the raw scores
    two = det.decision_scores_
    if name == "historyad":  # the network: training scores = test path
        np.testing.assert_array_equal(two, det.decision_function(X))
    assert two.min() >= 0 and two.min() < 0.02
    assert np.mean(two <= 1 + 1e-6) == pytest.approx(0.90, abs=0.02)
    for side in (raw >= np.median(raw), raw < np.median(raw)):  # monotone on each side
        order = np.argsort(np.abs(raw[side] - np.median(raw)))
        assert np.all(np.diff(two[side][order]) >= -1e-6)
    assert det.score_reference_[0] < det.score_reference_[1] < det.score_reference_[2]
    assert np.mean(raw <= det.score_reference_[1]) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_error(name: str, data: Any) -> None:
    with pytest.raises(NotFittedError):
        make(name).decision_function(data[1])
    with pytest.raises(NotFittedError):
        make(name).predict(data[1])


def _standardised(X: np.ndarray, X_train: np.ndarray) -> torch.Tensor:
    """X standardised with the training mean and std, computed here (not by the detector)."""
    return torch.from_numpy(((X - X_train.mean(0)) / X_train.std(0)).astype(np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_scores_shapes_predict_and_sign(name: str, data: Any, fitted: dict) -> None:
    """Higher = more anomalous: distance-like detectors rank the shifted half of X_test
    above the normal half; the critic's and D_TV's scores are +D(x), not −D(x) (their
    training signal, test_signs.py, says which side is anomalous); ``score_samples`` is
    the negated score."""
    X, X_test = data
    det = fitted[name]
    s = det.decision_function(X_test)
    assert s.shape == (len(X_test),) and np.isfinite(s).all()
    np.testing.assert_array_equal(det.score_samples(X_test), -s)
    if name in ("critic", "historyad"):
        net = det.gan_.critic if name == "critic" else det.dtv_
        with torch.no_grad():
            np.testing.assert_allclose(s, net(_standardised(X_test, X)).numpy(),
                                       rtol=1e-4, atol=1e-5)
    else:
        assert s[20:].min() > np.median(s[:20]), f"{name}: the shifted cluster is not higher"
        assert s[20:].mean() > s[:20].mean() + 1.0 * s[:20].std()
    assert set(np.unique(det.predict(X_test))) <= {0, 1}
    if getattr(det, "threshold_mode", "quantile") == "interval":  # the critic (seed 001)
        outside = (s > det.threshold_) | (s < det.threshold_low_)
        np.testing.assert_array_equal(det.predict(X_test), outside.astype(int))
        assert det.threshold_ == det.decision_scores_.max()
        assert det.threshold_low_ == det.decision_scores_.min()
        return
    np.testing.assert_array_equal(det.predict(X_test), (s > det.threshold_).astype(int))
    # threshold from training scores only: the (1 - contamination) quantile
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.95))


@pytest.mark.parametrize("name", NAMES)
def test_a_row_scores_the_same_alone_and_in_a_shuffled_batch(
    name: str, data: Any, fitted: dict
) -> None:
    """No score depends on the other rows of the batch or on the row's position (the
    inversion detector's starting latents used to: a row alone 0.367, in a batch 0.228)."""
    _, X_test = data
    det = fitted[name]
    s = det.decision_function(X_test)
    perm = np.random.default_rng(1).permutation(len(X_test))
    np.testing.assert_allclose(det.decision_function(X_test[perm]), s[perm],
                               rtol=1e-5, atol=1e-5)
    alone = np.array([det.decision_function(X_test[i : i + 1])[0] for i in (0, 7, 25, 39)])
    np.testing.assert_allclose(alone, s[[0, 7, 25, 39]], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_torch_input_gives_same_scores(name: str, data: Any, fitted: dict) -> None:
    _, X_test = data
    det = fitted[name]
    np.testing.assert_allclose(
        det.decision_function(torch.from_numpy(X_test)), det.decision_function(X_test)
    )


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_scores(name: str, data: Any, fitted: dict) -> None:
    X, X_test = data
    again = make(name).fit(X)
    np.testing.assert_allclose(
        again.decision_function(X_test), fitted[name].decision_function(X_test), rtol=1e-6
    )


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name: str, data: Any, fitted: dict, tmp_path: Path) -> None:
    _, X_test = data
    det = fitted[name]
    path = det.save(tmp_path / f"{name}.safetensors")
    loaded = BaseDetector.load(path)
    assert type(loaded) is type(det)
    assert loaded.get_params() == det.get_params()
    np.testing.assert_array_equal(loaded.decision_function(X_test), det.decision_function(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), det.predict(X_test))


@pytest.mark.parametrize("name", NAMES)
def test_truncated_or_tampered_file_is_refused(
    name: str, fitted: dict, tmp_path: Path
) -> None:
    path = fitted[name].save(tmp_path / "det.safetensors")
    raw = path.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DetectorFileError, match="truncated or corrupt"):
        BaseDetector.load(tmp_path / "trunc.safetensors")
    tampered = bytearray(raw)
    tampered[-3] ^= 0xFF  # flip bits in the last tensor's data
    (tmp_path / "tamper.safetensors").write_bytes(bytes(tampered))
    with pytest.raises(DetectorFileError, match="SHA-256"):
        BaseDetector.load(tmp_path / "tamper.safetensors")
    with pytest.raises(DetectorFileError, match="no detector file"):
        BaseDetector.load(tmp_path / "missing.safetensors")


BAD_INPUTS = [
    (np.array([[np.nan, 0, 0, 0]], dtype=np.float32), ValueError, "NaN"),
    (np.array([[np.inf, 0, 0, 0]], dtype=np.float32), ValueError, "1 infinite"),
    (np.array([[1e39, 0, 0, 0]]), ValueError, "beyond the float32 range"),
    (np.ones((3, 4), dtype=complex), ValueError, "Complex data not supported"),
    (np.array([[{}, 0, 0, 0]], dtype=object), TypeError, "not a real number"),
    (np.zeros(4, dtype=np.float32), ValueError, "rank 1"),
    (np.zeros((2, 1, 1, 4, 1), dtype=np.float32), ValueError, "rank 5"),
    (np.zeros((0, 4), dtype=np.float32), ValueError, "empty"),
    (np.array([["a", "b", "c", "d"]]), TypeError, "dtype"),
    (np.zeros((3, 5), dtype=np.float32), ValueError, "per-sample shape"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad,exc,match", BAD_INPUTS)
def test_bad_inputs_raise_clearly(
    name: str, fitted: dict, bad: np.ndarray, exc: type, match: str
) -> None:
    with pytest.raises(exc, match=match):
        fitted[name].decision_function(bad)


@pytest.mark.parametrize("name", NAMES)
def test_fit_rejects_bad_input_and_params(name: str) -> None:
    with pytest.raises(ValueError, match="NaN"):
        make(name).fit(np.full((10, 4), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="contamination"):
        make(name, contamination=0.9).fit(np.zeros((10, 4), dtype=np.float32))


@pytest.mark.parametrize(
    "shape", [(1, 8, 8), (6, 24)], ids=["image-1x8x8", "series-6x24"]
)
@pytest.mark.parametrize("name", ["critic", "historyad", "historyad-knn", "recommended"])
def test_images_and_series(name: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    X = np.tanh(rng.normal(size=(128, *shape))).astype(np.float32)
    det = make(name).fit(X)
    assert det.decision_function(X[:7]).shape == (7,)
    with pytest.raises(ValueError, match="per-sample shape"):
        det.decision_function(X[:, :, :4])
