"""PyOD peers: the classical detectors every historyad detector is compared with.

scikit-learn-style detectors of PyOD (Zhao et al., "PyOD: a Python toolbox for scalable
outlier detection", JMLR 2019; the ``peers`` extra), with PyOD's defaults: KNN (k = 5,
largest distance), LOF (k = 20), IForest (100 trees), ECOD, and PyOD's deep detectors. They
take flattened (N, D) inputs; ``run_peers`` fits and scores them on one split.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import time
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: label -> (module, class) of the PyOD peers (flattened inputs).
PEERS: dict[str, tuple[str, str]] = {
    "pyod-knn": ("pyod.models.knn", "KNN"),
    "pyod-lof": ("pyod.models.lof", "LOF"),
    "pyod-iforest": ("pyod.models.iforest", "IForest"),
    "pyod-ecod": ("pyod.models.ecod", "ECOD"),
    "pyod-autoencoder": ("pyod.models.auto_encoder", "AutoEncoder"),
    "pyod-deepsvdd": ("pyod.models.deep_svdd", "DeepSVDD"),
    "pyod-vae": ("pyod.models.vae", "VAE"),
    "pyod-anogan": ("pyod.models.anogan", "AnoGAN"),
    "pyod-alad": ("pyod.models.alad", "ALAD"),
}
_EPOCH_NAMES = ("epoch_num", "epochs")


def pyod_available() -> bool:
    """Whether ``pyod`` can be imported."""
    try:
        importlib.import_module("pyod")
    except ImportError:
        return False
    return True


def make_peer(label: str, params: dict[str, Any], *, n_features: int, seed: int) -> Any:
    """A PyOD detector for ``label``. ``params["epochs"]`` maps to the class's epoch argument
    (``epoch_num`` in PyOD 2, ``epochs`` before); ``n_features``, ``random_state`` and
    ``verbose=0`` are filled in when the class takes them; other unknown keys are an error."""
    module, cls = PEERS[label]
    klass = getattr(importlib.import_module(module), cls)
    sig = inspect.signature(klass)
    accepted = set(sig.parameters)
    kwargs = dict(params)
    if "epochs" in kwargs:
        epochs = kwargs.pop("epochs")
        name = next((n for n in _EPOCH_NAMES if n in accepted), None)
        if name is not None:
            kwargs[name] = epochs
    for key, value in (("n_features", n_features), ("random_state", seed), ("verbose", 0)):
        if key in accepted:
            kwargs.setdefault(key, value)
    unknown = sorted(set(kwargs) - accepted)
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        raise ValueError(f"{cls} does not take {unknown}; it takes {sorted(accepted)}")
    return klass(**kwargs)


def run_peers(
    peers: dict[str, dict[str, Any]],
    X_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    seed: int,
    dataset: str,
    protocol: str,
    anomaly: str,
    **extra: Any,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Fit and score the PyOD peers on flattened images. Returns ``(records, notes)``; a peer
    that fails is skipped with a note (it never stops the experiment)."""
    from historyad.evaluation.metrics import auprc, auroc

    if not peers:
        return [], []
    if not pyod_available():
        return [], ["PyOD is not installed (`pip install 'historyad[peers]'`): peers skipped."]
    Xtr = X_train.reshape(len(X_train), -1).astype(np.float32)
    Xte = X_test.reshape(len(X_test), -1).astype(np.float32)
    records, notes = [], []
    for label, params in peers.items():
        if label not in PEERS:
            raise ValueError(f"peer {label!r} is unknown; choose from {sorted(PEERS)}")
        try:
            det = make_peer(label, params, n_features=Xtr.shape[1], seed=seed)
            t0 = time.perf_counter()
            det.fit(Xtr)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            s = np.asarray(det.decision_function(Xte), dtype=np.float64).reshape(-1)
            score_s = time.perf_counter() - t0
            rec = {
                "detector": label, "dataset": dataset, "protocol": protocol,
                "anomaly": str(anomaly), "auprc": auprc(y_test, s), "auroc": auroc(y_test, s),
                "fit_seconds": round(fit_s, 3), "score_seconds": round(score_s, 3), **extra,
            }  # fmt: skip
        except Exception as exc:  # a broken optional peer must not stop the run
            logger.warning("peer %s failed on anomaly %s: %s", label, anomaly, exc)
            notes.append(f"{label} failed on anomaly {anomaly}: {type(exc).__name__}: {exc}")
            continue
        logger.info("%s %s: AUPRC %.3f", label, anomaly, rec["auprc"])
        records.append(rec)
    return records, notes



#: The classical peers of the benchmark (PyOD defaults).
CLASSICAL_PEERS: tuple[str, ...] = ("pyod-knn", "pyod-lof", "pyod-iforest", "pyod-ecod")
