"""``saves-per-epoch`` (seed 000 Fig. 9): MNIST-vs-KMNIST AUPRC against snapshots per epoch.

For each setting s, a WGAN-GP is trained on MNIST's training split recording s generator
snapshots per epoch (the history is recorded during training, so each setting is its own
training run; the same seed gives the same GAN trajectory, only the recorded history and the
critic average of eq. 14 differ). HistoryAD is then fitted on that history and tested on MNIST
test (normal) vs KMNIST test (anomalous), as in ``mnist-vs-kmnist``. A setting above the
generator iterations per epoch records every iteration (reported as the effective value).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from historyad.evaluation.experiments import common
from historyad.evaluation.experiments import gan_helpers as gh
from historyad.evaluation.experiments.common import RunContext

logger = logging.getLogger(__name__)

NAME = "saves-per-epoch"
PROTOCOL = "cross-dataset"


@dataclass
class SavesPerEpochConfig(gh.GANExperimentConfig):
    """``saves-per-epoch`` settings (plus those of ``GANExperimentConfig``; a
    ``historyad.saves_per_epoch`` there is replaced by each setting)."""

    settings: list[int] = field(default_factory=lambda: [1, 5, 10, 50])
    detectors: list[str] = field(
        default_factory=lambda: ["historyad", "historyad-knn", "historyad-no-training"])


# 3000 training images give 9 generator iterations per epoch: 9 saves = every iteration.
QUICK: dict[str, Any] = {**gh.QUICK_COMMON, "max_train": 3000, "settings": [1, 3, 9]}


def run(ctx: RunContext) -> list[dict[str, Any]]:
    """One GAN + HistoryAD per setting; writes metrics.json, report.md and the figure."""
    from historyad import plotting
    from historyad.data import load
    from historyad.protocols import cross_dataset

    cfg = common.build_config(SavesPerEpochConfig, ctx, QUICK)
    gh.check_labels(cfg.detectors)
    if "knn" in cfg.detectors or not cfg.detectors:
        raise ValueError(f"detectors={cfg.detectors} must be GAN detectors (knn has no history)")
    if not cfg.settings or any(int(s) < 1 for s in cfg.settings):
        raise ValueError(f"settings={cfg.settings!r} is not allowed; give integers >= 1")
    gan = gh.gan_kwargs(cfg, ctx)
    mnist = load("mnist", root=ctx.data_root)
    kmnist = load("kmnist", split="test", root=ctx.data_root)
    split = cross_dataset(mnist, kmnist, seed=ctx.seed, max_train=cfg.max_train,
                          max_test=cfg.max_test)  # fmt: skip
    records: list[dict[str, Any]] = []
    for s in cfg.settings:
        shared = gh.train_shared_gan(
            split.X_train, gan, {**cfg.historyad, "saves_per_epoch": int(s)},
            save_to=ctx.checkpoint_path(f"gan-saves{int(s)}"),
        )  # fmt: skip
        recorder = shared.run.recorder
        assert recorder is not None
        info = {
            "saves_per_epoch": int(s),
            "effective_saves_per_epoch": int(recorder.saves_per_epoch),
            "iters_per_epoch": int(shared.run.iters_per_epoch),
            "n_snapshots": len(recorder.store.times),
        }
        recs, _, _ = gh.evaluate_on_gan(
            cfg.detectors, shared, cfg, split.X_train, split.X_test, split.y_test,
            dataset="mnist", protocol=PROTOCOL, anomaly="kmnist", **info,
        )  # fmt: skip
        records += recs
        del shared, recorder

    curves = {d: [r["auprc"] for r in records if r["detector"] == d] for d in cfg.detectors}
    fig = plotting.plot_metric_along_training(
        [float(s) for s in cfg.settings], curves, xlabel="generator snapshots saved per epoch",
        ylabel="AUPRC", title="MNIST vs KMNIST: AUPRC against snapshots per epoch",
    )  # fmt: skip
    if len(cfg.settings) > 1 and max(cfg.settings) / min(cfg.settings) >= 10:
        fig.axes[0].set_xscale("log")
    figs = [ctx.figure(fig, "auprc_vs_saves_per_epoch")]

    head = "| saves / epoch | effective | snapshots in window | " + " | ".join(
        f"{d} AUPRC | {d} AUROC" for d in cfg.detectors) + " |"  # fmt: skip
    lines = [head, "|" + "---|" * (3 + 2 * len(cfg.detectors))]
    for s in cfg.settings:
        rows = [r for r in records if r["saves_per_epoch"] == int(s)]
        cells = [f"{rows[0]['effective_saves_per_epoch']}", f"{rows[0]['n_snapshots']}"]
        for d in cfg.detectors:
            r = next(r for r in rows if r["detector"] == d)
            cells += [f"{r['auprc']:.3f}", f"{r['auroc']:.3f}"]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    report = f"""# saves-per-epoch — AUPRC against snapshots per epoch (seed 000 Fig. 9)

Train: {len(split.X_train)} MNIST training images; test: {len(split.y_test)} images
({int(split.y_test.sum())} KMNIST test images as anomalies). One GAN training per setting
(same seed); HistoryAD's other hyper-parameters are the defaults except where listed.
`effective` is the recorded rate (capped at {records[0]["iters_per_epoch"]} generator
iterations per epoch); `snapshots in window` counts the snapshots with t ≥ α.

{gh.schedule_md(cfg, ctx, records[0]["iters_per_epoch"])}

## Results

The paper shows this experiment as a figure only.

{chr(10).join(lines)}

## Figures

{common.figures_md(figs, ctx.out_dir)}
"""
    resolved = {"experiment": NAME, **dataclasses.asdict(cfg)}
    extra = {"n_train": len(split.X_train), "n_test": len(split.y_test)}
    ctx.finish(records, resolved_config=resolved, extra=extra, report_md=report)
    return records
