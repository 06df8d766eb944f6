"""Benchmark: ``train_gan`` against a bare PyTorch WGAN-GP loop, and the cost of history recording.

1. Time per critic step of ``train_gan`` vs the most direct WGAN-GP loop (seed 001 Alg. 2)
   written inline below, on the same nets (conv2d, "cpu" size) and the same MNIST-shaped
   data, interleaved (bare, trainer, bare, trainer, ...) in one process; medians and ratio.
2. Peak RSS (``VmHWM`` of a fresh child process per variant) and training time of: the bare
   loop, the trainer without history, with the memory store and with the disk store.

Real MNIST is read from ``<shared>/data/mnist`` when present (plain gzip + np.frombuffer),
otherwise random data of the same shape is used. Writes benchmarks/results/training.json and
prints a markdown table. Run: ``.venv/bin/python benchmarks/bench_training.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _memory import peak_rss_mb
from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.nn import build_critic, build_generator, count_parameters
from historyad.training import train_gan

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "training.json"
SHARED = Path(os.environ.get("HISTORYAD_SHARED_DATA", ROOT.parent / "shared" / "data"))
SHAPE = (1, 28, 28)
NETS = NetConfig(net_size="cpu")
BATCH, N_CRITIC = 64, 5


def load_data(n: int) -> tuple[np.ndarray, str]:
    """(n, 1, 28, 28) float32 in [-1, 1]: real MNIST when available, else uniform noise."""
    path = SHARED / "mnist" / "train-images-idx3-ubyte.gz"
    if path.is_file():
        raw = np.frombuffer(gzip.open(path).read(), dtype=np.uint8, offset=16)
        images = raw.reshape(-1, 1, 28, 28)[:n].astype(np.float32) / 127.5 - 1.0
        return np.ascontiguousarray(images), "mnist"
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (n, *SHAPE)).astype(np.float32), "random"


def bare_wgan_gp(X: np.ndarray, gen_iters: int, seed: int = 0) -> float:
    """The most direct WGAN-GP loop (seed 001 Alg. 2); returns the wall time in seconds."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    data = torch.as_tensor(X)
    G, D = build_generator(SHAPE, NETS), build_critic(SHAPE, NETS)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
    for _ in range(gen_iters):
        for _ in range(N_CRITIC):
            real = data[torch.randint(0, len(data), (BATCH,))]
            fake = G(torch.randn(BATCH, G.latent_dim)).detach()
            eps = torch.rand(BATCH, 1, 1, 1)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            loss_d = D(real).mean() - D(fake).mean() + 10.0 * gp
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        loss_g = D(G(torch.randn(BATCH, G.latent_dim))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return time.perf_counter() - t0


def trainer(X: np.ndarray, gen_iters: int, history: HistoryConfig | None = None) -> float:
    """train_gan for exactly ``gen_iters`` generator iterations; returns the wall time."""
    per_epoch = max(1, len(X) // (BATCH * N_CRITIC))
    cfg = GANConfig(n_epochs=gen_iters / per_epoch, batch_size=BATCH, n_critic=N_CRITIC)
    t0 = time.perf_counter()
    run = train_gan(X, cfg, NETS, history)
    elapsed = time.perf_counter() - t0
    assert len(run.records["gen_iter"]) == gen_iters
    if run.recorder is not None:
        run.recorder.close()
    return elapsed


def child(variant: str, n: int, gen_iters: int, threads: int) -> None:
    """One variant in this (fresh) process; prints a JSON line with time and peak RSS."""
    torch.set_num_threads(threads)
    X, _ = load_data(n)
    rss_data = peak_rss_mb() * 1024
    snaps = 0
    with tempfile.TemporaryDirectory() as tmp:
        if variant == "bare":
            seconds = bare_wgan_gp(X, gen_iters)
        else:
            history = None
            if variant != "trainer":
                store = variant.split("+")[1]
                history = HistoryConfig(saves_per_epoch=50, alpha=0.0, history_store=store,
                                        store_dir=os.path.join(tmp, "store"))
                per_epoch = max(1, n // (BATCH * N_CRITIC))
                snaps = (gen_iters * min(50, per_epoch)) // per_epoch
            seconds = trainer(X, gen_iters, history)
    rss = peak_rss_mb() * 1024
    print(json.dumps({"variant": variant, "seconds": seconds, "peak_rss_mb": rss / 1024,
                      "rss_after_data_mb": rss_data / 1024, "snapshots": snaps}))


def run_child(variant: str, n: int, gen_iters: int, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child", variant, "--n", str(n),
           "--history-iters", str(gen_iters), "--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12800, help="training samples (MNIST-shaped)")
    ap.add_argument("--iters", type=int, default=12, help="generator iterations per timing rep")
    ap.add_argument("--reps", type=int, default=5, help="timing repetitions of each loop")
    ap.add_argument("--history-iters", type=int, default=40,
                    help="generator iterations of each peak-RSS child")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (cores are shared)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.n, args.iters, args.reps, args.history_iters = 1280, 2, 2, 4
    if args.child:
        child(args.child, args.n, args.history_iters, args.threads)
        return

    torch.set_num_threads(args.threads)
    X, source = load_data(args.n)
    bare_wgan_gp(X, 1)  # warm-up (lazy imports, allocator)
    trainer(X, 1)
    times: dict[str, list[float]] = {"bare": [], "trainer": []}
    for _ in range(args.reps):  # interleaved
        times["bare"].append(bare_wgan_gp(X, args.iters) / (args.iters * N_CRITIC))
        times["trainer"].append(trainer(X, args.iters) / (args.iters * N_CRITIC))
    med = {k: statistics.median(v) for k, v in times.items()}

    variants = ["bare", "trainer", "trainer+memory", "trainer+disk"]
    children = {v: run_child(v, args.n, args.history_iters, args.threads) for v in variants}
    base_rss = children["trainer"]["peak_rss_mb"]
    base_time = children["trainer"]["seconds"]
    result = {
        "data": source,
        "n": args.n,
        "shape": list(SHAPE),
        "batch_size": BATCH,
        "n_critic": N_CRITIC,
        "threads": args.threads,
        "params": {
            "generator": count_parameters(build_generator(SHAPE, NETS)),
            "critic": count_parameters(build_critic(SHAPE, NETS)),
        },
        "timing": {
            "iters_per_rep": args.iters,
            "reps": args.reps,
            "ms_per_critic_step": {k: [1e3 * t for t in v] for k, v in times.items()},
            "median_ms_per_critic_step": {k: 1e3 * v for k, v in med.items()},
            "ratio_trainer_over_bare": med["trainer"] / med["bare"],
        },
        "history": {
            "gen_iters": args.history_iters,
            "variants": children,
            "rss_ratio_vs_trainer": {
                v: c["peak_rss_mb"] / base_rss for v, c in children.items()
            },
            "time_ratio_vs_trainer": {v: c["seconds"] / base_time for v, c in children.items()},
        },
        "torch": torch.__version__,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))

    print(f"data: {source} N={args.n} {SHAPE}, batch {BATCH}, n_critic {N_CRITIC}, "
          f"{args.threads} thread(s); G {result['params']['generator']:,} / "
          f"D {result['params']['critic']:,} parameters\n")
    print("| loop | median ms / critic step | ratio to bare |")
    print("|---|---|---|")
    for k in ("bare", "trainer"):
        print(f"| {k} | {1e3 * med[k]:.2f} | {med[k] / med['bare']:.3f} |")
    print(f"\n| variant ({args.history_iters} generator iterations) | seconds | peak RSS MB "
          "| RSS vs trainer | time vs trainer | snapshots |")
    print("|---|---|---|---|---|---|")
    for v, c in children.items():
        print(f"| {v} | {c['seconds']:.2f} | {c['peak_rss_mb']:.0f} | "
              f"{c['peak_rss_mb'] / base_rss:.3f} | {c['seconds'] / base_time:.3f} "
              f"| {c['snapshots']} |")
    print(f"\nwritten {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
