"""SKAB, the Skoltech Anomaly Benchmark: one experiment per ``;``-separated CSV file.

Columns: ``datetime`` (``YYYY-MM-DD hh:mm:ss``, 1 Hz), the eight sensors of `SKAB_CHANNELS`
(two accelerometer RMS, motor current, pressure, two temperatures, voltage, volume flow RMS),
then ``anomaly`` (1 during a fault) and ``changepoint`` (1 where a fault starts or ends). The
anomaly-free recording has neither label column (every row is normal). Files live in
``<data dir>/skab/<folder>/<stem>.csv``, e.g. ``skab/valve1/3.csv`` (repository waico/SKAB,
GNU GPL v3: evaluation data only, never shipped with the package).

Usual protocol per file: fit on the first 400 rows (normal) and score every later row, e.g.
``prefix_windows(rec.X, rec.labels, n_train=400, window=...)`` from `historyad.protocols`.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path

import numpy as np

from historyad.data.base import Recording
from historyad.data.csvio import data_rows, finite_number, open_csv
from historyad.data.fetch import fetch

logger = logging.getLogger(__name__)

TIME_COLUMN = "datetime"
LABEL_COLUMN = "anomaly"
CHANGEPOINT_COLUMN = "changepoint"
SKAB_CHANNELS: tuple[str, ...] = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
SAMPLE_RATE_HZ = 1
SOURCE = "the repository waico/SKAB (data/<folder>/<stem>.csv)"

#: The 16 valve1 experiments (normal start, then a fault).
SKAB_VALVE1: tuple[str, ...] = tuple(f"valve1/{i}" for i in range(16))
#: The normal-only recording (9 405 rows, no label columns).
SKAB_ANOMALY_FREE = "anomaly-free/anomaly-free"
#: The recordings of the shared data folder.
SKAB_FILES: tuple[str, ...] = (*SKAB_VALVE1, SKAB_ANOMALY_FREE)

_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*/[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_TAILS = ([], [LABEL_COLUMN], [LABEL_COLUMN, CHANGEPOINT_COLUMN])


def _check_header(path: Path, header: list[str] | None) -> list[str]:
    if not header:
        raise ValueError(f"{path}: empty file; expected a ';'-separated SKAB header")
    header = [h.strip() for h in header]
    n = 1 + len(SKAB_CHANNELS)
    if (
        header[:1] != [TIME_COLUMN]
        or header[1:n] != list(SKAB_CHANNELS)
        or header[n:] not in _TAILS
    ):
        raise ValueError(
            f"{path}: header {header} is not a SKAB header; allowed is {TIME_COLUMN!r}, the "
            f"sensors {list(SKAB_CHANNELS)}, then {LABEL_COLUMN!r} and {CHANGEPOINT_COLUMN!r} "
            "(both optional, in that order), separated by ';'"
        )
    return header


def _flag(path: Path, line: int, column: str, text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if value not in (0.0, 1.0):
        raise ValueError(f"{path}:{line}: {column!r} is {text!r}; allowed are 0 and 1")
    return int(value)


def read_skab_csv(path: str | os.PathLike[str]) -> Recording:
    """Parse one SKAB CSV; the header is checked before any value is read.

    Returns:
        a `Recording`: X (T, 8) float32 sensor values in file order (units as recorded), labels
        (T,) int64 from the ``anomaly`` column (all 0 when the file has none, as the
        anomaly-free recording), channels = `SKAB_CHANNELS`, source = the path, timestamps
        (T,) ``datetime64[s]``. The ``changepoint`` column is checked (0/1) but not returned.

    Raises:
        ValueError: naming the file for an empty file or a bad header, and the file and line
            for a wrong field count, a non-numeric or non-finite value, a bad timestamp, a
            label that is not 0/1, or no data rows.
    """
    path = Path(path)
    n_ch = len(SKAB_CHANNELS)
    times: list[np.datetime64] = []
    rows: list[list[float]] = []
    labels: list[int] = []
    with open_csv(path, delimiter=";") as reader:
        header = _check_header(path, next(reader, None))
        has_label = LABEL_COLUMN in header
        has_changepoint = CHANGEPOINT_COLUMN in header
        for line, row in data_rows(path, reader, len(header)):
            try:
                stamp = np.datetime64(row[0].strip(), "s")
            except ValueError:
                stamp = np.datetime64("NaT", "s")
            if np.isnat(stamp):
                raise ValueError(
                    f"{path}:{line}: {TIME_COLUMN!r} is {row[0]!r}; allowed is a date-time "
                    "such as '2020-03-09 10:14:33'"
                )
            times.append(stamp)
            rows.append(
                [
                    finite_number(path, line, column, text)
                    for column, text in zip(SKAB_CHANNELS, row[1 : 1 + n_ch], strict=True)
                ]
            )
            if has_label:
                labels.append(_flag(path, line, LABEL_COLUMN, row[1 + n_ch]))
            if has_changepoint:
                _flag(path, line, CHANGEPOINT_COLUMN, row[2 + n_ch])
    X = np.asarray(rows, dtype=np.float32)
    y = np.asarray(labels if has_label else np.zeros(len(rows)), dtype=np.int64)
    if not has_label:
        logger.debug("%s: no %r column; all %d rows are normal", path, LABEL_COLUMN, len(X))
    return Recording(X, y, list(SKAB_CHANNELS), str(path), np.asarray(times, "datetime64[s]"))


def load_skab_recording(name: str, *, root: str | os.PathLike[str] | None = None) -> Recording:
    """The SKAB recording ``<data dir>/skab/<name>.csv``, e.g. ``"valve1/3"``.

    Args:
        name: ``"<folder>/<file stem>"``: one of `SKAB_FILES` for the shared data folder
            (`SKAB_VALVE1` or ``"anomaly-free/anomaly-free"``); other SKAB files such as
            ``"valve2/0"`` or ``"other/9"`` load when present.
        root: folder holding ``skab/``; default ``$HISTORYAD_DATA``, else the pooch cache.

    Returns:
        the `Recording` of `read_skab_csv`: X (T, 8) float32, labels (T,) int64, timestamps.

    Raises:
        ValueError: `name` is not of the form ``"<folder>/<stem>"`` (no ``.csv``, no ``..``), or
            the file is malformed (see `read_skab_csv`).
        FileNotFoundError: the file is absent (the message names the path looked for).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith(".csv"):
        raise ValueError(
            f"name={name!r} is not allowed; give '<folder>/<file stem>' without '.csv', e.g. "
            f"one of {list(SKAB_FILES)}"
        )
    path = fetch(
        "skab", f"{name}.csv", root=root, download=False, verify=False, hint=f"Get it from {SOURCE}"
    )
    rec = read_skab_csv(path)
    logger.debug("%s: %d steps, %d anomalous", path, len(rec.X), int(rec.labels.sum()))
    return rec


__all__ = [
    "SKAB_ANOMALY_FREE",
    "SKAB_CHANNELS",
    "SKAB_FILES",
    "SKAB_VALVE1",
    "load_skab_recording",
    "read_skab_csv",
]
