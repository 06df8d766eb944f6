"""IDX files (MNIST, Fashion-MNIST, KMNIST) and the KMNIST .npz distribution.

IDX layout (big-endian): two zero bytes, a type code (0x08 ubyte ... 0x0E float64), the number
of dimensions, one int32 per dimension, then the values. MNIST-style images carry magic 2051
(ubyte, 3 dims) and labels magic 2049 (ubyte, 1 dim). Files may be gzipped.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from pathlib import Path

import numpy as np

from historyad.data.base import Dataset, concat_parts, images_to_unit, preset, splits_for
from historyad.data.fetch import dataset_dir, fetch

logger = logging.getLogger(__name__)

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}

CLASSES: dict[str, list[str]] = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
}
_PREFIX = {"train": "train", "test": "t10k"}
_NPZ_PREFIX = {"train": "kmnist-train", "test": "kmnist-test"}


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a readable (gzipped) IDX file: {exc}") from exc


def read_idx(path: str | os.PathLike[str], *, magic: int | None = None) -> np.ndarray:
    """Parse an IDX file (plain or gzipped) into an array in native byte order.

    Args:
        path: the file.
        magic: the required magic number (2051 images, 2049 labels) or None for any valid one.

    Raises:
        ValueError: naming the file, for a bad magic, unknown type, truncation or trailing bytes.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: {len(data)} bytes is too short for an IDX header (4 bytes)")
    found = int.from_bytes(data[:4], "big")
    code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or code not in _TYPES or ndim == 0:
        raise ValueError(
            f"{path}: bad IDX magic number {found} (0x{found:08x}); allowed are 0x0000TTNN with "
            f"type TT in {[hex(c) for c in _TYPES]} and NN >= 1 dimensions"
        )
    if magic is not None and found != magic:
        raise ValueError(f"{path}: IDX magic number is {found}; expected {magic}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated header: {len(data)} bytes, {ndim} dims need {header}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _TYPES[code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: {state}: {len(data)} bytes, but dims {dims} of {dtype.name} need {expected}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return np.array(arr, dtype=dtype.newbyteorder("="))  # a writable native-order copy


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None
) -> Path:
    """Write `array` as an IDX file; gzipped when `compress` (default: the name ends in .gz)."""
    path = Path(path)
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=")
    if native not in _CODES or arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(
            f"array of dtype {arr.dtype} and {arr.ndim} dims cannot be written as IDX; allowed "
            "dtypes: uint8, int8, int16, int32, float32, float64 with 1..255 dims"
        )
    code = _CODES[native]
    payload = (
        bytes([0, 0, code, arr.ndim])
        + np.asarray(arr.shape, dtype=">u4").tobytes()
        + np.ascontiguousarray(arr, dtype=_TYPES[code]).tobytes()
    )
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path


def _check_pair(images: np.ndarray, labels: np.ndarray, n_classes: int, src: str) -> None:
    if images.ndim != 3:
        raise ValueError(f"{src}: images have shape {images.shape}; allowed is (N, H, W)")
    if labels.ndim != 1:
        raise ValueError(f"{src}: labels have shape {labels.shape}; allowed is (N,)")
    if len(images) != len(labels):
        raise ValueError(
            f"{src}: {len(images)} images but {len(labels)} labels; the counts must agree"
        )
    if images.dtype != np.uint8 or labels.dtype.kind not in "ui":
        raise ValueError(
            f"{src}: images {images.dtype} / labels {labels.dtype}; allowed are uint8 / integers"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{src}: labels span {int(labels.min())}..{int(labels.max())}; allowed are "
            f"0..{n_classes - 1}"
        )


def read_npz_array(path: Path) -> np.ndarray:
    """The ``arr_0`` array of a KMNIST-style .npz (no pickles allowed)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "arr_0" not in npz.files:
                raise ValueError(f"{path}: no 'arr_0' array; found {npz.files}")
            return np.asarray(npz["arr_0"])
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a readable .npz file: {exc}") from exc
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"{path}: not a readable .npz file: {exc}") from exc


def _locate_split(
    name: str, split: str, root: str | os.PathLike[str] | None, download: bool, verify: bool
) -> tuple[np.ndarray, np.ndarray, str]:
    """Read one split of an IDX-family dataset: (images (N, H, W) uint8, labels (N,), source)."""
    prefix = _PREFIX[split]
    img_name = f"{prefix}-images-idx3-ubyte.gz"
    lab_name = f"{prefix}-labels-idx1-ubyte.gz"
    directory = dataset_dir(name, root)
    if name == "kmnist" and not (directory / img_name).is_file():
        npz_img = directory / f"{_NPZ_PREFIX[split]}-imgs.npz"
        npz_lab = directory / f"{_NPZ_PREFIX[split]}-labels.npz"
        if npz_img.is_file() and npz_lab.is_file():
            return read_npz_array(npz_img), read_npz_array(npz_lab), str(npz_img)
        if not download:
            hint = (
                f"The KMNIST .npz files {npz_img.name} / {npz_lab.name} are accepted too"
                + (". Use split='test' to load only the test split" if split == "train" else "")
            )
            raise FileNotFoundError(
                f"KMNIST {split} images are missing: neither {directory / img_name} nor "
                f"{npz_img} exists. Set root= or the HISTORYAD_DATA environment variable to a "
                f"folder holding kmnist/ with them, or pass download=True. {hint}"
            )
    img_path = fetch(name, img_name, root=root, download=download, verify=verify)
    lab_path = fetch(name, lab_name, root=root, download=download, verify=verify)
    images = read_idx(img_path, magic=IMAGES_MAGIC)
    labels = read_idx(lab_path, magic=LABELS_MAGIC)
    return images, labels, f"{img_path} + {lab_path.name}"


def load_idx_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """MNIST, Fashion-MNIST or KMNIST as images (N, 1, 28, 28) in [-1, 1]."""
    if name not in CLASSES:
        raise ValueError(f"name={name!r} is not allowed; choose one of {sorted(CLASSES)}")
    classes = CLASSES[name]
    parts = []
    sources = []
    for part in splits_for(split):
        images, labels, src = _locate_split(name, part, root, download, verify)
        _check_pair(images, labels, len(classes), src)
        parts.append((images_to_unit(images)[:, None], labels, part == "train"))
        sources.append(src)
    X, y, is_train = concat_parts(parts)
    logger.debug("loaded %s %s: %s", name, split, X.shape)
    return Dataset(name, X, y, classes, is_train, "image", meta={"files": sources})


load_mnist = preset(
    load_idx_dataset, "mnist",
    doc="MNIST digits: 60000 train + 10000 test images (N, 1, 28, 28) in [-1, 1].",
)  # fmt: skip
load_fashion_mnist = preset(
    load_idx_dataset, "fashion-mnist",
    doc="Fashion-MNIST: 60000 train + 10000 test images (N, 1, 28, 28) in [-1, 1].",
)  # fmt: skip
load_kmnist = preset(
    load_idx_dataset, "kmnist",
    doc="Kuzushiji-MNIST (IDX .gz or the official .npz): (N, 1, 28, 28) in [-1, 1].",
)  # fmt: skip


__all__ = [
    "CLASSES",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "load_fashion_mnist",
    "load_idx_dataset",
    "load_kmnist",
    "load_mnist",
    "read_idx",
    "read_npz_array",
    "write_idx",
]
