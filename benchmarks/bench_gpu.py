"""Benchmark 6: the full MNIST HistoryAD pipeline at the paper size, on a GPU.

MNIST leave-out-0 (``protocols.leave_one_class_out``, seed 0, every image), HistoryAD with
the paper schedule (seed 000 §4.3: ``paper`` nets of ~5 M parameters, 5 epochs, 50 saves per
epoch, 1 500 D_TV steps), fitted and then scoring the whole test split, once per precision:

- ``fp32``: plain float32 (TF32 matmuls off);
- ``tf32``: float32 storage with TF32 tensor-core matmuls and convolutions
  (``torch.backends.{cuda.matmul,cudnn}.allow_tf32``);
- ``bf16``: the fit (GAN, history, D_TV) under ``torch.autocast(dtype=torch.bfloat16)``
  (weights, optimiser states and history snapshots stay float32); scoring in float32,
  because bf16's 8-bit mantissa would tie many scores.

Reports wall time (fit, score, total), throughput (training images seen per second during
the GAN, test images scored per second), peak GPU memory and AUPRC / AUROC, and the AUPRC
change against fp32 (the issue's bar: |ΔAUPRC| ≤ 0.005). Writes
``benchmarks/results/gpu.json`` and prints a markdown table. Target: total < 3 min on one
H100 (issue 6).

    .venv/bin/python benchmarks/bench_gpu.py --device cuda
    .venv/bin/python benchmarks/bench_gpu.py --device cpu --tiny   # plumbing check, ~1 min
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from historyad.data import load
from historyad.detectors import HistoryAD
from historyad.evaluation.metrics import auprc, auroc
from historyad.protocols import leave_one_class_out

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HISTORYAD_DATA", ROOT.parent / "shared" / "data"))


@contextlib.contextmanager
def precision(mode: str, device: torch.device) -> Iterator[None]:
    """Run the enclosed code in ``mode`` (fp32, tf32, bf16) on ``device``."""
    cuda = device.type == "cuda"
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "tf32"
    try:
        if mode == "bf16":
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                yield
        else:
            if mode == "tf32" and not cuda:
                raise ValueError("precision 'tf32' needs a CUDA device")
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_one(mode: str, split: Any, args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    params: dict[str, Any] = {
        "n_epochs": args.epochs, "saves_per_epoch": args.saves, "dtv_steps": args.dtv_steps,
        "net_size": args.net_size, "device": args.device, "random_state": 0,
        "estimator": "network",  # seed 000's D_TV network: the GPU-bound pipeline
    }  # fmt: skip
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    det = HistoryAD(**params)
    with precision(mode, device):
        sync(device)
        t0 = time.perf_counter()
        det.fit(split.X_train)
        sync(device)
        fit_s = time.perf_counter() - t0
    with precision("fp32" if mode == "bf16" else mode, device):
        t0 = time.perf_counter()
        scores = det.decision_function(split.X_test)
        sync(device)
        score_s = time.perf_counter() - t0
    run = det.gan_
    gen_iters = len(run.records["gen_iter"])
    images_seen = gen_iters * args.batch_size * 5  # n_critic = 5 real batches per iteration
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {
        "precision": mode,
        "fit_seconds": fit_s,
        "gan_seconds": run.fit_seconds,
        "score_seconds": score_s,
        "total_seconds": fit_s + score_s,
        "generator_iterations": gen_iters,
        "train_images_per_s": images_seen / run.fit_seconds,
        "score_images_per_s": len(split.X_test) / score_s,
        "peak_gpu_mb": peak,
        "auprc": auprc(split.y_test, scores),
        "auroc": auroc(split.y_test, scores),
        "finite_scores": bool(np.isfinite(scores).all()),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--precisions", nargs="+", default=None,
                   help="default: fp32 tf32 bf16 on CUDA, fp32 bf16 on CPU")
    p.add_argument("--digit", type=int, default=0)
    p.add_argument("--epochs", type=float, default=5.0)  # seed 000 §4.3
    p.add_argument("--saves", type=int, default=50)  # seed 000 §4.3
    p.add_argument("--dtv-steps", type=int, default=1500)  # seed 000
    p.add_argument("--net-size", default="paper")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-train", type=int, default=None)
    p.add_argument("--max-test", type=int, default=None)
    p.add_argument("--tiny", action="store_true",
                   help="plumbing check: cpu nets, 2000/500 images, 2 epochs, 50 D_TV steps")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu.json"))
    args = p.parse_args()
    if args.tiny:
        args.epochs, args.saves, args.dtv_steps, args.net_size = 2.0, 5, 50, "cpu"
        args.max_train, args.max_test = 2000, 500
        if args.out == str(ROOT / "benchmarks" / "results" / "gpu.json"):
            args.out = "/tmp/historyad_gpu_tiny.json"
    device = torch.device(args.device)
    modes = args.precisions or (["fp32", "tf32", "bf16"] if device.type == "cuda"
                                else ["fp32", "bf16"])  # fmt: skip
    split = leave_one_class_out(load("mnist", root=args.data), args.digit, seed=0,
                                max_train=args.max_train, max_test=args.max_test)  # fmt: skip
    rows = []
    for mode in modes:
        rows.append(run_one(mode, split, args))
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()},
              flush=True)
    base = next((r for r in rows if r["precision"] == "fp32"), None)
    for r in rows:
        r["delta_auprc_vs_fp32"] = None if base is None else r["auprc"] - base["auprc"]
    env = {"torch": torch.__version__, "device": str(device), "python": platform.python_version(),
           "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
           "n_train": len(split.X_train), "n_test": len(split.X_test)}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "env": env, "rows": rows},
                                         indent=1))  # fmt: skip
    print(f"\n{env['gpu'] or env['device']}, {env['n_train']} training / {env['n_test']} test "
          f"images, {args.net_size} nets, {args.epochs:g} epochs, {args.saves} saves/epoch, "
          f"{args.dtv_steps} D_TV steps\n")
    print("| precision | fit s | score s | total s | train img/s | score img/s | peak GPU MB "
          "| AUPRC | ΔAUPRC vs fp32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        peak = "–" if r["peak_gpu_mb"] is None else f"{r['peak_gpu_mb']:.0f}"
        delta = "–" if r["delta_auprc_vs_fp32"] is None else f"{r['delta_auprc_vs_fp32']:+.4f}"
        print(f"| {r['precision']} | {r['fit_seconds']:.1f} | {r['score_seconds']:.2f} | "
              f"{r['total_seconds']:.1f} | {r['train_images_per_s']:.0f} | "
              f"{r['score_images_per_s']:.0f} | {peak} | {r['auprc']:.4f} | {delta} |")


if __name__ == "__main__":
    main()
