"""Windows of a series given as rows (T, C), and per-row scores from window scores, for a
whole file or a stream arriving in chunks: one definition, so both give the same scores.

Windows: length ``window`` (W), starting at rows 0, S, 2S, ... (``stride`` S <= W) while
they fit in the series; each is (C, W), channels first, as the detectors take series.

Per-row scores: row r's score is the mean of the scores of the windows covering it, added in
window order. The rows after the last such window (when (T - W) is not a multiple of S) are
covered by one more window, the last W rows (the "tail" window), whose score they take; no
other row uses it. A row's score is final once the last window that can cover it,
starting at ``floor(r / S) · S``, is complete, i.e. when row ``floor(r / S) · S + W - 1`` has
arrived; a stream writes it then. Memory stays bounded by W + the chunk: only the last W
rows and the rows not yet final are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from historyad.data.files import check_window

ScoreFn = Callable[[np.ndarray], np.ndarray]


def window_starts(n_rows: int, window: int, stride: int) -> np.ndarray:
    """The regular window starts 0, S, 2S, ... with start + W <= T."""
    if n_rows < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_rows - window + 1, stride, dtype=np.int64)


def series_windows(rows: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(windows (N, C, W) float32, starts (N,)) of the regular windows of ``rows`` (T, C).

    Raises:
        ValueError: fewer rows than the window.
    """
    window, stride = check_window(window, stride)
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"a series is (T, C) rows; got shape {rows.shape}")
    if len(rows) < window:
        raise ValueError(f"the series has {len(rows)} rows; --window {window} needs at least "
                         f"{window}")
    starts = window_starts(len(rows), window, stride)
    view = np.lib.stride_tricks.sliding_window_view(rows, window, axis=0)  # (T-W+1, C, W)
    return np.ascontiguousarray(view[starts]), starts


