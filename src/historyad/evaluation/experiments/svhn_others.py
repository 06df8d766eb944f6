"""``svhn-vs-others`` (seed 000 Fig. 1, Table 1): trained on SVHN, tested against CIFAR-10,
CelebA and Tiny ImageNet.

One WGAN-GP (with its history) is trained on SVHN's training split and shared by the GAN
detectors; each is fitted once. For every other dataset the test set is SVHN's test split
(normal) plus that dataset's test split — or all of it when it has none (CelebA, image
folders) — as anomalies (``protocols.cross_dataset``). Images are 3×32×32 in [-1, 1].

The datasets are not bundled: when any is missing the run stops before training with a
FileNotFoundError that lists every missing dataset and where it was looked for.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from historyad.evaluation.experiments import common
from historyad.evaluation.experiments import gan_helpers as gh
from historyad.evaluation.experiments.common import RunContext

logger = logging.getLogger(__name__)

NAME = "svhn-vs-others"
PROTOCOL = "cross-dataset"
NORMAL = "svhn"
FOLDER_DATASETS = ("celeba", "tiny-imagenet")  # image folders: loaded with ``limit``

# seed 000 Table 1: HistoryAD's AUPRC, trained on SVHN.
PAPER_HISTORYAD = {"cifar10": 0.941, "celeba": 0.976, "tiny-imagenet": 0.949}


@dataclass
class SvhnOthersConfig(gh.GANExperimentConfig):
    """``svhn-vs-others`` settings (plus those of ``GANExperimentConfig``). ``folder_limit``
    caps the images decoded from the image-folder datasets (a fixed random subset, seed 0);
    None decodes all (CelebA: ~200 000)."""

    others: list[str] = field(default_factory=lambda: ["cifar10", "celeba", "tiny-imagenet"])
    folder_limit: int | None = 20000
    density_detector: str = "historyad"


QUICK: dict[str, Any] = {**gh.QUICK_COMMON, "folder_limit": 2000}


def load_dataset(name: str, root: str | None, **params: Any) -> Any:
    """``historyad.data.load`` (a seam for tests)."""
    from historyad.data import load

    return load(name, root=root, **params)


def load_all(
    names: list[str], root: str | None, folder_limit: int | None
) -> dict[str, Any]:
    """Every dataset of ``names``, or one FileNotFoundError naming all the missing ones."""
    from historyad.data import DATASETS, dataset_dir

    loaded: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name in names:  # cheap check first: a missing folder fails before any loading
        folder = dataset_dir(name, root)
        if not folder.exists():
            files = ", ".join(DATASETS[name].files) if name in DATASETS else "?"
            missing[name] = f"looked for {folder}/ (expected files: {files}); it does not exist"
    if not missing:
        for name in names:
            params = {"limit": folder_limit} if name in FOLDER_DATASETS else {}
            try:
                loaded[name] = load_dataset(name, root, **params)
            except FileNotFoundError as exc:
                missing[name] = str(exc)
    if missing:
        where = root if root is not None else "$HISTORYAD_DATA or the pooch cache"
        lines = "\n".join(f"  - {n}: {msg}" for n, msg in missing.items())
        raise FileNotFoundError(
            f"{NAME} needs {', '.join(names)} (SVHN normal, the others anomalous); "
            f"{len(missing)} missing below {where}:\n{lines}\n"
            "Put each dataset in <data folder>/<name>/ (see `historyad.data.DATASETS`) and "
            "pass the data folder (--data / data_root)."
        )
    return loaded


def plot_dataset_densities(scores: dict[str, np.ndarray], *, title: str, bins: int = 50) -> Any:
    """Score histograms (densities) of several datasets on one axis (seed 000 Fig. 1)."""
    import matplotlib.pyplot as plt

    allv = np.concatenate(list(scores.values()))
    lo, hi = float(allv.min()), float(allv.max())
    hi = hi if hi > lo else lo + 1.0
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for name, s in scores.items():
        ax.hist(s, bins=bins, range=(lo, hi), density=True, alpha=0.45, label=f"{name} ({len(s)})")
    ax.set_xlabel("score (higher = more anomalous)")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run(ctx: RunContext) -> list[dict[str, Any]]:
    """Train on SVHN, test against each other dataset; writes metrics.json, report, figures."""
    from historyad import plotting
    from historyad.evaluation.harness import score_fitted
    from historyad.protocols import cross_dataset

    cfg = common.build_config(SvhnOthersConfig, ctx, QUICK)
    gh.check_labels(cfg.detectors)
    if not cfg.others:
        raise ValueError("others is empty; name at least one dataset of anomalies")
    gan = gh.gan_kwargs(cfg, ctx)
    data = load_all([NORMAL, *cfg.others], ctx.data_root, cfg.folder_limit)
    svhn = data[NORMAL]
    splits = {
        name: cross_dataset(svhn, data[name], seed=ctx.seed, max_train=cfg.max_train,
                            max_test=cfg.max_test)
        for name in cfg.others
    }  # fmt: skip
    X_train = splits[cfg.others[0]].X_train  # identical for every other dataset (same seed)
    gan_labels = [lab for lab in cfg.detectors if lab != "knn"]
    shared = (
        gh.train_shared_gan(X_train, gan, cfg.historyad, save_to=ctx.checkpoint_path("gan"))
        if gan_labels else None
    )
    fitted = gh.fit_detectors(cfg.detectors, shared, cfg, X_train)

    records: list[dict[str, Any]] = []
    dens: dict[str, np.ndarray] = {}
    for name, split in splits.items():
        for label, (det, fit_s) in fitted.items():
            res = score_fitted(
                label, det, fit_s, split.X_test, split.y_test, dataset=NORMAL,
                protocol=PROTOCOL, anomaly=name, extra={
                    "n_train": len(X_train), "n_test": len(split.y_test),
                    "n_test_anomaly": int(split.y_test.sum())},
            )  # fmt: skip
            rec, s = res.record(), res.scores
            records.append(rec)
            if label == cfg.density_detector:
                dens.setdefault("svhn test", s[split.y_test == 0])
                dens[name] = s[split.y_test == 1]
    figs = []
    if dens:
        figs.append(ctx.figure(plot_dataset_densities(
            dens, title=f"{cfg.density_detector} trained on SVHN: score densities",
        ), "score_densities"))  # fmt: skip
    figs.append(ctx.figure(plotting.plot_metric_bars(
        records, metric="auprc", group="anomaly", title="Trained on SVHN: AUPRC per dataset",
    ), "auprc_per_dataset"))  # fmt: skip
    sizes = {
        n: {"n_test": len(sp.y_test), "n_test_anomaly": int(sp.y_test.sum()),
            "other_split": sp.meta.get("other_split")}
        for n, sp in splits.items()
    }  # fmt: skip
    paper = {"auprc": {"seed 000 HistoryAD (Table 1)": PAPER_HISTORYAD}}
    ipe = shared.run.iters_per_epoch if shared is not None else None
    report = f"""# svhn-vs-others — trained on SVHN (seed 000 Fig. 1, Table 1)

Train: {len(X_train)} SVHN training images; test per column: SVHN test images (normal) plus
the other dataset's test split, or all of it when it has none (anomalous). Image folders
(CelebA, Tiny ImageNet) are decoded with at most {cfg.folder_limit} images. One WGAN-GP with
its history is shared by the GAN detectors; detector hyper-parameters are the defaults except
where listed. {gh.fit_max_md(cfg)}

{gh.schedule_md(cfg, ctx, ipe, "the whole SVHN training split: 228")}

Test sets: {sizes}.

## Results

{common.result_tables(records, paper=paper)}

## Figures

{common.figures_md(figs, ctx.out_dir)}
"""
    resolved = {"experiment": NAME, **dataclasses.asdict(cfg)}
    ctx.finish(records, resolved_config=resolved, extra={"test_sets": sizes}, report_md=report)
    return records
