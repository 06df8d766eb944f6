"""The history mixture P_Ghist of HistoryAD (seed 000 §3.2): :class:`HistorySampler`.

P_Ghist draws a time t from the law of eq. 13 (:mod:`historyad.training.time_law`), takes the
recorded generator snapshot G_t nearest to t and outputs G_t(z), z ~ N(0, I) (case 2: half of
the latents from N(0, wide_std² I)). Times are in epochs. Re-exported by
:mod:`historyad.training.history`.
"""

from __future__ import annotations

import copy
import math
from typing import Literal, TypedDict, Unpack, overload

import numpy as np
import torch
from torch import nn

from historyad.training.stores import SnapshotStore
from historyad.training.time_law import check_window, in_window, sample_times


class _RNGs(TypedDict, total=False):
    """The keyword RNGs of :meth:`HistorySampler.sample`."""

    generator: torch.Generator | None
    rng: np.random.Generator | None


class HistorySampler:
    """Draws from the history mixture P_Ghist (seed 000 eq. 13).

    ``generator`` is deep-copied and used as a shell: each snapshot is loaded into the copy,
    which runs in eval mode under ``torch.no_grad()``. Store times in [α, n_epochs] are the
    candidates (re-read on every call, so the store may keep growing); each drawn time maps to
    the nearest candidate.
    """

    def __init__(
        self,
        store: SnapshotStore,
        generator: nn.Module,
        latent_dim: int | tuple[int, ...],
        *,
        alpha: float,
        beta: float,
        n_epochs: float,
        case: int = 1,
        wide_std: float = 2.0,
        device: str | torch.device = "cpu",
        max_batch: int = 256,
    ) -> None:
        if not isinstance(store, SnapshotStore):
            raise TypeError(f"store={store!r} is not allowed; pass a SnapshotStore")
        if not isinstance(generator, nn.Module):
            raise TypeError(f"generator={generator!r} is not allowed; pass an nn.Module")
        shape = (latent_dim,) if isinstance(latent_dim, int | np.integer) else tuple(latent_dim)
        if not shape or any(isinstance(d, bool) or int(d) < 1 for d in shape):
            raise ValueError(f"latent_dim={latent_dim!r} is not allowed; it must be int(s) >= 1")
        check_window(alpha, beta, n_epochs, allow_point=True)
        if case not in (1, 2):
            raise ValueError(f"case={case!r} is not allowed; choose 1 or 2")
        if not (isinstance(wide_std, int | float) and math.isfinite(wide_std) and wide_std > 0):
            raise ValueError(f"wide_std={wide_std!r} is not allowed; it must be > 0")
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch={max_batch!r} is not allowed; it must be an int >= 1")
        self.store = store
        self.latent_shape = tuple(int(d) for d in shape)
        self.alpha, self.beta, self.n_epochs = float(alpha), float(beta), float(n_epochs)
        self.case, self.wide_std = int(case), float(wide_std)
        self.device = torch.device(device)
        self.max_batch = max_batch
        self._shell = copy.deepcopy(generator).to(self.device).eval().requires_grad_(False)
        first = next((p for p in self._shell.parameters() if p.is_floating_point()), None)
        self._z_dtype = first.dtype if first is not None else torch.float32

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(store indices, times) of the snapshots in [α, n_epochs]; error when there are none."""
        times = self.store.times
        idx = np.flatnonzero(in_window(times, self.alpha, self.n_epochs))
        if idx.size == 0:
            recorded = f"[{times[0]:.6g}, {times[-1]:.6g}]" if times.size else "none (empty store)"
            raise ValueError(
                f"no snapshot in the window alpha={self.alpha!r}, n_epochs={self.n_epochs!r}; "
                f"recorded times: {recorded}"
            )
        return idx, times[idx]

    def nearest(self, t: np.ndarray) -> np.ndarray:
        """Store index of the nearest candidate snapshot for each time in ``t`` (ties: earlier)."""
        idx, cand = self.candidates()
        t = np.asarray(t, dtype=np.float64)
        if cand.size == 1:
            return np.full(t.shape, idx[0], dtype=np.int64)
        # cand[pos - 1] < t <= cand[pos], clipped so that both neighbours exist.
        pos = np.clip(np.searchsorted(cand, t), 1, cand.size - 1)
        left, right = cand[pos - 1], cand[pos]
        choose = np.where(t - left <= right - t, pos - 1, pos)
        return idx[choose]

    # the two typed forms of sample(): without and with return_times=True
    @overload
    def sample(
        self, n: int, *, return_times: Literal[False] = ..., **rngs: Unpack[_RNGs]
    ) -> torch.Tensor: ...

    @overload
    def sample(
        self, n: int, *, return_times: Literal[True], **rngs: Unpack[_RNGs]
    ) -> tuple[torch.Tensor, np.ndarray]: ...

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        rng: np.random.Generator | None = None,
        return_times: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, np.ndarray]:
        """``n`` draws x = G_t(z), shape (n, *data_shape), on ``device``.

        Args:
            generator: torch RNG for the latents (and case 2's wide half); None = global RNG.
            rng: numpy RNG for the times; None = seeded from ``generator`` (or torch's global
                RNG), so a seeded torch generator alone makes the call deterministic.
            return_times: also return the (n,) float64 times of the snapshots used.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n={n!r} is not allowed; it must be an int >= 1")
        n = int(n)
        if rng is None:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
            rng = np.random.default_rng(seed)
        idx_used = self.nearest(
            sample_times(n, alpha=self.alpha, beta=self.beta, n_epochs=self.n_epochs, rng=rng)
        )
        z_device = generator.device if generator is not None else self.device
        z = torch.randn((n, *self.latent_shape), generator=generator, device=z_device)
        if self.case == 2:
            wide = torch.randperm(n, generator=generator, device=z_device)[: n // 2]
            z[wide] *= self.wide_std
        z = z.to(device=self.device, dtype=self._z_dtype)

        order = np.argsort(idx_used, kind="stable")
        snap_ids, counts = np.unique(idx_used[order], return_counts=True)
        out: torch.Tensor | None = None
        start = 0
        with torch.no_grad():
            for k, count in zip(snap_ids.tolist(), counts.tolist(), strict=True):
                positions = torch.from_numpy(order[start : start + count]).to(self.device)
                start += count
                self._load_snapshot(k)
                for lo in range(0, count, self.max_batch):
                    pos = positions[lo : lo + self.max_batch]
                    y = self._shell(z[pos])
                    if out is None:
                        out = torch.empty((n, *y.shape[1:]), dtype=y.dtype, device=y.device)
                    out[pos] = y
        assert out is not None
        if return_times:
            return out, self.store.times[idx_used]
        return out

    def _load_snapshot(self, k: int) -> None:
        try:
            self._shell.load_state_dict(self.store.load(k))
        except RuntimeError as err:
            raise ValueError(
                f"snapshot {k} (t={self.store.times[k]:.6g}) does not fit the generator shell: "
                f"{err}"
            ) from err



__all__ = ["HistorySampler"]
