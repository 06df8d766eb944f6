"""Property-based fuzzing of the input layer (hypothesis): random containers, shapes, dtypes,
NaN / inf positions and magnitudes. Whatever comes in, the layer either returns a finite
float array the detectors can compute on, or raises one of the project's own errors
(``InputValueError`` / ``InputTypeError``, subclasses of ValueError / TypeError) with a
message; never a raw numpy, pandas or torch error, and never a silent NaN.

The full path is fuzzed through ``KNNDetector`` (no training): fit, then scoring of a second
random input against it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from historyad.detectors import KNNDetector  # noqa: E402
from historyad.detectors.inputs import (  # noqa: E402
    INPUT_KINDS,
    InputSpec,
    InputTypeError,
    InputValueError,
    check_input,
)
from historyad.detectors.standardize import fit_standardization, to_float32  # noqa: E402

OUR_ERRORS = (InputValueError, InputTypeError)
NUMERIC = [np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.uint64,
           np.bool_]
OTHER = [np.complex64, np.dtype("U3"), np.dtype("datetime64[s]"), np.dtype("m8[ms]")]
MAGNITUDES = [0.0, 1e-300, 1e-30, 1.0, 255.0, 1.7e9, 1e19, 1e38, 3.5e38, 1e300, 1.7e308]


@st.composite
def arrays(draw: Any) -> np.ndarray:
    """A numpy array of random rank (0-5), sizes (0-5), dtype and values: normal noise
    times a magnitude, with NaN / ±inf at random positions."""
    rank = draw(st.integers(0, 5))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=rank, max_size=rank)))
    dtype = draw(st.sampled_from(NUMERIC + OTHER))
    if np.dtype(dtype).kind in "fc":
        magnitude = draw(st.sampled_from(MAGNITUDES))
        values = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1, 1, width=64)))
        with np.errstate(over="ignore", invalid="ignore"):
            values = (values * magnitude).astype(dtype)
            if values.size and draw(st.booleans()):
                flat = values.reshape(-1)
                idx = draw(st.lists(st.integers(0, flat.size - 1), max_size=3))
                flat[idx] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return values
    return draw(hnp.arrays(dtype, shape))


@st.composite
def inputs(draw: Any) -> Any:
    """An array in a random container: as is, a list, a torch tensor, a DataFrame, a masked
    array, a sparse matrix, or an object array."""
    arr = draw(arrays())
    how = draw(st.sampled_from(["array", "list", "tensor", "frame", "masked", "sparse",
                                "object", "none"]))
    if how == "list":
        return arr.tolist()
    if how == "tensor" and arr.dtype.kind in "biuf" and arr.dtype != np.uint64:
        return torch.from_numpy(np.ascontiguousarray(arr))
    if how == "frame" and arr.ndim == 2:
        pd = pytest.importorskip("pandas")
        names = draw(st.sampled_from([None, "str", "mixed"]))
        columns = (None if names is None else [f"c{i}" for i in range(arr.shape[1])])
        if names == "mixed" and columns:
            columns[0] = 0
        return pd.DataFrame(arr, columns=columns)
    if how == "masked":
        mask = draw(hnp.arrays(np.bool_, arr.shape))
        return np.ma.MaskedArray(arr, mask=mask)
    if how == "sparse" and arr.ndim == 2 and arr.dtype.kind in "biuf" and arr.dtype.itemsize > 2:
        from scipy import sparse

        return sparse.csr_matrix(arr)
    if how == "object":
        return arr.astype(object)
    if how == "none":
        return None
    return arr


def _assert_ours(exc: BaseException) -> None:
    assert isinstance(exc, OUR_ERRORS), f"{type(exc).__name__}: {exc}"
    assert len(str(exc)) > 20, f"a terse message: {exc!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(X=inputs(), kind=st.sampled_from(INPUT_KINDS), standardized=st.booleans())
def test_the_input_layer_returns_finite_floats_or_raises_its_own_errors(
    X: Any, kind: str, standardized: bool
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            checked = check_input(X, input_kind=kind, standardized=standardized)
            arr = checked.X
            assert arr.dtype in (np.float32, np.float64) and 3 <= arr.ndim + 1 <= 5
            assert arr.shape[0] >= 1 and np.isfinite(arr).all()
            assert checked.kind in ("table", "series", "image")
            mean, scale = fit_standardization(arr)
            assert np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()
            z = to_float32((arr - mean) / scale, standardized=True)
            assert z.dtype == np.float32 and np.isfinite(z).all()
            to_float32(arr)  # unstandardised: float32 or our error
        except BaseException as exc:
            _assert_ours(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(X=inputs(), other=inputs(), kind=st.sampled_from(INPUT_KINDS))
def test_fit_and_scoring_raise_only_the_projects_errors(X: Any, other: Any, kind: str) -> None:
    det = KNNDetector(n_neighbors=1, input_kind=kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            det.fit(X)
        except BaseException as exc:
            _assert_ours(exc)
            return
        assert np.isfinite(det.decision_scores_).all()
        for Y in (X, other):
            try:
                s = det.decision_function(Y)
                assert np.isfinite(s).all() or not np.isfinite(det.decision_scores_).all()
            except BaseException as exc:
                _assert_ours(exc)


@settings(max_examples=100, deadline=None)
@given(X=arrays())
def test_scoring_checks_against_fit_raise_only_our_errors(X: np.ndarray) -> None:
    spec = InputSpec("image", (1, 4, 4), np.array(["a"], dtype=object))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            check_input(X, fitted=spec, input_kind="image")
        except BaseException as exc:
            _assert_ours(exc)
