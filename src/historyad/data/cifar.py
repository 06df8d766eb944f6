"""CIFAR-10 from the python tarball ``cifar-10-python.tar.gz``.

The tarball holds ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``: pickled
dicts with ``data`` (N, 3072) uint8 (R, G, B planes of 32×32), ``labels`` and ``label_names``.

Security: unpickling can run arbitrary code, since a pickle names callables to import. The
CIFAR batches hold only builtins (dict, list, str, bytes, int) and numpy arrays, so
`RestrictedUnpickler` resolves exactly the three globals a numpy array needs
(``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``; ``numpy._core`` is
the numpy ≥ 2 spelling of the same module) and refuses every other global. The members are read
in memory, never extracted to disk.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from historyad.data.base import Dataset, concat_parts, images_to_unit, splits_for
from historyad.data.fetch import fetch

logger = logging.getLogger(__name__)

TARBALL = "cifar-10-python.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
META = "batches.meta"
CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only builtins and numpy arrays; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        """Resolve only the numpy array globals listed in `_ALLOWED`."""
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is refused: CIFAR batches need only "
                f"{sorted(f'{m}.{n}' for m, n in _ALLOWED)}"
            ) from None


def _text(value: Any) -> Any:
    return value.decode("latin1") if isinstance(value, bytes) else value


def restricted_loads(data: bytes, *, source: str) -> dict[str, Any]:
    """Unpickle a CIFAR batch dict with `RestrictedUnpickler`; keys are returned as str."""
    try:
        # latin1: the batches are Python 2 pickles; numpy recommends latin1 for their arrays.
        obj = RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:
        raise ValueError(f"{source}: not a valid CIFAR pickle: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{source}: unpickled a {type(obj).__name__}; expected a dict")
    return {_text(k): v for k, v in obj.items()}


def _parse_batch(batch: dict[str, Any], source: str) -> tuple[np.ndarray, np.ndarray]:
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{source}: needs keys 'data' and 'labels'; found {sorted(batch)}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(f"{source}: 'data' must be a uint8 array (N, 3072); got {type(data)}")
    if data.shape[1] != 3072:
        raise ValueError(f"{source}: 'data' has shape {data.shape}; allowed is (N, 3072)")
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: 'labels' are not integers: {exc}") from exc
    if len(labels) != len(data):
        raise ValueError(f"{source}: {len(data)} images but {len(labels)} labels; they must agree")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{source}: labels span {labels.min()}..{labels.max()}; allowed 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar_tarball(
    path: str | os.PathLike[str], *, split: str | None = None
) -> tuple[list[tuple[np.ndarray, np.ndarray, bool]], list[str]]:
    """Read the batches of `split` from the tarball: [(images (N, 3, 32, 32) uint8, labels,
    is_train)] and the class names."""
    path = Path(path)
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable tar archive: {exc}") from exc
    with tar:
        try:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ValueError(f"{path}: corrupt tar archive: {exc}") from exc

        def read(member: str) -> dict[str, Any]:
            if member not in members:
                raise ValueError(f"{path}: member {member!r} is missing; found {sorted(members)}")
            try:
                fh = tar.extractfile(members[member])
                if fh is None:
                    raise OSError("not a regular file")
                raw = fh.read()
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise ValueError(f"{path}: member {member!r} is unreadable: {exc}") from exc
            return restricted_loads(raw, source=f"{path}:{member}")

        classes = list(CLASSES)
        if META in members:
            names = read(META).get("label_names")
            if names is not None:
                classes = [str(_text(n)) for n in names]
                if len(classes) != 10:
                    raise ValueError(f"{path}:{META}: {len(classes)} label_names; expected 10")
        parts = []
        for part in splits_for(split):
            for member in TRAIN_BATCHES if part == "train" else TEST_BATCHES:
                images, labels = _parse_batch(read(member), f"{path}:{member}")
                parts.append((images, labels, part == "train"))
    return parts, classes


def load_cifar10(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """CIFAR-10: 50000 train + 10000 test RGB images (N, 3, 32, 32) in [-1, 1]."""
    path = fetch("cifar10", TARBALL, root=root, download=download, verify=verify)
    parts, classes = read_cifar_tarball(path, split=split)
    X, y, is_train = concat_parts([(images_to_unit(x), lab, tr) for x, lab, tr in parts])
    return Dataset("cifar10", X, y, classes, is_train, "image", meta={"files": [str(path)]})


__all__ = [
    "CLASSES",
    "TARBALL",
    "RestrictedUnpickler",
    "load_cifar10",
    "read_cifar_tarball",
    "restricted_loads",
]
