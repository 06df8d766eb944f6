"""Check: a small sensor table, where a GAN schedule set in epochs made only a few
generator steps (issue 13: "1000 rows must not mean 15 steps").

1000 normal rows × 5 correlated channels (two periodic factors, periods 50 and 80 rows,
mixed by a random 2 × 5 matrix, plus noise of std 0.1) and 15 fault rows in which one
channel is shifted by ±1 (the value stays in range; the correlation breaks). Train on 800
normal rows, test on the other 200 plus the 15 faults. Prints AUPRC, how many faults
``predict`` flags, the GAN's generator iterations and the fit time, for the recommended
detector, ``HistoryAD()`` (seed 000's method), kNN and PyOD's KNN, LOF and IForest.

    .venv/bin/python benchmarks/small_sensor_table.py      # about 1.5 min on one thread
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import average_precision_score

from historyad.evaluation.harness import evaluate_detectors


def sensor_table(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X (1015, 5) float32, y (1015,) with 15 ones)."""
    rng = np.random.default_rng(seed)
    t = np.arange(1015)
    factors = np.stack([np.sin(2 * np.pi * t / 50), np.cos(2 * np.pi * t / 80)], 1)
    X = factors @ rng.normal(size=(2, 5)) + 0.1 * rng.normal(size=(1015, 5))
    faults = rng.choice(1015, 15, replace=False)
    X[faults, rng.integers(0, 5, 15)] += rng.choice([-1.0, 1.0], 15)
    y = np.zeros(1015, dtype=int)
    y[faults] = 1
    return X.astype(np.float32), y


def main() -> None:
    torch.set_num_threads(1)
    X, y = sensor_table()
    rng = np.random.default_rng(0)
    normal = rng.permutation(np.flatnonzero(y == 0))
    train, test = normal[:800], np.r_[normal[800:], np.flatnonzero(y == 1)]
    faults = X[y == 1]
    print("| detector | AUPRC | faults flagged by predict | generator iterations | fit s |")
    print("|---|---|---|---|---|")
    lineup = {"recommended": {"name": "recommended", "random_state": 0},
              "historyad": {"name": "historyad", "random_state": 0}, "knn": {"name": "knn"}}
    results = evaluate_detectors(X[train], X[test], y[test], lineup, keep_models=True,
                                 dataset="small-sensor-table")  # the one fit-and-score path
    for res in results:
        det = res.model
        its = len(det.gan_.records.get("gen_iter", [])) if hasattr(det, "gan_") else "—"
        print(f"| {res.detector} | {res.auprc:.3f} | {int(det.predict(faults).sum())}/15 | "
              f"{its} | {res.fit_seconds:.0f} |", flush=True)
    try:
        from pyod.models.iforest import IForest
        from pyod.models.knn import KNN
        from pyod.models.lof import LOF
    except ImportError:
        print("PyOD not installed: peers skipped")
        return
    for peer, kwargs in ((KNN, {}), (LOF, {}), (IForest, {"random_state": 0})):
        model = peer(**kwargs).fit(X[train])
        ap = average_precision_score(y[test], model.decision_function(X[test]))
        flagged = int(model.predict(faults).sum())
        print(f"| PyOD {peer.__name__} | {ap:.3f} | {flagged}/15 | — | — |")


if __name__ == "__main__":
    main()
