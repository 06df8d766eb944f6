"""The input layer of every detector: what ``fit``, the scoring methods and the CLI accept.

One function, ``check_input``, runs for ``fit`` and for every scoring call (one code path;
at scoring it also compares the input with what ``fit`` saw). It converts the input to a
float array, checks it and decides how its axes are read. Its errors are
``InputTypeError`` (a TypeError) and ``InputValueError`` (a ValueError), each naming the
problem and the fix; a doubtful input that is used as given gets an ``InputWarning`` that
says how to change it. ``standardize.py`` (``fit_standardization``, ``to_float32``) is the
numeric side: the training statistics and the float32 arrays the networks compute on.

The rules (README, "Inputs"):

- **Containers**: numpy arrays, torch tensors, nested lists, pandas DataFrames (any frame
  with ``columns`` and ``to_numpy``). scipy.sparse is refused ("convert with X.toarray()").
- **Numbers**: float, int, unsigned and bool dtypes (bool as 0/1), pandas nullable
  ``Int64`` / ``Float64`` / ``boolean`` columns (a missing value counts as NaN), object
  arrays holding numbers. Text, complex numbers and dates are refused naming the dtype
  (and, for a DataFrame, the columns). NaN and ±inf are refused with their count and the
  first position. Values stay float64 until they are standardised.
- **Axes**, by the detector's ``input_kind``:

  ==========  ============================================================================
  "auto"      (N, D) table; (N, C, T) series of C channels × T steps; (N, C, H, W) images
  "table"     (N, D) only
  "series"    (N, T) is one channel, read as (N, 1, T); (N, C, T)
  "image"     (N, H, W) is one grey channel, read as (N, 1, H, W); (N, C, H, W)
  ==========  ============================================================================

  A 3-D input under "auto" is read as series; when it looks like grey images (H = W >= 8)
  an InputWarning says to pass ``input_kind="image"`` (or ``X[:, None]``). Series with far
  more channels than steps (C >= 4·T) get an InputWarning: (N, T, C) windows must be passed
  as ``X.transpose(0, 2, 1)``.
- **Channels-last images** (N, H, W, C) with C in {1, 3, 4} (and the second axis not in
  {1, 3, 4}) are refused with the transpose to use, ``X.transpose(0, 3, 1, 2)``; nothing is
  transposed silently.
- **Image range**: unless ``standardize=True``, training images must lie in [-1, 1] (the
  range of the generator's tanh), else they are refused with the formula (``X / 127.5 - 1``
  for 0..255 pixels, ``2 * (X - min) / (max - min) - 1`` in general). At scoring,
  pixel-scaled input (whole numbers in 0..255, some above 1) is refused with the same
  formula; other values outside [-1, 1] are scored (an anomaly may lie outside the range).
- **Feature names**: a DataFrame whose column names are all strings sets
  ``feature_names_in_`` at fit; scoring a DataFrame with missing, unexpected or reordered
  columns is refused naming them (select them with ``X[det.feature_names_in_]``);
  scikit-learn's warnings when only one of fit and scoring has names.
- **Magnitudes**: statistics are computed in float64 (each feature divided by its largest
  magnitude first, so none overflows) and constant features are detected relative to their
  mean with scikit-learn's ``StandardScaler`` bound (scale 1 for them); what reaches the
  networks must fit float32, so finite values beyond ±3.4e38 that standardisation does not
  bring back are refused saying so.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import torch

#: How ``input_kind`` reads the axes (module docstring).
INPUT_KINDS = ("auto", "table", "series", "image")
#: per-sample rank -> kind
KIND_OF_RANK = {1: "table", 2: "series", 3: "image"}
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Magnitudes whose squares still fit float32 (distances, squared errors).
FLOAT32_SQUARE_MAX = float(np.sqrt(FLOAT32_MAX))
#: Slack on the image range [-1, 1] (rounding of scaled pixels).
RANGE_TOLERANCE = 1e-3
_CHANNEL_COUNTS = (1, 3, 4)  # grey, RGB, RGBA
_SQUARE_IMAGE_MIN = 8  # (N, H, H) with H >= 8 under "auto" looks like grey images
_CHANNELS_PER_STEP = 4  # C >= 4·T looks like (N, T, C) windows


class InputValueError(ValueError):
    """An input of the right type with a wrong shape, range or value."""


class InputTypeError(TypeError):
    """An input of a type or dtype the detectors cannot take."""


class InputWarning(UserWarning):
    """An input that is used as given although it may not be what was meant."""


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What ``fit`` learned about its input; scoring inputs are checked against it."""

    kind: str  # "table", "series" or "image"
    shape: tuple[int, ...]  # per sample, as the detector reads it
    feature_names: np.ndarray | None = None  # DataFrame column names (all strings)
    standardized: bool = False  # the detector standardises its input (no range rule)


