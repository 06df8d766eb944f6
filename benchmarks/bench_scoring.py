"""Benchmark 3: scoring throughput of HistoryAD, critic, encoder and inversion detectors.

One briefly trained WGAN-GP (``cpu`` size conv2d nets, MNIST leave-out-0 training normals)
serves all four detectors through ``Detector.from_gan(run, ...)``; throughput does not depend
on the quality of the GAN. Measured on MNIST-shaped test images (1x28x28, float32 in
[-1, 1]) with one torch thread (``torch.set_num_threads(1)``):

1. samples/s of ``decision_function`` for each detector at one batch size (``--batch``,
   default 256: one call scores that many images, which the detectors do in one batch
   since ``score_batch_size`` is 1024); inversion uses its default 100 optimisation steps.
   Repetitions are interleaved (round-robin, rotating order); medians are reported.
2. HistoryAD's ``decision_function`` against one bare ``net(x)`` of its network (D_TV) under
   ``torch.no_grad()`` on the same batch, interleaved, at batch sizes 64, 256 and 1024, with
   float32 input (and float64 input as an extra row: the conversion a user pays).
3. A cProfile of repeated HistoryAD ``decision_function`` calls: the share of time outside
   the network's forward pass, by function.

Targets: HistoryAD >= 500x inversion (samples/s); HistoryAD within 1.2x of the raw forward.
Writes ``benchmarks/results/scoring.json`` and prints markdown tables. Run:

    .venv/bin/python benchmarks/bench_scoring.py              # ~2-3 min on 2 CPU cores
    .venv/bin/python benchmarks/bench_scoring.py --full       # more repetitions
    .venv/bin/python benchmarks/bench_scoring.py --device cuda
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.data import load
from historyad.detectors import (
    CriticDetector,
    EncoderDetector,
    HistoryAD,
    InversionDetector,
    KNNDetector,
)
from historyad.protocols import leave_one_class_out
from historyad.training import train_gan

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scoring.json"
DATA = Path(os.environ.get("HISTORYAD_DATA", ROOT.parent / "shared" / "data"))


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str, inner: int = 1) -> float:
    """Seconds per call of ``fn`` (``inner`` back-to-back calls, synchronised)."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / inner


