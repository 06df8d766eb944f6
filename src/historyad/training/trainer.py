"""Adversarial training loop: :func:`train_gan` -> :class:`GANRun`.

An epoch is one pass of the CRITIC over the data: ``iters_per_epoch = max(1, N // (batch_size *
n_critic))`` generator iterations (MNIST: 60000 // (64 * 5) = 187, as in seed 000), and
``round(n_epochs * iters_per_epoch)`` generator iterations in all. On small data that is too
few to train a usable generator (1000 rows, 5 epochs: 15 iterations), so
``GANConfig.min_iterations`` sets a floor: an epoch is then stretched to
``ceil(min_iterations / n_epochs)`` generator iterations (several passes over the data), so
that the time axis of the history (eq. 13, in epochs) keeps its meaning as a fraction of
training. Real batches are consecutive
slices of a per-epoch permutation; the data lives as one tensor on the device.

Reproducibility: the weights are initialised under a seeded, forked RNG and every random draw
(permutations, latents, interpolation ε) comes from explicit ``torch.Generator`` objects seeded
from ``GANConfig.seed``; the global RNG is neither used nor changed. On CPU the same seed gives
bit-identical weights, also across an interruption and ``resume=True``.
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

from historyad.config import GANConfig, HistoryConfig, NetConfig, to_dict
from historyad.nn.factory import build_critic, build_generator
from historyad.training.checkpoint import (
    CheckpointError,
    checkpoint_name,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from historyad.training.losses import critic_update, generator_update

if TYPE_CHECKING:
    from historyad.training.history import HistoryRecorder, HistorySampler

logger = logging.getLogger(__name__)

RECORD_KEYS = (
    "gen_iter",
    "epoch",
    "critic_loss",
    "wasserstein",
    "gradient_penalty",
    "generator_loss",
)
_LOSS_KEYS = RECORD_KEYS[2:]  # order of the per-iteration stats tensor
KEEP_CHECKPOINTS = 2  # most recent checkpoints kept in checkpoint_dir
# GANConfig fields that may change when resuming; every other field must match the checkpoint
_RESUMABLE_CHANGES = frozenset({"n_epochs", "lr", "lr_decay", "progress", "checkpoint_dir"})


@dataclass
class GANRun:
    """A trained GAN: final networks (eval mode), configs, per-iteration records, history."""

    generator: nn.Module
    critic: nn.Module
    input_shape: tuple[int, ...]
    latent_dim: int
    gan_config: GANConfig
    net_config: NetConfig
    history_config: HistoryConfig | None
    records: dict[str, list[float]]
    recorder: HistoryRecorder | None
    iters_per_epoch: int
    fit_seconds: float
    checkpoint: Path | None = field(default=None)  # last checkpoint written or read

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def save(self, path: str | Path) -> Path:
        """Write the final generator and critic (and the eq. 14 critic average when a
        history was recorded) to one safetensors file whose metadata holds the resolved
        configs as JSON. No pickle; load with ``safetensors.torch.load_file``."""
        import json

        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"generator.{k}": v for k, v in self.generator.state_dict().items()}
        tensors |= {f"critic.{k}": v for k, v in self.critic.state_dict().items()}
        if self.recorder is not None and self.recorder.average.count:
            tensors |= {f"critic_average.{k}": v for k, v in self.critic_average().items()}
        tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        meta = {
            "format": "historyad-gan",
            "input_shape": list(self.input_shape),
            "latent_dim": self.latent_dim,
            "gan_config": to_dict(self.gan_config),
            "net_config": to_dict(self.net_config),
            "history_config": to_dict(self.history_config) if self.history_config else None,
            "generator_iterations": len(self.records.get("gen_iter", [])),
            "fit_seconds": self.fit_seconds,
        }
        save_file(tensors, str(path), metadata={"historyad": json.dumps(meta, default=str)})
        return path

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, batch_size: int = 1024) -> torch.Tensor:
        """n samples (n, *input_shape) of the final generator, on its device; z ~ N(0, I)."""
        if n < 0:
            raise ValueError(f"n={n!r} is not allowed; it must be >= 0")
        gen = torch.Generator(device=self.device)
        gen.manual_seed(int(seed))
        was_training = self.generator.training
        self.generator.eval()
        try:
            parts = []
            for start in range(0, n, batch_size):
                m = min(batch_size, n - start)
                z = torch.randn(m, self.latent_dim, generator=gen, device=self.device)
                parts.append(self.generator(z))  # (m, L) -> (m, *input_shape)
        finally:
            self.generator.train(was_training)
        if not parts:
            return torch.empty((0, *self.input_shape), device=self.device)
        return torch.cat(parts)

    def _require_recorder(self) -> HistoryRecorder:
        if self.recorder is None:
            raise ValueError(
                "this GANRun has no generator history: train with history=HistoryConfig(...)"
            )
        return self.recorder

    def history_sampler(
        self,
        *,
        alpha: float | None = None,
        beta: float | None = None,
        case: int = 1,
        wide_std: float = 2.0,
    ) -> HistorySampler:
        """A sampler of P_Ghist over the recorded generator snapshots (seed 000 §3.2).

        alpha / beta default to ``history_config``; the sampler's generator is a copy-free
        reuse of this run's generator module (loaded with snapshot weights on demand).
        """
        from historyad.training.history import HistorySampler

        recorder = self._require_recorder()
        assert self.history_config is not None
        return HistorySampler(
            recorder.store,
            self.generator,
            self.latent_dim,
            alpha=self.history_config.alpha if alpha is None else alpha,
            beta=self.history_config.beta if beta is None else beta,
            n_epochs=self.gan_config.n_epochs,
            case=case,
            wide_std=wide_std,
            device=str(self.device),
        )

    def critic_average(self) -> dict[str, torch.Tensor]:
        """The e^(−βt)-weighted average of the critic's weights over training (eq. 14)."""
        return self._require_recorder().average.average()


