"""Checkpoints: codec round trip, no pickle, atomic layout, clear errors on damaged files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from historyad.training.checkpoint import (
    CheckpointError,
    checkpoint_name,
    decode_state,
    encode_state,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)


def optimizer_state() -> dict:
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    return opt.state_dict()


def test_codec_round_trip_of_optimizer_state_and_odd_values() -> None:
    state = {
        "opt": optimizer_state(),
        "arr": np.arange(5, dtype=np.float64),
        "tup": (1, "a", None, 2.5, True),
        "rng": torch.Generator().manual_seed(3).get_state(),
        "view": torch.arange(10.0)[2:5],
        "nested": [{"x": torch.tensor(1.5)}],
    }
    tree, tensors = encode_state(state)
    json.dumps(tree)  # JSON-ready skeleton
    assert "opt.state.0.exp_avg" in tensors
    back = decode_state(json.loads(json.dumps(tree)), tensors)
    assert set(back["opt"]["state"]) == {0, 1}  # int keys survive
    assert back["opt"]["param_groups"][0]["betas"] == (0.5, 0.9)
    for k, v in state["opt"]["state"][0].items():
        assert torch.equal(back["opt"]["state"][0][k], v)
    np.testing.assert_array_equal(back["arr"], state["arr"])
    assert back["tup"] == state["tup"]
    assert torch.equal(back["rng"], state["rng"]) and torch.equal(back["view"], state["view"])
    assert back["nested"][0]["x"].item() == 1.5
    with pytest.raises(TypeError, match="object"):
        encode_state({"bad": object()})


def test_save_load_layout_and_latest(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    for it in (4, 8, 12):
        save_checkpoint(
            tmp_path / checkpoint_name(it),
            {"generator": model.state_dict(), "optim": optimizer_state()},
            {"progress": {"gen_iter": it}},
        )
    files = sorted(p.name for p in (tmp_path / checkpoint_name(12)).iterdir())
    assert files == ["generator.safetensors", "optim.safetensors", "state.json"]
    assert latest_checkpoint(tmp_path) == tmp_path / checkpoint_name(12)
    ckpt = load_checkpoint(tmp_path)  # the root: the latest checkpoint is read
    assert ckpt["meta"]["progress"]["gen_iter"] == 12
    assert torch.equal(ckpt["generator"]["weight"], model.weight)
    prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == [checkpoint_name(8), checkpoint_name(12)]
    assert not list(tmp_path.glob(".*"))  # no temporary leftovers


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_file_names_the_file(tmp_path: Path, damage: str) -> None:
    path = save_checkpoint(tmp_path / "ckpt", {"critic": {"w": torch.randn(64, 64)}})
    file = path / "critic.safetensors"
    data = file.read_bytes()
    if damage == "truncate":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        file.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    else:
        file.unlink()
    with pytest.raises(CheckpointError, match=r"critic\.safetensors"):
        load_checkpoint(path)


def test_truncated_header_is_wrapped(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "ckpt", {"critic": {"w": torch.ones(3)}})
    doc = json.loads((path / "state.json").read_text())
    doc["sha256"] = {}  # bypass the digest: safetensors' own error must be wrapped
    (path / "state.json").write_text(json.dumps(doc))
    (path / "critic.safetensors").write_bytes(b"\x07\x00")
    with pytest.raises(CheckpointError, match=r"critic\.safetensors.*unreadable"):
        load_checkpoint(path)
    (path / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"state\.json"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "ckpt" / "..")  # a root without ckpt-* folders


# ------------------------------------------------------------------------------ crash leftovers


def dead_pid() -> int:
    """The id of a process that has ended (a child that exited and was reaped)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_crashed_save_leaves_nothing_after_the_next_save(tmp_path: Path) -> None:
    from historyad.training.checkpoint import clean_stale

    save_checkpoint(tmp_path / checkpoint_name(4), {"g": {"w": torch.ones(2)}})
    # what a save killed mid-write (SIGKILL, power loss) leaves: a hidden temporary folder
    pid = dead_pid()
    stale = tmp_path / f".{checkpoint_name(8)}.tmp-{pid}-0123abcd"
    stale.mkdir()
    (stale / "g.safetensors").write_bytes(b"half a file")
    # a save of a live process (here: this one) is in progress: never touched
    live = tmp_path / f".{checkpoint_name(8)}.tmp-{os.getpid()}-4567abcd"
    live.mkdir()
    save_checkpoint(tmp_path / checkpoint_name(12), {"g": {"w": torch.ones(2)}})
    assert not stale.exists() and live.exists()
    assert [p.name for p in list_checkpoints(tmp_path)] == [checkpoint_name(4),
                                                            checkpoint_name(12)]
    live.rmdir()
    # killed between moving the old checkpoint aside and renaming the new one in: the old
    # one is put back; when the new one made it, the moved-aside copy is removed
    aside = tmp_path / f".{checkpoint_name(4)}.old-{pid}-89abcdef"
    os.replace(tmp_path / checkpoint_name(4), aside)
    save_checkpoint(tmp_path / checkpoint_name(12), {"g": {"w": torch.zeros(2)}})
    (tmp_path / f".{checkpoint_name(12)}.old-{pid}-89abcdef").mkdir()
    assert clean_stale(tmp_path) == [tmp_path / f".{checkpoint_name(12)}.old-{pid}-89abcdef"]
    assert load_checkpoint(tmp_path / checkpoint_name(4))["g"]["w"].tolist() == [1.0, 1.0]
    assert not list(tmp_path.glob(".*"))


