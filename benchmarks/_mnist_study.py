"""Settings and the cached GAN shared by the MNIST quality studies (run as scripts: this
folder is on ``sys.path``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from historyad.config import GANConfig, HistoryConfig, NetConfig
from historyad.training.trainer import GANRun, train_gan

DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data")
CACHE = "/tmp/historyad_gan_cache"


def cap(text: str) -> int | None:
    """``--max-train`` value: a positive int, or ``all`` for the protocol's full split."""
    return None if text == "all" else int(text)


def add_split_args(p: argparse.ArgumentParser) -> None:
    """--data, --max-train, --max-test, --epochs, --saves, --cache (the studies' defaults)."""
    p.add_argument("--data", default=DATA)
    p.add_argument("--max-train", type=cap, default=12000, help="an int, or 'all' (no cap)")
    p.add_argument("--max-test", type=int, default=3000)
    p.add_argument("--epochs", type=float, default=10.0)
    p.add_argument("--saves", type=int, default=10)
    p.add_argument("--cache", default=CACHE)
    p.add_argument("--width", type=int, default=None, help="net width (default: cpu size)")
    p.add_argument("--gan-seed", type=int, default=0, help="the cached GAN's seed")
    p.add_argument("--flatten", action="store_true",
                   help="feed (N, 784) vectors: MLP generator / critic instead of conv nets")


def cached_gan(X: np.ndarray, digit: int, *, epochs: float, saves: int, cache: str,
               width: int | None = None, seed: int = 0) -> GANRun:
    """The digit's WGAN-GP (every generator and critic snapshot recorded, α = β = 0), trained
    once and then resumed from its safetensors checkpoints in ``cache``."""
    tag = f"d{digit}_e{epochs}_s{saves}" + ("" if width is None else f"_w{width}")
    tag += "" if len(X) == 12000 else f"_n{len(X)}"  # the studies' default split has 12 000
    tag += "_flat" if X.ndim == 2 else ""  # (N, 784): MLP nets
    tag += f"_g{seed}" if seed else ""
    return train_gan(
        torch.from_numpy(X),
        GANConfig(n_epochs=epochs, random_state=seed, checkpoint_dir=f"{cache}/{tag}"),
        NetConfig(width=width),
        HistoryConfig(saves_per_epoch=saves, alpha=0.0, beta=0.0, record_critic=True),
        resume=True,
    )


def table(rows: list[dict[str, Any]]) -> None:
    """Print the AUPRC table (digits as columns, mean last)."""
    digits = sorted({r["digit"] for r in rows})
    names = list(dict.fromkeys(r["detector"] for r in rows))
    print("| AUPRC | " + " | ".join(map(str, digits)) + " | mean |")
    print("|---" * (len(digits) + 2) + "|")
    for n in names:
        v = {r["digit"]: r["auprc"] for r in rows if r["detector"] == n}
        cells = [f"{v[d]:.3f}" if d in v else "–" for d in digits]
        print(f"| {n} | " + " | ".join(cells) + f" | {np.mean(list(v.values())):.3f} |")
