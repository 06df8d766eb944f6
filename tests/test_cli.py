"""End-to-end CLI checks on tiny settings (typer's CliRunner)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from historyad.cli import app

runner = CliRunner()

TINY_GAN = ["-p", "n_epochs=1", "-p", "width=8", "-p", "latent_dim=4",
            "-p", "min_iterations=0"]


pytestmark = pytest.mark.usefixtures("one_thread")


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def ok(result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)


# ------------------------------------------------------------------------------ datasets


def test_datasets_lists_every_dataset_and_where_it_looked(tmp_path: Path):
    (tmp_path / "basicmotions").mkdir()
    (tmp_path / "basicmotions" / "BasicMotions_TRAIN.ts").write_text("x")
    result = invoke("datasets", "--data", tmp_path)
    ok(result)
    out = result.output
    assert f"data folder: {tmp_path} (from --data)" in out
    for name in ("mnist", "uci-har", "daphnet", "digits", "toy-1d", "ring-2d"):
        assert name in out
    line = next(ln for ln in out.splitlines() if ln.startswith("basicmotions"))
    assert "partial (1/2)" in line and str(tmp_path / "basicmotions") in line
    assert "bundled" in next(ln for ln in out.splitlines() if ln.startswith("digits"))


# ------------------------------------------------------------------------------ evaluate


def test_evaluate_digits_knn_and_critic(tmp_path: Path):
    out = tmp_path / "ev"
    result = invoke(
        "evaluate", "--dataset", "digits", "--protocol", "loo", "-d", "knn", "-d", "critic",
        "--anomaly", "3", "--anomaly", "7", *TINY_GAN, "-p", "critic.threshold_mode=interval",
        "--out", out,
    )  # fmt: skip
    ok(result)
    assert "| auprc | 3 | 7 | mean |" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    recs = metrics["results"]
    assert {(r["detector"], r["anomaly"]) for r in recs} == {
        (d, a) for d in ("knn", "critic") for a in ("3", "7")
    }
    for r in recs:
        assert set(r) >= {"detector", "dataset", "protocol", "anomaly", "auprc", "auroc",
                          "fit_seconds", "score_seconds"}
        assert 0.0 <= r["auprc"] <= 1.0
    config = json.loads((out / "config.json").read_text())
    assert config["gan"]["n_epochs"] == 1 and config["detectors"]["critic"]["threshold_mode"]
    assert "| knn |" in (out / "report.md").read_text()
    assert (out / "score_densities.png").is_file() and (out / "auprc_bars.png").is_file()


def test_evaluate_reads_options_from_config_toml(tmp_path: Path):
    cfg = tmp_path / "ev.toml"
    cfg.write_text(
        'dataset = "digits"\nprotocol = "one-class"\ndetector = ["knn"]\nnormal = ["0"]\n'
        f'out = "{(tmp_path / "run").as_posix()}"\nseed = 3\n[params]\nn_neighbors = 3\n'
    )
    ok(invoke("evaluate", "--config", cfg))
    rec = json.loads((tmp_path / "run" / "metrics.json").read_text())["results"]
    assert [(r["detector"], r["protocol"], r["anomaly"]) for r in rec] == [
        ("knn", "one-class", "0")
    ]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["seed"] == 3 and config["detectors"]["knn"]["n_neighbors"] == 3


def test_evaluate_param_accepted_by_no_detector(tmp_path: Path):
    result = invoke("evaluate", "--dataset", "digits", "-d", "knn", "-p", "dtv_steps=3",
                    "--out", tmp_path)
    assert result.exit_code == 2
    assert "dtv_steps" in result.output and "n_neighbors" in result.output


# ------------------------------------------------------------------------------ fit / score


def test_fit_then_score_round_trip(tmp_path: Path):
    out = tmp_path / "fit"
    result = invoke("fit", "--detector", "critic", "--dataset", "digits", "--anomaly", "4",
                    *TINY_GAN, "--seed", "1", "--out", out)
    ok(result)
    assert (out / "model.safetensors").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["detector"] == "critic" and config["params"]["n_epochs"] == 1
    assert config["class"] == "4" and config["seed"] == 1
    fit_auprc = json.loads((out / "metrics.json").read_text())["results"][0]["auprc"]

    scores = tmp_path / "scores.csv"
    result = invoke("score", "--model", out / "model.safetensors", "--out", scores)
    ok(result)
    rows = list(csv.DictReader(scores.open()))
    assert len(rows) == config["split"]["n_test"]
    assert set(rows[0]) == {"index", "label", "score", "prediction"}
    assert sum(int(r["label"]) for r in rows) == config["split"]["n_test_anomaly"]
    assert f"AUPRC {fit_auprc:.3f}" in result.output  # same split, same model


def test_fit_historyad_on_a_short_schedule_announces_its_alpha(tmp_path: Path):
    out = tmp_path / "h"
    result = invoke("fit", "-d", "historyad", "--dataset", "digits", "--anomaly", "4",
                    *TINY_GAN, "-p", "dtv_steps=5", "-p", "saves_per_epoch=2", "--out", out)
    ok(result)
    assert "note: historyad: alpha=0.2" in result.output
    assert json.loads((out / "config.json").read_text())["params"]["alpha"] == 0.2
    ok(result := invoke("fit", "-d", "historyad", "--dataset", "digits", "--anomaly", "4",
                        *TINY_GAN, "-p", "dtv_steps=5", "-p", "alpha=0.5", "--out", out,
                        "--overwrite"))
    assert "note:" not in result.output


def test_score_rejects_a_file_that_is_not_a_model(tmp_path: Path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not a model")
    result = invoke("score", "--model", bad, "--dataset", "digits", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "safetensors" in result.output


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["fit", "-d", "nope", "--dataset", "digits"], ["'nope'", "historyad", "knn"]),
        (["fit", "-d", "knn", "--dataset", "nope"], ["'nope'", "mnist", "digits"]),
        (["fit", "-d", "knn", "--dataset", "digits", "--protocol", "x"], ["loo", "one-class"]),
        (["fit", "-d", "knn", "--dataset", "digits", "--anomaly", "12"], ["'12'", "'9'"]),
        (["fit", "-d", "knn", "--dataset", "digits", "-p", "bogus=1"], ["bogus", "n_neighbors"]),
        (["fit", "-d", "knn", "--dataset", "digits", "--device", "tpu"], ["tpu", "cuda"]),
        (["reproduce", "nope"], ["'nope'", "toy-1d", "ring-2d", "mnist-vs-kmnist"]),
        (["evaluate", "--dataset", "digits", "-d", "nope"], ["'nope'", "critic"]),
    ],
)
def test_unknown_names_and_bad_options_list_the_choices(args, expected):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output


def test_missing_data_exits_2_and_says_where_it_looked(tmp_path: Path):
    result = invoke("fit", "-d", "knn", "--dataset", "mnist", "--data", tmp_path)
    assert result.exit_code == 2
    assert str(tmp_path / "mnist") in result.output
    assert "--download" in result.output and "Traceback" not in result.output
    result = invoke("evaluate", "--dataset", "basicmotions", "-d", "knn", "--data", tmp_path)
    assert result.exit_code == 2 and str(tmp_path / "basicmotions") in result.output


def test_bad_config_file(tmp_path: Path):
    missing = tmp_path / "none.toml"
    result = invoke("reproduce", "toy-1d", "--config", missing)
    assert result.exit_code == 2 and "does not exist" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("oops = 1\n")
    result = invoke("reproduce", "toy-1d", "--config", bad)
    assert result.exit_code == 2 and "oops" in result.output and "experiment" in result.output
    bad.write_text("[experiment]\nnot_a_field = 1\n")
    result = invoke("reproduce", "toy-1d", "--config", bad, "--out", tmp_path / "x")
    assert result.exit_code == 2 and "not_a_field" in result.output and "n_epochs" in result.output


# ------------------------------------------------------------------------------ reproduce


def test_reproduce_list():
    result = invoke("reproduce", "--list")
    ok(result)
    for name in ("toy-1d", "ring-2d", "har", "digits-loo", "mnist-leave-one-out",
                 "svhn-vs-others", "saves-per-epoch"):
        assert name in result.output


TOY_TINY = """
[experiment]
size = 1000
n_epochs = 3.0
width = 8
saves_per_epoch = 3
alpha = 1.0
beta = 0.1
dtv_steps = 10
n_hist_samples = 300
n_panels = 3
grid = [-4.0, 4.0, 41]
mass_threshold = 0.01
n_test_normal = 60
n_test_anomaly = 30
"""

RING_TINY = """
[experiment]
size = 700
width = 16
gan_epochs = 1.0
clip_epochs = 2.0
gp_epochs = 2.0
saves_per_epoch = 2
dtv_steps = 10
encoder_epochs = 1.0
n_panels = 3
n_samples = 200
n_test_normal = 60
n_test_anomaly = 60
grid_n = 21
"""


@pytest.mark.parametrize(
    ("name", "toml", "pngs", "extra_keys"),
    [
        ("toy-1d", TOY_TINY,
         ["generated_along_training", "densities", "dtv_vs_optimum", "critic_averaging",
          "training_curves"],
         ["dtv_vs_optimum", "critic_averaging", "tv_data_vs_history_kde"]),
        ("ring-2d", RING_TINY,
         ["gan_per_epoch", "gan_losses", "samples", "critic_wgan_gp", "critic_interval",
          "critic_wgan_clip", "dtv", "score_densities", "wgan_gp_history"],
         ["modes"]),
    ],
)  # fmt: skip
def test_reproduce_tiny(tmp_path: Path, name, toml, pngs, extra_keys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(toml)
    out = tmp_path / name
    result = invoke("reproduce", name, "--config", cfg, "--out", out, "--seed", "2")
    ok(result)
    assert "| auprc |" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["results"] and set(extra_keys) <= set(metrics)
    for r in metrics["results"]:
        assert set(r) >= {"detector", "dataset", "protocol", "anomaly", "auprc", "auroc",
                          "fit_seconds", "score_seconds"}
        assert r["dataset"] == name
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 2 and config["experiment"] == name
    report = (out / "report.md").read_text()
    assert "| auroc |" in report
    for png in pngs:
        assert (out / f"{png}.png").stat().st_size > 1000, png
        assert f"({png}.png)" in report
    if name == "ring-2d":
        assert set(metrics["modes"]) == {"gan", "wgan-clip", "wgan-gp"}
        assert {"historyad", "critic (wgan-gp)", "knn"} <= {r["detector"] for r in
                                                            metrics["results"]}
    else:
        assert 0 <= metrics["dtv_vs_optimum"]["mean_abs_diff"] < 10


def test_reproduce_missing_module_fails_cleanly(tmp_path: Path, monkeypatch):
    from historyad.evaluation import experiments

    monkeypatch.setitem(experiments.EXPERIMENTS, "ghost", "historyad.evaluation.experiments.x9")
    result = invoke("reproduce", "ghost", "--out", tmp_path)
    assert result.exit_code == 2 and "not available" in result.output


# ------------------------------------------------------------------------------ demo


def test_demo_with_a_small_digits_config(tmp_path: Path, monkeypatch):
    from dataclasses import dataclass, field

    from historyad.evaluation.experiments import digits_loo

    real = digits_loo.DigitsConfig

    @dataclass
    class Small(real):  # type: ignore[misc, valid-type]
        digits: list[int] = field(default_factory=lambda: [1, 8])
        gan: dict = field(default_factory=lambda: {"n_epochs": 2.0, "width": 8,
                                                   "min_iterations": 0, "random_state": 0})
        history: dict = field(default_factory=lambda: {"saves_per_epoch": 2, "alpha": 0.5,
                                                       "beta": 0.1})
        detectors: dict = field(default_factory=lambda: {
            "knn": {"name": "knn"}, "historyad": {"name": "historyad", "dtv_steps": 5}})

    monkeypatch.setattr(digits_loo, "DigitsConfig", Small)
    out = tmp_path / "demo"
    result = invoke("demo", "--out", out)
    ok(result)
    assert "| auprc | 1 | 8 | mean |" in result.output
    assert "| historyad |" in result.output and "| auroc |" in result.output
    recs = json.loads((out / "metrics.json").read_text())["results"]
    assert {(r["detector"], r["anomaly"]) for r in recs} == {
        (d, a) for d in ("knn", "historyad") for a in ("1", "8")
    }
    assert (out / "report.md").is_file() and (out / "auprc_per_digit.png").is_file()
    assert json.loads((out / "config.json").read_text())["digits"] == [1, 8]
    # each digit's shared GAN is checkpointed (safetensors, configs in the metadata)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "gan-digit1.safetensors", "gan-digit8.safetensors"]
