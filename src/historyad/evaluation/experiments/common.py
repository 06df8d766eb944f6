"""The experiment interface shared by every ``historyad reproduce`` job.

Each experiment module exposes ``run(ctx: RunContext) -> list[dict]``; records follow
``{"detector", "dataset", "protocol", "anomaly", "auprc", "auroc", "fit_seconds",
"score_seconds"}`` plus experiment-specific keys. The module writes its outputs through
``ctx.figure`` and ``ctx.finish``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from historyad.evaluation.report import write_metrics

logger = logging.getLogger(__name__)

RECORD_KEYS = ("detector", "dataset", "protocol", "anomaly", "auprc", "auroc",
               "fit_seconds", "score_seconds")


@dataclass
class RunContext:
    """Where and how one experiment runs.

    ``config`` holds the overrides from the ``[experiment]`` table of ``--config FILE.toml``
    (experiment-specific keys; each experiment documents the ones it reads).
    """

    out_dir: Path
    quick: bool = False
    seed: int = 0
    data_root: str | None = None
    device: str = "cpu"
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def figure(self, fig: Any, name: str) -> Path:
        """Save ``fig`` as ``out_dir/name.png`` (dpi 120), close it and return the path."""
        import matplotlib.pyplot as plt

        path = self.out_dir / (name if name.endswith(".png") else f"{name}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        logger.info("figure %s", path)
        return path

    def finish(
        self,
        records: list[dict[str, Any]],
        *,
        resolved_config: dict[str, Any],
        extra: dict[str, Any] | None = None,
        report_md: str,
    ) -> None:
        """Write ``metrics.json`` (``{"results": records, ...extra}``), ``config.json`` and
        ``report.md`` to ``out_dir``."""
        config = {
            "quick": self.quick,
            "seed": self.seed,
            "data_root": self.data_root,
            "device": self.device,
            **resolved_config,
        }
        write_metrics(self.out_dir, records, config=config, extra=extra)
        (self.out_dir / "report.md").write_text(report_md.rstrip() + "\n")
        logger.info("wrote metrics.json, config.json, report.md to %s", self.out_dir)

    def get(self, key: str, default: Any) -> Any:
        """The ``[experiment]`` override for ``key``, else ``default``."""
        return self.config.get(key, default)


def merge(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``overrides`` wins; nested dicts merge key by key."""
    out = dict(defaults)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
