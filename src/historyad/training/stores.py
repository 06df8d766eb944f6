"""Snapshot stores: time-ordered generator (or critic) state dicts, in memory or on disk.

HistoryAD (seed 000 §3.2, §4.3) records ``saves_per_epoch`` generator snapshots per epoch;
:class:`MemorySnapshotStore` keeps them in CPU memory, :class:`DiskSnapshotStore` writes one
safetensors file per snapshot. :func:`make_store` builds the store a :class:`HistoryConfig`
describes (``store="auto"`` is resolved first by :func:`historyad.training.budget.resolve_store`).

Times are in epochs. Checkpointable objects follow :mod:`historyad.training._state`:
``state_dict()`` holds a flat ``"tensors"`` dict plus JSON-ready metadata. Re-exported by
:mod:`historyad.training.history`.
"""

from __future__ import annotations

import abc
import json
import logging
import math
import os
import shutil
import signal
import tempfile
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from historyad.config import HistoryConfig
from historyad.training._state import (
    TENSORS_KEY,
    add_prefix,
    copy_state,
    floats_to_float32,
    parse_dtype,
    write_json_atomic,
)

logger = logging.getLogger(__name__)

_FP16_MAX = 65504.0

# -- temporary store folders and signals -----------------------------------------------------
# A temporary store folder is removed when its store is closed or garbage-collected, or at
# interpreter exit (weakref.finalize). SIGTERM and SIGHUP end a process without running
# either: a handler (installed with the first temporary store, only where the signal has its
# default action) removes the live folders first, then lets the signal end the process as
# it would have.
_TEMP_DIRS: set[weakref.finalize] = set()
_HANDLED_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _remove_temp_dirs() -> None:
    for fin in list(_TEMP_DIRS):
        fin()  # runs once; a finalizer already run is a no-op
    _TEMP_DIRS.clear()


def _on_signal(signum: int, frame: Any) -> None:
    _remove_temp_dirs()
    # then the default action: end the process by the same signal (exit status -signum)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_signal_cleanup() -> None:
    """Install the cleanup handler on SIGTERM / SIGHUP where they have the default action
    (never over a handler someone else set, never from a thread other than the main one)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _HANDLED_SIGNALS:
        try:
            if signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, _on_signal)
        except (ValueError, OSError):  # not the main interpreter / unsupported
            continue


def _track_temp_dir(owner: object, path: Path) -> weakref.finalize:
    """A finalizer removing ``path`` with ``owner``, at exit, or on SIGTERM / SIGHUP."""
    fin = weakref.finalize(owner, shutil.rmtree, str(path), ignore_errors=True)
    for dead in [f for f in _TEMP_DIRS if not f.alive]:
        _TEMP_DIRS.discard(dead)
    _TEMP_DIRS.add(fin)
    _install_signal_cleanup()
    return fin


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
    garbage-collected, at interpreter exit, or when SIGTERM / SIGHUP ends the process; a given
    directory is never removed. Snapshots
    are read one file at a time.
    """

    kind = "disk"
    INDEX = "index.json"

    def __init__(self, directory: str | Path | None = None, *, dtype: str = "float32") -> None:
        super().__init__(dtype=dtype)
        self._finalizer: weakref.finalize | None = None
        if directory is None:
            path = Path(tempfile.mkdtemp(prefix="historyad-snapshots-"))
            self._finalizer = _track_temp_dir(self, path)
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
    """The store described by ``config`` (``history_store``, ``store_dir``, ``store_dtype``).

    ``subdir``: for a disk store with ``store_dir`` set, write into ``store_dir/subdir``.
    """
    # "auto" is resolved by train_gan from the generator's size; unresolved it means memory
    if config.history_store in ("memory", "auto"):
        return MemorySnapshotStore(dtype=config.store_dtype)
    if config.history_store == "disk":
        directory: Path | None = None
        if config.store_dir is not None:
            directory = Path(config.store_dir) / subdir if subdir else Path(config.store_dir)
        return DiskSnapshotStore(directory, dtype=config.store_dtype)
    raise ValueError(
        f"history_store={config.history_store!r} is not allowed; choose 'auto', 'memory' or 'disk'"
    )


__all__ = [
    "DiskSnapshotStore",
    "MemorySnapshotStore",
    "SnapshotStore",
    "make_store",
]
