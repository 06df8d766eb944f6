"""AUROC / AUPRC against hand-computed values, and input validation."""

from __future__ import annotations

import numpy as np
import pytest

from historyad.evaluation import auprc, auroc, pr_curve, roc_curve


def test_perfect_and_reversed_ranking():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.7])
    assert auroc(y, s) == 1.0 and auprc(y, s) == 1.0
    assert auroc(y, -s) == 0.0
    # reversed: anomalies ranked 4th, 5th, 6th → AP = (1/4 + 2/5 + 3/6) / 3
    assert auprc(y, -s) == pytest.approx((1 / 4 + 2 / 5 + 3 / 6) / 3)


def test_four_samples_by_hand():
    y = [1, 0, 1, 0]
    s = [0.9, 0.8, 0.3, 0.1]
    # AUROC: pairs (anomaly, normal) ranked right: (0.9 > 0.8), (0.9 > 0.1), (0.3 > 0.1) = 3 / 4
    assert auroc(y, s) == pytest.approx(0.75)
    # AP: recall 1/2 at precision 1/1, recall 2/2 at precision 2/3 → 0.5·1 + 0.5·2/3
    assert auprc(y, s) == pytest.approx(0.5 + 1 / 3)


def test_ties_count_half():
    assert auroc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert auprc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert auroc(np.array([True, False]), np.array([2, 1])) == 1.0  # bool labels, int scores


def test_curves():
    y, s = [1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]
    fpr, tpr, thr = roc_curve(y, s)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    assert np.isinf(thr[0]) and thr[1] == 0.9
    precision, recall, thr = pr_curve(y, s)
    assert precision[-1] == 1 and recall[-1] == 0
    assert len(precision) == len(recall) == len(thr) + 1
    assert recall[0] == 1 and precision[np.flatnonzero(recall == 1)].max() == pytest.approx(2 / 3)


@pytest.mark.parametrize("fn", [auroc, auprc, pr_curve, roc_curve])
@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([0, 1, 1], [0.1, 0.2], "3 labels but scores has 2 values"),
        ([1, 1, 1], [0.1, 0.2, 0.3], r"only anomalies \(1\)"),
        ([0, 0], [0.1, 0.2], r"only normal samples \(0\)"),
        ([0, 2], [0.1, 0.2], "allowed are 0 .normal. and 1"),
        ([0, 1], [0.1, np.nan], "non-finite values .NaN, first at index 1"),
        ([0, 1], [np.inf, 0.2], "infinite"),
        ([], [], "empty"),
        ([[0, 1]], [[0.1, 0.2]], "1-D"),
        ([0, 1], ["a", "b"], "real numbers"),
    ],
)
def test_validation(fn, y, s, message: str):
    with pytest.raises(ValueError, match=message):
        fn(y, s)