@dataclasses.dataclass(frozen=True)
class Checked:
    """A checked input: ``X`` (N, *shape) float32 or float64, its kind and column names."""

    X: np.ndarray
    kind: str
    feature_names: np.ndarray | None


def check_input(
    X: Any,
    *,
    input_kind: str = "auto",
    fitted: InputSpec | None = None,
    standardized: bool = False,
    name: str = "X",
    owner: str = "the detector",
) -> Checked:
    """Check ``X`` and read its axes (module docstring): for ``fit`` when ``fitted`` is None
    (``standardized``: the detector will standardise it, so images need not lie in
    [-1, 1]), else for scoring against what fit saw. ``owner`` (the detector's class name)
    is named in messages. Raises InputTypeError / InputValueError."""
    names = _feature_names(X, name)
    if fitted is not None:  # names first: a missing or extra column is named, not counted
        _check_names(fitted.feature_names, names, name, owner)
    arr = as_float_array(X, name=name)
    arr, kind = _read_axes(arr, input_kind, name)
    _check_finite(arr, name)
    if fitted is None:
        if kind == "image" and not standardized:
            _check_training_range(arr, name)
    else:
        _check_like_fit(arr, kind, fitted, name, owner)
        if kind == "image" and not fitted.standardized:
            _check_pixel_scale(arr, name)
    return Checked(arr, kind, names)


# -- containers and dtypes ---------------------------------------------------------------
def as_float_array(X: Any, *, name: str = "X") -> np.ndarray:
    """``X`` as a float array: float64, or float32 when X holds float32 (or narrower) /
    bool values exactly. Refuses sparse matrices, text, complex numbers, dates, objects
    that are not numbers; see the module docstring."""
    if X is None:
        raise InputTypeError(f"{name} is None; pass an array with one row per sample")
    if _is_sparse(X):
        raise InputTypeError(
            f"{name} is a scipy.sparse {type(X).__name__}; sparse input is not supported: "
            f"convert with {name}.toarray()"
        )
    if isinstance(X, str | bytes):
        raise InputTypeError(f"{name} is a {type(X).__name__}; pass an array of numbers")
    if isinstance(X, torch.Tensor):
        X = _tensor_to_numpy(X, name)
    elif _is_pandas(X):
        X = _pandas_values(X, name)
    elif hasattr(X, "columns") and hasattr(X, "to_numpy"):  # another dataframe library
        X = np.asarray(X.to_numpy())
    elif isinstance(X, np.ma.MaskedArray):  # masked entries count as missing (NaN)
        mask = np.ma.getmaskarray(X)
        X = _as_float(np.ma.getdata(X), name)
        if mask.any():
            X = X.copy()
            X[mask] = np.nan
        return X
    elif not isinstance(X, np.ndarray):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                X = np.asarray(X)
        except Exception as exc:  # ragged nested lists and the like
            raise InputTypeError(
                f"{name} could not be read as an array ({type(exc).__name__}: {exc}); pass a "
                "rectangular array of numbers with one row per sample"
            ) from None
    return _as_float(X, name)


