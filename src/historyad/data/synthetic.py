"""Small in-memory datasets: sklearn's 8×8 digits and the synthetic toys `toy-1d` and `ring-2d`.

None needs files. The toys are drawn from ``numpy.random.default_rng(seed)``, so the same seed
gives the same samples; all their samples are marked as training samples (draw a test set with
another seed).
"""

from __future__ import annotations

import logging
import math
import os

import numpy as np

from historyad.data.base import Dataset, check_int, check_split

logger = logging.getLogger(__name__)

DIGITS_TRAIN_FRACTION = 0.75


def _train_only(name: str, split: str | None) -> None:
    check_split(split)
    if split == "test":
        raise ValueError(
            f"split='test' is not available for {name!r}: every sample is a training sample; "
            "draw a test set with another seed"
        )


def load_digits(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """sklearn's 1797 handwritten digits as images (N, 1, 8, 8) in [-1, 1] (values 0..16 / 8 - 1).

    Split (deterministic, no randomness): within each class, the first 75 % of its samples in
    file order (``ceil``) are training samples and the rest test samples.
    """
    del root, download, verify  # bundled with scikit-learn
    check_split(split)
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)  # (1797, 8, 8), 0..16
    y = np.asarray(bunch.target, dtype=np.int64)
    is_train = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        is_train[idx[: math.ceil(DIGITS_TRAIN_FRACTION * len(idx))]] = True
    X = (images / 8.0 - 1.0)[:, None]
    ds = Dataset("digits", X, y, [str(d) for d in range(10)], is_train, "image")
    return ds.split(split)


def load_toy_1d(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
    size: int = 10000,
    seed: int = 0,
) -> Dataset:
    """`size` samples of N(0, 1) as a table (size, 1); one class."""
    del root, download, verify
    _train_only("toy-1d", split)
    size = check_int("size", size, 1)
    X = np.random.default_rng(seed).standard_normal((size, 1))
    return Dataset(
        "toy-1d", X, np.zeros(size), ["normal"], np.ones(size, dtype=bool), "table",
        meta={"seed": seed},
    )  # fmt: skip


def ring_centres(n_modes: int = 7, radius: float = 1.0) -> np.ndarray:
    """The (n_modes, 2) mode centres at angles 2πk/n_modes on a circle of `radius`."""
    angles = 2.0 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def load_ring_2d(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
    size: int = 7000,
    std: float = 0.1,
    n_modes: int = 7,
    radius: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """A ring of `n_modes` gaussians (std `std`) on the unit circle: a table (size, 2).

    Modes are balanced (sample i belongs to mode i mod n_modes, then the order is shuffled);
    the label is the mode index.
    """
    del root, download, verify
    _train_only("ring-2d", split)
    size = check_int("size", size, 1)
    n_modes = check_int("n_modes", n_modes, 1)
    if not std > 0:
        raise ValueError(f"std={std!r} is not allowed; it must be > 0")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(size) % n_modes)
    X = ring_centres(n_modes, radius)[y] + std * rng.standard_normal((size, 2))
    return Dataset(
        "ring-2d", X, y, [f"mode{k}" for k in range(n_modes)], np.ones(size, dtype=bool),
        "table", meta={"seed": seed, "std": std, "n_modes": n_modes, "radius": radius},
    )  # fmt: skip


__all__ = ["load_digits", "load_ring_2d", "load_toy_1d", "ring_centres"]
