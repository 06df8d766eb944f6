"""The benchmark set of ``historyad fit --input`` on SKAB: fit once on the anomaly-free
recording, score the windows of every valve1 file."""

from __future__ import annotations

from pathlib import Path

from historyad.evaluation.suite import SUITE, SuiteConfig, select_sets


def test_skab_valve1_free_is_one_fit_on_anomaly_free_and_every_valve1_file(
        shared_data: Path) -> None:
    bset = next(s for s in SUITE if s.name == "skab-valve1-free")
    assert bset.family == "series" and not bset.quick
    assert "skab-valve1-free" not in {s.name for s in select_sets(quick=True)}
    parts = list(bset.parts(SuiteConfig(data_root=str(shared_data))))
    assert [p for p, _ in parts] == ["valve1"]
    split = parts[0][1]
    assert split.X_train.shape == (1172, 8, 32)  # 9405 anomaly-free rows, stride 8
    # every window of the 16 files: sum over files of (rows - 31)
    assert split.X_test.shape[1:] == (8, 32) and split.meta["files"] == 16
    assert 0 < split.y_test.mean() < 1
