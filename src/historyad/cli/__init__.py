"""The ``historyad`` command line: demo, fit, score, evaluate, benchmark, datasets, reproduce,
export.

Every command takes ``--config FILE.toml``: top-level keys set the command's options (the
command line wins), ``[params]`` holds detector parameters (as ``--param``), ``[gan]`` and
``[history]`` the shared GAN of ``evaluate``, and ``[experiment]`` the overrides of a
``reproduce`` experiment; the file is checked against a schema (unknown keys, wrong types).
Errors (bad options, unknown names, missing data, bad files) print one ``error:`` line and
exit with code 2 (an internal error: code 1); ``-v`` shows INFO logs and ``--debug``
tracebacks. ``fit``, ``score``, ``evaluate``, ``reproduce`` and ``demo`` refuse to write into
a non-empty ``--out`` unless ``--overwrite``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import typer

from historyad.cli import files as _files
from historyad.cli._plumbing import (
    _COMMON,
    _STATE,
    TOML_TYPES,
    CLIError,
    GuardedTyper,
    _common,
    _echo_tables,
    _fail,
    _load_toml,
    _note,
    _out_dir,
    _out_file,
    _parse_params,
    _pick,
    _presence,
    _schema_errors,
    _setup,
    _warn,
)
from historyad.cli.export import register as register_export
from historyad.cli.options import COMMON, READING, with_options

_DETECTORS_OPT = typer.Option(None, "--detector", "-d", help="Detector (repeatable).")
_ANOMALIES_OPT = typer.Option(None, "--anomaly", help="Anomalous class (loo; repeatable; "
                              "default: every class).")
_NORMALS_OPT = typer.Option(None, "--normal", help="Normal class (one-class; repeatable; "
                            "default: every class).")
_SETS_OPT = typer.Option(None, "--set", help="Benchmark set name or prefix, e.g. adbench "
                         "(repeatable; default: the whole suite).")
_FAMILIES_OPT = typer.Option(None, "--family", help="images, tables or series (repeatable).")

app = GuardedTyper(
    name="historyad",
    help=("GAN-based anomaly detection: the recommended detector (kNN densities and the "
          "generator density ratio), HistoryAD, WGAN critic, encoder, inversion, kNN."),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="INFO logs on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
    threads: int | None = typer.Option(
        None, "--threads", help="torch CPU threads (default: torch's; 1 on busy machines)."
    ),
) -> None:
    """GAN-based anomaly detection (HistoryAD and WGAN detectors)."""
    if threads is not None:
        if threads < 1:
            _fail(f"--threads {threads} is not allowed; it must be >= 1")
        import torch

        torch.set_num_threads(threads)
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    _STATE["debug"] = debug


@app.command()
@with_options("out", "device", "seed", "quick", "config", "overwrite")
def demo(opts: Any) -> None:
    """Leave-one-digit-out on scikit-learn's 8×8 digits (offline): AUPRC/AUROC per digit."""
    from historyad.evaluation.experiments.common import RunContext, run_digits_loo

    toml = _load_toml(opts["config"], (*_COMMON, "experiment"))
    out_p, data_s, device_s, seed_i, quick_b = _common(toml, opts, "runs/demo")
    _out_dir(out_p, _pick("overwrite", opts["overwrite"], toml, False))
    ctx = RunContext(out_dir=out_p, quick=quick_b, seed=seed_i, data_root=data_s,
                     device=device_s, config=dict(toml.get("experiment", {})))
    records = run_digits_loo(ctx)
    _echo_tables(records)
    typer.echo(f"wrote {out_p}/metrics.json, report.md and figures")
    typer.echo("the full experiments: `historyad benchmark` (RESULTS.md, BENCHMARKS.md) and "
               "the papers' experiments, `historyad reproduce --list`")


