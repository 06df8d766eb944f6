"""Data-parallel training (the GAN, and HistoryAD's D_TV): ``torch.distributed`` DDP across
processes, launched by torchrun.

:func:`historyad.training.train_gan` trains data-parallel whenever it runs inside an
initialised process group of more than one process (:func:`init_distributed`, which reads
torchrun's environment: gloo on the CPU, nccl on CUDA). Its loop stays the same; these hooks
change five things:

- **the batch.** ``batch_size`` is per process: each critic step of rank r takes the r-th
  of ``world_size`` consecutive slices of the shared epoch permutation (every rank draws the
  same permutation; the data are held whole by every rank), so the global batch is
  ``world_size × batch_size`` and an epoch, one critic pass over the data, has ``world_size``
  times fewer generator iterations (the ``min_iterations`` floor still applies);
- **the gradients** are averaged across processes by ``DistributedDataParallel`` (the critic
  in the critic steps, the generator in the generator step; the latents and the gradient
  penalty's ε differ per rank: rank r's noise generator is seeded from
  (``random_state``, r), rank 0's as in a single process);
- **the records** (losses, Wasserstein estimate, gradient penalty) are the mean over the
  processes, identical on every rank;
- **the history** (generator snapshots and the eq. 14 critic average) is recorded once, by
  rank 0; the other ranks' ``GANRun.recorder`` is None. The networks are identical on every
  rank after every step, so rank 0's history is the run's;
- **checkpoints** are written by rank 0 alone, with every rank's noise state, and every
  rank waits for it (a barrier); ``resume=True`` restores each rank's own state and refuses
  a checkpoint written by a different number of processes.

``HistoryAD.fit`` (``historyad.detectors.history_ad``) is data-parallel end to end in such a
group, and is then a collective call: every rank calls it with the same data and
parameters. After ``train_gan``, :func:`share_history` sends rank 0's history (the
recorder's counters, the eq. 14 critic average, then the snapshots one at a time) to the
other ranks, so every rank samples the same P_Ghist and starts D_TV from the same average.
D_TV's eq. (10) steps then run as a :func:`wrap_module` DDP wrapper: ``batch_size`` data
rows and ``batch_size`` history samples per rank and step (a global batch of
``world_size × batch_size`` of each), drawn from the rank's own stream (:func:`rank_seed`:
rank 0's as in a single process); ``dtv_records_`` hold the mean over the ranks and the
validation AUPRC is rank 0's (:func:`from_main`), identical everywhere. Every rank ends
with the same D_TV weights, threshold and training scores; save on rank 0. The knn
estimator computes the same thing on every rank (the same history and seed; no
communication after the history). ``random_state=None`` draws rank 0's seed for all.

Multi-GPU (one process per GPU; nccl)::

    torchrun --nproc_per_node=4 -m historyad.cli.ddp --dataset mnist \\
        --data ../shared/data --anomaly 0 --device cuda --out runs/ddp

runs ``historyad.cli.ddp.main`` (a GAN with the HistoryAD history on a leave-one-class-out
split; rank 0 saves ``gan.safetensors``, checkpoints each epoch); ``--detector historyad``
fits the whole detector instead (rank 0 saves ``model.safetensors``). In your own script
call :func:`init_distributed` first, then ``train_gan`` or ``HistoryAD(...).fit`` on every
rank as usual.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from historyad.training.checkpoint import CheckpointError

if TYPE_CHECKING:
    from collections.abc import Callable

    from historyad.training.run import GANRun

logger = logging.getLogger(__name__)

_RANK_NOISE = "noise_rank{}"  # checkpoint key of rank r's noise state (r >= 1)


@dataclass(frozen=True)
class DataParallel:
    """The process group ``train_gan`` trains in."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0: records the history, writes checkpoints."""
        return self.rank == 0


def current() -> DataParallel | None:
    """The initialised process group when it has more than one process, else None (then
    ``train_gan`` runs as a single process)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return DataParallel(rank=dist.get_rank(), world_size=dist.get_world_size(),
                        local_rank=int(os.environ.get("LOCAL_RANK", dist.get_rank())),
                        backend=str(dist.get_backend()))


def init_distributed(device: str = "cpu", *, backend: str | None = None) -> DataParallel | None:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``): nccl when ``device`` is CUDA (and the process's GPU
    becomes ``cuda:LOCAL_RANK``), gloo otherwise. Returns None when not launched by torchrun
    (no ``WORLD_SIZE``, or 1), so a script runs unchanged as a single process."""
    if int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return None
    if not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"))
    return current()


