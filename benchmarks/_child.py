"""One fresh child process per measured configuration, for the speed benchmarks of issue 17
(``neighbors_speed.py``, ``large_data.py``, ``scaling.py``; run as scripts: this folder is
on ``sys.path``).

The parent never imports torch, FAISS or the data: it only starts children and collects
their JSON. Each child (the same script, ``--child CONFIG_JSON``) sets its threads before
anything else is imported, loads its data, resets the kernel's peak-RSS mark, then measures.
It reports

- ``peak_rss_mb``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child at the end:
  the peak RSS of the measured work, with the data and the runtime in memory (the data
  loading's transient peak is reset before the work through ``/proc/self/clear_refs``,
  which resets the high-water mark ``ru_maxrss`` reads too). A child's ``ru_maxrss`` also
  starts at its parent's peak (Linux keeps the peak of the memory map ``exec`` replaced);
  the parent here stays at about 30 MB, far below every reading;
- ``hwm_mb``: the whole-life peak (``VmHWM`` before the reset, or after it if higher);
- ``base_rss_mb``: the RSS after imports and data, just before the measured work;
- ``work_peak_mb``: ``VmHWM`` at the end (the same as ``peak_rss_mb``, read from /proc).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMBA_NUM_THREADS")


def run_child(script: Path, config: dict[str, Any], *, threads: int,
              timeout: float | None = None) -> dict[str, Any]:
    """Run ``script --child JSON`` in a fresh interpreter with ``threads`` threads; return
    the JSON object it prints on its last stdout line (``{"error": ...}`` when it fails)."""
    env = {**os.environ, **{v: str(threads) for v in THREAD_VARS}}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(ROOT / "benchmarks"), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, str(script), "--child", json.dumps({**config, "threads": threads})]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
    return json.loads(lines[-1])


# -- child side ---------------------------------------------------------------------------
def set_threads(n: int) -> None:
    """torch and FAISS (and BLAS through the environment) at ``n`` threads."""
    import torch

    torch.set_num_threads(n)
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:
        pass


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def ru_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Reset this process's ``VmHWM`` (Linux >= 4.0); False when refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


class Timer:
    """``with Timer(out, "fit"):`` sets ``out["fit_s"]`` (wall) and ``out["fit_cpu_s"]`` (CPU
    seconds of the process, all threads: less sensitive than wall time to other jobs on a
    shared machine, so ratios of CPU times are reported beside ratios of wall times)."""

    def __init__(self, out: dict[str, Any], name: str) -> None:
        self.out, self.name = out, name

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.out[f"{self.name}_s"] = time.perf_counter() - self.wall
        self.out[f"{self.name}_cpu_s"] = time.process_time() - self.cpu


class Memory:
    """Call ``start()`` after loading the data, ``report()`` at the end."""

    def start(self) -> None:
        self.base = rss_mb()
        self.whole_life_before = hwm_mb()
        self.reset = reset_peak()

    def report(self) -> dict[str, float]:
        work = hwm_mb()
        return {
            "peak_rss_mb": round(ru_maxrss_mb(), 1),
            "hwm_mb": round(max(work, self.whole_life_before), 1),
            "base_rss_mb": round(self.base, 1),
            "work_peak_mb": round(work, 1),
        }


def emit(result: dict[str, Any]) -> None:
    """The child's result: one JSON line on stdout (the last line the parent reads)."""
    print(json.dumps(result), flush=True)


def parse_child(argv: list[str]) -> dict[str, Any] | None:
    """The child's config when ``argv`` is ``[..., "--child", JSON]``, else None."""
    if "--child" in argv:
        return json.loads(argv[argv.index("--child") + 1])
    return None


def run_script(child: Any, main: Any) -> None:
    """A benchmark script's ``__main__``: a ``--child`` call measures one configuration in
    this fresh process (``emit(child(config))``), any other call is the parent (``main()``)."""
    cfg = parse_child(sys.argv)
    if cfg is not None:
        emit(child(cfg))
    else:
        main()
