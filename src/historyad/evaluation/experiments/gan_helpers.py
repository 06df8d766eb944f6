"""Helpers shared by the GAN experiments on images (``mnist-leave-one-out``,
``mnist-vs-kmnist``, ``mnist-noise``, ``mnist-interpolation``, ``saves-per-epoch``,
``svhn-vs-others``): their common settings (``GANExperimentConfig``, the quick schedules),
one shared WGAN-GP with its generator history (``train_shared_gan``), the detector labels
and their harness specs, fitting and scoring through ``evaluation.harness`` and the
schedule paragraphs of the reports.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from historyad.evaluation.experiments.common import RunContext

if TYPE_CHECKING:
    from historyad.detectors.base import BaseDetector
    from historyad.training.trainer import GANRun

logger = logging.getLogger(__name__)

#: Detector labels understood by ``detector_specs``.
DETECTOR_LABELS = (
    "historyad", "historyad-knn", "historyad-network", "historyad-two-sided", "historyad-case1",
    "historyad-case2", "historyad-no-training", "critic", "encoder", "inversion", "knn",
)  # fmt: skip
# HistoryAD variants: "historyad" is the defaults (seed 000's D_TV network; "historyad-network"
# is the same, kept for older configs); "historyad-knn" is the knn estimator of eq. 11's
# optimum; the others are the network trained (case 1 / 2, raw or two-sided score) or not.
HISTORYAD_VARIANTS: dict[str, dict[str, Any]] = {
    "historyad": {},
    "historyad-knn": {"estimator": "knn"},
    "historyad-network": {"estimator": "network"},
    "historyad-two-sided": {"estimator": "network", "score": "two-sided"},
    "historyad-case1": {"estimator": "network", "case": 1},
    "historyad-case2": {"estimator": "network", "case": 2},
    "historyad-no-training": {"estimator": "network", "train_dtv": False},
}
#: Labels whose fit trains a D_TV network (and can record validation AUPRC along it).
DTV_TRAINED = tuple(label for label, kw in HISTORYAD_VARIANTS.items()
                    if kw.get("estimator", "network") == "network" and kw.get("train_dtv", True))

# The full (paper) GAN schedule on MNIST: seed 000 §4.3 (5 epochs, ~5 M parameters per net).
# The paper schedules are in epochs: no floor on the generator iterations (min_iterations 0).
FULL_GAN: dict[str, Any] = {"n_epochs": 5.0, "net_size": "paper", "min_iterations": 0}
# Quick runs on a CPU (2 busy cores). Two flavours:
# - QUICK_COMMON caps the training data (several GANs per run: one per digit or setting) and
#   keeps the paper's 5 epochs; an epoch is then short (6000 images: 18 generator iterations
#   instead of MNIST's 187), so the history window α = 1 epoch starts early in training.
# - QUICK_FULL_DATA (one GAN per run) keeps the whole training split, so that an epoch, α and
#   β mean what they mean in the paper, and trains 1.5 epochs (~280 generator iterations,
#   ~2 min); the encoder, kNN and HistoryAD's knn estimator are fitted on a subset
#   (``fit_max``).
# Both use the small nets, fewer snapshots and shorter D_TV / encoder / inversion runs.
QUICK_COMMON: dict[str, Any] = {
    "max_train": 6000,
    "max_test": 2000,
    "gan": {"n_epochs": 5.0, "net_size": "cpu", "min_iterations": 0},
    "historyad": {"saves_per_epoch": 10, "dtv_steps": 500},
    "encoder": {"encoder_epochs": 2.0},
    "inversion": {"inversion_steps": 20},
}
QUICK_FULL_DATA: dict[str, Any] = {
    **QUICK_COMMON,
    "max_train": None,
    "gan": {"n_epochs": 1.5, "net_size": "cpu", "min_iterations": 0},
    # kNN and HistoryAD's knn estimator are memory-based: fit scores every training image
    # against all of them (O(N²) distances), so they see 10 000 of the ~60 000 images
    "fit_max": {"encoder": 6000, "knn": 10000, "historyad": 10000},
}


@dataclass
class GANExperimentConfig:
    """Settings shared by the GAN experiments on images (each field overridable in
    ``[experiment]``; the nested dicts merge key by key).

    ``gan``: parameters of the shared WGAN-GP (keys of ``harness.GAN_KEYS``); ``historyad``,
    ``critic``, ``encoder``, ``inversion``, ``knn``: detector parameters passed on top of the
    detectors' own defaults (empty = the defaults). ``fit_max``: ``{detector label: n}`` fits
    that detector on the first n training images only (a random subset: training sets are
    shuffled); the GAN always sees all of them. The inversion detector's ``fit`` only scores
    training images for its threshold, so capping it leaves AUPRC/AUROC unchanged.
    """

    max_train: int | None = None
    max_test: int | None = None
    gan: dict[str, Any] = field(default_factory=lambda: dict(FULL_GAN))
    historyad: dict[str, Any] = field(default_factory=dict)
    critic: dict[str, Any] = field(default_factory=dict)
    encoder: dict[str, Any] = field(default_factory=dict)
    inversion: dict[str, Any] = field(default_factory=dict)
    knn: dict[str, Any] = field(default_factory=dict)
    fit_max: dict[str, int] = field(default_factory=lambda: {"inversion": 512})
    detectors: list[str] = field(
        default_factory=lambda: ["historyad", "historyad-knn", "historyad-no-training",
                                 "critic", "encoder", "knn"]
    )  # fmt: skip


@dataclass
class SharedGAN:
    """One trained GAN (with its history) and the keyword arguments its detectors share."""

    run: GANRun
    seconds: float
    gan_kwargs: dict[str, Any]
    historyad_kwargs: dict[str, Any]


def check_labels(labels: list[str]) -> None:
    """Reject detector labels that ``detector_specs`` does not know."""
    unknown = [lab for lab in labels if lab not in DETECTOR_LABELS]
    if unknown:
        raise ValueError(f"detectors {unknown} are unknown; choose from {list(DETECTOR_LABELS)}")


def gan_kwargs(cfg: GANExperimentConfig, ctx: RunContext) -> dict[str, Any]:
    """The GAN keyword arguments of every GAN detector: ``cfg.gan`` plus seed and device."""
    from historyad.evaluation.harness import GAN_KEYS

    unknown = sorted(set(cfg.gan) - set(GAN_KEYS))
    if unknown:
        raise ValueError(f"[experiment.gan] keys {unknown} are unknown; allowed: {list(GAN_KEYS)}")
    return {"random_state": ctx.seed, "device": ctx.device, **cfg.gan}


def train_shared_gan(
    X_train: np.ndarray,
    gan: dict[str, Any],
    historyad: dict[str, Any],
    *,
    save_to: Path | None = None,
) -> SharedGAN:
    """Train one WGAN-GP on ``X_train`` (images in [-1, 1]) recording the generator history
    that HistoryAD with ``{**gan, **historyad}`` asks for (``harness.train_gan_for``)."""
    from historyad.detectors.history_ad import HistoryAD
    from historyad.evaluation.harness import train_gan_for

    hist_kw = {**gan, **historyad}
    # record the history (and the eq. 14 critic average) the network variants need; the knn
    # estimator samples its own window from the same snapshots
    run = train_gan_for(HistoryAD(**{"estimator": "network", **hist_kw}), X_train,
                        save_to=save_to)
    n_snap = len(run.recorder.store.times) if run.recorder is not None else 0
    logger.info(
        "shared GAN: %d images, %d generator iterations, %d snapshots, %.1f s",
        len(X_train), len(run.records["gen_iter"]), n_snap, run.fit_seconds,
    )  # fmt: skip
    return SharedGAN(run, float(run.fit_seconds), dict(gan), hist_kw)


def detector_specs(
    labels: list[str], shared: SharedGAN | None, cfg: GANExperimentConfig
) -> dict[str, dict[str, Any]]:
    """The harness specs ``{label: {"name": registry name, **params}}`` of ``labels``; the
    GAN parameters come from ``shared`` (``harness.evaluate_detectors(gan=...)``)."""
    specs: dict[str, dict[str, Any]] = {}
    for label in labels:
        if label == "knn":
            specs[label] = {"name": "knn", **cfg.knn}
            continue
        if shared is None:
            raise ValueError(f"detector {label!r} needs a trained GAN")
        if label in HISTORYAD_VARIANTS:
            specs[label] = {"name": "historyad", **shared.historyad_kwargs,
                            **HISTORYAD_VARIANTS[label]}
        elif label in ("critic", "encoder", "inversion"):
            specs[label] = {"name": label, **getattr(cfg, label)}
        else:
            raise ValueError(f"detector {label!r} is unknown; choose from {list(DETECTOR_LABELS)}")
    return specs


def _harness_kwargs(
    labels: list[str], shared: SharedGAN | None, cfg: GANExperimentConfig
) -> dict[str, Any]:
    return {"detectors": detector_specs(labels, shared, cfg),
            "gan": shared.gan_kwargs if shared is not None else None,
            "gan_run": shared.run if shared is not None else None, "fit_max": cfg.fit_max}


def fit_detectors(
    labels: list[str],
    shared: SharedGAN | None,
    cfg: GANExperimentConfig,
    X_train: np.ndarray,
    *,
    fit_extra: dict[str, dict[str, Any]] | None = None,
) -> dict[str, tuple[BaseDetector, float]]:
    """``{label: (fitted detector, fit seconds)}`` (``harness.fit_each``); the seconds of GAN
    detectors include the shared GAN's training. ``fit_extra[label]`` adds keyword arguments
    to that detector's ``fit`` (e.g. ``X_val``/``y_val`` for HistoryAD)."""
    from historyad.evaluation.harness import fit_each

    fitted = fit_each(X_train, **_harness_kwargs(labels, shared, cfg), fit_kwargs=fit_extra)
    return {label: (det, fit_s) for label, det, fit_s in fitted}


