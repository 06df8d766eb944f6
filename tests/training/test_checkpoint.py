"""Checkpoints: codec round trip, no pickle, atomic layout, clear errors on damaged files."""

from __future__ import annotations

import json
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
