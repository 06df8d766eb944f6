"""The benchmark runner: set selection, the summary (ranks, gaps, targets) by hand, the peers'
preprocessing, the window rule of periodic series, and one small real run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from historyad.evaluation.benchmark import (
    evaluate_split,
    preprocess_for_peers,
    run_benchmark,
    summarize,
)
from historyad.evaluation.suite import SUITE, dominant_period, select_sets
from historyad.protocols import Split


def test_the_suite_has_every_family_and_the_issue_sets() -> None:
    names = {s.name for s in SUITE}
    assert {f"mnist-loo-{d}" for d in range(10)} | {"mnist-vs-kmnist", "mnist-noise"} <= names
    assert sum(s.family == "tables" for s in SUITE) == 12
    assert {"skab-valve1", "ucr-135", "basicmotions-loo-0"} <= names
    quick_tables = {s.name for s in select_sets(quick=True, families=["tables"])}
    assert len(quick_tables) == 8 and "adbench-16_http" not in quick_tables
    assert [s.name for s in select_sets(quick=True, names=["adbench-16_http"])] == [
        "adbench-16_http"]  # named explicitly, a full-mode set runs in quick mode too
    with pytest.raises(ValueError, match="matches no benchmark set"):
        select_sets(quick=False, names=["nope"])
    with pytest.raises(ValueError, match="family"):
        select_sets(quick=False, families=["audio"])


def _rows(table: dict[str, dict[str, float]], family: str) -> list[dict]:
    return [{"set": s, "family": family, "detector": d, "auprc": v}
            for s, row in table.items() for d, v in row.items()]


def test_summary_ranks_gaps_and_targets_by_hand() -> None:
    tables = {"t1": {"recommended": 0.9, "pyod-knn": 0.8, "pyod-lof": 0.7},
              "t2": {"recommended": 0.5, "pyod-knn": 0.65, "pyod-lof": 0.6}}
    images = {"i1": {"recommended": 0.7, "pyod-knn": 0.7, "pyod-lof": 0.2}}
    s = summarize(_rows(tables, "tables") + _rows(images, "images"),
                  peers=["pyod-knn", "pyod-lof"])
    # ranks: t1 1/2/3, t2 3/1/2, i1 1.5/1.5/3
    assert s["mean_rank"] == pytest.approx({"recommended": 5.5 / 3, "pyod-knn": 4.5 / 3,
                                            "pyod-lof": 8 / 3})
    assert s["families"]["tables"]["mean_auprc"]["recommended"] == pytest.approx(0.7)
    gap = s["gaps"]["recommended"]["worst_gap_to_knn"]
    assert gap["set"] == "t2" and gap["gap"] == pytest.approx(-0.15)
    t = s["targets"]
    assert t["best_mean_rank"] is False  # pyod-knn ranks better on the mean
    assert t["never_more_than_0.10_below_knn"] is False  # −0.15 on t2
    fam = t["family_mean_at_least_best_peer"]
    assert fam["tables"]["met"] is False and fam["tables"]["best_peer"] == "pyod-knn"
    assert fam["images"]["met"] is True  # a tie meets "at least"


def test_peers_see_the_detectors_preprocessing() -> None:
    rng = np.random.default_rng(0)
    table = rng.normal(5.0, 3.0, size=(50, 4))
    tr, te = preprocess_for_peers(table, table[:5])
    np.testing.assert_allclose(tr.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(tr.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(te, tr[:5], atol=1e-6)  # test rows: the training statistics
    series = rng.normal(2.0, 4.0, size=(20, 3, 7))
    tr, _ = preprocess_for_peers(series, series)
    assert tr.shape == (20, 21)
    per_channel = tr.reshape(20, 3, 7)
    np.testing.assert_allclose(per_channel.mean(axis=(0, 2)), 0, atol=1e-5)
    images = rng.uniform(-1, 1, size=(10, 1, 4, 4))
    tr, _ = preprocess_for_peers(images, images)
    np.testing.assert_allclose(tr, images.reshape(10, -1), atol=1e-6)  # left as they are


def test_dominant_period_of_a_noisy_sine() -> None:
    t = np.arange(3000)
    x = np.sin(2 * np.pi * t / 73) + 0.3 * np.random.default_rng(0).normal(size=len(t))
    assert abs(dominant_period(x) - 73) <= 1
    assert dominant_period(np.random.default_rng(1).normal(size=500)) >= 16


def test_evaluate_split_shares_one_gan_and_scores_every_detector(monkeypatch) -> None:
    import historyad.training.trainer as trainer

    calls = []
    real = trainer.train_gan
    monkeypatch.setattr(trainer, "train_gan", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    X_test = np.vstack([rng.normal(size=(40, 3)), rng.normal(4, 1, size=(40, 3))])
    split = Split(X, X_test, np.r_[np.zeros(40), np.ones(40)].astype(int), "toy")
    fast = {"min_iterations": 0, "n_epochs": 2.0, "width": 8}
    lineup = {"recommended": {"name": "recommended", **fast},
              "density-ratio": {"name": "density-ratio", **fast}, "knn": {"name": "knn"}}
    records = evaluate_split(split, detectors=lineup, peers=["pyod-knn"], quick=False, seed=0)
    by = {r["detector"]: r for r in records}
    assert list(by) == ["recommended", "density-ratio", "knn", "pyod-knn"]
    assert all(r["auprc"] > 0.9 for r in records)  # a shifted cluster is easy
    assert by["knn"]["auprc"] == pytest.approx(by["pyod-knn"]["auprc"])  # same kNN
    assert len(calls) == 1  # density-ratio reused the recommended detector's GAN


def test_a_small_real_run_writes_its_outputs(shared_data: Path, tmp_path: Path) -> None:
    if not (shared_data / "adbench" / "41_Waveform.npz").is_file():
        pytest.skip("ADBench 41_Waveform is absent from the shared data")
    lineup = {"recommended": {"name": "recommended", "min_iterations": 100},
              "knn": {"name": "knn"}}
    result = run_benchmark(quick=True, data_root=str(shared_data), sets=["adbench-41"],
                           detectors=lineup, peers=["pyod-knn", "pyod-lof"],
                           out_dir=tmp_path, progress=False)
    assert [r["set"] for r in result.sets] == ["adbench-41_Waveform"] * 4
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    assert saved["summary"]["targets"]["family_mean_at_least_best_peer"]["tables"]
    md = (tmp_path / "benchmark.md").read_text()
    assert "## tables: AUPRC" in md and "| adbench-41_Waveform |" in md
    assert (tmp_path / "ranks.png").stat().st_size > 1000
