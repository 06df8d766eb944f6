"""The library's one fit-and-score path: fit detectors on one split, sharing trained GANs
between the GAN-based ones through the public ``GANDetector.training_configs`` / ``from_gan``,
score the test data and return the records of ``metrics.json``.

Every caller goes through here: ``historyad evaluate`` and ``historyad fit``
(``evaluation.jobs``), ``historyad benchmark`` (``evaluation.benchmark``), every
``historyad reproduce`` experiment and every study script in ``benchmarks/`` that fits a
detector. Two kinds of script call lower layers on purpose: ablations of parts that are not
detectors (the generator study's score terms against other references, the D_TV studies'
weight averages and training variants) and the timing benchmarks (``bench_*.py``), which
time ``fit`` and ``decision_function`` alone (GPU synchronisation, precision modes, peak
memory resets) rather than a fit-and-score pipeline. PyOD peers are fitted and scored by
``evaluation.peers.run_peers`` on the same splits.

- ``evaluate_detectors``: fit and score each detector in turn (the usual entry point);
- ``fit_each`` / ``score_fitted``: its two halves, for experiments that score one fit on
  several test sets;
- ``train_gan_for``: the GAN a detector's ``fit`` would train, for sharing with ``from_gan``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from historyad.detectors.base import BaseDetector
from historyad.detectors.gan_base import GAN_PARAMETERS, GANDetector
from historyad.detectors.registry import get_detector
from historyad.evaluation.metrics import ranking_metrics

if TYPE_CHECKING:
    from historyad.training.trainer import GANRun

logger = logging.getLogger(__name__)

#: The GAN parameters every GAN detector shares: ``gan_base.GAN_PARAMETERS`` but ``progress``
#: (the caller's), plus ``device`` and ``standardize``. They are the ``gan`` settings of the
#: harness, ``[gan]`` of ``historyad evaluate`` and ``[experiment.gan]`` of the experiments.
GAN_KEYS = (*(k for k in GAN_PARAMETERS if k != "progress"), "device", "standardize")
#: HistoryAD's generator-history parameters (the ``history`` settings, ``[history]``).
HISTORY_KEYS = ("saves_per_epoch", "alpha", "beta")


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


def train_gan_for(detector: GANDetector, X: Any, *, save_to: str | Path | None = None) -> GANRun:
    """Train the GAN that ``detector.fit`` would train (``training_configs``) on ``X`` (as
    the detector sees it: images pass unchanged), to share through ``from_gan``."""
    import torch

    from historyad.training.trainer import train_gan

    gan_cfg, net_cfg, history_cfg = detector.training_configs()
    X_t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    run = train_gan(X_t, gan_cfg, net_cfg, history_cfg)
    if save_to is not None:
        run.save(save_to)
    return run


def fit_each(
    X_train: np.ndarray,
    detectors: dict[str, dict[str, Any]],
    *,
    gan: dict[str, Any] | None = None,
    history: dict[str, Any] | None = None,
    share_gan: bool = False,
    gan_run: GANRun | None = None,
    checkpoint: str | Path | None = None,
    fit_max: dict[str, int | None] | None = None,
    fit_kwargs: dict[str, dict[str, Any]] | None = None,
) -> Iterator[tuple[str, BaseDetector, float]]:
    """Fit each detector ``{label: {"name": registry name, **params}}`` on ``X_train`` and
    yield ``(label, fitted detector, fit seconds)`` one at a time (lazily: the caller may
    score each before the next is fitted). Settings as ``evaluate_detectors``."""
    gan = dict(gan or {})
    runs: dict[str, Any] = {}  # sharing key -> GANRun
    if gan_run is not None:
        runs["shared"] = gan_run
    for label, spec in detectors.items():
        spec = dict(spec)
        klass = get_detector(spec.pop("name", label))
        params = spec
        if issubclass(klass, GANDetector):
            params = {**gan, **((history or {}) if klass.needs_history else {}), **spec}
        det = klass(**params)
        gan_seconds, key = 0.0, None
        if isinstance(det, GANDetector):
            key = "shared" if share_gan or gan_run is not None else repr(det.training_configs())
            if key in runs:
                det = klass.from_gan(runs[key], **params)
                gan_seconds = float(runs[key].fit_seconds)
        X_fit = X_train
        if (fit_max or {}).get(label) is not None:
            X_fit = X_train[: int(fit_max[label])]  # type: ignore[index]
        t0 = time.perf_counter()
        det.fit(X_fit, **(fit_kwargs or {}).get(label, {}))
        fit_s = time.perf_counter() - t0 + gan_seconds
        if key is not None and key not in runs:
            runs[key] = det.gan_
            if checkpoint is not None:
                path = Path(checkpoint)
                if len(runs) > 1:
                    path = path.with_name(f"{path.stem}-{label}{path.suffix}")
                det.gan_.save(path)
            logger.info("GAN for %s trained in %.1f s", label, det.gan_.fit_seconds)
        yield label, det, fit_s


def score_fitted(
    label: str,
    det: BaseDetector,
    fit_seconds: float,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    dataset: str = "",
    protocol: str = "",
    anomaly: str = "",
    keep_model: bool = False,
    extra: dict[str, Any] | None = None,
) -> Result:
    """Score ``X_test`` with a fitted detector: AUPRC, AUROC (NaN when ``y_test`` holds one
    class only) and the timings."""
    t0 = time.perf_counter()
    scores = det.decision_function(X_test)
    score_s = time.perf_counter() - t0
    ap, roc = ranking_metrics(y_test, scores)
    res = Result(
        detector=label,
        dataset=dataset,
        protocol=protocol,
        anomaly=str(anomaly),
        auprc=ap,
        auroc=roc,
        fit_seconds=round(fit_seconds, 3),
        score_seconds=round(score_s, 3),
        extra=dict(extra or {}),
        scores=scores,
        model=det if keep_model else None,
    )
    logger.info("%s %s: AUPRC %.3f AUROC %.3f", label, anomaly, res.auprc, res.auroc)
    return res


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
    gan_run: GANRun | None = None,
    fit_max: dict[str, int | None] | None = None,
    fit_kwargs: dict[str, dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> list[Result]:
    """Fit each detector ``{label: {"name": registry name, **params}}`` on ``X_train`` and
    score ``X_test``. GAN detectors take the ``gan`` params (and HistoryAD the ``history``
    params: saves_per_epoch, alpha, beta) under their own; detectors whose GAN settings are
    equal (``GANDetector.training_configs``) share one trained GAN (``from_gan``), and their
    ``fit_seconds`` include its training time. ``share_gan=True``: every GAN detector reuses
    the first one's GAN whatever its own settings (the papers' experiments: one GAN, several
    detectors; put a detector that needs the history first). ``gan_run``: a GAN trained
    beforehand (e.g. ``train_gan_for``) that every GAN detector reuses. ``checkpoint``: where
    to save the first GAN trained here (later distinct GANs go beside it as
    ``<stem>-<label>.safetensors``). ``fit_max[label]``: fit that detector on the first n
    training rows only; ``fit_kwargs[label]``: extra ``fit`` arguments (HistoryAD's
    ``X_val``/``y_val``); ``extra``: keys added to every record."""
    return [
        score_fitted(label, det, fit_s, X_test, y_test, dataset=dataset, protocol=protocol,
                     anomaly=anomaly, keep_model=keep_models, extra=extra)
        for label, det, fit_s in fit_each(
            X_train, detectors, gan=gan, history=history, share_gan=share_gan,
            gan_run=gan_run, checkpoint=checkpoint, fit_max=fit_max, fit_kwargs=fit_kwargs)
    ]
