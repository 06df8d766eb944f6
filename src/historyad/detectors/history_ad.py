"""HistoryAD (Chatillon & Ballester, "History-based anomaly detector: an adversarial
approach to anomaly detection", arXiv 1912.11843, "seed 000"; §3.3, §4.4): a total-variation
detector D_TV that separates the normal data from the generator's history P_Ghist.

Eq. (10),

    L(D) = E_data[D(x)] − E_hist[D(x̃)] + λ · E_(data+hist)/2[dist(D, [−1, 1])²],

is minimised pointwise by eq. (11): D* = sign(p_hist − p_data) + (p_hist − p_data) /
(λ (p_data + p_hist)), ≈ −1 where the data have more mass, ≈ +1 where the history has.

``HistoryAD()`` runs the paper's method: a WGAN-GP trained with Adam at a learning rate
decreasing from 5e-4 (§4.3) records 50 generator snapshots per epoch; P_Ghist draws a time t
with density ∝ 1[α, n_epochs]·e^(−βt) (eq. 13, α = 1, β = 3), then x = G_t(z) (case 2: half
the latents from the wider P_Z'); D_TV has the critic's architecture, starts from the
e^(−βt)-weighted average of the critic's weights (eq. 14, accumulated online during GAN
training) and is trained on eq. (10) with λ = 10. Its output is the score, ≈ −1 normal,
≈ +1 anomalous. ``train_dtv=False`` is the paper's "no training" variant (the averaged
critic scores directly).

Extensions, all options:

- ``estimator="knn"``: eq. (11)'s density ratio estimated with k-nearest-neighbour densities
  of the training data and samples of P_Ghist (``historyad.detectors.neighbors``): the
  score of ``DensityRatioDetector`` with the history in place of the final generator.
  β = 0 (a uniform history) by default for it. Memory-based like kNN.
- ``score="two-sided"``: how far the raw score falls outside the range it takes on the
  training normals, in either direction (``two_sided_score``). Eq. (11) pins D_TV only
  where the data or the history has mass; on an unseen class neither has, and there a
  network extrapolates to either side (on MNIST leave-one-digit-out some unseen digits get
  D_TV far *below* the normal data, RESULTS.md).

Measured (RESULTS.md): on unseen classes of real images the paper's D_TV ranks anomalies
below kNN on raw pixels; use ``DensityRatioEnsemble`` (registry name "recommended") there.
Far outliers: D_TV is bounded near ±1 by eq. (10)'s penalty only where it was trained, and
far from the data it extrapolates freely, so ``predict`` may call a far outlier normal
(tests/detectors/test_far_outliers.py documents this).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from tqdm.auto import tqdm

from historyad.config import (
    Constraint,
    DTVConfig,
    HistoryConfig,
    Interval,
    Options,
    default_of,
    plain,
)
from historyad.detectors.base import detector_params
from historyad.detectors.density_ratio import density_ratio_score, n_reference
from historyad.detectors.gan_base import GANDetector, prefixed
from historyad.detectors.inputs import InputValueError
from historyad.detectors.neighbors import N_NEIGHBORS, NeighbourDensities, check_enough_rows
from historyad.training import distributed

logger = logging.getLogger(__name__)


def interval_distance(d: torch.Tensor) -> torch.Tensor:
    """dist(d, [−1, 1]) elementwise: 0 inside the interval, the gap outside."""
    return torch.relu(d - 1.0) + torch.relu(-1.0 - d)


def dtv_loss(d_data: torch.Tensor, d_hist: torch.Tensor, lam: float) -> torch.Tensor:
    """Eq. (10): E_data[D] − E_hist[D] + λ·E_mix[dist(D, [−1, 1])²], mix = (data + hist)/2."""
    penalty = 0.5 * (
        interval_distance(d_data).pow(2).mean() + interval_distance(d_hist).pow(2).mean()
    )
    return d_data.mean() - d_hist.mean() + lam * penalty


def dtv_optimum(p_data: np.ndarray, p_hist: np.ndarray, lam: float) -> np.ndarray:
    """Closed-form pointwise minimiser of eq. (10), eq. (11): D* = D*_TV + Δ*.

    D*_TV = sign(p_hist − p_data) and Δ* = (p_hist − p_data) / (λ (p_data + p_hist)), i.e.
    D* = −1 − (p_data − p_hist)/(λ(p_data + p_hist)) where the data dominate, and
    D* = +1 + (p_hist − p_data)/(λ(p_data + p_hist)) where the history does.
    """
    p, q = np.asarray(p_data, dtype=float), np.asarray(p_hist, dtype=float)
    total = np.maximum(p + q, 1e-300)
    return np.sign(q - p) + (q - p) / (lam * total)


def score_reference(raw: np.ndarray, tail: float = 0.05) -> np.ndarray:
    """(3,) reference of ``two_sided_score``: the ``tail``, 0.5 and ``1 − tail`` quantiles of
    the raw scores of the training normals."""
    raw = np.asarray(raw, dtype=np.float64).reshape(-1)
    return np.quantile(raw, [tail, 0.5, 1.0 - tail])


def two_sided_score(raw: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Distance of raw scores (B,) from the training scores' median, in units of the upper
    tail (q_hi − median) above it and of the lower tail (median − q_lo) below it. ≈ 0 for
    typical normal data, 1 at the training 5 % / 95 % quantiles; higher = more anomalous."""
    lo, mid, hi = ref[0], ref[1], ref[2]
    up = (raw - mid) / (hi - mid).clamp_min(1e-12)
    down = (mid - raw) / (mid - lo).clamp_min(1e-12)
    return torch.where(raw >= mid, up, down)  # (B,)


