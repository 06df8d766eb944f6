"""One knob, one name: the config dataclasses' fields carry the detector parameters' names,
and configs saved under the fields' former names (``RENAMED_FIELDS``) still load.

``tests/fixtures/*_before_renames.*`` were written by historyad before the rename (commit
83dc432): a tiny fitted HistoryAD (``det.save``), the GANRun it trained (``run.save``, whose
metadata holds the configs under the old names) and test inputs with their scores then."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from historyad.config import DTVConfig, GANConfig, HistoryConfig, NetConfig, from_dict, to_dict
from historyad.detectors.base import BaseDetector
from historyad.detectors.history_ad import HistoryAD

FIXTURES = Path(__file__).parent / "fixtures"
CONFIGS = (GANConfig, NetConfig, HistoryConfig, DTVConfig)
# config fields that no detector parameter sets (each keeps its own name)
NO_DETECTOR_PARAMETER = {
    GANConfig: {"clip", "optimizer", "betas", "lr_decay", "checkpoint_dir"},
    NetConfig: set(),
    HistoryConfig: {"memory_budget_mb", "store_dir", "store_dtype", "record_critic"},
    DTVConfig: {"betas"},
}
# every detector parameter that reaches a config, at a value other than its default
SET = dict(loss="wgan-gp", n_epochs=3.0, batch_size=16, n_critic=3, gp_lambda=5.0,
           gan_lr=2e-4, min_iterations=7, net_size="paper", width=8, latent_dim=3,
           random_state=11, progress=True, device="cpu", saves_per_epoch=9, alpha=0.5,
           beta=2.0, history_store="disk", lam=4.0, case=2, wide_std=1.5, dtv_steps=13,
           dtv_lr=3e-3, dtv_gp=0.5, dtv_noise=0.2)


def test_each_config_field_carries_its_detector_parameter_name() -> None:
    det = HistoryAD(**SET)
    configs = (*det.training_configs(), det._dtv_config())
    params = det.get_params()
    for cfg in configs:
        assert cfg is not None
        for f in dataclasses.fields(cfg):
            if f.name in NO_DETECTOR_PARAMETER[type(cfg)]:
                assert f.name not in params, f"{type(cfg).__name__}.{f.name}"
                continue
            assert f.name in params, f"{type(cfg).__name__}.{f.name} has no detector parameter"
            assert getattr(cfg, f.name) == SET[f.name], f"{type(cfg).__name__}.{f.name}"


@pytest.mark.parametrize("cls", CONFIGS)
def test_renamed_fields_map_old_names_to_current_fields(cls: type) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    for old, new in cls.RENAMED_FIELDS.items():
        assert old not in names and new in names


@pytest.mark.parametrize("cls", CONFIGS)
def test_from_dict_reads_a_config_saved_under_the_old_names(cls: type) -> None:
    current = cls()
    new_to_old = {new: old for old, new in cls.RENAMED_FIELDS.items()}
    old_style = {new_to_old.get(k, k): v for k, v in to_dict(current).items()}
    assert from_dict(cls, json.loads(json.dumps(old_style))) == current
    assert from_dict(cls, to_dict(current)) == current


def test_from_dict_old_style_values_land_in_the_renamed_fields() -> None:
    old = {"n_steps": 7, "lr": 1e-3, "gp_lambda": 1.0, "noise": 0.1, "lam": 5.0}
    assert from_dict(DTVConfig, old) == DTVConfig(dtv_steps=7, dtv_lr=1e-3, dtv_gp=1.0,
                                                 dtv_noise=0.1, lam=5.0)
    assert from_dict(GANConfig, {"lr": 3e-4, "seed": 4, "gp_lambda": 2.0}) == GANConfig(
        gan_lr=3e-4, random_state=4, gp_lambda=2.0)


def test_from_dict_refuses_an_old_and_a_new_name_together() -> None:
    with pytest.raises(ValueError, match=r"'lr' and 'gan_lr' both given"):
        from_dict(GANConfig, {"lr": 1e-4, "gan_lr": 1e-4})
    with pytest.raises(ValueError, match=r"'size' and 'net_size'"):
        from_dict(NetConfig, {"size": "cpu", "net_size": "cpu"})
    with pytest.raises(ValueError, match=r"unknown GANConfig keys \['lrr'\]"):
        from_dict(GANConfig, {"lrr": 1e-4})


def test_gan_run_saved_before_the_rename_gives_todays_configs() -> None:
    with safe_open(str(FIXTURES / "gan_run_before_renames.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["historyad"])
    assert "lr" in meta["gan_config"] and "size" in meta["net_config"]  # the old names
    det = HistoryAD(n_epochs=1.5, min_iterations=20, width=8, latent_dim=2, random_state=3,
                    batch_size=32, dtv_steps=5, saves_per_epoch=5, alpha=0.5)
    gan, net, history = det.training_configs()
    assert from_dict(GANConfig, meta["gan_config"]) == gan
    assert from_dict(NetConfig, meta["net_config"]) == net
    # the run saved the store that "auto" resolved to
    assert from_dict(HistoryConfig, meta["history_config"]) == dataclasses.replace(
        history, history_store="memory")


def test_detector_saved_before_the_rename_loads_and_scores_as_then() -> None:
    expected = json.loads((FIXTURES / "before_renames.json").read_text())
    det = BaseDetector.load(FIXTURES / "historyad_before_renames.safetensors")
    assert isinstance(det, HistoryAD) and det.dtv_steps == 5 and det.random_state == 3
    scores = det.decision_function(np.asarray(expected["X_test"], dtype=np.float32))
    np.testing.assert_allclose(scores, expected["scores"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("cls", "data", "expected"),
    [
        (GANConfig, [1], "a GANConfig must be a table"),
        (NetConfig, {1: "cpu"}, "NetConfig keys must be strings"),
        (GANConfig, {"betas": [0.5]}, "GANConfig: betas=(0.5,) is not allowed"),
        (GANConfig, {"betas": 3}, "GANConfig: betas=3 is not allowed"),
        (GANConfig, {"batch_size": "64"}, "GANConfig: batch_size='64' is not allowed"),
        (GANConfig, {"progress": "no"}, "GANConfig: progress='no' is not allowed"),
        (GANConfig, {"lr_decay": -1.0}, "GANConfig: lr_decay=-1.0 is not allowed"),
        (GANConfig, {"random_state": -1}, "GANConfig: random_state=-1 is not allowed"),
        (GANConfig, {"checkpoint_dir": 3}, "GANConfig: checkpoint_dir=3 is not allowed"),
        (HistoryConfig, {"store_dir": ["a"]}, "HistoryConfig: store_dir=['a'] is not allowed"),
        (HistoryConfig, {"record_critic": "yes"}, "HistoryConfig: record_critic='yes'"),
        (HistoryConfig, {"beta": "3"}, "HistoryConfig: beta='3' is not allowed"),
        (DTVConfig, {"betas": (0.5, 1.5)}, "DTVConfig: betas=(0.5, 1.5) is not allowed"),
    ],
)
def test_from_dict_errors_name_the_class_the_key_and_the_value(cls, data, expected) -> None:
    """A config read back from a file (checkpoint, GANRun.save, config.json) is checked field
    by field: every problem is one ValueError, never an IndexError or a TypeError."""
    with pytest.raises(ValueError, match=re.escape(expected)):
        from_dict(cls, data)


def test_betas_read_back_as_a_tuple_of_floats() -> None:
    assert from_dict(DTVConfig, {"betas": [0, 0.5]}).betas == (0.0, 0.5)
    assert from_dict(GANConfig, {"betas": [0, 0.5]}).betas == (0.0, 0.5)
