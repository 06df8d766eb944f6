"""Pickle-free checkpoints: safetensors for tensors, JSON for everything else.

A checkpoint is a directory ``ckpt-<gen_iter>`` holding one ``<part>.safetensors`` per part
(generator / critic state dicts, optimiser states, RNG states, history recorder, ...) and a
``state.json`` with the metadata, the JSON skeleton of every part (tensors replaced by their
safetensors key, e.g. "state.3.exp_avg") and the sha256 of every file. The directory is written
under a temporary name and renamed into place (``os.replace``), so a crash never leaves a
half-written checkpoint behind; a truncated or modified file raises :class:`CheckpointError`
naming it.

A process killed in the middle of a save leaves its temporary folder
(``.ckpt-<n>.tmp-<pid>-<random>``) behind: :func:`clean_stale` removes those of processes no
longer running, and the next save or resume calls it. Resuming (:func:`load_latest_checkpoint`,
or :func:`load_checkpoint` of a checkpoint root) skips a damaged latest checkpoint for the
older one kept, with a warning naming the damaged file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

logger = logging.getLogger(__name__)

FORMAT = "historyad-checkpoint"
VERSION = 1
STATE_FILE = "state.json"
_PREFIX = "ckpt-"
_NAME_RE = re.compile(r"^ckpt-(\d+)$")
_PART_RE = re.compile(r"^[A-Za-z0-9_]+$")
# what an interrupted save leaves: its temporary folder, and the checkpoint it was replacing
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]{8}$")
_OLD_RE = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)-[0-9a-f]{8}$")
#: a leftover older than this is stale even when its process id is in use again
STALE_SECONDS = 24 * 3600
_MARKERS = ("__tensor__", "__ndarray__", "__tuple__", "__items__")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, modified or incompatible."""


class CheckpointWarning(UserWarning):
    """A damaged checkpoint was skipped for an older one."""


# ----------------------------------------------------------------------------- codec


def _join(key: str, sub: object) -> str:
    return f"{key}.{sub}" if key else str(sub)


