"""Fourth quality study: D_TV training variants and post-hoc scores on one cached digit GAN.

Uses the GAN cached by ``mnist_dtv_study.py`` (12 000 normal images, 10 short epochs, every
critic snapshot recorded), starts D_TV from the eq. 14 average (α = 1, β = 3) and trains it
with one change at a time, recording the validation AUPRC every 50 steps (on the first half
of the test split; the table uses the second half). Every 50 steps it also records a
normal-only model selection signal, the AUPRC of the validation normals against rotated and
flipped copies of them, and reports the net at the step that maximises it. For each
trained net, and for the averaged and the final critic, it also reports post-hoc scores:
two-sided distances from the training scores (MAD, asymmetric quantile tails, an empirical
two-sided p-value), and Mahalanobis distance / kNN on the penultimate features.

    .venv/bin/python benchmarks/mnist_dtv_variants.py --digit 0 --only knn base blur1.5
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import NearestNeighbors

from _mnist_study import add_split_args, cached_gan
from historyad.config import NetConfig
from historyad.data import load
from historyad.detectors.history_ad import dtv_loss, tv_estimate
from historyad.evaluation.harness import evaluate_detectors
from historyad.evaluation.metrics import auprc, auroc
from historyad.nn.factory import build_critic
from historyad.protocols import leave_one_class_out
from historyad.training.history import snapshot_weights
from historyad.training.losses import gradient_penalty

log = logging.getLogger("dtv_variants")
Transform = Callable[[torch.Tensor], torch.Tensor]

VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "blur1.5": {"blur": 1.5},  # Gaussian blur (px) on every D_TV input, train and test
    "blur3": {"blur": 3.0},
    "anchor1": {"anchor": 1.0},  # + anchor · ||θ − θ_0||², θ_0 the averaged weights
    "anchor0.01": {"anchor": 0.01},
    "last": {"last_only": True},  # train the last linear layer only
    "posgen0.5": {"pos_gen": 0.5},  # half the positives from the final generator
    "case2w3": {"case": 2, "wide_std": 3.0},
    "case2w2": {"case": 2, "wide_std": 2.0},
    "latewide_pos": {"alpha": 9.0, "beta": 0.0, "case": 2, "wide_std": 3.0, "pos_gen": 0.5},
    "latewide": {"alpha": 9.0, "beta": 0.0, "case": 2, "wide_std": 3.0},
    "late": {"alpha": 9.0, "beta": 0.0},  # negatives from the last epoch only
    "lam1": {"lam": 1.0},  # λ of eq. (10): 10 in the paper
    "lam100": {"lam": 100.0},
    "lr1e-5": {"lr": 1e-5},  # D_TV learning rate: 1e-4 by default
    "gp10": {"gp": 10.0},  # gradient penalty on D_TV
    "sn": {"sn": True},  # spectral normalisation, Lipschitz capped at the averaged critic's
}


def blur_fn(sigma: float) -> Transform:
    """Separable Gaussian blur of (N, 1, H, W) images; identity for sigma <= 0."""
    if sigma <= 0:
        return lambda x: x
    r = int(np.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()

    def f(x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))

    return f


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


class _UnitSpectralNorm(torch.nn.Module):
    """Parametrisation W -> W / sigma_max(W reshaped to (out, -1)), computed exactly."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w / torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)


class _Scaled(torch.nn.Module):
    """net(x) * scale: keeps a spectrally normalised copy equal to the original at the start."""

    def __init__(self, net: torch.nn.Module, scale: float) -> None:
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * self.scale

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)


