"""``distributed.computed_on_main``: rank 0's result on every rank, and a failure on rank 0
alone raised on every rank instead of leaving the others waiting (two gloo processes)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from historyad.training import distributed

pytestmark = pytest.mark.usefixtures("one_thread")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_RANK=str(rank))
    par = distributed.init_distributed("cpu")
    assert par is not None
    lines = [f"value {distributed.computed_on_main(par, lambda: ('from', par.rank))}"]

    def fail_on_main() -> None:
        raise OSError("snapshot file 3 is missing")

    try:
        distributed.computed_on_main(par, fail_on_main)
        lines.append("no error")
    except Exception as exc:  # what each rank raises
        lines.append(f"{type(exc).__name__}: {exc}")
    lines.append(f"after {distributed.computed_on_main(par, lambda: 7)}")  # still in step
    Path(out, f"rank{rank}.txt").write_text("\n".join(lines))
    dist.destroy_process_group()


def test_rank_zero_failure_reaches_every_rank(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(tmp_path))) for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    alive = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert not alive, "a rank waited for ever"
    assert [p.exitcode for p in procs] == [0, 0]
    rank0 = (tmp_path / "rank0.txt").read_text().splitlines()
    rank1 = (tmp_path / "rank1.txt").read_text().splitlines()
    assert rank0 == ["value ('from', 0)", "OSError: snapshot file 3 is missing", "after 7"]
    assert rank1 == ["value ('from', 0)",
                     "MainRankError: rank 0 failed: OSError: snapshot file 3 is missing",
                     "after 7"]


def test_single_process_runs_it_directly() -> None:
    assert distributed.computed_on_main(None, lambda: 5) == 5
    with pytest.raises(ValueError, match="boom"):
        distributed.computed_on_main(None, lambda: (_ for _ in ()).throw(ValueError("boom")))
