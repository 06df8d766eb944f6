"""``torchrun --nproc_per_node=N -m historyad.cli.ddp ...``: data-parallel training
(``historyad.training.distributed``) on a leave-one-class-out split of a registered dataset:
a GAN with the HistoryAD history (``--detector gan``, the default; checkpoints and
``--resume``), or the whole ``HistoryAD`` detector, GAN and D_TV (``--detector historyad``;
rank 0 saves ``model.safetensors`` and logs the test AUROC). An entry point at the edge: it
loads data, which the training layer does not import."""

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
    ap.add_argument("--resume", action="store_true", help="--detector gan only")
    ap.add_argument("--detector", default="gan", choices=["gan", "historyad"],
                    help="gan: the GAN and its history; historyad: the whole detector")
    ap.add_argument("--dtv-steps", type=int, default=1500, help="--detector historyad")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    par = init_distributed(args.device)
    ds = load(args.dataset, root=args.data)
    anomaly: Any = int(args.anomaly) if args.anomaly.isdigit() else args.anomaly
    split = leave_one_class_out(ds, anomaly, train_fraction=0.8, seed=0)
    if args.detector == "historyad":
        _fit_historyad(split, args, par)
        return
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


def _fit_historyad(split: Any, args: argparse.Namespace, par: Any) -> None:
    """``HistoryAD.fit`` on every rank (the GAN and D_TV data-parallel); rank 0 saves
    ``model.safetensors`` and logs the AUROC on the split's test set."""
    from sklearn.metrics import roc_auc_score

    from historyad.detectors import HistoryAD

    main_rank = par is None or par.is_main
    det = HistoryAD(n_epochs=args.epochs, batch_size=args.batch_size, net_size=args.net_size,
                    saves_per_epoch=args.saves_per_epoch, dtv_steps=args.dtv_steps,
                    device=args.device, random_state=0, progress=main_rank)
    det.fit(split.X_train)
    if main_rank:
        args.out.mkdir(parents=True, exist_ok=True)
        path = det.save(args.out / "model.safetensors")
        auroc = roc_auc_score(split.y_test, det.decision_function(split.X_test))
        logger.info("%d processes: HistoryAD fitted; test AUROC %.4f; wrote %s",
                    1 if par is None else par.world_size, auroc, path)
    if par is not None:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
