"""Windows of a series and per-row scores (``protocols.rolling``): the definition by hand, the
tail window, and a stream in any chunks giving the batch scores exactly; the event-level
range-based metrics in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from historyad.evaluation.metrics import label_ranges, range_precision_recall
from historyad.protocols.rolling import (
    RollingWindows,
    row_scores,
    series_windows,
    window_labels,
)


def _sum_score(windows: np.ndarray) -> np.ndarray:
    return windows.reshape(len(windows), -1).sum(axis=1).astype(np.float64)


def test_windows_are_channels_first_and_scores_average_the_covering_windows():
    rows = np.arange(14, dtype=np.float32).reshape(7, 2)  # T=7, C=2
    X, starts = series_windows(rows, window=3, stride=2)
    assert X.shape == (3, 2, 3) and starts.tolist() == [0, 2, 4]
    np.testing.assert_array_equal(X[1], rows[2:5].T)
    first_score = lambda w: w[:, 0, 0].astype(np.float64)  # noqa: E731  the window's first row
    scores, windows = row_scores(rows, first_score, window=3, stride=2)
    # windows start at rows 0, 2, 4 (scores 0, 4, 8); row 2 is in windows 0 and 2: (0+4)/2
    np.testing.assert_allclose(scores, [0, 0, 2, 4, 6, 8, 8])
    assert windows.starts.tolist() == [0, 2, 4] and len(scores) == len(rows)


def test_rows_after_the_last_regular_window_take_the_tail_window():
    rows = np.arange(8, dtype=np.float32)[:, None]  # T=8, W=3, S=3: windows at 0, 3; tail 5
    first_score = lambda w: w[:, 0, 0].astype(np.float64)  # noqa: E731
    scores, windows = row_scores(rows, first_score, window=3, stride=3)
    np.testing.assert_allclose(scores, [0, 0, 0, 3, 3, 3, 5, 5])
    assert windows.starts.tolist() == [0, 3, 5]
    with pytest.raises(ValueError, match="has 2 rows; --window 3 needs at least 3"):
        row_scores(rows[:2], first_score, window=3, stride=1)


def test_window_labels_flag_any_anomalous_row():
    labels = np.array([0, 0, 0, 1, 0, 0])
    assert window_labels(labels, np.array([0, 1, 2, 3]), 2).tolist() == [0, 0, 1, 1]


@settings(max_examples=40, deadline=None)
@given(T=st.integers(5, 60), W=st.integers(1, 5), S=st.integers(1, 5), seed=st.integers(0, 99),
       cuts=st.lists(st.integers(1, 20), min_size=1, max_size=8))
def test_a_stream_in_any_chunks_equals_the_batch(T, W, S, seed, cuts):
    S = min(S, W)
    rows = np.random.default_rng(seed).normal(size=(T, 3)).astype(np.float32)
    batch, _ = row_scores(rows, _sum_score, window=W, stride=S)
    roll = RollingWindows(_sum_score, window=W, stride=S)
    out, pos, i = [], 0, 0
    while pos < T:
        n = cuts[i % len(cuts)]
        first, scores, _ = roll.push(rows[pos:pos + n])
        assert first == sum(len(o) for o in out)  # rows come out in order, none skipped
        out.append(scores)
        pos, i = pos + n, i + 1
        # a row is written once its last window is complete, no later
        assert roll._first <= pos and len(roll._buf) <= W + n
    out.append(roll.finish()[1])
    np.testing.assert_array_equal(np.concatenate(out), batch)


def test_range_based_precision_and_recall_in_closed_form():
    y = np.array([0, 1, 1, 1, 1, 0, 0, 0, 0, 0])  # one event, rows 1..4
    assert label_ranges(y) == [(1, 5)]
    # one predicted event, rows 3..5: overlap 2 of 4 real rows, 2 of 3 predicted rows
    p, r, f1 = range_precision_recall(y, np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 0]))
    assert (p, r) == pytest.approx((2 / 3, 1 / 2)) and f1 == pytest.approx(4 / 7)
    # two predicted fragments inside the event: cardinality 1/2 on the recall side
    frag = np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    assert range_precision_recall(y, frag)[:2] == pytest.approx((1.0, 0.5 * 2 / 4))
    # alpha = 0.5 rewards finding the event at all: 0.5·1 + 0.5·0.25
    assert range_precision_recall(y, frag, alpha=0.5)[1] == pytest.approx(0.625)
    # a false event halves the precision; nothing predicted: all 0
    extra = frag.copy()
    extra[8] = 1
    assert range_precision_recall(y, extra)[0] == pytest.approx(2 / 3)
    assert range_precision_recall(y, np.zeros(10, int)) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="no anomalous step"):
        range_precision_recall(np.zeros(4, int), np.ones(4, int))
