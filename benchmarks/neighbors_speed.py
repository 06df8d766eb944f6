"""Neighbour search on MNIST: the FAISS path against the former scikit-learn path and PyOD.

Issue 17, item 2. On MNIST's first N training images (60 000 by default, 784 features,
values in [-1, 1]) and its 10 000 test images, one fresh child process per configuration
(``_child.py``: threads fixed before any import, peak RSS from ``getrusage``):

- ``KNNDetector(neighbor_search="sklearn")``: the former path (scikit-learn's
  ``NearestNeighbors``; training scores through 1024-row batches);
- ``KNNDetector()``: the default, exact FAISS ``IndexFlatL2`` (chunked leave-one-out
  training scores, re-ranked on direct distances);
- PyOD's ``KNN`` (k = 5, "largest"), on the same flattened rows;
- ``KNNDetector(neighbor_search="ivf")`` and ``"hnsw"``: approximate FAISS indices, with
  their recall@5 on the test queries against the exact neighbours and the relative error of
  their scores.

``fit`` includes the training scores (``decision_scores_``: every training row's
leave-one-out k-th neighbour distance); ``score`` is ``decision_function`` on the 10 000
test images. Configurations run one after the other, round-robin over ``--reps`` rounds
(medians reported), all with ``--threads`` threads (default 2: torch, FAISS and BLAS).
Speed-ups are ratios within this one run. Writes ``benchmarks/results/neighbors_speed.json``.

``--engines`` measures instead the choice of the exact engine by dimension: the
leave-one-out 5-NN search of up to 50 000 standardised rows of ADBench tables of 3 to 62
features, by a kd-tree and by FAISS brute force (``TREE_MAX_DIM`` = 16 between them);
writes ``benchmarks/results/neighbors_engines.json``.

    .venv/bin/python benchmarks/neighbors_speed.py               # ≈ 9 min on 2 cores
    .venv/bin/python benchmarks/neighbors_speed.py --n 10000     # quick look
    .venv/bin/python benchmarks/neighbors_speed.py --engines     # ≈ 3 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _child import Memory, Timer, run_child, run_script, set_threads

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HISTORYAD_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results" / "neighbors_speed.json"
K = 5
CONFIGS = [
    ("sklearn (former path)", "historyad", "sklearn"),
    ("FAISS exact (default)", "historyad", "exact"),
    ("PyOD KNN", "pyod", None),
    ("FAISS IVF", "historyad", "ivf"),
    ("FAISS HNSW", "historyad", "hnsw"),
]


ENGINE_SETS = ("34_smtp", "22_magic.gamma", "10_cover", "1_ALOI", "5_campaign")


# -- child ---------------------------------------------------------------------------------
def engine_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """Leave-one-out 5-NN of one ADBench table with one exact engine."""
    set_threads(cfg["threads"])
    from historyad.detectors import search

    X = np.load(Path(cfg["data"]) / "adbench" / f"{cfg['set']}.npz")["X"][: cfg["n"]]
    X = X.astype(np.float32)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
    search.TREE_MAX_DIM = 10**9 if cfg["engine"] == "kdtree" else 0
    out: dict[str, Any] = {"rows": len(X), "features": int(X.shape[1])}
    with Timer(out, "loo"):
        index = search.NeighbourIndex(X)
        index.search_self(K)
    out["engine"] = index.engine
    return out


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    if "engine" in cfg:
        return engine_child(cfg)
    set_threads(cfg["threads"])
    from historyad.data import load
    from historyad.detectors import KNNDetector

    if cfg["kind"] == "pyod":
        from pyod.models.knn import KNN

    ds = load("mnist", root=cfg["data"])
    train = np.ascontiguousarray(ds.X[ds.is_train][: cfg["n"]])  # (N, 1, 28, 28)
    test = np.ascontiguousarray(ds.X[~ds.is_train][: cfg["n_test"]])
    del ds
    mem = Memory()
    mem.start()
    out: dict[str, Any] = {}
    if cfg["kind"] == "pyod":
        flat_tr, flat_te = train.reshape(len(train), -1), test.reshape(len(test), -1)
        det = KNN(n_neighbors=K, method="largest")
        with Timer(out, "fit"):
            det.fit(flat_tr)
        with Timer(out, "score"):
            test_scores = det.decision_function(flat_te)
        train_scores, idx = det.decision_scores_, None
        out.update(mem.report())
    else:
        det = KNNDetector(n_neighbors=K, neighbor_search=cfg["search"])
        with Timer(out, "fit"):
            det.fit(train)
        with Timer(out, "score"):
            test_scores = det.decision_function(test)
        out["engine"] = det._index.engine
        train_scores = det.decision_scores_
        out.update(mem.report())  # before the untimed look-up below
        _, idx = det._index.search(test.reshape(len(test), -1), K)  # for recall (untimed)
    tmp = Path(cfg["out_prefix"])
    np.save(f"{tmp}_train.npy", np.asarray(train_scores, dtype=np.float64))
    np.save(f"{tmp}_test.npy", np.asarray(test_scores, dtype=np.float64))
    if idx is not None:
        np.save(f"{tmp}_idx.npy", idx)
    return out


# -- parent --------------------------------------------------------------------------------
def _rel_err(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-12)
    return {"median": float(np.median(rel)), "p99": float(np.quantile(rel, 0.99)),
            "max": float(rel.max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60000, help="training images (≤ 60 000)")
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--only", nargs="*", help="labels to run (default: all)")
    ap.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/)")
    ap.add_argument("--engines", action="store_true", help="the exact engine by dimension")
    args = ap.parse_args()
    if args.engines:
        engines_main(args)
        return
    args.out = args.out or str(RESULTS)
    configs = [c for c in CONFIGS if not args.only or c[0] in args.only]
    runs: dict[str, list[dict[str, Any]]] = {c[0]: [] for c in configs}
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        prefixes = {}
        for rep in range(args.reps):
            for i, (label, kind, search) in enumerate(configs):
                prefix = f"{tmp}/c{i}_r{rep}"
                prefixes[label] = prefix
                cfg = {"kind": kind, "search": search, "n": args.n, "n_test": args.n_test,
                       "data": args.data, "out_prefix": prefix}
                res = run_child(Path(__file__), cfg, threads=args.threads)
                print(f"[{time.time() - t_start:6.0f} s] {label}: {res}", flush=True)
                runs[label].append(res)
        # agreement with the exact search (last round's outputs)
        exact = "FAISS exact (default)"
        quality: dict[str, dict[str, Any]] = {}
        if exact in prefixes and "error" not in runs[exact][-1]:
            ex_train = np.load(f"{prefixes[exact]}_train.npy")
            ex_test = np.load(f"{prefixes[exact]}_test.npy")
            ex_idx = np.load(f"{prefixes[exact]}_idx.npy")
            for label, prefix in prefixes.items():
                if "error" in runs[label][-1]:
                    continue
                q: dict[str, Any] = {
                    "train_score_rel_err": _rel_err(np.load(f"{prefix}_train.npy"), ex_train),
                    "test_score_rel_err": _rel_err(np.load(f"{prefix}_test.npy"), ex_test),
                }
                if Path(f"{prefix}_idx.npy").is_file():
                    idx = np.load(f"{prefix}_idx.npy")
                    q["recall_at_5"] = float(np.mean(
                        [len(set(a) & set(b)) / K for a, b in zip(idx, ex_idx, strict=True)]))
                quality[label] = q
    wall = time.time() - t_start
    summary = summarise(runs, quality, args)
    out = {"settings": vars(args), "wall_s": wall, "runs": runs, "quality": quality,
           "summary": summary, "machine": machine(args.threads)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print_tables(summary, args, wall)


def engines_main(args: argparse.Namespace) -> None:
    t0 = time.time()
    rows = []
    for name in ENGINE_SETS:
        for engine in ("kdtree", "flat"):
            cfg = {"set": name, "engine": engine, "n": 50000, "data": args.data}
            res = run_child(Path(__file__), cfg, threads=args.threads)
            res.update(set=name, requested=engine)
            print(f"[{time.time() - t0:6.0f} s] {res}", flush=True)
            rows.append(res)
    out = Path(args.out or RESULTS.with_name("neighbors_engines.json"))
    out.write_text(json.dumps({"settings": vars(args), "results": rows,
                               "machine": machine(args.threads)}, indent=1))
    print(f"\nleave-one-out 5-NN, {args.threads} threads\n")
    print("| set | rows × features | kd-tree s (CPU s) | FAISS flat s (CPU s) | faster |")
    print("|---|---|---|---|---|")
    for name in ENGINE_SETS:
        kd, fl = (next(r for r in rows if r["set"] == name and r["requested"] == e)
                  for e in ("kdtree", "flat"))
        if "error" in kd or "error" in fl:
            print(f"| {name} | failed |")
            continue
        best = "kd-tree" if kd["loo_s"] < fl["loo_s"] else "FAISS flat"
        print(f"| {name} | {kd['rows']:,} × {kd['features']} | {kd['loo_s']:.1f} "
              f"({kd['loo_cpu_s']:.1f}) | {fl['loo_s']:.1f} ({fl['loo_cpu_s']:.1f}) | {best} |")


def _med(rows: list[dict[str, Any]], key: str) -> float:
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) if vals else float("nan")


def summarise(runs: dict[str, list[dict[str, Any]]], quality: dict[str, Any],
              args: argparse.Namespace) -> dict[str, Any]:
    old = _med(runs.get("sklearn (former path)", []), "fit_s")
    old_cpu = _med(runs.get("sklearn (former path)", []), "fit_cpu_s")
    pyod_score = _med(runs.get("PyOD KNN", []), "score_s")
    pyod_score_cpu = _med(runs.get("PyOD KNN", []), "score_cpu_s")
    rows = {}
    for label, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            rows[label] = {"error": rs[-1].get("error") if rs else "not run"}
            continue
        fit_s, score_s = _med(ok, "fit_s"), _med(ok, "score_s")
        fit_cpu, score_cpu = _med(ok, "fit_cpu_s"), _med(ok, "score_cpu_s")
        q = quality.get(label, {})
        rows[label] = {
            "engine": ok[-1].get("engine", "pyod/sklearn"),
            "fit_s": fit_s, "score_s": score_s, "fit_cpu_s": fit_cpu, "score_cpu_s": score_cpu,
            "score_rows_per_s": args.n_test / score_s,
            "fit_speedup_vs_former": old / fit_s,
            "fit_cpu_speedup_vs_former": old_cpu / fit_cpu,
            "score_throughput_vs_pyod": pyod_score / score_s,
            "score_cpu_throughput_vs_pyod": pyod_score_cpu / score_cpu,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ok),
            "base_rss_mb": _med(ok, "base_rss_mb"),
            "work_peak_mb": max(r["work_peak_mb"] for r in ok),
            "recall_at_5": q.get("recall_at_5"),
            "train_score_rel_err_p99": q.get("train_score_rel_err", {}).get("p99"),
            "test_score_rel_err_p99": q.get("test_score_rel_err", {}).get("p99"),
        }
    return rows


def print_tables(summary: dict[str, Any], args: argparse.Namespace, wall: float) -> None:
    print(f"\nMNIST N = {args.n} training, {args.n_test} test images, k = {K}, "
          f"{args.threads} threads, {args.reps} round(s), {wall / 60:.1f} min\n")
    print("| search | engine | fit s (with training scores) | fit speed-up vs former, wall "
          "(CPU) | score s | test rows/s | throughput vs PyOD KNN, wall (CPU) | peak RSS MB "
          "(work peak) | recall@5 | score rel. err p99 (train / test) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, r in summary.items():
        if "error" in r:
            print(f"| {label} | failed: {r['error'][:80]} |")
            continue
        rec = "—" if r["recall_at_5"] is None else f"{r['recall_at_5']:.4f}"
        err = ("—" if r["train_score_rel_err_p99"] is None else
               f"{r['train_score_rel_err_p99']:.1e} / {r['test_score_rel_err_p99']:.1e}")
        print(f"| {label} | {r['engine']} | {r['fit_s']:.1f} | "
              f"{r['fit_speedup_vs_former']:.1f}× ({r['fit_cpu_speedup_vs_former']:.1f}×) | "
              f"{r['score_s']:.2f} | {r['score_rows_per_s']:,.0f} | "
              f"{r['score_throughput_vs_pyod']:.1f}× ({r['score_cpu_throughput_vs_pyod']:.1f}×) | "
              f"{r['peak_rss_mb']:.0f} ({r['work_peak_mb']:.0f}) | {rec} | {err} |")


def machine(threads: int) -> dict[str, Any]:
    import importlib.metadata as md

    vers = {}
    for pkg in ("torch", "faiss-cpu", "scikit-learn", "pyod", "numpy"):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            vers[pkg] = None
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "threads": threads,
            "load_avg_at_end": os.getloadavg(), **vers}


if __name__ == "__main__":
    run_script(child, main)
