"""``mnist-interpolation`` (seed 000 Fig. 8): HistoryAD scores along a latent interpolation.

A WGAN-GP (with its history) and HistoryAD are trained on MNIST's training split. The final
generator draws ``n_draws`` latents z ~ N(0, I); HistoryAD scores their images. The two
endpoints are confidently normal: z1 has the lowest score, z2 is — among the
``candidate_fraction`` lowest-scored draws — the one whose image is farthest (L2) from
G(z1), so the path joins two different-looking normal images. Along
z(t) = (1 − t)·z1 + t·z2, t ∈ [0, 1], the images G(z(t)) and their scores are shown against
the score quantiles of real MNIST test images.

Records: the detectors on MNIST test (normal) vs KMNIST test (anomalous), as a check that
the detector whose scores are plotted separates real data.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from historyad.evaluation.experiments import common
from historyad.evaluation.experiments import gan_helpers as gh
from historyad.evaluation.experiments.common import RunContext

logger = logging.getLogger(__name__)

NAME = "mnist-interpolation"


@dataclass
class MnistInterpolationConfig(gh.GANExperimentConfig):
    """``mnist-interpolation`` settings (plus those of ``GANExperimentConfig``); ``max_test``
    caps the MNIST-vs-KMNIST check set."""

    n_draws: int = 1000
    n_steps: int = 11
    candidate_fraction: float = 0.05  # z2 is chosen among this lowest-scored fraction
    path_detector: str = "historyad"
    # seed 000 Fig. 8 plots D_TV itself along the path: the network's raw score
    historyad: dict[str, Any] = field(default_factory=lambda: {"score": "dtv",
                                                               "estimator": "network"})
    detectors: list[str] = field(default_factory=lambda: ["historyad", "historyad-no-training"])


QUICK: dict[str, Any] = dict(gh.QUICK_FULL_DATA)


def pick_endpoints(scores: np.ndarray, images: np.ndarray, fraction: float) -> tuple[int, int]:
    """(i1, i2): the lowest score, and the draw among the ``fraction`` lowest-scored (at
    least two) whose image is farthest from image i1."""
    order = np.argsort(scores, kind="stable")
    i1 = int(order[0])
    k = max(2, math.ceil(fraction * len(scores)))
    cand = order[1:k]
    flat = images.reshape(len(images), -1)
    dist = np.linalg.norm(flat[cand] - flat[i1], axis=1)
    return i1, int(cand[int(np.argmax(dist))])


def plot_path(
    images: np.ndarray, ts: np.ndarray, scores: np.ndarray, reference: dict[str, float], *,
    title: str,
) -> Any:  # fmt: skip
    """Images along the path (top row) and their scores against ``t`` (bottom) with the
    ``reference`` score levels as horizontal lines."""
    import matplotlib.pyplot as plt

    n = len(images)
    fig = plt.figure(figsize=(max(6.0, 0.9 * n), 4.6))
    grid = fig.add_gridspec(2, n, height_ratios=[1.0, 2.2])
    for i in range(n):
        ax = fig.add_subplot(grid[0, i])
        img = np.clip((images[i] + 1.0) / 2.0, 0.0, 1.0)
        ax.imshow(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0), cmap="gray",
                  vmin=0, vmax=1)  # fmt: skip
        ax.set_title(f"t={ts[i]:.2g}", fontsize=7)
        ax.axis("off")
    ax = fig.add_subplot(grid[1, :])
    ax.plot(ts, scores, marker="o", label="score along the path")
    for i, (name, value) in enumerate(reference.items()):
        ax.axhline(value, ls="--", lw=1, color=f"C{i + 1}", label=name)
    ax.set_xlabel("t  (z = (1 − t)·z1 + t·z2)")
    ax.set_ylabel("score (higher = more anomalous)")
    ax.legend(fontsize=7)
    return common.titled(fig, title)


def run(ctx: RunContext) -> list[dict[str, Any]]:
    """Train on MNIST, score an interpolation path; writes metrics.json, report, figures."""
    import torch

    from historyad import plotting
    from historyad.data import load
    from historyad.evaluation.experiments.mnist_noise import mnist_train_test
    from historyad.protocols import cross_dataset

    cfg = common.build_config(MnistInterpolationConfig, ctx, QUICK)
    gh.check_labels(cfg.detectors)
    if cfg.path_detector not in cfg.detectors or cfg.path_detector == "knn":
        raise ValueError(
            f"path_detector={cfg.path_detector!r} must be a GAN detector of detectors="
            f"{cfg.detectors}"
        )
    if cfg.n_draws < 2 or cfg.n_steps < 2 or not 0 < cfg.candidate_fraction <= 1:
        raise ValueError("n_draws and n_steps must be >= 2 and candidate_fraction in (0, 1]")
    gan = gh.gan_kwargs(cfg, ctx)
    mnist = load("mnist", root=ctx.data_root)
    kmnist = load("kmnist", split="test", root=ctx.data_root)
    X_train, _ = mnist_train_test(mnist, max_train=cfg.max_train, max_test=1, seed=ctx.seed)
    check = cross_dataset(mnist, kmnist, seed=ctx.seed, max_train=1, max_test=cfg.max_test)
    shared = gh.train_shared_gan(X_train, gan, cfg.historyad, save_to=ctx.checkpoint_path("gan"))
    records, scores, fitted = gh.evaluate_on_gan(
        cfg.detectors, shared, cfg, X_train, check.X_test, check.y_test, dataset="mnist",
        protocol="cross-dataset", anomaly="kmnist", n_train=len(X_train),
    )  # fmt: skip
    det = fitted[cfg.path_detector]
    normal_scores = scores[cfg.path_detector][check.y_test == 0]
    reference = {
        f"MNIST test {int(q * 100)} % quantile": float(np.quantile(normal_scores, q))
        for q in (0.5, 0.95)
    }

    run_ = shared.run
    gen = torch.Generator(device=run_.device).manual_seed(ctx.seed + 3)
    z = torch.randn(cfg.n_draws, run_.latent_dim, generator=gen, device=run_.device)
    ts = np.linspace(0.0, 1.0, cfg.n_steps)
    with torch.no_grad():
        run_.generator.eval()
        draws = torch.cat([run_.generator(z[i : i + 512]) for i in range(0, len(z), 512)])
        draws_np = draws.cpu().numpy()
        draw_scores = det.decision_function(draws_np)
        i1, i2 = pick_endpoints(draw_scores, draws_np, cfg.candidate_fraction)
        t = torch.as_tensor(ts, dtype=z.dtype, device=z.device)[:, None]
        path_z = (1 - t) * z[i1] + t * z[i2]  # (n_steps, latent_dim)
        path = run_.generator(path_z).cpu().numpy()
    path_scores = det.decision_function(path)
    q95 = reference["MNIST test 95 % quantile"]
    summary = {
        "t": ts.tolist(),
        "scores": path_scores.tolist(),
        "endpoint_draws": [i1, i2],
        "endpoint_scores": [float(draw_scores[i1]), float(draw_scores[i2])],
        "max_score": float(path_scores.max()),
        "t_of_max": float(ts[int(np.argmax(path_scores))]),
        "fraction_above_test_q95": float(np.mean(path_scores > q95)),
        "reference": reference,
        "draw_score_quantiles": {str(q): float(np.quantile(draw_scores, q))
                                 for q in (0.05, 0.5, 0.95)},
    }
    logger.info("interpolation: endpoint scores %s, max %.3f at t=%.2f",
                summary["endpoint_scores"], summary["max_score"], summary["t_of_max"])

    order = np.argsort(draw_scores, kind="stable")
    k = min(16, len(order) // 2)
    figs = [
        ctx.figure(plot_path(
            path, ts, path_scores, reference,
            title=f"{cfg.path_detector} scores along G((1 − t)·z1 + t·z2)",
        ), "interpolation_path"),
        ctx.figure(plotting.plot_image_grid(
            np.concatenate([draws_np[order[:k]], draws_np[order[::-1][:k]]]), nrow=k,
            title=f"{cfg.n_draws} draws of G: top row the {k} lowest scores, bottom the {k} "
                  "highest",
        ), "draws_lowest_highest"),
    ]  # fmt: skip
    rows = "\n".join(f"| {a:.2g} | {b:.3f} |" for a, b in zip(ts, path_scores, strict=True))
    report = f"""# mnist-interpolation — scores along a latent path (seed 000 Fig. 8)