def spectral_normalise(net: torch.nn.Module) -> torch.nn.Module:
    """Exact reparametrisation of a bias-carrying LeakyReLU net with unit-norm weights.

    Every conv / linear weight W_l becomes W_l / sigma_l (sigma_l its spectral norm, kept at 1
    during training), every bias b_l becomes b_l / prod_{k<=l} sigma_k and the output is
    multiplied by prod_l sigma_l; LeakyReLU is positively homogeneous, so the function is
    unchanged at the start and its (per-layer matrix) Lipschitz bound stays fixed afterwards.
    """
    from torch.nn.utils import parametrize

    prod = 1.0
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            with torch.no_grad():
                sigma = float(torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1),
                                                       ord=2))  # fmt: skip
                prod *= sigma
                if m.bias is not None:
                    m.bias.div_(prod)
            parametrize.register_parametrization(m, "weight", _UnitSpectralNorm())
    return _Scaled(net, prod)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--digit", type=int, default=0)
    add_split_args(p)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--only", nargs="*", default=None, help="knn and/or keys of VARIANTS")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    split = leave_one_class_out(load("mnist", root=args.data), args.digit, seed=0,
                                max_train=args.max_train, max_test=args.max_test)  # fmt: skip
    Xte, yte = split.X_test, split.y_test
    perm = np.random.default_rng(1).permutation(len(Xte))
    val, test = perm[: len(perm) // 2], perm[len(perm) // 2 :]
    Xv, yv = torch.from_numpy(Xte[val]), yte[val]
    Xt, yt = torch.from_numpy(Xte[test]), yte[test]
    X = torch.from_numpy(split.X_train)
    # Normal-only model selection: held-out normals against synthetic anomalies made of them
    # (rotated by 90 degrees, flipped upside down): crisp, real-looking, not the normal class.
    Xvn = Xv[torch.from_numpy(yv == 0)]
    Xsyn = torch.cat([Xvn, torch.rot90(Xvn, 1, (2, 3)), torch.flip(Xvn, (2,))])
    ysyn = np.r_[np.zeros(len(Xvn)), np.ones(2 * len(Xvn))]
    Xref = X[torch.randperm(len(X), generator=torch.Generator().manual_seed(3))[:3000]]
    run = cached_gan(
        split.X_train, args.digit, epochs=args.epochs, saves=args.saves, cache=args.cache
    )
    assert run.recorder is not None and run.recorder.critic_store is not None
    cstore = run.recorder.critic_store
    states = [cstore.load(i) for i in range(len(cstore))]
    keep = np.flatnonzero(cstore.times >= 1.0 - 1e-9)
    w = snapshot_weights(cstore.times[keep], beta=3.0)
    init = {k: sum(wi * states[j][k].double() for wi, j in zip(w, keep, strict=True)).float()
            for k in states[0]}  # fmt: skip
    rows: list[dict[str, Any]] = []
    out = Path(args.out or f"/tmp/dtv_variants_d{args.digit}.json")

    def row(name: str, s: np.ndarray, **extra: Any) -> None:
        r = {
            "digit": args.digit,
            "variant": name,
            "auprc": auprc(yt, s),
            "auroc": auroc(yt, s),
            **extra,
        }
        log.info("%-42s AUPRC %.3f AUROC %.3f", name, r["auprc"], r["auroc"])
        rows.append(r)
        out.write_text(json.dumps(rows, indent=1))

    def scores(net: torch.nn.Module, Xs: torch.Tensor, tf: Transform = identity) -> np.ndarray:
        net.eval()
        with torch.no_grad():
            return torch.cat([net(tf(Xs[i : i + 1024])) for i in range(0, len(Xs), 1024)]).numpy()

    def feats(net: Any, Xs: torch.Tensor, tf: Transform) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([net.features(tf(Xs[i : i + 1024]))
                              for i in range(0, len(Xs), 1024)]).double().numpy()  # fmt: skip

    def post_hoc(name: str, net: torch.nn.Module, tf: Transform = identity) -> None:
        s, r = scores(net, Xt, tf), scores(net, Xref, tf)
        med = np.median(r)
        row(f"{name} |two-sided| MAD", np.abs(s - med) / (np.median(np.abs(r - med)) + 1e-12))
        for lo, hi in ((0.25, 0.75), (0.05, 0.95)):
            ql, qm, qh = np.quantile(r, [lo, 0.5, hi])
            row(f"{name} asym-z {hi}", np.where(s >= qm, (s - qm) / max(qh - qm, 1e-12),
                                                (qm - s) / max(qm - ql, 1e-12)))  # fmt: skip
        cdf = np.searchsorted(np.sort(r), s) / len(r)
        row(f"{name} p-value2", -np.log(np.minimum(np.minimum(cdf, 1 - cdf) + 0.5 / len(r), 0.5)))
        fr, ft = feats(net, Xref, tf), feats(net, Xt, tf)
        cov = np.cov(fr, rowvar=False)
        cov += 1e-3 * np.trace(cov) / len(cov) * np.eye(len(cov))
        d = ft - fr.mean(0)
        row(f"{name} feature Mahalanobis", np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d))
        knn_dist = NearestNeighbors(n_neighbors=5).fit(fr).kneighbors(ft)[0]
        row(f"{name} feature kNN", knn_dist.mean(1))

    def train(
        name: str,
        *,
        case: int = 1,
        wide_std: float = 2.0,
        blur: float = 0.0,
        anchor: float = 0.0,
        last_only: bool = False,
        pos_gen: float = 0.0,
        alpha: float = 1.0,
        beta: float = 3.0,
        gp: float = 0.0,
        lam: float = 10.0,
        lr: float = 1e-4,
        sn: bool = False,
    ) -> None:
        tf = blur_fn(blur)
        net = build_critic(run.input_shape, NetConfig())
        net.load_state_dict(init)
        if sn:
            before = scores(net, Xv[:64])
            net = spectral_normalise(net)
            assert np.allclose(before, scores(net, Xv[:64]), rtol=1e-4, atol=1e-4)
        theta0 = {k: v.detach().clone() for k, v in net.named_parameters()}
        if last_only:
            last = [n for n, _ in net.named_parameters()][-2:]
            for n, prm in net.named_parameters():
                prm.requires_grad_(n in last)
        opt = torch.optim.Adam([q for q in net.parameters() if q.requires_grad], lr=lr,
                               betas=(0.5, 0.9))  # fmt: skip
        sampler = run.history_sampler(alpha=alpha, beta=beta, case=case, wide_std=wide_std)
        gen, rng = torch.Generator().manual_seed(1), np.random.default_rng(1)
        pool, pos, bs = sampler.sample(8192, rng=rng, generator=gen), 0, 64
        gpool = run.sample(4096, seed=5) if pos_gen > 0 else None

        def checkpoint(step: int, *extra: float) -> None:
            syn = auprc(ysyn, scores(net, Xsyn, tf))  # normal-only model selection signal
            curve.append((step, round(auprc(yv, scores(net, Xv, tf)), 3), round(syn, 3), *extra))
            kept.append((syn, step, {k: v.detach().clone() for k, v in net.state_dict().items()}))

        curve: list[tuple[float, ...]] = []
        kept: list[tuple[float, int, dict[str, torch.Tensor]]] = []
        checkpoint(0)
        net.train()
        for step in range(1, args.steps + 1):
            if pos + bs > len(pool):
                pool, pos = sampler.sample(8192, rng=rng, generator=gen), 0
            xh, pos = pool[pos : pos + bs], pos + bs
            xd = X[torch.randint(len(X), (bs,), generator=gen)]
            if gpool is not None:
                m = int(bs * pos_gen)
                pick = torch.randint(len(gpool), (m,), generator=gen)
                xd = torch.cat([xd[: bs - m], gpool[pick]])
            dd, dh = net(tf(xd)), net(tf(xh))
            loss = dtv_loss(dd, dh, lam)
            if gp > 0:
                loss = loss + gp * gradient_penalty(net, tf(xd), tf(xh), generator=gen)
            if anchor > 0:
                loss = loss + anchor * sum(((q - theta0[n]) ** 2).sum()
                                           for n, q in net.named_parameters())  # fmt: skip
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 50 == 0:
                tv = tv_estimate(dd.detach(), dh.detach())
                checkpoint(step, round(tv, 3))
                net.train()
        row(name, scores(net, Xt, tf), curve=curve)
        log.info("   (step, validation AUPRC, synthetic AUPRC, TV) %s", curve)
        best = max(kept, key=lambda k: k[0])
        final = net.state_dict()
        net.load_state_dict(best[2])
        row(f"{name} selected on normals + rotated/flipped normals", scores(net, Xt, tf),
            step=best[1])  # fmt: skip
        net.load_state_dict(final)
        post_hoc(name, net, tf)

    if args.only is None or "knn" in args.only:
        (res,) = evaluate_detectors(split.X_train, Xte[test], yte[test], {"knn": {"name": "knn"}})
        row("knn", res.scores)
    averaged = build_critic(run.input_shape, NetConfig())
    averaged.load_state_dict(init)
    row("averaged critic (a=1, b=3)", scores(averaged, Xt))
    post_hoc("averaged critic", averaged)
    row("final critic", scores(run.critic, Xt))
    post_hoc("final critic", run.critic)
    for key, kw in VARIANTS.items():
        if args.only is None or key in args.only:
            train(key, **kw)


if __name__ == "__main__":
    main()