def build(args: argparse.Namespace) -> tuple[dict[str, Any], np.ndarray, dict[str, Any]]:
    """Train the shared GAN and fit the four detectors; returns (detectors, X_test, info)."""
    ds = load("mnist", root=args.data)
    split = leave_one_class_out(ds, 0, max_train=args.n_train, max_test=4096, seed=0)
    X = split.X_train
    saves = max(1, len(X) // (64 * 5))  # one snapshot per generator iteration
    t0 = time.perf_counter()
    run = train_gan(
        X,
        GANConfig(n_epochs=args.gan_epochs, device=args.device),
        NetConfig(net_size="cpu"),
        HistoryConfig(saves_per_epoch=saves, alpha=1.0, beta=3.0),
    )
    gan_s = time.perf_counter() - t0
    common = {"device": args.device, "n_epochs": args.gan_epochs}
    dets: dict[str, Any] = {
        "HistoryAD": HistoryAD.from_gan(run, saves_per_epoch=saves, dtv_steps=args.dtv_steps,
                                        estimator="network", **common),
        "critic": CriticDetector.from_gan(run, **common),
        "encoder": EncoderDetector.from_gan(run, encoder_epochs=1.0, **common),
        "inversion": InversionDetector.from_gan(run, **common),  # default 100 steps
        # the defaults' knn estimator and the kNN baseline: neighbour searches over the
        # n_train training images (and as many history samples), so their speed depends on N
        "HistoryAD knn estimator (defaults)": HistoryAD.from_gan(run, saves_per_epoch=saves,
                                                                 **common),
        "kNN": KNNDetector(),
    }
    fit_s = {}
    for name, det in dets.items():
        t0 = time.perf_counter()
        # inversion scores its training data at fit time: 100 steps per image, so few images
        det.fit(X[:64] if name == "inversion" else X)
        fit_s[name] = time.perf_counter() - t0
    info = {"n_train": len(X), "gan_seconds": gan_s, "fit_seconds": fit_s,
            "gan_iters": len(run.records["gen_iter"]),
            "inversion_steps": dets["inversion"].inversion_steps}
    return dets, split.X_test, info


def throughput(dets: dict[str, Any], Xb: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved decision_function timings of every detector on the batch Xb."""
    names = list(dets)
    for det in dets.values():  # warm-up
        det.decision_function(Xb[:8])
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.reps):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            inner = 1 if name == "inversion" else args.inner
            times[name].append(
                timed(lambda d=dets[name]: d.decision_function(Xb), args.device, inner)
            )
    med = {n: statistics.median(t) for n, t in times.items()}
    return {
        "batch": len(Xb),
        "reps": args.reps,
        "seconds_per_call": times,
        "median_seconds_per_call": med,
        "samples_per_s": {n: len(Xb) / t for n, t in med.items()},
    }


def overhead(det: HistoryAD, X_test: np.ndarray, args: argparse.Namespace) -> list[dict]:
    """decision_function vs a bare dtv_(x) under no_grad, interleaved, per batch size."""
    net = det.dtv_
    rows = []
    for b in args.overhead_batches:
        Xb = np.ascontiguousarray(X_test[:b], dtype=np.float32)
        Xb64 = Xb.astype(np.float64)
        xt = torch.from_numpy(Xb).to(args.device)

        def raw(xt: torch.Tensor = xt) -> None:
            with torch.no_grad():
                net(xt)

        fns = {
            "raw net(x)": raw,
            "decision_function (float32)": lambda Xb=Xb: det.decision_function(Xb),
            "decision_function (float64 input)": lambda X=Xb64: det.decision_function(X),
        }
        for fn in fns.values():
            fn()
        times: dict[str, list[float]] = {k: [] for k in fns}
        inner = max(1, args.inner * 256 // b)
        for r in range(args.overhead_reps):
            keys = list(fns)
            keys = keys[r % 3:] + keys[: r % 3]
            for k in keys:
                times[k].append(timed(fns[k], args.device, inner))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({
            "batch": b,
            "reps": args.overhead_reps,
            "inner": inner,
            "median_ms": {k: 1e3 * v for k, v in med.items()},
            "samples_per_s": {k: b / v for k, v in med.items()},
            "ratio_vs_raw": {k: v / med["raw net(x)"] for k, v in med.items()},
        })
    return rows


def profile(det: HistoryAD, X_test: np.ndarray, batch: int, calls: int) -> dict[str, Any]:
    """cProfile of ``calls`` decision_function calls: top functions by own time."""
    Xb = np.ascontiguousarray(X_test[:batch], dtype=np.float32)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        det.decision_function(Xb)
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(file).name}:{line}({func})", "calls": nc,
                     "tottime_s": tt, "cumtime_s": ct, "share_of_total": tt / total})
    rows.sort(key=lambda r: -r["tottime_s"])
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(12)
    return {"batch": batch, "calls": calls, "total_s": total, "top_by_tottime": rows[:15],
            "text": text.getvalue()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=1280)
    ap.add_argument("--gan-epochs", type=float, default=3.0)
    ap.add_argument("--dtv-steps", type=int, default=50)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--inner", type=int, default=5, help="back-to-back calls per fast timing")
    ap.add_argument("--overhead-batches", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--overhead-reps", type=int, default=15)
    ap.add_argument("--full", action="store_true", help="more repetitions, batch 1024 too")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    if args.full:
        args.reps, args.overhead_reps, args.gan_epochs = 11, 41, 5.0
    torch.set_num_threads(args.threads)

    dets, X_test, info = build(args)
    Xb = np.ascontiguousarray(X_test[: args.batch], dtype=np.float32)
    tp = throughput(dets, Xb, args)
    ov = overhead(dets["HistoryAD"], X_test, args)
    prof = profile(dets["HistoryAD"], X_test, args.batch, calls=40)
    sps = tp["samples_per_s"]
    ratio_inv = sps["HistoryAD"] / sps["inversion"]
    worst = max(r["ratio_vs_raw"]["decision_function (float32)"] for r in ov)
    out = {
        "benchmark": "scoring",
        "command": "python benchmarks/bench_scoring.py" + (" --full" if args.full else ""),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__, "threads": args.threads,
                    "device": args.device},
        "settings": {"net_size": "cpu", "input": "MNIST test images 1x28x28 float32",
                     "batch": args.batch, **info},
        "throughput": tp,
        "overhead_vs_raw": ov,
        "profile": prof,
        "targets": {
            "historyad_over_inversion": ratio_inv,
            "historyad_over_inversion_met": ratio_inv >= 500,
            "worst_decision_function_over_raw_float32": worst,
            "within_1_2x_of_raw_met": worst <= 1.2,
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(tables(out))
    print(f"\nwritten {args.out}")


def tables(out: dict[str, Any]) -> str:
    tp, t = out["throughput"], out["targets"]
    lines = [
        f"batch {tp['batch']}, {out['machine']['threads']} torch thread(s), "
        f"{out['machine']['device']}, median of {tp['reps']} interleaved repetitions",
        "",
        "| detector | samples/s | ms per batch | HistoryAD speed-up |",
        "|---|---|---|---|",
    ]
    for name, s in tp["samples_per_s"].items():
        lines.append(f"| {name} | {s:,.0f} | {1e3 * tp['median_seconds_per_call'][name]:.1f} "
                     f"| {tp['samples_per_s']['HistoryAD'] / s:,.1f}x |")
    lines += ["", "| batch | raw net(x) ms | decision_function ms | ratio | float64 input ms "
              "| ratio |", "|---|---|---|---|---|---|"]
    for r in out["overhead_vs_raw"]:
        m, q = r["median_ms"], r["ratio_vs_raw"]
        lines.append(
            f"| {r['batch']} | {m['raw net(x)']:.2f} | {m['decision_function (float32)']:.2f} | "
            f"{q['decision_function (float32)']:.3f} | "
            f"{m['decision_function (float64 input)']:.2f} | "
            f"{q['decision_function (float64 input)']:.3f} |"
        )
    lines += ["", f"HistoryAD / inversion = {t['historyad_over_inversion']:,.0f}x "
              f"(target >= 500x: {'met' if t['historyad_over_inversion_met'] else 'MISSED'}); "
              f"worst decision_function / raw = {t['worst_decision_function_over_raw_float32']:.3f}"
              f" (target <= 1.2: {'met' if t['within_1_2x_of_raw_met'] else 'MISSED'})"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