@app.command()
@with_options("dataset", "protocol", "param", *COMMON, "calibration", *READING)
def fit(
    opts: Any,
    detector: str | None = typer.Option(None, "--detector", "-d",
                                        help="Detector name (default: recommended)."),
    anomaly: str | None = typer.Option(None, "--anomaly", help="Anomalous class (loo)."),
    normal: str | None = typer.Option(None, "--normal", help="Normal class (one-class)."),
) -> None:
    """Fit a detector on your own file (--input) or a protocol's training data.

    Saves model.safetensors and config.json (with --input also input.json, and the training
    curves training.csv / training.png of GAN detectors)."""
    if opts["input_"] is not None:
        return _files.fit({**opts, "detector": detector, "anomaly": anomaly, "normal": normal})
    from historyad.evaluation import jobs

    toml, out_p, data_s, device_s, seed_i, quick_b = _setup(
        opts, ("detector", "dataset", "protocol", "anomaly", "normal", "params", "window",
               "stride", "calibration"), "runs/fit")
    dataset, protocol, param, window, stride = (
        opts[k] for k in ("dataset", "protocol", "param", "window", "stride"))
    name = _pick("detector", detector, toml, "recommended")
    klass = jobs.detector_class(name)
    ds_name = jobs.check_dataset(_pick("dataset", dataset, toml, None))
    proto = jobs.protocol_name(_pick("protocol", protocol, toml, "loo"))
    klass_value = _pick("anomaly" if proto == "loo" else "normal",
                        anomaly if proto == "loo" else normal, toml, None)
    params = jobs.detector_params(klass, {**toml.get("params", {}), **_parse_params(param)},
                                  device=device_s, seed=seed_i, quick=quick_b)
    if "alpha" in jobs.valid_params(klass):
        _note(jobs.short_schedule_alpha(params, label=name))
    jobs.check_detector_params(klass, params, label=name)
    _out_dir(out_p, _pick("overwrite", opts["overwrite"], toml, False))
    if "progress" in jobs.valid_params(klass):
        params.setdefault("progress", not opts["quiet"])  # progress bars on stderr unless --quiet
    window, stride = int(_pick("window", window, toml, 64)), int(_pick("stride", stride, toml, 32))
    split = jobs.make_split(ds_name, proto, klass_value, data=data_s, seed=seed_i,
                            quick=quick_b, window=window, stride=stride,
                            download=opts["download"])
    resolved = {"command": "fit", "detector": name, "params": params, "dataset": ds_name,
                "protocol": proto, "anomaly": klass_value if proto == "loo" else None,
                "normal": klass_value if proto == "one-class" else None, "class": klass_value,
                "window": window, "stride": stride}
    ctx = jobs.run_context(out_p, quick=quick_b, seed=seed_i, data=data_s, device=device_s)
    record, path = jobs.run_fit(name, params, split, ctx=ctx, resolved=resolved,
                                echo=typer.echo,
                                calibration=_pick("calibration", opts["calibration"], toml, None))
    typer.echo(f"saved {path} (test AUPRC {record['auprc']:.3f}, AUROC {record['auroc']:.3f})")


@app.command()
@with_options("model", *COMMON, "alpha", "input_", "stream", "chunk_size", "delimiter",
              "quiet")