def training_device(device: str, par: DataParallel | None) -> torch.device:
    """``device``, with CUDA pinned to this process's GPU (``cuda:LOCAL_RANK``) in a group."""
    dev = torch.device(device)
    if par is not None and dev.type == "cuda" and dev.index is None:
        return torch.device("cuda", par.local_rank)
    return dev


def noise_seed(seeds: np.ndarray, random_state: int, par: DataParallel | None) -> int:
    """The seed of a rank's noise generator: rank 0 (and a single process) keep ``seeds[0]``,
    rank r >= 1 draws its own from (random_state, r)."""
    if par is None or par.rank == 0:
        return int(seeds[0])
    return int(np.random.SeedSequence([random_state, par.rank]).generate_state(1)[0])


def rank_seed(seed: int, par: DataParallel | None) -> int:
    """The seed of a rank's own random stream: ``seed`` itself on rank 0 (and in a single
    process), one drawn from (``seed``, r) on rank r >= 1."""
    if par is None or par.rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), par.rank]).generate_state(1)[0])


def wrap_module(par: DataParallel | None, module: nn.Module) -> nn.Module:
    """A DDP wrapper of ``module`` that averages its gradients across the group (it also
    copies rank 0's parameters to every rank when built), or ``module`` itself."""
    if par is None:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    dev = next(module.parameters()).device
    return DDP(module, device_ids=[dev.index] if dev.type == "cuda" else None)


def wrap(par: DataParallel | None, generator: nn.Module,
         critic: nn.Module) -> tuple[nn.Module, nn.Module]:
    """The modules the optimisation steps run: DDP wrappers that average gradients across
    the group (``generator.latent_dim`` carried over), or the modules themselves."""
    if par is None:
        return generator, critic
    g, c = wrap_module(par, generator), wrap_module(par, critic)
    g.latent_dim = generator.latent_dim  # type: ignore[assignment]
    return g, c


