"""Nearest-neighbour densities shared by the distance-based detectors.

One neighbour-search interface (scikit-learn's ``NearestNeighbors`` underneath) and the
k-nearest-neighbour density scales the detectors combine:

- ``log r_data(x)``: log of the mean distance from x to its k nearest training rows. With the
  kNN density p̂(x) ∝ k / (n · r(x)^d), ``log r`` is −(1/d)·log p̂ up to a constant: higher =
  less dense. Training rows leave themselves out.
- ``log r_ref(x)``: the same against a reference sample (the generator's samples, or the
  generator history's) of size n_ref = m · n_data, from matched order statistics: the mean of
  the distances at ranks ≈ m·j − (m − 1)/2, j = 1..k (in expectation the j-th neighbour
  among n samples lies there when there are m·n of them). A reference drawn from the data's own
  distribution then gives log r_ref ≈ log r_data whatever the dimension, with no
  (1/d)·log(n_data/n_ref) correction (which needs the intrinsic dimension and is wrong with
  the raw one: 784 for MNIST).
- ``log r_local(x)``: the mean of ``log r_data`` over x's k nearest training rows (their
  leave-one-out values): the local scale of the data around x, as in LOF (Breunig et al.,
  2000, "LOF: identifying density-based local outliers").

Distances are soft-floored, r̃ = sqrt(r² + h²) with h = 0.1 × the median training distance,
so that exact duplicates and ties give no cliffs (a duplicate of a training row scores like a
row at a tenth of the typical neighbour distance, not at log(0)).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from historyad.config import Interval

#: Soft floor on distances, as a fraction of the median training neighbour distance.
FLOOR_FRACTION = 0.1
#: The constraint on k (``n_neighbors``) of the detectors that count neighbours.
N_NEIGHBORS = Interval(int, ge=1)


def check_enough_rows(n_rows: int, k: int) -> None:
    """ValueError unless there are more than k training rows (each row leaves itself out of
    its own k neighbours)."""
    if n_rows <= k:
        raise ValueError(
            f"n_neighbors={k} needs more than {k} training samples; got {n_rows}"
        )


def nearest(
    index: NearestNeighbors, X: np.ndarray, k: int, *, leave_self_out: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices (B, k) of the k nearest rows of ``index`` to each row of X (B, d).

    ``leave_self_out``: the rows of X are the index's own rows in order (X[i] is row i); row i
    is removed from its own neighbours (when a duplicate comes first, row i itself is removed,
    not the duplicate), so duplicates keep their zero distances."""
    if not leave_self_out:
        return index.kneighbors(X, n_neighbors=k)
    dist, idx = index.kneighbors(X, n_neighbors=k + 1)  # (B, k + 1)
    rows = np.arange(len(X))[:, None]
    is_self = idx == rows
    # drop the entry that is the row itself; if absent (k + 1 duplicates), drop the last
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(len(X)), drop] = False
    return dist[keep].reshape(len(X), k), idx[keep].reshape(len(X), k)


def soft_log(r: np.ndarray, floor: float) -> np.ndarray:
    """log sqrt(r² + floor²), elementwise, float64."""
    r = np.asarray(r, dtype=np.float64)
    return 0.5 * np.log(r * r + floor * floor)


def matched_ranks(k: int, n_data: int, n_ref: int) -> np.ndarray:
    """(k,) 0-based neighbour ranks in a reference sample of size n_ref = m · n_data matched
    to ranks 1..k among n_data rows of the same law: the centre of each block of m ranks,
    round(j·m − (m − 1)/2) − 1 for j = 1..k (the j-th neighbour among n rows lies, in
    expectation, where the (j·m − (m − 1)/2)-th among m·n does), kept within [0, n_ref − 1]
    and strictly increasing where n_ref allows."""
    ratio = n_ref / n_data
    centre = np.arange(1, k + 1) * ratio - (ratio - 1.0) / 2  # 1-based, block centres
    ranks = np.maximum(np.floor(centre + 0.5).astype(np.int64) - 1, 0)
    if n_ref >= k:  # distinct ranks when the reference is large enough
        ranks = np.maximum.accumulate(np.maximum(ranks, np.arange(k)))
    return np.minimum(ranks, n_ref - 1)


class NeighbourDensities:
    """kNN density scales of a data set and (optionally) a reference sample.

    Args:
        data: (N, d) training rows (flattened, preprocessed).
        reference: (M, d) reference samples, or None.
        n_neighbors: k for the data (the reference's ranks are matched to M / N).

    Fitted attributes: ``floor`` (the soft floor h); ``train_log_data`` and
    ``train_log_local`` (N,): the training rows' own scales, each row left out of its own
    neighbours (the training-score counterpart of ``log_data`` / ``log_local``).
    """

    def __init__(self, data: np.ndarray, reference: np.ndarray | None, n_neighbors: int) -> None:
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.reference = (
            None if reference is None else np.ascontiguousarray(reference, dtype=np.float32)
        )
        self.k = int(n_neighbors)
        check_enough_rows(len(self.data), self.k)
        self._data_index = NearestNeighbors(n_neighbors=self.k + 1).fit(self.data)
        self._ref_index = None
        self.ref_ranks = np.zeros(0, dtype=np.int64)
        if self.reference is not None:
            self.ref_ranks = matched_ranks(self.k, len(self.data), len(self.reference))
            self._ref_index = NearestNeighbors(n_neighbors=int(self.ref_ranks[-1]) + 1).fit(
                self.reference)
        dist, idx = nearest(self._data_index, self.data, self.k, leave_self_out=True)
        mean = dist.mean(axis=1)  # (N,)
        positive = mean[mean > 0]
        self.floor = float(FLOOR_FRACTION * np.median(positive)) if len(positive) else 1.0
        self.train_log_data = soft_log(mean, self.floor)  # (N,)
        self.train_log_local = self.train_log_data[idx].mean(axis=1)  # (N,)

    # -- the three scales of new rows X (B, d) -> (B,) ---------------------------------
    def log_data(self, X: np.ndarray) -> np.ndarray:
        """log r̃_data (B,): mean distance to the k nearest training rows."""
        dist, _ = nearest(self._data_index, X, self.k)
        return soft_log(dist.mean(axis=1), self.floor)

    def log_reference(self, X: np.ndarray) -> np.ndarray:
        """log r̃_ref (B,): mean distance to the reference samples at the matched ranks."""
        if self._ref_index is None:
            raise ValueError("no reference sample was given")
        dist, _ = nearest(self._ref_index, X, int(self.ref_ranks[-1]) + 1)
        return soft_log(dist[:, self.ref_ranks].mean(axis=1), self.floor)

    def log_local(self, X: np.ndarray) -> np.ndarray:
        """log r̃_local (B,): the mean training ``log r̃_data`` of x's k nearest training rows
        (the data's own scale around x, LOF's reference)."""
        _, idx = nearest(self._data_index, X, self.k)
        return self.train_log_data[idx].mean(axis=1)
