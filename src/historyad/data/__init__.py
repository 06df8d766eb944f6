"""Datasets: `load(name, ...)` returns a `Dataset` (X float32, y int64, classes, is_train, kind).

Files are looked for in ``<root>/<name>/`` with root = the argument, ``$HISTORYAD_DATA`` or the
pooch cache; loading is offline unless ``download=True``. See `available()` and `DATASETS`.
"""

from __future__ import annotations

from historyad.data.base import Dataset, Kind, sliding_windows
from historyad.data.daphnet import Recording, load_daphnet_recording, read_daphnet_csv
from historyad.data.fetch import ENV_VAR, data_home, dataset_dir, sha256sum
from historyad.data.idx import read_idx, write_idx
from historyad.data.registry import DATASETS, DatasetInfo, available, load
from historyad.data.ucr import TSFile, read_ts

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "Dataset",
    "DatasetInfo",
    "Kind",
    "Recording",
    "TSFile",
    "available",
    "data_home",
    "dataset_dir",
    "load",
    "load_daphnet_recording",
    "read_daphnet_csv",
    "read_idx",
    "read_ts",
    "sha256sum",
    "sliding_windows",
    "write_idx",
]
