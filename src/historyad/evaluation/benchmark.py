"""``historyad benchmark``: every historyad detector and the classical peers on images, tables
and sensor series, on identical splits and seeds.

The suite (``evaluation.suite.SUITE``; ``--quick`` runs the sets marked quick with shorter
schedules):

- images: MNIST leave-one-digit-out (ten digits; both papers' protocol), MNIST vs the KMNIST
  test split, MNIST test images vs gaussian-noise copies (σ = 0.2);
- tables: the twelve ADBench "Classical" sets in ``<data>/adbench`` with the novelty
  protocol (train on a seeded 80 % of the normal rows, test on the other 20 % plus every
  anomaly; the four largest only in full mode);
- sensor series: BasicMotions leave-one-activity-out; SKAB ``valve1`` (fit on each file's
  first 400 rows, score the 32-row window ending at every later row; metrics averaged over
  the files); SKAB ``valve1`` as ``historyad fit --input`` sees it (``skab-valve1-free``: fit
  once on the anomaly-free recording, score the windows of all 16 files; full mode); the UCR
  anomaly series 135 (fit on its normal prefix, windows one period long,
  the period read from the prefix's autocorrelation).

Detectors: ``LINEUP`` (every historyad detector, defaults unless ``--quick``) and PyOD's KNN,
LOF, IForest and ECOD with PyOD's defaults (``historyad.evaluation.peers``). Every detector
sees the same split; the peers get the inputs preprocessed as the historyad detectors
preprocess them (tables standardised per feature, series per channel, with training
statistics; images as they are), flattened. GAN detectors with identical GAN settings share
one trained GAN per split (``GANDetector.training_configs`` / ``from_gan``); their
``fit_seconds`` include that GAN's training time.

Outputs (``out_dir``): ``benchmark.json`` (every record and the summary), ``benchmark.md``
(per-set AUPRC tables, family means, mean ranks, worst gaps, the targets of the recommended
detector) and ``ranks.png``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from historyad.evaluation.suite import FAMILIES, IMAGE_CAPS, BenchmarkSet, SuiteConfig, select_sets
from historyad.protocols import Split

logger = logging.getLogger(__name__)

#: every historyad detector (registry names), fitted with its defaults in full mode
LINEUP: dict[str, dict[str, Any]] = {
    "recommended": {"name": "recommended"},
    "density-ratio": {"name": "density-ratio"},
    "historyad": {"name": "historyad"},
    "critic": {"name": "critic"},
    "encoder": {"name": "encoder"},
    "inversion": {"name": "inversion"},
    "knn": {"name": "knn"},
}
#: shorter schedules of --quick (applied to every detector that takes the parameter)
QUICK_PARAMS: dict[str, Any] = {
    "min_iterations": 300, "width": 16, "saves_per_epoch": 10, "dtv_steps": 300,
    "encoder_epochs": 2.0, "inversion_steps": 20,
}  # fmt: skip
# -- fitting and scoring -------------------------------------------------------------------


def preprocess_for_peers(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """(N, D) inputs for the peers, preprocessed as the historyad detectors do by default:
    tables per feature, series per channel (training statistics, float64), images as they
    are; then flattened."""
    if X_train.ndim in (2, 3):
        axes = (0,) if X_train.ndim == 2 else (0, 2)
        mean = X_train.mean(axis=axes, keepdims=True, dtype=np.float64)
        std = X_train.std(axis=axes, keepdims=True, dtype=np.float64)
        std = np.where(std > 1e-8 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    flat = lambda X: X.reshape(len(X), -1).astype(np.float32)  # noqa: E731
    return flat(X_train), flat(X_test)


def evaluate_split(
    split: Split,
    *,
    detectors: dict[str, dict[str, Any]],
    peers: Sequence[str],
    quick: bool,
    seed: int,
) -> list[dict[str, Any]]:
    """Fit every detector and peer on ``split.X_train``, score ``split.X_test``: one record
    per detector ({"detector", "auprc", "auroc", "fit_seconds", "score_seconds"}), through the
    library's one fit-and-score path (``harness.evaluate_detectors``, GANs shared when their
    settings match) and ``peers.run_peers``."""
    from historyad.detectors.registry import get_detector
    from historyad.evaluation.harness import evaluate_detectors
    from historyad.evaluation.peers import run_peers

    specs: dict[str, dict[str, Any]] = {}
    for label, spec in detectors.items():
        spec = dict(spec)
        name = spec.pop("name", label)
        valid = set(get_detector(name)().get_params(deep=False))
        params = {k: v for k, v in QUICK_PARAMS.items() if quick and k in valid}
        params.update({k: v for k, v in (("random_state", seed),) if k in valid})
        specs[label] = {"name": name, **params, **spec}
    keys = ("detector", "auprc", "auroc", "fit_seconds", "score_seconds")
    records = [{k: r.record()[k] for k in keys}
               for r in evaluate_detectors(split.X_train, split.X_test, split.y_test, specs)]
    if peers:
        Xtr, Xte = preprocess_for_peers(split.X_train, split.X_test)
        peer_records, notes = run_peers({p: {} for p in peers}, Xtr, Xte, split.y_test,
                                        seed=seed, dataset=split.name, protocol="", anomaly="")
        if notes:
            raise RuntimeError("; ".join(notes))
        records += [{k: r[k] for k in keys} for r in peer_records]
    return records


@dataclass
class BenchmarkResult:
    """Per-part records, per-set records (means over parts) and the summary."""

    parts: list[dict[str, Any]] = field(default_factory=list)
    sets: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def run_benchmark(
    *,
    quick: bool = False,
    data_root: str | None = None,
    seed: int = 0,
    sets: Sequence[str] = (),
    families: Sequence[str] = (),
    detectors: dict[str, dict[str, Any]] | None = None,
    peers: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> BenchmarkResult:
    """Run the suite; write ``benchmark.json`` after every set (a partial run keeps what it
    measured) and, at the end, ``benchmark.md`` and ``ranks.png`` into ``out_dir``."""
    from tqdm.auto import tqdm

    from historyad.evaluation.peers import CLASSICAL_PEERS, pyod_available

    detectors = dict(LINEUP if detectors is None else detectors)
    peers = list(CLASSICAL_PEERS if peers is None else peers)
    if peers and not pyod_available():
        raise ModuleNotFoundError("the peers need PyOD: pip install 'historyad[peers]'")
    chosen = select_sets(quick=quick, names=sets, families=families)
    cfg = SuiteConfig(data_root=data_root, seed=seed, quick=quick)
    out = Path(out_dir) if out_dir is not None else None
    result = BenchmarkResult()
    started = time.perf_counter()
    for bset in tqdm(chosen, desc="benchmark", unit="set", disable=not progress):
        set_parts = []
        for part, split in bset.parts(cfg):
            logger.info("%s / %s: %s", bset.name, part, split)
            for rec in evaluate_split(split, detectors=detectors, peers=peers, quick=quick,
                                      seed=seed):
                rec.update(set=bset.name, family=bset.family, part=part,
                           n_train=len(split.X_train), n_test=len(split.y_test),
                           anomaly_rate=round(float(split.y_test.mean()), 4))
                set_parts.append(rec)
        result.parts += set_parts
        result.sets += _mean_over_parts(set_parts, bset)
        result.summary = summarize(result.sets, peers=peers)
        result.summary["seconds"] = round(time.perf_counter() - started, 1)
        if out is not None:
            write_json(out, result, quick=quick, seed=seed)
    if out is not None:
        write_report(out, result, quick=quick, seed=seed)
    return result


def _mean_over_parts(records: list[dict[str, Any]], bset: BenchmarkSet) -> list[dict[str, Any]]:
    out = []
    for label in dict.fromkeys(r["detector"] for r in records):
        rows = [r for r in records if r["detector"] == label]
        out.append({
            "set": bset.name, "family": bset.family, "detector": label, "parts": len(rows),
            **{k: float(np.mean([r[k] for r in rows]))
               for k in ("auprc", "auroc", "fit_seconds", "score_seconds")},
        })  # fmt: skip
    return out


# -- summary --------------------------------------------------------------------------------


def _ranks(values: dict[str, float]) -> dict[str, float]:
    """Rank 1 = highest AUPRC; ties share the mean rank."""
    from scipy.stats import rankdata

    names = list(values)
    ranks = rankdata([-values[n] for n in names], method="average")
    return {n: float(r) for n, r in zip(names, ranks, strict=True)}


def summarize(set_records: list[dict[str, Any]], *, peers: Sequence[str],
              recommended: str = "recommended", knn_peer: str = "pyod-knn") -> dict[str, Any]:
    """Family means, mean ranks, worst gaps to the best peer and to kNN, and the targets of
    the recommended detector (best mean rank; per family a mean AUPRC ≥ the best peer's; on
    no set more than 0.10 AUPRC below kNN)."""
    table: dict[str, dict[str, float]] = {}
    family_of: dict[str, str] = {}
    for r in set_records:
        table.setdefault(r["set"], {})[r["detector"]] = r["auprc"]
        family_of[r["set"]] = r["family"]
    detectors = list(dict.fromkeys(r["detector"] for r in set_records))
    complete = [s for s, row in table.items() if all(d in row for d in detectors)]
    ranks = {s: _ranks(table[s]) for s in complete}
    mean_rank = {d: float(np.mean([ranks[s][d] for s in complete])) for d in detectors}
    families: dict[str, dict[str, Any]] = {}
    for fam in FAMILIES:
        fsets = [s for s in complete if family_of[s] == fam]
        if not fsets:
            continue
        families[fam] = {
            "sets": len(fsets),
            "mean_auprc": {d: float(np.mean([table[s][d] for s in fsets])) for d in detectors},
            "mean_rank": {d: float(np.mean([ranks[s][d] for s in fsets])) for d in detectors},
        }
    present_peers = [p for p in peers if p in detectors]
    gaps: dict[str, dict[str, Any]] = {}
    for d in detectors:
        g: dict[str, Any] = {}
        if present_peers:
            diff = {s: table[s][d] - max(table[s][p] for p in present_peers) for s in complete}
            worst = min(diff, key=diff.get)
            g["worst_gap_to_best_peer"] = {"set": worst, "gap": diff[worst]}
        if knn_peer in detectors:
            diff = {s: table[s][d] - table[s][knn_peer] for s in complete}
            worst = min(diff, key=diff.get)
            g["worst_gap_to_knn"] = {"set": worst, "gap": diff[worst]}
        gaps[d] = g
    summary: dict[str, Any] = {"sets": len(complete), "mean_rank": mean_rank,
                               "families": families, "gaps": gaps}
    if recommended in detectors and present_peers:
        others = [d for d in detectors if d != recommended]
        fam_ok = {}
        for fam, f in families.items():
            best_peer = max(present_peers, key=lambda p: f["mean_auprc"][p])
            fam_ok[fam] = {"recommended": f["mean_auprc"][recommended], "best_peer": best_peer,
                           "best_peer_auprc": f["mean_auprc"][best_peer],
                           "met": f["mean_auprc"][recommended] >= f["mean_auprc"][best_peer]}
        knn_gap = gaps[recommended].get("worst_gap_to_knn", {}).get("gap", math.nan)
        summary["targets"] = {
            "best_mean_rank": all(mean_rank[recommended] < mean_rank[d] for d in others),
            "family_mean_at_least_best_peer": fam_ok,
            "never_more_than_0.10_below_knn": bool(knn_gap >= -0.10),
        }
    return summary


# -- outputs ---------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json(out: Path, result: BenchmarkResult, *, quick: bool, seed: int) -> Path:
    payload = {"quick": quick, "seed": seed, "lineup": LINEUP,
               "quick_params": QUICK_PARAMS if quick else {}, "summary": result.summary,
               "sets": result.sets, "parts": result.parts}
    path = out / "benchmark.json"
    _atomic_write(path, json.dumps(payload, indent=1, sort_keys=True))
    return path


def report_markdown(result: BenchmarkResult, *, quick: bool, seed: int) -> str:
    """Per-family AUPRC and AUROC tables (sets × detectors) with family means, mean ranks (by
    AUPRC), worst gaps and the targets."""
    s = result.summary
    detectors = list(dict.fromkeys(r["detector"] for r in result.sets))
    lines = [f"# historyad benchmark ({'quick' if quick else 'full'}, seed {seed})", ""]
    if quick:
        lines += [f"Quick mode: shorter schedules for every detector ({QUICK_PARAMS}), image "
                  f"splits capped at {IMAGE_CAPS['quick']} (train, test), SKAB on 4 files, the "
                  "four largest ADBench sets left out.", ""]
    head = "| set | " + " | ".join(detectors) + " |"
    rule = "|---" * (len(detectors) + 1) + "|"
    for metric in ("auprc", "auroc"):
        for fam in FAMILIES:
            rows = [r for r in result.sets if r["family"] == fam]
            if not rows:
                continue
            lines += [f"## {fam}: {metric.upper()}", "", head, rule]
            for name in dict.fromkeys(r["set"] for r in rows):
                vals = {r["detector"]: r[metric] for r in rows if r["set"] == name}
                best = max(vals.values())
                cells = [(f"**{vals[d]:.3f}**" if vals[d] == best else f"{vals[d]:.3f}")
                         if d in vals else "–" for d in detectors]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            means = {d: np.mean([r[metric] for r in rows if r["detector"] == d])
                     for d in detectors}
            lines.append("| **mean** | " + " | ".join(f"{means[d]:.3f}" for d in detectors)
                         + " |")
            if metric == "auprc" and fam in s.get("families", {}):
                f = s["families"][fam]
                lines.append("| mean rank | " + " | ".join(
                    f"{f['mean_rank'][d]:.2f}" for d in detectors) + " |")
            lines.append("")
    if s.get("mean_rank"):
        lines += [f"## Over all {s['sets']} sets", "", "| detector | mean rank | "
                  "worst gap to the best peer (set) | worst gap to kNN (set) | "
                  "mean fit s | mean score s |", "|---|---|---|---|---|---|"]
        for d in sorted(detectors, key=lambda d: s["mean_rank"].get(d, math.inf)):
            g = s["gaps"].get(d, {})
            bp = g.get("worst_gap_to_best_peer")
            kn = g.get("worst_gap_to_knn")
            fit = np.mean([r["fit_seconds"] for r in result.sets if r["detector"] == d])
            sc = np.mean([r["score_seconds"] for r in result.sets if r["detector"] == d])
            lines.append(
                f"| {d} | {s['mean_rank'][d]:.2f} | "
                + (f"{bp['gap']:+.3f} ({bp['set']})" if bp else "–") + " | "
                + (f"{kn['gap']:+.3f} ({kn['set']})" if kn else "–") + f" | {fit:.1f} | {sc:.1f} |")
        lines.append("")
    if "targets" in s:
        t = s["targets"]
        lines += ["## Targets of the recommended detector", "",
                  f"- best mean rank of all detectors and peers: **{t['best_mean_rank']}**",
                  f"- on no set more than 0.10 AUPRC below kNN: "
                  f"**{t['never_more_than_0.10_below_knn']}**"]
        for fam, f in t["family_mean_at_least_best_peer"].items():
            lines.append(f"- {fam}: mean AUPRC {f['recommended']:.3f} vs the best peer "
                         f"({f['best_peer']}) {f['best_peer_auprc']:.3f}: **{f['met']}**")
        lines.append("")
    lines += ["![ranks](ranks.png)", ""]
    return "\n".join(lines)


def write_report(out: Path, result: BenchmarkResult, *, quick: bool, seed: int) -> None:
    """``benchmark.json``, ``benchmark.md`` and ``ranks.png`` in ``out``."""
    import matplotlib.pyplot as plt

    from historyad.plotting import plot_rank_summary

    write_json(out, result, quick=quick, seed=seed)
    _atomic_write(out / "benchmark.md", report_markdown(result, quick=quick, seed=seed))
    if result.sets:
        fig = plot_rank_summary(result.sets)
        fig.savefig(out / "ranks.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
