"""Benchmark 5: WGAN-GP training time per epoch and peak RSS as the data and the nets grow.

``train_gan`` (WGAN-GP, batch 64, n_critic 5, conv2d nets) on real MNIST training images:

- **training size** N in 1k, 3k, 10k, 30k, 60k (``cpu`` nets, width 32);
- **network width** 16, 32, 64, 128 (width 32 is the ``cpu`` size, 128 the ``paper`` size)
  at N = 12,800.

An epoch is ``N // (64 * 5)`` generator iterations (187 at 60k), which is too long to run at
every point on 2 CPU cores, so each point trains ``--iters`` generator iterations and the
time per epoch is EXTRAPOLATED as (median seconds per generator iteration, from timestamps
between consecutive iterations, the first iteration excluded) x iterations per epoch.
Timings are taken in ONE process, interleaved round-robin over the points (``--reps``
rounds); peak RSS (``VmHWM``) comes from a FRESH child process per point that loads
only its N images (uint8 MNIST file, then float32) and trains the same iterations. A
least-squares line through (log x, log y) gives the observed exponent. Also reports
parameter counts. Peak RSS is the kernel's high-water mark ``VmHWM`` of
``/proc/self/status``, not ``ru_maxrss``: a child started by ``subprocess`` inherits the
PARENT's peak in its ``ru_maxrss`` (Linux keeps the exec'd-away memory map's peak in the
rusage), which hides every child smaller than its parent. One torch thread
(``torch.set_num_threads(1)``).

Writes ``benchmarks/results/scaling.json``; prints markdown tables. Run:

    .venv/bin/python benchmarks/bench_scaling.py              # ~2-3 min on 2 CPU cores
    .venv/bin/python benchmarks/bench_scaling.py --full       # more iterations and rounds
    .venv/bin/python benchmarks/bench_scaling.py --device cuda
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _memory import peak_rss_mb
from historyad.config import GANConfig, NetConfig
from historyad.nn import build_critic, build_generator, count_parameters
from historyad.training import train_gan
from historyad.training.trainer import iters_per_epoch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scaling.json"
DATA = Path(os.environ.get("HISTORYAD_DATA", ROOT.parent / "shared" / "data"))
SHAPE = (1, 28, 28)
BATCH, N_CRITIC = 64, 5


def load_mnist(n: int, data: str) -> np.ndarray:
    """The first n MNIST training images, (n, 1, 28, 28) float32 in [-1, 1].

    Reads the uint8 IDX file directly so that a child holds only its n images as float32.
    """
    path = Path(data) / "mnist" / "train-images-idx3-ubyte.gz"
    with gzip.open(path) as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, *SHAPE)
    if n > len(raw):
        raise ValueError(f"n={n} exceeds the {len(raw)} MNIST training images")
    X = raw[:n].astype(np.float32)  # the only float copy: scaled in place
    X /= 127.5
    X -= 1.0
    return X


def train_iters(X: np.ndarray, width: int, iters: int, device: str) -> list[float]:
    """Train ``iters`` generator iterations; seconds between consecutive iterations."""
    per_epoch = iters_per_epoch(len(X), BATCH, N_CRITIC)
    stamps: list[float] = []
    cfg = GANConfig(n_epochs=iters / per_epoch, batch_size=BATCH, n_critic=N_CRITIC,
                    device=device)

    def callback(_it: int, _record: dict[str, float]) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    run = train_gan(X, cfg, NetConfig(net_size="cpu", width=width), callback=callback)
    assert len(run.records["gen_iter"]) == iters
    return list(np.diff(stamps))


def child(kind: str, n: int, width: int, args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    X = load_mnist(n, args.data)
    rss_data = peak_rss_mb()
    t0 = time.perf_counter()
    diffs = train_iters(X, width, args.rss_iters, args.device)
    out = {"kind": kind, "n": n, "width": width, "seconds": time.perf_counter() - t0,
           "iter_seconds": diffs, "rss_after_data_mb": rss_data,
           "peak_rss_mb": peak_rss_mb()}
    if args.device.startswith("cuda"):
        out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def run_child(kind: str, n: int, width: int, argv: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *argv, "--child", kind, "--child-n", str(n),
           "--child-width", str(width)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child {kind} n={n} width={width} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000, 30000, 60000])
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--width-n", type=int, default=12800, help="N of the width sweep")
    ap.add_argument("--iters", type=int, default=4, help="generator iterations per timing")
    ap.add_argument("--width-iters", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2, help="interleaved timing rounds")
    ap.add_argument("--rss-iters", type=int, default=2, help="iterations of each RSS child")
    ap.add_argument("--full", action="store_true", help="more iterations and rounds")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--child-width", type=int, default=32, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.full:
        args.iters, args.width_iters, args.reps, args.rss_iters = 10, 6, 3, 3
    if args.child:
        print(json.dumps(child(args.child, args.child_n, args.child_width, args)))
        return
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    argv = ["--data", args.data, "--device", args.device, "--threads", str(args.threads),
            "--rss-iters", str(args.rss_iters)]

    # timings: one process, interleaved rounds ---------------------------------------------
    X_all = load_mnist(max(max(args.sizes), args.width_n), args.data)
    train_iters(X_all[:1000], 32, 2, args.device)  # warm-up
    size_t: dict[int, list[float]] = {n: [] for n in args.sizes}
    width_t: dict[int, list[float]] = {w: [] for w in args.widths}
    for r in range(args.reps):
        sizes = args.sizes if r % 2 == 0 else args.sizes[::-1]
        for n in sizes:
            size_t[n] += train_iters(X_all[:n], 32, args.iters, args.device)
        widths = args.widths if r % 2 == 0 else args.widths[::-1]
        for w in widths:
            width_t[w] += train_iters(X_all[: args.width_n], w, args.width_iters, args.device)
        print(f"timing round {r + 1}/{args.reps} done", flush=True)
    del X_all

    # peak RSS: a fresh child per point ---------------------------------------------------
    size_rows, width_rows = [], []
    for n in args.sizes:
        c = run_child("size", n, 32, argv)
        per_epoch = iters_per_epoch(n, BATCH, N_CRITIC)
        it_s = statistics.median(size_t[n])
        size_rows.append({"n": n, "iters_per_epoch": per_epoch, "sec_per_iter": it_s,
                          "sec_per_epoch": it_s * per_epoch, "iter_samples": len(size_t[n]),
                          "peak_rss_mb": c["peak_rss_mb"],
                          "rss_after_data_mb": c["rss_after_data_mb"]})
        print(f"N={n}: {it_s:.2f} s/iter, {c['peak_rss_mb']:.0f} MB", flush=True)
    per_epoch_w = iters_per_epoch(60000, BATCH, N_CRITIC)
    for w in args.widths:
        c = run_child("width", args.width_n, w, argv)
        it_s = statistics.median(width_t[w])
        nets = NetConfig(net_size="cpu", width=w)
        width_rows.append({
            "width": w,
            "params_generator": count_parameters(build_generator(SHAPE, nets)),
            "params_critic": count_parameters(build_critic(SHAPE, nets)),
            "sec_per_iter": it_s, "sec_per_epoch_60k": it_s * per_epoch_w,
            "iter_samples": len(width_t[w]), "peak_rss_mb": c["peak_rss_mb"],
            "rss_after_data_mb": c["rss_after_data_mb"]})
        print(f"width={w}: {it_s:.2f} s/iter, {c['peak_rss_mb']:.0f} MB", flush=True)

    ns = [r["n"] for r in size_rows]
    ws = [r["width"] for r in width_rows]
    rss_n = [r["peak_rss_mb"] for r in size_rows]
    fits = {
        "epoch_time_vs_n": slope(ns, [r["sec_per_epoch"] for r in size_rows]),
        "iter_time_vs_n": slope(ns, [r["sec_per_iter"] for r in size_rows]),
        "peak_rss_vs_n": slope(ns, rss_n),
        "peak_rss_mb_per_1k_samples": float(np.polyfit(ns, rss_n, 1)[0] * 1000),
        "iter_time_vs_width": slope(ws, [r["sec_per_iter"] for r in width_rows]),
        "iter_time_vs_width_top2": slope(ws[-2:], [r["sec_per_iter"] for r in width_rows][-2:]),
        "peak_rss_vs_width": slope(ws, [r["peak_rss_mb"] for r in width_rows]),
        "params_vs_width": slope(
            ws, [r["params_generator"] + r["params_critic"] for r in width_rows]),
    }
    out = {
        "benchmark": "scaling",
        "command": "python benchmarks/bench_scaling.py" + (" --full" if args.full else ""),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__, "threads": args.threads,
                    "device": args.device},
        "settings": {"loss": "wgan-gp", "batch_size": BATCH, "n_critic": N_CRITIC,
                     "data": "MNIST training images", "size_width": 32,
                     "width_n": args.width_n, "iters": args.iters,
                     "width_iters": args.width_iters, "reps": args.reps,
                     "rss_iters": args.rss_iters,
                     "extrapolation": "sec_per_epoch = median sec per generator iteration x "
                                      "N // (64 * 5)"},
        "size": size_rows,
        "width": width_rows,
        "loglog_slopes": fits,
        "raw_iter_seconds": {"size": {str(k): v for k, v in size_t.items()},
                             "width": {str(k): v for k, v in width_t.items()}},
        "total_seconds": time.perf_counter() - t_start,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(tables(out))
    print(f"\nwritten {args.out}")


def tables(out: dict[str, Any]) -> str:
    f = out["loglog_slopes"]
    lines = [
        "| N | iterations / epoch | s / iteration | s / epoch (extrapolated) | peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    for r in out["size"]:
        lines.append(f"| {r['n']:,} | {r['iters_per_epoch']} | {r['sec_per_iter']:.2f} | "
                     f"{r['sec_per_epoch']:.0f} | {r['peak_rss_mb']:.0f} |")
    lines += [
        "",
        f"log-log slopes vs N: epoch time {f['epoch_time_vs_n']:.2f}, iteration time "
        f"{f['iter_time_vs_n']:.2f}, peak RSS {f['peak_rss_vs_n']:.2f} "
        f"(+{f['peak_rss_mb_per_1k_samples']:.1f} MB per 1k samples)",
        "",
        "| width | G params | D params | s / iteration | s / epoch at 60k (extrapolated) "
        "| peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in out["width"]:
        lines.append(f"| {r['width']} | {r['params_generator']:,} | {r['params_critic']:,} | "
                     f"{r['sec_per_iter']:.2f} | {r['sec_per_epoch_60k']:.0f} | "
                     f"{r['peak_rss_mb']:.0f} |")
    lines += [
        "",
        f"log-log slopes vs width: iteration time {f['iter_time_vs_width']:.2f} "
        f"({f['iter_time_vs_width_top2']:.2f} between the two largest), peak RSS "
        f"{f['peak_rss_vs_width']:.2f}, parameters {f['params_vs_width']:.2f}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
