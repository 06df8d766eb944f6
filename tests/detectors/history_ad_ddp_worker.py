"""One process of the data-parallel HistoryAD test (``test_history_ad_ddp.py``), started by
torchrun:

    torchrun --nproc_per_node=2 tests/detectors/history_ad_ddp_worker.py OUT_DIR

Fits ``HistoryAD`` (network estimator, with a validation set) on the 7-gaussian ring inside
the process group, then the knn estimator on the same GAN, shares the history of a second
tiny GAN (memory store with critic snapshots) and draws a seed for ``random_state=None``;
writes ``rank<r>.json`` into OUT_DIR and, on rank 0, ``model.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.detectors import HistoryAD
from historyad.detectors.base import BaseDetector
from historyad.detectors.gan_base import _draw_seed
from historyad.training import train_gan
from historyad.training.distributed import init_distributed, share_history

#: the fit both the torchrun processes and the single-process reference run
PARAMS: dict[str, Any] = dict(n_epochs=5, batch_size=64, min_iterations=200, width=32,
                              saves_per_epoch=4, dtv_steps=300, dtv_lr=1e-3,
                              score="two-sided", history_store="disk", random_state=0,
                              progress=False)


def ring(n: int, seed: int = 0) -> np.ndarray:
    """7 gaussians (std 0.1) on the unit circle."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * rng.integers(0, 7, n) / 7
    pts = np.stack([np.cos(angles), np.sin(angles)], 1) + 0.1 * rng.standard_normal((n, 2))
    return pts.astype(np.float32)


def anomalies(n: int, seed: int = 2) -> np.ndarray:
    """Uniform in [-1.5, 1.5]², at least 0.4 (4 std) from every mode of the ring."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-1.5, 1.5, (20 * n, 2))
    angles = 2 * np.pi * np.arange(7) / 7
    centres = np.stack([np.cos(angles), np.sin(angles)], 1)
    far = np.linalg.norm(pts[:, None] - centres[None], axis=2).min(1) > 0.4
    return pts[far][:n].astype(np.float32)


def problem() -> dict[str, np.ndarray]:
    """Training normals, a validation set and a test set (0 normal, 1 anomaly)."""
    half = np.r_[np.zeros(100), np.ones(100)].astype(int)
    return {"X": ring(1024), "X_val": np.vstack([ring(100, 1), anomalies(100, 3)]),
            "y_val": half, "X_test": np.vstack([ring(300, 4), anomalies(300, 2)]),
            "y_test": np.r_[np.zeros(300), np.ones(300)].astype(int)}


def auroc(det: BaseDetector, data: dict[str, np.ndarray]) -> float:
    return float(roc_auc_score(data["y_test"], det.decision_function(data["X_test"])))


def digest(*arrays: Any) -> str:
    """SHA-256 of the arrays' bytes: equal digests, bit-identical arrays."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a)).tobytes())
    return h.hexdigest()


def main(out: Path) -> None:
    torch.set_num_threads(1)
    par = init_distributed("cpu")
    assert par is not None, "run under torchrun with --nproc_per_node >= 2"
    data = problem()
    det = HistoryAD(**PARAMS).fit(data["X"], X_val=data["X_val"], y_val=data["y_val"])
    run = det.gan_
    sampler = run.history_sampler(alpha=1.0, beta=3.0)
    hist = sampler.sample(500, generator=torch.Generator().manual_seed(7))  # (500, 2)
    knn = HistoryAD.from_gan(run, **{**PARAMS, "estimator": "knn", "score": "dtv"})
    knn.fit(data["X"])
    # a memory store with critic snapshots, shared outside a detector
    tiny = train_gan(data["X"], GANConfig(n_epochs=2, batch_size=64, min_iterations=8,
                                          random_state=1),
                     NetConfig(width=8), HistoryConfig(saves_per_epoch=2, alpha=0.5, beta=1.0,
                                                       history_store="memory",
                                                       record_critic=True))
    had_tiny = tiny.recorder is not None
    share_history(par, tiny)
    np.random.seed(100 + par.rank)  # noqa: NPY002 - a different global draw on each rank
    report = {
        "rank": par.rank,
        "world_size": par.world_size,
        "dtv": digest(*[p.detach() for p in det.dtv_.parameters()]),
        "records": det.dtv_records_,
        "threshold": det.threshold_,
        "scores": digest(det.decision_scores_),
        "snapshots": len(run.recorder.store),
        "times": run.recorder.store.times.tolist(),
        "n_due": run.recorder.n_due,
        "store_kind": run.recorder.store.kind,
        "critic_average": digest(*run.critic_average().values()),
        "history_samples": digest(hist),
        "auroc": auroc(det, data),
        "knn_scores": digest(knn.decision_scores_),
        "knn_auroc": auroc(knn, data),
        "tiny_had_history": had_tiny,
        "tiny_history": digest(*[v for k in range(len(tiny.recorder.store))
                                  for v in tiny.recorder.store.load(k).values()]),
        "tiny_critics": len(tiny.recorder.critic_store),
        "tiny_average": digest(*tiny.critic_average().values()),
        "drawn_seed": _draw_seed(),
    }
    if par.is_main:
        det.save(out / "model.safetensors")
        loaded = BaseDetector.load(out / "model.safetensors")
        report["loaded_same"] = bool(np.array_equal(
            loaded.decision_function(data["X_test"]), det.decision_function(data["X_test"])))
    (out / f"rank{par.rank}.json").write_text(json.dumps(report))
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
