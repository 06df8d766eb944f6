"""Figures for experiments and reports: every function takes arrays or records and returns a
matplotlib ``Figure`` (Agg backend; nothing is shown). Save with ``fig.savefig`` or
``RunContext.figure``, which also closes it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

Panels = Sequence[tuple[str, np.ndarray]] | Mapping[str, np.ndarray]


def _panels(panels: Panels, name: str) -> list[tuple[str, np.ndarray]]:
    items = list(panels.items()) if isinstance(panels, Mapping) else list(panels)
    if not items:
        raise ValueError(f"{name} is empty; give at least one (title, array) panel")
    return [(str(t), np.asarray(a)) for t, a in items]


def _grid(n: int, ncols: int | None, size: float = 3.0) -> tuple[Figure, np.ndarray]:
    cols = max(1, min(n, ncols or math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    return fig, axes.flat[:n]


def _style_panel(ax: Any, title: str) -> None:
    """Title and tick labels of one panel of a grid of small panels."""
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def _finish(fig: Figure, suptitle: str | None = None) -> Figure:
    """Add the figure title `suptitle` (when not empty), tighten the layout and return `fig`."""
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _titled(fig: Figure, ax: Any, title: str | None, **title_kw: Any) -> Figure:
    """Title the single axis `ax` (when `title` is not empty), then `_finish` the figure."""
    if title:
        ax.set_title(title, **title_kw)
    return _finish(fig)


def _check_ndim(name: str, arr: np.ndarray, ndim: int, shape: str) -> None:
    if arr.ndim != ndim:
        raise ValueError(f"{name} has shape {arr.shape}; expected {shape}")


def plot_samples_2d(
    panels: Panels,
    *,
    reference: np.ndarray | None = None,
    centres: np.ndarray | None = None,
    lim: float | None = 1.6,
    ncols: int | None = None,
    max_points: int = 2000,
    suptitle: str | None = None,
) -> Figure:
    """One scatter panel per ``(title, samples (N, 2))``; ``reference`` (M, 2) is drawn in grey
    behind each panel and ``centres`` (K, 2) as crosses."""
    items = _panels(panels, "panels")
    fig, axes = _grid(len(items), ncols)
    for ax, (title, pts) in zip(axes, items, strict=True):
        _check_ndim(f"panel {title!r}", pts, 2, "(N, 2)")
        if reference is not None:
            ref = np.asarray(reference)[:max_points]
            ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.75", label="data")
        ax.scatter(pts[:max_points, 0], pts[:max_points, 1], s=2, c="C0", label="samples")
        if centres is not None:
            c = np.asarray(centres)
            ax.scatter(c[:, 0], c[:, 1], marker="x", c="C3", s=30)
        if lim is not None:
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        _style_panel(ax, title)
    return _finish(fig, suptitle)


def plot_sample_histograms(
    panels: Panels,
    *,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    bins: int = 50,
    xlim: tuple[float, float] = (-5.0, 5.0),
    ncols: int | None = None,
    suptitle: str | None = None,
) -> Figure:
    """One density histogram per ``(title, samples (N,) or (N, 1))``, e.g. generator snapshots
    along training; ``reference = (x, pdf)`` is drawn on every panel."""
    items = _panels(panels, "panels")
    fig, axes = _grid(len(items), ncols, size=2.6)
    for ax, (title, s) in zip(axes, items, strict=True):
        ax.hist(s.reshape(-1), bins=bins, range=xlim, density=True, color="C0", alpha=0.7)
        if reference is not None:
            ax.plot(reference[0], reference[1], c="k", lw=1)
        ax.set_xlim(*xlim)
        _style_panel(ax, title)
    return _finish(fig, suptitle)


def plot_density_1d(
    x: np.ndarray,
    curves: Mapping[str, np.ndarray],
    *,
    samples: Mapping[str, np.ndarray] | None = None,
    shade: np.ndarray | None = None,
    title: str | None = None,
    xlabel: str = "x",
    ylabel: str = "density",
    bins: int = 60,
) -> Figure:
    """Curves ``{label: y (G,)}`` over the grid ``x`` (G,) on one axis; optional histograms of
    ``samples`` and a shaded region where the boolean mask ``shade`` (G,) holds."""
    x = np.asarray(x).reshape(-1)
    if not curves:
        raise ValueError("curves is empty; give at least one {label: values} entry")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, s in (samples or {}).items():
        ax.hist(np.asarray(s).reshape(-1), bins=bins, range=(x.min(), x.max()), density=True,
                alpha=0.3, label=label)
    for label, y in curves.items():
        y = np.asarray(y).reshape(-1)
        if y.shape != x.shape:
            raise ValueError(f"curve {label!r} has {y.shape[0]} values; expected {x.shape[0]}")
        ax.plot(x, y, label=label, lw=1.5)
    if shade is not None:
        lo, hi = ax.get_ylim()
        ax.fill_between(x, lo, hi, where=np.asarray(shade, bool), color="0.9", zorder=0,
                        label="evaluated region")
        ax.set_ylim(lo, hi)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return _titled(fig, ax, title)


def plot_scalar_field_2d(
    xx: np.ndarray,
    yy: np.ndarray,
    values: np.ndarray,
    *,
    points: np.ndarray | None = None,
    title: str | None = None,
    cmap: str = "coolwarm",
    levels: int | Sequence[float] = 20,
    label: str = "score",
    discrete: Sequence[str] | None = None,
) -> Figure:
    """A scalar field (e.g. a critic or D_TV) over a grid ``xx, yy, values`` (H, W) as filled
    contours with a colour bar; ``points`` (N, 2) are overlaid. ``discrete = (name0, name1)``
    draws a 0/1 map (e.g. inside / outside a confidence interval) with a two-entry legend."""
    xx, yy, values = (np.asarray(a) for a in (xx, yy, values))
    if not (xx.shape == yy.shape == values.shape) or values.ndim != 2:
        raise ValueError(
            f"xx {xx.shape}, yy {yy.shape} and values {values.shape} must share one (H, W) shape"
        )
    fig, ax = plt.subplots(figsize=(5, 4.3))
    if discrete is not None:
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        colours = ["#d8e8f5", "#f5c9c0"]
        ax.pcolormesh(xx, yy, values.astype(float), cmap=ListedColormap(colours), vmin=0, vmax=1,
                      shading="auto")
        handles = [Patch(color=c, label=n) for c, n in zip(colours, discrete, strict=True)]
        ax.legend(handles=handles, loc="upper right", fontsize=8)
    else:
        cs = ax.contourf(xx, yy, values, levels=levels, cmap=cmap)
        fig.colorbar(cs, ax=ax, label=label)
    if points is not None:
        p = np.asarray(points)
        ax.scatter(p[:, 0], p[:, 1], s=1, c="k", alpha=0.4)
    ax.set_aspect("equal")
    return _titled(fig, ax, title, fontsize=10)


def plot_score_densities(
    scores: np.ndarray | Mapping[str, np.ndarray],
    labels: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    bins: int = 40,
    ncols: int | None = None,
    suptitle: str | None = None,
) -> Figure:
    """Histogram densities of anomaly scores per class. ``scores`` (N,) or
    ``{detector: (N,)}`` (one panel each); ``labels`` (N,) ints indexing ``class_names``
    (default: 0 = normal, 1 = anomaly)."""
    panels = {"scores": scores} if not isinstance(scores, Mapping) else dict(scores)
    labels = np.asarray(labels).reshape(-1)
    ks = np.unique(labels)
    names = list(class_names) if class_names is not None else ["normal", "anomaly"]
    if ks.size and (ks.min() < 0 or ks.max() >= len(names)):
        raise ValueError(
            f"labels span {ks.min()}..{ks.max()} but class_names has {len(names)} entries"
        )
    fig, axes = _grid(len(panels), ncols, size=3.2)
    for ax, (title, s) in zip(axes, panels.items(), strict=True):
        s = np.asarray(s).reshape(-1)
        if s.shape != labels.shape:
            raise ValueError(f"scores {title!r} has {s.size} values; labels has {labels.size}")
        lo, hi = float(np.min(s)), float(np.max(s))
        hi = hi if hi > lo else lo + 1.0
        for k in ks:
            ax.hist(s[labels == k], bins=bins, range=(lo, hi), density=True, alpha=0.5,
                    label=names[int(k)])
        ax.xaxis.set_major_locator(MaxNLocator(4))
        _style_panel(ax, title)
        ax.set_xlabel("score (higher = more anomalous)", fontsize=8)
        ax.legend(fontsize=7)
    return _finish(fig, suptitle)


def plot_training_curves(
    records: Mapping[str, Sequence[float]],
    *,
    keys: Sequence[str] | None = None,
    x: str = "epoch",
    title: str | None = None,
    smooth: int = 1,
) -> Figure:
    """One panel per record key (default: every key except ``x`` and ``gen_iter``) against
    ``x``; ``smooth`` > 1 adds a moving average."""
    if x not in records:
        raise ValueError(f"x={x!r} is not a key of records; keys are {sorted(records)}")
    xs = np.asarray(records[x], dtype=float)
    keys = [k for k in (keys or records) if k not in (x, "gen_iter")]
    missing = [k for k in keys if k not in records]
    if missing or not keys:
        raise ValueError(f"keys {missing or keys} not plottable; records has {sorted(records)}")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        ys = np.asarray(records[key], dtype=float)
        ax.plot(xs, ys, lw=0.6, alpha=0.6 if smooth > 1 else 1.0)
        if smooth > 1 and len(ys) >= smooth:
            kernel = np.ones(smooth) / smooth
            ax.plot(xs[smooth - 1 :], np.convolve(ys, kernel, mode="valid"), lw=1.4)
        _style_panel(ax, key.replace("_", " "))
        ax.set_xlabel(x, fontsize=8)
    return _finish(fig, title)



def plot_fit_curves(
    records: Mapping[str, Sequence[float]],
    dtv_records: Mapping[str, Sequence[float]] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """The training curves saved beside a fitted model (``training.png``): the GAN's critic
    and generator losses, Wasserstein estimate and gradient penalty against the epoch, one
    labelled axis with a legend; with ``dtv_records`` (HistoryAD's D_TV training: step,
    loss, tv) a second axis with its loss and total-variation estimate against the step."""
    if "epoch" not in records or not len(records["epoch"]):
        raise ValueError(f"records hold no epoch values; keys are {sorted(records)}")
    xs = np.asarray(records["epoch"], dtype=float)
    has_dtv = bool(dtv_records) and len(dtv_records.get("step", ())) > 0
    fig, axes = plt.subplots(1, 2 if has_dtv else 1, figsize=(11 if has_dtv else 6.5, 3.8),
                             squeeze=False)
    ax = axes[0, 0]
    labels = {"critic_loss": "critic loss", "generator_loss": "generator loss",
              "wasserstein": "Wasserstein estimate", "gradient_penalty": "gradient penalty"}
    for key, label in labels.items():
        if key in records and len(records[key]) == len(xs):
            ax.plot(xs, np.asarray(records[key], dtype=float), lw=0.9, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss / estimate")
    ax.set_title("GAN training")
    ax.legend(fontsize=8)
    if has_dtv:
        ax2 = axes[0, 1]
        steps = np.asarray(dtv_records["step"], dtype=float)
        for key, label in (("loss", "D_TV loss"), ("tv", "total-variation estimate"),
                           ("auprc", "validation AUPRC")):
            if key in dtv_records and len(dtv_records[key]) == len(steps):
                ax2.plot(steps, np.asarray(dtv_records[key], dtype=float), marker="o", ms=2,
                         label=label)
        ax2.set_xlabel("D_TV step")
        ax2.set_ylabel("loss / estimate")
        ax2.set_title("D_TV training")
        ax2.legend(fontsize=8)
    return _finish(fig, title)


def plot_image_grid(
    images: np.ndarray,
    *,
    nrow: int = 8,
    title: str | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> Figure:
    """Images (N, C, H, W) with C in {1, 3} (values in ``value_range``) tiled on one axis."""
    imgs = np.asarray(images, dtype=float)
    if imgs.ndim != 4 or imgs.shape[1] not in (1, 3) or len(imgs) == 0:
        raise ValueError(f"images has shape {imgs.shape}; expected (N >= 1, C in {{1, 3}}, H, W)")
    n, c, h, w = imgs.shape
    cols = max(1, min(nrow, n))
    rows = math.ceil(n / cols)
    lo, hi = value_range
    imgs = np.clip((imgs - lo) / (hi - lo), 0.0, 1.0)
    canvas = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, c))
    for i in range(n):
        r, q = divmod(i, cols)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = (
            imgs[i].transpose(1, 2, 0)
        )
    fig, ax = plt.subplots(figsize=(0.6 * cols + 0.5, 0.6 * rows + 0.5))
    ax.imshow(canvas[..., 0] if c == 1 else canvas, cmap="gray" if c == 1 else None,
              vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    return _titled(fig, ax, title, fontsize=9)


def plot_boxplots(
    groups: Mapping[str, Sequence[float]],
    *,
    ylabel: str = "AUPRC",
    title: str | None = None,
    reference: Mapping[str, float] | None = None,
) -> Figure:
    """One box per group (e.g. AUPRC over anomalies per detector); ``reference`` values
    (e.g. a paper's means) are drawn as red diamonds."""
    if not groups:
        raise ValueError("groups is empty; give at least one {name: values} entry")
    names = list(groups)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names) + 1), 3.6))
    ax.boxplot([np.asarray(groups[n], float) for n in names])
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
    if reference:
        for i, n in enumerate(names, 1):
            if n in reference:
                ax.scatter([i], [reference[n]], marker="D", c="C3", zorder=3)
    ax.set_ylabel(ylabel)
    return _titled(fig, ax, title)


