"""Evaluation protocols: turn a `Dataset` into a `Split` (normal-only training data, labelled
test data with 1 = anomaly). Every protocol is deterministic given its `seed`.

- `leave_one_class_out`: one class is the anomaly (both papers' MNIST protocol).
- `one_class`: one class is normal, official train/test split.
- `cross_dataset`: another dataset's test images are the anomalies (e.g. MNIST vs KMNIST).
- `windows`: a recording split in time; anomaly-free windows of the first part train.
- `prefix_windows`: fit on a recording's first rows; one test window ending at every later row.
- `corrupted`: normal test images plus gaussian-noise copies as anomalies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from historyad.data.base import Dataset, sliding_windows

logger = logging.getLogger(__name__)


@dataclass
class Split:
    """Training data (normal samples only) and a labelled test set.

    Attributes:
        X_train: (N_train, ...) float32 normal samples.
        X_test: (N_test, ...) float32 samples, same trailing shape.
        y_test: (N_test,) int64, 1 = anomaly, 0 = normal.
        name: e.g. ``"mnist/leave-out-3"``.
        meta: protocol parameters and sizes (JSON-ready scalars and lists).
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X_train = np.asarray(self.X_train, dtype=np.float32)
        self.X_test = np.asarray(self.X_test, dtype=np.float32)
        self.y_test = np.asarray(self.y_test, dtype=np.int64)
        if self.y_test.shape != (len(self.X_test),):
            raise ValueError(
                f"y_test has shape {self.y_test.shape}; allowed is ({len(self.X_test)},) to "
                "match X_test"
            )
        if not np.isin(self.y_test, (0, 1)).all():
            raise ValueError(f"y_test holds {np.unique(self.y_test)}; allowed are 0 and 1")
        if self.X_train.shape[1:] != self.X_test.shape[1:]:
            raise ValueError(
                f"X_train {self.X_train.shape} and X_test {self.X_test.shape} must share the "
                "sample shape"
            )

    def __repr__(self) -> str:
        return (
            f"Split(name={self.name!r}, X_train={self.X_train.shape}, X_test={self.X_test.shape}, "
            f"anomalies={int(self.y_test.sum())})"
        )


# --------------------------------------------------------------------------- helpers


