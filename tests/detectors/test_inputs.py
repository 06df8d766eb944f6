"""The input layer (``historyad.detectors.inputs``, issue 14 item 3 and issue 16 "Numbers"):
how axes are read, what is refused and how, and the numbers the detectors compute on.

Every rule runs through one code path for ``fit`` and for scoring; most tests use
``KNNDetector`` (no training) so that they are fast.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from historyad.detectors import BaseDetector, CriticDetector, KNNDetector
from historyad.detectors.inputs import (
    InputTypeError,
    InputValueError,
    InputWarning,
    check_input,
)
from historyad.detectors.standardize import fit_standardization

RNG = np.random.default_rng(0)


def _images(n: int = 40, shape: tuple[int, ...] = (8, 8)) -> np.ndarray:
    return np.tanh(RNG.normal(size=(n, *shape)))


# -- axes: (N, H, W), channels-last, (N, T, C) -------------------------------------------
def test_grey_images_given_as_n_h_w_are_one_channel_with_input_kind_image() -> None:
    X = _images(40, (8, 8))
    det = KNNDetector(input_kind="image").fit(X)
    assert det.input_shape_ == (1, 8, 8) and det.kind_ == "image"
    np.testing.assert_array_equal(det.decision_function(X), det.decision_function(X[:, None]))


def test_three_d_input_under_auto_is_series_and_square_ones_warn() -> None:
    """The old reading, (N, 28, 28) grey images as 28-channel series, is no longer silent."""
    X = _images(40, (12, 12))
    with pytest.warns(InputWarning, match=r"input_kind='image'.*X\[:, None\]"):
        det = KNNDetector().fit(X)
    assert det.kind_ == "series" and det.input_shape_ == (12, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit kind silences it
        KNNDetector(input_kind="series").fit(X)


def test_series_given_as_n_t_c_get_the_transpose_as_a_hint() -> None:
    X = RNG.normal(size=(30, 64, 3))  # (N, T, C) windows, read as 64 channels × 3 steps
    with pytest.warns(InputWarning, match=r"\(N, T, C\) windows pass X.transpose\(0, 2, 1\)"):
        KNNDetector().fit(X)
    with pytest.raises(InputValueError, match=r"at least 4 steps.*transpose\(0, 2, 1\)"):
        with pytest.warns(InputWarning):
            CriticDetector(n_epochs=0.1, min_iterations=0).fit(X)  # conv nets need T >= 4


def test_a_univariate_series_is_one_channel_with_input_kind_series() -> None:
    X = RNG.normal(size=(30, 16))
    det = KNNDetector(input_kind="series").fit(X)
    assert det.input_shape_ == (1, 16) and det.kind_ == "series"


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_last_images_are_refused_with_the_transpose(channels: int) -> None:
    X = _images(20, (8, 8, channels))  # (N, H, W, C)
    with pytest.raises(InputValueError, match=r"channels-last.*X.transpose\(0, 3, 1, 2\)"):
        KNNDetector().fit(X)
    det = KNNDetector().fit(X.transpose(0, 3, 1, 2))  # at scoring too
    with pytest.raises(InputValueError, match=r"transpose\(0, 3, 1, 2\)"):
        det.decision_function(X)


def test_input_kind_table_refuses_other_ranks() -> None:
    with pytest.raises(InputValueError, match=r"input_kind='table' takes \(N, D\)"):
        KNNDetector(input_kind="table").fit(_images(10))


# -- image range -------------------------------------------------------------------------
def test_pixels_in_0_255_are_refused_with_the_formula_at_fit() -> None:
    X = RNG.integers(0, 256, size=(30, 1, 8, 8)).astype(np.uint8)
    with pytest.raises(InputValueError, match=r"\[-1, 1\].*X / 127.5 - 1"):
        KNNDetector().fit(X)
    with pytest.raises(InputValueError, match=r"2 \* \(X - 0\) / \(3 - 0\) - 1"):
        KNNDetector().fit(np.linspace(0, 3, 30 * 64).reshape(30, 1, 8, 8))
    det = KNNDetector(standardize=True).fit(X)  # standardised images: no range rule
    assert det.mean_ is not None


def test_pixel_scaled_copies_are_refused_at_scoring_other_outliers_are_scored() -> None:
    X = RNG.integers(0, 256, size=(30, 1, 8, 8))
    det = KNNDetector().fit(X / 127.5 - 1)
    with pytest.raises(InputValueError, match=r"0\.\.255 pixels.*X / 127.5 - 1"):
        det.decision_function(X.astype(np.uint8))
    far = np.full((1, 1, 8, 8), 40.5)  # a far outlier, not pixels: scored and flagged
    assert det.predict(far)[0] == 1


# -- data frames, dtypes, sparse ---------------------------------------------------------
def test_dataframes_keep_feature_names_and_name_wrong_columns(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(RNG.normal(size=(40, 3)), columns=["temp", "flow", "load"])
    det = KNNDetector().fit(X)
    assert list(det.feature_names_in_) == ["temp", "flow", "load"]
    assert det.feature_names_in_.dtype == object
    with pytest.raises(InputValueError, match=r"(?s)same order.*\['temp', 'flow', 'load'\]"):
        det.decision_function(X[["flow", "temp", "load"]])
    with pytest.raises(InputValueError, match=r"yet now missing:\n- load"):
        det.decision_function(X[["temp", "flow"]])
    with pytest.raises(InputValueError, match=r"unseen at fit time:\n- speed"):
        det.decision_function(X.assign(speed=1.0))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        det.decision_function(X.to_numpy())
    loaded = BaseDetector.load(det.save(tmp_path / "knn.safetensors"))
    assert list(loaded.feature_names_in_) == ["temp", "flow", "load"]
    det.fit(X.to_numpy())  # refitted on an array: no names
    assert not hasattr(det, "feature_names_in_")


def test_bool_and_pandas_nullable_numbers_are_accepted() -> None:
    pd = pytest.importorskip("pandas")
    B = RNG.random((40, 3)) > 0.5
    det = KNNDetector().fit(B)
    np.testing.assert_array_equal(det.decision_function(B), det.decision_function(B * 1.0))
    frame = pd.DataFrame({
        "count": pd.array(RNG.integers(0, 9, 40), dtype="Int64"),
        "level": pd.array(RNG.normal(size=40), dtype="Float64"),
        "on": pd.array(RNG.random(40) > 0.5, dtype="boolean"),
    })
    det = KNNDetector().fit(frame)
    plain = frame.astype("float64").to_numpy()
    with pytest.warns(UserWarning, match="valid feature names"):
        np.testing.assert_allclose(det.decision_function(frame), det.decision_function(plain))
    frame.loc[3, "count"] = pd.NA
    with pytest.raises(InputValueError, match=r"1 NaN \(missing\) values, the first at index "
                                              r"\(3, 0\)"):
        det.decision_function(frame)


def test_text_and_date_columns_are_named() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "site": ["x", "y"],
                          "when": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    with pytest.raises(InputTypeError, match=r"not numbers: 'site' .*'when' \(datetime"):
        KNNDetector(n_neighbors=1).fit(frame)


def test_sparse_input_is_refused_saying_toarray() -> None:
    sparse = pytest.importorskip("scipy.sparse")
    X = RNG.normal(size=(20, 3))
    with pytest.raises(InputTypeError, match=r"sparse.*convert with X.toarray\(\)"):
        KNNDetector().fit(sparse.csr_matrix(X))
    det = KNNDetector().fit(X)
    with pytest.raises(InputTypeError, match=r"X.toarray\(\)"):
        det.decision_function(sparse.csr_array(X))


BAD = [
    (np.array([[1.0, np.nan]] * 12), InputValueError, r"12 NaN \(missing\) values"),
    (np.array([[1.0, np.inf]] * 12), InputValueError, r"12 infinite"),
    (np.array([[1.0, 2.0]] * 12, dtype=complex), InputValueError, "Complex data not supported"),
    (np.array([["a", "b"]] * 12), InputTypeError, r"dtype <U1 \(text\)"),
    (np.zeros((12, 2), dtype="datetime64[s]"), InputTypeError, "dates"),
    (np.array([[{"a": 1}, 2.0]] * 12, dtype=object), InputTypeError, "not a real number"),
    ([[1.0, 2.0], [3.0]], InputTypeError, "could not be read as an array"),
    (np.zeros(12), InputValueError, r"rank 1 .*reshape\(-1, 1\)"),
    (np.zeros((12, 0)), InputValueError, r"0 feature\(s\) \(shape=\(12, 0\)\)"),
    (None, InputTypeError, "None"),
]


@pytest.mark.parametrize("bad,exc,match", BAD)
def test_fit_and_scoring_refuse_the_same_inputs_the_same_way(bad, exc, match) -> None:
    with pytest.raises(exc, match=match):
        KNNDetector(n_neighbors=2).fit(bad)
    det = KNNDetector(n_neighbors=2).fit(RNG.normal(size=(12, 2)))
    with pytest.raises(exc, match=match):
        det.decision_function(bad)


def test_float32_float64_ints_lists_and_tensors_score_alike() -> None:
    X = RNG.integers(-5, 5, size=(30, 3))
    det = KNNDetector().fit(X)
    ref = det.decision_function(X)
    for other in (X.astype(np.float32), X.astype(np.float64), X.tolist(),
                  torch.from_numpy(X), torch.from_numpy(X).half()):
        np.testing.assert_allclose(det.decision_function(other), ref, rtol=1e-6)


# -- numbers: standardisation and float32 ------------------------------------------------
def test_a_feature_at_1_7e9_plus_minus_10_is_standardised_correctly() -> None:
    """Float32 statistics gave scale_ = 3456, every training score 0 and a row 6 sd away
    unflagged (issue 16)."""
    X = np.column_stack([1.7e9 + RNG.normal(0, 10, 500), RNG.normal(size=500)])
    det = KNNDetector().fit(X)
    assert det.scale_[0] == pytest.approx(10.0, rel=0.1)
    assert det.mean_[0] == pytest.approx(1.7e9, abs=2.0)
    assert np.ptp(det.decision_scores_) > 0.1
    far = np.array([[1.7e9 + 60.0, 0.0]])  # 6 sd away in the first feature
    assert det.predict(far)[0] == 1


def test_a_constant_column_gets_scale_one_and_small_changes_stay_small() -> None:
    """A constant 0.1 column got scale_ = 9.5e-7, so a 1 % change scored 10 486."""
    X = np.column_stack([np.full(300, 0.1, dtype=np.float32),
                         RNG.normal(size=(300, 2)).astype(np.float32)])
    det = KNNDetector().fit(X)
    assert det.scale_[0] == 1.0
    row = X[:1].copy()
    moved = row.copy()
    moved[0, 0] *= 1.01
    assert abs(det.decision_function(moved)[0] - det.decision_function(row)[0]) < 0.01


def test_constant_detection_is_relative_to_the_mean() -> None:
    """scikit-learn's StandardScaler bound: a spread of 1e-6 around 1e9 is real variation
    (kept), while rounding noise of a constant feature is not."""
    from sklearn.preprocessing import StandardScaler

    X = np.column_stack([1e9 + RNG.normal(0, 1e-6 * 1e9, 200),  # relative spread 1e-6
                         np.full(200, 1e9) * (1 + 1e-17 * RNG.normal(size=200)),
                         np.full(200, 0.1)])
    mean, scale = fit_standardization(X)
    ref = StandardScaler().fit(X)
    np.testing.assert_allclose(mean, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(scale, ref.scale_, rtol=1e-9)
    assert scale[1] == scale[2] == 1.0


def test_series_are_standardised_per_channel_in_float64() -> None:
    X = RNG.normal(size=(50, 2, 16)) * np.array([1.0, 1e-3])[:, None] + np.array(
        [5.0, 2e6])[:, None]
    mean, scale = fit_standardization(X)
    assert mean.shape == scale.shape == (2, 1) and mean.dtype == np.float64
    np.testing.assert_allclose(mean[:, 0], X.transpose(1, 0, 2).reshape(2, -1).mean(1))
    np.testing.assert_allclose(scale[:, 0], X.transpose(1, 0, 2).reshape(2, -1).std(1))


def test_finite_values_beyond_float32_are_named_as_such() -> None:
    X = RNG.normal(size=(20, 2))
    X[3, 1] = 1e39  # finite in float64
    with pytest.raises(InputValueError, match=r"beyond the float32 range") as err:
        KNNDetector(standardize=False).fit(X)
    assert "NaN" not in str(err.value)
    det = KNNDetector().fit(RNG.normal(size=(20, 2)))
    with pytest.raises(InputValueError, match=r"float32 range after standardisation"):
        det.decision_function(X)


@pytest.mark.parametrize("magnitude", [1e20, 1e39, 1e300])
def test_huge_features_are_standardised_without_overflow(magnitude: float) -> None:
    """A feature above ~1.8e19 overflowed the float32 std, which was silently zeroed."""
    X = np.column_stack([RNG.normal(size=300) * magnitude, RNG.normal(size=300)])
    det = KNNDetector().fit(X)
    assert det.scale_[0] == pytest.approx(magnitude, rel=0.15)
    assert np.isfinite(det.decision_scores_).all()
    far = np.array([[8 * magnitude, 0.0]])
    assert det.predict(far)[0] == 1


def test_check_input_is_the_one_path_and_returns_float_arrays() -> None:
    checked = check_input(RNG.integers(0, 3, size=(5, 2)))
    assert checked.X.dtype == np.float64 and checked.kind == "table"
    checked = check_input(np.ones((5, 2), dtype=np.float32))
    assert checked.X.dtype == np.float32
