"""``mnist-noise`` (seed 000 Fig. 6): MNIST test images vs gaussian-noise copies.

Train on MNIST's training split (all digits normal). For each σ the test set is
``n_test`` MNIST test images (normal) plus their copies ``clip(x + σ·N(0, I), −1, 1)``
(anomalous, ``protocols.corrupted``); the noise is drawn afresh per σ from a fixed seed.
Every detector scores the clean images once and the noisy copies per σ.

Figures: HistoryAD's score densities per σ, AUPRC against σ per detector, noisy examples.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from historyad.evaluation.experiments import common
from historyad.evaluation.experiments import gan_helpers as gh
from historyad.evaluation.experiments.common import RunContext

logger = logging.getLogger(__name__)

NAME = "mnist-noise"
PROTOCOL = "corrupted"


@dataclass
class MnistNoiseConfig(gh.GANExperimentConfig):
    """``mnist-noise`` settings (plus those of ``GANExperimentConfig``). ``max_test`` is the
    number of clean MNIST test images (None = all 10 000); each σ adds as many noisy ones."""

    sigmas: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2, 0.5, 1.0])
    clip: bool = True  # noisy images clipped to [-1, 1], the data range
    density_detector: str = "historyad"


QUICK: dict[str, Any] = {**gh.QUICK_FULL_DATA, "max_test": 1000}


def mnist_train_test(
    ds: Any, *, max_train: int | None, max_test: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(training images, clean test images): random subsets of MNIST's official splits."""
    rng = np.random.default_rng(seed)
    train = rng.permutation(np.flatnonzero(ds.is_train))[:max_train]
    test = np.sort(rng.permutation(np.flatnonzero(~ds.is_train))[:max_test])
    return ds.X[train], ds.X[test]


def run(ctx: RunContext) -> list[dict[str, Any]]:
    """Score clean vs noisy MNIST test images per σ; writes metrics.json, report, figures."""
    from historyad import plotting
    from historyad.data import load
    from historyad.evaluation.metrics import auprc, auroc
    from historyad.protocols import corrupted

    cfg = common.build_config(MnistNoiseConfig, ctx, QUICK)
    gh.check_labels(cfg.detectors)
    if not cfg.sigmas or any(not s > 0 for s in cfg.sigmas):
        raise ValueError(f"sigmas={cfg.sigmas!r} is not allowed; give one or more values > 0")
    gan = gh.gan_kwargs(cfg, ctx)
    ds = load("mnist", root=ctx.data_root)
    X_train, X_clean = mnist_train_test(
        ds, max_train=cfg.max_train, max_test=cfg.max_test, seed=ctx.seed
    )
    n = len(X_clean)
    splits = {s: corrupted(X_clean, sigma=s, seed=ctx.seed + 1, clip=cfg.clip, name="mnist")
              for s in cfg.sigmas}  # fmt: skip
    gan_labels = [lab for lab in cfg.detectors if lab != "knn"]
    shared = (
        gh.train_shared_gan(X_train, gan, cfg.historyad, save_to=ctx.checkpoint_path("gan"))
        if gan_labels else None
    )

    records: list[dict[str, Any]] = []
    dens_scores: dict[str, np.ndarray] = {}
    for label, (det, fit_s) in gh.fit_detectors(cfg.detectors, shared, cfg, X_train).items():
        t0 = time.perf_counter()
        clean = det.decision_function(X_clean)
        clean_s = time.perf_counter() - t0
        for sigma, split in splits.items():
            t0 = time.perf_counter()
            noisy = det.decision_function(split.X_test[n:])  # the originals come first
            s = np.concatenate([clean, noisy])
            rec = {
                "detector": label, "dataset": "mnist", "protocol": PROTOCOL,
                "anomaly": f"sigma={sigma:g}", "auprc": auprc(split.y_test, s),
                "auroc": auroc(split.y_test, s), "fit_seconds": round(fit_s, 3),
                "score_seconds": round(clean_s + time.perf_counter() - t0, 3), "sigma": sigma,
                "n_train": len(X_train), "n_test": len(s),
            }  # fmt: skip
            logger.info("%s σ=%g: AUPRC %.3f", label, sigma, rec["auprc"])
            records.append(rec)
            if label == cfg.density_detector:
                dens_scores[f"σ = {sigma:g}"] = s

    labels = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]
    figs = []
    if dens_scores:
        figs.append(ctx.figure(plotting.plot_score_densities(
            dens_scores, labels, class_names=["clean", "noisy"],
            ncols=min(len(dens_scores), 5),
            suptitle=f"{cfg.density_detector} scores: clean MNIST test vs x + σ·noise",
        ), "score_densities_per_sigma"))  # fmt: skip
    curves = {lab: [r["auprc"] for r in records if r["detector"] == lab] for lab in cfg.detectors}
    figs.append(ctx.figure(plotting.plot_metric_along_training(
        cfg.sigmas, curves, xlabel="noise σ", ylabel="AUPRC",
        title="Clean vs noisy MNIST test images",
    ), "auprc_vs_sigma"))  # fmt: skip
    k = min(8, n)
    examples = np.concatenate([X_clean[:k], *[sp.X_test[n : n + k] for sp in splits.values()]])
    figs.append(ctx.figure(plotting.plot_image_grid(
        examples, nrow=k, title="rows: clean, then σ = " + ", ".join(f"{s:g}" for s in cfg.sigmas),
    ), "noisy_examples"))  # fmt: skip

    report = f"""# mnist-noise — clean vs noisy MNIST (seed 000 Fig. 6)

Train: {len(X_train)} MNIST training images (all digits). Test per σ: {n} MNIST test images
(normal) + their copies x + σ·N(0, I){" clipped to [−1, 1]" if cfg.clip else ""} (anomalous),
σ ∈ {{{", ".join(f"{s:g}" for s in cfg.sigmas)}}}. One WGAN-GP with its history is shared by
the GAN detectors; detector hyper-parameters are the defaults except where listed.
{gh.fit_max_md(cfg)}

{gh.schedule_md(cfg, ctx, shared.run.iters_per_epoch if shared else None)}

## Results

Columns are the noise levels. The paper shows this experiment as figures only.

{common.result_tables(records)}

## Figures

{common.figures_md(figs, ctx.out_dir)}
"""
    resolved = {"experiment": NAME, **dataclasses.asdict(cfg)}
    extra = {"n_train": len(X_train), "n_clean_test": n}
    ctx.finish(records, resolved_config=resolved, extra=extra, report_md=report)
    return records