def from_main(par: DataParallel | None, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object; ``value`` itself in a single
    process). Collective: every rank calls it."""
    if par is None:
        return value
    box = [value if par.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class MainRankError(RuntimeError):
    """Raised on every other rank when rank 0 failed inside :func:`computed_on_main`."""


def computed_on_main(par: DataParallel | None, compute: Callable[[], Any]) -> Any:
    """``compute()`` run on rank 0 alone and its result sent to every rank (``compute()``
    itself in a single process). Collective: every rank calls it. When ``compute`` raises on
    rank 0, rank 0 still sends, so no rank waits for ever: rank 0 re-raises its exception,
    every other rank raises :class:`MainRankError` naming it."""
    if par is None:
        return compute()
    failure: BaseException | None = None
    value = None
    if par.is_main:
        try:
            value = compute()
        except Exception as exc:  # sent to the other ranks, then re-raised
            failure = exc
    box = [("error", f"{type(failure).__name__}: {failure}") if failure is not None
           else ("ok", value)] if par.is_main else [None]
    dist.broadcast_object_list(box, src=0)
    status, payload = box[0]
    if failure is not None:
        raise failure
    if status == "error":
        raise MainRankError(f"rank 0 failed: {payload}")
    return payload


def mean_over_ranks(par: DataParallel | None, values: torch.Tensor) -> torch.Tensor:
    """``values`` averaged over the group (unchanged in a single process)."""
    if par is None:
        return values
    out = values.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / par.world_size


def share_history(par: DataParallel | None, run: GANRun) -> None:
    """Give every rank rank 0's generator history, so that each can sample P_Ghist
    (``run.history_sampler``) and read the eq. 14 critic average (``run.critic_average``).

    ``train_gan`` records the history on rank 0 only; here rank 0 sends the recorder's
    state (its counters and the critic average) and then its snapshots one at a time, and
    every other rank rebuilds ``run.recorder`` from them: a store of the same kind and dtype
    (a disk store in its own temporary directory, so that ranks on different machines, or
    on one, never share files) holding the same snapshots at the same times. Collective:
    every rank calls it. Nothing is sent in a single process, when every rank already holds
    a recorder (e.g. the same ``GANRun`` loaded on each), or when rank 0 has none.
    """
    if par is None:
        return
    have: list[Any] = [None] * par.world_size
    dist.all_gather_object(have, run.recorder is not None)
    if all(have) or not have[0]:
        return
    from historyad.training._state import TENSORS_KEY, add_prefix, take_prefix
    from historyad.training.history import HistoryRecorder

    parts = ("store", "critic_store")
    def main_header() -> dict[str, Any]:
        assert run.recorder is not None
        state = run.recorder.state_dict()  # memory-store tensors are references, not copies
        header = {k: v for k, v in state.items() if k != TENSORS_KEY}
        header[TENSORS_KEY] = add_prefix("average.", take_prefix("average.", state[TENSORS_KEY]))
        return header

    header = computed_on_main(par, main_header)
    recorder = None
    if not have[par.rank]:
        assert run.history_config is not None
        local = dataclasses.replace(run.history_config, store_dir=None)
        recorder = HistoryRecorder(local, n_epochs=run.gan_config.n_epochs,
                                   iters_per_epoch=run.iters_per_epoch)
        stores = {"store": recorder.store, "critic_store": recorder.critic_store}
        recorder.load_state_dict({  # counters and average; the stores still empty
            **header, **{p: _empty_store_state(header[p], stores[p]) for p in parts}})
    for part in parts:
        if header[part] is None:
            continue
        for k, t in enumerate(header[part]["times"]):  # one snapshot at a time: bounded memory
            snapshot = computed_on_main(  # float32 CPU tensors; a failed read: every rank raises
                par, lambda part=part, k=k: getattr(run.recorder, part).load(k))
            if recorder is not None:
                getattr(recorder, part).add(t, snapshot)
    if recorder is not None:
        run.recorder = recorder
    logger.info("rank %d holds the history: %d generator snapshots", par.rank,
                len(header["store"]["times"]))


def _empty_store_state(sent: dict[str, Any] | None, store: Any) -> dict[str, Any] | None:
    """The state of an empty store like rank 0's ``sent`` one, in this rank's ``store``
    (its own directory for a disk store)."""
    if sent is None:
        return None
    empty = {**sent, "times": [], "names": [], "files": []}
    if "directory" in sent:
        empty["directory"] = str(store.directory)
    return empty


def rank_noise_states(par: DataParallel | None, noise: torch.Generator) -> dict[str, Any]:
    """Every rank >= 1's noise state, keyed ``noise_rank<r>``, gathered on every rank (the
    checkpoint's extra RNG entries); {} in a single process."""
    if par is None:
        return {}
    states: list[Any] = [None] * par.world_size
    dist.all_gather_object(states, noise.get_state().cpu())
    return {_RANK_NOISE.format(r): states[r] for r in range(1, par.world_size)}


def checkpoint_on_main(par: DataParallel | None, save: Callable[[], Path]) -> Path:
    """``save()`` on rank 0 only, every rank waiting for it; returns the path on every rank."""
    if par is None:
        return save()
    box: list[Any] = [str(save()) if par.is_main else None]
    dist.broadcast_object_list(box, src=0)  # also a barrier: rank 0 sends after saving
    dist.barrier()
    return Path(box[0])


def restore_rank_noise(par: DataParallel | None, state: dict[str, Any],
                       noise: torch.Generator, path: Path | None) -> None:
    """After ``resume.restore``: rank r >= 1 takes its own noise state; CheckpointError when
    the checkpoint was written by a different number of processes."""
    saved = sorted(k for k in state["rng"] if k.startswith("noise_rank"))
    world = 1 if par is None else par.world_size
    if len(saved) != world - 1:
        raise CheckpointError(
            f"cannot resume from {str(path)!r}: it was written by {len(saved) + 1} "
            f"process(es), this run has {world}; resume with the same number"
        )
    if par is not None and par.rank > 0:
        noise.set_state(state["rng"][_RANK_NOISE.format(par.rank)].to(noise.get_state().device))


__all__ = [
    "DataParallel",
    "MainRankError",
    "checkpoint_on_main",
    "computed_on_main",
    "current",
    "from_main",
    "init_distributed",
    "mean_over_ranks",
    "rank_noise_states",
    "rank_seed",
    "restore_rank_noise",
    "share_history",
    "training_device",
    "wrap",
    "wrap_module",
]