# ----------------------------------------------------------------------------- helpers


def resolve_store(
    history: HistoryConfig, generator: torch.nn.Module, *, n_epochs: float, per_epoch: int
) -> HistoryConfig:
    """Turn ``store="auto"`` into "memory" or "disk" from the projected snapshot bytes:
    (snapshots kept in [α, n_epochs]) × (generator parameters and buffers) × dtype size."""
    if history.store != "auto":
        return history
    saves = min(history.saves_per_epoch, per_epoch)
    n_kept = max(1, int(np.ceil(saves * max(n_epochs - history.alpha, 0.0))) + 1)
    numel = sum(t.numel() for t in generator.state_dict().values() if t.is_floating_point())
    nbytes = n_kept * numel * (2 if history.store_dtype == "float16" else 4)
    store = "memory" if nbytes <= history.memory_budget_mb * 2**20 else "disk"
    logger.info(
        "history store 'auto' -> %r (%d snapshots × %d values ≈ %.0f MB, budget %.0f MB)",
        store, n_kept, numel, nbytes / 2**20, history.memory_budget_mb,
    )
    return dataclasses.replace(history, store=store)


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
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas)
    return torch.optim.RMSprop(params, lr=cfg.lr)


def _lr_at(cfg: GANConfig, it: int, total: int) -> float:
    """Learning rate of 0-based generator iteration ``it``: linear from lr to lr * lr_decay."""
    if cfg.lr_decay is None:
        return cfg.lr
    frac = it / max(1, total - 1)
    return cfg.lr * (1.0 + (cfg.lr_decay - 1.0) * frac)