def _class_index(ds: Dataset, value: int | str, param: str) -> int:
    """A class given as label index or class name → label index."""
    if isinstance(value, str):
        if value not in ds.classes:
            raise ValueError(
                f"{param}={value!r} is not a class of {ds.name!r}; choose one of {ds.classes}"
            )
        return ds.classes.index(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{param}={value!r} is not allowed; give a class index or class name")
    if not 0 <= value < len(ds.classes):
        raise ValueError(
            f"{param}={value!r} is not allowed; {ds.name!r} has classes 0..{len(ds.classes) - 1}"
        )
    return int(value)


def _check_cap(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= 1 or None")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}={value!r} is not allowed; it must lie strictly in (0, 1)")


def _cap_test(
    normal: np.ndarray, anomalous: np.ndarray, max_test: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Subsample index arrays to at most `max_test` in total, keeping the anomaly proportion
    (rounded; at least one of each kind that was present). Picks are random (`rng`), order kept."""
    total = len(normal) + len(anomalous)
    if max_test is None or total <= max_test:
        return normal, anomalous
    n_anom = round(max_test * len(anomalous) / total)
    if len(anomalous):
        n_anom = min(max(n_anom, 1), max_test - (1 if len(normal) else 0))
    n_norm = max_test - n_anom
    keep_n = np.sort(rng.choice(len(normal), size=n_norm, replace=False))
    keep_a = np.sort(rng.choice(len(anomalous), size=n_anom, replace=False))
    return normal[keep_n], anomalous[keep_a]


def _assemble(
    X_normal: np.ndarray, X_anomalous: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate normal (label 0) and anomalous (label 1) test samples, shuffled by `rng`."""
    X = np.concatenate([X_normal, X_anomalous])
    y = np.concatenate([np.zeros(len(X_normal), np.int64), np.ones(len(X_anomalous), np.int64)])
    order = rng.permutation(len(X))
    return X[order], y[order]


def _sizes(X_train: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    n_anom = int(y_test.sum())
    return {
        "n_train": len(X_train),
        "n_test": len(y_test),
        "n_test_normal": len(y_test) - n_anom,
        "n_test_anomaly": n_anom,
        "anomaly_fraction": n_anom / len(y_test) if len(y_test) else 0.0,
    }


# --------------------------------------------------------------------------- protocols


def leave_one_class_out(
    ds: Dataset,
    anomaly_class: int | str,
    *,
    train_fraction: float = 0.8,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Split:
    """One class is the anomaly; the others are normal (the protocol of both papers).

    The official train and test splits are pooled. The normal samples are shuffled; the first
    ``round(train_fraction · n_normal)`` train, the rest are test normals, joined by EVERY sample
    of the anomalous class. Optional caps for quick runs: `max_train` keeps the first
    `max_train` shuffled training normals; `max_test` subsamples the test set to that size,
    keeping the anomaly proportion.
    """
    a = _class_index(ds, anomaly_class, "anomaly_class")
    _check_fraction("train_fraction", train_fraction)
    _check_cap("max_train", max_train)
    _check_cap("max_test", max_test)
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(ds.y != a))
    anomalous = np.flatnonzero(ds.y == a)
    if len(anomalous) == 0:
        raise ValueError(f"anomaly_class={anomaly_class!r} has no samples in {ds.name!r}")
    n_train = round(train_fraction * len(normal))
    if not 0 < n_train < len(normal):
        raise ValueError(
            f"train_fraction={train_fraction} of {len(normal)} normal samples leaves an empty "
            "training or test part"
        )
    train_idx, test_normal = normal[:n_train], normal[n_train:]
    if max_train is not None:
        train_idx = train_idx[:max_train]
    test_normal, anomalous = _cap_test(test_normal, anomalous, max_test, rng)
    X_test, y_test = _assemble(ds.X[test_normal], ds.X[anomalous], rng)
    X_train = ds.X[train_idx]
    meta = {
        "protocol": "leave_one_class_out",
        "dataset": ds.name,
        "anomaly_class": a,
        "anomaly_class_name": ds.classes[a],
        "train_fraction": train_fraction,
        "seed": seed,
        "max_train": max_train,
        "max_test": max_test,
        **_sizes(X_train, y_test),
    }
    return Split(X_train, X_test, y_test, f"{ds.name}/leave-out-{ds.classes[a]}", meta)


def one_class(
    ds: Dataset,
    normal_class: int | str,
    *,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Split:
    """One class is normal, on the official split.

    Train: the normal class's samples of the training split (shuffled by `seed`). Test: every
    sample of the test split, anomalous when its class is not `normal_class`. Caps as in
    `leave_one_class_out`.
    """
    k = _class_index(ds, normal_class, "normal_class")
    _check_cap("max_train", max_train)
    _check_cap("max_test", max_test)
    rng = np.random.default_rng(seed)
    train_idx = rng.permutation(np.flatnonzero(ds.is_train & (ds.y == k)))
    if len(train_idx) == 0:
        raise ValueError(
            f"normal_class={normal_class!r} has no training samples in {ds.name!r} "
            f"({int(ds.is_train.sum())} training samples in all)"
        )
    test = ~ds.is_train
    if not test.any():
        raise ValueError(
            f"{ds.name!r} has no test samples (is_train is all True); load it with split=None"
        )
    if max_train is not None:
        train_idx = train_idx[:max_train]
    test_normal, anomalous = _cap_test(
        np.flatnonzero(test & (ds.y == k)), np.flatnonzero(test & (ds.y != k)), max_test, rng
    )
    X_test, y_test = _assemble(ds.X[test_normal], ds.X[anomalous], rng)
    X_train = ds.X[train_idx]
    meta = {
        "protocol": "one_class",
        "dataset": ds.name,
        "normal_class": k,
        "normal_class_name": ds.classes[k],
        "seed": seed,
        "max_train": max_train,
        "max_test": max_test,
        **_sizes(X_train, y_test),
    }
    return Split(X_train, X_test, y_test, f"{ds.name}/one-class-{ds.classes[k]}", meta)


def cross_dataset(
    normal_ds: Dataset,
    other_ds: Dataset,
    *,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Split:
    """Another dataset supplies the anomalies (e.g. MNIST normal, KMNIST anomalous).

    Train: `normal_ds`'s training split. Test: `normal_ds`'s test split (label 0) plus
    `other_ds`'s test split (label 1); when `other_ds` has no test samples (e.g. loaded with
    split="train", or an image folder without a split) all of it is used. Samples must share a
    shape. Caps as in `leave_one_class_out`.
    """
    if normal_ds.X.shape[1:] != other_ds.X.shape[1:]:
        raise ValueError(
            f"sample shapes differ: {normal_ds.name!r} {normal_ds.X.shape[1:]} vs "
            f"{other_ds.name!r} {other_ds.X.shape[1:]}; resize one of them"
        )
    _check_cap("max_train", max_train)
    _check_cap("max_test", max_test)
    rng = np.random.default_rng(seed)
    train_idx = rng.permutation(np.flatnonzero(normal_ds.is_train))
    test_normal = np.flatnonzero(~normal_ds.is_train)
    if len(train_idx) == 0 or len(test_normal) == 0:
        raise ValueError(
            f"normal_ds {normal_ds.name!r} needs both splits: {len(train_idx)} train and "
            f"{len(test_normal)} test samples; load it with split=None"
        )
    other_test = ~other_ds.is_train
    other_split = "test" if other_test.any() else "all"
    anomalous = np.flatnonzero(other_test) if other_test.any() else np.arange(len(other_ds))
    if len(anomalous) == 0:
        raise ValueError(f"other_ds {other_ds.name!r} is empty")
    if max_train is not None:
        train_idx = train_idx[:max_train]
    test_normal, anomalous = _cap_test(test_normal, anomalous, max_test, rng)
    X_test, y_test = _assemble(normal_ds.X[test_normal], other_ds.X[anomalous], rng)
    X_train = normal_ds.X[train_idx]
    meta = {
        "protocol": "cross_dataset",
        "dataset": normal_ds.name,
        "other_dataset": other_ds.name,
        "other_split": other_split,
        "seed": seed,
        "max_train": max_train,
        "max_test": max_test,
        **_sizes(X_train, y_test),
    }
    return Split(X_train, X_test, y_test, f"{normal_ds.name}-vs-{other_ds.name}", meta)


def windows(
    recording: np.ndarray,
    labels: np.ndarray,
    *,
    window: int,
    stride: int,
    train_fraction: float = 0.5,
    name: str = "recording",
) -> Split:
    """Sliding-window anomaly detection on one recording, split in time.

    The recording (T, C) is cut at step ``int(T · train_fraction)``. Training: the windows of the
    first part with no anomalous step. Test: every window of the second part, anomalous (1) when
    any of its steps is. No window straddles the cut. Channels are standardised with the mean
    and standard deviation of the anomaly-free steps of the first part only (so no test
    information leaks; a constant channel gets std 1).

    Returns:
        a Split with X (N, C, window).
    """
    recording = np.asarray(recording, dtype=np.float64)
    labels = np.asarray(labels)
    if recording.ndim != 2:
        raise ValueError(f"recording has shape {recording.shape}; allowed is (T, C)")
    if labels.shape != (len(recording),):
        raise ValueError(f"labels has shape {labels.shape}; allowed is ({len(recording)},)")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels hold {np.unique(labels)}; allowed are 0 and 1")
    _check_fraction("train_fraction", train_fraction)
    cut = int(len(recording) * train_fraction)
    head, tail = recording[:cut], recording[cut:]
    clean = head[labels[:cut] == 0]
    if len(clean) == 0:
        raise ValueError("the training part holds no anomaly-free step; raise train_fraction")
    mean = clean.mean(axis=0)
    std = clean.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    X_head, y_head = sliding_windows(
        (head - mean) / std, labels[:cut], window=window, stride=stride
    )
    X_test, y_test = sliding_windows(
        (tail - mean) / std, labels[cut:], window=window, stride=stride
    )
    X_train = X_head[y_head == 0]
    if len(X_train) == 0:
        raise ValueError("every training window holds an anomalous step; no training data")
    if not y_test.any():
        logger.warning(
            "%s: the test part (steps %d..%d) holds no anomalous window; AUROC/AUPRC are "
            "undefined on it",
            name, cut, len(recording),
        )  # fmt: skip
    meta = {
        "protocol": "windows",
        "dataset": name,
        "window": window,
        "stride": stride,
        "train_fraction": train_fraction,
        "split_step": cut,
        "n_train_dropped": int(y_head.sum()),
        "mean": mean.tolist(),
        "std": std.tolist(),
        **_sizes(X_train, y_test),
    }
    return Split(X_train, X_test, y_test, f"{name}/windows-{window}-{stride}", meta)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= {minimum}")
    return int(value)


def prefix_windows(
    recording: np.ndarray,
    labels: np.ndarray,
    *,
    n_train: int,
    window: int,
    stride: int = 1,
    train_stride: int = 1,
    name: str = "recording",
) -> Split:
    """Fit on a recording's first `n_train` rows; score a window ending at every later row.

    The protocol of SKAB (fit on each file's first 400 rows, score every later row) and of the
    UCR anomaly archive (`n_train` = the TRAIN prefix length).

    - Standardisation: each channel with the mean and standard deviation of the anomaly-free
      rows among the first `n_train` only (normally all of them; a constant channel gets
      std 1), so no later row leaks into the statistics.
    - Training: the windows lying fully inside rows ``0 .. n_train - 1`` (starts 0,
      `train_stride`, 2·`train_stride`, ...) that hold no anomalous step.
    - Test: the windows ENDING at rows ``t = n_train, n_train + stride, ...`` (``t <= T - 1``),
      i.e. covering rows ``t - window + 1 .. t`` (the first starts at ``n_train - window + 1``,
      inside the prefix); label 1 when any step in the window is anomalous. With ``stride=1``
      there is one test window per row after the prefix, in time order.

    Args:
        recording: (T, C) values.
        labels: (T,) per-row 0/1 anomaly labels.
        n_train: rows of the normal training prefix, 1 <= n_train < T.
        window: window length in rows, 1 <= window <= n_train.
        stride: rows between the ends of consecutive test windows (>= 1).
        train_stride: rows between the starts of consecutive training windows (>= 1).
        name: dataset name for the Split and log messages.

    Returns:
        a Split with X_train (N_train, C, window), X_test (N_test, C, window) in time order and
        y_test (N_test,); meta holds window, stride, train_stride, ``n_train_rows`` (=
        `n_train`; meta's ``n_train`` is, as in every protocol, the number of training
        windows), ``end_rows`` (the row at which each test window ends, a list of ints), the
        mean and std (lists of C floats) and ``n_train_dropped`` (anomalous training windows).

    Raises:
        ValueError: bad shapes, labels other than 0/1, a non-integer or out-of-range `n_train`,
            `window`, `stride` or `train_stride`, an all-anomalous prefix or no anomaly-free
            training window.
    """
    recording = np.asarray(recording, dtype=np.float64)
    labels = np.asarray(labels)
    if recording.ndim != 2 or len(recording) < 2:
        raise ValueError(f"recording has shape {recording.shape}; allowed is (T >= 2, C)")
    n_steps = len(recording)
    if labels.shape != (n_steps,):
        raise ValueError(f"labels has shape {labels.shape}; allowed is ({n_steps},)")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels hold {np.unique(labels)}; allowed are 0 and 1")
    _check_int("n_train", n_train, 1)
    _check_int("window", window, 1)
    _check_int("stride", stride, 1)
    _check_int("train_stride", train_stride, 1)
    n_train, window = int(n_train), int(window)
    if n_train >= n_steps:
        raise ValueError(
            f"n_train={n_train} is not allowed for a recording of {n_steps} rows; it must be "
            f"< {n_steps} so that rows are left to test"
        )
    if window > n_train:
        raise ValueError(
            f"window={window} is not allowed with n_train={n_train}; it must be <= n_train "
            "(training windows lie inside the first n_train rows)"
        )
    anomalous = labels != 0
    clean = recording[:n_train][~anomalous[:n_train]]
    if len(clean) == 0:
        raise ValueError(f"all n_train={n_train} prefix rows are anomalous; no training data")
    if anomalous[:n_train].any():
        logger.warning(
            "%s: %d of the first %d rows are anomalous; they are left out of the statistics "
            "and of the training windows",
            name, int(anomalous[:n_train].sum()), n_train,
        )  # fmt: skip
    mean = clean.mean(axis=0)
    std = clean.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    scaled = ((recording - mean) / std).astype(np.float32)
    view = np.lib.stride_tricks.sliding_window_view(scaled, window, axis=0)  # (T-w+1, C, w)
    counts = np.concatenate([[0], np.cumsum(anomalous)])
    bad = counts[window:] - counts[:-window] > 0  # (T-w+1,): window starting at s is anomalous
    train_starts = np.arange(0, n_train - window + 1, train_stride)
    keep = train_starts[~bad[train_starts]]
    if len(keep) == 0:
        raise ValueError(
            f"every training window (window={window}) of the first n_train={n_train} rows holds "
            "an anomalous step; no training data"
        )
    end_rows = np.arange(n_train, n_steps, stride)
    test_starts = end_rows - window + 1
    X_train = np.ascontiguousarray(view[keep])
    X_test = np.ascontiguousarray(view[test_starts])
    y_test = bad[test_starts].astype(np.int64)
    if not y_test.any():
        logger.warning(
            "%s: no test window (rows %d..%d) holds an anomalous step; AUROC/AUPRC are "
            "undefined on it",
            name, n_train, n_steps - 1,
        )  # fmt: skip
    meta = {
        "protocol": "prefix_windows",
        "dataset": name,
        "window": window,
        "stride": int(stride),
        "train_stride": int(train_stride),
        "n_train_rows": n_train,
        "n_train_dropped": int(len(train_starts) - len(keep)),
        "end_rows": end_rows.tolist(),
        "mean": mean.tolist(),
        "std": std.tolist(),
        **_sizes(X_train, y_test),
    }
    return Split(X_train, X_test, y_test, f"{name}/prefix-{n_train}-windows-{window}", meta)


def corrupted(
    X_test_normal: np.ndarray,
    *,
    sigma: float,
    seed: int = 0,
    clip: bool = True,
    X_train: np.ndarray | None = None,
    name: str = "corrupted",
) -> Split:
    """Normal test images (label 0) plus noisy copies ``x + σ·N(0, I)`` (label 1).

    Args:
        X_test_normal: (N, ...) normal samples in [-1, 1].
        sigma: noise standard deviation (> 0).
        clip: clip the noisy copies to [-1, 1].
        X_train: the training normals to carry in the Split; None gives an empty (0, ...) array.
            Typical use: ``s = one_class(...)``, then
            ``corrupted(s.X_test[s.y_test == 0], sigma=0.5, X_train=s.X_train)``.

    Returns:
        a Split with 2N test samples: the originals first, then their noisy copies.
    """
    X = np.asarray(X_test_normal, dtype=np.float32)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"X_test_normal has shape {X.shape}; allowed is (N >= 1, ...)")
    if not sigma > 0:
        raise ValueError(f"sigma={sigma!r} is not allowed; it must be > 0")
    rng = np.random.default_rng(seed)
    noisy = X + np.float32(sigma) * rng.standard_normal(X.shape, dtype=np.float32)
    if clip:
        noisy = np.clip(noisy, -1.0, 1.0)
    X_test = np.concatenate([X, noisy])
    y_test = np.concatenate([np.zeros(len(X), np.int64), np.ones(len(X), np.int64)])
    train = (
        np.zeros((0, *X.shape[1:]), np.float32)
        if X_train is None
        else np.asarray(X_train, np.float32)
    )
    meta = {"protocol": "corrupted", "sigma": sigma, "seed": seed, "clip": clip}
    meta.update(_sizes(train, y_test))
    return Split(train, X_test, y_test, f"{name}/noise-{sigma:g}", meta)


def standardize(
    X_train: np.ndarray, X_test: np.ndarray, *, eps: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    """Standardise features with training statistics only.

    Tables (N, D): per column. Series (N, C, T) and images (N, C, H, W): per channel (axis 1),
    pooled over samples and time/space. A (near-)constant feature (std < eps) is only centred.

    Returns:
        float32 (X_train, X_test), same shapes.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    if X_train.ndim < 2 or len(X_train) == 0:
        raise ValueError(f"X_train has shape {X_train.shape}; allowed is (N >= 1, D or C, ...)")
    if X_test.shape[1:] != X_train.shape[1:]:
        raise ValueError(
            f"X_test {X_test.shape} and X_train {X_train.shape} must share the sample shape"
        )
    axes = (0,) if X_train.ndim == 2 else (0, *range(2, X_train.ndim))
    mean = X_train.mean(axis=axes, keepdims=True)
    std = X_train.std(axis=axes, keepdims=True)
    std = np.where(std < eps, 1.0, std)
    return ((X_train - mean) / std).astype(np.float32), ((X_test - mean) / std).astype(np.float32)


__all__ = [
    "Split",
    "corrupted",
    "cross_dataset",
    "leave_one_class_out",
    "one_class",
    "prefix_windows",
    "standardize",
    "windows",
]
