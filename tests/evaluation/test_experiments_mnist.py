"""End-to-end runs of the MNIST / SVHN experiments with tiny settings (seconds each)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from historyad.data import Dataset
from historyad.evaluation.experiments import load_experiment
from historyad.evaluation.experiments.common import RECORD_KEYS, RunContext, build_config

# 300 images, batch 16, 5 critic steps: 3 generator iterations per epoch.
TINY: dict[str, Any] = {
    "max_train": 300,
    "max_test": 200,
    "gan": {"n_epochs": 1.0, "batch_size": 16, "width": 8, "latent_dim": 16},
    "historyad": {"alpha": 0.3, "saves_per_epoch": 3, "dtv_steps": 20},
    "encoder": {"encoder_epochs": 0.5},
    "inversion": {"inversion_steps": 3},
}


def _run(name: str, out: Path, data: Path | None, **config: Any) -> tuple[list[dict], dict, str]:
    ctx = RunContext(out_dir=out, quick=False, seed=0, data_root=None if data is None else
                     str(data), config={**TINY, **config})  # fmt: skip
    records = load_experiment(name)(ctx)
    metrics = json.loads((out / "metrics.json").read_text())
    assert json.loads((out / "config.json").read_text())["experiment"] == name
    return records, metrics, (out / "report.md").read_text()


def _check_records(records: list[dict], metrics: dict) -> None:
    assert records and metrics["results"] == json.loads(json.dumps(records))
    for r in records:
        assert set(RECORD_KEYS) <= set(r)
        assert 0.0 <= r["auprc"] <= 1.0 and 0.0 <= r["auroc"] <= 1.0
        assert r["fit_seconds"] >= 0 and r["score_seconds"] >= 0


def _check_pngs(out: Path, names: list[str]) -> None:
    for n in names:
        path = out / f"{n}.png"
        assert path.is_file() and path.stat().st_size > 1000, path


def test_mnist_leave_one_out(shared_data: Path, tmp_path: Path) -> None:
    records, metrics, report = _run("mnist-leave-one-out", tmp_path, shared_data,
                                    digits=[0, 7], peers={})  # fmt: skip
    _check_records(records, metrics)
    labels = ["historyad", "historyad-case1", "historyad-two-sided", "historyad-case2",
              "historyad-no-training", "critic", "encoder", "inversion", "knn"]  # fmt: skip
    assert [(r["anomaly"], r["detector"]) for r in records] == [
        (d, lab) for d in ("0", "7") for lab in labels
    ]
    assert all(r["protocol"] == "leave-one-class-out" and r["dataset"] == "mnist" for r in records)
    assert "| seed 001 WGAN + encoder (Table 1) | 0.970 | 0.570 | 0.770 |" in report
    assert "`gan.n_epochs`: full `5.0` → this run `1.0`" in report
    assert "No PyOD peer configured" in report
    assert "`inversion` on 512" in report
    assert "One epoch = 3 generator iterations here (the whole MNIST" in report
    errs = metrics["reconstruction_errors"]
    assert set(errs) == {"0", "7"} and errs["0"]["anomalous"]["median"] > 0
    _check_pngs(tmp_path, ["auprc_per_digit", "reconstruction_errors"])
    assert {p.name for p in (tmp_path / "checkpoints").iterdir()} == {
        "gan-digit0.safetensors", "gan-digit7.safetensors"}


SEEN: dict[str, dict[str, Any]] = {}


class _FakePeer:
    """Scores by distance to the training mean; records its constructor arguments."""

    def __init__(self, contamination: float = 0.1, epoch_num: int = 10,
                 random_state: int | None = None, verbose: int = 1) -> None:  # fmt: skip
        SEEN[type(self).__name__] = {"epoch_num": epoch_num, "random_state": random_state,
                                     "verbose": verbose}  # fmt: skip

    def fit(self, X: np.ndarray) -> _FakePeer:
        self.mean_ = X.mean(0)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.linalg.norm(X - self.mean_, axis=1)


class _FakeDeepSVDD(_FakePeer):
    def __init__(self, n_features: int, epoch_num: int = 10, random_state: int | None = None,
                 verbose: int = 1) -> None:  # fmt: skip
        super().__init__(epoch_num=epoch_num, random_state=random_state, verbose=verbose)
        SEEN["DeepSVDD"] = {**SEEN.pop(type(self).__name__), "n_features": n_features}


class _FakeAnoGAN(_FakePeer):
    def fit(self, X: np.ndarray) -> _FakePeer:
        raise RuntimeError("boom")


def _fake_pyod(monkeypatch: pytest.MonkeyPatch) -> None:
    """Install a fake ``pyod`` package with the seven peer classes."""
    from historyad.evaluation.peers import PEERS

    monkeypatch.setitem(sys.modules, "pyod", types.ModuleType("pyod"))
    monkeypatch.setitem(sys.modules, "pyod.models", types.ModuleType("pyod.models"))
    special = {"DeepSVDD": _FakeDeepSVDD, "AnoGAN": _FakeAnoGAN}
    for module, cls in PEERS.values():
        mod = types.ModuleType(module)
        setattr(mod, cls, special.get(cls, type(cls, (_FakePeer,), {})))
        monkeypatch.setitem(sys.modules, module, mod)


def test_peers_with_a_fake_pyod(monkeypatch: pytest.MonkeyPatch) -> None:
    from historyad.evaluation.peers import PEERS, pyod_available, run_peers

    _fake_pyod(monkeypatch)
    assert pyod_available()
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(50, 1, 4, 4)).astype(np.float32)
    X_test = np.concatenate([rng.normal(size=(20, 1, 4, 4)), 4 + rng.normal(size=(10, 1, 4, 4))])
    y_test = np.r_[np.zeros(20, int), np.ones(10, int)]
    peers = {label: {"epochs": 2} for label in PEERS}
    records, notes = run_peers(peers, X_train, X_test.astype(np.float32), y_test, seed=3,
                               dataset="mnist", protocol="p", anomaly="1", digit=1)  # fmt: skip
    assert [r["detector"] for r in records] == [k for k in PEERS if k != "pyod-anogan"]
    assert all(r["auprc"] == pytest.approx(1.0) and r["digit"] == 1 for r in records)
    assert len(notes) == 1 and "pyod-anogan failed" in notes[0] and "boom" in notes[0]
    assert SEEN["DeepSVDD"] == {"epoch_num": 2, "n_features": 16, "random_state": 3, "verbose": 0}


def test_peers_skipped_without_pyod(monkeypatch: pytest.MonkeyPatch) -> None:
    from historyad.evaluation.peers import run_peers

    monkeypatch.setitem(sys.modules, "pyod", None)  # import fails
    X = np.zeros((4, 1, 2, 2), np.float32)
    records, notes = run_peers({"pyod-knn": {}}, X, X, np.array([0, 0, 1, 1]), seed=0,
                               dataset="d", protocol="p", anomaly="a")  # fmt: skip
    assert records == [] and "PyOD is not installed" in notes[0]


def test_mnist_vs_kmnist(shared_data: Path, tmp_path: Path) -> None:
    records, metrics, report = _run("mnist-vs-kmnist", tmp_path, shared_data,
                                    n_val_normal=100, n_val_anomaly=100)  # fmt: skip
    _check_records(records, metrics)
    assert [r["detector"] for r in records] == [
        "historyad", "historyad-knn", "historyad-no-training", "critic", "encoder", "knn"]
    assert all(r["anomaly"] == "kmnist" and r["n_train"] == 300 for r in records)
    assert records[0]["n_test"] <= 200
    along = metrics["along_dtv_training"]
    assert along["detector"] == "historyad" and along["step"] == [20]
    assert len(along["val_auprc"]) == 1 and 0 <= along["val_auprc"][0] <= 1
    assert -1 <= along["tv"][0] <= 1
    assert "VALIDATION set" in report and "not the test set" in report
    _check_pngs(tmp_path, ["score_densities", "score_densities_per_class", "along_dtv_training"])


def test_mnist_noise(shared_data: Path, tmp_path: Path) -> None:
    records, metrics, report = _run("mnist-noise", tmp_path, shared_data, sigmas=[0.1, 1.0],
                                    detectors=["historyad", "critic", "knn"])  # fmt: skip
    _check_records(records, metrics)
    assert [(r["detector"], r["anomaly"]) for r in records] == [
        (d, s) for d in ("historyad", "critic", "knn") for s in ("sigma=0.1", "sigma=1")
    ]
    assert all(r["n_test"] == 400 for r in records)  # 200 clean + 200 noisy
    knn = {r["sigma"]: r["auprc"] for r in records if r["detector"] == "knn"}
    assert knn[1.0] > 0.9  # heavy noise is easy for raw-pixel kNN
    assert "| sigma=0.1 | sigma=1 |" in report.replace(" mean |", "")
    _check_pngs(tmp_path, ["score_densities_per_sigma", "auprc_vs_sigma", "noisy_examples"])


def test_mnist_interpolation(shared_data: Path, tmp_path: Path) -> None:
    records, metrics, report = _run("mnist-interpolation", tmp_path, shared_data,
                                    n_draws=40, n_steps=5)  # fmt: skip
    _check_records(records, metrics)
    path = metrics["interpolation"]
    assert path["t"] == [0.0, 0.25, 0.5, 0.75, 1.0] and len(path["scores"]) == 5
    i1, i2 = path["endpoint_draws"]
    assert i1 != i2 and path["endpoint_scores"][0] <= path["endpoint_scores"][1]
    assert path["max_score"] == max(path["scores"])
    assert "| t | score |" in report
    _check_pngs(tmp_path, ["interpolation_path", "draws_lowest_highest"])


def test_saves_per_epoch(shared_data: Path, tmp_path: Path) -> None:
    records, metrics, report = _run("saves-per-epoch", tmp_path, shared_data, settings=[1, 5])
    _check_records(records, metrics)
    assert [(r["saves_per_epoch"], r["detector"]) for r in records] == [
        (s, d) for s in (1, 5) for d in ("historyad", "historyad-knn", "historyad-no-training")
    ]
    eff = {r["saves_per_epoch"]: r["effective_saves_per_epoch"] for r in records}
    assert eff == {1: 1, 5: 3}  # capped at the 3 generator iterations per epoch
    assert "| saves / epoch | effective |" in report
    _check_pngs(tmp_path, ["auprc_vs_saves_per_epoch"])


def test_svhn_vs_others_reports_every_missing_dataset(tmp_path: Path) -> None:
    (tmp_path / "cifar10").mkdir()  # present folder, missing file
    with pytest.raises(FileNotFoundError) as err:
        _run("svhn-vs-others", tmp_path / "out", tmp_path)
    msg = str(err.value)
    for name in ("svhn", "celeba", "tiny-imagenet"):
        assert f"  - {name}: looked for {tmp_path / name}/" in msg
    assert "cifar10" in msg and "3 missing" in msg


def test_svhn_vs_others_missing_in_shared_data(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="4 missing below"):
        _run("svhn-vs-others", tmp_path, shared_data)


def _images(name: str, n_train: int, n_test: int, shift: float, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    X = np.clip(shift + 0.3 * rng.standard_normal((n, 3, 32, 32)), -1, 1).astype(np.float32)
    return Dataset(name, X, np.zeros(n, np.int64), [name], np.arange(n) < n_train, "image")


def test_svhn_vs_others_on_synthetic_images(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:  # fmt: skip
    from historyad.evaluation.experiments import svhn_others

    fake = {"svhn": _images("svhn", 200, 100, -0.3, 0),
            "cifar10": _images("cifar10", 50, 80, 0.5, 1),
            "celeba": _images("celeba", 90, 0, 0.2, 2),  # no test split: all of it is used
            "tiny-imagenet": _images("tiny-imagenet", 60, 40, 0.8, 3)}  # fmt: skip
    calls: list[tuple[str, dict]] = []

    def load(name: str, root: str | None, **params: Any) -> Dataset:
        calls.append((name, params))
        return fake[name]

    monkeypatch.setattr(svhn_others, "load_dataset", load)
    data = tmp_path / "data"
    for name in fake:
        (data / name).mkdir(parents=True)
    out = tmp_path / "out"
    records, metrics, report = _run("svhn-vs-others", out, data, max_train=None, max_test=None,
                                    detectors=["historyad", "critic", "knn"])  # fmt: skip
    _check_records(records, metrics)
    assert ("celeba", {"limit": 20000}) in calls and ("cifar10", {}) in calls
    assert [(r["anomaly"], r["detector"]) for r in records] == [
        (o, d) for o in ("cifar10", "celeba", "tiny-imagenet")
        for d in ("historyad", "critic", "knn")
    ]
    sets = metrics["test_sets"]
    assert sets["celeba"] == {"n_test": 190, "n_test_anomaly": 90, "other_split": "all"}
    assert sets["cifar10"]["n_test_anomaly"] == 80 and all(r["n_train"] == 200 for r in records)
    knn = [r["auprc"] for r in records if r["detector"] == "knn"]
    assert min(knn) > 0.9  # shifted synthetic images are easy
    assert "| seed 000 HistoryAD (Table 1) | 0.941 | 0.976 | 0.949 |" in report
    assert "One epoch = 2 generator iterations here (the whole SVHN" in report
    _check_pngs(out, ["score_densities", "auprc_per_dataset"])


@pytest.mark.parametrize(
    ("module", "cls", "checks"),
    [
        ("mnist_loo", "MnistLOOConfig", {"digits": [0, 1], "max_train": 4000}),
        ("mnist_kmnist", "MnistKMNISTConfig", {"n_val_normal": 500, "max_train": None}),
        ("mnist_noise", "MnistNoiseConfig", {"max_test": 1000, "max_train": None}),
        ("mnist_interpolation", "MnistInterpolationConfig", {"n_draws": 1000, "max_train": None}),
        ("saves_per_epoch", "SavesPerEpochConfig", {"settings": [1, 3, 9], "max_train": 3000}),
        ("svhn_others", "SvhnOthersConfig", {"folder_limit": 2000, "max_train": 6000}),
    ],
)
def test_quick_and_full_schedules(module: str, cls: str, checks: dict, tmp_path: Path) -> None:
    import importlib

    mod = importlib.import_module(f"historyad.evaluation.experiments.{module}")
    klass = getattr(mod, cls)
    full = build_config(klass, RunContext(out_dir=tmp_path), mod.QUICK)
    paper_score = ({"score": "dtv", "estimator": "network"} if module == "mnist_interpolation"
                   else {})  # Fig. 8: the raw D_TV network
    assert full.gan == {"n_epochs": 5.0, "net_size": "paper", "min_iterations": 0}
    assert full.historyad == paper_score
    assert full.max_train is None and full.fit_max == {"inversion": 512}
    quick = build_config(klass, RunContext(out_dir=tmp_path, quick=True), mod.QUICK)
    assert quick.gan["net_size"] == "cpu" and quick.historyad["dtv_steps"] < 1500
    # capped data keeps 5 (short) epochs; the whole training split trains 1.5 epochs
    assert quick.gan["n_epochs"] == (5.0 if checks["max_train"] else 1.5)
    if checks["max_train"] is None:
        assert quick.fit_max == {"inversion": 512, "encoder": 6000, "knn": 10000,
                                 "historyad": 10000}
    for key, value in checks.items():
        assert getattr(quick, key) == value
    over = build_config(klass, RunContext(out_dir=tmp_path, quick=True,
                                          config={"gan": {"width": 8}}), mod.QUICK)  # fmt: skip
    assert over.gan == {**quick.gan, "width": 8}


def test_bad_settings_fail_before_loading_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown"):
        _run("mnist-noise", tmp_path, tmp_path / "nowhere", detectors=["historyad", "lof"])
    with pytest.raises(ValueError, match=r"\[experiment.gan\] keys \['lr'\]"):
        _run("mnist-vs-kmnist", tmp_path, tmp_path / "nowhere", gan={"lr": 1.0})
