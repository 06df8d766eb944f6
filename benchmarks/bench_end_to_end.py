"""Benchmark 4: end-to-end fit + score wall time, peak RSS and AUPRC on MNIST leave-out-0.

One split, ``protocols.leave_one_class_out(mnist, 0, max_train=..., max_test=..., seed=0)``,
shared by every detector: HistoryAD (quick schedule below; also its "no training" variant,
``train_dtv=False``: the averaged critic scores; and HistoryAD once more with glibc's
``MALLOC_MMAP_THRESHOLD_=131072``, to show how much of its RSS is heap retention rather than
live tensors), historyad's ``KNNDetector`` and
the classical PyOD peers when ``pyod`` is installed (KNN, IForest, LOF, PCA, OCSVM, ECOD,
HBOS on flattened pixels; PyOD's deep models are left out here). Each detector runs in a
FRESH child process that loads the data, fits on the training normals and scores the test
set; the child reports fit and score wall time, its peak RSS over its whole life
(``VmHWM``), its RSS just before fitting (imports + the split, read from an ``.npz`` the
parent writes once: the same for everyone), the peak RSS of fit + score alone (the kernel's
high-water mark is reset through ``/proc/self/clear_refs`` before ``fit``, read back as
``VmHWM``; the torch import's own transient peak would otherwise hide a small detector) and
the AUPRC / AUROC. Children run one after the
other; with ``--reps`` > 1 the detectors are interleaved round-robin and medians reported.

HistoryAD quick schedule (default): ``cpu`` nets, WGAN-GP for 5 epochs on 3,000 training
normals (9 generator iterations per epoch, one snapshot each: ``saves_per_epoch`` = 9),
D_TV for 300 steps, 2,000 test images. ``--full`` uses every training normal and test image,
50 saves per epoch and the paper's 1,500 D_TV steps (hours on 2 CPU cores).

Peak RSS is the kernel's high-water mark ``VmHWM`` of ``/proc/self/status``, not
``ru_maxrss``: a child started by ``subprocess`` inherits the PARENT's peak in its
``ru_maxrss`` (Linux keeps the exec'd-away memory map's peak in the rusage), which hides
every child smaller than its parent.

Every child uses one thread (``torch.set_num_threads(1)``; OMP / OpenBLAS / MKL / numba
threads set to 1). Writes ``benchmarks/results/end_to_end.json``; prints a markdown table:

    .venv/bin/python benchmarks/bench_end_to_end.py            # ~3 min on 2 CPU cores
    .venv/bin/python benchmarks/bench_end_to_end.py --full [--device cuda]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from historyad.evaluation.peers import pyod_available

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "end_to_end.json"
DATA = Path(os.environ.get("HISTORYAD_DATA", ROOT.parent / "shared" / "data"))
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMBA_NUM_THREADS")

#: HistoryAD again, with glibc's mmap threshold fixed (no heap retention of big blocks)
MALLOC_LABEL = "HistoryAD, MALLOC_MMAP_THRESHOLD_=131072"

#: label -> (module, class, kwargs) of the classical PyOD peers
PYOD_PEERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "PyOD KNN": ("pyod.models.knn", "KNN", {}),
    "PyOD IForest": ("pyod.models.iforest", "IForest", {"random_state": 0}),
    "PyOD LOF": ("pyod.models.lof", "LOF", {}),
    "PyOD PCA": ("pyod.models.pca", "PCA", {"random_state": 0}),
    "PyOD OCSVM": ("pyod.models.ocsvm", "OCSVM", {}),
    "PyOD ECOD": ("pyod.models.ecod", "ECOD", {}),
    "PyOD HBOS": ("pyod.models.hbos", "HBOS", {}),
}


def make(label: str, args: argparse.Namespace, n_train: int) -> Any:
    """The detector ``label`` (unfitted)."""
    if label.startswith("HistoryAD"):
        from historyad.detectors import HistoryAD

        per_epoch = max(1, n_train // (64 * 5))
        return HistoryAD(n_epochs=args.epochs, saves_per_epoch=min(args.saves, per_epoch),
                         dtv_steps=args.dtv_steps, net_size="cpu", device=args.device,
                         random_state=0, train_dtv="no D_TV" not in label,
                         estimator="network")  # seed 000's D_TV: the costly part measured
    if label == "historyad KNNDetector":
        from historyad.detectors import KNNDetector

        return KNNDetector(n_neighbors=5)
    module, cls, kwargs = PYOD_PEERS[label]
    return getattr(importlib.import_module(module), cls)(**kwargs)


def proc_status_mb(key: str) -> float:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in MiB; nan when unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0); False if refused."""
    from _child import reset_peak

    return reset_peak()