def _as_float(X: np.ndarray, name: str) -> np.ndarray:
    kind = X.dtype.kind
    if kind == "b":
        return X.astype(np.float32)
    if kind in "iu":
        return X.astype(np.float64)
    if kind == "f":
        if X.dtype.itemsize <= 4:
            return X.astype(np.float32, copy=X.dtype != np.float32)
        with np.errstate(over="ignore"):  # long doubles beyond float64: inf, reported later
            return X.astype(np.float64, copy=False)
    if kind == "c":
        raise InputValueError(
            f"Complex data not supported: {name} has dtype {X.dtype}; pass {name}.real, or "
            f"np.abs({name}) for magnitudes"
        )
    if kind == "O":
        try:
            return X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(
                f"{name} has dtype object with an entry that is not a real number ({exc}); "
                "pass numbers only"
            ) from None
    if kind in "US":
        raise InputTypeError(
            f"{name} has dtype {X.dtype} (text); expected real numbers: convert text "
            "columns to numbers or drop them"
        )
    if kind in "mM":
        raise InputTypeError(
            f"{name} has dtype {X.dtype} (dates or durations); expected real numbers: "
            "convert them (e.g. to seconds) or drop them"
        )
    raise InputTypeError(
        f"{name} has dtype {X.dtype}; expected a plain array of real numbers "
        "(float, int or bool)"
    )


def _tensor_to_numpy(X: torch.Tensor, name: str) -> np.ndarray:
    t = X.detach()
    if t.is_complex():
        raise InputValueError(
            f"Complex data not supported: {name} is a complex tensor ({t.dtype}); pass "
            f"{name}.real, or {name}.abs() for magnitudes"
        )
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    try:
        return t.cpu().numpy()
    except (TypeError, RuntimeError) as exc:
        raise InputTypeError(f"{name} is a tensor of dtype {t.dtype} that numpy cannot "
                             f"read ({exc}); pass a float tensor") from None


def _is_sparse(X: Any) -> bool:
    try:
        from scipy import sparse
    except ImportError:  # pragma: no cover - scipy is a dependency
        return False
    return bool(sparse.issparse(X))


def _is_pandas(X: Any) -> bool:
    return type(X).__module__.split(".")[0] == "pandas" and hasattr(X, "to_numpy")


def _pandas_values(X: Any, name: str) -> np.ndarray:
    """A pandas DataFrame / Series as float64, missing values (None, NaN, pd.NA) as NaN;
    InputTypeError naming the columns that are not numbers (text, dates, durations)."""
    if not hasattr(X, "columns"):  # a Series or an Index
        try:
            return np.asarray(X.to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError):
            raise InputTypeError(
                f"{name} is a pandas {type(X).__name__} of dtype {X.dtype}, not numbers"
            ) from None
    bad = []
    for position, column in enumerate(X.columns):
        col = X.iloc[:, position]
        kind = getattr(col.dtype, "kind", "O")
        if kind == "c":
            raise InputValueError(f"Complex data not supported: {name} column {column!r} "
                                  f"has dtype {col.dtype}")
        if kind in "biuf":
            continue
        try:
            if kind in "mM":
                raise TypeError("dates or durations")
            col.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            bad.append(f"{column!r} ({col.dtype})")
    if bad:
        raise InputTypeError(
            f"{name} has columns that are not numbers: {', '.join(bad)}; drop them or "
            "encode them as numbers"
        )
    return np.asarray(X.to_numpy(dtype=np.float64, na_value=np.nan))


