"""The ``historyad`` command line: demo, fit, score, evaluate, benchmark, datasets, reproduce.

Every command takes ``--config FILE.toml``: top-level keys set the command's options (the
command line wins), ``[params]`` holds detector parameters (as ``--param``), ``[gan]`` and
``[history]`` the shared GAN of ``evaluate``, and ``[experiment]`` the overrides of a
``reproduce`` experiment. Errors (bad options, unknown names, missing data) print one
message and exit with code 2; ``-v`` shows INFO logs and ``--debug`` tracebacks.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import os
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="historyad",
    help="GAN-based anomaly detection: HistoryAD, WGAN critic, encoder, inversion, kNN.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PROTOCOLS = {"loo": "loo", "leave-one-class-out": "loo", "one-class": "one-class",
             "one_class": "one-class", "windows": "windows"}
QUICK_PARAMS: dict[str, Any] = {"n_epochs": 2.0, "min_iterations": 200, "dtv_steps": 200,
                                "encoder_epochs": 2.0, "inversion_steps": 20,
                                "saves_per_epoch": 10}
QUICK_CAPS = {"max_train": 2000, "max_test": 2000}
HISTORY_KEYS = ("saves_per_epoch", "alpha", "beta")
_STATE = {"debug": False}


class CLIError(Exception):
    """A user error: printed without a traceback, exit code 2."""


# ----------------------------------------------------------------------------- plumbing


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _guarded(fn: F) -> F:
    """Turn user errors (bad options, unknown names, missing data) into exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except (CLIError, FileNotFoundError, ModuleNotFoundError, ValueError, KeyError) as exc:
            if _STATE["debug"]:
                raise
            msg = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
            if isinstance(exc, FileNotFoundError) and "download=True" in msg:
                msg += " (on the command line: --download)"
            _fail(msg)

    return wrapper  # type: ignore[return-value]


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


