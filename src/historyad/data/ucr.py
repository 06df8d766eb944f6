"""UEA/UCR ``.ts`` time-series files (sktime/aeon format) and the BasicMotions dataset.

Format: ``#`` comment lines, ``@key value`` header lines (``@problemName``, ``@timeStamps``,
``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``,
``@classLabel true <names...>``), then ``@data`` and one series per line: channels separated by
``:``, values by ``,``, the class label last. ``?`` marks a missing value (NaN) when
``@missing true``. Only equal-length series without timestamps are supported.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from historyad.data.base import Dataset, concat_parts, preset, splits_for
from historyad.data.fetch import fetch

logger = logging.getLogger(__name__)

_TRUE = {"true": True, "false": False}


@dataclass
class TSFile:
    """A parsed .ts file: X (N, C, T) float32, y (N,) int64 indices into `classes`."""

    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    header: dict[str, Any] = field(default_factory=dict)


def _flag(path: Path, key: str, value: str) -> bool:
    if value.lower() not in _TRUE:
        raise ValueError(f"{path}: @{key} {value!r} is not allowed; use true or false")
    return _TRUE[value.lower()]


def _parse_header(path: Path, lines: list[tuple[int, str]]) -> dict[str, Any]:
    header: dict[str, Any] = {}
    for n, line in lines:
        key, _, rest = line[1:].partition(" ")
        key, rest = key.lower(), rest.strip()
        if key in ("timestamps", "missing", "univariate", "equallength"):
            header[key] = _flag(path, key, rest)
        elif key in ("dimensions", "serieslength"):
            if not rest.isdigit() or int(rest) < 1:
                raise ValueError(f"{path}:{n}: @{key} {rest!r} must be a positive integer")
            header[key] = int(rest)
        elif key == "classlabel":
            fields = rest.split()
            if not fields or not _flag(path, key, fields[0]):
                raise ValueError(f"{path}:{n}: @classLabel must be 'true <labels...>' here")
            if len(fields) < 2:
                raise ValueError(f"{path}:{n}: @classLabel true lists no class labels")
            header["classlabel"] = fields[1:]
        elif key == "targetlabel" and rest.lower().startswith("true"):
            raise ValueError(f"{path}:{n}: regression files (@targetlabel true) are not supported")
        else:
            header[key] = rest
    if header.get("timestamps"):
        raise ValueError(f"{path}: @timeStamps true is not supported; only plain values")
    if header.get("equallength") is False:
        raise ValueError(f"{path}: @equalLength false is not supported; series must be equal")
    if "classlabel" not in header:
        raise ValueError(f"{path}: no '@classLabel true <labels...>' header line")
    return header


def read_ts(path: str | os.PathLike[str]) -> TSFile:
    """Parse a classification .ts file.

    Raises:
        ValueError: naming the file and line for a missing @data, bad header, non-numeric value,
            wrong channel count, unequal lengths or an unknown class label.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text .ts file: {exc}") from exc
    header_lines: list[tuple[int, str]] = []
    data_lines: list[tuple[int, str]] = []
    in_data = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if in_data:
            data_lines.append((n, line))
        elif line.lower() == "@data":
            in_data = True
        elif line.startswith("@"):
            header_lines.append((n, line))
        else:
            raise ValueError(f"{path}:{n}: text before @data that is not a @header line")
    if not in_data:
        raise ValueError(f"{path}: no @data line")
    header = _parse_header(path, header_lines)
    classes: list[str] = header["classlabel"]
    index = {c: i for i, c in enumerate(classes)}
    missing_ok = bool(header.get("missing", False))
    n_dims = header.get("dimensions")
    length = header.get("serieslength")
    series: list[np.ndarray] = []
    labels: list[int] = []
    for n, line in data_lines:
        fields = line.split(":")
        label = fields[-1].strip()
        if label not in index:
            raise ValueError(f"{path}:{n}: class label {label!r} is not one of {classes}")
        rows = []
        for channel in fields[:-1]:
            values = channel.strip().rstrip(",").split(",")
            if "?" in values and not missing_ok:
                raise ValueError(f"{path}:{n}: missing value '?' but the header has @missing false")
            try:
                rows.append([np.nan if v == "?" else float(v) for v in values])
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: non-numeric value: {exc}") from exc
        if n_dims is not None and len(rows) != n_dims:
            raise ValueError(f"{path}:{n}: {len(rows)} channels; the header says {n_dims}")
        lengths = {len(r) for r in rows}
        if len(lengths) != 1:
            raise ValueError(f"{path}:{n}: channels have unequal lengths {sorted(lengths)}")
        if length is not None and lengths != {length}:
            raise ValueError(f"{path}:{n}: {lengths.pop()} values; @seriesLength says {length}")
        arr = np.asarray(rows, dtype=np.float32)
        n_missing = sum(v.strip() == "?" for c in fields[:-1] for v in c.split(","))
        if int((~np.isfinite(arr)).sum()) != n_missing:
            raise ValueError(f"{path}:{n}: NaN or infinite values; only finite numbers or '?'")
        if series and arr.shape != series[0].shape:
            raise ValueError(
                f"{path}:{n}: series shape {arr.shape} differs from the first one's "
                f"{series[0].shape}"
            )
        series.append(arr)
        labels.append(index[label])
    if not series:
        raise ValueError(f"{path}: @data holds no series")
    X = np.stack(series)
    return TSFile(X, np.asarray(labels, dtype=np.int64), list(classes), header)


def load_ts_problem(
    name: str,
    problem: str,
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """A UEA/UCR problem stored as ``<dir>/<name>/<problem>_{TRAIN,TEST}.ts``, as series."""
    parts, classes, sources = [], None, []
    for part in splits_for(split):
        path = fetch(
            name, f"{problem}_{part.upper()}.ts", root=root, download=download, verify=verify
        )
        ts = read_ts(path)
        if classes is not None and ts.classes != classes:
            raise ValueError(f"{path}: classes {ts.classes} differ from the train file's {classes}")
        if parts and ts.X.shape[1:] != parts[0][0].shape[1:]:
            raise ValueError(
                f"{path}: series of shape {ts.X.shape[1:]} differ from the train file's "
                f"{parts[0][0].shape[1:]}"
            )
        classes = ts.classes
        parts.append((ts.X, ts.y, part == "train"))
        sources.append(str(path))
    X, y, is_train = concat_parts(parts)
    return Dataset(name, X, y, list(classes or []), is_train, "series", meta={"files": sources})


load_basicmotions = preset(
    load_ts_problem, "basicmotions", "BasicMotions",
    doc="BasicMotions: 40 train + 40 test series (N, 6, 100), 4 activities.",
)  # fmt: skip


__all__ = ["TSFile", "load_basicmotions", "load_ts_problem", "read_ts"]
