"""Peak memory of ``historyad score --stream`` against the stream's length.

Writes a 4-channel sensor CSV of 10^5 and 10^6 rows, fits a kNN model on windows of its
first 2000 rows (``historyad fit --input --window 16 --stride 4``), then scores each file
with ``historyad score --stream`` in a fresh child process per run and reads the child's
peak RSS (``VmHWM``, see ``_memory.peak_rss_mb``). With ``--batch`` the same files are also
scored without ``--stream`` (the whole file in memory), for contrast. Bounded memory means
the stream's peak does not grow with the rows.

    .venv/bin/python benchmarks/stream_memory.py [--batch] [--rows 100000 1000000]

Results: ``benchmarks/results/stream_memory.json``; the table is in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHILD = """
import sys
from historyad.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    sys.path.insert(0, {here!r})
    from _memory import peak_rss_mb
    print(f"PEAK_RSS_MB {{peak_rss_mb():.1f}}", file=sys.stderr)
"""


def write_csv(path: Path, n_rows: int, *, seed: int = 0, chunk: int = 100_000) -> None:
    """``time,s1..s4``: sines, a drift and noise; the time is the row number."""
    rng = np.random.default_rng(seed)
    with path.open("w") as fh:
        fh.write("time,s1,s2,s3,s4\n")
        for start in range(0, n_rows, chunk):
            t = np.arange(start, min(n_rows, start + chunk))
            X = np.stack([np.sin(t / 11), np.cos(t / 17), np.sin(t / 5) * np.cos(t / 23),
                          0.1 * rng.normal(size=len(t))], axis=1)
            np.savetxt(fh, np.column_stack([t, X]), fmt=["%d"] + ["%.5f"] * 4, delimiter=",")


def run_child(args: list[str]) -> tuple[float, float]:
    """(peak RSS MiB, wall seconds) of ``historyad <args>`` in a fresh child process."""
    code = CHILD.format(here=str(HERE))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"historyad {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    peak = [ln for ln in proc.stderr.splitlines() if ln.startswith("PEAK_RSS_MB")]
    return float(peak[-1].split()[1]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch", action="store_true", help="also score without --stream")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "stream_memory.json")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        train = tmp_p / "train.csv"
        write_csv(train, 2000, seed=1)
        model_dir = tmp_p / "model"
        run_child(["--threads", "1", "fit", "--input", str(train), "--window", "16",
                   "--stride", "4", "-d", "knn", "--out", str(model_dir), "-q"])
        model = str(model_dir / "model.safetensors")
        base, _ = run_child(["--threads", "1", "info", model])
        results.append({"mode": "load the model only (historyad info)", "rows": 0,
                        "peak_rss_mb": base, "seconds": None})
        print(f"baseline (imports + model): {base:.0f} MiB")
        for n in args.rows:
            data = tmp_p / f"stream_{n}.csv"
            write_csv(data, n)
            modes = [("stream", ["--stream"])] + ([("batch", [])] if args.batch else [])
            for mode, extra in modes:
                peak, wall = run_child(["--threads", "1", "score", "--model", model,
                                        "--input", str(data), "--out",
                                        str(tmp_p / "scores.csv"), "-q", *extra])
                n_out = sum(1 for _ in (tmp_p / "scores.csv").open()) - 1
                assert n_out == n, (n_out, n)
                results.append({"mode": mode, "rows": n, "peak_rss_mb": peak,
                                "seconds": round(wall, 1)})
                print(f"{mode:6s} {n:>9,d} rows: peak RSS {peak:7.1f} MiB, {wall:6.1f} s")
            data.unlink()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"window": 16, "stride": 4, "channels": 4,
                                    "detector": "knn", "results": results}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
