"""Image-folder datasets (CelebA, Tiny ImageNet): every .jpg/.jpeg/.png below ``<dir>/<name>/``.

Images are converted to RGB, centre-cropped to a square and resized to ``size``×``size``
(bilinear, anti-aliased) with Pillow, then scaled to [-1, 1].

Splits: a path component ``train`` marks the official training split and ``val``, ``valid`` or
``test`` the test split. CelebA's ``list_eval_partition.txt`` (``<file> <0|1|2>``), when present,
decides instead: partitions 0 (train) and 1 (validation) are training, 2 is test. Images with
neither marker count as training. Tiny ImageNet's ``test/`` folder has no labels and is skipped,
so its ``val/`` images form the test split.

Labels: CelebA has one class (label 0). Tiny ImageNet uses the class folder name (a WordNet id,
e.g. ``train/n01443537/images/*.JPEG``) and ``val/val_annotations.txt``; images with no class
folder get label 0 of a single class named after the dataset.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from historyad.data.base import Dataset, check_split, images_to_unit, preset
from historyad.data.fetch import MANUAL_SOURCES, dataset_dir

logger = logging.getLogger(__name__)

SUFFIXES = (".jpg", ".jpeg", ".png")
TRAIN_DIRS = ("train",)
TEST_DIRS = ("val", "valid", "test")
_STRUCTURAL = {"images", *TRAIN_DIRS, *TEST_DIRS}


def list_images(directory: Path) -> list[Path]:
    """Every image file below `directory` (case-insensitive suffix), sorted."""
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def read_image(path: Path, size: int) -> np.ndarray:
    """One image as uint8 (3, size, size): RGB, centre-cropped to a square, resized."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            img = ImageOps.fit(img, (size, size), method=Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable image: {exc}") from exc
    return arr.transpose(2, 0, 1)


def _read_partition(directory: Path) -> dict[str, int] | None:
    for candidate in (
        directory / "list_eval_partition.txt",
        directory / "Eval" / "list_eval_partition.txt",
    ):
        if candidate.is_file():
            table: dict[str, int] = {}
            for n, line in enumerate(candidate.read_text().splitlines(), 1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                    raise ValueError(
                        f"{candidate}:{n}: expected '<file> <0|1|2>', got {line!r}"
                    )
                table[fields[0]] = int(fields[1])
            return table
    return None


def _read_val_annotations(directory: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    for path in directory.rglob("val_annotations.txt"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 2:
                table[fields[0]] = fields[1]
    return table


def _split_of(rel: Path, partition: dict[str, int] | None) -> bool | None:
    """True for train, False for test, None when the image is skipped (unlabelled test)."""
    if partition is not None and rel.name in partition:
        return partition[rel.name] != 2
    parts = [p.lower() for p in rel.parts[:-1]]
    for p in parts:
        if p in TRAIN_DIRS:
            return True
        if p in TEST_DIRS:
            return False
    return True


def _class_of(rel: Path, annotations: dict[str, str]) -> str | None:
    """The class folder of an image: the last non-structural folder after the split folder."""
    if rel.name in annotations:
        return annotations[rel.name]
    folders = list(rel.parts[:-1])
    for i, p in enumerate(folders):
        if p.lower() in (*TRAIN_DIRS, *TEST_DIRS):
            folders = folders[i + 1 :]
            break
    folders = [p for p in folders if p.lower() not in _STRUCTURAL]
    return folders[-1] if folders else None


def load_image_folder(
    name: str,
    by_class: bool = False,
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
    size: int = 32,
    limit: int | None = None,
) -> Dataset:
    """Load an image folder as (N, 3, size, size) in [-1, 1].

    Args:
        name: the dataset name, also the folder name below the data folder.
        by_class: label images by class folder (Tiny ImageNet) instead of a single class.
        download, verify: the registry's loader keywords, ignored: image folders are not
            downloadable (the missing-folder error says where to get them) and have no known
            checksums.
        size: output side length in pixels.
        limit: keep at most this many images: a fixed random subset (seed 0) of the sorted
            file list, chosen before decoding, for quick runs.
    """
    del download, verify
    check_split(split)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size={size!r} is not allowed; it must be an integer >= 1")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit={limit!r} is not allowed; it must be an integer >= 1 or None")
    directory = dataset_dir(name, root)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"image folder of dataset {name!r} not found: looked for {directory}. Put the images "
            f"(.jpg/.png, any depth) there, pass root=<folder holding {name}/>, or set the "
            f"HISTORYAD_DATA environment variable. download=True is not available for {name!r}; "
            f"get it from {MANUAL_SOURCES.get(name, 'its publisher')}"
        )
    partition = _read_partition(directory)
    annotations = _read_val_annotations(directory) if by_class else {}
    entries: list[tuple[Path, bool, str | None]] = []
    skipped = 0
    for path in list_images(directory):
        rel = path.relative_to(directory)
        is_train = _split_of(rel, partition)
        if by_class and "test" in (p.lower() for p in rel.parts[:-1]) and partition is None:
            is_train = None  # Tiny ImageNet test/ images are unlabelled
        if is_train is None:
            skipped += 1
            continue
        entries.append((path, is_train, _class_of(rel, annotations) if by_class else None))
    if skipped:
        logger.info("%s: skipped %d unlabelled test images", name, skipped)
    # Classes come from every labelled image, so label indices agree across splits.
    labels_text = [c for _, _, c in entries]
    if by_class and entries and all(c is not None for c in labels_text):
        classes = sorted({c for c in labels_text if c is not None})
    else:
        if by_class:
            logger.info("%s: images are not all in class folders; using one class", name)
        classes = [name]
        entries = [(p, t, None) for p, t, _ in entries]
    if split is not None:
        entries = [e for e in entries if e[1] == (split == "train")]
    if not entries:
        raise FileNotFoundError(
            f"no .jpg/.jpeg/.png images for split={split!r} below {directory} (dataset {name!r})"
        )
    if limit is not None and limit < len(entries):
        keep = np.sort(np.random.default_rng(0).choice(len(entries), size=limit, replace=False))
        entries = [entries[i] for i in keep]
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] if c is not None else 0 for _, _, c in entries], dtype=np.int64)
    images = np.stack([read_image(p, size) for p, _, _ in entries])
    is_train_arr = np.array([t for _, t, _ in entries], dtype=bool)
    return Dataset(
        name, images_to_unit(images), y, classes, is_train_arr, "image",
        meta={"folder": str(directory), "size": size},
    )  # fmt: skip


load_celeba = preset(
    load_image_folder, "celeba", False,
    doc="CelebA faces below ``<dir>/celeba/`` (e.g. img_align_celeba/*.jpg): (N, 3, 32, 32), one "
    "class.",
)  # fmt: skip
load_tiny_imagenet = preset(
    load_image_folder, "tiny-imagenet", True,
    doc="Tiny ImageNet from ``<dir>/tiny-imagenet/``, labelled by wnid folder, (N, 3, 32, 32).",
)  # fmt: skip


__all__ = [
    "SUFFIXES",
    "list_images",
    "load_celeba",
    "load_image_folder",
    "load_tiny_imagenet",
    "read_image",
]
