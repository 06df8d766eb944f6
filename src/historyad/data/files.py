"""The user's own files: tables, multivariate series and image folders.

- Tables: a delimited text file with a header line (the delimiter ``,``, ``;``, tab or ``|`` is
  found from the first lines, or given), a Parquet file (needs ``pyarrow``) or a ``.npy``
  array. The features are every numeric column by default, or the chosen ``columns``; a
  ``label_column`` (0/1, 1 = anomaly) is kept out of the features; columns that are not
  numeric are left out (and named in ``FileData.dropped``). Missing or non-finite values in a
  feature column are an error naming the line (text) or row (Parquet, ``.npy``).
- Series: a table read the same way whose rows are time steps (T, C); ``timestamp_column``
  names the time column (default: the first column when it is not numeric); the items'
  ids are the timestamps, else the row numbers. Windows are cut by
  ``historyad.protocols.rolling``.
- Image folders: every .png/.jpg/.jpeg below the folder (any depth), sorted by relative path
  (the items' ids). Grey or colour as found (one channel when every image is grey, else
  three), or ``channels`` 1 or 3; all images must share one size unless ``size`` is given
  (then centre-cropped to a square and resized to ``size``×``size``). Pixels are scaled to
  [-1, 1] by ``historyad.data.folders.pixels_to_unit`` (0 ↦ -1, the dtype's maximum ↦ 1),
  the one function used when fitting and when scoring.

``InputSpec`` records how a file was read; a fitted model keeps it (``input.json`` beside
the model, written by ``historyad fit --input``) so that ``score`` reads new files the same
way: the same columns by name (in the fitted order; other columns are ignored), the same
window and stride, channels and image size.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from historyad.data.csvio import DELIMITERS, CsvReader, _is_number, sniff_delimiter
from historyad.data.folders import read_image_folder

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
NPY_SUFFIXES = (".npy",)
KINDS = ("table", "series", "images", "array")
SPEC_FORMAT = "historyad-input"


# ----------------------------------------------------------------------------- the spec


def check_window(window: object, stride: object) -> tuple[int, int]:
    """(window, stride) as ints: window >= 1 and 1 <= stride <= window (stride None: 1).

    Raises:
        ValueError: naming the option, for a missing, non-integer or out-of-range value.
    """
    if window is None:
        raise ValueError("--window W is needed for a series (the rows each window holds)")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"--window {window!r} is not allowed; it must be an integer >= 1")
    stride = 1 if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
        raise ValueError(f"--stride {stride!r} is not allowed; it must be an integer >= 1")
    if stride > window:
        raise ValueError(f"--stride {stride} is larger than --window {window}: rows between "
                         "windows would get no score; use a stride <= the window")
    return int(window), int(stride)


#: the largest --size (pixels per side): 1024² × 3 float32 is 12 MB per image
MAX_IMAGE_SIZE = 1024


@dataclass
class InputSpec:
    """How a file is read (JSON-serialisable; ``input.json`` beside a fitted model).

    kind: "table" (rows are items), "series" (rows are time steps, cut into windows),
    "images" (a folder) or "array" (a ``.npy`` of rank 3 or 4 used as it is).
    columns: the feature columns in order (None before the first read: every numeric one).
    """

    kind: str = "table"
    columns: list[str] | None = None
    label_column: str | None = None
    timestamp_column: str | None = None
    delimiter: str | None = None
    window: int | None = None
    stride: int | None = None
    channels: int | None = None
    size: int | None = None
    image_shape: list[int] | None = None  # (H, W) of a folder read without ``size``

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is not allowed; choose one of {list(KINDS)}")
        if self.channels is not None and self.channels not in (1, 3):
            raise ValueError(f"--channels {self.channels} is not allowed; use 1 (grey) or 3 "
                             "(colour)")
        if self.size is not None and (isinstance(self.size, bool) or not 4 <= self.size
                                      <= MAX_IMAGE_SIZE):
            raise ValueError(f"--size {self.size} is not allowed; it must be an integer from 4 "
                             f"to {MAX_IMAGE_SIZE} (pixels per side)")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"--delimiter {self.delimiter!r} is not allowed; give one "
                             "character (use '\\t' for tab)")
        if self.kind == "series":
            self.window, self.stride = check_window(self.window, self.stride)

    def to_dict(self) -> dict[str, Any]:
        return {"format": SPEC_FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class FileData:
    """What was read from one file or folder.

    X: tables (N, D) and series (T, C) float32 in file units; images (N, C, H, W) float32 in
    [-1, 1]; arrays as stored (float32).
    ids: one per item (rows of tables and series, files of folders): the row number
    (0 = the first data row), the file's path relative to the folder, or the timestamp.
    labels: (N,) int64 0/1 from ``label_column``, else None.
    spec: the spec with everything resolved (columns, timestamp column, channels, shape).
    """

    X: np.ndarray
    ids: list[str]
    labels: np.ndarray | None
    spec: InputSpec
    source: str
    dropped: list[str] = field(default_factory=list)
    delimiter: str | None = None  # the delimiter of a text file, as found

    @property
    def columns(self) -> list[str] | None:
        return self.spec.columns


# ----------------------------------------------------------------------------- columns


@dataclass
class _Table:
    """Every column of a file: ``text`` (str per row) or ``values`` (float64, NaN where
    missing), with ``where(i)`` naming row i in messages."""

    header: list[str]
    text: dict[str, list[str]]
    values: dict[str, np.ndarray]
    missing: dict[str, np.ndarray]
    lines: np.ndarray | None  # physical line of each row (text files)
    name: str

    def where(self, i: int) -> str:
        if self.lines is not None:
            return f"{self.name}:{int(self.lines[i])}"
        return f"{self.name}: row {i}"

    @property
    def n_rows(self) -> int:
        col = self.header[0]
        return len(self.text[col]) if col in self.text else len(self.values[col])

    def numbers(self, col: str) -> tuple[np.ndarray | None, int | None]:
        """(float64 values with NaN where missing, None) when every present value is a number,
        else (None, index of the first value that is not)."""
        if col in self.values:
            return self.values[col], None
        texts = self.text[col]
        try:
            vals = np.array([t if t.strip() else "nan" for t in texts], dtype=np.float64)
        except ValueError:
            for i, t in enumerate(texts):
                if t.strip() and not _is_number(t):
                    return None, i
            raise
        self.values[col] = vals
        return vals, None


def _read_text_table(path: Path, delimiter: str | None) -> tuple[_Table, str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = CsvReader(fh, name=str(path), delimiter=delimiter)
            lines, rows = [], []
            for line, row in reader.rows():
                lines.append(line)
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file: {exc}") from exc
    if not rows:
        raise ValueError(f"{path}: the header is followed by no rows")
    cols = list(zip(*rows, strict=True))
    text = {h: [c.strip() for c in col] for h, col in zip(reader.header, cols, strict=True)}
    return _Table(reader.header, text, {}, {}, np.asarray(lines), str(path)), reader.delimiter


def _read_parquet_table(path: Path) -> _Table:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            f"{path}: reading Parquet needs pyarrow: pip install pyarrow (or "
            "'historyad[files]')"
        ) from exc
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{path}: not a readable Parquet file: {exc}") from exc
    if table.num_rows == 0:
        raise ValueError(f"{path}: no rows")
    out = _Table(list(table.column_names), {}, {}, {}, None, str(path))
    for name in table.column_names:
        col = table.column(name)
        typ = col.type
        missing = col.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ) \
                or pa.types.is_decimal(typ):
            vals = col.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
            vals[missing] = np.nan
            out.values[name] = vals
        else:
            out.text[name] = ["" if v is None else str(v) for v in col.to_pylist()]
        out.missing[name] = missing
    return out


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npy array (no pickles): {exc}") from exc
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{path}: dtype {arr.dtype}; a .npy input must hold numbers")
    if arr.ndim not in (1, 2, 3, 4) or arr.shape[0] == 0:
        raise ValueError(f"{path}: shape {arr.shape}; allowed are (N,), (N, D), (N, C, T) and "
                         "(N, C, H, W) with N >= 1")
    return arr


def file_format(path: Path) -> str:
    """"folder", "text", "parquet" or "npy" from the path (a folder or the suffix)."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in NPY_SUFFIXES:
        return "npy"
    return "text"