def score(
    opts: Any,
    dataset: str | None = typer.Option(None, "--dataset", help="Default: the model's."),
    protocol: str | None = typer.Option(None, "--protocol", help="Default: the model's."),
    anomaly: str | None = typer.Option(None, "--anomaly", help="Default: the model's."),
    normal: str | None = typer.Option(None, "--normal", help="Default: the model's."),
) -> None:
    """Score your own file (--input, --stream) or a protocol's test split with a model.

    --input: id,score,label per item (per row and per window for series); --dataset:
    index,label,score,prediction (and p_value when the model has a calibration set:
    fit(X, calibration=...)) to --out (a .csv file, or a folder: <out>/scores.csv; default
    runs/score/scores.csv). Warns when the split holds rows the model was trained on."""
    if opts["input_"] is not None or opts["stream"]:
        return _files.score({**opts, "dataset": dataset, "protocol": protocol,
                             "anomaly": anomaly, "normal": normal})
    from historyad.detectors.base import BaseDetector
    from historyad.evaluation import jobs
    from historyad.evaluation.metrics import ranking_metrics
    from historyad.training._atomic import write_atomic

    split_keys = ("dataset", "protocol", "anomaly", "normal", "window", "stride")
    toml = _load_toml(opts["config"], (*_COMMON, "model", *split_keys, "alpha"))
    model_p = _pick("model", opts["model"], toml, None)
    if not model_p:
        raise CLIError("--model is required (a model.safetensors written by `historyad fit`)")
    model_p = Path(model_p)
    if not model_p.is_file():
        raise CLIError(f"--model {str(model_p)!r} does not exist (or is not a file); give a "
                       "model.safetensors written by `historyad fit`")
    det = BaseDetector.load(model_p)
    saved: dict[str, Any] = {}
    saved_file = model_p.parent / "config.json"
    if saved_file.is_file():  # the settings of the fit, when the model is in its run folder
        try:
            saved = json.loads(saved_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CLIError(f"{str(saved_file)!r} (the model's config) is unreadable: {exc}; "
                           "give --dataset and the split options instead") from None
        saved = saved if isinstance(saved, dict) else {}
    defaults = {k: saved[k] for k in ("dataset", "protocol", "seed", "quick", "window",
                                      "stride") if saved.get(k) is not None}
    if isinstance(saved.get("data_root"), str):
        defaults["data"] = saved["data_root"]
    problems = _schema_errors(defaults, TOML_TYPES)
    if problems:
        raise CLIError(f"{str(saved_file)!r} (the model's config): " + "; ".join(problems))
    toml = {**defaults, **toml}
    out_p, data_s, _, seed_i, quick_b = _common(toml, opts, "runs/score")
    out_file = _out_file(out_p, _pick("overwrite", opts["overwrite"], toml, False),
                         "scores.csv")
    ds_name = jobs.check_dataset(_pick("dataset", dataset, toml, None))
    proto = jobs.protocol_name(_pick("protocol", protocol, toml, "loo"))
    cli_class = _pick("anomaly" if proto == "loo" else "normal",
                      anomaly if proto == "loo" else normal, toml, None)
    klass_value = cli_class if cli_class is not None else saved.get("class")
    window, stride = int(toml.get("window", 64)), int(toml.get("stride", 32))
    split = jobs.make_split(ds_name, proto, klass_value, data=data_s, seed=seed_i,
                            quick=quick_b, window=window, stride=stride,
                            download=opts["download"])
    scores = det.decision_function(split.X_test)
    alpha_f = _pick("alpha", opts["alpha"], toml, None)
    calibrated = getattr(det, "calibration_scores_", None) is not None
    if alpha_f is not None and not calibrated:
        raise CLIError(f"--alpha needs p-values, and {model_p} has no calibration set: fit "
                       "the detector with fit(X, calibration=0.2) (or call calibrate(X_normal)"
                       ") and save it, then score it")
    pvals = det.p_values(split.X_test) if calibrated else None
    preds = det.predict(split.X_test, alpha=alpha_f)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["index", "label", "score", "prediction",
                     *(["p_value"] if calibrated else [])])
    for i, (y, s, p) in enumerate(zip(split.y_test, scores, preds, strict=True)):
        writer.writerow([i, int(y), f"{float(s):.8g}", int(p),
                         *([f"{float(pvals[i]):.6g}"] if pvals is not None else [])])
    write_atomic(out_file, buf.getvalue())
    _warn(jobs.training_overlap(
        saved, {"dataset": ds_name, "protocol": proto, "class": klass_value, "seed": seed_i,
                "quick": quick_b, "window": window, "stride": stride},
        split.X_test, data=data_s))
    ap, roc = ranking_metrics(split.y_test, scores)
    typer.echo(f"wrote {len(scores)} scores to {out_file} (AUPRC {ap:.3f}, AUROC {roc:.3f})")


