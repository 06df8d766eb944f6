"""``mnist-vs-kmnist`` (seed 000 Fig. 5): trained on MNIST, tested on MNIST vs KMNIST.

Train: MNIST's training split minus a held-out validation part. Test: MNIST's test split
(normal) vs KMNIST's test split (anomalous; only that split is needed), built with
``protocols.cross_dataset``. The validation set — held-out MNIST training images (normal)
and a part of KMNIST's test split removed from the test set (anomalous) — only feeds the
AUPRC-along-D_TV-training curve; it never selects a model and never overlaps the test set.

Figures: score densities of MNIST vs KMNIST test images per detector; per-class densities
of HistoryAD's scores (MNIST digits, KMNIST characters); the TV estimate and validation
AUPRC along D_TV training.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from historyad.evaluation.experiments import common
from historyad.evaluation.experiments import gan_helpers as gh
from historyad.evaluation.experiments.common import RunContext

logger = logging.getLogger(__name__)

NAME = "mnist-vs-kmnist"
PROTOCOL = "cross-dataset"


@dataclass
class MnistKMNISTConfig(gh.GANExperimentConfig):
    """``mnist-vs-kmnist`` settings (plus those of ``GANExperimentConfig``).

    ``n_val_normal`` MNIST training images are held out (never trained on) and
    ``n_val_anomaly`` KMNIST test images are moved from the test set to the validation set.
    ``max_train`` caps the training images after the hold-out; ``max_test`` caps the test
    set (keeping the anomaly fraction).
    """

    n_val_normal: int = 2000
    n_val_anomaly: int = 2000
    density_detector: str = "historyad"  # whose scores get the per-class figure


QUICK: dict[str, Any] = {**gh.QUICK_FULL_DATA, "n_val_normal": 500, "n_val_anomaly": 500}


def split_validation(
    y_test: np.ndarray, n_val_anomaly: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(validation indices, remaining test indices): ``n_val_anomaly`` random anomalies move
    to the validation set; every normal test sample stays in the test set."""
    rng = np.random.default_rng(seed)
    anomalies = np.flatnonzero(y_test == 1)
    if not 0 < n_val_anomaly < len(anomalies):
        raise ValueError(
            f"n_val_anomaly={n_val_anomaly} is not allowed; it must lie in "
            f"[1, {len(anomalies) - 1}] (the test set holds {len(anomalies)} anomalies)"
        )
    val = np.sort(rng.choice(anomalies, size=n_val_anomaly, replace=False))
    rest = np.setdiff1d(np.arange(len(y_test)), val)
    return val, rest


