"""k-nearest-neighbours on raw inputs: the baseline every GAN detector must beat."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch

from historyad.config import Constraint, Options
from historyad.detectors.base import BaseDetector, detector_params
from historyad.detectors.neighbors import N_NEIGHBORS, NEIGHBOR_SEARCH, check_enough_rows
from historyad.detectors.search import CHUNK_ROWS, NeighbourIndex


@detector_params
class KNNDetector(BaseDetector):
    """Distance to the k-th nearest training sample (flattened inputs); higher = more anomalous.

    Training scores (``decision_scores_``) leave each training sample out of its own
    neighbourhood; otherwise every training score would be distorted by a zero self-distance.
    They come from one chunked leave-one-out search (``NeighbourIndex.search_self``), with
    no N × N matrix. ``neighbor_search`` picks the search (``historyad.detectors.search``):
    "exact" (default; FAISS brute force, a kd-tree in low dimension), "ivf" or "hnsw"
    (approximate FAISS indices) or "sklearn" (scikit-learn's, the former path).
    """

    #: rows per ``decision_function`` batch: one search chunk (FAISS is faster on 4096
    #: queries than on 1024; 4096 × 784 float32 inputs are 12 MB)
    score_batch_size: ClassVar[int] = CHUNK_ROWS

    n_neighbors: int = 5
    method: Literal["largest", "mean"] = "largest"  # PyOD's KNN default: "largest"
    neighbor_search: str = "exact"

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "n_neighbors": N_NEIGHBORS,
        "method": Options("largest", "mean"),
        "neighbor_search": NEIGHBOR_SEARCH,
    }

    def _min_training_rows(self) -> tuple[int, str]:
        return self.n_neighbors + 1, (
            f"n_neighbors={self.n_neighbors} and each row is left out of its own neighbours")

    def _fit(self, X: torch.Tensor) -> None:
        flat = X.reshape(len(X), -1).cpu().numpy()
        check_enough_rows(len(flat), self.n_neighbors)
        self._index = NeighbourIndex(flat, method=self.neighbor_search, device=self.device)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        # the index holds the preprocessed training rows: leave-one-out over them, chunked
        dist, _ = self._index.search_self(self.n_neighbors)  # (N, k)
        return self._reduce(dist).astype(np.float64)

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        flat = X.reshape(len(X), -1).cpu().numpy()
        dist, _ = self._index.search(flat, self.n_neighbors)  # (B, k)
        return torch.from_numpy(self._reduce(dist))

    def _reduce(self, dist: np.ndarray) -> np.ndarray:
        """(B,) score from sorted distances (B, k): the k-th, or the mean."""
        return dist[:, -1] if self.method == "largest" else dist.mean(axis=1)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {"train": torch.from_numpy(self._index.rows())}

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self._index = NeighbourIndex(tensors["train"].numpy(), method=self.neighbor_search,
                                     device=self.device)