def plot_metric_along_training(
    steps: Sequence[float],
    values: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "step",
    ylabel: str = "AUPRC",
    title: str | None = None,
) -> Figure:
    """Curves ``{label: values}`` against ``steps`` on one axis (e.g. AUPRC along training)."""
    if not values:
        raise ValueError("values is empty; give at least one {label: values} entry")
    xs = np.asarray(steps, float)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for label, ys in values.items():
        ys = np.asarray(ys, float)
        if ys.shape != xs.shape:
            raise ValueError(f"values {label!r} has {ys.size} entries; steps has {xs.size}")
        ax.plot(xs, ys, marker="o", ms=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return _titled(fig, ax, title)


def plot_metric_bars(
    records: Sequence[Mapping[str, Any]],
    *,
    metric: str = "auprc",
    group: str = "anomaly",
    title: str | None = None,
) -> Figure:
    """Grouped bars of ``metric`` per ``group`` value (x) and detector (colour)."""
    if not records:
        raise ValueError("records is empty; give at least one result record")
    groups = list(dict.fromkeys(str(r[group]) for r in records))
    dets = list(dict.fromkeys(str(r["detector"]) for r in records))
    width = 0.8 / len(dets)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(groups) * max(1, len(dets) / 3)), 3.6))
    for j, d in enumerate(dets):
        vals = {str(r[group]): float(r[metric]) for r in records if str(r["detector"]) == d}
        xs = np.arange(len(groups)) + (j - (len(dets) - 1) / 2) * width
        ax.bar(xs, [vals.get(g, np.nan) for g in groups], width=width, label=d)
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric.upper())
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, ncol=min(3, len(dets)))
    return _titled(fig, ax, title)


