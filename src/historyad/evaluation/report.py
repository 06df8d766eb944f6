"""metrics.json and report.md writers, and plain-text result tables."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from historyad import __version__
from historyad.training._atomic import write_atomic


def pivot_table(
    records: Sequence[dict[str, Any]],
    metric: str = "auprc",
    *,
    paper: dict[str, dict[str, float]] | None = None,
    digits: int = 3,
) -> str:
    """Markdown table: one row per detector, one column per anomaly, plus the mean.

    ``paper`` adds reference rows ``{row label: {anomaly: value}}`` (e.g. a paper's table).
    """
    anomalies = list(dict.fromkeys(str(r["anomaly"]) for r in records))
    detectors = list(dict.fromkeys(r["detector"] for r in records))
    header = f"| {metric} | " + " | ".join(anomalies) + " | mean |"
    lines = [header, "|" + "---|" * (len(anomalies) + 2)]
    rows: dict[str, dict[str, float]] = {d: {} for d in detectors}
    for r in records:
        rows[r["detector"]][str(r["anomaly"])] = float(r[metric])
    for name, vals in {**rows, **(paper or {})}.items():
        cells = [vals.get(a, math.nan) for a in anomalies]
        known = [v for v in cells if not math.isnan(v)]
        mean = sum(known) / len(known) if known else math.nan
        fmt = [("—" if math.isnan(v) else f"{v:.{digits}f}") for v in [*cells, mean]]
        lines.append(f"| {name} | " + " | ".join(fmt) + " |")
    return "\n".join(lines)


def write_metrics(
    out_dir: str | Path,
    records: Iterable[dict[str, Any]],
    *,
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``metrics.json`` (``{"results": [...], ...}``) and ``config.json`` to ``out_dir``,
    each atomically (a temporary file renamed into place)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "config.json", json.dumps(config, indent=2, sort_keys=True, default=str))
    payload = {"version": __version__, "results": list(records), **(extra or {})}
    return write_atomic(out / "metrics.json", json.dumps(payload, indent=2, default=_json_default))


def _json_default(obj: Any) -> Any:
    try:
        return obj.item()  # numpy scalars
    except AttributeError:
        return str(obj)
