"""Adversarial training loop: :func:`train_gan` -> :class:`GANRun`.

An epoch is one pass of the CRITIC over the data: ``iters_per_epoch = max(1, N // (batch_size *
n_critic))`` generator iterations (MNIST: 60000 // (64 * 5) = 187, as in seed 000), and
``round(n_epochs * iters_per_epoch)`` generator iterations in all. On small data that is too
few to train a usable generator (1000 rows, 5 epochs: 15 iterations), so
``GANConfig.min_iterations`` sets a floor: an epoch is then stretched to
``ceil(min_iterations / n_epochs)`` generator iterations (several passes over the data), so
that the time axis of the history (eq. 13, in epochs) keeps its meaning as a fraction of
training. Real batches are consecutive slices of a per-epoch permutation; the data lives as one
tensor on the device.

The steps read like seed 001's Algorithm 2 (WGAN-GP): :func:`_generator_iteration` sets the
learning rate (:func:`_set_lr`, optional linear decay), runs n_critic critic updates on
consecutive real batches (:func:`_critic_steps`) and one generator update;
:func:`_record_history` then lets the HistoryRecorder snapshot G (HistoryAD, seed 000 §3.2);
:func:`_run_epoch` draws the epoch's permutation, loops over its iterations and writes the
checkpoint (:mod:`historyad.training.resume`) at its end.

Data-parallel: inside a process group of several processes (torchrun, then
:func:`historyad.training.distributed.init_distributed`) the same loop trains with DDP; the
hooks (per-process batch slices, averaged gradients and records, history and checkpoints on
rank 0) live in :mod:`historyad.training.distributed`.

Reproducibility: the weights are initialised under a seeded, forked RNG and every random draw
(permutations, latents, interpolation ε) comes from explicit ``torch.Generator`` objects seeded
from ``GANConfig.random_state``; the global RNG is neither used nor changed. On CPU the same
seed gives bit-identical weights, also across an interruption and ``resume=True``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from historyad.config import GANConfig, HistoryConfig, NetConfig, upgrade_dict
from historyad.nn.factory import build_critic, build_generator
from historyad.training import distributed
from historyad.training.budget import resolve_store
from historyad.training.losses import critic_update, generator_update
from historyad.training.resume import read_latest_checkpoint, restore, save_run_checkpoint
from historyad.training.run import RECORD_KEYS, GANRun

if TYPE_CHECKING:
    from historyad.training.distributed import DataParallel
    from historyad.training.history import HistoryRecorder

logger = logging.getLogger(__name__)

_LOSS_KEYS = RECORD_KEYS[2:]  # order of the per-iteration stats tensor


# ----------------------------------------------------------------------------- schedule


def iters_per_epoch(
    n: int, batch_size: int, n_critic: int, *, min_iterations: int = 0, n_epochs: float = 1.0
) -> int:
    """Generator iterations per epoch: one critic pass over n samples, max(1, n // (B n_c)),
    stretched to at least ceil(min_iterations / n_epochs) so that ``n_epochs`` epochs make at
    least ``min_iterations`` generator iterations (the floor for small data)."""
    one_pass = max(1, n // (batch_size * n_critic))
    if min_iterations <= 0:
        return one_pass
    return max(one_pass, math.ceil(min_iterations / n_epochs))


def total_iterations(n_epochs: float, per_epoch: int) -> int:
    """round(n_epochs * iters_per_epoch), at least 1."""
    return max(1, round(n_epochs * per_epoch))


def _as_data(X: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if not isinstance(X, np.ndarray | torch.Tensor):
        raise TypeError(f"X is a {type(X).__name__}; pass a numpy array or a torch tensor")
    if X.ndim < 2 or X.shape[0] < 1:
        raise ValueError(
            f"X has shape {tuple(X.shape)}; expected (N, D), (N, C, T) or (N, C, H, W), N >= 1"
        )
    data = torch.as_tensor(X, dtype=torch.float32, device=device).contiguous()
    # checked in chunks: a whole-tensor isfinite would allocate a mask as large as the data
    for chunk in data.split(4096):
        if not bool(torch.isfinite(chunk).all()):
            raise ValueError("X contains NaN or infinite values; clean or impute the data first")
    return data


def _checksum(data: torch.Tensor) -> float:
    """Sum of the data in float64, chunk by chunk (bounded extra memory), for resume checks."""
    return float(sum(float(c.sum(dtype=torch.float64)) for c in data.split(4096)))


def _optimizer(params: Any, cfg: GANConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.gan_lr, betas=cfg.betas)
    return torch.optim.RMSprop(params, lr=cfg.gan_lr)


def _lr_at(cfg: GANConfig, it: int, total: int) -> float:
    """Learning rate of 0-based generator iteration ``it``: linear from gan_lr to
    gan_lr * lr_decay."""
    if cfg.lr_decay is None:
        return cfg.gan_lr
    frac = it / max(1, total - 1)
    return cfg.gan_lr * (1.0 + (cfg.lr_decay - 1.0) * frac)


def _epoch_index(
    n: int, needed: int, rng: torch.Generator, device: torch.device
) -> torch.Tensor:
    """``needed`` sample indices from fresh permutations of range(n) (several if needed > n)."""
    reps = -(-needed // n)
    perms = [torch.randperm(n, generator=rng) for _ in range(reps)]
    return torch.cat(perms)[:needed].to(device)


# ----------------------------------------------------------------------------- one training run


@dataclass
class _Training:
    """What one call of :func:`train_gan` updates: networks, optimisers, RNGs and progress."""

    cfg: GANConfig
    nets: NetConfig
    device: torch.device
    data: torch.Tensor  # (N, *S) on ``device``
    data_info: dict[str, Any]  # N, per-sample shape and checksum, compared when resuming
    per_epoch: int  # generator iterations per epoch
    total: int  # generator iterations in all
    generator: nn.Module
    critic: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    noise: torch.Generator  # latents z and the interpolation ε, on ``device``
    data_rng: torch.Generator  # per-epoch permutations of the data, on the CPU
    ckpt_root: Path | None
    ckpt_path: Path | None = None  # last checkpoint written or read
    history: HistoryConfig | None = None
    recorder: HistoryRecorder | None = None
    records: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in RECORD_KEYS})
    pending: list[torch.Tensor] = field(default_factory=list)  # (4,) stats not yet synced
    index: torch.Tensor | None = None  # this epoch's sample indices
    gen_iter: int = 0  # generator iterations done
    past_seconds: float = 0.0  # training time before a resume
    t0: float = 0.0  # perf_counter() when this call started training
    # data-parallel (historyad.training.distributed): the process group, the modules the
    # optimisation steps run (DDP wrappers of generator / critic, or those themselves) and
    # the other ranks' noise states for the checkpoint
    par: DataParallel | None = None
    step_generator: nn.Module | None = None
    step_critic: nn.Module | None = None
    rank_rng: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.data.shape[1:])

    @property
    def world_size(self) -> int:
        return 1 if self.par is None else self.par.world_size

    @property
    def is_main(self) -> bool:
        return self.par is None or self.par.is_main

    def seconds(self) -> float:
        """Training time so far, across resumes."""
        return self.past_seconds + time.perf_counter() - self.t0


def _setup(data: torch.Tensor, cfg: GANConfig, nets: NetConfig,
           par: DataParallel | None = None) -> _Training:
    """Schedule, seeded networks, optimisers and the two RNGs seeded from ``cfg.random_state``
    (in a process group: an epoch of global batches, DDP wrappers, per-rank noise)."""
    device = data.device
    input_shape = tuple(int(s) for s in data.shape[1:])
    world = 1 if par is None else par.world_size
    per_epoch = iters_per_epoch(data.shape[0], cfg.batch_size * world, cfg.n_critic,
                                min_iterations=cfg.min_iterations, n_epochs=cfg.n_epochs)
    data_info = {"n": data.shape[0], "input_shape": list(input_shape), "checksum": _checksum(data)}
    generator = build_generator(input_shape, nets, seed=cfg.random_state).to(device)
    critic = build_critic(input_shape, nets, seed=cfg.random_state + 1).to(device)
    opt_g = _optimizer(generator.parameters(), cfg)
    opt_d = _optimizer(critic.parameters(), cfg)
    seeds = np.random.SeedSequence(cfg.random_state).generate_state(2)
    noise = torch.Generator(device=device)
    noise.manual_seed(distributed.noise_seed(seeds, cfg.random_state, par))
    data_rng = torch.Generator()
    data_rng.manual_seed(int(seeds[1]))
    step_generator, step_critic = distributed.wrap(par, generator, critic)
    return _Training(
        cfg=cfg, nets=nets, device=device, data=data, data_info=data_info, per_epoch=per_epoch,
        total=total_iterations(cfg.n_epochs, per_epoch), generator=generator, critic=critic,
        opt_g=opt_g, opt_d=opt_d, noise=noise, data_rng=data_rng,
        ckpt_root=Path(cfg.checkpoint_dir) if cfg.checkpoint_dir is not None else None,
        par=par, step_generator=step_generator, step_critic=step_critic,
    )


# ----------------------------------------------------------------------------- history


def _history_config(
    history: HistoryConfig | None, saved: dict[str, Any] | None, t: _Training
) -> HistoryConfig | None:
    """Resolve ``history_store="auto"`` (to the store of the checkpoint resumed from, else by
    the byte budget) and put a disk store without ``store_dir`` beside the checkpoints."""
    if history is None:
        return None
    if history.history_store == "auto":
        saved_hist = saved["meta"]["configs"].get("history") if saved is not None else None
        if saved_hist:  # checkpoints written before the rename say "store"
            saved_hist = upgrade_dict(HistoryConfig, saved_hist)
        if saved_hist and saved_hist.get("history_store") in ("memory", "disk"):
            # resuming: keep the store the checkpointed run resolved to
            history = dataclasses.replace(
                history, history_store=saved_hist["history_store"],
                store_dir=saved_hist.get("store_dir"),
            )
        else:
            history = resolve_store(
                history, t.generator, n_epochs=t.cfg.n_epochs, per_epoch=t.per_epoch
            )
    if history.history_store == "disk" and history.store_dir is None and t.ckpt_root:
        # a temporary store would vanish with the process: keep it beside the checkpoints
        history = dataclasses.replace(history, store_dir=str(t.ckpt_root / "history_store"))
        logger.info("history disk store in %s (beside the checkpoints)", history.store_dir)
    return history


def _start_history(t: _Training, history: HistoryConfig | None) -> None:
    """The recorder of the generator history (HistoryAD, seed 000 §3.2), when one is asked."""
    t.history = history
    if history is not None and t.is_main:  # recorded once, by rank 0 in a process group
        from historyad.training.history import HistoryRecorder

        t.recorder = HistoryRecorder(history, n_epochs=t.cfg.n_epochs, iters_per_epoch=t.per_epoch)


def _record_history(t: _Training) -> None:
    """After each generator update: snapshot G (and fold the critic into eq. 14) when due."""
    if t.recorder is not None:
        t.recorder.step(t.gen_iter, t.generator, t.critic)


# ----------------------------------------------------------------------------- Algorithm 2


def _set_lr(t: _Training) -> None:
    """Learning-rate schedule: both optimisers at :func:`_lr_at` of this iteration."""
    if t.cfg.lr_decay is None:
        return
    lr = _lr_at(t.cfg, t.gen_iter, t.total)
    for group in (*t.opt_g.param_groups, *t.opt_d.param_groups):
        group["lr"] = lr


def _critic_steps(t: _Training) -> dict[str, torch.Tensor]:
    """Alg. 2 inner loop: n_critic critic updates, each on the next real batch (B, *S) of this
    epoch's permutation (in a process group: this rank's slice of the next global batch);
    returns the detached stats of the last one."""
    assert t.index is not None
    bs, n_critic, world = t.cfg.batch_size, t.cfg.n_critic, t.world_size
    rank = 0 if t.par is None else t.par.rank
    base = (t.gen_iter % t.per_epoch) * n_critic * bs * world  # this iteration's place
    for j in range(n_critic):
        start = base + (j * world + rank) * bs
        rows = t.index[start : start + bs]  # (B,)
        real = t.data.index_select(0, rows)  # (B, *S)
        c_out = critic_update(t.step_critic, t.generator, real, t.opt_d, t.cfg, noise=t.noise)
    return c_out


def _generator_iteration(t: _Training) -> torch.Tensor:
    """One generator iteration of Alg. 2: lr schedule, n_critic critic steps, one generator
    step. Returns the (4,) stats in ``_LOSS_KEYS`` order, on the device (no sync)."""
    _set_lr(t)
    c_out = _critic_steps(t)
    g_out = generator_update(t.critic, t.step_generator, t.cfg.batch_size, t.opt_g, t.cfg,
                             noise=t.noise, device=t.device)
    t.gen_iter += 1
    return torch.stack((c_out["loss"], c_out["wasserstein"], c_out["gp"], g_out["loss"]))


def _flush_records(t: _Training) -> None:
    """Move the pending stats into ``t.records`` with one device sync; FloatingPointError
    naming the generator iteration when a loss is non-finite."""
    if not t.pending:
        return
    # one device sync for the whole block; in a process group, the mean over the ranks
    rows = distributed.mean_over_ranks(t.par, torch.stack(t.pending)).tolist()
    first = t.gen_iter - len(rows) + 1
    t.pending.clear()
    for offset, row in enumerate(rows):
        it = first + offset
        for name, value in zip(_LOSS_KEYS, row, strict=True):
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"training diverged: non-finite {name.replace('_', ' ')} ({value}) at "
                    f"generator iteration {it} (epoch {it / t.per_epoch:.2f}); "
                    f"try a lower learning rate (gan_lr={t.cfg.gan_lr:g})"
                )
        t.records["gen_iter"].append(float(it))
        t.records["epoch"].append(it / t.per_epoch)
        for name, value in zip(_LOSS_KEYS, row, strict=True):
            t.records[name].append(value)


def _run_epoch(
    t: _Training, bar: Any, callback: Callable[[int, dict[str, float]], None] | None
) -> None:
    """Generator iterations to the end of the current epoch (or of training): a fresh
    permutation of the data when the epoch starts, the records, the callback, the history,
    then a checkpoint when ``checkpoint_dir`` is set."""
    cfg = t.cfg
    stop = min(t.total, (t.gen_iter // t.per_epoch + 1) * t.per_epoch)
    if t.gen_iter % t.per_epoch == 0 or t.index is None:
        needed = t.per_epoch * cfg.n_critic * cfg.batch_size * t.world_size
        t.index = _epoch_index(t.data.shape[0], needed, t.data_rng, t.device)
    flush_every = 1 if t.device.type == "cpu" else 25
    while t.gen_iter < stop:
        t.pending.append(_generator_iteration(t))
        _record_history(t)
        epoch_end = t.gen_iter == stop
        if callback is not None or epoch_end or len(t.pending) >= flush_every:
            _flush_records(t)
        bar.update(1)
        if epoch_end and cfg.progress:
            bar.set_postfix(W=f"{t.records['wasserstein'][-1]:.3g}", refresh=False)
        if callback is not None:
            callback(t.gen_iter, {key: t.records[key][-1] for key in RECORD_KEYS})
    logger.info("epoch %d/%d: critic loss %.4g, generator loss %.4g, Wasserstein estimate %.4g",
                -(-t.gen_iter // t.per_epoch), -(-t.total // t.per_epoch),
                *(t.records[k][-1] if t.records[k] else math.nan
                  for k in ("critic_loss", "generator_loss", "wasserstein")))
    if t.ckpt_root is not None:
        t.rank_rng = distributed.rank_noise_states(t.par, t.noise)  # every rank takes part
        t.ckpt_path = distributed.checkpoint_on_main(t.par, lambda: save_run_checkpoint(t))


def _train(t: _Training, callback: Callable[[int, dict[str, float]], None] | None) -> float:
    """Epochs until ``t.total`` generator iterations; returns the training seconds."""
    t.generator.train()
    t.critic.train()
    t.t0 = time.perf_counter()
    bar = tqdm(total=t.total, initial=min(t.gen_iter, t.total),
               disable=not (t.cfg.progress and t.is_main),
               desc=f"{t.cfg.loss} {t.input_shape}", unit="it", leave=False)
    try:
        while t.gen_iter < t.total:
            _run_epoch(t, bar, callback)
    finally:
        bar.close()
    fit_seconds = t.seconds()
    t.generator.eval()
    t.critic.eval()
    logger.info(
        "trained %s on %s samples of shape %s: %d generator iterations in %.1f s",
        t.cfg.loss, t.data.shape[0], t.input_shape, t.gen_iter, fit_seconds,
    )
    return fit_seconds


def train_gan(
    X: np.ndarray | torch.Tensor,
    gan: GANConfig | None = None,
    nets: NetConfig | None = None,
    history: HistoryConfig | None = None,
    *,
    resume: bool = False,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> GANRun:
    """Train a GAN / WGAN / WGAN-GP on X (N, *input_shape) and return the :class:`GANRun`.

    Records (one entry per generator iteration, from its last critic step): see
    ``RECORD_KEYS``; for loss="gan", "wasserstein" is E_fake[s] − E_real[s] of the logits and
    "gradient_penalty" is 0.
    history: record generator snapshots and the online critic average (HistoryAD). A disk
    store without ``store_dir`` goes to ``checkpoint_dir/history_store`` when checkpointing.
    resume: continue from the latest checkpoint in ``gan.checkpoint_dir`` (fresh start with a
    log message when there is none). callback(gen_iter, record) runs after every generator
    iteration with that iteration's record (its exceptions propagate).
    Raises TypeError / ValueError for X that is not a finite (N, ...) array, ValueError for
    resume=True without ``checkpoint_dir``, CheckpointError when resuming a different run and
    FloatingPointError naming the generator iteration when a loss becomes non-finite.
    """
    cfg = gan if gan is not None else GANConfig()
    nets = nets if nets is not None else NetConfig()
    if resume and cfg.checkpoint_dir is None:
        raise ValueError("resume=True needs gan.checkpoint_dir (the folder to resume from)")
    par = distributed.current()  # data-parallel inside a process group of several processes
    t = _setup(_as_data(X, distributed.training_device(cfg.device, par)), cfg, nets, par)
    saved = read_latest_checkpoint(t) if resume else None
    _start_history(t, _history_config(history, saved, t))
    if saved is not None:
        restore(t, saved)
        distributed.restore_rank_noise(par, saved, t.noise, t.ckpt_path)
    fit_seconds = _train(t, callback)
    return GANRun(
        generator=t.generator,
        critic=t.critic,
        input_shape=t.input_shape,
        latent_dim=int(t.generator.latent_dim),
        gan_config=cfg,
        net_config=nets,
        history_config=t.history,
        records=t.records,
        recorder=t.recorder,
        iters_per_epoch=t.per_epoch,
        fit_seconds=fit_seconds,
        checkpoint=t.ckpt_path,
    )


__all__ = ["RECORD_KEYS", "GANRun", "iters_per_epoch", "total_iterations", "train_gan"]
