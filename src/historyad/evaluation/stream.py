"""``historyad score --stream``: score a delimited text stream (a file or standard input) row
by row with a model fitted by ``historyad fit --input``, in bounded memory.

The stream is read in chunks of ``chunk_size`` rows; each chunk's complete windows are
scored at once, and every row whose score became final (``historyad.protocols.rolling``:
its last window is complete) is written and flushed at once, as ``id,score,label`` lines,
the same scores as ``historyad score`` on the whole file. Only the last W rows, the rows
awaiting their window and one chunk are kept. Tables (models fitted without ``--window``)
are scored row by row.

Errors name the line: a row with another number of fields than the header (the columns
changed mid-way), a value that is not a finite number in a feature column (a new header line
mid-way reads so). The rows before the bad line are scored and written first (those still
awaiting their window are not: the message says how many); nothing is written for the bad
line or after it.
"""

from __future__ import annotations

import csv
import math
from collections import deque
from typing import IO, Any

import numpy as np

from historyad.data.files import CsvReader
from historyad.evaluation.filejobs import chunked_scores, load_model, model_spec

DEFAULT_CHUNK = 256


def stream_scores(
    model: Any,
    source: IO[str],
    sink: IO[str],
    *,
    name: str = "<stdin>",
    chunk_size: int = DEFAULT_CHUNK,
    delimiter: str | None = None,
) -> dict[str, Any]:
    """Score the text stream ``source`` with the model file ``model`` and write
    ``id,score,label`` lines to ``sink`` as rows become final; returns
    ``{"rows": n, "flagged": k, "threshold": t}``.

    Raises:
        ValueError: a model that does not read text tables or series, a stream whose header
            lacks the model's columns, a malformed line (named), fewer rows than the window.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"--chunk-size {chunk_size!r} is not allowed; it must be >= 1")
    det, meta = load_model(model)
    spec = model_spec(meta)
    if spec.kind not in ("table", "series"):
        raise ValueError(f"--stream reads text tables and series; this model reads "
                         f"{spec.kind} ({meta['trained_on']['source']})")
    reader = CsvReader(source, name=name, delimiter=delimiter or spec.delimiter)
    header = reader.header
    missing = [c for c in spec.columns or [] if c not in header]
    if missing:
        raise ValueError(f"{name}:{reader.header_line}: the header {header} lacks the model's "
                         f"columns {missing}")
    ts = spec.timestamp_column
    if ts is not None and ts not in header:
        raise ValueError(f"{name}:{reader.header_line}: the header {header} lacks the model's "
                         f"timestamp column {ts!r}")
    idx = [header.index(c) for c in spec.columns or []]
    ts_idx = header.index(ts) if ts is not None else None
    thr = float(det.threshold_)
    score_fn, bar = chunked_scores(det, progress=False)
    bar.close()
    roll = None
    if spec.kind == "series":
        from historyad.protocols.rolling import RollingWindows

        roll = RollingWindows(score_fn, window=spec.window, stride=spec.stride)
    writer = csv.writer(sink)
    writer.writerow(["id", "score", "label"])
    pending: deque[str] = deque()
    chunk: list[list[float]] = []
    counts = {"rows": 0, "flagged": 0}

    def write(scores: np.ndarray) -> None:
        for s in scores.tolist():
            label = int(s > thr)
            writer.writerow([pending.popleft(), f"{s:.8g}", label])
            counts["rows"] += 1
            counts["flagged"] += label
        sink.flush()

    def push() -> None:
        if not chunk:
            return
        X = np.asarray(chunk, dtype=np.float32)
        chunk.clear()
        if roll is None:
            write(score_fn(X))
        else:
            write(roll.push(X)[1])

    n_read = 0
    try:
        for line, fields in reader.rows():
            values = []
            for j, col in zip(idx, spec.columns or [], strict=True):
                text = fields[j].strip()
                try:
                    v = float(text)
                except ValueError:
                    v = math.nan
                if not math.isfinite(v):
                    raise ValueError(
                        f"{name}:{line}: column {col!r} is {text!r}; a finite number is needed"
                        " (the columns must stay those of the header line)")
                values.append(v)
            chunk.append(values)
            pending.append(fields[ts_idx].strip() if ts_idx is not None else str(n_read))
            n_read += 1
            if len(chunk) >= chunk_size:
                push()
    except ValueError as exc:
        push()
        waiting = len(pending)
        if waiting:
            raise ValueError(f"{exc} ({counts['rows']} rows before it written; {waiting} "
                             "rows awaiting their window not written)") from exc
        raise ValueError(f"{exc} ({counts['rows']} rows before it written)") from exc
    push()
    if roll is not None:
        write(roll.finish()[1])
    return {**counts, "threshold": thr}


__all__ = ["DEFAULT_CHUNK", "stream_scores"]
