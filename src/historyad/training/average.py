"""The e^(−βt)-weighted average of the critic's weights (HistoryAD, seed 000 eq. 14).

The detector D_TV of HistoryAD starts from θ̄ = Σ_k e^(−β t_k) θ_k / Σ_k e^(−β t_k) over the
critic states θ_k recorded at times t_k (epochs) in the window [α, n_epochs].
:class:`OnlineWeightedAverage` accumulates θ̄ one state at a time, so that no critic state has
to be kept; :func:`snapshot_weights` gives the normalised weights for recorded times.
Re-exported by :mod:`historyad.training.history`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from historyad.training._state import TENSORS_KEY, add_prefix, take_prefix


def snapshot_weights(times: np.ndarray, *, beta: float) -> np.ndarray:
    """Weights e^(−β t_k) normalised to sum 1, shape (K,); stable for large |β|·t."""
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"times has shape {times.shape}; a non-empty 1-D array is required")
    if not np.all(np.isfinite(times)):
        raise ValueError("times contains non-finite values; all times must be finite")
    if not math.isfinite(beta):
        raise ValueError(f"beta={beta!r} is not allowed; it must be finite")
    log_w = -beta * times
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


class OnlineWeightedAverage:
    """θ̄ = Σ_k e^(−β t_k) θ_k / Σ_k e^(−β t_k), accumulated one state at a time.

    The sum is kept in scaled form, S = Σ_k e^(−β t_k − m) θ_k with m the largest exponent
    seen (as in logsumexp), in float64 on the CPU. Non-floating entries (e.g. BatchNorm
    ``num_batches_tracked``) are taken from the latest state.
    """

    def __init__(self, *, beta: float) -> None:
        if not isinstance(beta, int | float) or not math.isfinite(beta):
            raise ValueError(f"beta={beta!r} is not allowed; it must be a finite number")
        self.beta = float(beta)
        self._reset()

    def _reset(self) -> None:
        self._count = 0
        self._log_scale = 0.0  # m
        self._norm = 0.0  # Z = Σ e^(−β t_k − m)
        self._sum: dict[str, torch.Tensor] = {}
        self._latest: dict[str, torch.Tensor] = {}  # non-floating entries
        self._dtypes: dict[str, torch.dtype] = {}
        self._order: list[str] = []

    @property
    def count(self) -> int:
        """Number of states averaged so far."""
        return self._count

    def update(self, t: float, state: Mapping[str, torch.Tensor]) -> None:
        """Add ``state`` with weight e^(−β t)."""
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"t={t!r} is not allowed; it must be finite")
        exponent = -self.beta * t
        if self._count == 0:
            self._order = list(state)
            self._dtypes = {n: v.dtype for n, v in state.items()}
            self._log_scale = exponent
            self._norm = 1.0
            self._sum = {
                n: v.detach().to("cpu", torch.float64, copy=True)
                for n, v in state.items()
                if v.is_floating_point()
            }
        else:
            self._check_keys(state)
            if exponent > self._log_scale:
                rescale = math.exp(self._log_scale - exponent)
                for s in self._sum.values():
                    s.mul_(rescale)
                self._norm *= rescale
                self._log_scale = exponent
            w = math.exp(exponent - self._log_scale)
            if w > 0.0:
                for n, s in self._sum.items():
                    s.add_(state[n].detach().to("cpu", torch.float64), alpha=w)
                self._norm += w
        self._latest = {
            n: v.detach().to("cpu", copy=True)
            for n, v in state.items()
            if not v.is_floating_point()
        }
        self._count += 1

    def _check_keys(self, state: Mapping[str, torch.Tensor]) -> None:
        if set(state) != set(self._order):
            missing = sorted(set(self._order) - set(state))[:5]
            extra = sorted(set(state) - set(self._order))[:5]
            raise ValueError(
                f"state keys differ from the first averaged state: missing {missing}, "
                f"unexpected {extra}"
            )
        for n, s in self._sum.items():
            if tuple(state[n].shape) != tuple(s.shape):
                raise ValueError(
                    f"state[{n!r}] has shape {tuple(state[n].shape)}; expected {tuple(s.shape)}"
                )

    def average(self) -> dict[str, torch.Tensor]:
        """The weighted average (floats in their original dtype; CPU), in the original key order."""
        if self._count == 0:
            raise RuntimeError("OnlineWeightedAverage.average() called before any update()")
        out: dict[str, torch.Tensor] = {}
        for n in self._order:
            if n in self._sum:
                out[n] = (self._sum[n] / self._norm).to(self._dtypes[n])
            else:
                out[n] = self._latest[n].clone()
        return out

    def state_dict(self) -> dict[str, Any]:
        """Metadata plus ``tensors`` (``sum.<name>`` float64, ``latest.<name>``)."""
        return {
            "beta": self.beta,
            "count": self._count,
            "log_scale": self._log_scale,
            "norm": self._norm,
            "order": list(self._order),
            "dtypes": {n: str(d).removeprefix("torch.") for n, d in self._dtypes.items()},
            TENSORS_KEY: {
                **add_prefix("sum.", {n: s.clone() for n, s in self._sum.items()}),
                **add_prefix("latest.", {n: v.clone() for n, v in self._latest.items()}),
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; β must match."""
        if float(state["beta"]) != self.beta:
            raise ValueError(
                f"state['beta']={state['beta']!r} does not match this average's beta={self.beta!r}"
            )
        tensors = state.get(TENSORS_KEY, {})
        self._reset()
        self._count = int(state["count"])
        self._log_scale = float(state["log_scale"])
        self._norm = float(state["norm"])
        self._order = list(state["order"])
        self._dtypes = {n: getattr(torch, d) for n, d in state["dtypes"].items()}
        self._sum = {
            n: v.to(torch.float64, copy=True) for n, v in take_prefix("sum.", tensors).items()
        }
        self._latest = {n: v.clone() for n, v in take_prefix("latest.", tensors).items()}
        missing = [n for n in self._order if n not in self._sum and n not in self._latest]
        if missing:
            raise ValueError(f"state['tensors'] lacks entries for {missing[:5]}")


__all__ = ["OnlineWeightedAverage", "snapshot_weights"]
