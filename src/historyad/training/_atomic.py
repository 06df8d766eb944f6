"""Atomic file writes: write a temporary file beside the target, then ``os.replace`` it into
place, so that a crash (or a full disk) never leaves a half-written ``metrics.json``,
``config.json``, ``report.md`` or model file behind: readers see the old file or the new one.

``write_atomic(path, text_or_bytes)`` for content in memory; ``with atomic_path(path) as tmp:``
for writers that take a file name (``safetensors.torch.save_file``). The temporary name is
``.<name>.tmp-<pid>-<random>`` in the target's folder; it is removed when the write fails.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

TMP_MARK = ".tmp-"


def temporary_name(path: Path) -> Path:
    """A fresh hidden temporary path beside ``path`` (same folder, so ``os.replace`` is a
    rename on one file system)."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), path.open("rb") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; when the block ends without an exception it is
    flushed to disk (``fsync=False``: left to the OS, for files rewritten often) and renamed
    onto ``path`` (replacing an existing file), else removed. The parent folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"the writer of {str(path)!r} wrote no file")
        if fsync:
            _fsync(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_atomic(path: str | Path, data: str | bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path, fsync=fsync) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return path


__all__ = ["atomic_path", "temporary_name", "write_atomic"]
