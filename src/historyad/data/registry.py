"""The dataset registry: `load` by name, `available` names and `DATASETS` metadata."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from historyad.data import adbench, cifar, daphnet, folders, har, idx, svhn, synthetic, ucr
from historyad.data.base import Dataset, Kind, check_split
from historyad.data.fetch import is_downloadable

logger = logging.getLogger(__name__)

_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@dataclass(frozen=True)
class DatasetInfo:
    """Registry entry: the kind of samples, files expected in ``<data dir>/<name>/``, whether
    ``download=True`` can fetch them, and the loader."""

    name: str
    kind: Kind
    files: tuple[str, ...]
    downloadable: bool
    description: str
    loader: Callable[..., Dataset]


def _info(
    name: str, kind: Kind, files: tuple[str, ...], description: str, loader: Callable[..., Dataset]
) -> DatasetInfo:
    return DatasetInfo(name, kind, files, is_downloadable(name), description, loader)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _info("mnist", "image", _IDX_FILES, "MNIST digits, 60000+10000, 1×28×28", idx.load_mnist),
        _info(
            "fashion-mnist", "image", _IDX_FILES, "Fashion-MNIST, 60000+10000, 1×28×28",
            idx.load_fashion_mnist,
        ),
        _info(
            "kmnist", "image", _IDX_FILES,
            "Kuzushiji-MNIST, 60000+10000, 1×28×28 (IDX .gz or kmnist-*-imgs/labels.npz)",
            idx.load_kmnist,
        ),
        _info(
            "svhn", "image", tuple(svhn.FILES.values()), "SVHN digits, 73257+26032, 3×32×32",
            svhn.load_svhn,
        ),
        _info(
            "cifar10", "image", (cifar.TARBALL,), "CIFAR-10, 50000+10000, 3×32×32",
            cifar.load_cifar10,
        ),
        _info(
            "celeba", "image", ("**/*.jpg|*.png",), "CelebA faces, resized to 3×32×32, one class",
            folders.load_celeba,
        ),
        _info(
            "tiny-imagenet", "image", ("**/*.JPEG|*.jpg|*.png",),
            "Tiny ImageNet, resized to 3×32×32, classes = wnid folders",
            folders.load_tiny_imagenet,
        ),
        _info(
            "uci-har", "series",
            (f"{har.FOLDER}/{{train,test}}/Inertial Signals/*_{{train,test}}.txt",),
            "UCI HAR inertial signals, 7352+2947, 9×128, 6 activities", har.load_uci_har,
        ),
        _info(
            "basicmotions", "series", ("BasicMotions_TRAIN.ts", "BasicMotions_TEST.ts"),
            "BasicMotions (UEA), 40+40, 6×100, 4 activities", ucr.load_basicmotions,
        ),
        _info(
            "daphnet", "series", ("S06R02E0.csv",),
            "Daphnet freezing of gait, sliding windows 9×window, y = any anomalous step",
            daphnet.load_daphnet,
        ),
        _info(
            "adbench", "table", ("*.npz",),
            "ADBench classical tabular sets, (N, D), y = 1 anomaly; subset=<set name> required",
            adbench.load_adbench_subset,
        ),
        _info(
            "digits", "image", (), "scikit-learn 8×8 digits, 1797, 1×8×8 (bundled)",
            synthetic.load_digits,
        ),
        _info("toy-1d", "table", (), "synthetic N(0, 1) samples, (size, 1)", synthetic.load_toy_1d),
        _info(
            "ring-2d", "table", (), "synthetic ring of 7 gaussians on the unit circle, (size, 2)",
            synthetic.load_ring_2d,
        ),
    )
}  # fmt: skip

_COMMON = ("root", "split", "download", "verify")


def available() -> list[str]:
    """The registered dataset names."""
    return list(DATASETS)


def load(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
    **params: object,
) -> Dataset:
    """Load dataset `name`.

    Args:
        name: one of `available()`.
        root: folder holding ``<name>/``; default ``$HISTORYAD_DATA``, else the pooch cache.
        split: ``"train"``, ``"test"`` or None for both pooled (``is_train`` tells which).
        download: fetch missing canonical files (SHA-256 checked); off by default.
        verify: check local files against their known SHA-256.
        **params: dataset-specific options, e.g. ``window``/``stride`` (daphnet),
            ``size``/``seed`` (toys), ``size``/``limit`` (image folders), ``subset`` (adbench:
            the set name, e.g. ``"12_fault"``; required).

    Returns:
        a `Dataset`: X float32 (images (N, C, H, W) in [-1, 1], series (N, C, T), tables (N, D)).
    """
    if name not in DATASETS:
        raise ValueError(f"name={name!r} is not a known dataset; choose one of {available()}")
    check_split(split)
    loader = DATASETS[name].loader
    allowed = [p for p in inspect.signature(loader).parameters if p not in _COMMON]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for dataset {name!r}; allowed: {allowed or 'none'}"
        )
    ds = loader(root=root, split=split, download=download, verify=verify, **params)
    logger.info("loaded %r", ds)
    return ds


__all__ = ["DATASETS", "DatasetInfo", "available", "load"]