def _load_toml(path: Path | None, allowed: Iterable[str]) -> dict[str, Any]:
    """The TOML file's table (``{}`` without ``--config``); unknown top-level keys rejected."""
    if path is None:
        return {}
    if not path.is_file():
        raise CLIError(f"--config {str(path)!r} does not exist (or is not a file)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"--config {str(path)!r} is not valid TOML: {exc}") from None
    data = {k.replace("-", "_"): v for k, v in data.items()}
    allowed = sorted(allowed)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise CLIError(f"--config {str(path)!r}: unknown keys {unknown}; allowed: {allowed}")
    return data


def _pick(name: str, cli_value: Any, toml: dict[str, Any], default: Any) -> Any:
    """The command-line value, else the TOML value, else ``default``."""
    if cli_value is not None and cli_value != [] and cli_value is not False:
        return cli_value
    return toml.get(name, default)


def _parse_value(text: str) -> Any:
    """``key=value`` values: JSON (numbers, true/false/null, lists), Python-style True/False/
    None, else the string itself."""
    aliases = {"True": True, "False": False, "None": None}
    if text in aliases:
        return aliases[text]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_params(items: Sequence[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--param {item!r} is not allowed; use key=value (e.g. n_epochs=2)")
        out[key.strip()] = _parse_value(value.strip())
    return out


def _check_device(device: str) -> str:
    import torch

    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise CLIError(f"--device {device!r}: CUDA is not available here; use --device cpu")
        return device
    raise CLIError(f"--device {device!r} is not allowed; use cpu, cuda or cuda:N")


def _check_dataset(name: str | None) -> str:
    from historyad.data import DATASETS

    if not name:
        raise CLIError(f"--dataset is required; choose one of {sorted(DATASETS)}")
    if name not in DATASETS:
        raise CLIError(f"--dataset {name!r} is unknown; choose one of {sorted(DATASETS)}")
    return name


def _detector_class(name: str) -> type:
    from historyad.detectors.registry import DETECTORS, get_detector

    if name not in DETECTORS:
        raise CLIError(f"--detector {name!r} is unknown; choose one of {sorted(DETECTORS)}")
    return get_detector(name)


def _protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise CLIError(f"--protocol {name!r} is unknown; choose one of loo, one-class, windows")
    return PROTOCOLS[name]


def _class_value(value: Any, classes: Sequence[str], option: str) -> int | str:
    """A class given by name or index; errors list the classes."""
    text = str(value)
    if text in classes:
        return text
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(classes):
        return int(text)
    raise CLIError(f"{option} {text!r} is not a class; choose one of {list(classes)}")


def _split(
    dataset: str,
    protocol: str,
    klass: Any,
    *,
    data: str | None,
    seed: int,
    quick: bool,
    window: int = 64,
    stride: int = 32,
    download: bool = False,
) -> Any:
    """The protocol's Split; ``klass`` is the anomaly (loo) or the normal class (one-class)."""
    from historyad.data import load, load_daphnet_recording
    from historyad.protocols import leave_one_class_out, one_class, windows

    caps = QUICK_CAPS if quick else {}
    if protocol == "windows":
        if dataset != "daphnet":
            raise CLIError(f"--protocol windows needs a recording; only 'daphnet' has one, "
                           f"not {dataset!r}")
        rec = load_daphnet_recording(root=data, download=download)
        return windows(rec.X, rec.labels, window=window, stride=stride, name="daphnet")
    ds = load(dataset, root=data, download=download)
    if len(ds.classes) < 2:
        raise CLIError(f"--dataset {dataset!r} has one class; --protocol {protocol} needs two")
    option = "--anomaly" if protocol == "loo" else "--normal"
    value = _class_value(ds.classes[0] if klass is None else klass, ds.classes, option)
    if protocol == "loo":
        return leave_one_class_out(ds, value, train_fraction=0.8, seed=seed, **caps)
    return one_class(ds, value, seed=seed, **caps)


def _valid_params(klass: type) -> list[str]:
    return sorted(klass().get_params(deep=False))


def _detector_params(
    klass: type, params: dict[str, Any], *, device: str, seed: int, quick: bool
) -> dict[str, Any]:
    valid = _valid_params(klass)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise CLIError(
            f"--param {unknown} not accepted by {klass.__name__}; valid parameters: {valid}"
        )
    out = {k: v for k, v in QUICK_PARAMS.items() if quick and k in valid}
    out.update({k: v for k, v in (("device", device), ("random_state", seed)) if k in valid})
    out.update(params)
    return out


def _metrics(y: Any, scores: Any) -> tuple[float, float]:
    import numpy as np

    from historyad.evaluation.metrics import auprc, auroc

    y = np.asarray(y)
    if y.size == 0 or y.min() == y.max():
        return math.nan, math.nan
    return auprc(y, scores), auroc(y, scores)


def _echo_tables(records: list[dict[str, Any]]) -> None:
    from historyad.evaluation.report import pivot_table

    if not records or "auprc" not in records[0]:
        return
    for metric in ("auprc", "auroc"):
        typer.echo(pivot_table(records, metric))
        typer.echo("")


# ----------------------------------------------------------------------------- commands

_COMMON = ("out", "data", "device", "seed", "quick")
OUT_OPT = typer.Option(None, "--out", "-o", help="Output folder (or file for score).")
DATA_OPT = typer.Option(
    None, "--data", help="Folder holding <dataset>/ folders (default: $HISTORYAD_DATA, else "
    "the pooch cache)."
)
DEVICE_OPT = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default cpu).")
SEED_OPT = typer.Option(None, "--seed", help="Seed of splits and training (default 0).")
QUICK_OPT = typer.Option(False, "--quick", help="Short schedules and capped data.")
CONFIG_OPT = typer.Option(None, "--config", help="TOML file setting any option.")
DOWNLOAD_OPT = typer.Option(False, "--download", help="Fetch missing files (SHA-256 checked).")
MODEL_OPT = typer.Option(None, "--model", "-m", help="model.safetensors.")
DETECTORS_OPT = typer.Option(None, "--detector", "-d", help="Detector (repeatable).")
ANOMALIES_OPT = typer.Option(
    None, "--anomaly", help="Anomalous class (loo; repeatable; default: every class)."
)
NORMALS_OPT = typer.Option(
    None, "--normal", help="Normal class (one-class; repeatable; default: every class)."
)
SETS_OPT = typer.Option(None, "--set", help="Benchmark set name or prefix, e.g. adbench "
                        "(repeatable; default: the whole suite).")
FAMILIES_OPT = typer.Option(None, "--family", help="images, tables or series (repeatable).")
PARAM_OPT = typer.Option(None, "--param", "-p", help="Detector parameter key=value "
                         "(repeatable; evaluate also takes label.key=value).")


def _common(toml: dict[str, Any], out: Path | None, data: str | None, device: str | None,
            seed: int | None, quick: bool, default_out: str) -> tuple[Path, str | None, str,
                                                                      int, bool]:
    out_p = Path(_pick("out", out, toml, default_out))
    data_s = _pick("data", data, toml, None)
    device_s = _check_device(str(_pick("device", device, toml, "cpu")))
    seed_i = _pick("seed", seed, toml, 0)
    if isinstance(seed_i, bool) or not isinstance(seed_i, int):
        raise CLIError(f"seed={seed_i!r} is not allowed; it must be an integer")
    return out_p, (str(data_s) if data_s else None), device_s, seed_i, bool(
        _pick("quick", quick, toml, False))


@app.command()
@_guarded
def demo(
    out: Path | None = OUT_OPT,
    device: str | None = DEVICE_OPT,
    seed: int | None = SEED_OPT,
    quick: bool = QUICK_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Leave-one-digit-out on scikit-learn's 8×8 digits (offline): AUPRC/AUROC per digit."""
    from historyad.evaluation.experiments.common import RunContext, run_digits_loo

    toml = _load_toml(config, (*_COMMON, "experiment"))
    out_p, data_s, device_s, seed_i, quick_b = _common(toml, out, None, device, seed, quick,
                                                       "runs/demo")
    ctx = RunContext(out_dir=out_p, quick=quick_b, seed=seed_i, data_root=data_s,
                     device=device_s, config=dict(toml.get("experiment", {})))
    records = run_digits_loo(ctx)
    _echo_tables(records)
    typer.echo(f"wrote {out_p}/metrics.json, report.md and figures")


@app.command()
@_guarded
def fit(
    detector: str | None = typer.Option(None, "--detector", "-d",
                                        help="Detector name (default: recommended)."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset name."),
    protocol: str | None = typer.Option(None, "--protocol", help="loo | one-class | windows."),
    anomaly: str | None = typer.Option(None, "--anomaly", help="Anomalous class (loo)."),
    normal: str | None = typer.Option(None, "--normal", help="Normal class (one-class)."),
    param: list[str] | None = PARAM_OPT,
    out: Path | None = OUT_OPT,
    data: str | None = DATA_OPT,
    device: str | None = DEVICE_OPT,
    seed: int | None = SEED_OPT,
    quick: bool = QUICK_OPT,
    download: bool = DOWNLOAD_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Fit a detector on a protocol's training data; save model.safetensors + config.json."""
    from historyad.evaluation.experiments.common import RunContext, timed

    toml = _load_toml(config, (*_COMMON, "detector", "dataset", "protocol", "anomaly",
                               "normal", "params", "window", "stride"))
    out_p, data_s, device_s, seed_i, quick_b = _common(toml, out, data, device, seed, quick,
                                                       "runs/fit")
    name = _pick("detector", detector, toml, "recommended")
    klass = _detector_class(name)
    ds_name = _check_dataset(_pick("dataset", dataset, toml, None))
    proto = _protocol(_pick("protocol", protocol, toml, "loo"))
    klass_value = _pick("anomaly" if proto == "loo" else "normal",
                        anomaly if proto == "loo" else normal, toml, None)
    params = _detector_params(klass, {**toml.get("params", {}), **_parse_params(param)},
                              device=device_s, seed=seed_i, quick=quick_b)
    if "alpha" in _valid_params(klass) and "alpha" not in params:
        n_epochs = float(params.get("n_epochs", 5.0))
        if n_epochs <= 1.0:  # HistoryAD's default α = 1 needs n_epochs > 1
            params["alpha"] = 0.2 * n_epochs
    window, stride = int(toml.get("window", 64)), int(toml.get("stride", 32))
    split = _split(ds_name, proto, klass_value, data=data_s, seed=seed_i, quick=quick_b,
                   window=window, stride=stride, download=download)
    det = klass(**params)
    typer.echo(f"fitting {name} on {split.name}: {len(split.X_train)} training samples")
    _, fit_s = timed(lambda: det.fit(split.X_train))
    path = det.save(out_p / "model.safetensors")
    scores, score_s = timed(lambda: det.decision_function(split.X_test))
    ap, roc = _metrics(split.y_test, scores)
    record = {"detector": name, "dataset": ds_name, "protocol": proto,
              "anomaly": str(split.meta.get("anomaly_class_name",
                                            split.meta.get("normal_class_name", ""))),
              "auprc": ap, "auroc": roc, "fit_seconds": round(fit_s, 3),
              "score_seconds": round(score_s, 3)}
    resolved = {"command": "fit", "detector": name, "params": params, "dataset": ds_name,
                "protocol": proto, "anomaly": anomaly if proto == "loo" else None,
                "normal": normal if proto == "one-class" else None, "class": klass_value,
                "window": window, "stride": stride, "split": split.meta, "model": str(path)}
    ctx = RunContext(out_dir=out_p, quick=quick_b, seed=seed_i, data_root=data_s,
                     device=device_s)
    note = "" if not math.isnan(ap) else "\n(the test split has one class: metrics undefined)\n"
    ctx.finish([record], resolved_config=resolved, report_md=(
        f"# fit {name} on {split.name}\n\nmodel: `{path.name}`; test AUPRC {ap:.3f}, "
        f"AUROC {roc:.3f} on {len(split.y_test)} samples.\n{note}"))
    typer.echo(f"saved {path} (test AUPRC {ap:.3f}, AUROC {roc:.3f})")


@app.command()
@_guarded
def score(
    model: Path | None = MODEL_OPT,
    dataset: str | None = typer.Option(None, "--dataset", help="Default: the model's."),
    protocol: str | None = typer.Option(None, "--protocol", help="Default: the model's."),
    anomaly: str | None = typer.Option(None, "--anomaly", help="Default: the model's."),
    normal: str | None = typer.Option(None, "--normal", help="Default: the model's."),
    out: Path | None = OUT_OPT,
    data: str | None = DATA_OPT,
    device: str | None = DEVICE_OPT,
    seed: int | None = SEED_OPT,
    quick: bool = QUICK_OPT,
    download: bool = DOWNLOAD_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Score a protocol's test split with a saved model; write index,label,score,prediction."""
    from historyad.detectors.base import BaseDetector

    toml = _load_toml(config, (*_COMMON, "model", "dataset", "protocol", "anomaly", "normal",
                               "window", "stride"))
    model_p = _pick("model", model, toml, None)
    if not model_p:
        raise CLIError("--model is required (a model.safetensors written by `historyad fit`)")
    model_p = Path(model_p)
    saved: dict[str, Any] = {}
    if (model_p.parent / "config.json").is_file():
        saved = json.loads((model_p.parent / "config.json").read_text())
    toml = {**{k: saved[k] for k in ("dataset", "protocol", "seed", "quick", "window",
                                     "stride", "data_root") if saved.get(k) is not None},
            **toml}
    if "data_root" in toml:
        toml.setdefault("data", toml.pop("data_root"))
    out_p, data_s, _, seed_i, quick_b = _common(toml, out, data, device, seed, quick,
                                                "scores.csv")
    ds_name = _check_dataset(_pick("dataset", dataset, toml, None))
    proto = _protocol(_pick("protocol", protocol, toml, "loo"))
    cli_class = anomaly if proto == "loo" else normal
    klass_value = cli_class if cli_class is not None else saved.get("class")
    det = BaseDetector.load(model_p)
    split = _split(ds_name, proto, klass_value, data=data_s, seed=seed_i, quick=quick_b,
                   window=int(toml.get("window", 64)), stride=int(toml.get("stride", 32)),
                   download=download)
    scores = det.decision_function(split.X_test)
    preds = det.predict(split.X_test)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    with out_p.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["index", "label", "score", "prediction"])
        for i, (y, s, p) in enumerate(zip(split.y_test, scores, preds, strict=True)):
            writer.writerow([i, int(y), f"{float(s):.8g}", int(p)])
    ap, roc = _metrics(split.y_test, scores)
    typer.echo(f"wrote {len(scores)} scores to {out_p} (AUPRC {ap:.3f}, AUROC {roc:.3f})")


@app.command()
@_guarded
def evaluate(
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset name."),
    protocol: str | None = typer.Option(None, "--protocol", help="loo | one-class | windows."),
    detector: list[str] | None = DETECTORS_OPT,
    anomaly: list[str] | None = ANOMALIES_OPT,
    normal: list[str] | None = NORMALS_OPT,
    param: list[str] | None = PARAM_OPT,
    out: Path | None = OUT_OPT,
    data: str | None = DATA_OPT,
    device: str | None = DEVICE_OPT,
    seed: int | None = SEED_OPT,
    quick: bool = QUICK_OPT,
    download: bool = DOWNLOAD_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Detectors on a dataset + protocol (one shared GAN) -> metrics.json, report.md."""
    from tqdm.auto import tqdm

    from historyad import plotting
    from historyad.data import load
    from historyad.detectors.gan_base import GANDetector
    from historyad.evaluation.experiments.common import RunContext, figures_md, result_tables
    from historyad.evaluation.harness import GAN_KEYS, evaluate_detectors
    from historyad.training.trainer import iters_per_epoch

    toml = _load_toml(config, (*_COMMON, "dataset", "protocol", "detector", "anomaly",
                               "normal", "params", "gan", "history", "window", "stride"))
    out_p, data_s, device_s, seed_i, quick_b = _common(toml, out, data, device, seed, quick,
                                                       "runs/evaluate")
    ds_name = _check_dataset(_pick("dataset", dataset, toml, None))
    proto = _protocol(_pick("protocol", protocol, toml, "loo"))
    names = list(_pick("detector", detector, toml, ["recommended", "knn"]))
    classes = {n: _detector_class(n) for n in dict.fromkeys(names)}
    params = {**toml.get("params", {}), **_parse_params(param)}
    gan = {k: v for k, v in QUICK_PARAMS.items() if quick_b and k in GAN_KEYS}
    gan.update({"device": device_s, "random_state": seed_i, **toml.get("gan", {})})
    history = {k: v for k, v in QUICK_PARAMS.items() if quick_b and k in HISTORY_KEYS}
    history.update(toml.get("history", {}))
    specs: dict[str, dict[str, Any]] = {
        n: {"name": n, **({k: v for k, v in QUICK_PARAMS.items()
                           if quick_b and k in _valid_params(c) and k not in GAN_KEYS
                           and k not in HISTORY_KEYS})}
        for n, c in classes.items()
    }
    if "knn" in specs:
        specs["knn"]["device"] = device_s
    for key, value in params.items():
        label, dot, pkey = key.rpartition(".")
        targets = [label] if dot else list(specs)
        if dot and label not in specs:
            raise CLIError(f"--param {key!r}: {label!r} is not a chosen detector {list(specs)}")
        if pkey in GAN_KEYS and any(issubclass(classes[t], GANDetector) for t in targets):
            gan[pkey] = value
        elif pkey in HISTORY_KEYS and any(classes[t].needs_history for t in targets
                                          if issubclass(classes[t], GANDetector)):
            history[pkey] = value
        accepted = [t for t in targets if pkey in _valid_params(classes[t])]
        if not accepted:
            valid = sorted({p for t in targets for p in _valid_params(classes[t])})
            raise CLIError(f"--param {key!r} is accepted by none of {targets}; valid: {valid}")
        if pkey not in GAN_KEYS and pkey not in HISTORY_KEYS:
            for t in accepted:
                specs[t][pkey] = value
    cli_classes = anomaly if proto == "loo" else normal
    wanted = _pick("anomaly" if proto == "loo" else "normal", cli_classes, toml, None)
    if proto == "windows":
        wanted = ["anomalous windows"]
    elif not wanted:
        wanted = list(load(ds_name, root=data_s, download=download).classes)
    elif isinstance(wanted, str | int):
        wanted = [wanted]
    window, stride = int(toml.get("window", 64)), int(toml.get("stride", 32))
    results, records = [], []
    for value in tqdm(wanted, desc=f"{ds_name} {proto}", unit="split"):
        split = _split(ds_name, proto, None if proto == "windows" else value, data=data_s,
                       seed=seed_i, quick=quick_b, window=window, stride=stride,
                       download=download)
        if split.y_test.min() == split.y_test.max():
            typer.echo(f"{split.name}: the test part holds one class only; skipped (metrics "
                       "undefined)", err=True)
            continue
        hist = dict(history)
        n_epochs = float(gan.get("n_epochs", 5.0))
        if "alpha" not in hist and n_epochs <= 1.0:  # HistoryAD's default α = 1 needs more
            hist["alpha"] = 0.2 * n_epochs
        if "saves_per_epoch" not in hist:  # at most one snapshot per generator iteration
            per_epoch = iters_per_epoch(len(split.X_train), int(gan.get("batch_size", 64)),
                                        int(gan.get("n_critic", 5)))
            hist["saves_per_epoch"] = min(50, per_epoch)
        res = evaluate_detectors(split.X_train, split.X_test, split.y_test, specs, gan=gan,
                                 history=hist, dataset=ds_name, protocol=proto,
                                 anomaly=str(value))
        results.append((split, res))
        records += [r.record() for r in res]
    ctx = RunContext(out_dir=out_p, quick=quick_b, seed=seed_i, data_root=data_s,
                     device=device_s)
    figs = []
    if results:
        split0, res0 = results[0]
        figs.append(ctx.figure(plotting.plot_score_densities(
            {r.detector: r.scores for r in res0}, split0.y_test,
            suptitle=f"{split0.name}: test scores"), "score_densities"))
        if len(results) > 1:
            figs.append(ctx.figure(plotting.plot_metric_bars(records), "auprc_bars"))
    resolved = {"command": "evaluate", "dataset": ds_name, "protocol": proto,
                "detectors": specs, "gan": gan, "history": history, "classes": wanted,
                "window": window, "stride": stride}
    ctx.finish(records, resolved_config=resolved, report_md=(
        f"# evaluate: {', '.join(specs)} on {ds_name} ({proto})\n\n"
        f"{result_tables(records)}\n\n## Figures\n\n{figures_md(figs, out_p)}\n"))
    _echo_tables(records)
    typer.echo(f"wrote {out_p}/metrics.json and report.md")


@app.command()
@_guarded
def benchmark(
    quick: bool = typer.Option(False, "--quick", help="Quick sets and schedules (≤ 30 min on "
                               "two CPU cores)."),
    set_: list[str] | None = SETS_OPT,
    family: list[str] | None = FAMILIES_OPT,
    detector: list[str] | None = DETECTORS_OPT,
    no_peers: bool = typer.Option(False, "--no-peers", help="Leave out PyOD's KNN, LOF, "
                                  "IForest and ECOD."),
    out: Path | None = OUT_OPT,
    data: str | None = DATA_OPT,
    seed: int | None = SEED_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Every detector and the PyOD peers on images, tables and series: benchmark.json,
    benchmark.md (per-set AUPRC, family means, mean ranks, worst gaps) and ranks.png."""
    from historyad.evaluation.benchmark import LINEUP, run_benchmark

    toml = _load_toml(config, ("quick", "set", "family", "detector", "no_peers", "out", "data",
                               "seed"))
    out_p, data_s, _, seed_i, quick_b = _common(toml, out, data, None, seed, quick,
                                                "runs/benchmark")
    names = list(_pick("detector", detector, toml, list(LINEUP)))
    for n in names:
        _detector_class(n)
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


def _presence(name: str, root: str | None) -> str:
    """"bundled", "yes", "partial (k/n)" or "no" for dataset ``name`` below ``root``."""
    from historyad.data import DATASETS, dataset_dir

    info = DATASETS[name]
    if not info.files:
        return "bundled"
    folder = dataset_dir(name, root)
    if not folder.is_dir():
        return "no"
    plain = [f for f in info.files if not any(c in f for c in "*{|")]
    if len(plain) < len(info.files):  # patterns: anything inside counts
        return "yes" if any(p.is_file() for p in folder.rglob("*")) else "no"
    found = sum((folder / f).is_file() for f in plain)
    if name == "kmnist" and found < len(plain):
        found_npz = sum(1 for _ in folder.glob("kmnist-*.npz"))
        if found_npz >= 4:
            return "yes"
    if found == len(plain):
        return "yes"
    return f"partial ({found}/{len(plain)})" if found else "no"


@app.command()
@_guarded
def datasets(
    data: str | None = DATA_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Registered datasets: kind, present locally, where looked for, downloadable."""
    from historyad.data import DATASETS, ENV_VAR, data_home, dataset_dir

    toml = _load_toml(config, ("data",))
    root = _pick("data", data, toml, None)
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
@_guarded
def reproduce(
    name: str | None = typer.Argument(None, help="Experiment name (see --list)."),
    list_: bool = typer.Option(False, "--list", help="List the experiments."),
    out: Path | None = OUT_OPT,
    data: str | None = DATA_OPT,
    device: str | None = DEVICE_OPT,
    seed: int | None = SEED_OPT,
    quick: bool = QUICK_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Run a paper experiment: metrics.json, config.json, report.md and figures in --out."""
    import importlib

    from historyad.evaluation.experiments import EXPERIMENTS, load_experiment
    from historyad.evaluation.experiments.common import RunContext

    if list_:
        for key, target in EXPERIMENTS.items():
            module = target.partition(":")[0]
            ok = importlib.util.find_spec(module) is not None
            typer.echo(f"{key:22s} {target}{'' if ok else '  (module not available yet)'}")
        return
    toml = _load_toml(config, (*_COMMON, "name", "experiment"))
    name = _pick("name", name, toml, None)
    if not name:
        raise CLIError(f"give an experiment name; choose one of {sorted(EXPERIMENTS)}")
    if name not in EXPERIMENTS:
        raise CLIError(f"experiment {name!r} is unknown; choose one of {sorted(EXPERIMENTS)}")
    out_p, data_s, device_s, seed_i, quick_b = _common(toml, out, data, device, seed, quick,
                                                       f"runs/{name}")
    run_fn = load_experiment(name)
    ctx = RunContext(out_dir=out_p, quick=quick_b, seed=seed_i, data_root=data_s,
                     device=device_s, config=dict(toml.get("experiment", {})))
    typer.echo(f"running {name}{' (quick)' if quick_b else ''} -> {out_p}")
    records = run_fn(ctx)
    _echo_tables(records)
    typer.echo(f"wrote {out_p}/metrics.json, config.json, report.md and figures")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
