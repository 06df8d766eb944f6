"""Protocols on one recording (T, C) with per-step 0/1 labels: sliding windows, standardised
with statistics of anomaly-free training rows only.

- `windows`: cut in time at a fraction; train on the clean windows of the first part.
- `prefix_windows`: train on a normal prefix; one test window ending at every later row.
"""

from __future__ import annotations

import logging

import numpy as np

from historyad.data.base import check_int, sliding_windows
from historyad.protocols.split import Split, check_fraction, split_sizes

logger = logging.getLogger(__name__)


def _check_recording(
    recording: np.ndarray, labels: np.ndarray, *, min_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """`recording` as float64 (T, C) and `labels` (T,) as arrays.

    Raises:
        ValueError: a recording not 2-D or with fewer than `min_steps` rows, labels of another
            shape than (T,), or labels other than 0/1.
    """
    recording = np.asarray(recording, dtype=np.float64)
    labels = np.asarray(labels)
    if recording.ndim != 2 or len(recording) < min_steps:
        allowed = "(T, C)" if min_steps <= 1 else f"(T >= {min_steps}, C)"
        raise ValueError(f"recording has shape {recording.shape}; allowed is {allowed}")
    if labels.shape != (len(recording),):
        raise ValueError(f"labels has shape {labels.shape}; allowed is ({len(recording)},)")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels hold {np.unique(labels)}; allowed are 0 and 1")
    return recording, labels


def _clean_stats(clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of anomaly-free rows (N, C); a constant channel
    gets std 1."""
    mean = clean.mean(axis=0)
    std = clean.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


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
    recording, labels = _check_recording(recording, labels, min_steps=0)
    check_fraction("train_fraction", train_fraction)
    cut = int(len(recording) * train_fraction)
    head, tail = recording[:cut], recording[cut:]
    clean = head[labels[:cut] == 0]
    if len(clean) == 0:
        raise ValueError("the training part holds no anomaly-free step; raise train_fraction")
    mean, std = _clean_stats(clean)
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
        **split_sizes(X_train, y_test),
    }
    return Split(X_train, X_test, y_test, f"{name}/windows-{window}-{stride}", meta)


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
    recording, labels = _check_recording(recording, labels, min_steps=2)
    n_steps = len(recording)
    n_train = check_int("n_train", n_train, 1)
    window = check_int("window", window, 1)
    check_int("stride", stride, 1)
    check_int("train_stride", train_stride, 1)
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
    mean, std = _clean_stats(clean)
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
        **split_sizes(X_train, y_test),
    }
    return Split(X_train, X_test, y_test, f"{name}/prefix-{n_train}-windows-{window}", meta)


__all__ = ["prefix_windows", "windows"]