Trained on {len(X_train)} MNIST training images. {cfg.n_draws} latents z ~ N(0, I) were drawn
from the final generator and scored by `{cfg.path_detector}`; z1 is the lowest-scored draw,
z2 the draw among the {cfg.candidate_fraction:.0%} lowest-scored whose image is farthest from
G(z1). The path is z(t) = (1 − t)·z1 + t·z2 over {cfg.n_steps} values of t.

{gh.schedule_md(cfg, ctx, shared.run.iters_per_epoch)}

## Scores along the path

Reference levels from real MNIST test images: median {reference["MNIST test 50 % quantile"]:.3f},
95 % quantile {q95:.3f}. Highest score on the path: {summary["max_score"]:.3f} at
t = {summary["t_of_max"]:.2g}; {summary["fraction_above_test_q95"]:.0%} of the path lies above
the 95 % quantile.

| t | score |
|---|---|
{rows}

## Check: MNIST test vs KMNIST test

{len(check.y_test)} test images ({int(check.y_test.sum())} KMNIST).

{common.result_tables(records)}

## Figures

{common.figures_md(figs, ctx.out_dir)}
"""
    resolved = {"experiment": NAME, **dataclasses.asdict(cfg)}
    ctx.finish(records, resolved_config=resolved, extra={"interpolation": summary},
               report_md=report)  # fmt: skip
    return records
