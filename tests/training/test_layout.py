"""Module layout of the training layer: one concept per module, old import paths kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import historyad
import historyad.training as training
from historyad.training import (
    average,
    budget,
    history,
    resume,
    run,
    sampling,
    stores,
    time_law,
    trainer,
)

# name -> the module that defines it; history / trainer / the package re-export them
HOMES = {
    "sample_times": time_law,
    "time_cdf": time_law,
    "time_density": time_law,
    "snapshot_weights": average,
    "OnlineWeightedAverage": average,
    "SnapshotStore": stores,
    "MemorySnapshotStore": stores,
    "DiskSnapshotStore": stores,
    "make_store": stores,
    "resolve_store": budget,
    "HistorySampler": sampling,
}


@pytest.mark.parametrize("name", sorted(HOMES))
def test_history_reexports_each_concept(name: str) -> None:
    assert getattr(history, name) is getattr(HOMES[name], name)
    assert getattr(HOMES[name], name).__module__ == HOMES[name].__name__


def test_trainer_and_package_reexports() -> None:
    assert trainer.GANRun is run.GANRun is training.GANRun
    assert trainer.RECORD_KEYS is run.RECORD_KEYS is training.RECORD_KEYS
    assert trainer.resolve_store is budget.resolve_store
    assert resume.KEEP_CHECKPOINTS >= 1
    assert set(training.__all__) >= {"train_gan", "GANRun", "critic_step", "CheckpointError"}
    assert all(hasattr(training, name) for name in training.__all__)


def test_nn_does_not_import_training() -> None:
    code = (
        "import sys, historyad.nn; "
        "bad = sorted(m for m in sys.modules if m.startswith('historyad.training')); "
        "assert not bad, bad"
    )
    src = str(Path(historyad.__file__).parents[1])  # this checkout's sources first
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