def window_labels(labels: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """1 for each window (by start) holding an anomalous row (labels (T,) 0/1)."""
    counts = np.concatenate([[0], np.cumsum(np.asarray(labels) != 0)])
    return (counts[starts + window] - counts[starts] > 0).astype(np.int64)


@dataclass
class Windows:
    """Windows scored by one ``push`` or ``finish``: their first rows and scores."""

    starts: np.ndarray
    scores: np.ndarray


class RollingWindows:
    """Per-row scores of a series arriving in chunks of rows (see the module docstring).

    ``push(rows)`` takes the next rows (n, C) and returns ``(first, scores, windows)``: the
    rows ``first .. first + len(scores) - 1`` whose scores became final, and the windows
    scored; ``finish()`` returns the same for the rows left at the end. ``score_fn`` maps
    windows (N, C, W) to scores (N,).
    """

    def __init__(self, score_fn: ScoreFn, *, window: int, stride: int) -> None:
        self.window, self.stride = check_window(window, stride)
        self.score_fn = score_fn
        self.n_seen = 0  # rows pushed
        self.next_start = 0  # the next regular window start not scored yet
        self._buf = np.zeros((0, 0), dtype=np.float32)  # rows from _buf_start on
        self._buf_start = 0
        self._first = 0  # the first row whose score is not final yet
        self._sums = np.zeros(0, dtype=np.float64)  # from _first on
        self._counts = np.zeros(0, dtype=np.int64)

    def push(self, rows: np.ndarray) -> tuple[int, np.ndarray, Windows]:
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2:
            raise ValueError(f"rows must be (n, C); got shape {rows.shape}")
        if self._buf.shape[1] == 0 and self.n_seen == 0:
            self._buf = np.zeros((0, rows.shape[1]), dtype=np.float32)
        elif rows.shape[1] != self._buf.shape[1]:
            raise ValueError(f"rows have {rows.shape[1]} channels; earlier rows had "
                             f"{self._buf.shape[1]}")
        buf = np.concatenate([self._buf, rows]) if len(self._buf) else rows
        self.n_seen += len(rows)
        self._grow(self.n_seen - self._first)
        W, S = self.window, self.stride
        starts = np.arange(self.next_start, self.n_seen - W + 1, S, dtype=np.int64)
        scores = np.zeros(0, dtype=np.float64)
        if len(starts):
            view = np.lib.stride_tricks.sliding_window_view(buf, W, axis=0)
            scores = np.asarray(self.score_fn(np.ascontiguousarray(
                view[starts - self._buf_start])), dtype=np.float64).reshape(-1)
            if len(scores) != len(starts):
                raise ValueError(f"score_fn returned {len(scores)} scores for {len(starts)} "
                                 "windows")
            self._add(starts, scores)
            self.next_start = int(starts[-1]) + S
        # rows before next_start are final (their last covering window is scored)
        n_final = max(0, min(self.next_start, self.n_seen) - self._first)
        first, out = self._emit(n_final)
        keep_from = max(0, min(self.next_start, self.n_seen - W))
        self._buf = buf[keep_from - self._buf_start:].copy()
        self._buf_start = keep_from
        return first, out, Windows(starts, scores)

    def finish(self) -> tuple[int, np.ndarray, Windows]:
        """Scores of the rows left: the mean of their scored windows, or the tail window's.

        Raises:
            ValueError: fewer rows than the window in the whole series.
        """
        W = self.window
        if self.n_seen < W:
            raise ValueError(f"the series has {self.n_seen} rows; --window {W} needs at least "
                             f"{W}")
        n_left = self.n_seen - self._first
        windows = Windows(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        uncovered = self._counts[:n_left] == 0
        if uncovered.any():
            start = self.n_seen - W
            tail = self._buf[start - self._buf_start:][None].transpose(0, 2, 1)  # (1, C, W)
            score = float(np.asarray(self.score_fn(np.ascontiguousarray(tail))).reshape(-1)[0])
            self._sums[:n_left][uncovered] = score
            self._counts[:n_left][uncovered] = 1
            windows = Windows(np.array([start]), np.array([score]))
        return (*self._emit(n_left), windows)

    # -- internals -------------------------------------------------------------------
    def _grow(self, n: int) -> None:
        if len(self._sums) < n:
            self._sums = np.concatenate([self._sums, np.zeros(n - len(self._sums))])
            self._counts = np.concatenate([self._counts,
                                           np.zeros(n - len(self._counts), dtype=np.int64)])

    def _add(self, starts: np.ndarray, scores: np.ndarray) -> None:
        """Add each window's score to its rows, window after window (the order of the sums
        is the same whatever the chunks)."""
        W, f = self.window, self._first
        for st, sc in zip((starts - f).tolist(), scores.tolist(), strict=True):
            self._sums[st:st + W] += sc
            self._counts[st:st + W] += 1

    def _emit(self, n: int) -> tuple[int, np.ndarray]:
        first = self._first
        out = self._sums[:n] / np.maximum(self._counts[:n], 1)
        self._sums = self._sums[n:]
        self._counts = self._counts[n:]
        self._first += n
        return first, out


def row_scores(rows: np.ndarray, score_fn: ScoreFn, *, window: int,
               stride: int) -> tuple[np.ndarray, Windows]:
    """(per-row scores (T,), every window scored) of a whole series (T, C): one ``push`` and
    ``finish`` of ``RollingWindows``, so a stream of the same rows gets the same scores."""
    roll = RollingWindows(score_fn, window=window, stride=stride)
    first, a, w1 = roll.push(rows)
    _, b, w2 = roll.finish()
    assert first == 0
    windows = Windows(np.concatenate([w1.starts, w2.starts]),
                      np.concatenate([w1.scores, w2.scores]))
    return np.concatenate([a, b]), windows


__all__ = [
    "RollingWindows",
    "Windows",
    "check_window",
    "row_scores",
    "series_windows",
    "window_labels",
    "window_starts",
]
