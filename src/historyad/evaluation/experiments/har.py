"""``har`` (seed 001 §6): human-activity series, leave-one-activity-out.

Data: UCI HAR (9 × 128 inertial signals, 6 activities) when present, else BasicMotions
(6 × 100, 4 activities; offline in the shared data folder). Each activity in turn is the
anomaly: 80 % of the other activities' series train, the rest plus every series of the held-out
activity test (the papers' MNIST protocol applied to activities).

Three representations, each with its own WGAN-GP shared by HistoryAD, the critic and the
encoder, plus kNN on the same representation:

- ``recurrence``: per-channel recurrence plots, |x_i − x_j| of the standardised series resampled
  to ``rp_size`` points, scaled to [−1, 1] with the training 99th percentile: C × S × S images
  for the convolutional WGAN + encoder;
- ``raw-acc``: the raw (total) acceleration channels flattened into a table for the fully
  connected WGAN;
- ``series``: all channels as (C, T) for the 1-D convolutional WGAN.

Daphnet: the shared recording S06R02E0 has no anomalous step, so no metric can be computed; the
report says so (other recordings with freezes run the ``windows`` protocol on the series).

Small training sets (BasicMotions: 48 series per split) are tiled to at least
``min_epoch_size`` rows for the GANs, so that an epoch holds several generator iterations and
the history is a few dozen snapshots; kNN always sees the untiled training set.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from historyad.evaluation.experiments import common
from historyad.evaluation.experiments.common import RunContext

logger = logging.getLogger(__name__)

NAME = "har"
REPRESENTATIONS = ("recurrence", "raw-acc", "series")
# channels of the raw (total) acceleration
ACC_CHANNELS = {"uci-har": [6, 7, 8], "basicmotions": [0, 1, 2]}


@dataclass
class HARConfig:
    """Settings of the har experiment (every field can be overridden in ``[experiment]``)."""

    dataset: str = "auto"  # "auto" (uci-har if present, else basicmotions), or either name
    activities: list[str] | None = None  # held-out activities; None = all
    representations: list[str] = field(default_factory=lambda: list(REPRESENTATIONS))
    rp_size: int = 28
    gan_iterations: int = 2000  # generator iterations per GAN
    batch_size: int = 64
    width: int | None = None  # None = the "cpu" net size's default width
    gan_lr: float = 1e-4  # seed 001 Alg. 2
    min_epoch_size: int = 3200  # tile smaller training sets to this many rows (GANs only)
    n_snapshots: int = 50  # about this many history snapshots per GAN
    alpha_fraction: float = 0.2  # α = alpha_fraction · n_epochs (seed 000: 1 of 5 epochs)
    beta_total: float = 15.0  # β = beta_total / n_epochs (seed 000: 3 per epoch over 5)
    dtv_steps: int = 1000
    dtv_lr: float = 1e-4
    encoder_iterations: int = 1000
    n_neighbors: int = 5
    max_train: int | None = None
    max_test: int | None = None
    daphnet_window: int = 64
    daphnet_stride: int = 32
    daphnet_verify: bool = True  # False: accept a recording other than the canonical file


QUICK: dict[str, Any] = {"gan_iterations": 200, "width": 16, "rp_size": 16, "dtv_steps": 200,
                         "encoder_iterations": 200, "max_train": 2000, "max_test": 2000}


def resample(X: np.ndarray, size: int) -> np.ndarray:
    """Linear interpolation of series (N, C, T) to (N, C, size)."""
    t_old = np.linspace(0.0, 1.0, X.shape[-1])
    t_new = np.linspace(0.0, 1.0, size)
    idx = np.clip(np.searchsorted(t_old, t_new, side="right") - 1, 0, X.shape[-1] - 2)
    w = (t_new - t_old[idx]) / (t_old[idx + 1] - t_old[idx])
    return X[..., idx] * (1 - w) + X[..., idx + 1] * w


def recurrence_plots(
    X: np.ndarray, size: int, mean: np.ndarray, std: np.ndarray, scale: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel distance matrices of series (N, C, T): images (N, C, size, size) in [−1, 1].

    The series are standardised with ``mean``/``std`` (C, 1) and resampled to ``size`` points;
    distances are divided by ``scale`` (C,) (default: their 99th percentile per channel, which
    is returned for reuse on test data) and clipped to [0, 1] before mapping to [−1, 1].
    """
    Z = resample((X - mean) / std, size)  # (N, C, S)
    D = np.abs(Z[..., :, None] - Z[..., None, :])  # (N, C, S, S)
    if scale is None:
        scale = np.percentile(D, 99, axis=(0, 2, 3))
        scale = np.where(scale > 1e-8, scale, 1.0)
    images = np.clip(D / scale[None, :, None, None], 0.0, 1.0) * 2.0 - 1.0
    return images.astype(np.float32), scale


