"""Benchmark 2: peak RSS and bytes written by the generator history, at the ``paper`` size.

Every variant trains the same WGAN-GP (conv2d nets, ``NetConfig(net_size="paper")``: ~4.6 M
parameters in G, ~5.3 M in the critic) for ``--epochs`` epochs with ``--saves`` snapshots per
epoch, in a FRESH child process, and reports that child's peak RSS (``VmHWM``), its bytes
written (``wchar`` of ``/proc/self/io``: every ``write()`` call, page cache included), the
store's own byte count and the wall time. Variants:

- ``no-history``: ``train_gan(..., history=None)`` (the reference for the 1.2x target);
- ``memory/fp32`` (the library default), ``memory/fp16``, ``disk/fp32``, ``disk/fp16``;
- ``paper: all G+D states in memory``: every generator AND critic state kept in memory as
  float32 (``HistoryConfig(history_store="memory", record_critic=True)``), the paper's approach.
  In the default (quick) run it trains ``--paper-epochs`` = 1 epoch (50 G + 50 D snapshots,
  ~2 GB) and its peak RSS at ``epochs x saves`` snapshots is EXTRAPOLATED linearly (measured
  peak + the missing snapshots' bytes; the memory/fp32 row checks such an extrapolation
  against a measurement); ``--full`` measures it (~10 GB).

What matters is the number and size of snapshots, not the quality of the GAN, so iterations
are made cheap: ``n_critic=1``, ``batch_size=2`` and N = 2 * 50 random MNIST-shaped samples
(uniform in [-1, 1]), so that one epoch is exactly 50 generator iterations and each
iteration records one snapshot. ``alpha=0`` keeps all ``epochs x saves`` snapshots (the
default alpha=1 would keep the last (epochs - 1) x saves + 1 of them). The no-history
reference trains for the same number of iterations (``--baseline-epochs``, default: all
epochs): its peak RSS is set by transient spikes of the training step (the current RSS in
``rss_trace_mb`` swings by ~100 MB), so a shorter reference would under-estimate it.
``--full`` uses the paper's real schedule (batch 64, n_critic 5, N = 5 * 64 * 50).

Peak RSS is the kernel's high-water mark ``VmHWM`` of ``/proc/self/status``, not
``ru_maxrss``: a child started by ``subprocess`` inherits the PARENT's peak in its
``ru_maxrss`` (Linux keeps the exec'd-away memory map's peak in the rusage), which hides
every child smaller than its parent.

One torch thread (``torch.set_num_threads(1)``), CPU unless ``--device cuda``. Writes
``benchmarks/results/history_memory.json`` and prints a markdown table. Run:

    .venv/bin/python benchmarks/bench_history_memory.py            # ~5 min on 2 CPU cores
    .venv/bin/python benchmarks/bench_history_memory.py --full     # paper batch / n_critic
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _memory import peak_rss_mb, rss_now_mb
from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.nn import build_critic, build_generator, count_parameters
from historyad.training import train_gan

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "history_memory.json"
SHAPE = (1, 28, 28)
NETS = NetConfig(net_size="paper")

#: variant -> (store, dtype, record_critic); None = no history
VARIANTS: dict[str, tuple[str, str, bool] | None] = {
    "no-history": None,
    "auto/fp32 (library default)": ("auto", "float32", False),
    "memory/fp32": ("memory", "float32", False),
    "memory/fp16": ("memory", "float16", False),
    "disk/fp32": ("disk", "float32", False),
    "disk/fp16": ("disk", "float16", False),
    "paper: all G+D states in memory": ("memory", "float32", True),
}


def extrapolate(r: dict[str, Any], k: int, saves: int) -> None:
    """Linear extrapolation to k snapshots of a memory-store run that recorded fewer, and a
    check of the same extrapolation on a run that recorded all k (from its peak at one epoch)."""
    snaps = r.get("snapshots", 0)
    if not snaps or r.get("store_kind") != "memory":
        return
    per_snap = (r["store_bytes"] + r["critic_store_bytes"]) / snaps / 2**20
    if snaps < k:
        r["measured"] = {key: r[key] for key in (
            "peak_rss_mb", "snapshots", "critic_snapshots", "store_bytes",
            "critic_store_bytes", "seconds")}
        r["peak_rss_mb"] += (k - snaps) * per_snap
        r["store_bytes"] = r["store_bytes"] * k // snaps
        r["critic_store_bytes"] = r["critic_store_bytes"] * k // snaps
        r["snapshots"] = k
        r["critic_snapshots"] = k if r["critic_snapshots"] else 0
        r["extrapolated"] = True
        return
    at_epoch = [peak for it, _now, peak in r["rss_trace_mb"] if it == saves]
    if at_epoch:
        r["extrapolation_check"] = {
            "from_snapshots": saves,
            "predicted_peak_rss_mb": at_epoch[0] + (k - saves) * per_snap,
            "measured_peak_rss_mb": r["peak_rss_mb"],
        }


def io_counters() -> dict[str, int]:
    """``/proc/self/io`` (wchar: bytes passed to write(); write_bytes: sent to storage)."""
    try:
        with open("/proc/self/io") as f:
            return {k: int(v) for k, v in (line.split(":") for line in f)}
    except OSError:
        return {}


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def child(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train one variant in this (fresh) process; returns the measurements."""
    torch.set_num_threads(args.threads)
    spec = VARIANTS[variant]
    epochs = args.baseline_epochs if spec is None else args.epochs
    if spec is not None and spec[2]:
        epochs = args.paper_epochs
    n = args.batch_size * args.n_critic * args.saves  # one epoch = `saves` generator iterations
    X = np.random.default_rng(0).uniform(-1, 1, (n, *SHAPE)).astype(np.float32)
    cfg = GANConfig(n_epochs=epochs, batch_size=args.batch_size, n_critic=args.n_critic,
                    device=args.device)
    tmp = Path(tempfile.mkdtemp(prefix="bench-history-", dir=args.tmp))
    history = None
    if spec is not None:
        store, dtype, record_critic = spec
        history = HistoryConfig(saves_per_epoch=args.saves, alpha=0.0, history_store=store,
                                store_dtype=dtype, record_critic=record_critic,
                                store_dir=str(tmp / "store") if store == "disk" else None)
    trace: list[tuple[int, float, float]] = [(0, rss_now_mb(), peak_rss_mb())]

    def callback(it: int, _record: dict[str, float]) -> None:
        if it % 10 == 0 or it <= 3:
            trace.append((it, rss_now_mb(), peak_rss_mb()))

    io0 = io_counters()
    t0 = time.perf_counter()
    run = train_gan(X, cfg, NETS, history, callback=callback)
    seconds = time.perf_counter() - t0
    io1 = io_counters()
    out: dict[str, Any] = {
        "variant": variant,
        "epochs": epochs,
        "gen_iters": len(run.records["gen_iter"]),
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rss_trace_mb": trace,  # (generator iteration, current RSS, peak RSS so far)
        "wchar_bytes": io1.get("wchar", 0) - io0.get("wchar", 0),
        "write_bytes": io1.get("write_bytes", 0) - io0.get("write_bytes", 0),
        "store_kind": None if spec is None else spec[0],
        "snapshots": 0,
        "critic_snapshots": 0,
        "store_bytes": 0,
        "critic_store_bytes": 0,
        "dir_bytes": dir_bytes(tmp),
    }
    if run.recorder is not None:
        rec = run.recorder
        out["snapshots"] = len(rec.store)
        out["store_bytes"] = rec.store.nbytes
        if rec.critic_store is not None:
            out["critic_snapshots"] = len(rec.critic_store)
            out["critic_store_bytes"] = rec.critic_store.nbytes
        rec.close()
    if args.device.startswith("cuda"):
        out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def run_child(variant: str, argv: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *argv, "--child", variant]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"variant {variant!r} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mem_available_mb() -> float:
    try:
        with open("/proc/meminfo") as f:
            info = {k: v for k, v in (line.split(":", 1) for line in f)}
        return int(info["MemAvailable"].split()[0]) / 1024
    except (OSError, KeyError):
        return float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=float, default=5.0)
    ap.add_argument("--saves", type=int, default=50, help="snapshots per epoch")
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--n-critic", type=int, default=1)
    ap.add_argument("--baseline-epochs", type=float, default=None,
                    help="epochs of the no-history reference (default: --epochs)")
    ap.add_argument("--paper-epochs", type=float, default=1.0,
                    help="epochs of the all-states-in-memory variant (extrapolated beyond)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (peak RSS is host memory)")
    ap.add_argument("--tmp", default=None, help="parent folder of the disk stores")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--full", action="store_true",
                    help="paper schedule: batch 64, n_critic 5, baseline for all epochs")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.full:
        args.batch_size, args.n_critic = 64, 5
        args.paper_epochs = args.epochs
    if args.baseline_epochs is None:
        args.baseline_epochs = args.epochs
    if args.child:
        print(json.dumps(child(args.child, args)))
        return

    argv = ["--epochs", str(args.epochs), "--saves", str(args.saves),
            "--batch-size", str(args.batch_size), "--n-critic", str(args.n_critic),
            "--baseline-epochs", str(args.baseline_epochs),
            "--paper-epochs", str(args.paper_epochs), "--threads", str(args.threads),
            "--device", args.device]
    if args.tmp:
        argv += ["--tmp", args.tmp]
    g_params = count_parameters(build_generator(SHAPE, NETS))
    d_params = count_parameters(build_critic(SHAPE, NETS))
    k = int(args.epochs * args.saves)
    results: dict[str, dict[str, Any]] = {}
    t_start = time.perf_counter()
    for v in args.variants:
        spec = VARIANTS[v]
        k_v = int((args.paper_epochs if spec and spec[2] else args.epochs) * args.saves)
        need = 0.0 if spec is None else k_v * 4 * (g_params + (d_params if spec[2] else 0))
        if spec is not None and spec[0] == "memory" and need / 2**20 > 0.8 * mem_available_mb():
            results[v] = {"variant": v, "skipped": f"needs ~{need / 2**30:.1f} GiB, "
                          f"only {mem_available_mb() / 1024:.1f} GiB available"}
            print(f"{v}: skipped ({results[v]['skipped']})", flush=True)
            continue
        results[v] = run_child(v, argv)
        print(f"{v}: {results[v]['peak_rss_mb']:.0f} MB peak RSS, "
              f"{results[v]['seconds']:.0f} s", flush=True)
    for r in results.values():
        extrapolate(r, k, args.saves)
    base = results.get("no-history", {}).get("peak_rss_mb")
    for r in results.values():
        if base and "peak_rss_mb" in r:
            r["rss_ratio_vs_no_history"] = r["peak_rss_mb"] / base
            r["rss_delta_mb"] = r["peak_rss_mb"] - base
    out = {
        "benchmark": "history_memory",
        "command": "python benchmarks/bench_history_memory.py" + (" --full" if args.full else ""),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__, "threads": args.threads,
                    "device": args.device},
        "settings": {"net_size": "paper", "params_generator": g_params,
                     "params_critic": d_params, "epochs": args.epochs,
                     "saves_per_epoch": args.saves, "alpha": 0.0,
                     "batch_size": args.batch_size, "n_critic": args.n_critic,
                     "n_samples": args.batch_size * args.n_critic * args.saves,
                     "baseline_epochs": args.baseline_epochs,
                     "paper_epochs": args.paper_epochs, "data": "uniform [-1, 1]",
                     "snapshot_mb_fp32": 4 * g_params / 2**20},
        "target": "default store (memory/fp32) peak RSS <= 1.2 x no-history",
        "variants": results,
        "total_seconds": time.perf_counter() - t_start,
    }
    default = results.get("memory/fp32 (default)", {})
    if "rss_ratio_vs_no_history" in default:
        meets = [v for v, r in results.items()
                 if v != "no-history" and r.get("rss_ratio_vs_no_history", 99) <= 1.2]
        out["target_met_by_default"] = default["rss_ratio_vs_no_history"] <= 1.2
        out["stores_meeting_target"] = meets
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(table(out))
    print(f"\nwritten {args.out}")


