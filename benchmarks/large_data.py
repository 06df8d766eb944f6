"""The two largest ADBench sets: kNN-based detectors beside PyOD's KNN and IForest.

Issue 17, item 4. ``10_cover`` (286 048 rows, 10 features) and ``16_http`` (567 498 rows,
3 features) from ``../shared/data/adbench``, with the project's novelty protocol
(``leave_one_class_out(ds, "anomaly", train_fraction=0.8, seed=0)``: 80 % of the normal rows
train; the other normal rows and every anomaly are the test set); our detectors standardise
with training statistics themselves, PyOD's get ``historyad.protocols.standardize``.

One fresh child process per (set, detector) (``_child.py``), ``--threads`` threads (default
2). ``fit`` includes the training scores (every training row left out of its own
neighbours); ``score`` is ``decision_function`` on the whole test set, which goes through
the chunked path (1024-row batches, each searched in chunks of ``CHUNK_ROWS``). Detectors:

- ``knn``: ``KNNDetector()``, exact search (a kd-tree at ≤ 16 features);
- ``knn (sklearn search)``: ``KNNDetector(neighbor_search="sklearn")``, the former path;
- ``recommended`` and ``density-ratio``: the generator-contrast detectors, their GAN on the
  fixed small budget of ``_detectors.py`` (100 generator iterations, width 16): the
  neighbour work (training rows, one generated sample per training row at this N: the
  200 000 cap) is what this measures;
- ``pyod-knn`` (k = 5, "largest") and ``pyod-iforest`` (100 trees), PyOD's defaults.

Writes ``benchmarks/results/large_data.json``; prints a markdown table.

    .venv/bin/python benchmarks/large_data.py                  # ≈ 10 min on 2 busy cores
    .venv/bin/python benchmarks/large_data.py --sets 10_cover --detectors knn pyod-knn
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from _child import Memory, Timer, run_child, run_script, set_threads

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HISTORYAD_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results" / "large_data.json"
SETS = ("10_cover", "16_http")
LABELS: dict[str, tuple[str, dict[str, Any]]] = {
    "knn": ("knn", {}),
    "knn (sklearn search)": ("knn", {"neighbor_search": "sklearn"}),
    "recommended": ("recommended", {}),
    "density-ratio": ("density-ratio", {}),
    "pyod-knn": ("pyod-knn", {}),
    "pyod-iforest": ("pyod-iforest", {}),
}


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    set_threads(cfg["threads"])
    import numpy as np

    import _detectors
    from historyad.data import load
    from historyad.evaluation.metrics import auprc, auroc
    from historyad.protocols import leave_one_class_out
    from historyad.protocols.scaling import standardize

    name, extra = LABELS[cfg["label"]]
    ds = load("adbench", subset=cfg["set"], root=cfg["data"])
    split = leave_one_class_out(ds, "anomaly", train_fraction=0.8, seed=0)
    X_train, X_test, y_test = split.X_train, split.X_test, split.y_test
    del ds, split
    pyod = name.startswith("pyod")
    if pyod:
        X_train, X_test = standardize(X_train, X_test)
    det = _detectors.make(name, len(X_train), extra)
    mem = Memory()
    mem.start()
    out: dict[str, Any] = {"n_train": len(X_train), "n_test": len(X_test),
                           "features": int(X_train.shape[1])}
    with Timer(out, "fit"):
        det.fit(X_train)
    with Timer(out, "score"):
        scores = np.asarray(det.decision_function(X_test), dtype=np.float64)
    out.update(mem.report())
    out["auroc"], out["auprc"] = auroc(y_test, scores), auprc(y_test, scores)
    if not pyod and hasattr(det, "_index"):
        out["engine"] = det._index.engine
    elif hasattr(det, "densities_"):
        out["engine"] = det.densities_._data_index.engine
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="*", default=list(SETS))
    ap.add_argument("--detectors", nargs="*", default=list(LABELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per child")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    t0 = time.time()
    results: list[dict[str, Any]] = []
    for set_name in args.sets:
        for label in args.detectors:
            cfg = {"set": set_name, "label": label, "data": args.data}
            res = run_child(Path(__file__), cfg, threads=args.threads, timeout=args.timeout)
            res.update({"set": set_name, "detector": label})
            print(f"[{time.time() - t0:6.0f} s] {set_name} {label}: {res}", flush=True)
            results.append(res)
    wall = time.time() - t0
    out = {"settings": vars(args), "wall_s": wall, "results": results,
           "load_avg_at_end": os.getloadavg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print_table(results, args.threads, wall)


def print_table(results: list[dict[str, Any]], threads: int, wall: float) -> None:
    print(f"\n{threads} threads, {wall / 60:.1f} min\n")
    print("| set (train / test rows × features) | detector | engine | fit s (CPU s) | "
          "score s (CPU s) | test rows/s | peak RSS MB (before fit) | AUROC | AUPRC |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['set']} | {r['detector']} | not run: {r['error'][:60]} |")
            continue
        shape = f"{r['set']} ({r['n_train']:,} / {r['n_test']:,} × {r['features']})"
        print(f"| {shape} | {r['detector']} | {r.get('engine', '—')} | "
              f"{r['fit_s']:.1f} ({r['fit_cpu_s']:.1f}) | {r['score_s']:.1f} "
              f"({r['score_cpu_s']:.1f}) | {r['n_test'] / r['score_s']:,.0f} | "
              f"{r['peak_rss_mb']:.0f} ({r['base_rss_mb']:.0f}) | {r['auroc']:.3f} | "
              f"{r['auprc']:.3f} |")


if __name__ == "__main__":
    run_script(child, main)
