"""UCI HAR (Human Activity Recognition Using Smartphones): the raw inertial signals.

Layout below ``<dir>/uci-har/`` (the unzipped ``UCI HAR Dataset`` folder, or its contents)::

    UCI HAR Dataset/activity_labels.txt          "1 WALKING" ... "6 LAYING"
    UCI HAR Dataset/{train,test}/y_{split}.txt   one label 1..6 per line
    UCI HAR Dataset/{train,test}/Inertial Signals/{signal}_{x,y,z}_{split}.txt
        signal in body_acc, body_gyro, total_acc; N rows × 128 whitespace-separated floats

Output: series (N, 9, 128), channels in `CHANNELS` order, labels 0..5.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from historyad.data.base import Dataset, concat_parts, splits_for
from historyad.data.fetch import MANUAL_SOURCES, dataset_dir

logger = logging.getLogger(__name__)

FOLDER = "UCI HAR Dataset"
SIGNALS = ("body_acc", "body_gyro", "total_acc")
CHANNELS = tuple(f"{s}_{a}" for s in SIGNALS for a in "xyz")
CLASSES = [
    "WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING",
]  # fmt: skip


def har_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The ``UCI HAR Dataset`` folder: ``<dir>/uci-har/UCI HAR Dataset`` or ``<dir>/uci-har``."""
    base = dataset_dir("uci-har", root)
    if (base / FOLDER).is_dir():
        return base / FOLDER
    if (base / "train").is_dir() or (base / "test").is_dir():
        return base
    raise FileNotFoundError(
        f"UCI HAR data of dataset 'uci-har' not found: looked for {base / FOLDER} (or train/ and "
        f"test/ directly in {base}). Pass root=<folder holding uci-har/> or set the "
        "HISTORYAD_DATA environment variable. download=True is not available for 'uci-har'; get "
        f"it from {MANUAL_SOURCES['uci-har']}"
    )


def _read_table(path: Path, dtype: type) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"UCI HAR file missing: {path}")
    try:
        table = np.loadtxt(path, dtype=dtype, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: not a whitespace-separated numeric table: {exc}") from exc
    if table.dtype.kind == "f" and not np.isfinite(table).all():
        raise ValueError(f"{path}: holds NaN or infinite values; only finite numbers are allowed")
    return table


def read_activity_labels(folder: Path) -> list[str]:
    """Class names from ``activity_labels.txt`` ("<k> <NAME>", k = 1..K), else the defaults."""
    path = folder / "activity_labels.txt"
    if not path.is_file():
        logger.info("%s is absent; using the standard activity names", path)
        return list(CLASSES)
    names: dict[int, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[0].isdigit():
            raise ValueError(f"{path}:{n}: expected '<number> <NAME>', got {line!r}")
        names[int(fields[0])] = fields[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ValueError(f"{path}: activity numbers {sorted(names)} must be 1..{len(names)}")
    return [names[k] for k in range(1, len(names) + 1)]


def read_har_split(folder: Path, split: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One split: signals (N, 9, T) float32 and labels (N,) int64 in 0..n_classes-1."""
    split_dir = folder / split
    channels = []
    for channel in CHANNELS:
        path = split_dir / "Inertial Signals" / f"{channel}_{split}.txt"
        table = _read_table(path, np.float32)
        if channels and table.shape != channels[0].shape:
            raise ValueError(
                f"{path}: shape {table.shape} differs from the other channels' "
                f"{channels[0].shape}; all 9 signal files must be N rows × T values"
            )
        channels.append(table)
    X = np.stack(channels, axis=1)
    y_path = split_dir / f"y_{split}.txt"
    y = _read_table(y_path, np.int64)
    if y.shape[1] != 1:
        raise ValueError(f"{y_path}: shape {y.shape}; allowed is one label per line")
    y = y[:, 0]
    if len(y) != len(X):
        raise ValueError(f"{y_path}: {len(y)} labels but {len(X)} signal rows; they must agree")
    if len(y) and (y.min() < 1 or y.max() > n_classes):
        raise ValueError(f"{y_path}: labels span {y.min()}..{y.max()}; allowed 1..{n_classes}")
    return X, y - 1


def load_uci_har(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """UCI HAR raw inertial signals: 7352 train + 2947 test series (N, 9, 128), 6 activities."""
    del download, verify  # not downloadable (har_root's error says so); no known checksums
    folder = har_root(root)
    classes = read_activity_labels(folder)
    parts = []
    for part in splits_for(split):
        X, y = read_har_split(folder, part, len(classes))
        parts.append((X, y, part == "train"))
    X, y, is_train = concat_parts(parts)
    return Dataset(
        "uci-har", X, y, classes, is_train, "series",
        meta={"folder": str(folder), "channels": list(CHANNELS)},
    )  # fmt: skip


__all__ = [
    "CHANNELS",
    "CLASSES",
    "har_root",
    "load_uci_har",
    "read_activity_labels",
    "read_har_split",
]
