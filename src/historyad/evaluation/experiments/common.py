"""The experiment interface shared by every ``historyad reproduce`` job.

Each experiment module exposes ``run(ctx: RunContext) -> list[dict]``; records follow
``{"detector", "dataset", "protocol", "anomaly", "auprc", "auroc", "fit_seconds",
"score_seconds"}`` plus experiment-specific keys. The module writes its outputs through
``ctx.figure`` and ``ctx.finish``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from historyad.evaluation.report import write_metrics
from historyad.training._atomic import write_atomic

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

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

    def checkpoint_path(self, name: str) -> Path:
        """``out_dir/checkpoints/<name>.safetensors`` (the folder is created)."""
        path = self.out_dir / "checkpoints" / f"{name}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

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
        write_atomic(self.out_dir / "report.md", report_md.rstrip() + "\n")
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


def build_config(cls: type[T], ctx: RunContext, quick: dict[str, Any] | None = None) -> T:
    """An experiment config dataclass: defaults, then ``quick`` when ``ctx.quick``, then the
    ``[experiment]`` overrides of ``ctx.config`` (unknown keys are rejected)."""
    base = dataclasses.asdict(cls())  # type: ignore[call-overload]
    unknown = sorted(set(ctx.config) - set(base))
    if unknown:
        raise ValueError(
            f"[experiment] keys {unknown} are unknown to {cls.__name__}; "
            f"allowed: {sorted(base)}"
        )
    if ctx.quick and quick:
        base = merge(base, quick)
    return cls(**merge(base, ctx.config))


def result_tables(
    records: list[dict[str, Any]], *, paper: dict[str, dict[str, dict[str, float]]] | None = None
) -> str:
    """AUPRC and AUROC markdown tables (rows = detectors, columns = anomalies, mean);
    ``paper = {metric: {row label: {anomaly: value}}}`` adds the paper's rows."""
    from historyad.evaluation.report import pivot_table

    if not records:
        return "_no results_"
    parts = []
    for metric in ("auprc", "auroc"):
        parts.append(pivot_table(records, metric, paper=(paper or {}).get(metric)))
    return "\n\n".join(parts)


def titled(fig: Any, title: str) -> Any:
    """``fig`` with ``title`` as its suptitle (font size 10), laid out tightly."""
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def figures_md(paths: list[Path], out_dir: Path) -> str:
    """Markdown image links to ``paths`` relative to ``out_dir``."""
    return "\n".join(f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in paths)


def timed(fn: Callable[[], R]) -> tuple[R, float]:
    """``(fn(), seconds)``."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_digits_loo(ctx: RunContext) -> list[dict[str, Any]]:
    """The demo job (``digits_loo``) behind the experiment interface.

    ``ctx.config`` overrides fields of ``digits_loo.DigitsConfig`` (nested dicts merge);
    ``ctx.seed`` (when not 0) sets the split seed and the GAN's ``random_state``; ``ctx.device``
    (when not "cpu") the GAN device; ``ctx.quick`` halves the GAN's iteration floor and the
    detectors' own schedules.
    """
    from historyad import plotting
    from historyad.evaluation.experiments import digits_loo

    base = dataclasses.asdict(digits_loo.DigitsConfig())
    unknown = sorted(set(ctx.config) - set(base))
    if unknown:
        raise ValueError(
            f"[experiment] keys {unknown} are unknown to DigitsConfig; allowed: {sorted(base)}"
        )
    if ctx.seed != 0:
        base = merge(base, {"seed": ctx.seed, "gan": {"random_state": ctx.seed}})
    if ctx.device != "cpu":
        base = merge(base, {"gan": {"device": ctx.device}})
    if ctx.quick:
        base["gan"]["min_iterations"] = int(base["gan"].get("min_iterations", 1000)) // 2
        for spec in base["detectors"].values():
            for key in ("dtv_steps", "inversion_steps", "encoder_epochs"):
                if key in spec:
                    spec[key] = type(spec[key])(spec[key] / 2)
    cfg = digits_loo.DigitsConfig(**merge(base, ctx.config))
    if cfg.checkpoint_dir is None:
        cfg.checkpoint_dir = str(ctx.out_dir / "checkpoints")
    logger.info("demo: %d digits in %d worker process(es)", len(cfg.digits), cfg.n_jobs)
    records = [r.record() for r in digits_loo.run(cfg)]
    figs = [
        ctx.figure(plotting.plot_metric_bars(records, metric="auprc",
                                             title="AUPRC per held-out digit"), "auprc_per_digit"),
        ctx.figure(plotting.plot_boxplots(
            {d: [r["auprc"] for r in records if r["detector"] == d]
             for d in dict.fromkeys(r["detector"] for r in records)},
            title="AUPRC over the held-out digits",
        ), "auprc_boxplots"),
    ]  # fmt: skip
    report = f"""# digits — leave-one-digit-out (the demo job)

scikit-learn's 8×8 digits (1797 images, bundled): each digit in turn is the anomaly; 80 % of
the other digits train, the remaining 20 % plus every image of the held-out digit test. The
recommended detector (`DensityRatioEnsemble`) and the generator density ratio share one
WGAN-GP per digit (the detectors' defaults, except {cfg.gan.get("min_iterations", 1000)}
generator iterations instead of 1000, for time); kNN on raw pixels is the baseline to beat.
The papers do not use this dataset (no reference values).
{"**Quick run** (halved schedules)." if ctx.quick else ""}

The full comparison, on images, tables and sensor series against PyOD's KNN, LOF, IForest
and ECOD: `historyad benchmark` (RESULTS.md); the papers' experiments: `historyad
reproduce --list`.

{result_tables(records)}

## Figures

{figures_md(figs, ctx.out_dir)}
"""
    ctx.finish(records, resolved_config={"experiment": "digits-loo", **dataclasses.asdict(cfg)},
               report_md=report)
    return records