def cap_stratified(y: np.ndarray, max_n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_n`` samples keeping the anomaly fraction (>= 1 each)."""
    if max_n is None or len(y) <= max_n:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_pos = min(max(1, round(max_n * len(pos) / len(y))), max_n - 1)
    keep = np.concatenate([rng.choice(pos, n_pos, replace=False),
                           rng.choice(neg, max_n - n_pos, replace=False)])  # fmt: skip
    return np.sort(keep)


def class_names_of(X: np.ndarray, sources: list[Any]) -> list[str]:
    """Per-row "dataset/class" names of ``X``, found by matching image bytes in ``sources``
    (Datasets); "unknown" when an image is in none of them."""
    lookup: dict[int, str] = {}
    for ds in sources:
        for x, y in zip(ds.X, ds.y, strict=True):
            lookup.setdefault(hash(x.tobytes()), f"{ds.name}/{ds.classes[int(y)]}")
    return [lookup.get(hash(x.tobytes()), "unknown") for x in X]


def plot_class_densities(
    scores: np.ndarray, names: list[str], *, title: str, bins: int = 40
) -> Any:
    """One panel per dataset (the part before "/"), one step histogram per class."""
    import matplotlib.pyplot as plt

    names_arr = np.asarray(names)
    datasets = list(dict.fromkeys(n.split("/")[0] for n in names))
    lo, hi = float(np.min(scores)), float(np.max(scores))
    hi = hi if hi > lo else lo + 1.0
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.0 * len(datasets), 3.4), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        classes = sorted({n for n in names if n.split("/")[0] == ds})
        for i, c in enumerate(classes):
            s = scores[names_arr == c]
            ax.hist(s, bins=bins, range=(lo, hi), density=True, histtype="step", lw=1.2,
                    color=plt.cm.tab10(i % 10), label=f"{c.split('/', 1)[-1]} ({len(s)})")
        ax.set_title(f"{ds} test images by class", fontsize=9)
        ax.set_xlabel("score (higher = more anomalous)", fontsize=8)
        ax.legend(fontsize=6, ncol=2)
        ax.tick_params(labelsize=7)
    return common.titled(fig, title)


def run(ctx: RunContext) -> list[dict[str, Any]]:
    """Train on MNIST, test MNIST vs KMNIST; writes metrics.json, report.md and figures."""
    from historyad import plotting
    from historyad.data import load
    from historyad.protocols import cross_dataset

    cfg = common.build_config(MnistKMNISTConfig, ctx, QUICK)
    gh.check_labels(cfg.detectors)
    if cfg.n_val_normal < 1:
        raise ValueError(f"n_val_normal={cfg.n_val_normal} is not allowed; it must be >= 1")
    gan = gh.gan_kwargs(cfg, ctx)
    mnist = load("mnist", root=ctx.data_root)
    kmnist = load("kmnist", split="test", root=ctx.data_root)
    n_train_total = int(mnist.is_train.sum())
    max_train = None if cfg.max_train is None else cfg.max_train + cfg.n_val_normal
    if cfg.n_val_normal >= min(n_train_total, max_train or n_train_total):
        raise ValueError(
            f"n_val_normal={cfg.n_val_normal} leaves no training image (max_train="
            f"{cfg.max_train}, {n_train_total} MNIST training images)"
        )
    split = cross_dataset(mnist, kmnist, seed=ctx.seed, max_train=max_train)
    X_val_normal = split.X_train[: cfg.n_val_normal]
    X_train = split.X_train[cfg.n_val_normal :]
    val_idx, rest = split_validation(split.y_test, cfg.n_val_anomaly, ctx.seed + 1)
    rest = rest[cap_stratified(split.y_test[rest], cfg.max_test, ctx.seed + 2)]
    X_test, y_test = split.X_test[rest], split.y_test[rest]
    X_val = np.concatenate([X_val_normal, split.X_test[val_idx]])
    y_val = np.r_[np.zeros(len(X_val_normal), np.int64), np.ones(len(val_idx), np.int64)]
    sizes = {"n_train": len(X_train), "n_test": len(y_test), "n_test_anomaly": int(y_test.sum()),
             "n_val_normal": len(X_val_normal), "n_val_anomaly": len(val_idx)}  # fmt: skip
    logger.info("mnist-vs-kmnist split: %s", sizes)

    gan_labels = [lab for lab in cfg.detectors if lab != "knn"]
    shared = (
        gh.train_shared_gan(X_train, gan, cfg.historyad, save_to=ctx.checkpoint_path("gan"))
        if gan_labels else None
    )
    fit_extra = {lab: {"X_val": X_val, "y_val": y_val}
                 for lab in cfg.detectors if lab in gh.DTV_TRAINED}  # fmt: skip
    records, scores, fitted = gh.evaluate_on_gan(
        cfg.detectors, shared, cfg, X_train, X_test, y_test, dataset="mnist",
        protocol=PROTOCOL, anomaly="kmnist", fit_extra=fit_extra, **sizes,
    )  # fmt: skip

    names = ["MNIST test", "KMNIST test"]
    figs = [ctx.figure(plotting.plot_score_densities(
        scores, y_test, class_names=names, suptitle="Trained on MNIST: MNIST vs KMNIST test",
    ), "score_densities")]  # fmt: skip
    along: dict[str, Any] = {}
    dens = cfg.density_detector
    if dens in scores:
        per_class = class_names_of(X_test, [mnist.subset(~mnist.is_train), kmnist])
        figs.append(ctx.figure(plot_class_densities(
            scores[dens], per_class, title=f"{dens} scores per class (trained on MNIST)",
        ), "score_densities_per_class"))  # fmt: skip
    curve_label = next((lab for lab in fit_extra if lab in fitted), None)
    if curve_label is not None:
        rec = fitted[curve_label].dtv_records_  # type: ignore[attr-defined]
        along = {"detector": curve_label, "step": rec["step"], "tv": rec["tv"],
                 "loss": rec["loss"], "val_auprc": rec.get("auprc", [])}  # fmt: skip
        if rec["step"]:
            figs.append(ctx.figure(plotting.plot_metric_along_training(
                rec["step"], {"TV estimate (training batches)": rec["tv"],
                              "AUPRC (validation set)": rec["auprc"]},
                xlabel="D_TV training step", ylabel="value",
                title=f"{curve_label}: along D_TV training (validation, not test)",
            ), "along_dtv_training"))  # fmt: skip

    along_md = "D_TV was not trained (no HistoryAD detector with training)."
    if along.get("step"):
        rows = "\n".join(f"| {s} | {t:.3f} | {a:.3f} |" for s, t, a in
                         zip(along["step"], along["tv"], along["val_auprc"], strict=False))
        along_md = (
            f"`{along['detector']}`, every 50 D_TV steps. TV estimate: (E_hist[D̄] − "
            "E_data[D̄])/2 on the current training batch of each (D̄ = D clipped to [−1, 1]; one "
            "batch, so it is noisy). AUPRC: on the "
            "held-out VALIDATION set (MNIST training images never trained on vs KMNIST test "
            "images removed from the test set), not the test set; it selects nothing.\n\n"
            f"| step | TV estimate | validation AUPRC |\n|---|---|---|\n{rows}"
        )
    report = f"""# mnist-vs-kmnist — trained on MNIST, MNIST vs KMNIST (seed 000 Fig. 5)

Train: {sizes["n_train"]} MNIST training images. Test: {sizes["n_test"] - sizes["n_test_anomaly"]}
MNIST test images (normal) vs {sizes["n_test_anomaly"]} KMNIST test images (anomalous).
Validation (held out, for the along-training curve only): {sizes["n_val_normal"]} MNIST
training images never trained on + {sizes["n_val_anomaly"]} KMNIST test images removed from
the test set. One WGAN-GP with its history is shared by the GAN detectors; detector
hyper-parameters are the defaults except where listed. {gh.fit_max_md(cfg)}

{gh.schedule_md(cfg, ctx, shared.run.iters_per_epoch if shared else None)}

## Results (test set)

The paper shows this experiment as figures (no table to compare with).

{common.result_tables(records)}

## Along D_TV training

{along_md}

## Figures

{common.figures_md(figs, ctx.out_dir)}
"""
    resolved = {"experiment": NAME, **dataclasses.asdict(cfg)}
    extra = {"split_sizes": sizes, "along_dtv_training": along}
    ctx.finish(records, resolved_config=resolved, extra=extra, report_md=report)
    return records