def _select(table: _Table, spec: InputSpec, *, for_series: bool) -> tuple[
        np.ndarray, list[str], np.ndarray | None, list[str] | None, list[str], str | None]:
    """(X (N, D) float32, feature names, labels or None, timestamps or None, dropped columns,
    timestamp column) of ``table`` as ``spec`` asks."""
    header = table.header

    def need(col: str, option: str) -> None:
        if col not in header:
            raise ValueError(f"{table.name}: {option} {col!r} is not a column; the columns "
                             f"are {header}")

    if spec.label_column is not None:
        need(spec.label_column, "--label-column")
    ts_col = spec.timestamp_column
    if ts_col is not None:
        need(ts_col, "--timestamp-column")
    elif for_series and spec.columns is None and table.numbers(header[0])[0] is None:
        ts_col = header[0]  # the first column, not numeric: the time column
        logger.info("%s: %r (not numeric) taken as the timestamp column", table.name, ts_col)
    reserved = {spec.label_column, ts_col}
    if spec.columns is not None:
        for col in spec.columns:
            need(col, "column")
            if col in reserved:
                raise ValueError(f"{table.name}: {col!r} is both a feature column and the "
                                 "label or timestamp column")
        chosen, dropped = list(spec.columns), []
    else:
        chosen, dropped = [], []
        for col in header:
            if col in reserved:
                continue
            (chosen if table.numbers(col)[0] is not None else dropped).append(col)
        if not chosen:
            hint = ""
            sample = [t for col in dropped for t in table.text.get(col, [])[:20] if t.strip()]
            if sample and all(re.fullmatch(r"[-+]?\d+,\d*", t.strip()) for t in sample):
                hint = ("; the values look like decimal commas (e.g. "
                        f"{sample[0].strip()!r}): write them with a decimal point")
            raise ValueError(f"{table.name}: no numeric column besides the label/timestamp "
                             f"columns; the columns are {header}{hint}")
    columns = []
    for col in chosen:
        vals, bad = table.numbers(col)
        if vals is None:
            assert bad is not None
            raise ValueError(f"{table.where(bad)}: column {col!r} is "
                             f"{table.text[col][bad]!r}, not a number")
        nonfinite = ~np.isfinite(vals)
        if nonfinite.any():
            i = int(np.flatnonzero(nonfinite)[0])
            raw = table.text[col][i] if col in table.text else "null"
            raise ValueError(
                f"{table.where(i)}: column {col!r} is {raw or 'empty'!r}; a finite number is "
                f"needed ({int(nonfinite.sum())} such values in the column; fill or drop "
                "those rows, or leave the column out with --columns)"
            )
        columns.append(vals)
    X = np.stack(columns, axis=1).astype(np.float32)
    labels = None
    if spec.label_column is not None:
        lab, bad = table.numbers(spec.label_column)
        ok = lab is not None and np.isin(lab, (0.0, 1.0)).all()
        if not ok:
            if lab is not None:
                bad = int(np.flatnonzero(~np.isin(lab, (0.0, 1.0)))[0])
            raw = (table.text[spec.label_column][bad] if spec.label_column in table.text
                   else str(lab[bad] if lab is not None else ""))
            raise ValueError(f"{table.where(int(bad))}: label column {spec.label_column!r} is "
                             f"{raw!r}; allowed are 0 (normal) and 1 (anomaly)")
        labels = lab.astype(np.int64)
    stamps = None
    if ts_col is not None:
        stamps = (table.text[ts_col] if ts_col in table.text
                  else [_format_number(v) for v in table.values[ts_col]])
    if dropped:
        logger.info("%s: columns left out (not numeric): %s", table.name, dropped)
    return X, chosen, labels, stamps, dropped, ts_col


