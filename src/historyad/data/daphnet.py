"""Daphnet Freezing of Gait: one recording as a CSV, cut into sliding windows.

CSV header: ``timestamp`` (optional), nine acceleration channels (ankle, upper leg, trunk × 3
axes, in mg, 64 Hz) and ``is_anomaly`` (1 during freezing-of-gait episodes), e.g. the aeon copy
``S06R02E0.csv``. Windows of the first ``train_fraction`` of the recording are the training
split and those of the rest the test split; no window straddles the cut.
"""

from __future__ import annotations

import csv
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from historyad.data.base import (
    Dataset,
    Recording,
    check_split,
    concat_parts,
    sliding_windows,
    splits_for,
)
from historyad.data.fetch import fetch

logger = logging.getLogger(__name__)

N_CHANNELS = 9
LABEL_COLUMN = "is_anomaly"
TIME_COLUMN = "timestamp"
SAMPLE_RATE_HZ = 64
CLASSES = ["normal", "anomaly"]


def read_daphnet_csv(path: str | os.PathLike[str]) -> Recording:
    """Parse a Daphnet CSV; the header is checked before any value is read.

    Raises:
        ValueError: naming the file for a bad header, a non-numeric value or a label not 0/1.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise ValueError(f"{path}: empty file; expected a CSV header")
    header = [h.strip() for h in header]
    if LABEL_COLUMN not in header:
        raise ValueError(f"{path}: no {LABEL_COLUMN!r} column in header {header}")
    label_col = header.index(LABEL_COLUMN)
    value_cols = [i for i, h in enumerate(header) if h not in (LABEL_COLUMN, TIME_COLUMN)]
    if len(value_cols) != N_CHANNELS:
        raise ValueError(
            f"{path}: {len(value_cols)} channel columns {[header[i] for i in value_cols]}; "
            f"allowed is {N_CHANNELS} besides {TIME_COLUMN!r} and {LABEL_COLUMN!r}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
            table = np.loadtxt(
                path, delimiter=",", skiprows=1, usecols=[*value_cols, label_col],
                dtype=np.float64, ndmin=2,
            )  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric or missing values: {exc}") from exc
    if len(table) == 0:
        raise ValueError(f"{path}: the header is followed by no rows")
    values, labels = table[:, :N_CHANNELS], table[:, N_CHANNELS]
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: NaN or infinite channel values; only finite numbers allowed")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{path}: {LABEL_COLUMN!r} must be 0 or 1; found {np.unique(labels)}")
    return Recording(
        values.astype(np.float32),
        labels.astype(np.int64),
        [header[i] for i in value_cols],
        str(path),
    )


def load_daphnet_recording(
    *,
    root: str | os.PathLike[str] | None = None,
    recording: str = "S06R02E0",
    download: bool = False,
    verify: bool = True,
) -> Recording:
    """The raw recording ``<dir>/daphnet/<recording>.csv``: (T, 9) values and (T,) labels."""
    path = fetch("daphnet", f"{recording}.csv", root=root, download=download, verify=verify)
    rec = read_daphnet_csv(path)
    logger.debug("%s: %d steps, %d anomalous", path, len(rec.X), int(rec.labels.sum()))
    return rec


def split_index(n_steps: int, train_fraction: float) -> int:
    """The step where the training part ends: ``int(n_steps * train_fraction)``."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction={train_fraction!r} is not allowed; it must be in (0, 1)")
    return int(n_steps * train_fraction)


def load_daphnet(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
    window: int = 64,
    stride: int = 32,
    train_fraction: float = 0.5,
    recording: str = "S06R02E0",
) -> Dataset:
    """Sliding windows (N, 9, window) of a Daphnet recording; y = 1 if any step is anomalous.

    Values are raw (mg); `historyad.protocols.windows` standardises with training statistics.
    Defaults: 1 s windows (64 steps at 64 Hz), half-overlapping.
    """
    check_split(split)
    rec = load_daphnet_recording(root=root, recording=recording, download=download, verify=verify)
    cut = split_index(len(rec.X), train_fraction)
    bounds = {"train": (0, cut), "test": (cut, len(rec.X))}
    parts = []
    for part in splits_for(split):
        lo, hi = bounds[part]
        X, y = sliding_windows(rec.X[lo:hi], rec.labels[lo:hi], window=window, stride=stride)
        parts.append((X, y, part == "train"))
    X, y, is_train = concat_parts(parts)
    return Dataset(
        "daphnet", X, y, CLASSES, is_train, "series",
        meta={
            "file": rec.source, "channels": rec.channels, "window": window, "stride": stride,
            "train_fraction": train_fraction, "split_step": cut,
        },
    )  # fmt: skip


__all__ = [
    "CLASSES",
    "N_CHANNELS",
    "Recording",
    "load_daphnet",
    "load_daphnet_recording",
    "read_daphnet_csv",
    "split_index",
]
