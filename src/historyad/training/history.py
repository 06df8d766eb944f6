"""Generator history (HistoryAD, seed 000 §3.2, §4.3): :class:`HistoryRecorder`.

While a WGAN-GP trains, the recorder stores ``saves_per_epoch`` generator snapshots per epoch
and folds the critic into the e^(−βt)-weighted average of eq. 14, so that the detector D_TV
can start from it without any critic state being kept. The other concepts of the history live
in one module each and are re-exported here:

- :mod:`historyad.training.time_law`: the time law p(t) ∝ e^(−βt) on [α, n_epochs] (eq. 13);
- :mod:`historyad.training.stores`: the snapshot stores (memory or disk);
- :mod:`historyad.training.budget`: the byte budget that resolves ``store="auto"``;
- :mod:`historyad.training.average`: the online critic average of eq. 14;
- :mod:`historyad.training.sampling`: the sampler of the history mixture P_Ghist.

Times are in epochs. Checkpointable objects follow :mod:`historyad.training._state`:
``state_dict()`` holds a flat ``"tensors"`` dict plus JSON-ready metadata.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from historyad.config import HistoryConfig
from historyad.training._state import TENSORS_KEY, add_prefix, split_state, take_prefix
from historyad.training.average import OnlineWeightedAverage, snapshot_weights
from historyad.training.budget import resolve_store
from historyad.training.sampling import HistorySampler
from historyad.training.stores import (
    DiskSnapshotStore,
    MemorySnapshotStore,
    SnapshotStore,
    make_store,
)
from historyad.training.time_law import (
    check_window,
    sample_times,
    time_cdf,
    time_density,
    within_window,
)

logger = logging.getLogger(__name__)


class HistoryRecorder:
    """Decides when to snapshot and records G (and updates the critic average).

    Snapshot k (k = 1, 2, …) is taken at the first generator iteration i (1-based) with
    ⌊i·s/I⌋ ≥ k, where s = saves_per_epoch (capped at I) and I = iters_per_epoch; its time is
    t = i / I epochs. After e whole epochs exactly e·s snapshots are due. Snapshots with
    t ≥ α go to ``store`` (and ``critic_store`` when ``config.record_critic``); those with
    α ≤ t ≤ n_epochs also update ``average`` (eq. 14). Time comparisons use a relative
    tolerance of 1e-9, so t == α is kept.
    """

    def __init__(self, config: HistoryConfig, *, n_epochs: float, iters_per_epoch: int) -> None:
        if not isinstance(config, HistoryConfig):
            raise TypeError(f"config={config!r} is not allowed; pass a HistoryConfig")
        if isinstance(iters_per_epoch, bool) or not isinstance(iters_per_epoch, int | np.integer):
            raise ValueError(
                f"iters_per_epoch={iters_per_epoch!r} is not allowed; it must be an int"
            )
        if iters_per_epoch < 1:
            raise ValueError(f"iters_per_epoch={iters_per_epoch!r} is not allowed; it must be >= 1")
        check_window(config.alpha, config.beta, n_epochs, allow_point=True)
        self.config = config
        self.n_epochs = float(n_epochs)
        self.iters_per_epoch = int(iters_per_epoch)
        self.saves_per_epoch = int(config.saves_per_epoch)
        if self.saves_per_epoch > self.iters_per_epoch:
            logger.warning(
                "saves_per_epoch=%d exceeds iters_per_epoch=%d generator iterations; "
                "recording once per iteration instead",
                self.saves_per_epoch,
                self.iters_per_epoch,
            )
            self.saves_per_epoch = self.iters_per_epoch
        self.store: SnapshotStore = make_store(config)
        self.critic_store: SnapshotStore | None = (
            make_store(config, subdir="critic") if config.record_critic else None
        )
        self.average = OnlineWeightedAverage(beta=config.beta)
        self._last_gen_iter = 0
        self._n_due = 0
        self._last_avg_time: float | None = None

    def is_due(self, gen_iter: int) -> bool:
        """Whether a snapshot is due after generator iteration ``gen_iter`` (1-based)."""
        s, i_per = self.saves_per_epoch, self.iters_per_epoch
        return (gen_iter * s) // i_per > ((gen_iter - 1) * s) // i_per

    def time_of(self, gen_iter: int) -> float:
        """Time in epochs of generator iteration ``gen_iter``."""
        return gen_iter / self.iters_per_epoch

    @property
    def n_due(self) -> int:
        """Snapshots due so far, including those before α that were not kept."""
        return self._n_due

    @property
    def last_gen_iter(self) -> int:
        """The last generator iteration passed to :meth:`step` (0 before the first)."""
        return self._last_gen_iter

    def step(self, gen_iter: int, generator: nn.Module, critic: nn.Module) -> bool:
        """Call after every generator update; returns True when a snapshot was stored."""
        if isinstance(gen_iter, bool) or not isinstance(gen_iter, int | np.integer):
            raise ValueError(f"gen_iter={gen_iter!r} is not allowed; it must be an int")
        if gen_iter <= self._last_gen_iter:
            raise ValueError(
                f"gen_iter={gen_iter!r} is not allowed; it must exceed the previous "
                f"gen_iter={self._last_gen_iter} (1-based, increasing)"
            )
        gen_iter = int(gen_iter)
        self._last_gen_iter = gen_iter
        if not self.is_due(gen_iter):
            return False
        self._n_due += 1
        t = self.time_of(gen_iter)
        if not within_window(t, self.config.alpha, math.inf):
            return False
        self.store.add(t, generator.state_dict())
        in_average = within_window(t, self.config.alpha, self.n_epochs)
        if self.critic_store is not None or in_average:
            critic_state = critic.state_dict()
            if self.critic_store is not None:
                self.critic_store.add(t, critic_state)
            if in_average:
                self.average.update(t, critic_state)
                self._last_avg_time = t
        logger.debug("recorded snapshot %d at t=%.4f epochs", len(self.store), t)
        return True

    def state_dict(self) -> dict[str, Any]:
        """Metadata plus ``tensors`` prefixed ``store.``, ``critic_store.`` and ``average.``."""
        tensors: dict[str, torch.Tensor] = {}
        parts: dict[str, Any] = {}
        named: list[tuple[str, Any]] = [("store", self.store), ("average", self.average)]
        if self.critic_store is not None:
            named.append(("critic_store", self.critic_store))
        for key, obj in named:
            t_part, meta = split_state(obj.state_dict())
            tensors.update(add_prefix(f"{key}.", t_part))
            parts[key] = meta
        return {
            "version": 1,
            "iters_per_epoch": self.iters_per_epoch,
            "saves_per_epoch": self.saves_per_epoch,
            "n_epochs": self.n_epochs,
            "alpha": self.config.alpha,
            "beta": self.config.beta,
            "last_gen_iter": self._last_gen_iter,
            "n_due": self._n_due,
            "last_avg_time": self._last_avg_time,
            "store": parts["store"],
            "critic_store": parts.get("critic_store"),
            "average": parts["average"],
            TENSORS_KEY: tensors,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; iters/saves per epoch, α and β must match."""
        for key, mine in (
            ("iters_per_epoch", self.iters_per_epoch),
            ("saves_per_epoch", self.saves_per_epoch),
            ("alpha", self.config.alpha),
            ("beta", self.config.beta),
        ):
            if state[key] != mine:
                raise ValueError(
                    f"state[{key!r}]={state[key]!r} does not match this recorder's {mine!r}"
                )
        last_avg = state.get("last_avg_time")
        if last_avg is not None and not within_window(last_avg, 0.0, self.n_epochs):
            raise ValueError(
                f"n_epochs={self.n_epochs!r} is not allowed for this state: the critic average "
                f"already includes t={last_avg!r}"
            )
        tensors = state.get(TENSORS_KEY, {})

        def part(key: str) -> dict[str, Any]:
            return {**state[key], TENSORS_KEY: take_prefix(f"{key}.", tensors)}

        self.store = self._restore_store(self.store, part("store"))
        if state.get("critic_store") is not None:
            self.critic_store = self._restore_store(self.critic_store, part("critic_store"))
        elif self.critic_store is not None:
            raise ValueError("record_critic=True but the state holds no critic store")
        self.average.load_state_dict(part("average"))
        self._last_gen_iter = int(state["last_gen_iter"])
        self._n_due = int(state["n_due"])
        self._last_avg_time = last_avg

    @staticmethod
    def _restore_store(current: SnapshotStore | None, state: Mapping[str, Any]) -> SnapshotStore:
        if current is not None and current.kind == state.get("kind"):
            current.load_state_dict(state)
            return current
        if current is not None:
            current.close()
        return SnapshotStore.from_state_dict(state)

    def close(self) -> None:
        """Close the stores."""
        self.store.close()
        if self.critic_store is not None:
            self.critic_store.close()


__all__ = [
    "DiskSnapshotStore",
    "HistoryRecorder",
    "HistorySampler",
    "MemorySnapshotStore",
    "OnlineWeightedAverage",
    "SnapshotStore",
    "make_store",
    "resolve_store",
    "sample_times",
    "snapshot_weights",
    "time_cdf",
    "time_density",
]
