"""The UCR time-series anomaly archive (KDD Cup 2021, Wu & Keogh), as shipped by aeon.

Series ``<id>`` is a pair of CSV files in ``<data dir>/ucr-anomaly/``, e.g.
``135_UCR_Anomaly_InternalBleeding16_TRAIN.csv`` and ``..._TEST.csv``, both with the header
``timestamp,value,is_anomaly``. TRAIN is the normal prefix; TEST is the whole series, whose
first rows repeat TRAIN. Protocol: fit on the prefix and score every later step, e.g.
``prefix_windows(rec.X, rec.labels, n_train=n_train, window=...)`` from `historyad.protocols`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from historyad.data.base import Recording, check_int
from historyad.data.csvio import data_rows, finite_number, open_csv
from historyad.data.fetch import dataset_dir, fetch

logger = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("timestamp", "value", "is_anomaly")
SOURCE = "the aeon package, aeon/datasets/data/KDD-TSAD_<id>/ (or the UCR anomaly archive)"


def read_ucr_anomaly_csv(path: str | os.PathLike[str]) -> Recording:
    """Parse one ``timestamp,value,is_anomaly`` CSV; the header is checked first.

    Returns:
        a `Recording`: X (T, 1) float32 values, labels (T,) int64 from ``is_anomaly``, channels
        ``["value"]``, source = the path, timestamps (T,) int64.

    Raises:
        ValueError: naming the file for an empty file, a bad header or no rows, and the file
            and line for a wrong field count, a non-integer timestamp, a non-numeric or
            non-finite value, or a label that is not 0/1.
    """
    path = Path(path)
    stamps: list[int] = []
    values: list[float] = []
    labels: list[int] = []
    with open_csv(path) as reader:
        header = [h.strip() for h in next(reader, None) or []]
        if not header:
            raise ValueError(f"{path}: empty file; expected the header {','.join(COLUMNS)}")
        if tuple(header) != COLUMNS:
            raise ValueError(f"{path}: header {header}; allowed is {list(COLUMNS)}")
        for line, row in data_rows(path, reader, len(COLUMNS)):
            stamp, value, label = (
                finite_number(path, line, column, text)
                for column, text in zip(COLUMNS, row, strict=True)
            )
            if not stamp.is_integer():
                raise ValueError(f"{path}:{line}: 'timestamp' is {row[0]!r}; allowed is an integer")
            if label not in (0.0, 1.0):
                raise ValueError(f"{path}:{line}: 'is_anomaly' is {row[2]!r}; allowed are 0 and 1")
            stamps.append(int(stamp))
            values.append(value)
            labels.append(int(label))
    return Recording(
        np.asarray(values, dtype=np.float32)[:, None],
        np.asarray(labels, dtype=np.int64),
        ["value"],
        str(path),
        np.asarray(stamps, dtype=np.int64),
    )


def load_ucr_anomaly(
    series_id: int = 135, *, root: str | os.PathLike[str] | None = None
) -> tuple[Recording, int]:
    """UCR anomaly series `series_id`: the whole series and the length of its normal prefix.

    The files are found by the pattern ``<data dir>/ucr-anomaly/<id>_UCR_Anomaly_*_TEST.csv``
    and the matching ``..._TRAIN.csv``.

    Args:
        series_id: the archive's series number (>= 1), e.g. 135 (InternalBleeding16).
        root: folder holding ``ucr-anomaly/``; default ``$HISTORYAD_DATA``, else the pooch cache.

    Returns:
        (recording, n_train): the TEST file as a `Recording` (X (T, 1) float32, labels (T,)
        int64, timestamps (T,) int64) and the number of rows of the TRAIN file, i.e. rows
        ``0 .. n_train - 1`` of the recording are the normal training prefix.

    Raises:
        ValueError: a bad `series_id`, several TEST files for it, malformed files, an anomalous
            row in the TRAIN prefix (of either file), a TRAIN file not shorter than TEST, or
            TEST not starting with TRAIN's values.
        FileNotFoundError: no TEST file matches, or its TRAIN file is absent (naming the path).
    """
    check_int("series_id", series_id, 1)
    pattern = f"{int(series_id)}_UCR_Anomaly_*_TEST.csv"
    folder = dataset_dir("ucr-anomaly", root)
    matches = sorted(folder.glob(pattern)) if folder.is_dir() else []
    hint = f"Get it from {SOURCE}"
    if not matches:
        # fetch raises the loaders' usual FileNotFoundError, naming the pattern looked for.
        fetch("ucr-anomaly", pattern, root=root, download=False, verify=False, hint=hint)
    if len(matches) > 1:
        raise ValueError(
            f"series_id={series_id} matches {len(matches)} files {[m.name for m in matches]} in "
            f"{folder}; allowed is exactly one {pattern}"
        )
    test_path = matches[0]
    train_name = test_path.name[: -len("_TEST.csv")] + "_TRAIN.csv"
    train_path = fetch(
        "ucr-anomaly", train_name, root=root, download=False, verify=False, hint=hint
    )
    rec = read_ucr_anomaly_csv(test_path)
    train = read_ucr_anomaly_csv(train_path)
    n_train = len(train.X)
    if train.labels.any():
        raise ValueError(
            f"{train_path}: {int(train.labels.sum())} rows have is_anomaly = 1; the TRAIN file "
            "must be the normal prefix (all 0)"
        )
    if n_train >= len(rec.X):
        raise ValueError(
            f"{train_path}: {n_train} rows, but {test_path} has {len(rec.X)}; the TRAIN prefix "
            "must be shorter than the whole series"
        )
    differ = np.flatnonzero(rec.X[:n_train, 0] != train.X[:, 0])
    if len(differ):
        raise ValueError(
            f"{test_path} does not start with the values of {train_path}: {len(differ)} of the "
            f"first {n_train} rows differ, the first at row {int(differ[0])} "
            f"({float(rec.X[differ[0], 0])!r} vs {float(train.X[differ[0], 0])!r})"
        )
    if rec.labels[:n_train].any():
        raise ValueError(
            f"{test_path}: is_anomaly = 1 at row {int(np.argmax(rec.labels[:n_train]))}, inside "
            f"the {n_train}-row normal prefix of {train_path}"
        )
    logger.debug(
        "%s: %d steps, normal prefix %d, %d anomalous",
        test_path, len(rec.X), n_train, int(rec.labels.sum()),
    )  # fmt: skip
    return rec, n_train


__all__ = ["COLUMNS", "load_ucr_anomaly", "read_ucr_anomaly_csv"]