def encode_state(obj: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested state (dicts, lists, tuples, tensors, arrays, scalars) into a JSON-ready
    skeleton and a flat ``{dotted.key: tensor}`` dict for safetensors."""
    tensors: dict[str, torch.Tensor] = {}
    storages: set[tuple[int, int]] = set()

    def tensor_leaf(t: torch.Tensor, key: str) -> torch.Tensor:
        t = t.detach().to("cpu").contiguous()
        storage = t.untyped_storage()
        ident = (storage.data_ptr(), storage.nbytes())
        if ident in storages or storage.nbytes() != t.numel() * t.element_size():
            t = t.clone()  # safetensors refuses shared / partial storages
        else:
            storages.add(ident)
        return t

    def enc(value: Any, key: str) -> Any:
        if isinstance(value, torch.Tensor):
            tensors[key] = tensor_leaf(value, key)
            return {"__tensor__": key}
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise TypeError(f"cannot checkpoint {key!r}: numpy arrays of objects")
            tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
            return {"__ndarray__": key}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Path):
            return str(value)
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, tuple):
            return {"__tuple__": [enc(v, _join(key, i)) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [enc(v, _join(key, i)) for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            plain = all(isinstance(k, str) and k not in _MARKERS for k in value)
            if plain:
                return {k: enc(v, _join(key, k)) for k, v in value.items()}
            items = []
            for k, v in value.items():
                sub = _join(key, k)
                items.append([enc(k, _join(sub, "__key__")), enc(v, sub)])
            return {"__items__": items}
        raise TypeError(
            f"cannot checkpoint {key or 'the state'!r} of type {type(value).__name__}; "
            "allowed: tensors, numpy arrays, dicts, lists, tuples, str, int, float, bool, None"
        )

    return enc(obj, ""), tensors


def decode_state(tree: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode_state`."""
    if isinstance(tree, list):
        return [decode_state(v, tensors) for v in tree]
    if isinstance(tree, dict):
        if len(tree) == 1:
            (marker, arg), = tree.items()
            if marker == "__tensor__":
                return tensors[arg]
            if marker == "__ndarray__":
                return tensors[arg].numpy()
            if marker == "__tuple__":
                return tuple(decode_state(v, tensors) for v in arg)
            if marker == "__items__":
                return {decode_state(k, tensors): decode_state(v, tensors) for k, v in arg}
        return {k: decode_state(v, tensors) for k, v in tree.items()}
    return tree


# ----------------------------------------------------------------------------- files


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_name(gen_iter: int) -> str:
    """Directory name of the checkpoint taken after generator iteration ``gen_iter``."""
    return f"{_PREFIX}{int(gen_iter):09d}"


def save_checkpoint(
    path: str | Path, parts: Mapping[str, Any], meta: Mapping[str, Any] | None = None
) -> Path:
    """Write a checkpoint directory at ``path`` atomically; returns ``path``.

    parts: ``{name: nested state}`` (name matches [A-Za-z0-9_]+), each written as
    ``<name>.safetensors`` plus its JSON skeleton. meta: JSON-ready metadata (configs, progress,
    records). An existing checkpoint at ``path`` is replaced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        skeletons: dict[str, Any] = {}
        digests: dict[str, str] = {}
        for name, state in parts.items():
            if not _PART_RE.match(name):
                raise ValueError(f"part name {name!r} is not allowed; use [A-Za-z0-9_]+")
            tree, tensors = encode_state(state)
            file = tmp / f"{name}.safetensors"
            save_file(tensors, str(file))
            skeletons[name] = tree
            digests[file.name] = _sha256(file)
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "meta": dict(meta or {}),
            "parts": skeletons,
            "sha256": digests,
        }
        with (tmp / STATE_FILE).open("w") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        trash = None
        if path.exists():
            trash = path.parent / f".{path.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.replace(path, trash)
        os.replace(tmp, path)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.debug("saved checkpoint %s", path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint directory (or the latest one inside a checkpoint root, skipping a
    damaged one for an older one with a warning: :func:`load_latest_checkpoint`).

    Returns ``{"meta": dict, "path": Path, <part name>: nested state with CPU tensors, ...}``.
    Raises :class:`CheckpointError` naming the file when anything is missing or corrupt.
    """
    path = Path(path)
    if path.is_dir() and not (path / STATE_FILE).exists() and not _NAME_RE.match(path.name):
        state = load_latest_checkpoint(path)
        if state is None:
            raise CheckpointError(f"path={str(path)!r} holds no checkpoint ({_PREFIX}* folder)")
        return state
    return _load_one(path)


def _load_one(path: Path) -> dict[str, Any]:
    state_file = path / STATE_FILE
    if not state_file.is_file():
        raise CheckpointError(f"checkpoint file {str(state_file)!r} is missing")
    try:
        doc = json.loads(state_file.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint file {str(state_file)!r} is unreadable or corrupt: {exc}"
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint file {str(state_file)!r} is not a {FORMAT} file (format="
            f"{doc.get('format') if isinstance(doc, dict) else None!r})"
        )
    if doc.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint file {str(state_file)!r} has version {doc.get('version')!r}; "
            f"this historyad reads version {VERSION}"
        )
    parts, digests = doc.get("parts"), doc.get("sha256")
    if not (isinstance(doc.get("meta"), dict) and isinstance(parts, dict)
            and isinstance(digests, dict)):
        raise CheckpointError(
            f"checkpoint file {str(state_file)!r} is corrupt: it lacks the meta, parts or "
            "sha256 table"
        )
    out: dict[str, Any] = {"meta": doc["meta"], "path": path}
    for name, tree in parts.items():
        file = path / f"{name}.safetensors"
        if not file.is_file():
            raise CheckpointError(f"checkpoint file {str(file)!r} is missing")
        expected = digests.get(file.name)
        if expected is not None and _sha256(file) != expected:
            raise CheckpointError(
                f"checkpoint file {str(file)!r} is corrupt: its sha256 does not match "
                f"{STATE_FILE} (truncated or modified); resume from another checkpoint"
            )
        try:
            tensors = load_file(str(file))
        except Exception as exc:  # safetensors raises several error types
            raise CheckpointError(
                f"checkpoint file {str(file)!r} is unreadable or corrupt: {exc}"
            ) from exc
        try:
            out[name] = decode_state(tree, tensors)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"checkpoint file {str(file)!r} lacks tensor {exc} named in {STATE_FILE}"
            ) from exc
    return out


