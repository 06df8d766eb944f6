"""HistoryAD (seed 000 §3.3, §4.4): a total-variation detector D_TV trained to separate the
normal data from the generator's history P_Ghist.

D_TV has the critic's architecture and starts from the e^(−βt)-weighted average of the
critic's weights over [α, n_epochs] (eq. 14, computed online during GAN training). It then
minimises eq. (10):

    L(D) = E_data[D(x)] − E_hist[D(x̃)] + λ · E_(data+hist)/2[dist(D, [−1, 1])²]

so D_TV ≈ −1 on normal data and ≈ +1 where the history has more mass than the data.
``train_dtv=False`` is the paper's "no training" variant: the averaged critic scores directly.

Scores. ``score="dtv"`` (default) is the paper's: the D_TV output itself (higher = more
anomalous). ``score="two-sided"`` (our extension) measures how far D_TV(x) falls outside
the range D_TV takes on the training normals, in either direction (``two_sided_score``).
Eq. (11) pins D_TV only where the data or the history has mass; on an unseen class neither
has, and there the network extrapolates to either side: on MNIST leave-one-digit-out some
unseen digits get D_TV far *below* the normal data (raw-score AUROC 0.13 for digit 1, see
RESULTS.md). An output outside the training interval on either side is anomalous, which is
also seed 001's confidence-interval rule for the critic. It raised the ten-digit MNIST mean
AUPRC from 0.394 to 0.462 but lowered MNIST-vs-KMNIST, gaussian noise and the 8×8 digits
demo, where anomalies lie above the normals: hence not the default.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import torch

from historyad.config import DTVConfig, HistoryConfig
from historyad.detectors.gan_base import GANDetector, prefixed

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


class HistoryAD(GANDetector):
    """History-based anomaly detector on D_TV(x) (≈ −1 normal, ≈ +1 anomalous).

    Score (higher = more anomalous): ``score="dtv"`` (default, seed 000) D_TV(x) itself;
    ``score="two-sided"`` the distance of D_TV(x) from D_TV's range on the training normals,
    either side.
    """

    needs_history = True

    def __init__(
        self,
        *,
        loss: str = "wgan-gp",
        n_epochs: float = 5.0,
        batch_size: int = 64,
        n_critic: int = 5,
        gp_lambda: float = 10.0,
        gan_lr: float = 1e-4,
        net_size: str = "cpu",
        width: int | None = None,
        latent_dim: int | None = None,
        saves_per_epoch: int = 50,  # seed 000 §4.3
        alpha: float = 1.0,  # history window start [α, n_epochs] (seed 000 §4.3)
        beta: float = 3.0,  # time weight e^(−βt) (seed 000 §4.3)
        lam: float = 10.0,  # λ of eq. (10), seed 000
        case: Literal[1, 2] = 1,  # 2: half the latents from the wider P_Z'
        wide_std: float = 2.0,  # std of P_Z' (case 2)
        train_dtv: bool = True,  # False: seed 000's "no training" variant
        dtv_steps: int = 1500,
        dtv_lr: float = 1e-4,
        dtv_gp: float = 0.0,  # gradient penalty on D_TV (our extension; 0 = paper)
        dtv_noise: float = 0.0,  # instance-noise std on D_TV's inputs (our extension; 0 = paper)
        history_store: Literal["auto", "memory", "disk"] = "auto",
        score: Literal["dtv", "two-sided"] = "dtv",  # seed 000's raw D_TV output
        contamination: float = 0.05,
        standardize: str | bool = "auto",
        device: str = "cpu",
        random_state: int = 0,
        progress: bool = False,
    ) -> None:
        self.loss = loss
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.n_critic = n_critic
        self.gp_lambda = gp_lambda
        self.gan_lr = gan_lr
        self.net_size = net_size
        self.width = width
        self.latent_dim = latent_dim
        self.saves_per_epoch = saves_per_epoch
        self.alpha = alpha
        self.beta = beta
        self.lam = lam
        self.case = case
        self.wide_std = wide_std
        self.train_dtv = train_dtv
        self.dtv_steps = dtv_steps
        self.dtv_lr = dtv_lr
        self.dtv_gp = dtv_gp
        self.dtv_noise = dtv_noise
        self.history_store = history_store
        self.score = score
        self.contamination = contamination
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # -- configuration -----------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        if self.score not in ("two-sided", "dtv"):
            raise ValueError(f"score={self.score!r} is not allowed; choose 'two-sided' or 'dtv'")
        if not self.alpha < self.n_epochs:
            raise ValueError(
                f"alpha={self.alpha!r} is not allowed; the history window [alpha, n_epochs] "
                f"needs alpha < n_epochs={self.n_epochs!r}"
            )
        # validate through DTVConfig, reporting errors under this detector's parameter names
        names = {"n_steps": "dtv_steps", "lr": "dtv_lr", "gp_lambda": "dtv_gp",
                 "noise": "dtv_noise"}
        try:
            DTVConfig(
                n_steps=self.dtv_steps,
                lr=self.dtv_lr,
                lam=self.lam,
                case=self.case,
                wide_std=self.wide_std,
                gp_lambda=self.dtv_gp,
                noise=self.dtv_noise,
            )
        except ValueError as exc:
            msg = str(exc)
            field = msg.split("=", 1)[0]
            raise ValueError(names.get(field, field) + msg[len(field):]) from None

    def _history_config(self) -> HistoryConfig:
        return HistoryConfig(
            saves_per_epoch=self.saves_per_epoch,
            alpha=self.alpha,
            beta=self.beta,
            store=self.history_store,
        )

    # -- fitting -----------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
    ) -> HistoryAD:
        """Train the GAN (unless reused), then D_TV. With ``X_val``/``y_val`` (0/1, 1 =
        anomaly) the AUPRC along D_TV training is recorded in ``dtv_records_`` (seed 000
        Fig. 5); it is never used to choose the model."""
        self._val = (X_val, y_val) if X_val is not None else None
        try:
            return super().fit(X, y)
        finally:
            self._val = None

    def _fit_detector(self, X: torch.Tensor, run: Any) -> None:
        hc = run.history_config
        if abs(hc.beta - self.beta) > 1e-12 or hc.alpha > self.alpha + 1e-12:
            raise ValueError(
                f"the GAN's history was recorded with alpha={hc.alpha}, beta={hc.beta}, but this "
                f"detector asks alpha={self.alpha}, beta={self.beta}; the online critic average "
                "(eq. 14) fixes beta and alpha can only grow"
            )
        dtv = self._build("critic")
        dtv.load_state_dict(run.critic_average())
        self.dtv_records_: dict[str, list[float]] = {"step": [], "tv": [], "loss": []}
        if self.train_dtv and self.dtv_steps > 0:
            sampler = run.history_sampler(
                alpha=self.alpha, beta=self.beta, case=self.case, wide_std=self.wide_std
            )
            self._train_dtv(dtv, X, sampler)
        self.dtv_ = dtv.eval()
        for p in self.dtv_.parameters():
            p.requires_grad_(False)

    def _train_dtv(self, dtv: torch.nn.Module, X: torch.Tensor, sampler: Any) -> None:
        from historyad.training.losses import gradient_penalty

        gen = torch.Generator(device="cpu").manual_seed(self.random_state + 1)
        rng = np.random.default_rng(self.random_state + 1)
        opt = torch.optim.Adam(dtv.parameters(), lr=self.dtv_lr, betas=(0.5, 0.9))
        bs = min(self.batch_size, len(X))
        pool_size = min(self.dtv_steps * bs, max(20 * bs, 8192))
        pool, pool_pos = None, pool_size
        val = self._prepared_val()
        dtv.train()
        for step in range(1, self.dtv_steps + 1):
            if pool_pos + bs > pool_size:  # refresh the pool of history samples
                pool = sampler.sample(pool_size, rng=rng, generator=gen).to(X.device)
                pool_pos = 0
            x_hist = pool[pool_pos : pool_pos + bs]  # (B, *shape)
            pool_pos += bs
            idx = torch.randint(len(X), (bs,), generator=gen).to(X.device)
            x_data = X[idx]  # (B, *shape)
            if self.dtv_noise > 0:  # instance noise hides fine generator artefacts
                x_data = x_data + self.dtv_noise * torch.randn(
                    x_data.shape, generator=gen).to(X.device)
                x_hist = x_hist + self.dtv_noise * torch.randn(
                    x_hist.shape, generator=gen).to(X.device)
            d_data, d_hist = dtv(x_data), dtv(x_hist)  # (B,), (B,)
            loss = dtv_loss(d_data, d_hist, self.lam)
            if self.dtv_gp > 0:
                loss = loss + self.dtv_gp * gradient_penalty(dtv, x_data, x_hist, generator=gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % 50 == 0 or step == self.dtv_steps:
                self.dtv_records_["step"].append(step)
                self.dtv_records_["tv"].append(tv_estimate(d_data.detach(), d_hist.detach()))
                self.dtv_records_["loss"].append(float(loss.detach()))
                if val is not None:
                    self._record_val(dtv, val)
        if not np.isfinite(self.dtv_records_["loss"][-1]):
            raise FloatingPointError(f"D_TV loss became non-finite; lower dtv_lr={self.dtv_lr}")

    def _prepared_val(self) -> tuple[np.ndarray, np.ndarray] | None:
        if getattr(self, "_val", None) is None:
            return None
        from historyad.detectors.base import to_numpy

        Xv, yv = self._val
        Xv = to_numpy(Xv, name="X_val")
        yv = np.asarray(yv).astype(int).reshape(-1)
        if len(yv) != len(Xv) or set(np.unique(yv)) - {0, 1}:
            raise ValueError("y_val must hold one 0/1 label per row of X_val (1 = anomaly)")
        self.dtv_records_["auprc"] = []
        return Xv, yv

    def _record_val(self, dtv: torch.nn.Module, val: tuple[np.ndarray, np.ndarray]) -> None:
        from historyad.evaluation.metrics import auprc

        Xv, yv = val
        was_training = dtv.training
        dtv.eval()
        s = self._score_array(Xv, dtv)  # (N_val,) raw D_TV, batched like every score
        dtv.train(was_training)
        self.dtv_records_["auprc"].append(auprc(yv, s))

    # -- scoring & persistence ---------------------------------------------------------
    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """One pass of D_TV over the training normals gives both the two-sided score's
        reference and ``decision_scores_`` (``_from_raw``, as in ``_score``)."""
        raw = self._score_array(X, self.dtv_).astype(np.float32)  # (N,) raw D_TV
        self.score_reference_ = score_reference(raw)
        return self._from_raw(torch.from_numpy(raw)).numpy().astype(np.float64)

    def _score(self, X: torch.Tensor) -> torch.Tensor:
        return self._from_raw(self.dtv_(X))  # (B,) raw D_TV: ≈ −1 normal, ≈ +1 anomalous

    def _from_raw(self, raw: torch.Tensor) -> torch.Tensor:
        """The chosen score (B,) from raw D_TV outputs (B,); higher = more anomalous."""
        if self.score == "dtv":
            return raw
        ref = torch.as_tensor(self.score_reference_, dtype=raw.dtype, device=raw.device)
        return two_sided_score(raw, ref)  # (B,) ≈ 0 normal, ≫ 1 anomalous

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        ref = torch.as_tensor(self.score_reference_, dtype=torch.float64)
        return {**prefixed("critic", self.dtv_), "score_reference": ref}

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.latent_dim_ = int(meta["latent_dim"])
        self.dtv_ = self._restore("critic", tensors)
        if "score_reference" in tensors:
            self.score_reference_ = tensors["score_reference"].numpy()
        elif self.score == "two-sided":  # a file written before the two-sided score existed
            raise ValueError("this HistoryAD file has no score reference; score='two-sided' "
                             "needs a detector fitted (and saved) by historyad >= this version")
        else:
            self.score_reference_ = np.full(3, np.nan)