def _format_number(v: float) -> str:
    return str(int(v)) if math.isfinite(v) and float(v).is_integer() else repr(float(v))


def _npy_table(arr: np.ndarray, path: Path) -> _Table:
    arr2 = arr.reshape(len(arr), -1) if arr.ndim == 1 else arr
    names = [str(i) for i in range(arr2.shape[1])]
    values = {n: arr2[:, i].astype(np.float64) for i, n in enumerate(names)}
    return _Table(names, {}, values, {}, None, str(path))


def read_table(path: str | os.PathLike[str], spec: InputSpec | None = None) -> FileData:
    """Read a table or a series (``spec.kind``) from a text, Parquet or ``.npy`` file.

    A ``.npy`` of rank 1 or 2 is a table whose columns are named "0", "1", ...; one of rank 3
    or 4 is used as it is (kind "array": no columns, label or timestamp options).

    Raises:
        ValueError: naming the file (and line or row) for an empty file, a missing header,
            a row with another number of fields, a chosen column that is absent or not
            numeric, a missing or non-finite value in a feature column, a label that is not
            0/1, no numeric column.
        FileNotFoundError: the path does not exist.
    """
    path = Path(path)
    spec = dataclasses.replace(spec) if spec is not None else InputSpec()
    if not path.exists():
        raise FileNotFoundError(f"--input {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; tables and series are files (a folder is read "
                         "as images)")
    fmt = file_format(path)
    delimiter = None
    if fmt == "npy":
        arr = _read_npy(path)
        if arr.ndim >= 3:
            if spec.kind == "series" or spec.columns or spec.label_column \
                    or spec.timestamp_column:
                raise ValueError(
                    f"{path}: shape {arr.shape}; a rank-{arr.ndim} array is used as it is "
                    "(items on the first axis): no --window, --columns, --label-column or "
                    "--timestamp-column"
                )
            if spec.kind == "table":
                spec.kind = "array"
            spec.columns = None
            X = np.ascontiguousarray(arr, dtype=np.float32)
            if not np.isfinite(X).all():
                bad = np.argwhere(~np.isfinite(X))[0]
                raise ValueError(f"{path}: a NaN or infinite value at index {tuple(bad)}")
            return FileData(X, [str(i) for i in range(len(X))], None, spec, str(path))
        table = _npy_table(arr, path)
    elif fmt == "parquet":
        table = _read_parquet_table(path)
    else:
        table, delimiter = _read_text_table(path, spec.delimiter)
    if spec.kind == "array":
        raise ValueError(f"{path}: the model was fitted on a rank-3/4 .npy array; give one "
                         "such array")
    X, columns, labels, stamps, dropped, ts_col = _select(table, spec,
                                                         for_series=spec.kind == "series")
    spec.columns = columns
    spec.timestamp_column = ts_col
    ids = stamps if stamps is not None else [str(i) for i in range(len(X))]
    return FileData(X, ids, labels, spec, str(path), dropped, delimiter)


