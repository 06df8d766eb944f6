"""One process of the data-parallel test (``test_distributed.py``), started by torchrun:

    torchrun --nproc_per_node=2 tests/training/ddp_worker.py OUT_DIR

Trains the ring GAN of ``test_trainer.py`` data-parallel (gloo, CPU), with a history and
checkpoints, then a short run interrupted and resumed; writes ``rank<r>.json`` and, on
rank 0, ``samples.npy`` (2000 generator samples) into OUT_DIR.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.training import train_gan
from historyad.training.checkpoint import list_checkpoints
from historyad.training.distributed import init_distributed

TINY = NetConfig(width=16)


def ring(n: int, seed: int = 0) -> np.ndarray:
    """7 gaussians (std 0.1) on the unit circle (as ``test_trainer.ring``)."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * rng.integers(0, 7, n) / 7
    pts = np.stack([np.cos(angles), np.sin(angles)], 1) + 0.1 * rng.standard_normal((n, 2))
    return pts.astype(np.float32)


def ring_config(**kw: object) -> GANConfig:
    """The ring run: 300 generator iterations whatever the number of processes (the floor
    ``min_iterations`` sets the length; 2048 rows give fewer per epoch)."""
    base: dict[str, object] = dict(n_epochs=5, batch_size=64, gan_lr=1e-3, gp_lambda=1.0,
                                   min_iterations=300, random_state=0)
    return GANConfig(**{**base, **kw})  # type: ignore[arg-type]


def main(out: Path) -> None:
    torch.set_num_threads(1)
    par = init_distributed("cpu")
    assert par is not None, "run under torchrun with --nproc_per_node >= 2"
    X = ring(2048)
    hist = HistoryConfig(saves_per_epoch=4, alpha=1.0, beta=3.0, history_store="memory")
    run = train_gan(X, ring_config(checkpoint_dir=str(out / "ring_ckpt")), NetConfig(), hist)
    # resume: 2 of 4 short epochs, then resumed to 4, against 4 in one go
    short = dataclasses.replace(ring_config(), n_epochs=4, min_iterations=0)  # 3 per epoch
    whole = train_gan(X, dataclasses.replace(short, checkpoint_dir=str(out / "whole")), TINY,
                      hist)
    part = dataclasses.replace(short, n_epochs=2, checkpoint_dir=str(out / "part"))
    train_gan(X, part, TINY, hist)
    resumed = train_gan(X, dataclasses.replace(part, n_epochs=4), TINY, hist, resume=True)
    same = all(
        torch.equal(a, b)
        for net_a, net_b in ((whole.generator, resumed.generator), (whole.critic, resumed.critic))
        for a, b in zip(net_a.state_dict().values(), net_b.state_dict().values(), strict=True)
    )
    report = {
        "rank": par.rank,
        "world_size": par.world_size,
        "iters_per_epoch": run.iters_per_epoch,
        "records": {k: len(v) for k, v in run.records.items()},
        "wasserstein_last": run.records["wasserstein"][-1],
        "records_finite": bool(np.isfinite([v for vs in run.records.values() for v in vs]).all()),
        "has_history": run.recorder is not None,
        "snapshots": None if run.recorder is None else len(run.recorder.store),
        "average_count": None if run.recorder is None else run.recorder.average.count,
        "checkpoints": [p.name for p in list_checkpoints(out / "ring_ckpt")],
        "resume_identical": same,
        "resumed_iterations": len(resumed.records["gen_iter"]),
        "generator_sum": float(sum(p.detach().double().sum() for p in run.generator.parameters())),
    }
    if par.rank == 0:
        np.save(out / "samples.npy", run.sample(2000, seed=5).numpy())
    (out / f"rank{par.rank}.json").write_text(json.dumps(report))
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
