"""The temporary folder of a disk snapshot store does not survive the process: closed,
collected, at exit, and when SIGTERM or SIGHUP ends it (a subprocess gets the signal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")

SCRIPT = textwrap.dedent("""
    import signal, sys, time, torch
    # the default actions, whatever the launcher left (nohup ignores SIGHUP, and the store
    # rightly leaves an ignored signal alone)
    for name in ("SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    from historyad.training.stores import DiskSnapshotStore
    store = DiskSnapshotStore()
    store.add(0.5, {"w": torch.ones(4)})
    print(store.directory, flush=True)
    if sys.argv[1] == "exit":
        sys.stdin.readline()
        sys.exit(0)  # no close(): the interpreter exit removes the folder
    time.sleep(60)
""")


def run_until_ready(mode: str) -> tuple[subprocess.Popen[str], Path]:
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        raise AssertionError(f"the child printed no folder: {proc.communicate()[1]}")
    directory = Path(line)
    assert (directory / "index.json").is_file()
    return proc, directory


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_the_temporary_store_folder_is_removed_when_a_signal_ends_the_process(
    signame: str,
) -> None:
    proc, directory = run_until_ready("wait")
    signum = getattr(signal, signame)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signum, err  # ended by the signal, as without the handler
    assert not directory.exists()


def test_the_temporary_store_folder_is_removed_at_exit() -> None:
    proc, directory = run_until_ready("exit")
    proc.communicate("go\n", timeout=60)
    assert proc.returncode == 0 and not directory.exists()


def test_a_handler_set_by_the_application_is_kept() -> None:
    from historyad.training.stores import DiskSnapshotStore

    def mine(signum: int, frame: object) -> None:  # pragma: no cover - never called
        pass

    before = signal.signal(signal.SIGTERM, mine)
    try:
        with DiskSnapshotStore():
            assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, before)
