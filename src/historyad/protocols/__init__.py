"""Evaluation protocols: turn a `Dataset` into a `Split` (normal-only training data, labelled
test data with 1 = anomaly). Every protocol is deterministic given its `seed`.

- `leave_one_class_out`: one class is the anomaly (both papers' MNIST protocol).
- `one_class`: one class is normal, official train/test split.
- `cross_dataset`: another dataset's test images are the anomalies (e.g. MNIST vs KMNIST).
- `windows`: a recording split in time; anomaly-free windows of the first part train.
- `prefix_windows`: fit on a recording's first rows; one test window ending at every later row.
- `corrupted`: normal test images plus gaussian-noise copies as anomalies.

`standardize` scales a split's features with training statistics only.

Modules: `split` (the `Split` container), `classes` (class-based splits of a labelled dataset),
`series` (windows of one recording), `rolling` (windows of a user's series, per-row scores
from window scores, for whole files and streams alike), `noise` (`corrupted`), `scaling`
(`standardize`).
"""

from __future__ import annotations

from historyad.protocols.classes import cross_dataset, leave_one_class_out, one_class
from historyad.protocols.noise import corrupted
from historyad.protocols.scaling import standardize
from historyad.protocols.series import prefix_windows, windows
from historyad.protocols.split import Split

__all__ = [
    "Split",
    "corrupted",
    "cross_dataset",
    "leave_one_class_out",
    "one_class",
    "prefix_windows",
    "standardize",
    "windows",
]