def child(label: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from historyad.evaluation.metrics import auprc, auroc

    torch.set_num_threads(args.threads)
    with np.load(args.split) as f:
        Xtr, Xte, y_test = f["X_train"], f["X_test"], f["y_test"]
    n_train, n_test = len(Xtr), len(Xte)
    peak_before = proc_status_mb("VmHWM")
    rss_before = proc_status_mb("VmRSS")
    reset = reset_peak_rss()
    if label.startswith("PyOD"):
        Xtr, Xte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
    det = make(label, args, len(Xtr))
    t0 = time.perf_counter()
    det.fit(Xtr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = np.asarray(det.decision_function(Xte), dtype=np.float64).reshape(-1)
    score_s = time.perf_counter() - t0
    fit_peak = proc_status_mb("VmHWM")  # the whole life's peak when the reset was refused
    return {
        "detector": label,
        "fit_seconds": fit_s,
        "score_seconds": score_s,
        "total_seconds": fit_s + score_s,
        "peak_rss_mb": max(peak_before, fit_peak),
        "rss_before_fit_mb": rss_before,
        "fit_score_peak_rss_mb": fit_peak,
        "fit_score_rss_increase_mb": fit_peak - rss_before,
        "hwm_reset": reset,
        "auprc": auprc(y_test, scores),
        "auroc": auroc(y_test, scores),
        "n_train": n_train,
        "n_test": n_test,
        "anomaly_fraction": float(y_test.mean()),
    }


def run_child(label: str, argv: list[str]) -> dict[str, Any]:
    env = {**os.environ, **dict.fromkeys(THREAD_ENV, "1")}
    if label == MALLOC_LABEL:  # glibc: big blocks from mmap, returned to the OS when freed
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    proc = subprocess.run([sys.executable, __file__, *argv, "--child", label],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"detector": label, "error": proc.stderr.strip().splitlines()[-1][:300]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--device", default="cpu", help="HistoryAD's device (cpu or cuda)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-train", type=int, default=3000)
    ap.add_argument("--max-test", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=5.0)
    ap.add_argument("--saves", type=int, default=50, help="capped at iterations per epoch")
    ap.add_argument("--dtv-steps", type=int, default=300)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--no-pyod", action="store_true")
    ap.add_argument("--full", action="store_true",
                    help="all training normals and test images, 1500 D_TV steps")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--split", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.full:
        args.max_train, args.max_test, args.dtv_steps = None, None, 1500
    if args.child:
        print(json.dumps(child(args.child, args)))
        return

    from historyad.data import load
    from historyad.protocols import leave_one_class_out

    split = leave_one_class_out(load("mnist", root=args.data), 0, max_train=args.max_train,
                                max_test=args.max_test, seed=0)
    tmp = tempfile.TemporaryDirectory(prefix="bench-e2e-")
    split_file = str(Path(tmp.name) / "split.npz")
    np.savez(split_file, X_train=split.X_train, X_test=split.X_test, y_test=split.y_test)
    del split
    argv = ["--split", split_file, "--data", args.data, "--device", args.device,
            "--threads", str(args.threads), "--epochs", str(args.epochs),
            "--saves", str(args.saves), "--dtv-steps", str(args.dtv_steps)]
    if args.max_train is not None:
        argv += ["--max-train", str(args.max_train)]
    if args.max_test is not None:
        argv += ["--max-test", str(args.max_test)]
    if args.full:
        argv += ["--full"]
    labels = ["HistoryAD", MALLOC_LABEL, "HistoryAD (no D_TV training)",
              "historyad KNNDetector"]
    notes = []
    if args.no_pyod:
        notes.append("PyOD peers not run (--no-pyod)")
    elif pyod_available():
        labels += list(PYOD_PEERS)
    else:
        notes.append("PyOD is not installed (pip install pyod): peers skipped")
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in labels}
    t_start = time.perf_counter()
    for r in range(args.reps):
        order = labels[r % len(labels):] + labels[: r % len(labels)]
        for label in order:
            res = run_child(label, argv)
            runs[label].append(res)
            msg = res.get("error") or f"AUPRC {res['auprc']:.3f}, {res['total_seconds']:.1f} s"
            print(f"{label}: {msg}", flush=True)
    summary = {}
    for label, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            summary[label] = {"error": rs[0]["error"]}
            continue
        summary[label] = {k: statistics.median(r[k] for r in ok) for k in (
            "fit_seconds", "score_seconds", "total_seconds", "peak_rss_mb",
            "rss_before_fit_mb", "fit_score_peak_rss_mb", "fit_score_rss_increase_mb",
            "auprc", "auroc")}
        summary[label].update({k: ok[0][k] for k in ("n_train", "n_test", "anomaly_fraction")})
    knn = summary.get("historyad KNNDetector", {}).get("total_seconds")
    for s in summary.values():
        if knn and "total_seconds" in s:
            s["time_vs_knn"] = s["total_seconds"] / knn
    try:
        import pyod

        pyod_version = pyod.__version__
    except ImportError:
        pyod_version = None
    import torch

    n_train = next((s["n_train"] for s in summary.values() if "n_train" in s), None)
    out = {
        "benchmark": "end_to_end",
        "command": "python benchmarks/bench_end_to_end.py" + (" --full" if args.full else ""),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__, "pyod": pyod_version,
                    "threads": args.threads, "device": args.device},
        "settings": {
            "split": "mnist leave_one_class_out(anomaly=0, train_fraction=0.8, seed=0)",
            "max_train": args.max_train, "max_test": args.max_test,
            "historyad": {"net_size": "cpu", "n_epochs": args.epochs,
                          "saves_per_epoch": (min(args.saves, max(1, n_train // 320))
                                              if n_train else args.saves),
                          "dtv_steps": args.dtv_steps, "loss": "wgan-gp", "batch_size": 64,
                          "n_critic": 5},
            "reps": args.reps,
        },
        "notes": notes,
        "runs": runs,
        "summary": summary,
        "total_seconds": time.perf_counter() - t_start,
    }
    tmp.cleanup()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(table(out))
    print(f"\nwritten {args.out}")


def table(out: dict[str, Any]) -> str:
    s = next(v for v in out["summary"].values() if "n_train" in v)
    h = out["settings"]["historyad"]
    lines = [
        f"MNIST leave-out-0: {s['n_train']} training normals, {s['n_test']} test images "
        f"({100 * s['anomaly_fraction']:.1f}% anomalies); HistoryAD {h['n_epochs']:g} epochs, "
        f"{h['saves_per_epoch']} saves/epoch, {h['dtv_steps']} D_TV steps; "
        f"{out['machine']['threads']} thread(s), {out['machine']['device']}",
        "",
        "| detector | AUPRC | AUROC | fit s | score s | total s | x kNN time | peak RSS MB "
        "| fit+score peak RSS MB | its increase over pre-fit RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in out["summary"].items():
        if "error" in r:
            lines.append(f"| {label} | failed: {r['error']} | | | | | | | | |")
            continue
        lines.append(
            f"| {label} | {r['auprc']:.3f} | {r['auroc']:.3f} | {r['fit_seconds']:.1f} | "
            f"{r['score_seconds']:.2f} | {r['total_seconds']:.1f} | "
            f"{r.get('time_vs_knn', float('nan')):.1f} | {r['peak_rss_mb']:.0f} | "
            f"{r['fit_score_peak_rss_mb']:.0f} | {r['fit_score_rss_increase_mb']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