# ----------------------------------------------------------------------------- dispatch


def read_input(path: str | os.PathLike[str], spec: InputSpec) -> FileData:
    """Read ``path`` as ``spec`` says (the first read resolves columns, channels, shape)."""
    if spec.kind == "images":
        return read_image_folder(path, spec)
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder of images, but the model reads "
                         f"{spec.kind} files")
    return read_table(path, spec)


def column_names(path: str | os.PathLike[str], *, delimiter: str | None = None) -> list[str]:
    """The column names of a table file (its header; "0", "1", ... for ``.npy``), without
    reading the rows; ``[]`` for a folder or an array of rank 3 or 4."""
    path = Path(path)
    fmt = file_format(path)
    if fmt == "folder":
        return []
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist")
    if fmt == "npy":
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        return [str(i) for i in range(arr.shape[1] if arr.ndim == 2 else 1)] \
            if arr.ndim <= 2 else []
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        except ImportError:
            return list(_read_parquet_table(path).header)  # raises the install hint
        except OSError as exc:
            raise ValueError(f"{path}: not a readable Parquet file: {exc}") from exc
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return CsvReader(fh, name=str(path), delimiter=delimiter).header


def guess_kind(path: str | os.PathLike[str], *, window: int | None) -> str:
    """"images" for a folder, "series" when a window is given, else "table"."""
    if Path(path).is_dir():
        return "images"
    return "series" if window is not None else "table"


__all__ = [
    "DELIMITERS",
    "CsvReader",
    "FileData",
    "InputSpec",
    "check_window",
    "column_names",
    "file_format",
    "guess_kind",
    "read_image_folder",
    "read_input",
    "read_table",
    "sniff_delimiter",
]
