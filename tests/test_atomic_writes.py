"""Outputs are written temp-file-then-rename (``historyad.training._atomic``): a write that
fails half way leaves the previous file whole and no temporary file behind. Checked for the
helper and for its users: GANRun.save, metrics.json / config.json and report.md."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from historyad.training import _atomic
from historyad.training._atomic import atomic_path, write_atomic


class DiskFull(OSError):
    pass


@pytest.fixture
def failing_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename into place fails (as a crash between the write and the rename would)."""

    def fail(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise DiskFull(28, "No space left on device")

    monkeypatch.setattr(_atomic.os, "replace", fail)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_atomic_replaces_whole_files_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "a.json"
    assert write_atomic(path, "one") == path and path.read_text() == "one"
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two"
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer crashed")
    assert path.read_text() == "two" and leftovers(path.parent) == []
    with pytest.raises(FileNotFoundError), atomic_path(path):
        pass  # a writer that wrote nothing
    assert path.read_text() == "two"


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, failing_rename: None) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(DiskFull):
        write_atomic(path, "new")
    assert path.read_text() == "old" and leftovers(tmp_path) == []


def test_metrics_config_and_report_are_written_atomically(tmp_path: Path,
                                                          failing_rename: None) -> None:
    from historyad.evaluation.experiments.common import RunContext
    from historyad.evaluation.report import write_metrics

    for name in ("metrics.json", "config.json", "report.md"):
        (tmp_path / name).write_text("previous run")
    with pytest.raises(DiskFull):
        write_metrics(tmp_path, [{"auprc": 0.5}], config={"seed": 1})
    ctx = RunContext(out_dir=tmp_path)
    with pytest.raises(DiskFull):
        ctx.finish([], resolved_config={}, report_md="# new")
    for name in ("metrics.json", "config.json", "report.md"):
        assert (tmp_path / name).read_text() == "previous run", name
    assert leftovers(tmp_path) == []


def test_metrics_and_config_round_trip(tmp_path: Path) -> None:
    from historyad.evaluation.report import write_metrics

    path = write_metrics(tmp_path, [{"auprc": np.float32(0.5)}], config={"seed": 1})
    assert json.loads(path.read_text())["results"] == [{"auprc": 0.5}]
    assert json.loads((tmp_path / "config.json").read_text()) == {"seed": 1}


def test_gan_run_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from historyad.config import GANConfig, NetConfig
    from historyad.training import run as run_module
    from historyad.training import train_gan

    torch.set_num_threads(1)
    X = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    gan = train_gan(X, GANConfig(n_epochs=1, batch_size=32, n_critic=1), NetConfig(width=4))
    path = gan.save(tmp_path / "gan.safetensors")
    before = path.read_bytes()

    def crash(tensors: dict, filename: str, metadata: dict | None = None) -> None:
        Path(filename).write_bytes(b"half a safetensors file")
        raise KeyboardInterrupt  # killed in the middle of the write

    monkeypatch.setattr(run_module, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        gan.save(path)
    assert path.read_bytes() == before and leftovers(tmp_path) == []
