"""k-nearest-neighbours on raw inputs: the baseline every GAN detector must beat."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from historyad.config import Constraint, Options
from historyad.detectors.base import BaseDetector, detector_params
from historyad.detectors.neighbors import N_NEIGHBORS, check_enough_rows


def neighbour_distances(
    index: NearestNeighbors, X: torch.Tensor, k: int, *, leave_self_out: bool = False
) -> np.ndarray:
    """(B, k) sorted distances of the rows of X (B, *shape), flattened, to their k nearest
    neighbours in ``index`` (fitted with at least k + 1 neighbours when ``leave_self_out``,
    which drops the first neighbour: a training sample itself, at distance 0)."""
    flat = X.reshape(len(X), -1).cpu().numpy()
    dist, _ = index.kneighbors(flat, n_neighbors=k + int(leave_self_out))
    return dist[:, 1:] if leave_self_out else dist  # (B, k)


@detector_params
class KNNDetector(BaseDetector):
    """Distance to the k-th nearest training sample (flattened inputs); higher = more anomalous.

    Training scores (``decision_scores_``) leave each training sample out of its own
    neighbourhood; otherwise every training score would be distorted by a zero self-distance.
    """

    n_neighbors: int = 5
    method: Literal["largest", "mean"] = "largest"  # PyOD's KNN default: "largest"

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "n_neighbors": N_NEIGHBORS,
        "method": Options("largest", "mean"),
    }

    def _min_training_rows(self) -> tuple[int, str]:
        return self.n_neighbors + 1, (
            f"n_neighbors={self.n_neighbors} and each row is left out of its own neighbours")

    def _fit(self, X: torch.Tensor) -> None:
        flat = X.reshape(len(X), -1).cpu().numpy()
        check_enough_rows(len(flat), self.n_neighbors)
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