@app.command()
@with_options("dataset", "protocol", "param", *COMMON, *READING)
def evaluate(
    opts: Any,
    detector: list[str] | None = _DETECTORS_OPT,
    anomaly: list[str] | None = _ANOMALIES_OPT,
    normal: list[str] | None = _NORMALS_OPT,
    model_file: Path | None = _files.EVAL_MODEL_OPT,
    train_input: str | None = _files.TRAIN_INPUT_OPT,
    train_rows: int | None = _files.TRAIN_ROWS_OPT,
) -> None:
    """Detectors on your own labelled file (--input) or a dataset + protocol.

    --input FILE --label-column COL: AUPRC, AUROC (and event-level scores for series);
    --dataset: one shared GAN -> metrics.json, report.md."""
    if opts["input_"] is not None:
        return _files.evaluate({**opts, "detector": detector, "anomaly": anomaly,
                                "normal": normal, "model_file": model_file,
                                "train_input": train_input, "train_rows": train_rows})
    from historyad.data import load
    from historyad.evaluation import jobs

    toml, out_p, data_s, device_s, seed_i, quick_b = _setup(
        opts, ("dataset", "protocol", "detector", "anomaly", "normal", "params", "gan",
               "history", "window", "stride"), "runs/evaluate",
        lists=("detector", "anomaly", "normal"))
    dataset, protocol, param, window, stride, download = (
        opts[k] for k in ("dataset", "protocol", "param", "window", "stride", "download"))
    ds_name = jobs.check_dataset(_pick("dataset", dataset, toml, None))
    proto = jobs.protocol_name(_pick("protocol", protocol, toml, "loo"))
    names = list(_pick("detector", detector, toml, ["recommended", "knn"]))
    specs, gan, history, notes = jobs.evaluate_settings(
        names, {**toml.get("params", {}), **_parse_params(param)}, gan=toml.get("gan", {}),
        history=toml.get("history", {}), device=device_s, seed=seed_i, quick=quick_b)
    for note in notes:
        _note(note)
    _out_dir(out_p, _pick("overwrite", opts["overwrite"], toml, False))
    cli_classes = anomaly if proto == "loo" else normal
    wanted = _pick("anomaly" if proto == "loo" else "normal", cli_classes, toml, None)
    if proto == "windows":
        wanted = ["anomalous windows"]
    elif not wanted:
        wanted = list(load(ds_name, root=data_s, download=download).classes)
    elif isinstance(wanted, str | int):
        wanted = [wanted]
    ctx = jobs.run_context(out_p, quick=quick_b, seed=seed_i, data=data_s, device=device_s)
    records = jobs.run_evaluate(
        ds_name, proto, wanted, specs=specs, gan=gan, history=history, ctx=ctx,
        window=int(_pick("window", window, toml, 64)),
        stride=int(_pick("stride", stride, toml, 32)),
        download=download, echo_err=lambda m: typer.echo(m, err=True))
    _echo_tables(records)
    typer.echo(f"wrote {out_p}/metrics.json and report.md")


@app.command()
@with_options("out", "data", "seed", "config")
def benchmark(
    opts: Any,
    quick: bool = typer.Option(False, "--quick", help="Quick sets and schedules (≤ 30 min on "
                               "two CPU cores)."),
    set_: list[str] | None = _SETS_OPT,
    family: list[str] | None = _FAMILIES_OPT,
    detector: list[str] | None = _DETECTORS_OPT,
    no_peers: bool = typer.Option(False, "--no-peers", help="Leave out PyOD's KNN, LOF, "
                                  "IForest and ECOD."),
) -> None:
    """Every detector and the PyOD peers on images, tables and series: benchmark.json,
    benchmark.md (per-set AUPRC, family means, mean ranks, worst gaps) and ranks.png."""
    from historyad.evaluation.benchmark import LINEUP, run_benchmark
    from historyad.evaluation.jobs import detector_class

    toml = _load_toml(opts["config"], ("quick", "set", "family", "detector", "no_peers", "out",
                                       "data", "seed"), lists=("detector", "set", "family"))
    out_p, data_s, _, seed_i, quick_b = _common(toml, {**opts, "quick": quick},
                                                "runs/benchmark")
    _out_dir(out_p, overwrite=True)  # a folder (its three files are rewritten whole)
    names = list(_pick("detector", detector, toml, list(LINEUP)))
    for n in names:
        detector_class(n)
    lineup = {n: LINEUP.get(n, {"name": n}) for n in names}
    result = run_benchmark(
        quick=quick_b, data_root=data_s, seed=seed_i,
        sets=list(_pick("set", set_, toml, [])), families=list(_pick("family", family, toml, [])),
        detectors=lineup, peers=[] if _pick("no_peers", no_peers, toml, False) else None,
        out_dir=out_p,
    )
    summary = result.summary
    for fam, f in summary.get("families", {}).items():
        best = sorted(f["mean_auprc"].items(), key=lambda kv: -kv[1])
        typer.echo(f"{fam} ({f['sets']} sets) mean AUPRC: "
                   + ", ".join(f"{d} {v:.3f}" for d, v in best))
    if summary.get("mean_rank"):
        ranked = sorted(summary["mean_rank"].items(), key=lambda kv: kv[1])
        typer.echo("mean rank: " + ", ".join(f"{d} {r:.2f}" for d, r in ranked))
    typer.echo(f"wrote {out_p}/benchmark.json, benchmark.md and ranks.png")


