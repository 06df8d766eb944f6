"""Experiment modules on tiny settings: the interface, helpers and the har job offline."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from historyad.evaluation.experiments import EXPERIMENTS, RunContext, load_experiment
from historyad.evaluation.experiments.common import build_config, merge
from historyad.evaluation.experiments.har import HARConfig, recurrence_plots, resample
from historyad.evaluation.experiments.ring_2d import modes_covered
from tests.data.writers import write_daphnet_csv, write_har_dir

HAR_TINY = {
    "gan_iterations": 3, "width": 8, "rp_size": 8, "dtv_steps": 3, "encoder_iterations": 3,
    "min_epoch_size": 64, "n_snapshots": 3, "batch_size": 16, "daphnet_window": 16,
    "daphnet_stride": 8, "daphnet_verify": False,
}  # fmt: skip


def test_registry_names_every_experiment_by_module_path():
    for name in ("toy-1d", "ring-2d", "har", "digits-loo", "mnist-leave-one-out",
                 "mnist-vs-kmnist", "mnist-noise", "mnist-interpolation", "saves-per-epoch",
                 "svhn-vs-others"):
        assert EXPERIMENTS[name].startswith("historyad.evaluation.experiments.")
    assert callable(load_experiment("toy-1d"))
    with pytest.raises(ValueError, match=r"'nope' is unknown.*toy-1d"):
        load_experiment("nope")


def test_missing_module_fails_only_when_loaded(monkeypatch):
    monkeypatch.setitem(EXPERIMENTS, "ghost", "historyad.evaluation.experiments.no_such_mod")
    with pytest.raises(ModuleNotFoundError, match="'ghost' is registered"):
        load_experiment("ghost")


def test_run_context_figure_and_finish(tmp_path: Path):
    ctx = RunContext(out_dir=tmp_path / "run", quick=True, seed=4, config={"a": 1})
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = ctx.figure(fig, "curve")
    assert path == tmp_path / "run" / "curve.png" and path.stat().st_size > 0
    assert not plt.fignum_exists(fig.number)
    rec = {"detector": "knn", "dataset": "d", "protocol": "p", "anomaly": "1", "auprc": 0.5,
           "auroc": 0.5, "fit_seconds": 0.0, "score_seconds": 0.0}
    ctx.finish([rec], resolved_config={"x": 2}, extra={"note": "hi"}, report_md="# r")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["results"] == [rec] and metrics["note"] == "hi"
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["x"] == 2 and config["seed"] == 4 and config["quick"] is True
    assert (tmp_path / "run" / "report.md").read_text() == "# r\n"


def test_build_config_order_and_unknown_keys(tmp_path: Path):
    ctx = RunContext(out_dir=tmp_path, quick=True, config={"width": 4})
    cfg = build_config(HARConfig, ctx, {"width": 16, "dtv_steps": 7})
    assert cfg.width == 4 and cfg.dtv_steps == 7  # overrides beat quick beats defaults
    assert build_config(HARConfig, RunContext(out_dir=tmp_path), {"dtv_steps": 7}).dtv_steps \
        == HARConfig().dtv_steps
    with pytest.raises(ValueError, match=r"\['bogus'\].*rp_size"):
        build_config(HARConfig, RunContext(out_dir=tmp_path, config={"bogus": 1}))
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_resample_and_recurrence_plots():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 2, 50)).astype(np.float32)
    R = resample(X, 10)
    assert R.shape == (3, 2, 10)
    np.testing.assert_allclose(R[..., 0], X[..., 0], atol=1e-6)
    np.testing.assert_allclose(R[..., -1], X[..., -1], atol=1e-6)
    mean, std = np.zeros((2, 1)), np.ones((2, 1))
    img, scale = recurrence_plots(X, 8, mean, std)
    assert img.shape == (3, 2, 8, 8) and img.dtype == np.float32 and scale.shape == (2,)
    assert img.min() >= -1 and img.max() <= 1
    np.testing.assert_allclose(img, img.transpose(0, 1, 3, 2))  # symmetric
    np.testing.assert_allclose(np.diagonal(img, axis1=2, axis2=3), -1.0)  # |x_i - x_i| = 0
    img2, _ = recurrence_plots(X, 8, mean, std, scale * 10)
    assert img2.max() < img.max()


def test_modes_covered():
    centres = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 5.0]])
    samples = np.concatenate([np.tile(centres[0], (90, 1)), np.tile(centres[1], (10, 1))])
    count, fractions = modes_covered(samples, centres, std=0.1)
    assert count == 2 and fractions == pytest.approx([0.9, 0.1, 0.0])
    assert modes_covered(samples, centres, std=0.1, min_fraction=0.2)[0] == 1


def test_har_on_a_tiny_uci_har_folder_with_daphnet_windows(tmp_path: Path):
    data = tmp_path / "data"
    write_har_dir(data / "uci-har", n_train=24, n_test=12, length=16)
    rng = np.random.default_rng(0)
    labels = np.zeros(240, dtype=np.int64)
    labels[180:200] = 1
    write_daphnet_csv(data / "daphnet" / "S06R02E0.csv", rng.integers(-500, 1000, (240, 9)),
                      labels)
    ctx = RunContext(out_dir=tmp_path / "har", data_root=str(data),
                     config={**HAR_TINY, "activities": ["WALKING", "LAYING"]})
    records = load_experiment("har")(ctx)
    har = [r for r in records if r["dataset"] == "uci-har"]
    assert len(har) == 2 * 3 * 5  # activities x representations x detectors
    assert {r["representation"] for r in har} == {"recurrence", "raw-acc", "series"}
    assert {r["anomaly"] for r in har} == {"WALKING", "LAYING"}
    assert "knn (series)" in {r["detector"] for r in har}
    daphnet = [r for r in records if r["dataset"] == "daphnet"]
    assert len(daphnet) == 5 and daphnet[0]["protocol"] == "windows"
    report = (tmp_path / "har" / "report.md").read_text()
    assert "**uci-har** (UCI HAR is present)" in report and "windows protocol" in report
    for name in ("auprc_recurrence", "auprc_raw-acc", "auprc_series", "recurrence_examples"):
        assert (tmp_path / "har" / f"{name}.png").is_file()
    metrics = json.loads((tmp_path / "har" / "metrics.json").read_text())
    assert metrics["dataset_used"] == "uci-har" and len(metrics["results"]) == 35


def test_har_falls_back_to_basicmotions_and_skips_daphnet(tmp_path: Path, shared_data: Path):
    ctx = RunContext(out_dir=tmp_path / "har", data_root=str(shared_data),
                     config={**HAR_TINY, "daphnet_verify": True, "activities": ["Walking"],
                             "representations": ["series"]})
    records = load_experiment("har")(ctx)
    assert {r["dataset"] for r in records} == {"basicmotions"} and len(records) == 5
    report = (tmp_path / "har" / "report.md").read_text()
    assert "UCI HAR not found; BasicMotions used" in report
    assert "NO anomalous" in report and "skipped" in report
    assert [p.name for p in (tmp_path / "har" / "checkpoints").iterdir()] == [
        "gan-basicmotions-Walking-series.safetensors"]


def test_har_rejects_bad_settings(tmp_path: Path):
    with pytest.raises(ValueError, match="representations"):
        load_experiment("har")(RunContext(out_dir=tmp_path, config={"representations": ["x"]}))
    with pytest.raises(ValueError, match="dataset='mnist'"):
        load_experiment("har")(RunContext(out_dir=tmp_path, config={"dataset": "mnist"}))
