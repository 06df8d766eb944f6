"""Second quality study: why D_TV training loses AUPRC on MNIST leave-one-digit-out, and
what keeps it. One WGAN-GP per digit (critic snapshots recorded too), cached through the
trainer's safetensors checkpoints so variants re-use it. Variants:

- averaged critic weights (eq. 14) for several β, from the recorded critic snapshots;
- averaged critic OUTPUTS over the history (seed 000 Fig. 4's other curve);
- D_TV trained with instance noise σ on both inputs (hides generator artefacts);
- D_TV against late history windows.

    .venv/bin/python benchmarks/mnist_dtv_study.py --digit 0 --out benchmarks/results/dtv_d0.json
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.data import load
from historyad.evaluation.harness import evaluate_detectors
from historyad.evaluation.metrics import auprc, auroc
from historyad.nn.factory import build_critic
from historyad.protocols import leave_one_class_out
from historyad.training.history import snapshot_weights
from historyad.training.trainer import train_gan

log = logging.getLogger("dtv_study")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--digit", type=int, default=0)
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--max-train", type=int, default=12000)
    p.add_argument("--max-test", type=int, default=3000)
    p.add_argument("--epochs", type=float, default=10.0)
    p.add_argument("--saves", type=int, default=10)
    p.add_argument("--cache", default="/tmp/historyad_gan_cache")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--out", default="benchmarks/results/dtv_study.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    ds = load("mnist", root=args.data)
    split = leave_one_class_out(
        ds, args.digit, seed=0, max_train=args.max_train, max_test=args.max_test
    )
    Xtr, Xte, yte = split.X_train, split.X_test, split.y_test
    perm = np.random.default_rng(1).permutation(len(Xte))
    test = perm[len(perm) // 2 :]
    Xt, yt = torch.from_numpy(Xte[test]), yte[test]
    hist_cfg = HistoryConfig(saves_per_epoch=args.saves, alpha=0.0, beta=0.0, record_critic=True)
    run = train_gan(
        torch.from_numpy(Xtr),
        GANConfig(n_epochs=args.epochs, random_state=0,
                  checkpoint_dir=f"{args.cache}/d{args.digit}_e{args.epochs}_s{args.saves}"),
        NetConfig(),
        hist_cfg,
        resume=True,
    )
    rows: list[dict[str, Any]] = []

    def row(name: str, s: np.ndarray | torch.Tensor, **extra: Any) -> None:
        s = np.asarray(s, dtype=float)
        r = {"digit": args.digit, "variant": name, "auprc": auprc(yt, s), "auroc": auroc(yt, s),
             **extra}
        log.info("%-40s AUPRC %.3f AUROC %.3f", name, r["auprc"], r["auroc"])
        rows.append(r)
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))

    def want(k: str) -> bool:
        return args.only is None or k in args.only

    if want("knn"):
        (res,) = evaluate_detectors(Xtr, Xte[test], yt, {"knn": {"name": "knn"}})
        row("knn", res.scores)
    cstore = run.recorder.critic_store
    times = cstore.times
    states = [cstore.load(i) for i in range(len(cstore))]
    shell = build_critic(run.input_shape, NetConfig()).eval()

    def critic_scores(state: dict[str, torch.Tensor], X: torch.Tensor) -> np.ndarray:
        shell.load_state_dict(state)
        with torch.no_grad():
            return np.concatenate([shell(X[i : i + 1024]).numpy() for i in range(0, len(X), 1024)])

    if want("avg"):
        for alpha in (0.0, 1.0, 5.0):
            for beta in (3.0, 0.0, -0.5):
                keep = times >= alpha - 1e-9
                w = snapshot_weights(times[keep], beta=beta)
                avg = {k: sum(wi * states[j][k].double() for wi, j in
                              zip(w, np.flatnonzero(keep), strict=True)).float()
                       for k in states[0]}
                row(f"averaged weights a={alpha} b={beta}", critic_scores(avg, Xt))
    if want("outputs"):
        all_scores = np.stack([critic_scores(s, Xt) for s in states])  # (K, N)
        # standardise each snapshot's scores on training data before averaging
        Xs = torch.from_numpy(Xtr[:2000])
        ref = np.stack([critic_scores(s, Xs) for s in states])
        z = (all_scores - ref.mean(1, keepdims=True)) / ref.std(1, keepdims=True)
        for alpha in (0.0, 1.0, 5.0):
            keep = times >= alpha - 1e-9
            row(f"averaged outputs a={alpha} b=0 (z-scored)", z[keep].mean(0))
            row(f"averaged outputs a={alpha} b=0 (raw)", all_scores[keep].mean(0))
        row("final critic", all_scores[-1])
    common = {"n_epochs": args.epochs, "saves_per_epoch": args.saves, "alpha": 0.0, "beta": 0.0}
    if want("dtv"):
        for name, params in {
            "dtv 300 steps a=0 b=0": {},
            "dtv noise 0.5": {"dtv_noise": 0.5},
            "dtv noise 1.0": {"dtv_noise": 1.0},
        }.items():
            # the cached GAN through the harness (``gan_run``): HistoryAD's D_TV on top of it
            (res,) = evaluate_detectors(
                Xtr, Xte[test], yt,
                {name: {"name": "historyad", **common, "dtv_steps": 300, **params}},
                gan_run=run)
            row(name, res.scores, seconds=round(res.fit_seconds - run.fit_seconds, 1))


if __name__ == "__main__":
    main()