def evaluate_on_gan(
    labels: list[str],
    shared: SharedGAN | None,
    cfg: GANExperimentConfig,
    X_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    dataset: str,
    protocol: str,
    anomaly: str,
    fit_extra: dict[str, dict[str, Any]] | None = None,
    **extra: Any,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], dict[str, BaseDetector]]:
    """Fit every detector of ``labels`` on the shared GAN and score ``X_test``
    (``harness.evaluate_detectors``).

    Returns ``(records, {label: test scores}, {label: fitted detector})``."""
    from historyad.evaluation.harness import evaluate_detectors

    results = evaluate_detectors(
        X_train, X_test, y_test, **_harness_kwargs(labels, shared, cfg), fit_kwargs=fit_extra,
        dataset=dataset, protocol=protocol, anomaly=anomaly, keep_models=True, extra=extra,
    )  # fmt: skip
    return ([r.record() for r in results], {r.detector: r.scores for r in results},
            {r.detector: r.model for r in results})


def fit_max_md(cfg: GANExperimentConfig) -> str:
    """One sentence on the detectors fitted on a subset of the training images."""
    used = set(getattr(cfg, "detectors", ()))
    caps = {k: v for k, v in cfg.fit_max.items() if k in used and v is not None}
    if not caps:
        return "Every detector is fitted on all training images."
    parts = ", ".join(f"`{k}` on {v}" for k, v in caps.items())
    note = (" (the inversion's `fit` only scores training images for its threshold: "
            "AUPRC/AUROC are unaffected)" if "inversion" in caps else "")  # fmt: skip
    return f"Fitted on a random subset of the training images: {parts}{note}; the GAN and the "\
        "other detectors use all of them."


