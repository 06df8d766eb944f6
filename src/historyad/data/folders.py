"""Image-folder datasets (CelebA, Tiny ImageNet): every .jpg/.jpeg/.png below ``<dir>/<name>/``.

Images are read grey or colour as found (``channels=None``: one channel when every image of
the folder is grey, else three, grey images then repeated; RGBA/LA lose their alpha) or as
``channels`` 1 or 3 asks, centre-cropped to a square and resized to ``size``×``size``
(bilinear, anti-aliased) with Pillow, then scaled to [-1, 1] by ``pixels_to_unit`` (0 ↦ -1,
the dtype's maximum ↦ 1: 255 for 8-bit images, 65535 for 16-bit grey PNGs). The same two
functions read the images of ``historyad fit --input FOLDER`` and ``score``
(``historyad.data.files``).

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

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from historyad.data.base import Dataset, check_split, preset
from historyad.data.fetch import MANUAL_SOURCES, dataset_dir

logger = logging.getLogger(__name__)

SUFFIXES = (".jpg", ".jpeg", ".png")
TRAIN_DIRS = ("train",)
TEST_DIRS = ("val", "valid", "test")
_STRUCTURAL = {"images", *TRAIN_DIRS, *TEST_DIRS}


def list_images(directory: Path) -> list[Path]:
    """Every image file below `directory` (case-insensitive suffix), sorted."""
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
_WIDE_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")


def image_info(path: Path) -> tuple[tuple[int, int], bool]:
    """((width, height), grey) of an image, from its header (palette images: from the
    palette's colours)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.mode == "P":
                rgb = np.asarray(img.convert("RGB"))
                grey = bool((rgb == rgb[..., :1]).all())
            else:
                grey = img.mode in _GREY_MODES
            return img.size, grey
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable image: {exc}") from exc


def read_image(path: Path, size: int | None, *, channels: int = 3) -> np.ndarray:
    """One image as (channels, H, W): uint8, or uint16 for 16-bit grey images; grey (1) or
    RGB (3); with ``size``, centre-cropped to a square and resized to size×size first."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if channels not in (1, 3):
        raise ValueError(f"channels={channels!r} is not allowed; use 1 (grey) or 3 (colour)")
    try:
        with Image.open(path) as img:
            wide = img.mode in _WIDE_MODES
            if wide:  # 16-bit grey: resampled as 32-bit floats, kept 16-bit
                img = img.convert("I").convert("F")
            else:
                img = img.convert("L" if channels == 1 else "RGB")
            if size is not None:
                img = ImageOps.fit(img, (size, size), method=Image.Resampling.BILINEAR)
            arr = np.asarray(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable image: {exc}") from exc
    if wide:
        arr = np.clip(np.rint(arr), 0, 65535).astype(np.uint16)
        arr = np.repeat(arr[None], channels, axis=0)
        return arr
    arr = arr.astype(np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def pixels_to_unit(pixels: np.ndarray) -> np.ndarray:
    """Unsigned-integer pixels (any shape) → float32 in [-1, 1]: 0 ↦ -1, the dtype's maximum
    (255 for uint8, 65535 for uint16) ↦ 1. The one scaling of image files, for fit and
    score alike."""
    if not np.issubdtype(pixels.dtype, np.unsignedinteger):
        raise ValueError(f"pixels have dtype {pixels.dtype}; expected uint8 or uint16")
    top = float(np.iinfo(pixels.dtype).max)
    out = pixels.astype(np.float32)
    out *= 2.0 / top
    out -= 1.0
    return out


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
    channels: int | None = None,
) -> Dataset:
    """Load an image folder as (N, C, size, size) in [-1, 1].

    Args:
        name: the dataset name, also the folder name below the data folder.
        by_class: label images by class folder (Tiny ImageNet) instead of a single class.
        download, verify: the registry's loader keywords, ignored: image folders are not
            downloadable (the missing-folder error says where to get them) and have no known
            checksums.
        size: output side length in pixels.
        limit: keep at most this many images: a fixed random subset (seed 0) of the sorted
            file list, chosen before decoding, for quick runs.
        channels: 1 (grey) or 3 (colour); None: as found (1 when every kept image is grey,
            else 3).
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
    if channels is None:
        channels = 1 if all(image_info(p)[1] for p, _, _ in entries) else 3
    images = np.stack([pixels_to_unit(read_image(p, size, channels=channels))
                       for p, _, _ in entries])
    is_train_arr = np.array([t for _, t, _ in entries], dtype=bool)
    return Dataset(
        name, images, y, classes, is_train_arr, "image",
        meta={"folder": str(directory), "size": size, "channels": channels},
    )  # fmt: skip


load_celeba = preset(
    load_image_folder, "celeba", False,
    doc="CelebA faces below ``<dir>/celeba/`` (e.g. img_align_celeba/*.jpg): (N, 3, 32, 32) for "
    "colour images, one class.",
)  # fmt: skip
load_tiny_imagenet = preset(
    load_image_folder, "tiny-imagenet", True,
    doc="Tiny ImageNet from ``<dir>/tiny-imagenet/``, labelled by wnid folder, (N, 3, 32, 32).",
)  # fmt: skip


__all__ = [
    "SUFFIXES",
    "image_info",
    "list_images",
    "load_celeba",
    "load_image_folder",
    "load_tiny_imagenet",
    "pixels_to_unit",
    "read_image",
    "read_image_folder",
]


def read_image_folder(folder: str | os.PathLike[str], spec: Any = None) -> Any:
    """``historyad fit/score --input FOLDER``: every image below ``folder`` as a
    ``data.files.FileData`` (N, C, H, W) float32 in [-1, 1], read as ``spec`` (an
    ``InputSpec``) says; ids are the paths relative to the folder (sorted). Channels: grey
    when every image is grey, else RGB, or ``spec.channels``; size: as found (all equal) or
    ``spec.size`` (crop to a square, resize).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: no image in it, an unreadable image, images of different sizes without
            ``size``, or a size other than the fitted one (``spec.image_shape``).
    """
    from historyad.data.files import FileData, InputSpec  # data.files imports this module

    folder = Path(folder)
    spec = dataclasses.replace(spec) if spec is not None else InputSpec(kind="images")
    if not folder.exists():
        raise FileNotFoundError(f"--input {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file; an image folder is a directory")
    paths = list_images(folder)
    if not paths:
        raise ValueError(f"{folder}: no .png/.jpg/.jpeg image below it (any depth)")
    infos = [image_info(p) for p in paths]
    channels = spec.channels
    if channels is None:
        channels = 1 if all(grey for _, grey in infos) else 3
    if spec.size is None:
        sizes = {wh for wh, _ in infos}
        if len(sizes) > 1:
            by = {}
            for p, (wh, _) in zip(paths, infos, strict=True):
                by.setdefault(wh, p)
            examples = ", ".join(f"{p.relative_to(folder)} {w}×{h}"
                                 for (w, h), p in list(by.items())[:3])
            raise ValueError(f"{folder}: images of different sizes ({examples}); pass --size N "
                             "to crop and resize them all to N×N")
        w, h = sizes.pop()
        if spec.image_shape is not None and [h, w] != list(spec.image_shape):
            raise ValueError(
                f"{folder}: images are {w}×{h}, but the model was fitted on "
                f"{spec.image_shape[1]}×{spec.image_shape[0]}; resize them, or fit with --size"
            )
        spec.image_shape = [h, w]
    else:
        spec.image_shape = [spec.size, spec.size]
    spec.channels = channels
    X = np.stack([pixels_to_unit(read_image(p, spec.size, channels=channels))
                  for p in paths])
    ids = [p.relative_to(folder).as_posix() for p in paths]
    return FileData(X, ids, None, spec, str(folder))
