"""Generator history: snapshot stores, the time law of eq. 13, the critic average of eq. 14.

HistoryAD (seed 000 §3.2, §4.3) records ``saves_per_epoch`` generator snapshots per epoch while
a WGAN-GP trains. The history mixture P_Ghist draws a time t with density
p(t) = c·1[α, n_epochs](t)·e^(−βt) (eq. 13), takes the nearest recorded G_t and outputs G_t(z),
z ~ N(0, I) (case 2: half of the latents from N(0, wide_std² I)). The detector D_TV starts
from the e^(−βt)-weighted average of the critic's weights over the same window (eq. 14),
accumulated online here so that no critic state has to be kept.

Times are in epochs. Checkpointable objects follow :mod:`historyad.training._state`:
``state_dict()`` holds a flat ``"tensors"`` dict plus JSON-ready metadata.
"""

from __future__ import annotations

import abc
import copy
import json
import logging
import math
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, overload

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from historyad.config import HistoryConfig
from historyad.training._state import (
    TENSORS_KEY,
    add_prefix,
    copy_state,
    floats_to_float32,
    parse_dtype,
    split_state,
    take_prefix,
    write_json_atomic,
)

logger = logging.getLogger(__name__)

# Below this |β|·(n_epochs − α) the law of eq. 13 is treated as uniform (relative error ~1e-12).
_UNIFORM_BL = 1e-12
# Relative tolerance when testing whether a recorded time lies in [α, n_epochs].
_TIME_RTOL = 1e-9
_FP16_MAX = 65504.0


# --------------------------------------------------------------------------------------------
# The time law of eq. 13
# --------------------------------------------------------------------------------------------


def _check_window(alpha: float, beta: float, n_epochs: float, *, allow_point: bool) -> None:
    for name, value in (("alpha", alpha), ("beta", beta), ("n_epochs", n_epochs)):
        if not isinstance(value, int | float | np.floating | np.integer) or not math.isfinite(
            value
        ):
            raise ValueError(f"{name}={value!r} is not allowed; it must be a finite number")
    if alpha < 0:
        raise ValueError(f"alpha={alpha!r} is not allowed; it must be >= 0 (epochs)")
    if n_epochs <= 0:
        raise ValueError(f"n_epochs={n_epochs!r} is not allowed; it must be > 0")
    if alpha > n_epochs or (alpha == n_epochs and not allow_point):
        bound = "<=" if allow_point else "<"
        raise ValueError(
            f"alpha={alpha!r} is not allowed with n_epochs={n_epochs!r}; "
            f"the window [alpha, n_epochs] needs alpha {bound} n_epochs"
        )


def _in_window(t: np.ndarray, alpha: float, n_epochs: float) -> np.ndarray:
    """Boolean mask of times in [α, n_epochs] up to a relative tolerance of 1e-9."""
    lo = alpha - _TIME_RTOL * max(1.0, abs(alpha))
    hi = n_epochs + _TIME_RTOL * max(1.0, abs(n_epochs))
    return (t >= lo) & (t <= hi)


def _within(t: float, lo: float, hi: float) -> bool:
    """Scalar version of :func:`_in_window`."""
    return bool(_in_window(np.array([t], dtype=np.float64), lo, hi)[0])


def time_density(t: np.ndarray, *, alpha: float, beta: float, n_epochs: float) -> np.ndarray:
    """Normalised density of eq. 13, p(t) ∝ e^(−βt) on [α, n_epochs], 0 outside.

    Args:
        t: times in epochs, any shape.
    Returns:
        float64 array of the same shape as ``t``. Stable for any finite β (β = 0: uniform).
    """
    _check_window(alpha, beta, n_epochs, allow_point=False)
    t = np.asarray(t, dtype=np.float64)
    length = n_epochs - alpha
    b = abs(beta)
    inside = (t >= alpha) & (t <= n_epochs)
    if b * length < _UNIFORM_BL:
        dens = np.full(t.shape, 1.0 / length)
    else:
        # u = distance from the end of the window where the density peaks.
        u = np.clip(t - alpha if beta > 0 else n_epochs - t, 0.0, length)
        dens = b * np.exp(-b * u) / -np.expm1(-b * length)
    return np.where(inside, dens, 0.0)