def tv_estimate(d_data: torch.Tensor, d_hist: torch.Tensor) -> float:
    """TV(P_data, P_hist) ≥ (E_hist[D̄] − E_data[D̄]) / 2 with D̄ = clip(D, −1, 1)."""
    return float((d_hist.clamp(-1, 1).mean() - d_data.clamp(-1, 1).mean()) / 2)


@detector_params
class HistoryAD(GANDetector):
    """History-based anomaly detector (seed 000): D_TV, an estimate of eq. (11)'s optimum,
    ≈ −1 where the normal data dominate, ≈ +1 where the generator's history does.

    Defaults are the paper's (§4.3): ``estimator="network"``, α = 1, β = 3, 50 saves per
    epoch, λ = 10, WGAN-GP with Adam at a learning rate decreasing from 5e-4.
    Score (higher = more anomalous): ``score="dtv"`` (default) the raw D_TV output;
    ``score="two-sided"`` its distance from its range on the training normals, either side.
    ``estimator="knn"`` (our extension) estimates the optimum's sign with kNN densities.

    Far outliers: the network's raw D_TV is only trained near the data and the history and
    extrapolates freely beyond them, often *below* the normals, so ``predict`` can call a far
    outlier normal; ``score="two-sided"`` flags it.

    Data-parallel (torchrun, ``historyad.training.distributed``): inside a process group
    ``fit`` is a collective call, made on every rank with the same data; the GAN and D_TV
    train with DDP (global batch world_size × ``batch_size``), rank 0's history is shared
    with every rank, and every rank ends with the same fitted detector: call ``save`` on
    rank 0.

    Raises ValueError for parameters out of range (before any training), and
    FloatingPointError when D_TV's loss diverges.
    """

    needs_history = True
    wgan_gp_preset = "historyad"  # seed 000 §4.3: Adam, lr decreasing from 5e-4

    saves_per_epoch: int = default_of(HistoryConfig, "saves_per_epoch")  # 50, seed 000 §4.3
    alpha: float = default_of(HistoryConfig, "alpha")  # 1: window [α, n_epochs], §4.3
    beta: float | None = None  # e^(−βt); None: 3 for "network" (seed 000 §4.3), 0 for knn
    estimator: Literal["network", "knn"] = "network"  # seed 000's D_TV network
    n_neighbors: int = 5  # k of the knn estimator (PyOD's kNN default)
    n_history: int | None = None  # P_Ghist samples for knn; None: 4 per training row
    lam: float = default_of(DTVConfig, "lam")  # 10: λ of eq. (10), seed 000
    case: Literal[1, 2] = default_of(DTVConfig, "case")  # 1; 2: half the latents from P_Z'
    wide_std: float = default_of(DTVConfig, "wide_std")  # 2: std of P_Z' (case 2)
    train_dtv: bool = True  # False: seed 000's "no training" variant
    dtv_steps: int = default_of(DTVConfig, "dtv_steps")  # 1500
    dtv_lr: float = default_of(DTVConfig, "dtv_lr")  # 1e-4
    dtv_gp: float = default_of(DTVConfig, "dtv_gp")  # 0 = paper; D_TV gradient penalty
    dtv_noise: float = default_of(DTVConfig, "dtv_noise")  # 0 = paper; input noise std
    history_store: Literal["auto", "memory", "disk"] = default_of(HistoryConfig, "history_store")
    score: Literal["dtv", "two-sided"] = "dtv"  # seed 000's raw D_TV output

    # D_TV's parameters are DTVConfig's fields of the same names (``_dtv_config``) and take
    # their constraints; ``history_store`` is HistoryConfig's
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        "saves_per_epoch": HistoryConfig.constraints["saves_per_epoch"],
        "alpha": Interval(float, ge=0, lt="n_epochs"),  # the window [alpha, n_epochs]
        "beta": Interval(float, optional=True),
        "estimator": Options("network", "knn"),
        "n_neighbors": N_NEIGHBORS,
        "n_history": Interval(int, gt="n_neighbors", optional=True),
        "lam": DTVConfig.constraints["lam"],
        "case": DTVConfig.constraints["case"],
        "wide_std": DTVConfig.constraints["wide_std"],
        "train_dtv": Options(True, False),
        "dtv_steps": DTVConfig.constraints["dtv_steps"],
        "dtv_lr": DTVConfig.constraints["dtv_lr"],
        "dtv_gp": DTVConfig.constraints["dtv_gp"],
        "dtv_noise": DTVConfig.constraints["dtv_noise"],
        "history_store": HistoryConfig.constraints["history_store"],
        "score": Options("dtv", "two-sided"),
    }

    # -- configuration -----------------------------------------------------------------
    def _beta(self) -> float:
        """β of e^(−βt): the given value, else 3 for the network (seed 000 §4.3; it also
        weights the critic average of eq. 14) and 0 for knn (a uniform history, RESULTS.md)."""
        if self.beta is not None:
            return float(self.beta)
        return 3.0 if self.estimator == "network" else 0.0

    def _history_config(self) -> HistoryConfig:
        return HistoryConfig(
            saves_per_epoch=plain(self.saves_per_epoch),
            alpha=plain(self.alpha),
            beta=self._beta(),
            history_store=self.history_store,
        )

    def _dtv_config(self) -> DTVConfig:
        """D_TV's training and sampling settings (eq. 10) from this detector's parameters;
        D_TV's batches are the GAN's ``batch_size``."""
        return DTVConfig(**{k: plain(v) for k, v in dict(
            dtv_steps=self.dtv_steps,
            batch_size=self.batch_size,
            dtv_lr=self.dtv_lr,
            lam=self.lam,
            case=self.case,
            wide_std=self.wide_std,
            dtv_gp=self.dtv_gp,
            dtv_noise=self.dtv_noise,
        ).items()})

    # -- fitting -----------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        calibration: Any = None,
    ) -> HistoryAD:
        """Train the GAN (unless reused), then the estimator: sample the history and index
        it (knn), or train D_TV (network). With ``X_val``/``y_val`` (0/1, 1 = anomaly) the
        AUPRC along D_TV training is recorded in ``dtv_records_`` (seed 000 Fig. 5; network
        only); it is never used to choose the model. ``calibration``: as ``BaseDetector.fit``.
        ``X_val`` and ``y_val`` are checked with ``X`` (same per-sample shape, one 0/1 label
        per row, both classes) before any training."""
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val go together: pass both or neither")
        self._val = (X_val, y_val) if X_val is not None else None
        try:
            return super().fit(X, y, calibration=calibration)
        finally:
            self._val = None

    def _min_training_rows(self) -> tuple[int, str]:
        if self.estimator == "knn":
            return self.n_neighbors + 1, (
                f"n_neighbors={self.n_neighbors} and each row is left out of its own "
                "neighbours")
        return super()._min_training_rows()

    def _check_training_input(self, X: np.ndarray) -> None:
        """The GAN detectors' checks, then the validation set (checked like a scoring
        input against X) and a pre-trained GAN's history window."""
        super()._check_training_input(X)
        if getattr(self, "_val", None) is not None:
            Xv, yv = self._val
            Xv = self._scoring_input(Xv, name="X_val", fitted=False)
            yv = np.asarray(yv)
            if yv.ndim != 1 or len(yv) != len(Xv) or not np.isin(yv, (0, 1)).all() or \
                    len(np.unique(yv)) != 2:
                raise InputValueError(
                    f"y_val must hold one 0/1 label per row of X_val (1 = anomaly), both "
                    f"classes present; got shape {yv.shape} for {len(Xv)} rows of X_val")
            self._val = (Xv, yv.astype(int))
        run = getattr(self, "_pretrained_gan", None)
        if run is not None:
            hc, beta = run.history_config, self._beta()
            network = self.estimator == "network"
            if (network and abs(hc.beta - beta) > 1e-12) or hc.alpha > self.alpha + 1e-12:
                raise ValueError(
                    f"from_gan: the GAN's history was recorded with alpha={hc.alpha}, "
                    f"beta={hc.beta}, but this detector asks alpha={self.alpha}, beta={beta}; "
                    "the history starts at the recorded alpha, and the network's online "
                    "critic average (eq. 14) fixes beta"
                )

    def _fit_detector(self, X: torch.Tensor, run: Any) -> None:
        beta = self._beta()
        network = self.estimator == "network"
        self.dtv_records_: dict[str, list[float]] = {"step": [], "tv": [], "loss": []}
        cfg = self._dtv_config()
        distributed.share_history(distributed.current(), run)  # rank 0's history on every rank
        if not network:
            self._fit_knn(X, run.history_sampler(
                alpha=float(self.alpha), beta=beta, case=cfg.case, wide_std=cfg.wide_std))
            return
        dtv = self._build("critic")
        dtv.load_state_dict(run.critic_average())
        if self.train_dtv and cfg.dtv_steps > 0:
            sampler = run.history_sampler(
                alpha=float(self.alpha), beta=beta, case=cfg.case, wide_std=cfg.wide_std
            )
            self._train_dtv(dtv, X, sampler, cfg)
        self.dtv_ = dtv.eval()
        for p in self.dtv_.parameters():
            p.requires_grad_(False)

    def _fit_knn(self, X: torch.Tensor, sampler: Any) -> None:
        """kNN densities of the training data and of ``n_history`` samples of P_Ghist (the
        knn estimator of eq. 11's optimum; ``historyad.detectors.neighbors``)."""
        check_enough_rows(len(X), self.n_neighbors)
        n = n_reference(len(X), self.n_history)
        gen = torch.Generator(device="cpu").manual_seed(self._seed() + 1)
        rng = np.random.default_rng(self._seed() + 1)
        hist = sampler.sample(n, rng=rng, generator=gen)  # (n, *input_shape)
        self._index_knn(X.reshape(len(X), -1).cpu().numpy(), hist.reshape(n, -1).cpu().numpy())

    def _index_knn(self, data: np.ndarray, history: np.ndarray) -> None:
        self.densities_ = NeighbourDensities(data, history, self.n_neighbors)
        self.tau_ = float(self.densities_.train_log_data.max())

    def _raw(self, X: torch.Tensor) -> torch.Tensor:
        """Raw estimate (B,) of eq. (11)'s optimum for a preprocessed batch X (B, *shape):
        the D_TV network's output (≈ −1 normal, ≈ +1 anomalous), or the knn log density
        ratio of the history to the data (< 0 normal, > 0 anomalous; ``density_ratio_score``)."""
        if self.estimator == "network":
            return self.dtv_(X)
        flat = X.reshape(len(X), -1).cpu().numpy()
        d = self.densities_
        return torch.from_numpy(density_ratio_score(d.log_data(flat), d.log_reference(flat),
                                                    self.tau_)).float()

    def _train_dtv(
        self, dtv: torch.nn.Module, X: torch.Tensor, sampler: Any, cfg: DTVConfig
    ) -> None:
        """Minimise eq. (10) over D_TV for ``cfg.dtv_steps`` Adam steps on batches of the
        training data X (N, *shape) and of a refreshed pool of history samples.

        In a process group (``historyad.training.distributed``) the steps are data-parallel:
        each rank draws its own batches (rank 0 those of a single process), so the global
        batch is world_size × ``batch_size``; DDP averages D_TV's gradients, so its weights
        stay identical on every rank; the records are the mean over the ranks."""
        from historyad.training.losses import gradient_penalty

        par = distributed.current()
        seed = distributed.rank_seed(self._seed() + 1, par)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        rng = np.random.default_rng(seed)
        opt = torch.optim.Adam(dtv.parameters(), lr=cfg.dtv_lr, betas=cfg.betas)
        bs = min(cfg.batch_size, len(X))
        pool_size = min(cfg.dtv_steps * bs, max(20 * bs, 8192))
        pool, pool_pos = None, pool_size
        val = self._prepared_val()
        dtv.train()
        step_dtv = distributed.wrap_module(par, dtv)  # averages the gradients in a group
        for step in tqdm(range(1, cfg.dtv_steps + 1), desc="D_TV", unit="step", leave=False,
                         disable=not self.progress):
            if pool_pos + bs > pool_size:  # refresh the pool of history samples
                pool = sampler.sample(pool_size, rng=rng, generator=gen).to(X.device)
                pool_pos = 0
            x_hist = pool[pool_pos : pool_pos + bs]  # (B, *shape)
            pool_pos += bs
            idx = torch.randint(len(X), (bs,), generator=gen).to(X.device)
            x_data = X[idx]  # (B, *shape)
            if cfg.dtv_noise > 0:  # instance noise hides fine generator artefacts
                x_data = x_data + cfg.dtv_noise * torch.randn(
                    x_data.shape, generator=gen).to(X.device)
                x_hist = x_hist + cfg.dtv_noise * torch.randn(
                    x_hist.shape, generator=gen).to(X.device)
            d_data, d_hist = step_dtv(x_data), step_dtv(x_hist)  # (B,), (B,)
            loss = dtv_loss(d_data, d_hist, cfg.lam)
            if cfg.dtv_gp > 0:
                loss = loss + cfg.dtv_gp * gradient_penalty(step_dtv, x_data, x_hist,
                                                               generator=gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % 50 == 0 or step == cfg.dtv_steps:
                stats = torch.stack((loss.new_tensor(tv_estimate(d_data.detach(),
                                                                 d_hist.detach())),
                                     loss.detach()))  # (2,): TV estimate, loss
                tv, lo = distributed.mean_over_ranks(par, stats).tolist()  # mean over ranks
                self.dtv_records_["step"].append(step)
                self.dtv_records_["tv"].append(tv)
                self.dtv_records_["loss"].append(lo)
                if val is not None:
                    self._record_val(dtv, val, par)
        if not np.isfinite(self.dtv_records_["loss"][-1]):
            raise FloatingPointError(f"D_TV loss became non-finite; lower dtv_lr={cfg.dtv_lr}")

    def _prepared_val(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The validation set checked before training (``_check_training_input``)."""
        if getattr(self, "_val", None) is None:
            return None
        self.dtv_records_["auprc"] = []
        return self._val

    def _record_val(self, dtv: torch.nn.Module, val: tuple[np.ndarray, np.ndarray],
                    par: distributed.DataParallel | None = None) -> None:
        """Append D_TV's AUPRC (average precision, anomaly = positive) on the validation set
        (in a process group: rank 0's, sent to every rank); ValueError when its scores are
        not finite."""
        def main_auprc() -> float | None:
            Xv, yv = val
            was_training = dtv.training
            dtv.eval()
            s = self._score_array(Xv, dtv, name="X_val")  # (N_val,) raw D_TV, batched
            dtv.train(was_training)
            return float(average_precision_score(yv, s)) if np.isfinite(s).all() else None

        auprc = distributed.computed_on_main(par, main_auprc)  # rank 0 fails: every rank raises
        if auprc is None:  # every rank raises
            raise ValueError(f"D_TV gives non-finite scores on X_val at step "
                             f"{self.dtv_records_['step'][-1]}; lower dtv_lr={self.dtv_lr}")
        self.dtv_records_["auprc"].append(auprc)

    # -- scoring & persistence ---------------------------------------------------------
    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """One raw pass over the training normals gives both the two-sided score's
        reference and ``decision_scores_`` (``_from_raw``, as in ``_score``); the knn
        estimator leaves each training sample out of its own data neighbours."""
        if self.estimator == "knn":  # each training row left out of its own data neighbours
            d = self.densities_
            log_hist = self._score_array(X, lambda b: torch.from_numpy(
                d.log_reference(b.reshape(len(b), -1).cpu().numpy())))
            raw = density_ratio_score(d.train_log_data, log_hist, self.tau_).astype(np.float32)
        else:
            raw = self._score_array(X, self._raw).astype(np.float32)
        self.score_reference_ = score_reference(raw)
        return self._from_raw(torch.from_numpy(raw)).numpy().astype(np.float64)

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        return self._from_raw(self._raw(X))  # (B,)

    def _from_raw(self, raw: torch.Tensor) -> torch.Tensor:
        """The chosen score (B,) from raw D_TV outputs (B,); higher = more anomalous."""
        if self.score == "dtv":
            return raw
        ref = torch.as_tensor(self.score_reference_, dtype=raw.dtype, device=raw.device)
        return two_sided_score(raw, ref)  # (B,) ≈ 0 normal, ≫ 1 anomalous

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        ref = torch.as_tensor(self.score_reference_, dtype=torch.float64)
        if self.estimator == "knn":
            return {"knn.data": torch.from_numpy(self.densities_.data),
                    "knn.history": torch.from_numpy(self.densities_.reference),
                    "score_reference": ref}  # fmt: skip
        return {**prefixed("critic", self.dtv_), "score_reference": ref}

    def _extra_meta(self) -> dict[str, Any]:
        return {**super()._extra_meta(), "estimator": self.estimator}

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self._load_gan_meta(meta)
        # files written before the knn estimator existed hold a network and no "estimator"
        self.estimator = meta.get("estimator", "network")
        if self.estimator == "knn":
            self._index_knn(tensors["knn.data"].numpy(), tensors["knn.history"].numpy())
        else:
            self.dtv_ = self._restore("critic", tensors)
        if "score_reference" in tensors:
            self.score_reference_ = tensors["score_reference"].numpy()
        elif self.score == "two-sided":  # a file written before the two-sided score existed
            raise ValueError("this HistoryAD file has no score reference; score='two-sided' "
                             "needs a detector fitted (and saved) by historyad >= this version")
        else:
            self.score_reference_ = np.full(3, np.nan)