def plot_rank_summary(set_records: Sequence[Mapping[str, Any]], *, metric: str = "auprc"
                      ) -> Figure:  # fmt: skip
    """Left: each detector's rank per set (1 = best ``metric``; rows = sets grouped by
    family, columns = detectors ordered by mean rank). Right: the mean rank per detector.
    ``set_records``: {"set", "family", "detector", metric} rows (one per set and detector)."""
    from scipy.stats import rankdata

    if not set_records:
        raise ValueError("set_records is empty; give at least one benchmark record")
    sets = list(dict.fromkeys((str(r["family"]), str(r["set"])) for r in set_records))
    sets.sort(key=lambda fs: fs[0])
    dets = list(dict.fromkeys(str(r["detector"]) for r in set_records))
    value = {(str(r["set"]), str(r["detector"])): float(r[metric]) for r in set_records}
    ranks = np.full((len(sets), len(dets)), np.nan)
    for i, (_, s) in enumerate(sets):
        have = [j for j, d in enumerate(dets) if (s, d) in value]
        ranks[i, have] = rankdata([-value[(s, dets[j])] for j in have], method="average")
    mean = np.nanmean(ranks, axis=0)
    order = np.argsort(mean)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(4 + 0.55 * len(dets), 1.5 + 0.22 * len(sets)),
                                 gridspec_kw={"width_ratios": [3, 1]})
    im = ax.imshow(ranks[:, order], cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(dets)), [dets[j] for j in order], rotation=45, ha="right",
                  fontsize=8)
    ax.set_yticks(range(len(sets)), [f"{f}: {s}" for f, s in sets], fontsize=7)
    fig.colorbar(im, ax=ax, label="rank (1 = best)")
    ax.set_title(f"rank by {metric.upper()} per set")
    bx.barh(range(len(dets)), mean[order][::-1], color="tab:blue")
    bx.set_yticks(range(len(dets)), [dets[j] for j in order][::-1], fontsize=8)
    bx.set_xlabel("mean rank (lower = better)")
    return _finish(fig)


__all__ = [
    "plot_boxplots",
    "plot_density_1d",
    "plot_fit_curves",
    "plot_image_grid",
    "plot_metric_along_training",
    "plot_metric_bars",
    "plot_rank_summary",
    "plot_sample_histograms",
    "plot_samples_2d",
    "plot_scalar_field_2d",
    "plot_score_densities",
    "plot_training_curves",
]
