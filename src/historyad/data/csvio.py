"""Row-by-row reading of the UTF-8 CSV files of the recording loaders (SKAB, UCR anomaly).

Both formats share the rules applied here: a UTF-8 text file, a header line checked by the
caller, then data rows in which blank lines are skipped and every other row has exactly as many
fields as the header. Errors are ValueErrors naming the file (and the line for a row).
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


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


# -- delimited text of unknown dialect: the user's tables and series (data.files, streams) --
#: the delimiters ``sniff_delimiter`` tries
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
#: lines read ahead to find the delimiter
SNIFF_LINES = 20


def sniff_delimiter(lines: Sequence[str], *, name: str = "input") -> str:
    """The delimiter of a text table from its first lines: among ``DELIMITERS``, the one that
    splits every line into the same number (> 1) of fields, the most fields winning. One
    column (no candidate splits the header): ``","``."""
    sample = [ln for ln in lines if ln.strip()]
    if not sample:
        raise ValueError(f"{name}: empty; expected a header line naming the columns")
    best, best_n = ",", 1
    for delim in DELIMITERS:
        counts = {len(row) for row in csv.reader(sample, delimiter=delim) if row}
        if len(counts) == 1:
            n = counts.pop()
            if n > best_n:
                best, best_n = delim, n
    return best


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class CsvReader:
    """Header and data rows of a delimited text stream (a file or standard input), each row
    with its physical line number. The delimiter is given or sniffed from the first
    ``SNIFF_LINES`` lines (read ahead, then replayed)."""

    def __init__(self, fh: IO[str] | Iterable[str], *, name: str,
                 delimiter: str | None = None) -> None:
        self.name = name
        it = iter(fh)
        try:
            head = list(itertools.islice(it, SNIFF_LINES))
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name}: not UTF-8 text: {exc}") from exc
        self.delimiter = delimiter or sniff_delimiter(head, name=name)
        self._reader = csv.reader(itertools.chain(head, it), delimiter=self.delimiter)
        header = None
        for row in self._reader:
            if row and any(f.strip() for f in row):
                header = row
                break
        if header is None:
            raise ValueError(f"{name}: empty; expected a header line naming the columns")
        self.header = [h.strip() for h in header]
        self.header_line = self._reader.line_num
        if all(_is_number(h) for h in self.header):
            raise ValueError(
                f"{name}:{self.header_line}: the first line {self.header} looks like data; a "
                "header line naming the columns is needed (add one)"
            )
        dup = sorted({h for h in self.header if self.header.count(h) > 1})
        if dup:
            raise ValueError(f"{name}:{self.header_line}: duplicate column names {dup}")

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of every data row; blank lines are skipped.

        Raises:
            ValueError: naming the line, when a row has another number of fields than the
                header (the columns changed mid-way) or the text is not UTF-8.
        """
        n = len(self.header)
        try:
            for row in self._reader:
                line = self._reader.line_num
                if not row or all(not f.strip() for f in row):
                    continue
                if len(row) != n:
                    raise ValueError(
                        f"{self.name}:{line}: {len(row)} fields, but the header has {n} "
                        f"({self.delimiter!r}-separated); the columns must not change mid-way"
                    )
                yield line, row
        except UnicodeDecodeError as exc:
            raise ValueError(f"{self.name}: not UTF-8 text after line "
                             f"{self._reader.line_num}: {exc}") from exc
        except csv.Error as exc:
            raise ValueError(f"{self.name}:{self._reader.line_num}: {exc}") from exc