def _epoch_index(
    n: int, needed: int, rng: torch.Generator, device: torch.device
) -> torch.Tensor:
    """``needed`` sample indices from fresh permutations of range(n) (several if needed > n)."""
    reps = -(-needed // n)
    perms = [torch.randperm(n, generator=rng) for _ in range(reps)]
    return torch.cat(perms)[:needed].to(device)


def _check_resume(meta: dict[str, Any], cfg: GANConfig, nets: NetConfig,
                  history: HistoryConfig | None, data_info: dict[str, Any], path: Path) -> None:
    saved = meta["configs"]
    # keys a newer version added are compared against their defaults (older checkpoints)
    saved = {
        "gan": {**to_dict(GANConfig()), **saved["gan"]},
        "net": {**to_dict(NetConfig()), **saved["net"]},
        "history": (
            {**to_dict(HistoryConfig()), **saved["history"]} if saved["history"] else None
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


# ----------------------------------------------------------------------------- training


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
    Raises FloatingPointError naming the generator iteration when a loss becomes non-finite.
    """
    cfg = gan if gan is not None else GANConfig()
    nets = nets if nets is not None else NetConfig()
    if resume and cfg.checkpoint_dir is None:
        raise ValueError("resume=True needs gan.checkpoint_dir (the folder to resume from)")
    device = torch.device(cfg.device)
    data = _as_data(X, device)  # (N, *S)
    n, input_shape = data.shape[0], tuple(int(s) for s in data.shape[1:])
    bs, n_critic = cfg.batch_size, cfg.n_critic
    per_epoch = iters_per_epoch(n, bs, n_critic, min_iterations=cfg.min_iterations,
                                n_epochs=cfg.n_epochs)
    total = total_iterations(cfg.n_epochs, per_epoch)
    data_info = {
        "n": n,
        "input_shape": list(input_shape),
        "checksum": _checksum(data),
    }

    generator = build_generator(input_shape, nets, seed=cfg.seed).to(device)
    critic = build_critic(input_shape, nets, seed=cfg.seed + 1).to(device)
    latent_dim = int(generator.latent_dim)
    opt_g = _optimizer(generator.parameters(), cfg)
    opt_d = _optimizer(critic.parameters(), cfg)
    seeds = np.random.SeedSequence(cfg.seed).generate_state(2)
    noise = torch.Generator(device=device)
    noise.manual_seed(int(seeds[0]))
    data_rng = torch.Generator()
    data_rng.manual_seed(int(seeds[1]))

    ckpt_root = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir is not None else None
    ckpt_path: Path | None = None
    state: dict[str, Any] | None = None
    if resume:
        assert ckpt_root is not None
        ckpt_path = latest_checkpoint(ckpt_root)
        if ckpt_path is None:
            logger.info("resume: no checkpoint in %s; training from scratch", ckpt_root)
        else:
            state = load_checkpoint(ckpt_path)
    if history is not None and history.store == "auto":
        saved_hist = state["meta"]["configs"].get("history") if state is not None else None
        if saved_hist and saved_hist.get("store") in ("memory", "disk"):
            # resuming: keep the store the checkpointed run resolved to
            history = dataclasses.replace(
                history, store=saved_hist["store"], store_dir=saved_hist.get("store_dir")
            )
        else:
            history = resolve_store(
                history, generator, n_epochs=cfg.n_epochs, per_epoch=per_epoch
            )
    if history is not None and history.store == "disk" and history.store_dir is None and ckpt_root:
        # a temporary store would vanish with the process: keep it beside the checkpoints
        history = dataclasses.replace(history, store_dir=str(ckpt_root / "history_store"))
        logger.info("history disk store in %s (beside the checkpoints)", history.store_dir)
    recorder: HistoryRecorder | None = None
    if history is not None:
        from historyad.training.history import HistoryRecorder

        recorder = HistoryRecorder(history, n_epochs=cfg.n_epochs, iters_per_epoch=per_epoch)

    records: dict[str, list[float]] = {k: [] for k in RECORD_KEYS}
    start, past_seconds = 0, 0.0
    index: torch.Tensor | None = None  # this epoch's sample indices
    if state is not None:
        assert ckpt_path is not None
        meta = state["meta"]
        _check_resume(meta, cfg, nets, history, data_info, ckpt_path)
        generator.load_state_dict(state["generator"])
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["optim_generator"])
        opt_d.load_state_dict(state["optim_critic"])
        noise.set_state(state["rng"]["noise"])
        data_rng.set_state(state["rng"]["data"])
        if "index" in state["data_index"]:
            index = state["data_index"]["index"].to(device)
        if recorder is not None:
            recorder.load_state_dict(state["history"])
        start = int(meta["progress"]["gen_iter"])
        past_seconds = float(meta.get("fit_seconds", 0.0))
        records = {k: [float(v) for v in meta["records"][k][:start]] for k in RECORD_KEYS}
        logger.info("resumed from %s at generator iteration %d", ckpt_path, start)
        if start > total:
            logger.warning(
                "checkpoint is at generator iteration %d, beyond the %d configured "
                "(n_epochs=%s); returning it as is", start, total, cfg.n_epochs
            )

    def save(gen_iter: int, seconds: float) -> Path:
        assert ckpt_root is not None
        parts: dict[str, Any] = {
            "generator": generator.state_dict(),
            "critic": critic.state_dict(),
            "optim_generator": opt_g.state_dict(),
            "optim_critic": opt_d.state_dict(),
            "rng": {"noise": noise.get_state(), "data": data_rng.get_state()},
            "data_index": {} if index is None else {"index": index},
        }
        if recorder is not None:
            parts["history"] = recorder.state_dict()
        meta = {
            "progress": {
                "gen_iter": gen_iter,
                "epoch": gen_iter / per_epoch,
                "total_iters": total,
                "iters_per_epoch": per_epoch,
            },
            "configs": {
                "gan": to_dict(cfg),
                "net": to_dict(nets),
                "history": to_dict(history) if history is not None else None,
            },
            "latent_dim": latent_dim,
            "data": data_info,
            "records": records,
            "fit_seconds": seconds,
        }
        path = save_checkpoint(ckpt_root / checkpoint_name(gen_iter), parts, meta)
        prune_checkpoints(ckpt_root, KEEP_CHECKPOINTS)
        return path

    pending: list[torch.Tensor] = []  # (4,) stats per generator iteration, not yet synced
    flush_every = 1 if device.type == "cpu" else 25

    def flush(last_iter: int) -> None:
        if not pending:
            return
        rows = torch.stack(pending).tolist()  # one device sync for the whole block
        first = last_iter - len(rows) + 1
        pending.clear()
        for offset, row in enumerate(rows):
            it = first + offset
            for name, value in zip(_LOSS_KEYS, row, strict=True):
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"training diverged: non-finite {name.replace('_', ' ')} ({value}) at "
                        f"generator iteration {it} (epoch {it / per_epoch:.2f}); "
                        f"try a lower lr (lr={cfg.lr:g})"
                    )
            records["gen_iter"].append(float(it))
            records["epoch"].append(it / per_epoch)
            for name, value in zip(_LOSS_KEYS, row, strict=True):
                records[name].append(value)

    generator.train()
    critic.train()
    needed = per_epoch * n_critic * bs
    t0 = time.perf_counter()
    bar = tqdm(total=total, initial=min(start, total), disable=not cfg.progress,
               desc=f"{cfg.loss} {input_shape}", unit="it", leave=False)
    gen_iter = start
    try:
        while gen_iter < total:
            k = gen_iter % per_epoch  # position of this iteration inside its epoch
            if k == 0 or index is None:
                index = _epoch_index(n, needed, data_rng, device)
            if cfg.lr_decay is not None:
                lr = _lr_at(cfg, gen_iter, total)
                for group in (*opt_g.param_groups, *opt_d.param_groups):
                    group["lr"] = lr
            base = k * n_critic * bs
            for j in range(n_critic):
                rows = index[base + j * bs : base + (j + 1) * bs]  # (B,)
                real = data.index_select(0, rows)  # (B, *S)
                c_out = critic_update(critic, generator, real, opt_d, cfg, noise=noise)
            g_out = generator_update(critic, generator, bs, opt_g, cfg, noise=noise,
                                     device=device)
            gen_iter += 1
            pending.append(
                torch.stack((c_out["loss"], c_out["wasserstein"], c_out["gp"], g_out["loss"]))
            )
            if recorder is not None:
                recorder.step(gen_iter, generator, critic)
            epoch_end = gen_iter % per_epoch == 0 or gen_iter == total
            if callback is not None or epoch_end or len(pending) >= flush_every:
                flush(gen_iter)
            bar.update(1)
            if epoch_end and cfg.progress:
                bar.set_postfix(W=f"{records['wasserstein'][-1]:.3g}", refresh=False)
            if callback is not None:
                callback(gen_iter, {key: records[key][-1] for key in RECORD_KEYS})
            if epoch_end and ckpt_root is not None:
                ckpt_path = save(gen_iter, past_seconds + time.perf_counter() - t0)
    finally:
        bar.close()
    fit_seconds = past_seconds + time.perf_counter() - t0
    generator.eval()
    critic.eval()
    logger.info(
        "trained %s on %s samples of shape %s: %d generator iterations in %.1f s",
        cfg.loss, n, input_shape, gen_iter, fit_seconds,
    )
    return GANRun(
        generator=generator,
        critic=critic,
        input_shape=input_shape,
        latent_dim=latent_dim,
        gan_config=cfg,
        net_config=nets,
        history_config=history,
        records=records,
        recorder=recorder,
        iters_per_epoch=per_epoch,
        fit_seconds=fit_seconds,
        checkpoint=ckpt_path,
    )


__all__ = ["RECORD_KEYS", "GANRun", "iters_per_epoch", "total_iterations", "train_gan"]
