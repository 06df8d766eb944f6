"""SVHN cropped digits: ``train_32x32.mat`` / ``test_32x32.mat`` (MATLAB v5, read with scipy).

Each file holds ``X`` (32, 32, 3, N) uint8 and ``y`` (N, 1) with labels 1..10, where 10 is the
digit 0; labels are mapped to 0..9 (10 → 0).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from historyad.data.base import Dataset, concat_parts, images_to_unit, splits_for
from historyad.data.fetch import fetch

logger = logging.getLogger(__name__)

CLASSES = [str(d) for d in range(10)]
FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def read_svhn_mat(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse one SVHN .mat file into uint8 images (N, 3, 32, 32) and labels (N,) in 0..9."""
    import scipy.io

    path = Path(path)
    try:
        content = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise ValueError(f"{path}: not a readable MATLAB .mat file: {exc}") from exc
    if "X" not in content or "y" not in content:
        keys = sorted(k for k in content if not k.startswith("__"))
        raise ValueError(f"{path}: needs variables 'X' and 'y'; found {keys}")
    X, y = np.asarray(content["X"]), np.asarray(content["y"])
    if X.ndim != 4 or X.shape[:3] != (32, 32, 3):
        raise ValueError(f"{path}: X has shape {X.shape}; allowed is (32, 32, 3, N)")
    if X.dtype != np.uint8:
        raise ValueError(f"{path}: X has dtype {X.dtype}; allowed is uint8")
    y = y.reshape(-1)
    if y.shape[0] != X.shape[3]:
        raise ValueError(f"{path}: {X.shape[3]} images but {y.shape[0]} labels; they must agree")
    if y.size and (not np.issubdtype(y.dtype, np.number) or y.min() < 1 or y.max() > 10):
        raise ValueError(f"{path}: labels must lie in 1..10 (10 = digit 0); found {y.dtype} values")
    labels = (y.astype(np.int64)) % 10
    images = np.ascontiguousarray(X.transpose(3, 2, 0, 1))
    return images, labels


def load_svhn(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """SVHN: 73257 train + 26032 test RGB images (N, 3, 32, 32) in [-1, 1], labels 0..9."""
    parts, sources = [], []
    for part in splits_for(split):
        path = fetch("svhn", FILES[part], root=root, download=download, verify=verify)
        images, labels = read_svhn_mat(path)
        parts.append((images_to_unit(images), labels, part == "train"))
        sources.append(str(path))
    X, y, is_train = concat_parts(parts)
    return Dataset("svhn", X, y, CLASSES, is_train, "image", meta={"files": sources})


__all__ = ["CLASSES", "FILES", "load_svhn", "read_svhn_mat"]
