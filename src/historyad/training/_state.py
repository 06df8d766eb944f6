"""Small helpers for state dicts shared by the training modules.

Convention for checkpointable objects in :mod:`historyad.training`: ``state_dict()`` returns a
dict whose ``"tensors"`` entry is a flat ``dict[str, torch.Tensor]`` (safetensors-ready) and
whose other entries are JSON-ready metadata. :func:`save_state` / :func:`load_state` write and
read such a dict as ``<stem>.safetensors`` + ``<stem>.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from historyad.training._atomic import atomic_path, write_atomic

TENSORS_KEY = "tensors"

_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16}


def parse_dtype(name: str, *, param: str = "dtype") -> torch.dtype:
    """The torch dtype for a store dtype name ("float32" or "float16")."""
    if name not in _DTYPES:
        raise ValueError(f"{param}={name!r} is not allowed; choose one of {sorted(_DTYPES)}")
    return _DTYPES[name]


def copy_state(
    state: Mapping[str, torch.Tensor], *, float_dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies; floating tensors cast to ``float_dtype`` when given.

    Non-floating tensors (e.g. BatchNorm ``num_batches_tracked``) keep their dtype.
    """
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"state[{name!r}] is a {type(value).__name__}; state dicts must hold tensors only"
            )
        v = value.detach()
        dtype = float_dtype if (float_dtype is not None and v.is_floating_point()) else v.dtype
        out[name] = v.to(device="cpu", dtype=dtype, copy=True).contiguous()
    return out


def floats_to_float32(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """New dict: floating tensors as fresh float32 copies, others cloned."""
    return {
        name: (v.to(torch.float32, copy=True) if v.is_floating_point() else v.clone())
        for name, v in state.items()
    }


def add_prefix(prefix: str, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{prefix + key: tensor}``."""
    return {f"{prefix}{k}": v for k, v in tensors.items()}


def take_prefix(prefix: str, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The entries whose key starts with ``prefix``, with the prefix removed."""
    n = len(prefix)
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix)}


def split_state(state: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(flat tensors, JSON metadata) of a state dict following the module convention."""
    meta = {k: v for k, v in state.items() if k != TENSORS_KEY}
    return dict(state.get(TENSORS_KEY, {})), meta


def save_state(state: Mapping[str, Any], stem: str | Path) -> None:
    """Write ``<stem>.safetensors`` (the tensors) and ``<stem>.json`` (the metadata), atomically."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors, meta = split_state(state)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    st_path = stem.with_name(stem.name + ".safetensors")
    js_path = stem.with_name(stem.name + ".json")
    with atomic_path(st_path) as tmp:
        save_file(tensors, str(tmp))
    write_json_atomic(js_path, meta)


def load_state(stem: str | Path) -> dict[str, Any]:
    """Read back what :func:`save_state` wrote."""
    stem = Path(stem)
    st_path = stem.with_name(stem.name + ".safetensors")
    js_path = stem.with_name(stem.name + ".json")
    for p in (st_path, js_path):
        if not p.is_file():
            raise FileNotFoundError(f"stem={str(stem)!r}: expected file {str(p)!r} is missing")
    meta = json.loads(js_path.read_text())
    meta[TENSORS_KEY] = load_file(str(st_path))
    return meta


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a temporary file and ``os.replace`` (no fsync: the snapshot
    index is rewritten after every snapshot)."""
    write_atomic(path, json.dumps(data), fsync=False)


__all__ = [
    "TENSORS_KEY",
    "add_prefix",
    "copy_state",
    "floats_to_float32",
    "load_state",
    "parse_dtype",
    "save_state",
    "split_state",
    "take_prefix",
    "write_json_atomic",
]
