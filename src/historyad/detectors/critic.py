"""CriticDetector (seed 001 §5.1): the WGAN critic's output is the anomaly score."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch

from historyad.config import Constraint, Options
from historyad.detectors.base import detector_params
from historyad.detectors.gan_base import GANDetector, frozen_copy, prefixed


@detector_params
class CriticDetector(GANDetector):
    """Score = D(x), the trained critic's output.

    Our critics are trained to be low on real data and high on generated data (the optimal
    dual variable is negative on real data, seed 001 §5.1), so higher = more anomalous where
    the generator put mass. ``threshold_mode="interval"`` (default) gives seed 001's
    confidence interval: a sample is an anomaly when its score falls outside [min, max] of
    the training scores (``threshold_low_``, ``threshold_``); ``"quantile"`` uses
    ``contamination`` on one side.

    Far outliers: a critic is only trained near the data and the generator; far away it
    extrapolates linearly, often *below* the normal scores (a shifted cluster can rank under
    the normals). The interval rule of ``predict`` still flags such points, but the raw
    ``decision_function`` does not rank them high; the recommended detector does not use it.
    """

    threshold_mode: Literal["quantile", "interval"] = "interval"  # seed 001 §5.1

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "threshold_mode": Options("quantile", "interval"),
    }

    def _set_threshold(self) -> None:
        """Interval mode: [threshold_low_, threshold_] = [min, max] of the training scores."""
        if self.threshold_mode != "interval":
            super()._set_threshold()
            return
        self.threshold_low_ = float(np.min(self.decision_scores_))
        self.threshold_ = float(np.max(self.decision_scores_))

    def _flag(self, scores: np.ndarray) -> np.ndarray:
        """0/1; in interval mode 1 when the score is outside [threshold_low_, threshold_]."""
        s = np.asarray(scores)
        if self.threshold_mode == "interval":
            return ((s > self.threshold_) | (s < self.threshold_low_)).astype(np.int64)
        return (s > self.threshold_).astype(np.int64)

    def _two_sided(self) -> bool:
        """Interval mode: both tails are anomalous, so are the p-values' alternatives."""
        return self.threshold_mode == "interval"

    def _fit_detector(self, X: torch.Tensor, run: Any) -> None:
        self.critic_ = frozen_copy(run.critic).to(self._device)

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        return self.critic_(X)  # (B,)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return prefixed("critic", self.critic_)

    def _extra_meta(self) -> dict[str, Any]:
        extra = super()._extra_meta()
        if self.threshold_mode == "interval":
            extra["threshold_low"] = self.threshold_low_
        return extra

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self._load_gan_meta(meta)
        self.critic_ = self._restore("critic", tensors)
        if "threshold_low" in meta:
            self.threshold_low_ = float(meta["threshold_low"])