@app.command()
@with_options("data", "config")
def datasets(opts: Any) -> None:
    """Registered datasets: kind, present locally, where looked for, downloadable."""
    from historyad.data import DATASETS, ENV_VAR, data_home, dataset_dir

    toml = _load_toml(opts["config"], ("data",))
    root = _pick("data", opts["data"], toml, None)
    source = "--data" if root else f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "pooch cache"
    typer.echo(f"data folder: {data_home(root)} (from {source})")
    rows = [("name", "kind", "present", "downloadable", "looked in")]
    for name, info in DATASETS.items():
        where = "(in memory)" if not info.files else str(dataset_dir(name, root))
        rows.append((name, info.kind, _presence(name, root), "yes" if info.downloadable
                     else "no", where))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            typer.echo("  ".join("-" * w for w in widths))


@app.command()
@with_options("out", "data", "device", "seed", "quick", "config", "overwrite")
def reproduce(
    opts: Any,
    name: str | None = typer.Argument(None, help="Experiment name (see --list)."),
    list_: bool = typer.Option(False, "--list", help="List the experiments."),
) -> None:
    """Run a paper experiment: metrics.json, config.json, report.md and figures in --out."""
    import importlib

    from historyad.evaluation.experiments import EXPERIMENTS, load_experiment
    from historyad.evaluation.experiments.common import RunContext

    if list_:
        from historyad.evaluation.experiments import DESCRIPTIONS

        for key, target in EXPERIMENTS.items():
            module = target.partition(":")[0]
            ok = importlib.util.find_spec(module) is not None
            typer.echo(f"{key:22s} {DESCRIPTIONS.get(key, target)}"
                       f"{'' if ok else '  (module not available yet)'}")
        return
    toml = _load_toml(opts["config"], (*_COMMON, "name", "experiment"))
    name = _pick("name", name, toml, None)
    if not name:
        raise CLIError(f"give an experiment name; choose one of {sorted(EXPERIMENTS)}")
    if name not in EXPERIMENTS:
        raise CLIError(f"experiment {name!r} is unknown; choose one of {sorted(EXPERIMENTS)}")
    out_p, data_s, device_s, seed_i, quick_b = _common(toml, opts, f"runs/{name}")
    run_fn = load_experiment(name)
    _out_dir(out_p, _pick("overwrite", opts["overwrite"], toml, False))
    ctx = RunContext(out_dir=out_p, quick=quick_b, seed=seed_i, data_root=data_s,
                     device=device_s, config=dict(toml.get("experiment", {})))
    typer.echo(f"running {name}{' (quick)' if quick_b else ''} -> {out_p}")
    records = run_fn(ctx)
    _echo_tables(records)
    typer.echo(f"wrote {out_p}/metrics.json, config.json, report.md and figures")


register_export(app)  # `historyad export` (historyad.cli.export)
app.command("info")(_files.info)


def main() -> None:
    """Console-script entry point."""
    app()
