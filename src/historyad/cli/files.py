"""``--input``: ``historyad fit``, ``score`` and ``evaluate`` on the user's own files, and
``historyad info``.

The commands in ``historyad.cli`` take the reading options
(``historyad.cli.options.READING``) and hand their values over here, as one mapping, when
``--input`` (or ``--stream``) is given; the jobs live in ``historyad.evaluation.filejobs`` and
``historyad.evaluation.stream``. Results go to stdout, notes and progress bars (GAN
training, the detector's own training, scoring) to stderr; ``--quiet`` silences the bars.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from historyad.cli._plumbing import (
    _COMMON,
    CLIError,
    _common,
    _load_toml,
    _note,
    _out_dir,
    _out_file,
    _parse_params,
    _pick,
)
from historyad.cli.options import READING

TRAIN_INPUT_OPT = typer.Option(None, "--train-input", help="evaluate --input: fit on this "
                               "file first (read like --input).")
TRAIN_ROWS_OPT = typer.Option(None, "--train-rows", help="evaluate --input: fit on the input's "
                              "first N rows; metrics on the rows after them.")
EVAL_MODEL_OPT = typer.Option(None, "--model", "-m", help="evaluate --input: a model fitted by "
                              "`historyad fit --input` (instead of fitting).")

MODEL_ARG = typer.Argument(..., help="model.safetensors (written by `historyad fit`).")

FILE_KEYS = tuple(k for k in READING if k != "input_")  # their TOML keys
_DATASET_ONLY = ("dataset", "protocol", "anomaly", "normal", "data", "download")


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _no_dataset_options(kw: Mapping[str, Any]) -> None:
    given = [f"--{k}" for k in _DATASET_ONLY if kw.get(k) not in (None, False, [])]
    if given:
        raise CLIError(f"--input reads your own file; {', '.join(given)} "
                       f"{'is' if len(given) == 1 else 'are'} for registered datasets "
                       "(leave out one or the other)")


def _columns(value: Any) -> list[str] | None:
    if not value:
        return None
    items = [value] if isinstance(value, str) else list(value)
    cols = [c.strip() for item in items for c in str(item).split(",") if c.strip()]
    return cols or None


def _delimiter(value: str | None) -> str | None:
    if value is None:
        return None
    return {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
            "space": " "}.get(value, value)


def _spec(path: str, toml: dict[str, Any], kw: dict[str, Any], *, label: bool = True) -> Any:
    """The InputSpec of the command-line (or TOML) reading options."""
    from historyad.data.files import InputSpec, guess_kind

    window = _pick("window", kw.get("window"), toml, None)
    kind = guess_kind(path, window=window)
    given = {opt: _pick(opt, kw.get(opt), toml, None) for opt in ("stride", "channels", "size")}
    misplaced = [f"--{opt}" for opt, ok in (
        ("stride", kind == "series" or given["stride"] is None),
        ("channels", kind == "images" or given["channels"] is None),
        ("size", kind == "images" or given["size"] is None),
        ("window", kind != "images" or window is None)) if not ok]
    if misplaced:
        what = {"images": "an image folder", "series": "a series (--window)"}.get(
            kind, f"a {kind} file")
        raise CLIError(f"{', '.join(misplaced)} do(es) not apply to {path!r}, read as {what}: "
                       "--window/--stride are for series, --channels/--size for image folders")
    return InputSpec(
        kind=kind,
        columns=_columns(_pick("columns", kw.get("columns"), toml, None)),
        label_column=_pick("label_column", kw.get("label_column"), toml, None) if label else None,
        timestamp_column=_pick("timestamp_column", kw.get("timestamp_column"), toml, None),
        delimiter=_delimiter(_pick("delimiter", kw.get("delimiter"), toml, None)),
        window=window,
        stride=_pick("stride", kw.get("stride"), toml, None),
        channels=_pick("channels", kw.get("channels"), toml, None),
        size=_pick("size", kw.get("size"), toml, None),
    )


def _detector_params(name: str, toml: dict[str, Any], kw: dict[str, Any], *, device: str,
                     seed: int, quick: bool, quiet: bool) -> dict[str, Any]:
    from historyad.evaluation import jobs

    klass = jobs.detector_class(name)
    params = jobs.detector_params(klass, {**toml.get("params", {}), **_parse_params(
        kw.get("param"))}, device=device, seed=seed, quick=quick)
    valid = jobs.valid_params(klass)
    if "alpha" in valid:
        _note(jobs.short_schedule_alpha(params, label=name))
    if "progress" in valid:
        params.setdefault("progress", not quiet)
    return params


def _evaluate_params(names: list[str], toml: dict[str, Any], kw: dict[str, Any], *,
                     device: str, seed: int, quick: bool, quiet: bool) -> dict[str, dict]:
    """Each detector's parameters for ``evaluate --input`` with several detectors, as
    ``evaluate --dataset`` resolves them (``jobs.evaluate_settings``): ``-p key=value`` goes
    to the detectors that take it, ``-p label.key=value`` to one, ``[gan]`` / ``[history]``
    to the GAN detectors."""
    from historyad.detectors.gan_base import GANDetector
    from historyad.evaluation import jobs

    raw = {**toml.get("params", {}), **_parse_params(kw.get("param"))}
    specs, gan, hist, notes = jobs.evaluate_settings(
        names, raw, gan=dict(toml.get("gan", {})), history=dict(toml.get("history", {})),
        device=device, seed=seed, quick=quick)
    for note in notes:
        _note(note)
    out = {}
    for name, spec in specs.items():
        klass = jobs.detector_class(name)
        params = {k: v for k, v in spec.items() if k != "name"}
        if issubclass(klass, GANDetector):
            params = {**gan, **(hist if klass.needs_history else {}), **params}
        if "progress" in jobs.valid_params(klass):
            params.setdefault("progress", not quiet)
        out[name] = params
    return out


def _fitted_lines(det: Any, meta: dict[str, Any], out_dir: Path) -> list[str]:
    t = meta["trained_on"]
    what = (f"{t['shape'][0]} windows ({t['shape'][1]} channels × {t['shape'][2]} rows) of "
            f"{t['n_rows']} rows" if meta["input"]["kind"] == "series"
            else f"{t['shape'][0]} items of shape {tuple(t['shape'][1:])}")
    cols = meta["input"].get("columns")
    n_cal = t.get("calibration_items", 0)
    if n_cal:
        what += f", of which {n_cal} held out of training to calibrate the p-values"
    lines = [f"fitted {meta['detector']} ({meta['class']}) on {what} in "
             f"{meta['fit_seconds']:.1f} s"]
    if cols:
        lines.append(f"features: {', '.join(cols)}")
    if t.get("dropped_columns"):
        lines.append(f"columns left out (not numeric): {', '.join(t['dropped_columns'])}")
    lines.append(f"threshold {meta['threshold']:.6g} (the {1 - meta['contamination']:.0%} "
                 "quantile of the training scores)")
    lines.append(f"saved {out_dir}/: {', '.join(meta['files'])}")
    return lines


# ----------------------------------------------------------------------------- fit


def fit(kw: Mapping[str, Any]) -> None:
    """``historyad fit --input PATH``: fit a detector on a file or folder, save the model
    directory (model.safetensors, input.json, config.json, training curves)."""
    from historyad.data.files import read_input
    from historyad.evaluation import filejobs

    toml = _load_toml(kw.get("config"), (*_COMMON, "detector", "params", "calibration",
                                         *FILE_KEYS))
    _no_dataset_options(kw)
    path = str(kw["input_"])
    out_p, _, device_s, seed_i, quick_b = _common(toml, {**kw, "data": None}, "runs/fit")
    _out_dir(out_p, bool(_pick("overwrite", kw.get("overwrite"), toml, False)))
    calibration = _pick("calibration", kw.get("calibration"), toml, None)
    quiet = bool(_pick("quiet", kw.get("quiet"), toml, False))
    name = _pick("detector", kw.get("detector"), toml, "recommended")
    params = _detector_params(name, toml, kw, device=device_s, seed=seed_i, quick=quick_b,
                              quiet=quiet)
    spec = _spec(path, toml, kw)
    data = read_input(path, spec)
    config = {"command": "fit", "input": path, "detector": name, "params": params,
              "reading": dataclasses.asdict(data.spec), "seed": seed_i, "quick": quick_b}
    det, meta = filejobs.fit_data(data, name, params, out_p, config=config, echo=_err,
                                  calibration=calibration)
    for line in _fitted_lines(det, meta, out_p):
        typer.echo(line)


# ----------------------------------------------------------------------------- score


def score(kw: Mapping[str, Any]) -> None:
    """``historyad score --model M --input PATH [--out FILE]`` and ``--stream``."""
    from historyad.evaluation import filejobs

    toml = _load_toml(kw.get("config"), (*_COMMON, "model", "delimiter", "quiet", "stream",
                                         "chunk_size", "alpha"))
    alpha = _pick("alpha", kw.get("alpha"), toml, None)
    overwrite = bool(_pick("overwrite", kw.get("overwrite"), toml, False))
    _no_dataset_options(kw)
    model = _pick("model", kw.get("model"), toml, None)
    if not model:
        raise CLIError("--model is required (a model.safetensors written by "
                       "`historyad fit --input`)")
    path = kw.get("input_")
    delimiter = _delimiter(_pick("delimiter", kw.get("delimiter"), toml, None))
    quiet = bool(_pick("quiet", kw.get("quiet"), toml, False))
    if _pick("stream", kw.get("stream"), toml, False):
        if alpha is not None:
            raise CLIError("--alpha is not available with --stream (stream scores are flagged "
                           "at the fitted threshold); score the file without --stream")
        stream_out = _pick("out", kw.get("out"), toml, None)
        if stream_out not in (None, "-"):
            stream_out = str(_out_file(Path(stream_out), overwrite, "scores.csv"))
        return _stream(Path(model), path, stream_out,
                       chunk=int(_pick("chunk_size", kw.get("chunk_size"), toml, 256)),
                       delimiter=delimiter)
    if path is None:
        raise CLIError("--input is required (or --stream to read standard input)")
    out = _out_file(Path(_pick("out", kw.get("out"), toml, "scores.csv")), overwrite,
                    "scores.csv")
    scored, written = filejobs.score_input(model, path, out, progress=not quiet,
                                           delimiter=delimiter, alpha=alpha)
    for note in scored.notes:
        _note(note)
    n_flag = int(scored.labels.sum())
    rule = (f"above the threshold {scored.threshold:.6g}" if alpha is None else
            f"with p-value <= {alpha:g}" + (" in a window" if scored.window_labels is not None
                                            else ""))
    typer.echo(f"wrote {len(scored.scores)} scores to {written[0]} ({n_flag} flagged {rule}"
               + (", p-values in the p_value column" if scored.p_values is not None else "")
               + ")")
    if len(written) > 1:
        typer.echo(f"wrote {len(scored.window_scores)} window scores to {written[1]}")


def _stream(model: Path, path: str | None, out: str | None, *, chunk: int,
            delimiter: str | None) -> None:
    from historyad.evaluation.stream import stream_scores

    src_name = "<stdin>" if path in (None, "-") else str(path)
    source = sys.stdin if path in (None, "-") else None
    sink = sys.stdout if out in (None, "-") else None
    try:
        if source is None:
            if not Path(path).is_file():
                raise FileNotFoundError(f"--input {path!r} does not exist")
            if Path(path).suffix.lower() in (".parquet", ".pq", ".npy"):
                raise CLIError(f"--stream reads delimited text (CSV); {path!r} is a "
                               f"{Path(path).suffix} file: score it without --stream")
            source = open(path, newline="", encoding="utf-8-sig")
        if sink is None:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            sink = open(out, "w", newline="")
        try:
            res = stream_scores(model, source, sink, name=src_name, chunk_size=chunk,
                                delimiter=delimiter)
        except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
            _silence_stdout()
            return
    finally:
        if source is not None and source is not sys.stdin:
            source.close()
        if sink is not None and sink is not sys.stdout:
            sink.close()
    _err(f"scored {res['rows']} rows from {src_name} ({res['flagged']} flagged above the "
         f"threshold {res['threshold']:.6g})")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush of a closed pipe
    raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


# ----------------------------------------------------------------------------- evaluate


def evaluate(kw: Mapping[str, Any]) -> None:
    """``historyad evaluate --input FILE --label-column COL`` with ``--model M``, or fitting
    first on ``--train-input`` or ``--train-rows``: prints AUPRC, AUROC (and event-level
    scores for series); writes scores.csv and metrics.json to --out."""
    import numpy as np

    from historyad.data.files import column_names, read_input
    from historyad.evaluation import filejobs

    toml = _load_toml(kw.get("config"), (*_COMMON, "detector", "params", "gan", "history",
                                         "model", "train_input", "train_rows", *FILE_KEYS),
                      lists=("detector",))
    _no_dataset_options(kw)
    path = str(kw["input_"])
    if Path(path).is_dir():
        raise CLIError(f"evaluate --input needs 0/1 labels from a --label-column; {path} is an "
                       "image folder (no labels): score it with `historyad score` instead")
    label = _pick("label_column", kw.get("label_column"), toml, None)
    if not label:
        raise CLIError("--label-column is required: the 0/1 column (1 = anomaly) to evaluate "
                       "against")
    out_p, _, device_s, seed_i, quick_b = _common(toml, {**kw, "data": None},
                                                  "runs/evaluate")
    _out_dir(out_p, bool(_pick("overwrite", kw.get("overwrite"), toml, False)))
    quiet = bool(_pick("quiet", kw.get("quiet"), toml, False))
    model = _pick("model", kw.get("model_file"), toml, None)
    train_input = _pick("train_input", kw.get("train_input"), toml, None)
    train_rows = _pick("train_rows", kw.get("train_rows"), toml, None)
    if sum(x is not None for x in (model, train_input, train_rows)) != 1:
        raise CLIError("give exactly one of --model M (a fitted model), --train-input FILE (fit "
                       "on that file first) or --train-rows N (fit on the input's first N "
                       "rows)")
    runs: list[tuple[str, Any, Any]] = []  # (label, detector, the spec to read the input)
    mask_from = 0
    if model is not None:
        det, meta = filejobs.load_model(model)
        runs.append((meta["detector"], det, filejobs.model_spec(meta)))
    else:
        names = list(_pick("detector", kw.get("detector"), toml, None) or ["recommended"])
        spec = _spec(path, toml, kw, label=False)
        if train_rows is not None:
            spec.label_column = label
            full = read_input(path, spec)
            train = filejobs.train_prefix(full, int(train_rows))
            mask_from = int(train_rows)
        else:
            has_label = label in column_names(train_input, delimiter=spec.delimiter)
            train = read_input(train_input, dataclasses.replace(
                spec, label_column=label if has_label else None))
        for name, params in _evaluate_params(names, toml, kw, device=device_s, seed=seed_i,
                                             quick=quick_b, quiet=quiet).items():
            model_dir = out_p if len(names) == 1 else out_p / name
            config = {"command": "evaluate", "input": path, "train_input": train_input,
                      "train_rows": train_rows, "detector": name, "params": params}
            det, meta = filejobs.fit_data(train, name, params, model_dir, config=config,
                                          echo=_err)
            runs.append((name, det, filejobs.model_spec(meta)))
    results = {}
    for name, det, spec in runs:
        data = read_input(path, dataclasses.replace(spec, label_column=label))
        assert data.labels is not None
        scored = filejobs.score_data(det, data, progress=not quiet)
        mask = None
        if mask_from:
            mask = np.arange(len(scored.scores)) >= mask_from
        metrics = filejobs.evaluate_scored(scored, data.labels, mask=mask)
        where = out_p if len(runs) == 1 else out_p / name
        written = filejobs.write_scores(scored, where / "scores.csv")
        metrics["scores"] = [str(p) for p in written]
        results[name] = metrics
        prefix = f"{name}: " if len(runs) > 1 else ""
        for line in filejobs.format_metrics(metrics):
            typer.echo(prefix + line)
    out_p.mkdir(parents=True, exist_ok=True)
    (out_p / "metrics.json").write_text(json.dumps(
        {"input": path, "label_column": label, "model": model and str(model),
         "train_input": train_input,
         "train_rows": train_rows, "results": results}, indent=1))
    typer.echo(f"wrote {out_p}/metrics.json and the scores")


# ----------------------------------------------------------------------------- info


def info(model: Path = MODEL_ARG) -> None:
    """What a saved model is, what it was trained on and its threshold.

    The detector and its parameters, the training data (source, shape, value range, feature
    names), the threshold, the library versions at fit and the training curves."""
    from historyad.evaluation.model_info import describe_model

    for line in describe_model(model):
        typer.echo(line)


__all__ = ["evaluate", "fit", "info", "score"]
