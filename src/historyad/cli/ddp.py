"""``torchrun --nproc_per_node=N -m historyad.cli.ddp ...``: data-parallel GAN training
(``historyad.training.distributed``) on a leave-one-class-out split of a registered dataset.
An entry point at the edge: it loads data, which the training layer does not import."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    """``torchrun --nproc_per_node=N -m historyad.cli.ddp ...``: train a GAN
    (WGAN-GP, HistoryAD's history) data-parallel on a leave-one-class-out split."""
    from historyad.config import GANConfig, HistoryConfig, NetConfig
    from historyad.data import load
    from historyad.protocols import leave_one_class_out
    from historyad.training.distributed import init_distributed
    from historyad.training.trainer import train_gan

    ap = argparse.ArgumentParser(prog="torchrun ... -m historyad.cli.ddp")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--data", default=None, help="data folder (default $HISTORYAD_DATA)")
    ap.add_argument("--anomaly", default="0", help="the class left out of training")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--epochs", type=float, default=5.0)
    ap.add_argument("--batch-size", type=int, default=64, help="per process")
    ap.add_argument("--net-size", default="paper", choices=["cpu", "paper"])
    ap.add_argument("--saves-per-epoch", type=int, default=50)
    ap.add_argument("--out", type=Path, default=Path("runs/ddp"))
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    par = init_distributed(args.device)
    ds = load(args.dataset, root=args.data)
    anomaly: Any = int(args.anomaly) if args.anomaly.isdigit() else args.anomaly
    split = leave_one_class_out(ds, anomaly, train_fraction=0.8, seed=0)
    gan = GANConfig.preset("historyad", n_epochs=args.epochs, batch_size=args.batch_size,
                           device=args.device, checkpoint_dir=str(args.out / "checkpoints"),
                           progress=par is None or par.is_main)
    run = train_gan(split.X_train, gan, NetConfig(net_size=args.net_size),
                    HistoryConfig(saves_per_epoch=args.saves_per_epoch), resume=args.resume)
    if par is None or par.is_main:
        path = run.save(args.out / "gan.safetensors")
        logger.info("%d processes: %d generator iterations in %.1f s; wrote %s",
                    1 if par is None else par.world_size, len(run.records["gen_iter"]),
                    run.fit_seconds, path)
    if par is not None:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
