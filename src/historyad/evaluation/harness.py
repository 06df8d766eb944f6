"""Run several detectors on one split, sharing a single trained GAN between the GAN-based
ones, and return the records of ``metrics.json``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from historyad.detectors.base import BaseDetector
from historyad.detectors.gan_base import GANDetector
from historyad.detectors.registry import get_detector
from historyad.evaluation.metrics import auprc, auroc

logger = logging.getLogger(__name__)

GAN_KEYS = ("loss", "n_epochs", "batch_size", "n_critic", "gp_lambda", "gan_lr", "net_size",
            "width", "latent_dim", "min_iterations", "device", "random_state", "standardize")


@dataclass
class Result:
    """One row of ``metrics.json`` (plus the scores, kept in memory for figures)."""

    detector: str
    dataset: str
    protocol: str
    anomaly: str
    auprc: float
    auroc: float
    fit_seconds: float
    score_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    scores: np.ndarray | None = None
    model: BaseDetector | None = None

    def record(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (
            "detector", "dataset", "protocol", "anomaly", "auprc", "auroc",
            "fit_seconds", "score_seconds")}
        out.update(self.extra)
        return out


def evaluate_detectors(
    X_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    detectors: dict[str, dict[str, Any]],
    *,
    gan: dict[str, Any] | None = None,
    history: dict[str, Any] | None = None,
    dataset: str = "",
    protocol: str = "",
    anomaly: str = "",
    keep_models: bool = False,
    checkpoint: str | Path | None = None,
    share_gan: bool = False,
) -> list[Result]:
    """Fit each detector ``{label: {"name": registry name, **params}}`` on ``X_train`` and
    score ``X_test``. GAN detectors take the ``gan`` params (and HistoryAD the ``history``
    params: saves_per_epoch, alpha, beta) under their own; detectors whose GAN settings are
    equal (``GANDetector.training_configs``) share one trained GAN (``from_gan``), and their
    ``fit_seconds`` include its training time. ``share_gan=True``: every GAN detector reuses
    the first one's GAN whatever its own settings (the papers' experiments: one GAN, several
    detectors; put a detector that needs the history first). ``checkpoint``: where to save the
    first GAN (later distinct GANs go beside it as ``<stem>-<label>.safetensors``)."""
    gan = dict(gan or {})
    results: list[Result] = []
    runs: dict[str, Any] = {}  # repr(training configs) -> GANRun
    for label, spec in detectors.items():
        spec = dict(spec)
        klass = get_detector(spec.pop("name", label))
        params = spec
        if issubclass(klass, GANDetector):
            params = {**gan, **((history or {}) if klass.needs_history else {}), **spec}
        det = klass(**params)
        gan_seconds, key = 0.0, None
        if isinstance(det, GANDetector):
            key = "shared" if share_gan else repr(det.training_configs())
            if key in runs:
                det = klass.from_gan(runs[key], **params)
                gan_seconds = float(runs[key].fit_seconds)
        t0 = time.perf_counter()
        det.fit(X_train)
        fit_s = time.perf_counter() - t0 + gan_seconds
        if key is not None and key not in runs:
            runs[key] = det.gan_
            if checkpoint is not None:
                path = Path(checkpoint)
                if len(runs) > 1:
                    path = path.with_name(f"{path.stem}-{label}{path.suffix}")
                det.gan_.save(path)
            logger.info("GAN for %s trained in %.1f s", label, det.gan_.fit_seconds)
        t0 = time.perf_counter()
        scores = det.decision_function(X_test)
        score_s = time.perf_counter() - t0
        res = Result(
            detector=label,
            dataset=dataset,
            protocol=protocol,
            anomaly=str(anomaly),
            auprc=auprc(y_test, scores),
            auroc=auroc(y_test, scores),
            fit_seconds=round(fit_s, 3),
            score_seconds=round(score_s, 3),
            scores=scores,
            model=det if keep_models else None,
        )
        logger.info("%s %s: AUPRC %.3f AUROC %.3f", label, anomaly, res.auprc, res.auroc)
        results.append(res)
    return results
