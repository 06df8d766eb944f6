"""Fifth quality study: HistoryAD's knn estimator of eq. (11)'s optimum on MNIST
leave-one-digit-out, against kNN and LOF on raw pixels, on the same splits.

The estimator scores (1/d)·log(p̂_hist / p̂_data) with kNN densities from the training data
and samples of the generator history P_Ghist (``historyad.HistoryAD(estimator="knn")``, the
library's default). Uses the cached WGAN-GPs of the other studies (``--epochs 10`` or ``40``;
12 000 normal training images, 10 saves per epoch) and the same test half as
``mnist_loo_study.py``. Rows:

- ``knn k=K``: distance to the K-th nearest training image (K = 5 is the baseline's default);
- ``lof k=K``: scikit-learn's LocalOutlierFactor (novelty mode);
- ``historyad`` (the library defaults: α = 1, β = 0, k = 5, one history sample per
  training image) and one-change variants: β = 3 (the paper's weighting), k, ``n_history``;
- ``final generator``: the same ratio with the final generator instead of the history.

    .venv/bin/python benchmarks/mnist_density_ratio_study.py --digits 0 1 2 3 4 --out a.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from _mnist_study import add_split_args, cached_gan, table
from historyad.data import load
from historyad.detectors import HistoryAD, KNNDetector
from historyad.detectors.history_ad import log_density_ratio
from historyad.evaluation.metrics import auprc, auroc
from historyad.protocols import leave_one_class_out

log = logging.getLogger("density_ratio_study")

# one change at a time from the defaults (alpha 1, beta None -> 0, k 5, n_history = N)
VARIANTS: dict[str, dict[str, Any]] = {
    "historyad (defaults)": {},
    "historyad beta=3 (paper weighting)": {"beta": 3.0},
    "historyad k=1": {"n_neighbors": 1},
    "historyad k=20": {"n_neighbors": 20},
    "historyad alpha=0": {"alpha": 0.0},
    "historyad alpha=5": {"alpha": 5.0},
    "historyad n_history=N/2": {"n_history": 6000},
    "historyad case 2": {"case": 2},
    "historyad score=two-sided": {"score": "two-sided"},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    add_split_args(p)
    p.add_argument("--out", default="benchmarks/results/density_ratio_study.json")
    p.add_argument("--defaults-only", action="store_true",
                   help="only the baselines, the defaults and the final-generator row")
    p.add_argument("--merge", nargs="*", default=None, help="only merge these files into --out")
    args = p.parse_args()
    if args.merge is not None:
        rows = [r for f in args.merge for r in json.loads(Path(f).read_text())["rows"]]
        first = json.loads(Path(args.merge[0]).read_text())["args"]
        Path(args.out).write_text(json.dumps({"args": first, "rows": rows}, indent=1))
        table(rows)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    ds = load("mnist", root=args.data)
    rows: list[dict[str, Any]] = []
    for digit in args.digits:
        split = leave_one_class_out(ds, digit, seed=0, max_train=args.max_train,
                                    max_test=args.max_test)  # fmt: skip
        Xtr, Xte, yte = split.X_train, split.X_test, split.y_test
        test = np.random.default_rng(1).permutation(len(Xte))[len(Xte) // 2 :]
        Xt, yt = Xte[test], yte[test]

        def row(name: str, s: np.ndarray, seconds: float, *, digit: int = digit,
                yt: np.ndarray = yt) -> None:  # fmt: skip
            r = {"digit": digit, "detector": name, "auprc": auprc(yt, s), "auroc": auroc(yt, s),
                 "fit_seconds": round(seconds, 1)}  # fmt: skip
            log.info("digit %d %-36s AUPRC %.3f AUROC %.3f", digit, name, r["auprc"], r["auroc"])
            rows.append(r)

        for k in (1, 5, 20):
            t0 = time.perf_counter()
            row(f"knn k={k}", KNNDetector(n_neighbors=k).fit(Xtr).decision_function(Xt),
                time.perf_counter() - t0)  # fmt: skip
        flat, flat_t = Xtr.reshape(len(Xtr), -1), Xt.reshape(len(Xt), -1)
        for k in (5, 20):
            t0 = time.perf_counter()
            lof = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(flat)
            row(f"lof k={k}", -lof.score_samples(flat_t), time.perf_counter() - t0)
        run = cached_gan(Xtr, digit, epochs=args.epochs, saves=args.saves, cache=args.cache,
                         width=args.width, seed=args.gan_seed)  # fmt: skip
        common = {"n_epochs": args.epochs, "saves_per_epoch": args.saves, "width": args.width}
        for name, extra in list(VARIANTS.items())[: 1 if args.defaults_only else None]:
            t0 = time.perf_counter()
            det = HistoryAD.from_gan(run, **common, **extra).fit(Xtr)
            row(name, det.decision_function(Xt), time.perf_counter() - t0)
        t0 = time.perf_counter()  # the same ratio against the final generator alone
        gen = run.sample(len(Xtr), seed=0).reshape(len(Xtr), -1).cpu().numpy()
        r_data = NearestNeighbors(n_neighbors=5).fit(flat).kneighbors(flat_t)[0][:, -1]
        r_gen = NearestNeighbors(n_neighbors=5).fit(gen).kneighbors(flat_t)[0][:, -1]
        ratio = log_density_ratio(r_data, r_gen, n_data=len(flat), n_hist=len(gen),
                                  dim=flat.shape[1])  # fmt: skip
        row("final generator instead of the history", ratio, time.perf_counter() - t0)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    table(rows)


if __name__ == "__main__":
    main()
