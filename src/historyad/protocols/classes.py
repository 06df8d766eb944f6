"""Class-based protocols: split a labelled `Dataset` by class or pair it with another dataset.

Each draws its training indices and its test normals and anomalies, then shares one tail
(`_draw_split`): cap the training set to `max_train`, cap the test set to `max_test` keeping the
anomaly proportion, shuffle the test set and record the parameters and sizes in the meta.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historyad.data.base import Dataset
from historyad.protocols.split import Split, check_fraction, split_sizes


def _class_index(ds: Dataset, value: int | str, param: str) -> int:
    """A class given as label index or class name → label index."""
    if isinstance(value, str):
        if value not in ds.classes:
            raise ValueError(
                f"{param}={value!r} is not a class of {ds.name!r}; choose one of {ds.classes}"
            )
        return ds.classes.index(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{param}={value!r} is not allowed; give a class index or class name")
    if not 0 <= value < len(ds.classes):
        raise ValueError(
            f"{param}={value!r} is not allowed; {ds.name!r} has classes 0..{len(ds.classes) - 1}"
        )
    return int(value)


def _check_caps(max_train: int | None, max_test: int | None) -> None:
    """Raise ValueError unless each cap is None or an integer >= 1 (max_train checked first)."""
    for name, value in (("max_train", max_train), ("max_test", max_test)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= 1 or None")


def _cap_test(
    normal: np.ndarray, anomalous: np.ndarray, max_test: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Subsample index arrays to at most `max_test` in total, keeping the anomaly proportion
    (rounded; at least one of each kind that was present). Picks are random (`rng`), order kept."""
    total = len(normal) + len(anomalous)
    if max_test is None or total <= max_test:
        return normal, anomalous
    n_anom = round(max_test * len(anomalous) / total)
    if len(anomalous):
        n_anom = min(max(n_anom, 1), max_test - (1 if len(normal) else 0))
    n_norm = max_test - n_anom
    keep_n = np.sort(rng.choice(len(normal), size=n_norm, replace=False))
    keep_a = np.sort(rng.choice(len(anomalous), size=n_anom, replace=False))
    return normal[keep_n], anomalous[keep_a]