def load_latest_checkpoint(directory: str | Path) -> dict[str, Any] | None:
    """The latest checkpoint in ``directory`` that loads (as :func:`load_checkpoint`), or
    None when there is none. A damaged checkpoint (a file missing, truncated or modified) is
    skipped for the next older one with a :class:`CheckpointWarning` naming it; when every
    checkpoint is damaged, CheckpointError lists them. Stale leftovers of interrupted saves
    are removed first (:func:`clean_stale`)."""
    directory = Path(directory)
    clean_stale(directory)
    errors: list[str] = []
    for path in reversed(_checkpoint_dirs(directory)):
        try:
            state = _load_one(path)
        except CheckpointError as exc:
            errors.append(str(exc))
            continue
        if errors:
            warnings.warn(
                f"resuming from {str(path)!r}, an older checkpoint: the later one is damaged "
                f"({'; '.join(errors)})",
                CheckpointWarning,
                stacklevel=2,
            )
        return state
    if errors:
        raise CheckpointError(
            f"every checkpoint in {str(directory)!r} is damaged: {'; '.join(errors)}"
        )
    return None


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C there: rely on the age
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's live process
        return True
    return True


def clean_stale(directory: str | Path) -> list[Path]:
    """Remove what saves interrupted by a crash left in ``directory``: the temporary folders
    (``.<name>.tmp-<pid>-*``) of processes that are no longer running (or older than
    ``STALE_SECONDS``). A checkpoint that such a save had moved aside to replace it
    (``.<name>.old-<pid>-*``) is put back when ``<name>`` is missing, else removed. Returns
    the paths removed; leftovers of running processes are kept."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed: list[Path] = []
    now = time.time()
    for child in sorted(directory.iterdir()):
        m = _TMP_RE.match(child.name) or _OLD_RE.match(child.name)
        if m is None or not child.is_dir():
            continue
        try:
            age = now - child.stat().st_mtime
        except OSError:
            continue
        if _pid_running(int(m.group("pid"))) and age < STALE_SECONDS:
            continue
        target = directory / m.group("name")
        if _OLD_RE.match(child.name) and not target.exists():
            os.replace(child, target)
            logger.warning("restored checkpoint %s, moved aside by an interrupted save", target)
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child)
        logger.info("removed %s, left by an interrupted checkpoint save", child)
    return removed


def _checkpoint_dirs(directory: Path, *, complete: bool = False) -> list[Path]:
    """The ``ckpt-<n>`` folders of ``directory``, oldest first (``complete``: those holding a
    ``state.json`` only)."""
    if not directory.is_dir():
        return []
    found = []
    for child in directory.iterdir():
        m = _NAME_RE.match(child.name)
        if m and child.is_dir() and (not complete or (child / STATE_FILE).is_file()):
            found.append((int(m.group(1)), child))
    return [p for _, p in sorted(found)]


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest (lowest generator iteration) first."""
    return _checkpoint_dirs(Path(directory), complete=True)


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The checkpoint with the highest generator iteration in ``directory``, or None."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def prune_checkpoints(directory: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` most recent checkpoints in ``directory``."""
    if keep < 1:
        raise ValueError(f"keep={keep!r} is not allowed; it must be >= 1")
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


__all__ = [
    "CheckpointError",
    "CheckpointWarning",
    "checkpoint_name",
    "clean_stale",
    "decode_state",
    "encode_state",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_latest_checkpoint",
    "prune_checkpoints",
    "save_checkpoint",
]