def test_resume_cleans_stale_leftovers(tmp_path: Path) -> None:
    from historyad.training.checkpoint import load_latest_checkpoint

    save_checkpoint(tmp_path / checkpoint_name(4), {"g": {"w": torch.ones(2)}})
    stale = tmp_path / f".{checkpoint_name(8)}.tmp-{dead_pid()}-0123abcd"
    stale.mkdir()
    assert load_latest_checkpoint(tmp_path)["path"] == tmp_path / checkpoint_name(4)
    assert not stale.exists()


@pytest.mark.parametrize("damage", ["truncate", "state", "delete_state"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_older_one(tmp_path: Path,
                                                                damage: str) -> None:
    from historyad.training.checkpoint import CheckpointWarning, load_latest_checkpoint

    for it in (4, 8):
        save_checkpoint(tmp_path / checkpoint_name(it), {"critic": {"w": torch.full((64,), it)}},
                        {"progress": {"gen_iter": it}})
    latest = tmp_path / checkpoint_name(8)
    if damage == "truncate":
        data = (latest / "critic.safetensors").read_bytes()
        (latest / "critic.safetensors").write_bytes(data[: len(data) // 2])
    elif damage == "state":
        (latest / "state.json").write_text("{not json")
    else:
        (latest / "state.json").unlink()
    for load in (load_latest_checkpoint, load_checkpoint):  # the root: both fall back
        with pytest.warns(CheckpointWarning, match=checkpoint_name(8)):
            ckpt = load(tmp_path)
        assert ckpt["meta"]["progress"]["gen_iter"] == 4
        assert ckpt["path"] == tmp_path / checkpoint_name(4)
    with pytest.raises(CheckpointError):  # a checkpoint named explicitly: no fallback
        load_checkpoint(latest)
    (tmp_path / checkpoint_name(4) / "critic.safetensors").write_bytes(b"\x00")
    with pytest.raises(CheckpointError, match="every checkpoint"):
        load_latest_checkpoint(tmp_path)
    assert load_latest_checkpoint(tmp_path / "empty") is None


def test_state_json_without_its_tables_is_a_checkpoint_error(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "ckpt", {"critic": {"w": torch.ones(3)}})
    doc = json.loads((path / "state.json").read_text())
    del doc["parts"]
    (path / "state.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="lacks the meta, parts or sha256"):
        load_checkpoint(path)


def test_train_gan_resumes_from_the_older_checkpoint_when_the_latest_is_damaged(
    tmp_path: Path,
) -> None:
    from historyad.config import GANConfig, NetConfig
    from historyad.training import train_gan
    from historyad.training.checkpoint import CheckpointWarning

    X = np.random.default_rng(0).standard_normal((128, 2)).astype(np.float32)
    nets = NetConfig(width=8)

    def cfg(**kw: object) -> GANConfig:
        return GANConfig(n_epochs=2, batch_size=32, n_critic=2, gan_lr=1e-3,
                         **kw)  # type: ignore[arg-type]

    full = train_gan(X, cfg(), nets)
    train_gan(X, cfg(checkpoint_dir=str(tmp_path)), nets)
    _, latest = list_checkpoints(tmp_path)  # the two kept: epochs 1 and 2
    (latest / "generator.safetensors").write_bytes(b"\x00" * 16)
    with pytest.warns(CheckpointWarning, match=latest.name):
        resumed = train_gan(X, cfg(checkpoint_dir=str(tmp_path)), nets, resume=True)
    assert resumed.records["gen_iter"] == full.records["gen_iter"]  # epoch 2 trained again
    for k, v in full.generator.state_dict().items():
        assert torch.equal(resumed.generator.state_dict()[k], v), k