_UNSET = object()


def _show(value: Any, missing: str = "the detector default") -> str:
    return missing if value is _UNSET else f"`{value!r}`"


def schedule_md(
    cfg: Any,
    ctx: RunContext,
    iters_per_epoch: int | None = None,
    full_epoch: str = "the whole MNIST training split: 187",
) -> str:
    """Markdown list of the settings that differ from the full (paper) schedule, and the
    length of an epoch in generator iterations (the unit of α, β and snapshot times)."""
    full = dataclasses.asdict(type(cfg)())
    now = dataclasses.asdict(cfg)
    used = set(getattr(cfg, "detectors", DETECTOR_LABELS))
    unused = {k for k in ("critic", "encoder", "inversion", "knn") if k not in used}
    lines = []
    for key, value in now.items():
        ref = full.get(key)
        if key in unused:
            continue
        if isinstance(value, dict) and isinstance(ref, dict):
            missing = {"peers": "not run", "fit_max": "all"}.get(key, "the detector default")
            for sub in sorted(set(value) | set(ref)):
                if key == "fit_max" and sub in unused:
                    continue
                if value.get(sub, _UNSET) != ref.get(sub, _UNSET):
                    lines.append(
                        f"- `{key}.{sub}`: full {_show(ref.get(sub, _UNSET), missing)} → "
                        f"this run {_show(value.get(sub, _UNSET), missing)}"
                    )
        elif value != ref:
            lines.append(f"- `{key}`: full {_show(ref)} → this run {_show(value)}")
    head = "**Quick run** (CPU-sized). " if ctx.quick else ""
    tail = ""
    if iters_per_epoch is not None:
        tail = (f"\n\nOne epoch = {iters_per_epoch} generator iterations here ({full_epoch}); "
                "α, β and the snapshot times count these epochs.")
    if not lines:
        return head + "Full schedule: no setting differs from the paper schedule." + tail
    return (head + "Settings that differ from the full (paper) schedule:\n\n"
            + "\n".join(lines) + tail)
