"""Checkpoints of a training run: write one per epoch, resume from the latest.

:func:`save_run_checkpoint` writes what :func:`historyad.training.train_gan` needs to continue
bit-identically (weights, optimiser and RNG states, the epoch's data permutation, the history
recorder, the records) with :mod:`historyad.training.checkpoint`; :func:`restore` reads it back
after :func:`check_resume` made sure that the run is the checkpointed one.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from historyad.config import GANConfig, HistoryConfig, NetConfig, to_dict, upgrade_dict
from historyad.training.checkpoint import (
    CheckpointError,
    checkpoint_name,
    load_latest_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from historyad.training.run import RECORD_KEYS

if TYPE_CHECKING:
    from historyad.training.trainer import _Training

logger = logging.getLogger(__name__)

KEEP_CHECKPOINTS = 2  # most recent checkpoints kept in checkpoint_dir
# GANConfig fields that may change when resuming; every other field must match the checkpoint
_RESUMABLE_CHANGES = frozenset({"n_epochs", "gan_lr", "lr_decay", "progress", "checkpoint_dir"})


def check_resume(meta: dict[str, Any], cfg: GANConfig, nets: NetConfig,
                 history: HistoryConfig | None, data_info: dict[str, Any], path: Path) -> None:
    """CheckpointError listing every difference between this run and the checkpointed one:
    configs (but for the fields in ``_RESUMABLE_CHANGES``), N, per-sample shape, data checksum."""
    saved = meta["configs"]
    # older checkpoints: renamed fields are read under their new names (``RENAMED_FIELDS``),
    # and keys a newer version added are compared against their defaults
    saved = {
        "gan": {**to_dict(GANConfig()), **upgrade_dict(GANConfig, saved["gan"])},
        "net": {**to_dict(NetConfig()), **upgrade_dict(NetConfig, saved["net"])},
        "history": (
            {**to_dict(HistoryConfig()), **upgrade_dict(HistoryConfig, saved["history"])}
            if saved["history"] else None
        ),
    }
    saved["gan"]["betas"] = list(saved["gan"]["betas"])
    problems = []
    now = to_dict(cfg)
    for key, value in saved["gan"].items():
        if key in _RESUMABLE_CHANGES:
            continue
        cur = list(now[key]) if isinstance(now[key], tuple) else now[key]
        if cur != value:
            problems.append(f"gan.{key}: checkpoint {value!r}, now {cur!r}")
    if saved["net"] != to_dict(nets):
        problems.append(f"nets: checkpoint {saved['net']}, now {to_dict(nets)}")
    hist_now = to_dict(history) if history is not None else None
    if saved["history"] != hist_now:
        problems.append(f"history: checkpoint {saved['history']}, now {hist_now}")
    old = meta["data"]
    if old["n"] != data_info["n"] or old["input_shape"] != data_info["input_shape"]:
        problems.append(
            f"data: checkpoint N={old['n']} shape={old['input_shape']}, "
            f"now N={data_info['n']} shape={data_info['input_shape']}"
        )
    elif not math.isclose(old["checksum"], data_info["checksum"], rel_tol=1e-6, abs_tol=1e-6):
        problems.append("data: same shape but different values (checksum differs)")
    if problems:
        raise CheckpointError(
            f"cannot resume from {str(path)!r}: the run differs from the checkpoint in "
            + "; ".join(problems)
        )


def read_latest_checkpoint(t: _Training) -> dict[str, Any] | None:
    """The latest checkpoint in ``checkpoint_dir`` that loads (None, with a log message, when
    none); a damaged latest one is skipped for the older one kept, with a warning."""
    assert t.ckpt_root is not None
    state = load_latest_checkpoint(t.ckpt_root)
    if state is None:
        logger.info("resume: no checkpoint in %s; training from scratch", t.ckpt_root)
        return None
    t.ckpt_path = state["path"]
    return state


def restore(t: _Training, state: dict[str, Any]) -> None:
    """Continue from a checkpoint: weights, optimisers, RNGs, the epoch's permutation, the
    history and the records; CheckpointError when the run differs from the checkpointed one."""
    assert t.ckpt_path is not None
    meta = state["meta"]
    check_resume(meta, t.cfg, t.nets, t.history, t.data_info, t.ckpt_path)
    t.generator.load_state_dict(state["generator"])
    t.critic.load_state_dict(state["critic"])
    t.opt_g.load_state_dict(state["optim_generator"])
    t.opt_d.load_state_dict(state["optim_critic"])
    t.noise.set_state(state["rng"]["noise"])
    t.data_rng.set_state(state["rng"]["data"])
    if "index" in state["data_index"]:
        t.index = state["data_index"]["index"].to(t.device)
    if t.recorder is not None:
        t.recorder.load_state_dict(state["history"])
    t.gen_iter = start = int(meta["progress"]["gen_iter"])
    t.past_seconds = float(meta.get("fit_seconds", 0.0))
    t.records = {k: [float(v) for v in meta["records"][k][:start]] for k in RECORD_KEYS}
    logger.info("resumed from %s at generator iteration %d", t.ckpt_path, start)
    if start > t.total:
        logger.warning(
            "checkpoint is at generator iteration %d, beyond the %d configured "
            "(n_epochs=%s); returning it as is", start, t.total, t.cfg.n_epochs
        )


def save_run_checkpoint(t: _Training) -> Path:
    """Checkpoint at generator iteration ``t.gen_iter``; keeps the last KEEP_CHECKPOINTS."""
    assert t.ckpt_root is not None
    parts: dict[str, Any] = {
        "generator": t.generator.state_dict(),
        "critic": t.critic.state_dict(),
        "optim_generator": t.opt_g.state_dict(),
        "optim_critic": t.opt_d.state_dict(),
        # t.rank_rng: the other processes' noise states when training data-parallel
        "rng": {"noise": t.noise.get_state(), "data": t.data_rng.get_state(), **t.rank_rng},
        "data_index": {} if t.index is None else {"index": t.index},
    }
    if t.recorder is not None:
        parts["history"] = t.recorder.state_dict()
    meta = {
        "progress": {
            "gen_iter": t.gen_iter,
            "epoch": t.gen_iter / t.per_epoch,
            "total_iters": t.total,
            "iters_per_epoch": t.per_epoch,
        },
        "configs": {
            "gan": to_dict(t.cfg),
            "net": to_dict(t.nets),
            "history": to_dict(t.history) if t.history is not None else None,
        },
        "latent_dim": int(t.generator.latent_dim),
        "data": t.data_info,
        "records": t.records,
        "fit_seconds": t.seconds(),
    }
    path = save_checkpoint(t.ckpt_root / checkpoint_name(t.gen_iter), parts, meta)
    prune_checkpoints(t.ckpt_root, KEEP_CHECKPOINTS)
    return path


__all__ = ["KEEP_CHECKPOINTS", "check_resume", "read_latest_checkpoint", "restore",
           "save_run_checkpoint"]
