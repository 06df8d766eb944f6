"""Datasets: `load(name, ...)` returns a `Dataset` (X float32, y int64, classes, is_train, kind).

Files are looked for in ``<root>/<name>/`` with root = the argument, ``$HISTORYAD_DATA`` or the
pooch cache; loading is offline unless ``download=True``. See `available()` and `DATASETS`.
"""

from __future__ import annotations

from historyad.data.adbench import ADBENCH_SETS, load_adbench
from historyad.data.base import Dataset, Kind, Recording, sliding_windows
from historyad.data.daphnet import load_daphnet_recording, read_daphnet_csv
from historyad.data.fetch import ENV_VAR, data_home, dataset_dir, sha256sum
from historyad.data.idx import read_idx, write_idx
from historyad.data.registry import DATASETS, DatasetInfo, available, load
from historyad.data.skab import SKAB_FILES, SKAB_VALVE1, load_skab_recording, read_skab_csv
from historyad.data.ucr import TSFile, read_ts
from historyad.data.ucr_anomaly import load_ucr_anomaly, read_ucr_anomaly_csv

__all__ = [
    "ADBENCH_SETS",
    "DATASETS",
    "ENV_VAR",
    "SKAB_FILES",
    "SKAB_VALVE1",
    "Dataset",
    "DatasetInfo",
    "Kind",
    "Recording",
    "TSFile",
    "available",
    "data_home",
    "dataset_dir",
    "load",
    "load_adbench",
    "load_daphnet_recording",
    "load_skab_recording",
    "load_ucr_anomaly",
    "read_daphnet_csv",
    "read_idx",
    "read_skab_csv",
    "read_ts",
    "read_ucr_anomaly_csv",
    "sha256sum",
    "sliding_windows",
    "write_idx",
]
