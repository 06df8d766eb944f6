"""Row-by-row reading of the UTF-8 CSV files of the recording loaders (SKAB, UCR anomaly).

Both formats share the rules applied here: a UTF-8 text file, a header line checked by the
caller, then data rows in which blank lines are skipped and every other row has exactly as many
fields as the header. Errors are ValueErrors naming the file (and the line for a row).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def open_csv(path: Path, *, delimiter: str = ",") -> Iterator[Any]:
    """A ``csv.reader`` over the UTF-8 text file `path`.

    Raises:
        ValueError: the file is not UTF-8 text (at whatever line decoding fails).
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            yield csv.reader(fh, delimiter=delimiter)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text CSV file: {exc}") from exc


def data_rows(path: Path, reader: Any, n_fields: int) -> Iterator[tuple[int, list[str]]]:
    """The rows left in `reader` (after the header) as (line number, fields), blank rows skipped.

    Raises:
        ValueError: a row without `n_fields` fields (naming the file and line), or, once the
            file is exhausted, no row at all.
    """
    n_rows = 0
    for row in reader:
        line = reader.line_num
        if not row or all(not f.strip() for f in row):
            continue
        if len(row) != n_fields:
            raise ValueError(f"{path}:{line}: {len(row)} fields; the header has {n_fields}")
        n_rows += 1
        yield line, row
    if not n_rows:
        raise ValueError(f"{path}: the header is followed by no rows")


def finite_number(path: Path, line: int, column: str, text: str) -> float:
    """The field `text` of `column` as a float.

    Raises:
        ValueError: naming the file, line and column when `text` is not a finite number.
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{path}:{line}: {column!r} is {text!r}; allowed is a finite number")
    return value


__all__ = ["data_rows", "finite_number", "open_csv"]
