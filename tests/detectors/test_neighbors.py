"""kNN density scales: hand-checked values, matched ranks, the soundness of the density ratio
(sample sizes in high dimension, duplicates), the local scale."""

from __future__ import annotations

import numpy as np
import pytest

from historyad.detectors.neighbors import (
    NeighbourDensities,
    matched_ranks,
    nearest,
    soft_log,
)
from historyad.detectors.search import NeighbourIndex


@pytest.mark.parametrize("method", ["exact", "sklearn"])
def test_nearest_leaves_the_row_itself_out_even_behind_a_duplicate(method: str) -> None:
    data = np.array([[0.0], [0.0], [1.0], [3.0]])  # rows 0 and 1 are duplicates
    index = NeighbourIndex(data, method=method)
    dist, idx = nearest(index, None, 2, leave_self_out=True)
    # row 0: its duplicate (distance 0) and row 2 (1); row 3: rows 2 (2) and 0/1 (3)
    np.testing.assert_allclose(dist, [[0.0, 1.0], [0.0, 1.0], [1.0, 1.0], [2.0, 3.0]])
    assert [int(idx[0, 0]), int(idx[1, 0])] == [1, 0]  # the duplicate kept, the row dropped
    assert not (idx == np.arange(4)[:, None]).any()


def test_soft_log_by_hand() -> None:
    np.testing.assert_allclose(soft_log(np.array([0.0, 3.0]), 4.0), [np.log(4.0), np.log(5.0)])


def test_matched_ranks_by_hand() -> None:
    # m = 4: the block centres 2.5, 6.5, ... rounded (1-based 3, 7, 11) -> 0-based 2, 6, 10
    np.testing.assert_array_equal(matched_ranks(3, 100, 400), [2, 6, 10])
    np.testing.assert_array_equal(matched_ranks(4, 50, 50), [0, 1, 2, 3])  # m = 1: the same
    assert matched_ranks(5, 100, 2).max() <= 1  # never beyond the reference


def _manifold_law(d_intrinsic: int, dim: int, seed: int):
    """Samples on a d_intrinsic-dimensional curved manifold in R^dim (like images)."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d_intrinsic, dim))
    return lambda n: np.tanh(rng.normal(size=(n, d_intrinsic)) @ A / 3).astype(np.float32)


@pytest.mark.parametrize("d_intrinsic", [3, 10])
def test_reference_from_the_data_law_gives_a_median_ratio_of_zero(d_intrinsic: int) -> None:
    """Item 2 of the line-up issue: with the reference drawn from the data's own law and
    n_ref = 4N, normal points score ≈ 0 (half on each side). The former correction
    log(n_data / n_ref) / d with the raw d = 100 leaves log(4)/d_intrinsic ≈ 0.46 (d = 3):
    98 % of normals on the anomalous side."""
    law = _manifold_law(d_intrinsic, 100, seed=d_intrinsic)
    X, reference, fresh = law(2000), law(8000), law(2000)
    nd = NeighbourDensities(X, reference, 5)
    ratio = nd.log_data(fresh) - nd.log_reference(fresh)
    assert abs(np.median(ratio)) < 0.03, np.median(ratio)
    assert 0.4 < np.mean(ratio > 0) < 0.6
    train_ratio = nd.train_log_data - nd.log_reference(X)
    assert abs(np.median(train_ratio)) < 0.03


def test_ratio_estimates_the_log_density_ratio_in_1d() -> None:
    """(1/d)·log(p_ref / p_data) with d = 1: data N(0, 1), reference N(0, 2²)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 1))
    ref = 2.0 * rng.normal(size=(80_000, 1))
    nd = NeighbourDensities(X, ref, 200)  # noise ~ 1/sqrt(k)
    grid = np.linspace(-2.5, 2.5, 51)[:, None]
    est = nd.log_data(grid) - nd.log_reference(grid)
    exact = np.log(0.5) + 3 * grid[:, 0] ** 2 / 8  # log q − log p
    err = np.abs(est - exact)  # measured: mean 0.08 (the ratio spans −0.69 … 1.65)
    assert np.mean(err) < 0.12
    clear = np.abs(exact) > 0.3
    assert np.all(np.sign(est[clear]) == np.sign(exact[clear]))


def test_duplicates_and_ties_give_no_cliffs() -> None:
    """A binary table is full of exact duplicates and tied distances: every scale stays
    finite and within a few units, and a duplicate of a training row scores like a row a
    hair away from it (the old 1e-12 floor put duplicates at log(1e-12) = −27.6)."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(400, 6)).astype(np.float32)  # 64 distinct rows
    ref = rng.normal(0.5, 0.5, size=(1600, 6)).astype(np.float32)
    nd = NeighbourDensities(X, ref, 5)
    ratio = nd.train_log_data - nd.log_reference(X)
    assert np.isfinite(ratio).all() and np.ptp(ratio) < 5.0
    dup, nudged = X[:1], X[:1] + 1e-6
    assert abs(nd.log_data(dup)[0] - nd.log_data(nudged)[0]) < 1e-3
    assert nd.log_data(dup)[0] > np.log(nd.floor) - 1e-9  # the floor, not log(0)
    assert len(np.unique(np.round(ratio, 6))) > 20  # not a handful of score values


def test_local_scale_is_the_mean_over_the_neighbours() -> None:
    X = np.array([[0.0], [1.0], [2.0], [10.0], [12.0]])
    nd = NeighbourDensities(X, None, 1)
    # leave-one-out nearest distances: 1, 1, 1, 2, 2; floor = 0.1 × median(1) = 0.1
    np.testing.assert_allclose(nd.train_log_data, soft_log(np.array([1, 1, 1, 2, 2.0]), 0.1))
    # x = 11.5: its nearest training row is 12 (own scale log 2.0025); its distance 0.5
    np.testing.assert_allclose(nd.log_local(np.array([[11.5]])), soft_log(np.array([2.0]), 0.1))
    np.testing.assert_allclose(nd.log_data(np.array([[11.5]])), soft_log(np.array([0.5]), 0.1))
    with pytest.raises(ValueError, match="no reference"):
        nd.log_reference(X)


def test_too_few_rows_are_refused() -> None:
    with pytest.raises(ValueError, match="n_neighbors=5 needs more than 5 training samples"):
        NeighbourDensities(np.zeros((5, 2)), None, 5)
