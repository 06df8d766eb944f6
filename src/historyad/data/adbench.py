"""ADBench "Classical" tabular anomaly-detection sets (Han et al., NeurIPS 2022).

Each set is one ``<data dir>/adbench/<name>.npz`` (e.g. ``12_fault.npz``), copied verbatim from
the repository Minqi824/ADBench (``adbench/datasets/Classical/``, BSD 2-Clause), holding ``X``
(N, D) features and ``y`` (N,) labels with 1 = anomaly. There is no official train/test split:
every row has ``is_train = True``. The novelty protocol of this project's benchmarks is
``leave_one_class_out(ds, "anomaly", train_fraction=0.8, seed=seed)``: train on a seeded 80 %
of the normal rows, test on the other 20 % plus every anomaly (then standardise with
`historyad.protocols.standardize`, i.e. with training statistics only).
"""

from __future__ import annotations

import logging
import os
import zipfile

import numpy as np

from historyad.data.base import Dataset, check_split
from historyad.data.fetch import fetch, verify_file

logger = logging.getLogger(__name__)

CLASSES = ["normal", "anomaly"]
SOURCE = "the repository Minqi824/ADBench, adbench/datasets/Classical/<name>.npz"

# SHA-256 of the verbatim repository files, from the shared data folder's SHA256SUMS.
ADBENCH_SHA256: dict[str, str] = {
    "1_ALOI": "792d0b5bd1147bfc9574a1974f157b39fbd4cbed8ecd04cf983fd554498ed477",
    "5_campaign": "74dd4d0072d6c6f1aabab63bc102f9633454f32bb936fa9bcfbd38f9f2386bcd",
    "10_cover": "945a097c3542ae81a551bf1c06dcad78a755d94f84fcaf1d60687e42d1a656df",
    "12_fault": "ec27301f9a4cf7c5d8b22c360cf37ddb043b7fb062465723dfd8b34e2771e5dd",
    "16_http": "9d98710091551587f4740cfc851a6b064fff6319a337c2dc77ee6da4bcc2e02c",
    "17_InternetAds": "bdd8ad5cf5bf2cb96cba53dde30d522d0f6a279083a8e2bc7efbac5981b04385",
    "19_landsat": "ba17e2158c07469597b89db49d3982c874c6b713ff6670721ddc88969da77987",
    "22_magic.gamma": "0be375984d7af9ea7a63b12206c240840d8b7daa3607021c5fb8756407dd86f1",
    "24_mnist": "be7706272325fdd3592c1be555ae1a82f916a2f8545f4f8cbaa548ab102cc44c",
    "34_smtp": "d2569fc9bc12115419e3f5b37d19921e10e6c26e5ad1e61064cfb0fbc402dfdd",
    "35_SpamBase": "d0c46c7928e43f6496bcd06e09de0b70f6bc8143792dfa0a43f450263d254e9b",
    "41_Waveform": "6c9d867337ad1a2f8372c1d27f4c032f0401237e2041b7c45f00de8d319ff30f",
}

#: The twelve ADBench sets of the shared data folder (file stems, in ADBench's numbering).
ADBENCH_SETS: tuple[str, ...] = tuple(ADBENCH_SHA256)


def _check_name(name: object, param: str = "name") -> str:
    if not isinstance(name, str) or name not in ADBENCH_SHA256:
        raise ValueError(
            f"{param}={name!r} is not a known ADBench set; choose one of {list(ADBENCH_SETS)}"
        )
    return name


def load_adbench(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """The ADBench set ``<data dir>/adbench/<name>.npz`` as a table.

    Args:
        name: one of `ADBENCH_SETS`, e.g. ``"12_fault"``.
        root: folder holding ``adbench/``; default ``$HISTORYAD_DATA``, else the pooch cache.
        split: None or ``"train"`` (both give every row); ``"test"`` is refused because ADBench
            has no official split (use `historyad.protocols.leave_one_class_out`).
        download: must be False: the files have no canonical download URL.
        verify: check the file against its known SHA-256.

    Returns:
        a ``"table"`` Dataset: X (N, D) float32 (raw feature values, unscaled), y (N,) int64
        with 0 = normal and 1 = anomaly (classes ``["normal", "anomaly"]``), is_train all True,
        meta with the set name and source file.

    Raises:
        ValueError: an unknown `name`, ``split="test"``, ``download=True``, a checksum mismatch
            (when `verify`) or a file without 2-D finite ``X`` and 0/1 ``y`` of matching length.
        FileNotFoundError: the file is absent (the message names the path looked for).
    """
    _check_name(name)
    check_split(split)
    if split == "test":
        raise ValueError(
            "split='test' is not available for 'adbench': the sets have no official train/test "
            "split, so every row is loaded as is_train=True; use split=None and a protocol such "
            "as leave_one_class_out(ds, 'anomaly', train_fraction=0.8, seed=...)"
        )
    if download:
        raise ValueError(
            "download=True is not available for 'adbench': its files have no canonical URL with "
            f"a known checksum; copy {name}.npz from {SOURCE} into <data dir>/adbench/ and load "
            "with download=False"
        )
    path = fetch(
        "adbench", f"{name}.npz", root=root, download=False, verify=False,
        hint=f"Get it from {SOURCE}",
    )  # fmt: skip
    if verify:
        verify_file(path, ADBENCH_SHA256[name], label=f"adbench/{name}.npz")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{path}: not an .npz file readable without pickle: {exc}") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: holds a single array; allowed is an .npz with 'X' and 'y'")
    with loaded as npz:
        keys = sorted(npz.files)
        if "X" not in keys or "y" not in keys:
            raise ValueError(f"{path}: holds arrays {keys}; allowed is an .npz with 'X' and 'y'")
        try:
            X, y = npz["X"], npz["y"]
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise ValueError(f"{path}: X or y cannot be read without pickle: {exc}") from exc
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"{path}: X has shape {X.shape}; allowed is (N >= 1, D)")
    if y.shape != (len(X),):
        raise ValueError(f"{path}: y has shape {y.shape}; allowed is ({len(X)},) to match X")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{path}: y holds {np.unique(y)}; allowed are 0 (normal) and 1 (anomaly)")
    X = X.astype(np.float32)
    if not np.isfinite(X).all():
        raise ValueError(
            f"{path}: X holds NaN or infinite values (as float32); only finite allowed"
        )
    logger.debug("%s: %d rows × %d features, %d anomalies", path, *X.shape, int(y.sum()))
    return Dataset(
        "adbench", X, y.astype(np.int64), CLASSES, np.ones(len(X), dtype=bool), "table",
        meta={"file": str(path), "subset": name, "n_anomalies": int(y.sum())},
    )  # fmt: skip


def load_adbench_subset(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
    subset: str | None = None,
) -> Dataset:
    """Registry entry point: ``load("adbench", subset="12_fault", ...)`` → `load_adbench`.

    Raises:
        ValueError: `subset` missing or not one of `ADBENCH_SETS`; see `load_adbench` for more.
    """
    if subset is None:
        raise ValueError(
            f"dataset 'adbench' needs subset=<set name>; choose one of {list(ADBENCH_SETS)}"
        )
    _check_name(subset, "subset")
    return load_adbench(subset, root=root, split=split, download=download, verify=verify)


__all__ = ["ADBENCH_SETS", "ADBENCH_SHA256", "CLASSES", "load_adbench", "load_adbench_subset"]
