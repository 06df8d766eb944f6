"""Third quality study: HistoryAD's scores on all ten MNIST leave-one-digit-out tasks.

For each digit one WGAN-GP (12 000 normal training images, 10 short epochs = 370 generator
iterations, 10 saves per epoch, every critic snapshot recorded too) is trained once and
cached through the trainer's safetensors checkpoints (``--cache``; the same cache as
``mnist_dtv_study.py``). The eq. 14 average for the detectors' window (α = 1, β = 3) is
recomputed from the recorded critic snapshots, so one cached GAN serves every variant.
Detectors, all on the same split (test: the second half of 3 000 held-out images):

- ``knn``: k-nearest neighbours (k = 5) on raw pixels;
- ``historyad (defaults: knn estimator)``: the library defaults since the knn estimator;
- ``historyad``: seed 000's D_TV network (trained 1 500 steps, raw D_TV score), the
  defaults before the knn estimator (``--alpha`` / ``--beta`` set its window);
- ``historyad score=two-sided``: the same fitted D_TV, scored two-sided;
- ``historyad case 2`` and ``no-training``, each also ``score=two-sided``;
- ``critic``: the final WGAN-GP critic (seed 001 §5.1); with ``--encoder`` also seed 001's
  encoder (§5.3, 3 encoder epochs).

    .venv/bin/python benchmarks/mnist_loo_study.py --digits 0 1 2 --out /tmp/loo_012.json

Several processes can share the work (``--digits`` subsets, one ``--out`` each); ``--merge
a.json b.json --out all.json`` joins their rows and prints the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _mnist_study import add_split_args, cached_gan, table
from historyad.data import load
from historyad.evaluation.harness import evaluate_detectors
from historyad.evaluation.metrics import auprc, auroc
from historyad.protocols import leave_one_class_out
from historyad.training.history import OnlineWeightedAverage
from historyad.training.trainer import GANRun

log = logging.getLogger("loo_study")


def averaged_gan(X: np.ndarray, digit: int, args: argparse.Namespace) -> GANRun:
    """The digit's cached GAN, its eq. 14 average recomputed for (alpha, beta)."""
    run = cached_gan(X, digit, epochs=args.epochs, saves=args.saves, cache=args.cache,
                     width=args.width)
    rec = run.recorder
    assert rec is not None and rec.critic_store is not None
    avg = OnlineWeightedAverage(beta=args.beta)
    for i, t in enumerate(rec.critic_store.times):
        if args.alpha - 1e-9 <= t <= args.epochs + 1e-9:
            avg.update(float(t), rec.critic_store.load(i))
    rec.average = avg
    run.history_config = dataclasses.replace(run.history_config, alpha=args.alpha,
                                             beta=args.beta)
    return run


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    add_split_args(p)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--beta", type=float, default=3.0)
    p.add_argument("--dtv-steps", type=int, default=1500)
    p.add_argument("--encoder", action="store_true", help="also fit seed 001's encoder")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/loo_study.json")
    p.add_argument("--merge", nargs="*", default=None,
                   help="only merge these result files (e.g. from parallel runs) into --out")
    args = p.parse_args()
    if args.merge is not None:
        rows = [r for f in args.merge for r in json.loads(Path(f).read_text())["rows"]]
        rows.sort(key=lambda r: r["digit"])
        first = json.loads(Path(args.merge[0]).read_text())["args"]
        Path(args.out).write_text(json.dumps({"args": {**first, "digits": sorted(
            {r["digit"] for r in rows})}, "rows": rows}, indent=1))
        table(rows)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    ds = load("mnist", root=args.data)
    out = Path(args.out)
    rows: list[dict[str, Any]] = json.loads(out.read_text())["rows"] if out.is_file() else []
    for digit in args.digits:
        rows[:] = [r for r in rows if r["digit"] != digit]
        split = leave_one_class_out(
            ds, digit, seed=0, max_train=args.max_train, max_test=args.max_test
        )
        Xtr, Xte, yte = split.X_train, split.X_test, split.y_test
        if args.flatten:  # MLP nets on (N, 784) vectors (kNN sees the same pixels either way)
            Xtr, Xte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
        test = np.random.default_rng(1).permutation(len(Xte))[len(Xte) // 2 :]
        Xt, yt = Xte[test], yte[test]

        def row(name: str, s: np.ndarray, seconds: float, *, digit: int = digit,
                yt: np.ndarray = yt, rows: list[dict[str, Any]] = rows) -> None:
            r = {"digit": digit, "detector": name, "auprc": auprc(yt, s), "auroc": auroc(yt, s),
                 "fit_seconds": round(seconds, 1)}
            log.info("digit %d %-32s AUPRC %.3f AUROC %.3f", digit, name, r["auprc"], r["auroc"])
            rows.append(r)

        # Pixels are in [-1, 1]: flattened images are not standardised like tables (the cached
        # GAN was trained on the raw pixels too).
        raw: dict[str, Any] = {"standardize": False} if args.flatten else {}
        run = averaged_gan(Xtr, digit, args)
        history = {"saves_per_epoch": args.saves, "alpha": args.alpha}
        network = {**history, "estimator": "network", "beta": args.beta,
                   "dtv_steps": args.dtv_steps}
        variants = {"historyad": {}, "historyad case 2": {"case": 2},
                    "historyad no-training": {"train_dtv": False}}
        specs: dict[str, dict[str, Any]] = {
            "knn": {"name": "knn", "n_neighbors": 5, **raw},
            "critic": {"name": "critic", **raw},
            **({"encoder": {"name": "encoder", "encoder_epochs": 3.0, **raw}}
               if args.encoder else {}),
            # the library defaults (the estimator's own beta)
            "historyad (defaults: knn estimator)": {"name": "historyad", **raw, **history},
            **{name: {"name": "historyad", **raw, **network, **extra}
               for name, extra in variants.items()},
        }  # fmt: skip
        # one fit-and-score path: the harness, every GAN detector on the cached GAN
        results = evaluate_detectors(Xtr, Xt, yt, specs, gan_run=run, keep_models=True,
                                     gan={"n_epochs": args.epochs, "width": args.width})
        models = {r.detector: r.model for r in results}
        for r in results:
            row(r.detector, r.scores, r.fit_seconds)
            if r.detector not in variants:
                continue
            det = models[r.detector]
            row(f"{r.detector} score=two-sided",
                det.set_params(score="two-sided").decision_function(Xt), r.fit_seconds)
            if args.encoder:  # the idea: HistoryAD plus the encoder's residual
                row(f"{r.detector} + encoder (z-sum)",
                    zsum((det.set_params(score="dtv"), models["encoder"]), Xt), r.fit_seconds)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    table(rows)


def zsum(detectors: tuple[Any, ...], X: np.ndarray) -> np.ndarray:
    """Sum of the detectors' scores, each standardised by its training scores (no labels)."""
    total = np.zeros(len(X))
    for det in detectors:
        ref = det.decision_scores_
        total += (det.decision_function(X) - ref.mean()) / (ref.std() + 1e-12)
    return total


if __name__ == "__main__":
    main()
