"""Quality study: what does HistoryAD need to work on MNIST leave-one-digit-out?

Trains ONE WGAN-GP (with its history) per digit on a CPU-sized subsample, then fits many
detector variants on that same GAN and split, and writes every AUPRC / AUROC to JSON.
The validation AUPRC along D_TV training is computed on a held-out part of the TEST split
for analysis only (never to choose a model). Usage:

    .venv/bin/python benchmarks/mnist_quality.py --digits 0 1 --out benchmarks/results/q.json
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
from historyad.protocols import leave_one_class_out
from historyad.training.trainer import train_gan

log = logging.getLogger("mnist_quality")

VARIANTS: dict[str, dict[str, Any]] = {
    "no-training": {"train_dtv": False},
    "paper (1500 steps)": {"dtv_steps": 1500},
    "300 steps": {"dtv_steps": 300},
    "gp=10, 1500 steps": {"dtv_steps": 1500, "dtv_gp": 10.0},
    "case 2, gp=10": {"dtv_steps": 1500, "dtv_gp": 10.0, "case": 2},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--digits", type=int, nargs="+", default=[0])
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--max-train", type=int, default=12000)
    p.add_argument("--max-test", type=int, default=3000)
    p.add_argument("--epochs", type=float, default=10.0)
    p.add_argument("--saves", type=int, default=10)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--beta", type=float, default=3.0)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--variants", nargs="*", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/mnist_quality.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    ds = load("mnist", root=args.data)
    variants = {k: VARIANTS[k] for k in (args.variants or VARIANTS)}
    rows: list[dict[str, Any]] = []
    for digit in args.digits:
        split = leave_one_class_out(
            ds, digit, seed=0, max_train=args.max_train, max_test=args.max_test
        )
        Xtr, Xte, yte = split.X_train, split.X_test, split.y_test
        # half of the test split for along-training curves, the other half for the table
        rng = np.random.default_rng(1)
        perm = rng.permutation(len(Xte))
        val, test = perm[: len(perm) // 2], perm[len(perm) // 2 :]
        Xv, yv, Xt, yt = Xte[val], yte[val], Xte[test], yte[test]

        def row(
            name: str, s: np.ndarray, fit_s: float, *, digit: int = digit,
            yt: np.ndarray = yt, **extra: Any,
        ) -> None:
            r = {"digit": digit, "detector": name, "auprc": auprc(yt, s), "auroc": auroc(yt, s),
                 "fit_seconds": round(fit_s, 2), **extra}
            log.info("digit %d %-28s AUPRC %.3f AUROC %.3f", digit, name, r["auprc"], r["auroc"])
            rows.append(r)

        run = train_gan(
            torch.from_numpy(Xtr),
            GANConfig(n_epochs=args.epochs, random_state=0),
            NetConfig(width=args.width),
            HistoryConfig(saves_per_epoch=args.saves, alpha=args.alpha, beta=args.beta),
        )
        log.info("GAN trained in %.1f s (%d gen iters)", run.fit_seconds,
                 len(run.records["gen_iter"]))
        history = {"saves_per_epoch": args.saves, "alpha": args.alpha, "beta": args.beta,
                   "estimator": "network"}  # this study tunes seed 000's D_TV network
        specs: dict[str, dict[str, Any]] = {
            "knn (raw pixels)": {"name": "knn", "n_neighbors": 5},
            "critic (final)": {"name": "critic"},
            "encoder": {"name": "encoder", "encoder_epochs": 3.0},
            **{f"historyad {name}": {"name": "historyad", **history, **params}
               for name, params in variants.items()},
        }  # fmt: skip
        # one fit-and-score path: the harness; every GAN detector reuses ``run`` (its
        # fit_seconds include the GAN's training); HistoryAD records AUPRC along D_TV training
        val = {label: {"X_val": Xv, "y_val": yv} for label in specs if label.startswith("hist")}
        for r in evaluate_detectors(Xtr, Xt, yt, specs, gan_run=run, keep_models=True,
                                    gan={"n_epochs": args.epochs, "width": args.width},
                                    fit_kwargs=val):
            extra: dict[str, Any] = {}
            if r.detector in val:
                rec = r.model.dtv_records_
                extra["along"] = list(zip(rec["step"], [round(a, 3) for a in rec.get("auprc", [])],
                                          [round(t, 3) for t in rec["tv"]], strict=False))
            row(r.detector, r.scores, r.fit_seconds, **extra)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