def table(out: dict[str, Any]) -> str:
    s = out["settings"]
    lines = [
        f"paper size: G {s['params_generator']:,} / D {s['params_critic']:,} parameters "
        f"({s['snapshot_mb_fp32']:.1f} MiB per fp32 G snapshot); {s['epochs']:g} epochs x "
        f"{s['saves_per_epoch']} saves; batch {s['batch_size']}, n_critic {s['n_critic']}, "
        f"N = {s['n_samples']}; {out['machine']['threads']} torch thread(s)",
        "",
        "| variant | snapshots (G + D) | peak RSS MB | x no-history | + MB | store MB "
        "| bytes written MB | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v, r in out["variants"].items():
        if "skipped" in r:
            lines.append(f"| {v} | skipped: {r['skipped']} | | | | | | |")
            continue
        snaps = f"{r['snapshots']} + {r['critic_snapshots']}"
        if r.get("extrapolated"):
            m = r["measured"]
            snaps += (f" (extrapolated from {m['snapshots']} + {m['critic_snapshots']}: "
                      f"{m['peak_rss_mb']:.0f} MB, {m['seconds']:.0f} s)")
        store = (r["store_bytes"] + r["critic_store_bytes"]) / 2**20
        lines.append(
            f"| {v} | {snaps} | {r['peak_rss_mb']:.0f} | "
            f"{r.get('rss_ratio_vs_no_history', float('nan')):.2f} | "
            f"{r.get('rss_delta_mb', float('nan')):.0f} | {store:.0f} | "
            f"{r['wchar_bytes'] / 2**20:.0f} | {r['seconds']:.0f} |"
        )
    for v, r in out["variants"].items():
        c = r.get("extrapolation_check")
        if c:
            lines.append(
                f"\ncheck of the linear extrapolation on {v}: from its peak after "
                f"{c['from_snapshots']} snapshots it predicts {c['predicted_peak_rss_mb']:.0f} MB; "
                f"measured {c['measured_peak_rss_mb']:.0f} MB"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
