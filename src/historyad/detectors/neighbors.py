"""Nearest-neighbour densities shared by the distance-based detectors.

The neighbour searches go through one interface, ``historyad.detectors.search.NeighbourIndex``
(FAISS; exact by default, ``search="ivf"`` / ``"hnsw"`` approximate), and give the
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

from historyad.config import Interval, Options
from historyad.detectors.search import SEARCH_METHODS, NeighbourIndex

#: Soft floor on distances, as a fraction of the median training neighbour distance.
FLOOR_FRACTION = 0.1
#: The constraint on k (``n_neighbors``) of the detectors that count neighbours.
N_NEIGHBORS = Interval(int, ge=1)
#: The constraint on ``neighbor_search`` (``historyad.detectors.search``): "exact" (FAISS
#: brute force, or a kd-tree in low dimension), "ivf" / "hnsw" (approximate, FAISS) or
#: "sklearn" (scikit-learn's search, the former path, for comparisons).
NEIGHBOR_SEARCH = Options(*SEARCH_METHODS)


def check_enough_rows(n_rows: int, k: int) -> None:
    """ValueError unless there are more than k training rows (each row leaves itself out of
    its own k neighbours)."""
    if n_rows <= k:
        raise ValueError(
            f"n_neighbors={k} needs more than {k} training samples; got {n_rows}"
        )


def nearest(
    index: NeighbourIndex, X: np.ndarray | None, k: int, *, leave_self_out: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices (B, k) of the k nearest rows of ``index`` to each row of X (B, d).

    ``leave_self_out``: the queries are the index's own rows (X is ignored and may be None);
    each row is removed from its own neighbours (when duplicates come first, the row itself
    is removed, not a duplicate, so duplicates keep their zero distances)."""
    if leave_self_out:
        return index.search_self(k)
    return index.search(X, k)


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
        search: the neighbour search (``NeighbourIndex``'s ``method``): "exact" by default.
        device: FAISS searches on a CUDA device when FAISS has a GPU build.

    Fitted attributes: ``floor`` (the soft floor h); ``train_log_data`` and
    ``train_log_local`` (N,): the training rows' own scales, each row left out of its own
    neighbours (the training-score counterpart of ``log_data`` / ``log_local``).
    """

    def __init__(self, data: np.ndarray, reference: np.ndarray | None, n_neighbors: int,
                 *, search: str = "exact", device: str = "cpu") -> None:
        self.k = int(n_neighbors)
        check_enough_rows(len(data), self.k)
        self._data_index = NeighbourIndex(data, method=search, device=device)
        self._ref_index: NeighbourIndex | None = None
        self.ref_ranks = np.zeros(0, dtype=np.int64)
        if reference is not None:
            self.ref_ranks = matched_ranks(self.k, len(data), len(reference))
            self._ref_index = NeighbourIndex(reference, method=search, device=device)
        dist, idx = self._data_index.search_self(self.k)  # chunked, no N × N matrix
        mean = dist.mean(axis=1)  # (N,)
        positive = mean[mean > 0]
        self.floor = float(FLOOR_FRACTION * np.median(positive)) if len(positive) else 1.0
        self.train_log_data = soft_log(mean, self.floor)  # (N,)
        self.train_log_local = self.train_log_data[idx].mean(axis=1)  # (N,)

    @property
    def data(self) -> np.ndarray:
        """(N, d) float32 copy of the training rows."""
        return self._data_index.rows()

    @property
    def reference(self) -> np.ndarray | None:
        """(M, d) float32 copy of the reference samples, or None."""
        return None if self._ref_index is None else self._ref_index.rows()

    # -- the three scales of new rows X (B, d) -> (B,) ---------------------------------
    def log_data(self, X: np.ndarray) -> np.ndarray:
        """log r̃_data (B,): mean distance to the k nearest training rows."""
        dist, _ = self._data_index.search(X, self.k)
        return soft_log(dist.mean(axis=1), self.floor)

    def data_scales(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(``log_data(X)``, ``log_local(X)``) from one search of the training rows."""
        dist, idx = self._data_index.search(X, self.k)
        return soft_log(dist.mean(axis=1), self.floor), self.train_log_data[idx].mean(axis=1)

    def log_reference(self, X: np.ndarray) -> np.ndarray:
        """log r̃_ref (B,): mean distance to the reference samples at the matched ranks."""
        if self._ref_index is None:
            raise ValueError("no reference sample was given")
        dist, _ = self._ref_index.search(X, int(self.ref_ranks[-1]) + 1)
        return soft_log(dist[:, self.ref_ranks].mean(axis=1), self.floor)

    def log_local(self, X: np.ndarray) -> np.ndarray:
        """log r̃_local (B,): the mean training ``log r̃_data`` of x's k nearest training rows
        (the data's own scale around x, LOF's reference)."""
        _, idx = self._data_index.search(X, self.k)
        return self.train_log_data[idx].mean(axis=1)
