"""Models that load anywhere: a GPU-tagged file on this CPU machine, a chosen device, files
from a newer version, missing or mis-shaped tensors named, keyed signatures (HMAC), and
the calibration set and labels surviving a round trip."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from historyad.detectors.base import BaseDetector, DetectorFileError
from historyad.detectors.knn import KNNDetector
from historyad.detectors.persistence import (
    HMAC_KEY,
    NewerVersionWarning,
    _digest,
    resolve_device,
)
from tests.detectors.test_contract import NAMES, make, normal_and_shifted


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return normal_and_shifted(240, 10)


@pytest.fixture(scope="module")
def saved(data: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    """Each detector fitted with a calibration set, and its file."""
    folder = tmp_path_factory.mktemp("saved")
    out = {}
    for name in NAMES:
        det = make(name).fit(data[0], calibration=0.25)
        out[name] = (det, det.save(folder / f"{name}.safetensors"))
    return out


def rewrite(src: Path, dst: Path, *, meta_fn: Any = None, tensors_fn: Any = None,
            keep_header: bool = False) -> Path:
    """Copy a detector file with its metadata and/or tensors changed and a valid SHA-256
    (what a newer version, a GPU machine or a buggy writer would produce). ``keep_header``
    keeps the other header entries (a signature) as they were."""
    tensors = load_file(str(src))
    with safe_open(str(src), framework="pt") as f:
        header = dict(f.metadata())
    meta = json.loads(header["historyad"])
    if meta_fn:
        meta_fn(meta)
    if tensors_fn:
        tensors_fn(tensors)
    meta_json = json.dumps(meta, sort_keys=True)
    new = {"historyad": meta_json, "sha256": _digest(tensors, meta_json)}
    if keep_header:
        new = {**header, **new}
    save_file(tensors, str(dst), metadata=new)
    return dst


# -- a file written on a GPU machine ------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_gpu_tagged_file_loads_and_scores_on_the_cpu(
    name: str, data: Any, saved: dict, tmp_path: Path
) -> None:
    det, path = saved[name]
    gpu = rewrite(path, tmp_path / "gpu.safetensors",
                  meta_fn=lambda m: m["params"].update(device="cuda"))
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the file would load on the GPU")
    loaded = BaseDetector.load(gpu)
    assert loaded.device == "cpu" and loaded.get_params()["device"] == "cpu"
    np.testing.assert_allclose(loaded.decision_function(data[1]), det.decision_function(data[1]),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(data[1]), det.predict(data[1]))
    np.testing.assert_allclose(loaded.p_values(data[1]), det.p_values(data[1]))
    explicit = BaseDetector.load(gpu, device="cpu")
    assert explicit.device == "cpu"


def test_device_resolution() -> None:
    assert resolve_device("cpu", None) == "cpu"
    assert resolve_device("cuda:0", "cpu") == "cpu"  # the caller's choice wins
    if not torch.cuda.is_available():
        assert resolve_device("cuda", None) == "cpu"
        assert resolve_device("cuda:3", None) == "cpu"
    assert resolve_device("nonsense-device", None) == "cpu"
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("cpu", "nonsense-device")


# -- versions ------------------------------------------------------------------------------
def test_file_from_a_newer_version_warns_and_loads(saved: dict, data: Any,
                                                   tmp_path: Path) -> None:
    det, path = saved["knn"]
    newer = rewrite(path, tmp_path / "newer.safetensors",
                    meta_fn=lambda m: m.update(version="99.0.0"))
    with pytest.warns(NewerVersionWarning, match="99.0.0"):
        loaded = BaseDetector.load(newer)
    np.testing.assert_array_equal(loaded.decision_function(data[1]),
                                  det.decision_function(data[1]))
    with warnings.catch_warnings():  # the same version does not warn
        warnings.simplefilter("error")
        BaseDetector.load(path)


def test_newer_file_with_an_unknown_parameter_says_upgrade(saved: dict, tmp_path: Path) -> None:
    _, path = saved["knn"]

    def future(meta: dict) -> None:
        meta.update(version="1.2.0")
        meta["params"]["metric_of_the_future"] = "x"

    with pytest.warns(NewerVersionWarning), pytest.raises(DetectorFileError) as err:
        BaseDetector.load(rewrite(path, tmp_path / "future.safetensors", meta_fn=future))
    assert "metric_of_the_future" in str(err.value) and "upgrade" in str(err.value)


# -- missing and mis-shaped tensors ------------------------------------------------------------
def _first_state_tensor(path: Path) -> str:
    keys = sorted(k for k in load_file(str(path)) if k.startswith("state."))
    assert keys
    return keys[0]


@pytest.mark.parametrize("name", NAMES)
def test_missing_tensor_is_named(name: str, saved: dict, tmp_path: Path) -> None:
    _, path = saved[name]
    victim = _first_state_tensor(path)
    bad = rewrite(path, tmp_path / "missing.safetensors",
                  tensors_fn=lambda t: t.pop(victim))
    with pytest.raises(DetectorFileError, match=victim.replace(".", r"\.")):
        BaseDetector.load(bad)


@pytest.mark.parametrize("name", NAMES)
def test_mis_shaped_tensor_is_named(name: str, saved: dict, tmp_path: Path) -> None:
    _, path = saved[name]
    victim = _first_state_tensor(path)

    def widen(tensors: dict) -> None:
        t = tensors[victim]
        tensors[victim] = torch.cat([t, t[..., :1]], dim=-1).contiguous()  # one more column

    bad = rewrite(path, tmp_path / "shape.safetensors", tensors_fn=widen)
    with pytest.raises(DetectorFileError, match=victim.replace(".", r"\.")):
        BaseDetector.load(bad)


@pytest.mark.parametrize("victim", ["fitted.decision_scores", "fitted.mean", "fitted.scale"])
def test_missing_fitted_arrays_are_named(victim: str, saved: dict, tmp_path: Path) -> None:
    _, path = saved["critic"]
    bad = rewrite(path, tmp_path / "nofit.safetensors", tensors_fn=lambda t: t.pop(victim))
    with pytest.raises(DetectorFileError, match=victim.replace(".", r"\.")):
        BaseDetector.load(bad)
    odd = rewrite(path, tmp_path / "odd.safetensors",
                  tensors_fn=lambda t: t.update({victim: t[victim][:2].reshape(1, 2)}))
    with pytest.raises(DetectorFileError, match=victim.replace(".", r"\.")):
        BaseDetector.load(odd)


# -- keyed signatures ---------------------------------------------------------------------------
def test_signed_file_verifies_only_with_its_key(saved: dict, data: Any, tmp_path: Path) -> None:
    det, _ = saved["critic"]
    signed = det.save(tmp_path / "signed.safetensors", key="s3cret")
    unsigned = det.save(tmp_path / "unsigned.safetensors")
    loaded = BaseDetector.load(signed, key="s3cret")
    np.testing.assert_array_equal(loaded.decision_function(data[1]),
                                  det.decision_function(data[1]))
    BaseDetector.load(signed, key=b"s3cret")  # bytes keys too
    BaseDetector.load(signed)  # no key given: no signature check
    with pytest.raises(DetectorFileError, match="another key"):
        BaseDetector.load(signed, key="wrong")
    with pytest.raises(DetectorFileError, match="not signed"):
        BaseDetector.load(unsigned, key="s3cret")
    # tampering: change the threshold and recompute the SHA-256, keeping the old signature
    forged = rewrite(signed, tmp_path / "forged.safetensors",
                     meta_fn=lambda m: m.update(threshold=1e9), keep_header=True)
    with safe_open(str(forged), framework="pt") as f:
        assert HMAC_KEY in f.metadata()
    assert BaseDetector.load(forged).threshold_ == 1e9  # the SHA-256 alone cannot tell
    with pytest.raises(DetectorFileError, match="HMAC"):
        BaseDetector.load(forged, key="s3cret")
    with pytest.raises(ValueError, match="key"):
        det.save(tmp_path / "x.safetensors", key="")


# -- what a round trip keeps ----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_round_trip_keeps_labels_and_calibration(name: str, saved: dict, data: Any) -> None:
    det, path = saved[name]
    loaded = BaseDetector.load(path)
    np.testing.assert_array_equal(loaded.labels_, det.labels_)
    np.testing.assert_array_equal(loaded.calibration_scores_, det.calibration_scores_)
    np.testing.assert_array_equal(loaded.p_values(data[1]), det.p_values(data[1]))
    np.testing.assert_array_equal(loaded.predict(data[1], alpha=0.1),
                                  det.predict(data[1], alpha=0.1))
    np.testing.assert_allclose(loaded.predict_proba(data[1]), det.predict_proba(data[1]))


def test_uncalibrated_file_loads_without_p_values(data: Any, tmp_path: Path) -> None:
    det = KNNDetector().fit(data[0])
    loaded = BaseDetector.load(det.save(tmp_path / "plain.safetensors"))
    assert loaded.calibration_scores_ is None
    with pytest.raises(ValueError, match="calibration"):
        loaded.p_values(data[1])
    loaded.calibrate(data[0][:50])  # a loaded model can be calibrated where it runs
    assert loaded.p_values(data[1]).shape == (len(data[1]),)


def test_training_records_survive_save_and_load(tmp_path) -> None:
    """The GAN's training curves (and HistoryAD's D_TV records) are kept in the model file:
    ``training_records_`` after a load equals ``gan_.records`` after the fit."""
    import numpy as np

    from historyad.detectors import BaseDetector, HistoryAD

    X = np.random.default_rng(0).normal(size=(120, 3)).astype(np.float32)
    det = HistoryAD(n_epochs=2.0, alpha=1.0, saves_per_epoch=2, min_iterations=6,
                    batch_size=16, width=8, dtv_steps=4).fit(X)
    path = det.save(tmp_path / "h.safetensors")
    back = BaseDetector.load(path)
    recs = det.gan_.records
    assert len(recs["epoch"]) >= 6
    assert set(back.training_records_) >= {"epoch", "gen_iter", "wasserstein"}
    for key, values in back.training_records_.items():
        np.testing.assert_allclose(values, recs[key])
    # a loaded model writes the same curves as the fitted one
    from historyad.evaluation.filejobs import save_training_records

    written = save_training_records(back, tmp_path)
    assert (tmp_path / "training.csv") in written and (tmp_path / "training.png").is_file()
    assert sum(1 for _ in (tmp_path / "training.csv").open()) == len(recs["epoch"]) + 1