def _feature_names(X: Any, name: str) -> np.ndarray | None:
    """The column names of a DataFrame when all are strings (as scikit-learn), else None;
    InputTypeError for a mix of strings and other names."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "to_numpy") or _is_sparse(X):
        return None
    try:
        columns = list(columns)
    except TypeError:
        return None
    strings = [isinstance(c, str) for c in columns]
    if columns and all(strings):
        return np.asarray(columns, dtype=object)
    if any(strings):
        kinds = sorted({type(c).__name__ for c in columns})
        raise InputTypeError(
            f"{name} has column names of types {kinds}; feature names must all be strings "
            f"(convert them with {name}.columns = {name}.columns.astype(str)) or none"
        )
    return None


# -- axes --------------------------------------------------------------------------------
def _read_axes(arr: np.ndarray, input_kind: str, name: str) -> tuple[np.ndarray, str]:
    """(array (N, *per-sample shape), kind) as ``input_kind`` reads ``arr``'s axes."""
    shape = arr.shape
    if arr.ndim == 0:
        raise InputValueError(
            f"{name} is a single number (rank 0); expected an array with one row per sample"
        )
    if arr.ndim == 1:
        raise InputValueError(
            f"{name} has rank 1 (shape {shape}); expected 2-D (N, D) tables, (N, C, T) "
            f"series or (N, C, H, W) images. Reshape your data with {name}.reshape(-1, 1) "
            f"if it holds one feature, or {name}.reshape(1, -1) if it is one sample"
        )
    if arr.ndim > 4:
        raise InputValueError(
            f"{name} has rank {arr.ndim} (shape {shape}); expected (N, D) tables, "
            "(N, C, T) series or (N, C, H, W) images"
        )
    if shape[0] == 0:
        raise InputValueError(
            f"{name} is empty: 0 sample(s) (shape={shape}) while a minimum of 1 is required."
        )
    if arr.ndim == 2 and shape[1] == 0:
        raise InputValueError(
            f"{name} is empty: 0 feature(s) (shape={shape}) while a minimum of 1 is "
            "required."
        )
    if 0 in shape:
        raise InputValueError(f"{name} is empty: an axis of size 0 (shape={shape})")
    rank_kind = {2: "table", 3: "series", 4: "image"}
    if input_kind == "auto":
        kind = rank_kind[arr.ndim]
        if kind == "series" and shape[1] == shape[2] >= _SQUARE_IMAGE_MIN:
            warnings.warn(
                f"{name} of shape {shape} is read as {shape[0]} series of {shape[1]} "
                f"channels × {shape[2]} steps (N, C, T); if these are grey images pass "
                f"input_kind='image' (or {name}[:, None], (N, 1, H, W)); "
                "input_kind='series' silences this warning",
                InputWarning, stacklevel=5,
            )
    elif input_kind == "table":
        if arr.ndim != 2:
            raise InputValueError(
                f"input_kind='table' takes (N, D) arrays, but {name} has shape {shape}: "
                f"flatten with {name}.reshape(len({name}), -1) or choose another input_kind"
            )
        kind = "table"
    elif input_kind == "series":
        if arr.ndim == 4:
            raise InputValueError(
                f"input_kind='series' takes (N, T) or (N, C, T) arrays, but {name} has "
                f"shape {shape}"
            )
        arr, kind = (arr[:, None, :] if arr.ndim == 2 else arr), "series"
    elif input_kind == "image":
        if arr.ndim == 2:
            raise InputValueError(
                f"input_kind='image' takes (N, H, W) or (N, C, H, W) arrays, but {name} has "
                f"shape {shape}: reshape flattened images to (N, H, W)"
            )
        arr, kind = (arr[:, None] if arr.ndim == 3 else arr), "image"
    else:
        raise InputValueError(f"input_kind={input_kind!r} is not allowed; choose one of "
                              f"{list(INPUT_KINDS)}")
    if kind == "image" and arr.ndim == 4:
        c_first, c_last = arr.shape[1], arr.shape[3]
        if c_last in _CHANNEL_COUNTS and c_first not in _CHANNEL_COUNTS:
            raise InputValueError(
                f"{name} has shape {shape}: channels-last images (N, H, W, C) with C={c_last}? "
                f"Detectors take images as (N, C, H, W): pass {name}.transpose(0, 3, 1, 2) "
                f"(a torch tensor: {name}.permute(0, 3, 1, 2))"
            )
    if kind == "series" and arr.shape[1] >= _CHANNELS_PER_STEP * arr.shape[2]:
        warnings.warn(
            f"{name} of shape {shape} is read as series of {arr.shape[1]} channels × "
            f"{arr.shape[2]} steps (N, C, T); if it holds (N, T, C) windows pass "
            f"{name}.transpose(0, 2, 1)",
            InputWarning, stacklevel=5,
        )
    return arr, kind


# -- values ------------------------------------------------------------------------------
def _check_finite(arr: np.ndarray, name: str) -> None:
    finite = np.isfinite(arr)
    if finite.all():
        return
    n_nan = int(np.isnan(arr).sum())
    n_inf = int((~finite).sum()) - n_nan
    first = tuple(int(i) for i in np.argwhere(~finite)[0])
    what = " and ".join(part for part in (
        f"{n_nan} NaN (missing)" if n_nan else "",
        f"{n_inf} infinite (inf)" if n_inf else "") if part)
    raise InputValueError(
        f"{name} contains {what} values, the first at index {first}; clean or impute them"
    )


