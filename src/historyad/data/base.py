"""The `Dataset` and `Recording` containers and helpers shared by every loader."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

logger = logging.getLogger(__name__)

Kind = Literal["image", "series", "table"]
SplitName = Literal["train", "test"]
KINDS: tuple[str, ...] = ("image", "series", "table")
SPLITS: tuple[str, ...] = ("train", "test")
_NDIM = {"image": 4, "series": 3, "table": 2}


@dataclass
class Dataset:
    """A labelled dataset in memory.

    Attributes:
        name: registry name, e.g. ``"mnist"``.
        X: float32 samples; images (N, C, H, W) in [-1, 1], series (N, C, T), tables (N, D).
        y: int64 labels (N,), each an index into `classes`.
        classes: class names; ``classes[k]`` names label k.
        is_train: bool (N,), True for samples of the official training split.
        kind: ``"image"``, ``"series"`` or ``"table"``.
        meta: free-form provenance (source files, window parameters, ...).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    is_train: np.ndarray
    kind: Kind
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is not allowed; choose one of {list(KINDS)}")
        self.X = np.asarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.is_train = np.asarray(self.is_train, dtype=bool)
        self.classes = [str(c) for c in self.classes]
        if self.X.ndim != _NDIM[self.kind]:
            raise ValueError(
                f"X has shape {self.X.shape}; a {self.kind!r} dataset needs "
                f"{_NDIM[self.kind]} dimensions"
            )
        n = len(self.X)
        if self.y.shape != (n,) or self.is_train.shape != (n,):
            raise ValueError(
                f"y {self.y.shape} and is_train {self.is_train.shape} must both have shape ({n},) "
                f"to match X {self.X.shape}"
            )
        if n and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise ValueError(
                f"labels y span {int(self.y.min())}..{int(self.y.max())}; allowed are "
                f"0..{len(self.classes) - 1} (one per class of {self.classes})"
            )

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, kind={self.kind!r}, X={self.X.shape}, "
            f"n_train={int(self.is_train.sum())}, n_test={int((~self.is_train).sum())}, "
            f"classes={len(self.classes)})"
        )

    def subset(self, index: np.ndarray | Sequence[int]) -> Dataset:
        """The samples at `index` (integer indices or a boolean mask (N,)), as a new Dataset."""
        idx = np.asarray(index)
        return Dataset(
            name=self.name,
            X=self.X[idx],
            y=self.y[idx],
            classes=list(self.classes),
            is_train=self.is_train[idx],
            kind=self.kind,
            meta=dict(self.meta),
        )

    def split(self, split: str | None) -> Dataset:
        """The official ``"train"`` or ``"test"`` part; ``None`` returns self."""
        check_split(split)
        if split is None:
            return self
        return self.subset(self.is_train if split == "train" else ~self.is_train)


@dataclass
class Recording:
    """A raw recording: X (T, C) float32 (C = 9 for Daphnet), labels (T,) int64 0/1, channel
    names, the source file and optional timestamps (T,) (e.g. datetime64 for SKAB; None when
    the reader keeps none)."""

    X: np.ndarray
    labels: np.ndarray
    channels: list[str]
    source: str
    timestamps: np.ndarray | None = None


def check_int(name: str, value: object, minimum: int) -> int:
    """`value` as an int; ValueError naming `name` unless it is an integer (Python or numpy,
    not bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= {minimum}")
    return int(value)


def check_split(split: str | None) -> None:
    """Raise ValueError unless `split` is ``"train"``, ``"test"`` or None."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split={split!r} is not allowed; choose 'train', 'test' or None (both)")


def splits_for(split: str | None) -> tuple[SplitName, ...]:
    """The official splits to read for a `split` argument: None means both."""
    check_split(split)
    if split is None:
        return ("train", "test")
    return (split,)  # type: ignore[return-value]


def preset(loader: Callable[..., Dataset], *args: object, doc: str) -> Callable[..., Dataset]:
    """`loader` with its leading positional arguments (e.g. the dataset name) fixed, documented
    by `doc`: a registry loader taking the same keywords (root, split, download, verify, ...)."""
    bound = functools.partial(loader, *args)
    bound.__doc__ = doc
    return bound


def images_to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 images (any shape) → float32 in [-1, 1]: 0 ↦ -1, 255 ↦ 1."""
    out = images.astype(np.float32)
    out /= 127.5
    out -= 1.0
    return out


def concat_parts(
    parts: Sequence[tuple[np.ndarray, np.ndarray, bool]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join (X, y, is_train) parts of one dataset, in order, into X, y and the is_train mask."""
    xs = [p[0] for p in parts]
    ys = [np.asarray(p[1], dtype=np.int64) for p in parts]
    masks = [np.full(len(p[0]), p[2], dtype=bool) for p in parts]
    X = xs[0] if len(xs) == 1 else np.concatenate(xs)
    return X, np.concatenate(ys), np.concatenate(masks)


def sliding_windows(
    series: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    window: int,
    stride: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a recording into overlapping windows.

    Args:
        series: (T, C) recording.
        labels: (T,) per-step 0/1 anomaly labels, or None (all normal).
        window: window length in steps (>= 1, <= T).
        stride: step between window starts (>= 1).

    Returns:
        windows (N, C, window) float32 and their labels (N,) int64: 1 when any step is anomalous.
        N = (T - window) // stride + 1; a tail shorter than a stride is dropped.
    """
    series = np.asarray(series)
    if series.ndim != 2:
        raise ValueError(f"series has shape {series.shape}; allowed is (T, C)")
    n_steps = series.shape[0]
    check_int("window", window, 1)
    check_int("stride", stride, 1)
    if window > n_steps:
        raise ValueError(
            f"window={window} is not allowed for a recording of {n_steps} steps; it must be <= "
            f"{n_steps}"
        )
    if labels is None:
        labels = np.zeros(n_steps, dtype=np.int64)
    labels = np.asarray(labels)
    if labels.shape != (n_steps,):
        raise ValueError(
            f"labels has shape {labels.shape}; allowed is ({n_steps},) to match series"
        )
    starts = np.arange(0, n_steps - window + 1, stride)
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)  # (T-w+1, C, w)
    X = np.ascontiguousarray(view[starts], dtype=np.float32)
    lab_view = np.lib.stride_tricks.sliding_window_view(labels != 0, window)
    y = lab_view[starts].any(axis=1).astype(np.int64)
    return X, y


__all__ = [
    "KINDS",
    "SPLITS",
    "Dataset",
    "Kind",
    "Recording",
    "SplitName",
    "check_int",
    "check_split",
    "concat_parts",
    "images_to_unit",
    "preset",
    "sliding_windows",
    "splits_for",
]