def _representations(
    X_train: np.ndarray, X_test: np.ndarray, dataset: str, wanted: list[str], rp_size: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if "recurrence" in wanted:
        mean = X_train.mean(axis=(0, 2))[:, None]
        std = np.maximum(X_train.std(axis=(0, 2)), 1e-8)[:, None]
        rp_train, scale = recurrence_plots(X_train, rp_size, mean, std)
        rp_test, _ = recurrence_plots(X_test, rp_size, mean, std, scale)
        out["recurrence"] = (rp_train, rp_test)
    if "raw-acc" in wanted:
        ch = ACC_CHANNELS.get(dataset, list(range(min(3, X_train.shape[1]))))
        out["raw-acc"] = (X_train[:, ch].reshape(len(X_train), -1),
                          X_test[:, ch].reshape(len(X_test), -1))
    if "series" in wanted:
        out["series"] = (X_train, X_test)
    return out


def _load_dataset(cfg: HARConfig, ctx: RunContext) -> tuple[Any, str]:
    from historyad.data import load

    if cfg.dataset not in ("auto", "uci-har", "basicmotions"):
        raise ValueError(
            f"dataset={cfg.dataset!r} is not allowed; use 'auto', 'uci-har' or 'basicmotions'"
        )
    if cfg.dataset != "auto":
        return load(cfg.dataset, root=ctx.data_root), "chosen in the config"
    try:
        return load("uci-har", root=ctx.data_root), "UCI HAR is present"
    except FileNotFoundError as exc:
        logger.info("UCI HAR not found (%s); using BasicMotions", exc)
        return load("basicmotions", root=ctx.data_root), "UCI HAR not found; BasicMotions used"


def _gan_settings(cfg: HARConfig, n_train: int, ctx: RunContext) -> tuple[dict, dict, int]:
    """(gan params, history params, tiling factor) for a training set of ``n_train`` rows."""
    from historyad.training.trainer import iters_per_epoch

    repeat = max(1, math.ceil(cfg.min_epoch_size / n_train))
    bs = min(cfg.batch_size, n_train * repeat)
    per_epoch = iters_per_epoch(n_train * repeat, bs, 5)
    n_epochs = max(1.0, cfg.gan_iterations / per_epoch)
    gan = {"n_epochs": n_epochs, "batch_size": bs, "width": cfg.width, "gan_lr": cfg.gan_lr,
           "min_iterations": 0,  # the schedule above is already set in iterations
           "device": ctx.device, "random_state": ctx.seed}
    history = {
        "saves_per_epoch": int(min(per_epoch, max(1, round(cfg.n_snapshots / n_epochs)))),
        "alpha": cfg.alpha_fraction * n_epochs,
        "beta": cfg.beta_total / n_epochs,
    }
    return gan, history, repeat


def _evaluate(
    cfg: HARConfig, ctx: RunContext, X_train: np.ndarray, X_test: np.ndarray,
    y_test: np.ndarray, *, dataset: str, protocol: str, anomaly: str, rep: str,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """GAN detectors (one shared WGAN-GP on the tiled set) + kNN on one representation."""
    from historyad.evaluation.harness import evaluate_detectors

    gan, history, repeat = _gan_settings(cfg, len(X_train), ctx)
    bs = gan["batch_size"]
    enc_epochs = max(0.01, cfg.encoder_iterations / max(1, len(X_train) * repeat // bs))
    specs = {
        f"historyad-knn ({rep})": {"name": "historyad", "estimator": "knn"},
        f"historyad ({rep})": {"name": "historyad", "dtv_steps": cfg.dtv_steps,
                               "dtv_lr": cfg.dtv_lr},
        f"critic ({rep})": {"name": "critic"},
        f"encoder ({rep})": {"name": "encoder", "encoder_epochs": enc_epochs},
    }  # fmt: skip
    X_gan = np.concatenate([X_train] * repeat) if repeat > 1 else X_train
    kw = {"dataset": dataset, "protocol": protocol, "anomaly": anomaly}
    ckpt = ctx.checkpoint_path(f"gan-{dataset}-{anomaly}-{rep}".replace(" ", "_"))
    results = evaluate_detectors(X_gan, X_test, y_test, specs, gan=gan, history=history,
                                 checkpoint=ckpt, share_gan=True, **kw)
    results += evaluate_detectors(
        X_train, X_test, y_test,
        {f"knn ({rep})": {"name": "knn", "n_neighbors": cfg.n_neighbors}}, **kw,
    )  # fmt: skip
    records = []
    for r in results:
        rec = r.record()
        rec.update(representation=rep, train_repeat=repeat if "knn" not in r.detector else 1)
        records.append(rec)
    return records, {r.detector: r.scores for r in results if r.scores is not None}


def _daphnet(cfg: HARConfig, ctx: RunContext) -> tuple[list[dict[str, Any]], str]:
    """Daphnet windows when the recording has freezes; else a note and no records."""
    from historyad.data import load_daphnet_recording
    from historyad.protocols import windows

    try:
        rec = load_daphnet_recording(root=ctx.data_root, verify=cfg.daphnet_verify)
    except FileNotFoundError as exc:
        return [], f"Daphnet: not run (the recording is not present: {exc})."
    source = str(getattr(rec, "source", "daphnet"))
    if int(np.sum(rec.labels)) == 0:
        return [], (f"Daphnet: the recording `{source}` has NO anomalous (freezing-of-gait) "
                    "step, so AUPRC/AUROC are undefined; the metric is skipped.")
    split = windows(rec.X, rec.labels, window=cfg.daphnet_window, stride=cfg.daphnet_stride,
                    name="daphnet")
    if split.y_test.min() == split.y_test.max():
        return [], ("Daphnet: the test part of the recording holds no anomalous window; "
                    "the metric is skipped.")
    records, _ = _evaluate(cfg, ctx, split.X_train, split.X_test, split.y_test,
                           dataset="daphnet", protocol="windows", anomaly="freeze", rep="series")
    return records, f"Daphnet: windows protocol on `{source}` (series representation)."


def run(ctx: RunContext) -> list[dict[str, Any]]:
    """Leave-one-activity-out over the representations; Daphnet when it has anomalies."""
    from tqdm.auto import tqdm

    from historyad import plotting
    from historyad.protocols import leave_one_class_out

    cfg = common.build_config(HARConfig, ctx, QUICK)
    unknown = sorted(set(cfg.representations) - set(REPRESENTATIONS))
    if unknown or not cfg.representations:
        raise ValueError(
            f"representations={cfg.representations!r} is not allowed; choose from "
            f"{list(REPRESENTATIONS)}"
        )
    ds, why = _load_dataset(cfg, ctx)
    activities = cfg.activities or list(ds.classes)
    bad = [a for a in activities if a not in ds.classes]
    if bad:
        raise ValueError(f"activities {bad} are not activities of {ds.name!r}: {ds.classes}")
    records: list[dict[str, Any]] = []
    first_scores: dict[str, np.ndarray] = {}
    first_y: np.ndarray | None = None
    example: tuple[np.ndarray, np.ndarray] | None = None
    protocol = "leave-one-activity-out"
    jobs = [(a, r) for a in activities for r in cfg.representations]
    bar = tqdm(total=len(jobs), desc=f"har {ds.name}", unit="job")
    for activity in activities:
        split = leave_one_class_out(ds, activity, train_fraction=0.8, seed=ctx.seed,
                                    max_train=cfg.max_train, max_test=cfg.max_test)
        reps = _representations(split.X_train, split.X_test, ds.name, cfg.representations,
                                cfg.rp_size)
        for rep, (Xtr, Xte) in reps.items():
            recs, scores = _evaluate(cfg, ctx, Xtr, Xte, split.y_test, dataset=ds.name,
                                     protocol=protocol, anomaly=activity, rep=rep)
            records += recs
            if first_y is None or activity == activities[0]:
                first_scores.update(scores)
                first_y = split.y_test
            if rep == "recurrence" and example is None:
                example = (Xtr, Xte[split.y_test == 1])
            bar.update(1)
    bar.close()
    daphnet_records, daphnet_note = _daphnet(cfg, ctx)
    records += daphnet_records

    figs = []
    for rep in cfg.representations:
        rows = [r for r in records if r["representation"] == rep and r["dataset"] == ds.name]
        figs.append(ctx.figure(plotting.plot_metric_bars(
            rows, title=f"{ds.name}: AUPRC per held-out activity ({rep})"), f"auprc_{rep}"))
    if first_y is not None:
        figs.append(ctx.figure(plotting.plot_score_densities(
            first_scores, first_y, ncols=4,
            suptitle=f"Test scores, held-out activity {activities[0]!r}"), "score_densities"))
    if example is not None:
        normal, anomalous = example
        figs.append(ctx.figure(plotting.plot_image_grid(
            np.concatenate([normal[:8, :1], anomalous[:8, :1]]), nrow=8,
            title=f"Recurrence plots, channel 0: top normal, bottom {activities[0]!r}"),
            "recurrence_examples"))

    tables = []
    for rep in cfg.representations:
        rows = [r for r in records if r["representation"] == rep and r["dataset"] == ds.name]
        tables.append(f"### {rep}\n\n{common.result_tables(rows)}")
    if daphnet_records:
        tables.append(f"### daphnet (windows)\n\n{common.result_tables(daphnet_records)}")
    gan0, hist0, rep0 = _gan_settings(cfg, max(1, round(0.8 * (len(ds.y) - len(ds.y) //
                                                                   len(ds.classes)))), ctx)
    report = f"""# har — human activities, leave-one-activity-out (seed 001 §6)

Dataset: **{ds.name}** ({why}); {len(ds.y)} series of shape {tuple(ds.X.shape[1:])},
activities {ds.classes}. Each activity in turn is the anomaly; 80 % of the other activities'
series train (seed {ctx.seed}), the other 20 % plus every series of the held-out activity test.
Representations: recurrence plots ({cfg.rp_size} × {cfg.rp_size} per channel, conv WGAN +
encoder), raw acceleration channels {ACC_CHANNELS.get(ds.name)} flattened (fully connected
WGAN), all channels as series (1-D conv WGAN). One WGAN-GP per (activity, representation),
{cfg.gan_iterations} generator iterations (HistoryAD's schedule: Adam, learning rate decreasing
linearly from {cfg.gan_lr:g} to a tenth), shared by HistoryAD, the critic and the encoder;
kNN (k = {cfg.n_neighbors}) on the same representation. Training sets are tiled ×{rep0} for the
GANs (about {gan0["n_epochs"]:.0f} epochs, history α = {hist0["alpha"]:.3g},
β = {hist0["beta"]:.3g}, {hist0["saves_per_epoch"]} snapshot(s) per epoch).
{"**Quick run** (short schedules, width 16)." if ctx.quick else ""}

No paper values are listed: seed 001 §6 evaluates on UCI HAR, and BasicMotions results are not
comparable to it.

{daphnet_note}

## Results

{(chr(10) * 2).join(tables)}

## Figures

{common.figures_md(figs, ctx.out_dir)}
"""
    ctx.finish(records, resolved_config={"experiment": NAME, "dataset_used": ds.name,
                                         **dataclasses.asdict(cfg)},
               extra={"dataset_used": ds.name, "daphnet": daphnet_note}, report_md=report)
    return records