def _check_training_range(arr: np.ndarray, name: str) -> None:
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= -1.0 - RANGE_TOLERANCE and hi <= 1.0 + RANGE_TOLERANCE:
        return
    raise InputValueError(
        f"{name} holds images with values in [{lo:g}, {hi:g}], but images must lie in "
        f"[-1, 1], the range of the generator's tanh output: {_formula(arr, name, lo, hi)} "
        "(and score with the same scaling), or pass standardize=True"
    )


def _check_pixel_scale(arr: np.ndarray, name: str) -> None:
    """At scoring: refuse whole numbers in 0..255 with some above 1 (pixels not scaled the
    way the training images were); other values outside [-1, 1] are scored."""
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi <= 1.0 + RANGE_TOLERANCE or hi > 255 or not _whole(arr):
        return
    raise InputValueError(
        f"{name} holds images with whole-number values in [{lo:g}, {hi:g}] (0..255 pixels?) "
        f"but the detector was fitted on images in [-1, 1]: pass {name} / 127.5 - 1"
    )


def _whole(arr: np.ndarray) -> bool:
    return bool(np.all(np.mod(arr, 1) == 0))


def _formula(arr: np.ndarray, name: str, lo: float, hi: float) -> str:
    if lo >= 0 and hi <= 255 and _whole(arr):
        return f"for 0..255 pixels pass {name} / 127.5 - 1"
    return f"rescale with 2 * ({name} - {lo:g}) / ({hi:g} - {lo:g}) - 1"


# -- against fit -------------------------------------------------------------------------
def _check_like_fit(arr: np.ndarray, kind: str, fitted: InputSpec, name: str,
                    owner: str) -> None:
    shape = tuple(int(s) for s in arr.shape[1:])
    if shape == tuple(fitted.shape):
        return
    if fitted.kind == "table" and kind == "table":
        raise InputValueError(
            f"{name} has {shape[0]} features, but {owner} is expecting {fitted.shape[0]} "
            f"features as input (per-sample shape {shape}, fitted on {tuple(fitted.shape)})"
        )
    hint = ""
    if kind == "series" and shape == tuple(fitted.shape)[::-1]:
        hint = f"; it looks transposed: pass {name}.transpose(0, 2, 1)"
    raise InputValueError(
        f"{name} has per-sample shape {shape} ({kind}) but {owner} was fitted on "
        f"{tuple(fitted.shape)} ({fitted.kind}); features / channels / length must match "
        f"fit{hint}"
    )


def _check_names(fitted: np.ndarray | None, given: np.ndarray | None, name: str,
                 owner: str) -> None:
    """scikit-learn's feature-name rules (and its messages), naming reordered columns."""
    if fitted is None and given is None:
        return
    if given is None:
        warnings.warn(f"{name} does not have valid feature names, but {owner} was fitted "
                      "with feature names", UserWarning, stacklevel=5)
        return
    if fitted is None:
        warnings.warn(f"{name} has feature names, but {owner} was fitted without feature "
                      "names", UserWarning, stacklevel=5)
        return
    if len(fitted) == len(given) and bool(np.all(fitted == given)):
        return
    message = "The feature names should match those that were passed during fit.\n"
    unexpected = sorted(set(given) - set(fitted))
    missing = sorted(set(fitted) - set(given))

    def listed(header: str, names: list[str]) -> str:
        shown = "".join(f"- {n}\n" for n in names[:5])
        return header + shown + ("- ...\n" if len(names) > 5 else "")

    if unexpected:
        message += listed("Feature names unseen at fit time:\n", unexpected)
    if missing:
        message += listed("Feature names seen at fit time, yet now missing:\n", missing)
    if not unexpected and not missing:
        message += (
            "Feature names must be in the same order as they were in fit.\n"
            f"Fit order: {list(fitted)}; given: {list(given)}.\n"
        )
    raise InputValueError(message + f"Select and order the columns with "
                                    f"{name}[detector.feature_names_in_] ({owner}).")


# -- numbers (the standardisation statistics: historyad.detectors.standardize) ------------
def to_numpy(X: Any, *, name: str = "X", input_kind: str = "auto") -> np.ndarray:
    """The checked array of ``check_input`` (as for fit, without the image-range rule and
    its warnings' context), for callers that need a plain array before a detector sees it;
    a detector's ``fit`` runs the whole of ``check_input`` again on it."""
    return check_input(X, input_kind=input_kind, standardized=True, name=name).X
