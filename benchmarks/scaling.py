"""Scaling of every detector: fit and score time and peak RSS against the training size N.

Issue 17, item 5. For each detector of the registry and PyOD's KNN and IForest:

- **tables**: ``16_http`` (ADBench, 3 features, the only shared table with 500 000 normal
  rows): N normal rows for training (a seeded random subset), N = 1k … 500k; the score set
  is 10 000 other rows (normal and anomalous) whatever N;
- **images**: MNIST training images (all digits, 1×28×28), N = 1k … 60k; the score set is
  2 000 MNIST test images.

One fresh child process per (family, detector, N) (``_child.py``; ``--threads`` threads,
default 2): wall and CPU seconds of ``fit`` (training scores included) and of
``decision_function`` on the fixed score set, the peak RSS (``getrusage``) and the RSS
before fit. GAN detectors train on the fixed small budget of ``_detectors.py`` (100
generator iterations whatever N, width 16; D_TV 100 steps; encoder 100 batches; inversion
5 steps): on two CPU cores the papers' schedules take hours at these N, and a fixed budget
shows what grows with N (training scores, samples, neighbour searches).

Points run in order of N, all detectors at one N before the next N; a detector whose
fit + score took more than ``--cap`` seconds at some N is not run at larger N (reported as
such). The fitted exponent is the least-squares slope of log(y) on log(N) over the points
run (fit time, score time, peak RSS and its increase over the RSS before fit).

Writes ``benchmarks/results/scaling_detectors.json``; prints markdown tables.

    .venv/bin/python benchmarks/scaling.py                   # the full grid (about 1 h here)
    .venv/bin/python benchmarks/scaling.py --tables-n 1000 10000 100000 500000 \\
        --images-n 1000 10000 60000 --cap 150                # a reduced grid
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from _child import Memory, Timer, run_child, run_script, set_threads

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HISTORYAD_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results" / "scaling_detectors.json"
TABLES_N = (1000, 3000, 10000, 30000, 100000, 300000, 500000)
IMAGES_N = (1000, 3000, 10000, 30000, 60000)
DETECTORS = ("knn", "recommended", "density-ratio", "historyad", "critic", "encoder",
             "inversion", "pyod-knn", "pyod-iforest")
N_SCORE = {"tables": 10000, "images": 2000}


def _data(family: str, n: int, root: str) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    if family == "tables":
        from historyad.data import load

        ds = load("adbench", subset="16_http", root=root)
        normal = np.flatnonzero(ds.y == 0)
        rng.shuffle(normal)
        if n > len(normal) - N_SCORE[family] // 2:
            raise ValueError(f"16_http has {len(normal)} normal rows; N={n} is too many")
        train = ds.X[normal[:n]]
        rest = np.concatenate([normal[-N_SCORE[family]:], np.flatnonzero(ds.y == 1)])
        test = ds.X[rng.choice(rest, N_SCORE[family], replace=False)]
        return np.ascontiguousarray(train), np.ascontiguousarray(test)
    from historyad.data import load

    ds = load("mnist", root=root)
    train_idx = np.flatnonzero(ds.is_train)
    train = ds.X[np.sort(rng.choice(train_idx, n, replace=False))]
    test = ds.X[np.flatnonzero(~ds.is_train)[: N_SCORE[family]]]
    return np.ascontiguousarray(train), np.ascontiguousarray(test)


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    set_threads(cfg["threads"])
    import numpy as np

    import _detectors

    train, test = _data(cfg["family"], cfg["n"], cfg["data"])
    name = cfg["detector"]
    pyod = name.startswith("pyod")
    if pyod:  # PyOD takes flat rows; tables standardised with training statistics
        train, test = train.reshape(len(train), -1), test.reshape(len(test), -1)
        if cfg["family"] == "tables":
            from historyad.protocols.scaling import standardize

            train, test = standardize(train, test)
    det = _detectors.make(name, len(train))
    mem = Memory()
    mem.start()
    out: dict[str, Any] = {}
    with Timer(out, "fit"):
        det.fit(train)
    with Timer(out, "score"):
        np.asarray(det.decision_function(test))
    out.update(mem.report())
    return out


def slope(ns: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(N); None with fewer than 2 usable points."""
    pts = [(math.log(n), math.log(y)) for n, y in zip(ns, ys, strict=True) if y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx > 0 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables-n", type=int, nargs="*", default=list(TABLES_N))
    ap.add_argument("--images-n", type=int, nargs="*", default=list(IMAGES_N))
    ap.add_argument("--detectors", nargs="*", default=list(DETECTORS))
    ap.add_argument("--families", nargs="*", default=["tables", "images"])
    ap.add_argument("--cap", type=float, default=300.0,
                    help="skip larger N for a detector after a point slower than this (s)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--update", action="store_true",
                    help="replace these points in the existing --out file, keep the others")
    args = ap.parse_args()
    t0 = time.time()
    results: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    if args.update and Path(args.out).is_file():
        kept = json.loads(Path(args.out).read_text())["results"]
    for family in args.families:
        grid = args.tables_n if family == "tables" else args.images_n
        stopped: dict[str, str] = {}
        for n in grid:
            for det in args.detectors:
                rec: dict[str, Any] = {"family": family, "detector": det, "n": n}
                if det in stopped:
                    rec["error"] = stopped[det]
                else:
                    cfg = {"family": family, "detector": det, "n": n, "data": args.data}
                    rec.update(run_child(Path(__file__), cfg, threads=args.threads,
                                         timeout=max(args.cap * 4, 600)))
                    took = rec.get("fit_s", 0) + rec.get("score_s", 0)
                    if "error" in rec or took > args.cap:
                        why = rec.get("error") or f"{took:.0f} s at N={n} > cap {args.cap:.0f} s"
                        stopped[det] = f"not run: {why[:120]}"
                print(f"[{time.time() - t0:6.0f} s] {rec}", flush=True)
                results.append(rec)
        _save(args, _merged(kept, results), t0)
    results = _merged(kept, results)
    _save(args, results, t0)
    print_tables(results, args, time.time() - t0)


def _merged(kept: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``kept`` with the points of ``new`` replaced (``--update``), in grid order."""
    key = lambda r: (r["family"], r["detector"], r["n"])  # noqa: E731
    fresh = {key(r) for r in new}
    out = [r for r in kept if key(r) not in fresh] + new
    return sorted(out, key=lambda r: (r["family"], r["n"]))


def summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    keys = sorted({(r["family"], r["detector"]) for r in results},
                  key=lambda k: (k[0], DETECTORS.index(k[1]) if k[1] in DETECTORS else 99))
    for family, det in keys:
        pts = [r for r in results if (r["family"], r["detector"]) == (family, det)
               and "error" not in r]
        ns = [r["n"] for r in pts]
        rows.append({
            "family": family, "detector": det, "n_run": ns,
            "fit_exponent": slope(ns, [r["fit_s"] for r in pts]),
            "score_exponent": slope(ns, [r["score_s"] for r in pts]),
            "peak_rss_exponent": slope(ns, [r["peak_rss_mb"] for r in pts]),
            "rss_increase_exponent": slope(
                ns, [r["peak_rss_mb"] - r["base_rss_mb"] for r in pts]),
        })
    return rows


def _save(args: argparse.Namespace, results: list[dict[str, Any]], t0: float) -> None:
    out = {"settings": vars(args), "wall_s": time.time() - t0, "results": results,
           "summary": summary(results), "load_avg_at_end": os.getloadavg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def print_tables(results: list[dict[str, Any]], args: argparse.Namespace, wall: float) -> None:
    print(f"\n{args.threads} threads, cap {args.cap:.0f} s, {wall / 60:.1f} min\n")
    for family in sorted({r["family"] for r in results}, reverse=True):
        grid = sorted({r["n"] for r in results if r["family"] == family})
        names = [d for d in DETECTORS if any(r["detector"] == d for r in results)]
        print(f"\n{family}: fit s / score s / peak RSS MB per N\n")
        print("| detector | " + " | ".join(f"N = {n:,}" for n in grid) + " |")
        print("|---|" + "---|" * len(grid))
        for det in names:
            cells = []
            for n in grid:
                r = next((r for r in results if (r["family"], r["detector"], r["n"])
                          == (family, det, n)), None)
                if r is None:
                    cells.append("—")
                elif "error" in r:
                    cells.append("skipped" if r["error"].startswith("not run") else "failed")
                else:
                    cells.append(f"{r['fit_s']:.1f} / {r['score_s']:.2f} / "
                                 f"{r['peak_rss_mb']:.0f}")
            print(f"| {det} | " + " | ".join(cells) + " |")
    print("\nfitted log-log exponents (over the N run)\n")
    print("| family | detector | N run | fit time | score time | peak RSS | RSS increase |")
    print("|---|---|---|---|---|---|---|")
    for row in summary(results):
        ns = row["n_run"]
        span = f"{ns[0]:,}–{ns[-1]:,} ({len(ns)})" if ns else "none"
        print(f"| {row['family']} | {row['detector']} | {span} | {_fmt(row['fit_exponent'])} | "
              f"{_fmt(row['score_exponent'])} | {_fmt(row['peak_rss_exponent'])} | "
              f"{_fmt(row['rss_increase_exponent'])} |")


if __name__ == "__main__":
    run_script(child, main)