def _assemble(
    X_normal: np.ndarray, X_anomalous: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate normal (label 0) and anomalous (label 1) test samples, shuffled by `rng`."""
    X = np.concatenate([X_normal, X_anomalous])
    y = np.concatenate([np.zeros(len(X_normal), np.int64), np.ones(len(X_anomalous), np.int64)])
    order = rng.permutation(len(X))
    return X[order], y[order]


def _draw_split(
    X_normal: np.ndarray,
    X_anomalous: np.ndarray,
    train_idx: np.ndarray,
    test_normal: np.ndarray,
    anomalous: np.ndarray,
    *,
    max_train: int | None,
    max_test: int | None,
    rng: np.random.Generator,
    name: str,
    meta: dict[str, Any],
) -> Split:
    """The Split of a class-based protocol.

    Training: rows `train_idx` of `X_normal`, the first `max_train` only. Test: rows
    `test_normal` of `X_normal` (label 0) and `anomalous` of `X_anomalous` (label 1), capped to
    `max_test` by `_cap_test`, shuffled by `rng`. The Split's meta is `meta` (the protocol's
    name and parameters, ending with seed) followed by max_train, max_test and the sizes.
    """
    if max_train is not None:
        train_idx = train_idx[:max_train]
    test_normal, anomalous = _cap_test(test_normal, anomalous, max_test, rng)
    X_test, y_test = _assemble(X_normal[test_normal], X_anomalous[anomalous], rng)
    X_train = X_normal[train_idx]
    meta = {
        **meta, "max_train": max_train, "max_test": max_test, **split_sizes(X_train, y_test)
    }  # fmt: skip
    return Split(X_train, X_test, y_test, name, meta)


def leave_one_class_out(
    ds: Dataset,
    anomaly_class: int | str,
    *,
    train_fraction: float = 0.8,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Split:
    """One class is the anomaly; the others are normal (the protocol of both papers).

    The official train and test splits are pooled. The normal samples are shuffled; the first
    ``round(train_fraction · n_normal)`` train, the rest are test normals, joined by EVERY sample
    of the anomalous class. Optional caps for quick runs: `max_train` keeps the first
    `max_train` shuffled training normals; `max_test` subsamples the test set to that size,
    keeping the anomaly proportion.
    """
    a = _class_index(ds, anomaly_class, "anomaly_class")
    check_fraction("train_fraction", train_fraction)
    _check_caps(max_train, max_test)
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(ds.y != a))
    anomalous = np.flatnonzero(ds.y == a)
    if len(anomalous) == 0:
        raise ValueError(f"anomaly_class={anomaly_class!r} has no samples in {ds.name!r}")
    n_train = round(train_fraction * len(normal))
    if not 0 < n_train < len(normal):
        raise ValueError(
            f"train_fraction={train_fraction} of {len(normal)} normal samples leaves an empty "
            "training or test part"
        )
    return _draw_split(
        ds.X, ds.X, normal[:n_train], normal[n_train:], anomalous,
        max_train=max_train, max_test=max_test, rng=rng,
        name=f"{ds.name}/leave-out-{ds.classes[a]}",
        meta={
            "protocol": "leave_one_class_out",
            "dataset": ds.name,
            "anomaly_class": a,
            "anomaly_class_name": ds.classes[a],
            "train_fraction": train_fraction,
            "seed": seed,
        },
    )  # fmt: skip


def one_class(
    ds: Dataset,
    normal_class: int | str,
    *,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Split:
    """One class is normal, on the official split.

    Train: the normal class's samples of the training split (shuffled by `seed`). Test: every
    sample of the test split, anomalous when its class is not `normal_class`. Caps as in
    `leave_one_class_out`.
    """
    k = _class_index(ds, normal_class, "normal_class")
    _check_caps(max_train, max_test)
    rng = np.random.default_rng(seed)
    train_idx = rng.permutation(np.flatnonzero(ds.is_train & (ds.y == k)))
    if len(train_idx) == 0:
        raise ValueError(
            f"normal_class={normal_class!r} has no training samples in {ds.name!r} "
            f"({int(ds.is_train.sum())} training samples in all)"
        )
    test = ~ds.is_train
    if not test.any():
        raise ValueError(
            f"{ds.name!r} has no test samples (is_train is all True); load it with split=None"
        )
    return _draw_split(
        ds.X, ds.X, train_idx, np.flatnonzero(test & (ds.y == k)),
        np.flatnonzero(test & (ds.y != k)),
        max_train=max_train, max_test=max_test, rng=rng,
        name=f"{ds.name}/one-class-{ds.classes[k]}",
        meta={
            "protocol": "one_class",
            "dataset": ds.name,
            "normal_class": k,
            "normal_class_name": ds.classes[k],
            "seed": seed,
        },
    )  # fmt: skip


def cross_dataset(
    normal_ds: Dataset,
    other_ds: Dataset,
    *,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Split:
    """Another dataset supplies the anomalies (e.g. MNIST normal, KMNIST anomalous).

    Train: `normal_ds`'s training split. Test: `normal_ds`'s test split (label 0) plus
    `other_ds`'s test split (label 1); when `other_ds` has no test samples (e.g. loaded with
    split="train", or an image folder without a split) all of it is used. Samples must share a
    shape. Caps as in `leave_one_class_out`.
    """
    if normal_ds.X.shape[1:] != other_ds.X.shape[1:]:
        raise ValueError(
            f"sample shapes differ: {normal_ds.name!r} {normal_ds.X.shape[1:]} vs "
            f"{other_ds.name!r} {other_ds.X.shape[1:]}; resize one of them"
        )
    _check_caps(max_train, max_test)
    rng = np.random.default_rng(seed)
    train_idx = rng.permutation(np.flatnonzero(normal_ds.is_train))
    test_normal = np.flatnonzero(~normal_ds.is_train)
    if len(train_idx) == 0 or len(test_normal) == 0:
        raise ValueError(
            f"normal_ds {normal_ds.name!r} needs both splits: {len(train_idx)} train and "
            f"{len(test_normal)} test samples; load it with split=None"
        )
    other_test = ~other_ds.is_train
    other_split = "test" if other_test.any() else "all"
    anomalous = np.flatnonzero(other_test) if other_test.any() else np.arange(len(other_ds))
    if len(anomalous) == 0:
        raise ValueError(f"other_ds {other_ds.name!r} is empty")
    return _draw_split(
        normal_ds.X, other_ds.X, train_idx, test_normal, anomalous,
        max_train=max_train, max_test=max_test, rng=rng,
        name=f"{normal_ds.name}-vs-{other_ds.name}",
        meta={
            "protocol": "cross_dataset",
            "dataset": normal_ds.name,
            "other_dataset": other_ds.name,
            "other_split": other_split,
            "seed": seed,
        },
    )  # fmt: skip


__all__ = ["cross_dataset", "leave_one_class_out", "one_class"]
