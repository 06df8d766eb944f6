"""Detectors that contrast the data with a trained generator through kNN densities.

Both train a WGAN-GP on the normal data (seed 001 Alg. 2), draw ``n_generated`` samples from
its final generator and compare, at a point x, three k-nearest-neighbour density scales
(``historyad.detectors.neighbors``; log r = −(1/d)·log p̂ up to a constant, higher = less
dense):

- ``log r_data(x)``: mean distance to the k nearest training rows;
- ``log r_gen(x)``: mean distance to the k_gen nearest generated samples (k_gen matched to the
  sample sizes);
- ``log r_local(x)``: the data's own scale around x (LOF's reference).

``DensityRatioDetector`` scores the generator density ratio, (1/d)·log(p̂_gen / p̂_data) =
log r_data − log r_gen: high where the generator puts mass the data do not have, the sign of
the optimum D*_TV of seed 000's eq. (11) with the final generator in place of the history
(RESULTS.md, "Which generator": the final generator did as well as or better than the
history). Far from both, that ratio tends to 0, so beyond the training range the excess
log distance is added: s = log r_data − log r_gen + max(0, log r_data − τ), τ = the largest
training log r_data; the score then grows with the distance and far outliers are flagged.

Series (N, C, T) are compared, by default (``series_view="spectrum"``), through their
per-channel log-amplitude spectra, log(1 + |rfft(x_c)| / T): a window's spectrum does not
change when the same motion or vibration starts a few steps earlier, while the raw values do
(kNN on raw windows calls two phases of one periodic signal far apart). The GAN is trained on
the raw windows; its samples go through the same transform. Chosen on the benchmark's
series sets (RESULTS.md, "Settings chosen on benchmark data"); ``series_view="raw"``
compares raw windows.

``DensityRatioEnsemble`` (the detector we recommend, registry name "recommended") averages
three log density ratios at x, all in the same units:

    s(x) = [ (log r_data − c) + (log r_data − log r_local) + (log r_data − log r_gen) ] / 3

a global kNN term (c = the training mean), a local LOF-style term and the generator
density-ratio term. Each covers a failure of the others: the kNN distance misses anomalies
inside sparse normal regions, the local ratio misses global outliers that sit beside sparse
normal regions, the generator term depends on the GAN's quality. ``score_components``
returns the three terms (explanations); ``decision_function`` their mean.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import torch

from historyad.config import Constraint, Interval, Options
from historyad.detectors.base import detector_params
from historyad.detectors.gan_base import GANDetector
from historyad.detectors.neighbors import (
    N_NEIGHBORS,
    NEIGHBOR_SEARCH,
    NeighbourDensities,
    check_enough_rows,
)

logger = logging.getLogger(__name__)

#: Generated samples per training row (the reference sample size), and the cap on them.
GENERATED_PER_ROW = 4
MAX_GENERATED = 200_000


def n_reference(n_data: int, n_generated: int | None) -> int:
    """The reference sample size: ``n_generated``, else 4 per training row capped at
    max(n_data, 200 000)."""
    if n_generated is not None:
        return int(n_generated)
    return int(min(GENERATED_PER_ROW * n_data, max(n_data, MAX_GENERATED)))


def series_spectrum(X: np.ndarray) -> np.ndarray:
    """(N, C·(T//2 + 1)) log(1 + |rfft(x_c)| / T) per channel of series X (N, C, T)."""
    amplitude = np.abs(np.fft.rfft(np.asarray(X, dtype=np.float64), axis=-1)) / X.shape[-1]
    return np.log1p(amplitude).reshape(len(X), -1).astype(np.float32)


def density_ratio_score(
    log_data: np.ndarray, log_gen: np.ndarray, tau: float
) -> np.ndarray:
    """(B,) log r_data − log r_gen + max(0, log r_data − τ): the generator density ratio
    (1/d)·log(p̂_gen / p̂_data), plus the excess log distance beyond the training range τ."""
    return log_data - log_gen + np.maximum(log_data - tau, 0.0)


def ensemble_components(
    log_data: np.ndarray, log_local: np.ndarray, log_gen: np.ndarray, centre: float
) -> dict[str, np.ndarray]:
    """The three log density ratios (B,) of ``DensityRatioEnsemble``: "global" (kNN, relative
    to the training mean ``centre``), "local" (LOF-style), "generator" (GAN density ratio)."""
    return {
        "global": log_data - centre,
        "local": log_data - log_local,
        "generator": log_data - log_gen,
    }


@detector_params
class _GeneratorContrast(GANDetector):
    """Shared parameters, fit, scoring and persistence of the generator-contrast detectors."""

    n_neighbors: int = 5  # k (PyOD's KNN default)
    n_generated: int | None = None  # None: 4 per training row (capped at 200 000)
    series_view: str = "spectrum"  # series compared by their spectra (module docstring)
    neighbor_search: str = "exact"  # historyad.detectors.search: "exact", "ivf", "hnsw", ...

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "n_neighbors": N_NEIGHBORS,
        "n_generated": Interval(int, ge=1, optional=True),
        "series_view": Options("spectrum", "raw"),
        "neighbor_search": NEIGHBOR_SEARCH,
    }

    def _min_training_rows(self) -> tuple[int, str]:
        return self.n_neighbors + 1, (
            f"n_neighbors={self.n_neighbors} and each row is left out of its own neighbours")

    def _fit_detector(self, X: torch.Tensor, run: Any) -> None:
        n = len(X)
        check_enough_rows(n, self.n_neighbors)
        m = n_reference(n, self.n_generated)
        generated = run.sample(m, seed=self._seed() + 3)  # (m, *input_shape)
        self.densities_ = self._densities(self._flat(X), self._flat(generated))
        self._set_constants()

    def _densities(self, data: np.ndarray, generated: np.ndarray) -> NeighbourDensities:
        return NeighbourDensities(data, generated, self.n_neighbors,
                                  search=self.neighbor_search, device=self.device)

    def _set_constants(self) -> None:
        d = self.densities_
        self.tau_ = float(d.train_log_data.max())
        self.centre_ = float(d.train_log_data.mean())

    def _flat(self, X: torch.Tensor) -> np.ndarray:
        """(B, D) rows compared by the kNN densities: flattened inputs, or the per-channel
        spectra of series (``series_view``)."""
        arr = X.detach().cpu().numpy()
        if arr.ndim == 3 and self.series_view == "spectrum":
            return series_spectrum(arr)
        return arr.reshape(len(arr), -1)

    def _terms(self, X: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log r_data, log r_local, log r_gen), each (B,), of a preprocessed batch."""
        flat = self._flat(X)
        d = self.densities_
        log_data, log_local = d.data_scales(flat)  # one search of the training rows
        return log_data, log_local, d.log_reference(flat)

    def _training_terms(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same for the training rows, each left out of its own data neighbours."""
        d = self.densities_
        log_gen = self._score_array(X, lambda b: torch.from_numpy(
            d.log_reference(self._flat(b))))
        return d.train_log_data, d.train_log_local, log_gen

    def _combine(self, log_data: np.ndarray, log_local: np.ndarray,
                 log_gen: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """Training scores: the test formula with each training row left out of its own data
        neighbours (as ``KNNDetector``), so they are not distorted by a zero self-distance."""
        return self._combine(*self._training_terms(X)).astype(np.float64)

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._combine(*self._terms(X)))  # (B,)

    # -- persistence -------------------------------------------------------------------
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        d = self.densities_
        return {"data": torch.from_numpy(d.data), "generated": torch.from_numpy(d.reference)}

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.latent_dim_ = int(meta["latent_dim"])
        self.densities_ = self._densities(tensors["data"].numpy(), tensors["generated"].numpy())
        self._set_constants()


class DensityRatioDetector(_GeneratorContrast):
    """Generator density-ratio detector: log r_data − log r_gen + max(0, log r_data − τ).

    ≈ (1/d)·log(p̂_gen(x) / p̂_data(x)) inside the training range (> 0 where the final
    generator puts mass the normal data do not have, the sign of seed 000's D*_TV), growing
    with the distance beyond it. Higher = more anomalous. Memory-based like kNN: keeps the N
    training rows and the ``n_generated`` samples (default 4 per row).

    Training scores leave each row out of its own data neighbours. Raises ValueError for
    parameters out of range (before training) and for fewer than ``n_neighbors + 1`` rows.
    """

    def _combine(self, log_data: np.ndarray, log_local: np.ndarray,
                 log_gen: np.ndarray) -> np.ndarray:
        return density_ratio_score(log_data, log_gen, self.tau_)


class DensityRatioEnsemble(_GeneratorContrast):
    """The recommended detector: the mean of three log density ratios at x.

    s(x) = mean of ``score_components(x)``: "global" log r_data − c (kNN), "local"
    log r_data − log r_local (LOF-style) and "generator" log r_data − log r_gen (GAN density
    ratio, final generator), all in log-distance units (−(1/d)·log density). Higher = more
    anomalous; it grows with the distance far from the data. Memory-based like kNN.

    Training scores leave each row out of its own data neighbours. Raises ValueError for
    parameters out of range (before training) and for fewer than ``n_neighbors + 1`` rows.
    """

    def _combine(self, log_data: np.ndarray, log_local: np.ndarray,
                 log_gen: np.ndarray) -> np.ndarray:
        parts = ensemble_components(log_data, log_local, log_gen, self.centre_)
        return (parts["global"] + parts["local"] + parts["generator"]) / 3.0

    def score_components(self, X: Any) -> dict[str, np.ndarray]:
        """The three terms (N,) each whose mean is ``decision_function(X)``: "global",
        "local", "generator" (log-distance units; higher = more anomalous)."""
        Xn = self._scoring_input(X)  # the input layer, as decision_function
        out: dict[str, list[np.ndarray]] = {"global": [], "local": [], "generator": []}
        for start in range(0, len(Xn), self.score_batch_size):
            batch = self._to_tensor(Xn[start : start + self.score_batch_size])
            parts = ensemble_components(*self._terms(batch), self.centre_)
            for key in out:
                out[key].append(parts[key])
        return {k: np.concatenate(v) for k, v in out.items()}
