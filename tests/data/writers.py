"""Writers of tiny files in the exact original formats, for the parser tests."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from historyad.data import write_idx

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def write_mnist_dir(
    directory: Path, *, n_train: int = 12, n_test: int = 6, seed: int = 0, splits=("train", "test")
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write MNIST-style IDX .gz files; return the raw (images, labels) per split."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split in splits:
        n = n_train if split == "train" else n_test
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255
        labels = (np.arange(n) % 10).astype(np.uint8)
        img_name, lab_name = IDX_NAMES[split]
        write_idx(directory / img_name, images)
        write_idx(directory / lab_name, labels)
        out[split] = (images, labels)
    return out


def cifar_pickle(obj: dict, *, py2_names: bool = True) -> bytes:
    """Pickle like the CIFAR batches: numpy arrays referenced as numpy.core.multiarray."""
    data = pickle.dumps(obj, protocol=3)
    if py2_names:
        data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return data


def write_cifar_tarball(
    path: Path, *, n_per_batch: int = 4, seed: int = 0, members: dict[str, bytes] | None = None
) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Write a cifar-10-python.tar.gz with 5 train batches, a test batch and batches.meta."""
    rng = np.random.default_rng(seed)
    batches = {}
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n_per_batch)]
        batches[name] = (data, labels)
    contents = {
        name: cifar_pickle(
            {b"batch_label": name.encode(), b"labels": labels, b"data": data,
             b"filenames": [b"x.png"] * len(labels)}
        )
        for name, (data, labels) in batches.items()
    }  # fmt: skip
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]  # fmt: skip
    contents["batches.meta"] = cifar_pickle({b"label_names": names, b"num_vis": 3072})
    contents.update(members or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in contents.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return batches


def ts_text(
    series: np.ndarray, labels: list[str], classes: list[str], *, missing: bool = False
) -> str:
    """A .ts file for series (N, C, T) with class labels."""
    _, c, t = series.shape
    lines = [
        "#A test problem",
        "@problemName Test",
        "@timeStamps false",
        f"@missing {'true' if missing else 'false'}",
        f"@univariate {'true' if c == 1 else 'false'}",
        f"@dimensions {c}",
        "@equalLength true",
        f"@seriesLength {t}",
        "@classLabel true " + " ".join(classes),
        "@data",
    ]
    for x, label in zip(series, labels, strict=True):
        lines.append(":".join(",".join(f"{v:.6f}" for v in ch) for ch in x) + f":{label}")
    return "\n".join(lines) + "\n"


DAPHNET_HEADER = (
    "timestamp,ankle_horiz_fwd,ankle_vert,ankle_horiz_lateral,leg_horiz_fwd,leg_vert,"
    "leg_horiz_lateral,trunk_horiz_fwd,trunk_vert,trunk_horiz_lateral,is_anomaly"
)


def write_daphnet_csv(path: Path, values: np.ndarray, labels: np.ndarray) -> Path:
    """A Daphnet CSV with a timestamp column, 9 integer channels and is_anomaly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [DAPHNET_HEADER]
    for i, (v, lab) in enumerate(zip(values, labels, strict=True)):
        stamp = f"1970-01-01 00:04:{40 + i // 64:02d}.{(i % 64) * 15:03d}"
        rows.append(",".join([stamp, *(str(int(x)) for x in v), str(int(lab))]))
    path.write_text("\n".join(rows) + "\n")
    return path


def write_har_dir(
    base: Path, *, n_train: int = 5, n_test: int = 3, length: int = 128, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A tiny 'UCI HAR Dataset' folder; returns (signals (N, 9, T), labels 1..6) per split."""
    from historyad.data.har import CHANNELS

    rng = np.random.default_rng(seed)
    folder = base / "UCI HAR Dataset"
    folder.mkdir(parents=True, exist_ok=True)
    names = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]
    (folder / "activity_labels.txt").write_text(
        "".join(f"{k} {n}\n" for k, n in enumerate(names, 1))
    )
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        signals_dir = folder / split / "Inertial Signals"
        signals_dir.mkdir(parents=True, exist_ok=True)
        X = rng.standard_normal((n, 9, length)).astype(np.float32)
        for c, channel in enumerate(CHANNELS):
            np.savetxt(signals_dir / f"{channel}_{split}.txt", X[:, c], fmt="%.7e")
        y = (np.arange(n) % 6) + 1
        np.savetxt(folder / split / f"y_{split}.txt", y, fmt="%d")
        out[split] = (X, y)
    return out
