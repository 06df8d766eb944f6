"""k-nearest-neighbours on raw inputs: the baseline every GAN detector must beat."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from historyad.detectors.base import BaseDetector


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
        self._scoring_train = True

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        flat = X.reshape(len(X), -1).cpu().numpy()
        k = self.n_neighbors
        dist, _ = self._index.kneighbors(flat, n_neighbors=k + 1)
        if getattr(self, "_scoring_train", False):
            # leave-self-out: drop the first neighbour at distance 0 (the sample itself)
            dist = dist[:, 1:]
        else:
            dist = dist[:, :k]
        score = dist[:, -1] if self.method == "largest" else dist.mean(axis=1)
        return torch.from_numpy(score)

    def fit(self, X: Any, y: Any = None) -> KNNDetector:
        super().fit(X, y)
        self._scoring_train = False
        return self

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {"train": torch.from_numpy(np.ascontiguousarray(self.train_))}

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.train_ = tensors["train"].numpy()
        self._index = NearestNeighbors(n_neighbors=self.n_neighbors + 1).fit(self.train_)
        self._scoring_train = False