def time_cdf(t: np.ndarray, *, alpha: float, beta: float, n_epochs: float) -> np.ndarray:
    """Exact CDF of eq. 13 (0 below α, 1 above n_epochs); float64, same shape as ``t``."""
    _check_window(alpha, beta, n_epochs, allow_point=False)
    t = np.clip(np.asarray(t, dtype=np.float64), alpha, n_epochs)
    length = n_epochs - alpha
    b = abs(beta)
    if b * length < _UNIFORM_BL:
        return (t - alpha) / length
    denom = np.expm1(-b * length)
    if beta > 0:
        return np.expm1(-b * (t - alpha)) / denom
    return 1.0 - np.expm1(-b * (n_epochs - t)) / denom


def sample_times(
    n: int, *, alpha: float, beta: float, n_epochs: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` exact inverse-CDF draws from eq. 13; float64 array of shape (n,) in [α, n_epochs].

    β = 0 (or |β|·(n_epochs − α) < 1e-12) is uniform; large |β| stays exact (expm1 / log1p).
    α == n_epochs is allowed and returns the point mass at α.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n={n!r} is not allowed; it must be an int >= 0")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng={rng!r} is not allowed; pass a numpy.random.Generator")
    _check_window(alpha, beta, n_epochs, allow_point=True)
    length = n_epochs - alpha
    if length == 0:
        return np.full(int(n), float(alpha))
    uniform = rng.random(int(n))
    b = abs(beta)
    if b * length < _UNIFORM_BL:
        return np.clip(alpha + uniform * length, alpha, n_epochs)
    # Truncated exponential on [0, L] for the distance u from the density's peak.
    u = -np.log1p(uniform * np.expm1(-b * length)) / b
    u = np.clip(u, 0.0, length)
    t = alpha + u if beta > 0 else n_epochs - u
    return np.clip(t, alpha, n_epochs)


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


# --------------------------------------------------------------------------------------------
# Snapshot stores
# --------------------------------------------------------------------------------------------


class SnapshotStore(abc.ABC):
    """Time-ordered snapshots of a module's state dict.

    Floating tensors are kept in ``dtype`` ("float32" or "float16") and loaded back as float32;
    other tensors (e.g. ``num_batches_tracked``) keep their dtype. Times must strictly increase.
    """

    kind: ClassVar[str]

    def __init__(self, *, dtype: str = "float32") -> None:
        self._dtype_name = dtype
        self._dtype = parse_dtype(dtype)
        self._times: list[float] = []
        self._closed = False

    @property
    def dtype(self) -> str:
        """Storage dtype name of floating tensors."""
        return self._dtype_name

    @property
    def times(self) -> np.ndarray:
        """(K,) float64 recorded times, strictly increasing."""
        return np.asarray(self._times, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._times)

    @abc.abstractmethod
    def add(self, t: float, state: Mapping[str, torch.Tensor]) -> None:
        """Record a detached CPU copy of ``state`` at time ``t`` (> every earlier time)."""

    @abc.abstractmethod
    def load(self, index: int) -> dict[str, torch.Tensor]:
        """Fresh CPU tensors of snapshot ``index`` (floats as float32); negative indices count
        from the end."""

    @property
    @abc.abstractmethod
    def nbytes(self) -> int:
        """Bytes held in memory (memory store) or written to snapshot files (disk store)."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Enough to rebuild the store: ``{"kind", "dtype", "times", ..., "tensors"}``."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the contents with those described by ``state`` (from :meth:`state_dict`)."""

    @staticmethod
    def from_state_dict(state: Mapping[str, Any]) -> SnapshotStore:
        """A new store of the right kind rebuilt from ``state``."""
        kind = state.get("kind")
        store: SnapshotStore
        if kind == "memory":
            store = MemorySnapshotStore(dtype=state.get("dtype", "float32"))
        elif kind == "disk":
            if "directory" not in state:
                raise ValueError("disk store state has no 'directory' entry")
            store = DiskSnapshotStore(state["directory"], dtype=state.get("dtype", "float32"))
        else:
            raise ValueError(f"state['kind']={kind!r} is not allowed; choose 'memory' or 'disk'")
        store.load_state_dict(state)
        return store

    def close(self) -> None:
        """Release resources (the disk store removes a directory it created)."""
        self._closed = True

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        span = f", t=[{self._times[0]:.4g}, {self._times[-1]:.4g}]" if self._times else ""
        return f"{type(self).__name__}(K={len(self)}, dtype={self.dtype!r}{span})"

    # helpers ---------------------------------------------------------------------------------

    def _check_add(self, t: float, state: Mapping[str, torch.Tensor]) -> float:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed; cannot add snapshots")
        try:
            t = float(t)
        except (TypeError, ValueError):
            raise ValueError(f"t={t!r} is not allowed; it must be a finite number") from None
        if not math.isfinite(t):
            raise ValueError(f"t={t!r} is not allowed; it must be finite")
        if self._times and t <= self._times[-1]:
            raise ValueError(
                f"t={t!r} is not allowed; times must strictly increase "
                f"(the last recorded time is {self._times[-1]!r})"
            )
        if not isinstance(state, Mapping) or len(state) == 0:
            raise ValueError("state must be a non-empty mapping of name -> tensor")
        return t

    def _check_index(self, index: int) -> int:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed; cannot load snapshots")
        k = len(self._times)
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"index={index!r} is not allowed; it must be an int")
        if not -k <= index < k:
            raise IndexError(f"index={index!r} is out of range for a store of {k} snapshots")
        return int(index) % k

    @staticmethod
    def _check_times(times: list[float]) -> list[float]:
        times = [float(x) for x in times]
        arr = np.asarray(times, dtype=np.float64)
        if not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
            raise ValueError("state['times'] must be finite and strictly increasing")
        return times

    def _check_kind(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ValueError(
                f"state['kind']={state.get('kind')!r} does not match this {self.kind!r} store"
            )


class MemorySnapshotStore(SnapshotStore):
    """Snapshots held in CPU memory; ``dtype="float16"`` halves the memory of floats."""

    kind = "memory"

    def __init__(self, *, dtype: str = "float32") -> None:
        super().__init__(dtype=dtype)
        self._states: list[dict[str, torch.Tensor]] = []
        self._warned_overflow = False

    def add(self, t: float, state: Mapping[str, torch.Tensor]) -> None:
        t = self._check_add(t, state)
        copied = copy_state(state, float_dtype=self._dtype)
        if self._dtype == torch.float16:
            self._warn_overflow(state)
        self._states.append(copied)
        self._times.append(t)

    def _warn_overflow(self, state: Mapping[str, torch.Tensor]) -> None:
        if self._warned_overflow:
            return
        for name, v in state.items():
            if v.is_floating_point() and v.numel() and float(v.detach().abs().max()) > _FP16_MAX:
                logger.warning(
                    "snapshot tensor %r exceeds the float16 range (|x| > %g) and becomes inf; "
                    "use store_dtype='float32'",
                    name,
                    _FP16_MAX,
                )
                self._warned_overflow = True
                return

    def load(self, index: int) -> dict[str, torch.Tensor]:
        return floats_to_float32(self._states[self._check_index(index)])

    @property
    def nbytes(self) -> int:
        return sum(v.numel() * v.element_size() for s in self._states for v in s.values())

    def state_dict(self) -> dict[str, Any]:
        """Metadata plus ``tensors`` keyed ``f"{k}.{name}"`` (references, not copies)."""
        tensors: dict[str, torch.Tensor] = {}
        for k, s in enumerate(self._states):
            tensors.update(add_prefix(f"{k}.", s))
        return {
            "kind": self.kind,
            "dtype": self.dtype,
            "times": list(self._times),
            "names": [list(s) for s in self._states],
            TENSORS_KEY: tensors,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._check_kind(state)
        dtype = parse_dtype(state["dtype"], param="state['dtype']")
        times = self._check_times(state["times"])
        names = state["names"]
        tensors = state.get(TENSORS_KEY, {})
        if len(names) != len(times):
            raise ValueError(f"state has {len(times)} times but {len(names)} name lists")
        states = []
        for k, keys in enumerate(names):
            missing = [n for n in keys if f"{k}.{n}" not in tensors]
            if missing:
                raise ValueError(f"state['tensors'] lacks snapshot {k} entries {missing[:5]}")
            states.append(copy_state({n: tensors[f"{k}.{n}"] for n in keys}, float_dtype=dtype))
        self._dtype_name, self._dtype = state["dtype"], dtype
        self._times, self._states = times, states

    def close(self) -> None:
        super().close()
        self._states = []


class DiskSnapshotStore(SnapshotStore):
    """One safetensors file per snapshot plus ``index.json`` in ``directory``.

    ``directory=None`` creates a temporary directory, removed when the store is closed or
    garbage-collected (or at interpreter exit); a given directory is never removed. Snapshots
    are read one file at a time.
    """

    kind = "disk"
    INDEX = "index.json"

    def __init__(self, directory: str | Path | None = None, *, dtype: str = "float32") -> None:
        super().__init__(dtype=dtype)
        self._finalizer: weakref.finalize | None = None
        if directory is None:
            path = Path(tempfile.mkdtemp(prefix="historyad-snapshots-"))
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(path), ignore_errors=True)
        else:
            path = Path(directory)
            if path.exists() and not path.is_dir():
                raise ValueError(f"directory={str(directory)!r} exists and is not a directory")
            path.mkdir(parents=True, exist_ok=True)
            if (path / self.INDEX).exists():
                logger.info(
                    "%s already holds a snapshot index; new snapshots overwrite it "
                    "(call load_state_dict to resume instead)",
                    path,
                )
        self._directory = path.resolve()
        self._files: list[str] = []
        self._names: list[list[str]] = []
        self._sizes: list[int] = []

    @property
    def directory(self) -> Path:
        """Where the snapshot files and ``index.json`` live."""
        return self._directory

    @property
    def owns_directory(self) -> bool:
        """True when the store created (and will remove) its directory."""
        return self._finalizer is not None and self._finalizer.alive

    def add(self, t: float, state: Mapping[str, torch.Tensor]) -> None:
        t = self._check_add(t, state)
        k = len(self._times)
        name = f"snapshot_{k:06d}.safetensors"
        path = self._directory / name
        tmp = path.with_name(name + ".tmp")
        tensors = copy_state(state, float_dtype=self._dtype)
        save_file(tensors, str(tmp), metadata={"t": repr(t)})
        tmp.replace(path)
        self._times.append(t)
        self._files.append(name)
        self._names.append(list(tensors))
        self._sizes.append(path.stat().st_size)
        self._write_index()

    def load(self, index: int) -> dict[str, torch.Tensor]:
        k = self._check_index(index)
        path = self._directory / self._files[k]
        if not path.is_file():
            raise FileNotFoundError(f"snapshot {k} (t={self._times[k]!r}): {path} is missing")
        raw = load_file(str(path))
        # load_file returns fresh tensors; .float() copies only when a cast is needed.
        return {
            n: (raw[n].float() if raw[n].is_floating_point() else raw[n]) for n in self._names[k]
        }

    @property
    def nbytes(self) -> int:
        """Bytes of the snapshot files currently indexed (``index.json`` excluded)."""
        return sum(self._sizes)

    def state_dict(self) -> dict[str, Any]:
        """Metadata only (directory, times, file names); ``tensors`` is empty."""
        if self.owns_directory:
            logger.info(
                "state_dict of a disk store in temporary directory %s: it is removed when the "
                "store closes; set HistoryConfig.store_dir to resume in another process",
                self._directory,
            )
        return {
            "kind": self.kind,
            "dtype": self.dtype,
            "directory": str(self._directory),
            "times": list(self._times),
            "files": list(self._files),
            "names": [list(n) for n in self._names],
            TENSORS_KEY: {},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Point the store at ``state['directory']`` and its first ``len(times)`` snapshots."""
        self._check_kind(state)
        parse_dtype(state["dtype"], param="state['dtype']")
        times = self._check_times(state["times"])
        files, names = list(state["files"]), [list(n) for n in state["names"]]
        if not len(files) == len(names) == len(times):
            raise ValueError(
                f"state has {len(times)} times, {len(files)} files and {len(names)} name lists"
            )
        directory = Path(state["directory"]).resolve()
        missing = [f for f in files if not (directory / f).is_file()]
        if missing:
            raise FileNotFoundError(
                f"state['directory']={str(directory)!r} lacks snapshot files {missing[:3]} "
                f"({len(missing)} missing); a temporary store directory is removed when its "
                "store closes: set HistoryConfig.store_dir to resume"
            )
        if directory != self._directory:
            if self._finalizer is not None:
                self._finalizer()  # drop our own (now unused) temporary directory
                self._finalizer = None
            self._directory = directory
        self._dtype_name, self._dtype = state["dtype"], parse_dtype(state["dtype"])
        self._times, self._files, self._names = times, files, names
        self._sizes = [(directory / f).stat().st_size for f in files]
        self._write_index()

    def _write_index(self) -> None:
        write_json_atomic(
            self._directory / self.INDEX,
            {
                "version": 1,
                "dtype": self.dtype,
                "times": self._times,
                "files": self._files,
                "names": self._names,
            },
        )

    @classmethod
    def open(cls, directory: str | Path) -> DiskSnapshotStore:
        """Reopen a store from its ``index.json`` (the directory is not removed on close)."""
        index = Path(directory) / cls.INDEX
        if not index.is_file():
            raise FileNotFoundError(f"directory={str(directory)!r} has no {cls.INDEX}")
        meta = json.loads(index.read_text())
        store = cls(directory, dtype=meta["dtype"])
        store.load_state_dict({**meta, "kind": cls.kind, "directory": str(directory)})
        return store

    def close(self) -> None:
        super().close()
        if self._finalizer is not None:
            self._finalizer()


def make_store(config: HistoryConfig, *, subdir: str | None = None) -> SnapshotStore:
    """The store described by ``config`` (``store``, ``store_dir``, ``store_dtype``).

    ``subdir``: for a disk store with ``store_dir`` set, write into ``store_dir/subdir``.
    """
    # "auto" is resolved by train_gan from the generator's size; unresolved it means memory
    if config.store in ("memory", "auto"):
        return MemorySnapshotStore(dtype=config.store_dtype)
    if config.store == "disk":
        directory: Path | None = None
        if config.store_dir is not None:
            directory = Path(config.store_dir) / subdir if subdir else Path(config.store_dir)
        return DiskSnapshotStore(directory, dtype=config.store_dtype)
    raise ValueError(
        f"config.store={config.store!r} is not allowed; choose 'auto', 'memory' or 'disk'"
    )


# --------------------------------------------------------------------------------------------
# Online weighted average of the critic (eq. 14)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Recorder
# --------------------------------------------------------------------------------------------


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
        _check_window(config.alpha, config.beta, n_epochs, allow_point=True)
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
        if not _within(t, self.config.alpha, math.inf):
            return False
        self.store.add(t, generator.state_dict())
        in_average = _within(t, self.config.alpha, self.n_epochs)
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
        if last_avg is not None and not _within(last_avg, 0.0, self.n_epochs):
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


# --------------------------------------------------------------------------------------------
# Sampler of P_Ghist
# --------------------------------------------------------------------------------------------


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
        _check_window(alpha, beta, n_epochs, allow_point=True)
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
        idx = np.flatnonzero(_in_window(times, self.alpha, self.n_epochs))
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

    @overload
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = ...,
        rng: np.random.Generator | None = ...,
        return_times: Literal[False] = ...,
    ) -> torch.Tensor: ...

    @overload
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = ...,
        rng: np.random.Generator | None = ...,
        return_times: Literal[True],
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


__all__ = [
    "DiskSnapshotStore",
    "HistoryRecorder",
    "HistorySampler",
    "MemorySnapshotStore",
    "OnlineWeightedAverage",
    "SnapshotStore",
    "make_store",
    "sample_times",
    "snapshot_weights",
    "time_cdf",
    "time_density",
]
