"""k-nearest-neighbours on raw inputs: the baseline every GAN detector must beat."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from historyad.detectors.base import BaseDetector


def neighbour_distances(
    index: NearestNeighbors, X: torch.Tensor, k: int, *, leave_self_out: bool = False
) -> np.ndarray:
    """(B, k) sorted distances of the rows of X (B, *shape), flattened, to their k nearest
    neighbours in ``index`` (fitted with at least k + 1 neighbours when ``leave_self_out``,
    which drops the first neighbour: a training sample itself, at distance 0)."""
    flat = X.reshape(len(X), -1).cpu().numpy()
    dist, _ = index.kneighbors(flat, n_neighbors=k + int(leave_self_out))
    return dist[:, 1:] if leave_self_out else dist  # (B, k)


class KNNDetector(BaseDetector):
    """Distance to the k-th nearest training sample (flattened inputs); higher = more anomalous.

    Training scores (``decision_scores_``) leave each training sample out of its own
    neighbourhood; otherwise every training score would be distorted by a zero self-distance.
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 5,
        method: Literal["largest", "mean"] = "largest",  # PyOD's KNN default: "largest"
        contamination: float = 0.05,
        standardize: str | bool = "auto",
        device: str = "cpu",
    ) -> None:
        self.n_neighbors = n_neighbors
        self.method = method
        self.contamination = contamination
        self.standardize = standardize
        self.device = device

    def _check_params(self) -> None:
        super()._check_params()
        if not (isinstance(self.n_neighbors, int) and self.n_neighbors >= 1):
            raise ValueError(f"n_neighbors={self.n_neighbors!r} is not allowed; use an int >= 1")
        if self.method not in ("largest", "mean"):
            raise ValueError(f"method={self.method!r} is not allowed; use 'largest' or 'mean'")

    def _fit(self, X: torch.Tensor) -> None:
        flat = X.reshape(len(X), -1).cpu().numpy()
        if len(flat) <= self.n_neighbors:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} needs more than {self.n_neighbors} training "
                f"samples; got {len(flat)}"
            )
        self.train_ = flat
        self._index = NearestNeighbors(n_neighbors=self.n_neighbors + 1).fit(flat)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        return self._score_array(X, lambda b: self._distance(b, leave_self_out=True))

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        return self._distance(X, leave_self_out=False)

    def _distance(self, X: torch.Tensor, *, leave_self_out: bool) -> torch.Tensor:
        """(B,) distance of each row of X (B, *input_shape) to its k nearest training rows;
        ``leave_self_out`` drops the first neighbour (the training sample itself, at 0)."""
        dist = neighbour_distances(self._index, X, self.n_neighbors,
                                   leave_self_out=leave_self_out)  # (B, k)
        score = dist[:, -1] if self.method == "largest" else dist.mean(axis=1)
        return torch.from_numpy(score)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {"train": torch.from_numpy(np.ascontiguousarray(self.train_))}

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.train_ = tensors["train"].numpy()
        self._index = NearestNeighbors(n_neighbors=self.n_neighbors + 1).fit(self.train_)
