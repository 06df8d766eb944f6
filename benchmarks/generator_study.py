"""Study: which generator the density-ratio detectors contrast the data with, and how long
the GAN must train (the ``min_iterations`` floor).

One WGAN-GP per split, trained with the detectors' GAN settings (seed 001 Alg. 2:
Adam 1e-4, 5 critic steps, batch 64) for ``--iterations`` generator iterations (5 stretched
epochs), recording a generator snapshot every 20 iterations (``historyad.training``); "the
final generator at iteration i" is the snapshot recorded there. Then, on the
same split, with the library's kNN densities (``historyad.detectors.neighbors``, k = 5, four
reference samples per training row):

- reference = the final generator at each of ``--at`` (the iteration study);
- reference = the generator history P_Ghist over [α = 1, 5] epochs, β = 0 (uniform) and
  β = 3 (seed 000's weighting);

and both scores of the library: ``density-ratio`` (log r_data − log r_gen, plus the excess
beyond the training range) and ``recommended`` (the mean of the global, local and generator
terms), the ablations of the recommended score (each term alone, the generator-free mean of
the global and local terms ``no generator``, the pairs with the generator term), and PyOD's
KNN and LOF on the same split.

Splits (development sets; the choice of the defaults is stated in RESULTS.md):
ADBench tables of the quick suite (novelty protocol), KMNIST-test leave-one-class-out
(classes 0–4, 6000 training images; KMNIST is not in the benchmark's LOO sets) and MNIST
leave-one-digit-out (digits 0, 1, 3, 8, 9, 6000 training images).

    .venv/bin/python benchmarks/generator_study.py --family tables \
        --out benchmarks/results/generator_tables.json
    .venv/bin/python benchmarks/generator_study.py --family images \
        --out benchmarks/results/generator_images.json
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.detectors.density_ratio import density_ratio_score, ensemble_components
from historyad.detectors.neighbors import NeighbourDensities
from historyad.evaluation.metrics import auprc
from historyad.evaluation.peers import run_peers
from historyad.training.trainer import train_gan

log = logging.getLogger("generator_study")
DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data")
QUICK_TABLES = ("12_fault", "17_InternetAds", "35_SpamBase", "41_Waveform", "19_landsat",
                "24_mnist", "22_magic.gamma", "5_campaign")


def splits(family: str, data: str, seed: int) -> list[tuple[str, Any]]:
    from historyad.data import load
    from historyad.protocols import leave_one_class_out

    out = []
    if family == "tables":
        for name in QUICK_TABLES:
            ds = load("adbench", subset=name, root=data)
            out.append((f"adbench-{name}", leave_one_class_out(ds, "anomaly", seed=seed)))
    else:
        kmnist = load("kmnist", root=data, split="test")
        for c in range(5):
            out.append((f"kmnist-loo-{c}", leave_one_class_out(
                kmnist, c, seed=seed, max_train=6000, max_test=3000)))
        mnist = load("mnist", root=data)
        for d in (0, 1, 3, 8, 9):
            out.append((f"mnist-loo-{d}", leave_one_class_out(
                mnist, d, seed=seed, max_train=6000, max_test=3000)))
    return out


def standardised(split: Any) -> tuple[np.ndarray, np.ndarray]:
    """Tables per feature with training statistics (as the detectors do); images as they are."""
    Xtr, Xte = split.X_train, split.X_test
    if Xtr.ndim == 2:
        mean = Xtr.mean(0, dtype=np.float64)
        std = Xtr.std(0, dtype=np.float64)
        std = np.where(std > 1e-8, std, 1.0)
        Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    return Xtr.astype(np.float32), Xte.astype(np.float32)


def study_split(name: str, split: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    Xtr, Xte = standardised(split)
    y = split.y_test
    n = len(Xtr)
    t0 = time.perf_counter()
    # every 20 generator iterations recorded (α = 0): the final generator "at" an iteration is
    # the snapshot recorded there (a constant learning rate makes a 2000-iteration run's
    # first 500 iterations a 500-iteration run)
    per_epoch = args.iterations // 5
    run = train_gan(Xtr, GANConfig(n_epochs=5.0, min_iterations=args.iterations,
                                   random_state=args.seed),
                    NetConfig(), HistoryConfig(saves_per_epoch=per_epoch // 20, alpha=0.0,
                                               beta=0.0))
    gan_s = time.perf_counter() - t0
    store = run.recorder.store
    flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
    refs: dict[str, np.ndarray] = {}
    gen = copy.deepcopy(run.generator)
    for it in sorted(args.at):
        gen.load_state_dict(store.load(int(np.argmin(np.abs(store.times - it / per_epoch)))))
        with torch.no_grad():
            z = torch.randn(4 * n, run.latent_dim, generator=torch.Generator().manual_seed(3))
            refs[f"final G @ {it}"] = flat(torch.cat([gen(c) for c in z.split(1024)]).numpy())
    for beta in (0.0, 3.0):
        sampler = run.history_sampler(alpha=1.0, beta=beta)
        hist = sampler.sample(4 * n, rng=np.random.default_rng(3),
                              generator=torch.Generator().manual_seed(3))
        refs[f"history β={beta:g}"] = flat(hist.numpy())
    rows = []
    for label, ref in refs.items():
        nd = NeighbourDensities(flat(Xtr), ref, 5)
        ld, ll, lg = nd.log_data(flat(Xte)), nd.log_local(flat(Xte)), nd.log_reference(flat(Xte))
        tau, centre = float(nd.train_log_data.max()), float(nd.train_log_data.mean())
        parts = ensemble_components(ld, ll, lg, centre)
        g, lo, ge = parts["global"], parts["local"], parts["generator"]
        rows.append({"split": name, "reference": label,
                     "density-ratio": auprc(y, density_ratio_score(ld, lg, tau)),
                     "recommended": auprc(y, (g + lo + ge) / 3),
                     "no generator": auprc(y, (g + lo) / 2),
                     "global": auprc(y, g), "local": auprc(y, lo), "generator": auprc(y, ge),
                     "global+generator": auprc(y, (g + ge) / 2),
                     "local+generator": auprc(y, (lo + ge) / 2)})
    peers, notes = run_peers({"pyod-knn": {}, "pyod-lof": {}}, Xtr, Xte, y, seed=args.seed,
                             dataset=name, protocol="novelty", anomaly="")
    rows += [{"split": name, "reference": r["detector"], r["detector"]: r["auprc"]}
             for r in peers]
    for note in notes:
        log.warning(note)
    log.info("%s: GAN %.0f s; %s", name, gan_s, rows[:2])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--family", choices=["tables", "images"], required=True)
    p.add_argument("--data", default=DATA)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--at", type=int, nargs="+", default=[240, 500, 1000, 2000],
                   help="generator iterations (multiples of 20)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    rows: list[dict[str, Any]] = []
    for name, split in splits(args.family, args.data, args.seed):
        rows += study_split(name, split, args)
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    refs = list(dict.fromkeys(r["reference"] for r in rows if "density-ratio" in r))
    cols = ("density-ratio", "recommended", "no generator", "global", "local", "generator",
            "global+generator", "local+generator")
    print(f"| reference ({args.family}) | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for ref in refs:
        sel = [r for r in rows if r["reference"] == ref]
        print(f"| {ref} | " + " | ".join(f"{np.mean([r[k] for r in sel]):.3f}" for k in cols)
              + " |")
    for peer in ("pyod-knn", "pyod-lof"):
        print(f"| {peer} | {np.mean([r[peer] for r in rows if peer in r]):.3f} |")


if __name__ == "__main__":
    main()
