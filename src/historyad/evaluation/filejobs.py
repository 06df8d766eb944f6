"""The jobs behind ``historyad fit``, ``score``, ``evaluate --input`` and ``info``: the user's
own files (``historyad.data.files``) in, a saved model and scores out.

A model directory (``fit --input PATH --out DIR``) holds:

- ``model.safetensors``: the fitted detector (``BaseDetector.save``);
- ``input.json``: how the input was read (``InputSpec``: kind, columns, label and timestamp
  columns, window, stride, channels, image size), what the model was trained on (source,
  shape, value range, rows left out), its threshold and the library versions; ``score``
  reads new files with this spec, so they are read the same way;
- ``config.json``: the command's resolved options;
- ``training.csv`` and ``training.png``: the GAN's training records (one row per generator
  iteration) and their curves, for the detectors that train a GAN (``training_dtv.csv`` too
  for HistoryAD's D_TV network).

Items and ids: a table's rows (id = the row number, 0 = the first data row), an image
folder's files (id = the path relative to the folder) and a series' rows (id = the
timestamp, else the row number). A series is scored per window (``.windows.csv``) and per
row (the mean over the windows covering the row; ``historyad.protocols.rolling``), so the
per-row output has as many rows as the input. The 0/1 label is ``score > threshold_`` (the
``1 − contamination`` quantile of the training scores; for series, of the training
windows' scores). When a label column is read while fitting, the rows labelled 1 (tables)
or the windows holding one (series) are left out of the training data.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from historyad.data.files import FileData, InputSpec, file_format, read_input

logger = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
INPUT_JSON = "input.json"
TRAINING_CSV = "training.csv"
TRAINING_DTV_CSV = "training_dtv.csv"
TRAINING_PNG = "training.png"
#: items per ``decision_function`` call when scoring files (bounded memory, progress steps)
SCORE_CHUNK = 4096

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def versions() -> dict[str, str]:
    """The versions of the library and of what it runs on."""
    import sklearn
    import torch

    from historyad import __version__

    return {"historyad": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "torch": torch.__version__,
            "scikit-learn": sklearn.__version__}


# ----------------------------------------------------------------------------- fitting


def training_items(data: FileData) -> tuple[np.ndarray, dict[str, Any]]:
    """The detector's training data from what was read: table rows, windows (N, C, W) of a
    series, images or an array; rows labelled 1 (and windows holding one) left out."""
    from historyad.protocols.rolling import series_windows, window_labels

    spec = data.spec
    info: dict[str, Any] = {"n_rows": len(data.X), "rows_left_out": 0}
    if spec.kind == "series":
        X, starts = series_windows(data.X, spec.window, spec.stride)
        info["n_windows"] = len(X)
        if data.labels is not None:
            bad = window_labels(data.labels, starts, spec.window).astype(bool)
            X = X[~bad]
            info["rows_left_out"] = int(data.labels.sum())
            info["windows_left_out"] = int(bad.sum())
    else:
        X = data.X
        if data.labels is not None:
            X = X[data.labels == 0]
            info["rows_left_out"] = int(data.labels.sum())
    if len(X) == 0:
        raise ValueError(f"{data.source}: no training data left: every "
                         f"{'window holds' if spec.kind == 'series' else 'row has'} label 1 in "
                         f"--label-column {spec.label_column!r}")
    return X, info


def fit_data(
    data: FileData,
    name: str,
    params: dict[str, Any],
    out_dir: Path,
    *,
    config: dict[str, Any] | None = None,
    echo: Echo = _quiet,
    calibration: float | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit detector ``name`` with ``params`` on ``data``, save the model directory
    ``out_dir`` (see the module docstring); returns the fitted detector and the contents of
    ``input.json`` (plus ``files``: the names written)."""
    from historyad.detectors.registry import get_detector

    X, info = training_items(data)
    det = get_detector(name)(**params)
    what = (f"{len(X)} windows ({X.shape[1]} channels × {X.shape[2]} rows)"
            if data.spec.kind == "series" else f"{len(X)} {_noun(data.spec.kind)}")
    echo(f"fitting {name} on {what} from {data.source}")
    if info["rows_left_out"]:
        echo(f"note: {info['rows_left_out']} rows labelled 1 in {data.spec.label_column!r} are "
             "left out of the training data")
    start = time.perf_counter()
    det.fit(X, calibration=calibration)  # calibration: a share of X held out for p-values
    seconds = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    path = det.save(out_dir / MODEL_FILE)
    train_scores = np.asarray(det.decision_scores_)
    spec = dataclasses.replace(data.spec)
    sidecar = {
        "input": spec.to_dict(),
        "detector": name,
        "class": type(det).__name__,
        "params": _jsonable(det.get_params(deep=False)),
        "trained_on": {
            "source": str(Path(data.source).resolve()),
            "format": file_format(Path(data.source)),
            "delimiter": data.delimiter,
            "shape": list(X.shape),
            "min": float(X.min()),
            "max": float(X.max()),
            "dropped_columns": data.dropped,
            # held out of training for p-values (fit(..., calibration=...)); the shape above
            # counts them
            "calibration_items": (0 if getattr(det, "calibration_scores_", None) is None
                                  else len(det.calibration_scores_)),
            **info,
        },
        "threshold": float(det.threshold_),
        "contamination": float(det.contamination),
        "training_scores": {"min": float(train_scores.min()),
                            "median": float(np.median(train_scores)),
                            "max": float(train_scores.max())},
        "fit_seconds": round(seconds, 3),
        "versions": versions(),
    }
    (out_dir / INPUT_JSON).write_text(json.dumps(sidecar, indent=1))
    if config is not None:
        (out_dir / "config.json").write_text(json.dumps(_jsonable(config), indent=1))
    curves = save_training_records(det, out_dir)
    sidecar["files"] = [p.name for p in (path, out_dir / INPUT_JSON, *curves)]
    return det, sidecar


def _noun(kind: str) -> str:
    return {"images": "images", "table": "rows", "array": "arrays"}.get(kind, "items")


def _jsonable(obj: Any) -> Any:
    from historyad.detectors.persistence import jsonable

    return jsonable(obj, lenient=True)


def save_training_records(det: Any, out_dir: Path) -> list[Path]:
    """``training.csv`` (the GAN's records, one row per generator iteration),
    ``training_dtv.csv`` (HistoryAD's D_TV records) and ``training.png`` (their curves) in
    ``out_dir``, for a detector that trained a GAN; the paths written (none otherwise)."""
    import matplotlib.pyplot as plt

    from historyad.detectors.persistence import training_records
    from historyad.plotting import plot_fit_curves

    kept = training_records(det)  # after a fit or a load (the model file keeps them)
    records = kept.get("records", {})
    if not records.get("epoch"):
        return []
    written = [_write_records(out_dir / TRAINING_CSV, records)]
    dtv = kept.get("dtv_records", {})
    if dtv.get("step"):
        written.append(_write_records(out_dir / TRAINING_DTV_CSV, dtv))
    fig = plot_fit_curves(records, dtv or None, title=f"{type(det).__name__}: training")
    fig.savefig(out_dir / TRAINING_PNG, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(out_dir / TRAINING_PNG)
    return written


def _write_records(path: Path, records: dict[str, list[float]]) -> Path:
    keys = [k for k, v in records.items() if len(v) == len(next(iter(records.values())))]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(keys)
        for row in zip(*(records[k] for k in keys), strict=True):
            writer.writerow([f"{float(v):.8g}" for v in row])
    return path


# ----------------------------------------------------------------------------- scoring


def load_model(model: str | Path) -> tuple[Any, dict[str, Any]]:
    """(detector, the contents of ``input.json`` beside it).

    A table model without ``input.json`` (saved from Python) reads its columns by
    ``feature_names_in_`` when it has them, else every numeric column in order.

    Raises:
        ValueError: no ``input.json`` beside a series or image model (a model fitted on a
            registered dataset: score it with ``--dataset``), or a foreign one.
    """
    from historyad.detectors.base import BaseDetector

    model = Path(model)
    det = BaseDetector.load(model)
    sidecar = model.parent / INPUT_JSON
    if not sidecar.is_file():
        if len(det.input_shape_) == 1:  # a table model saved from Python: read by columns
            names = getattr(det, "feature_names_in_", None)
            spec = InputSpec(kind="table", columns=None if names is None else list(names))
            return det, {"input": spec.to_dict(), "detector": type(det).__name__,
                         "class": type(det).__name__, "trained_on": {}}
        raise ValueError(
            f"{model}: no {INPUT_JSON} beside it, so how its {det.kind_} input was read is "
            "unknown; models fitted with `historyad fit --input` have one (a model fitted "
            "with --dataset scores with --dataset; a table model scores without one, its "
            "columns by feature_names_in_ or all numeric columns in order)"
        )
    meta = json.loads(sidecar.read_text())
    if meta.get("input", {}).get("format") != "historyad-input":
        raise ValueError(f"{sidecar} is not a historyad input description")
    return det, meta


def model_spec(meta: dict[str, Any]) -> InputSpec:
    return InputSpec.from_dict(meta["input"])


def chunked_scores(det: Any, *, progress: bool = False, total: int | None = None,
                   unit: str = "item") -> tuple[Callable[[np.ndarray], np.ndarray], Any]:
    """(score function, its progress bar): ``det.decision_function`` over chunks of
    ``SCORE_CHUNK`` items with a tqdm bar on stderr (close it when done)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="scoring", unit=unit, leave=False, disable=not progress)

    def score(X: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(X), SCORE_CHUNK):
            with warnings.catch_warnings():  # the reader already matched columns by name
                warnings.filterwarnings("ignore", message=".*valid feature names",
                                        category=UserWarning)
                out.append(np.asarray(det.decision_function(X[i:i + SCORE_CHUNK]),
                                      np.float64))
            bar.update(min(SCORE_CHUNK, len(X) - i))
        return np.concatenate(out) if out else np.zeros(0)

    return score, bar


@dataclasses.dataclass
class Scored:
    """Scores of one input: per item (rows, files) and, for series, per window."""

    ids: list[str]
    scores: np.ndarray
    labels: np.ndarray  # 0/1: score > threshold
    data: FileData
    threshold: float
    window_starts: np.ndarray | None = None
    window_scores: np.ndarray | None = None
    #: conformal p-values of the items (tables, images) or windows (series) when the model
    #: has a calibration set (``fit(X, calibration=...)``)
    p_values: np.ndarray | None = None
    window_labels: np.ndarray | None = None
    #: warnings for the user (e.g. the input is the model's own training file)
    notes: list[str] = dataclasses.field(default_factory=list)


def score_data(det: Any, data: FileData, *, progress: bool = False,
               alpha: float | None = None) -> Scored:
    """Score what was read with the fitted detector (series: per window and per row). With a
    calibration set, also the conformal p-values (per item; per window for series).
    ``alpha``: flag p-value <= alpha instead of the fitted threshold (items; series windows,
    a row then being flagged when a window covering it is); ValueError without a
    calibration set."""
    from historyad.protocols.rolling import row_scores, window_starts

    spec = data.spec
    thr = float(det.threshold_)
    calibrated = getattr(det, "calibration_scores_", None) is not None
    if alpha is not None:
        from historyad.detectors.conformal import check_alpha, check_alpha_reachable

        check_alpha(alpha)
        if not calibrated:
            det.p_values_of_scores(np.zeros(1))  # raises: how to add a calibration set
        check_alpha_reachable(alpha, len(det.calibration_scores_),
                              two_sided=det._two_sided())
    if spec.kind == "series":
        n_win = len(window_starts(len(data.X), spec.window, spec.stride)) + 1
        fn, bar = chunked_scores(det, progress=progress, total=n_win, unit="window")
        try:
            per_row, windows = row_scores(data.X, fn, window=spec.window, stride=spec.stride)
        finally:
            bar.close()
        pv = det.p_values_of_scores(windows.scores) if calibrated else None
        if alpha is None:
            win_labels = (windows.scores > thr).astype(np.int64)
            row_labels = (per_row > thr).astype(np.int64)
        else:
            win_labels = (pv <= alpha).astype(np.int64)
            row_labels = np.zeros(len(per_row), dtype=np.int64)
            for st in windows.starts[win_labels == 1].tolist():
                row_labels[st : st + spec.window] = 1
        return Scored(data.ids, per_row, row_labels, data, thr, windows.starts,
                      windows.scores, pv, win_labels)
    fn, bar = chunked_scores(det, progress=progress, total=len(data.X))
    try:
        scores = fn(data.X)
    finally:
        bar.close()
    pv = det.p_values_of_scores(scores) if calibrated else None
    labels = (scores > thr) if alpha is None else (pv <= alpha)
    return Scored(data.ids, scores, labels.astype(np.int64), data, thr, p_values=pv)


def write_scores(scored: Scored, out: Path) -> list[Path]:
    """``out``: one row per item (id, score, label); for series also ``<out stem>.windows.csv``
    (start, end: the ids of each window's first and last rows; score; label)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    series = scored.window_starts is not None
    item_p = scored.p_values if not series else None
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "score", "label", *(["p_value"] if item_p is not None else [])])
        for k, (i, s, y) in enumerate(zip(scored.ids, scored.scores.tolist(),
                                          scored.labels.tolist(), strict=True)):
            writer.writerow([i, f"{s:.8g}", y,
                             *([f"{item_p[k]:.6g}"] if item_p is not None else [])])
    written = [out]
    if series:
        wpath = out.with_name(out.stem + ".windows.csv")
        W = scored.data.spec.window
        pv = scored.p_values
        labels = (scored.window_labels if scored.window_labels is not None
                  else (scored.window_scores > scored.threshold).astype(np.int64))
        with wpath.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["start", "end", "score", "label",
                             *(["p_value"] if pv is not None else [])])
            for k, (st, s) in enumerate(zip(scored.window_starts.tolist(),
                                            scored.window_scores.tolist(), strict=True)):
                writer.writerow([scored.ids[st], scored.ids[st + W - 1], f"{s:.8g}",
                                 int(labels[k]), *([f"{pv[k]:.6g}"] if pv is not None else [])])
        written.append(wpath)
    return written


def score_input(model: str | Path, path: str | Path, out: Path, *, progress: bool = False,
                delimiter: str | None = None,
                alpha: float | None = None) -> tuple[Scored, list[Path]]:
    """Read ``path`` as the model's ``input.json`` says, score it (``score_data``) and write
    ``out``."""
    det, meta = load_model(model)
    spec = dataclasses.replace(model_spec(meta), label_column=None)
    if delimiter is not None:
        spec.delimiter = delimiter
    data = read_input(path, spec)
    scored = score_data(det, data, progress=progress, alpha=alpha)
    source = meta.get("trained_on", {}).get("source")
    if source and Path(path).resolve() == Path(source):
        scored.notes.append(
            f"warning: {path} is the file the model was trained on: its normal rows score "
            "lower than new data would (the threshold and p-values assume new data)")
    return scored, write_scores(scored, out)


# ----------------------------------------------------------------------------- evaluation


def evaluate_scored(scored: Scored, labels: np.ndarray, *,
                    mask: np.ndarray | None = None) -> dict[str, Any]:
    """AUPRC and AUROC of the scores against 0/1 ``labels`` (rows in ``mask`` only), and for
    series the event-level range-based precision, recall and F1 at the threshold."""
    from historyad.evaluation.metrics import range_precision_recall, ranking_metrics

    y, s, p = labels, scored.scores, scored.labels
    if mask is not None:
        y, s, p = y[mask], s[mask], p[mask]
    if y.min() == y.max():
        raise ValueError(f"the labels of the {len(y)} evaluated items are all {int(y[0])}; "
                         "AUPRC and AUROC need both classes")
    ap, roc = ranking_metrics(y, s)
    out: dict[str, Any] = {"n_items": len(y), "n_anomalous": int(y.sum()),
                           "auprc": ap, "auroc": roc, "threshold": scored.threshold,
                           "flagged": int(p.sum())}
    if scored.data.spec.kind == "series":
        prec, rec, f1 = range_precision_recall(y, p)
        out["event"] = {"precision": prec, "recall": rec, "f1": f1}
    return out


def format_metrics(m: dict[str, Any]) -> list[str]:
    """The lines ``evaluate`` prints."""
    lines = [f"AUPRC {m['auprc']:.3f}  AUROC {m['auroc']:.3f}  ({m['n_items']} items, "
             f"{m['n_anomalous']} anomalous; {m['flagged']} flagged above the threshold "
             f"{m['threshold']:.4g})"]
    if "event" in m:
        e = m["event"]
        lines.append(f"events (range-based, Tatbul et al. 2018): precision {e['precision']:.3f}"
                     f"  recall {e['recall']:.3f}  F1 {e['f1']:.3f}")
    return lines


def train_prefix(data: FileData, n_rows: int) -> FileData:
    """The first ``n_rows`` rows of a table or series, as training data."""
    if data.spec.kind not in ("table", "series"):
        raise ValueError("--train-rows applies to tables and series")
    if not 1 <= n_rows < len(data.X):
        raise ValueError(f"--train-rows {n_rows} is not allowed: {data.source} has "
                         f"{len(data.X)} rows; it must be between 1 and {len(data.X) - 1}")
    labels = None if data.labels is None else data.labels[:n_rows]
    return dataclasses.replace(data, X=data.X[:n_rows], ids=data.ids[:n_rows], labels=labels)


__all__ = [
    "INPUT_JSON",
    "MODEL_FILE",
    "Scored",
    "evaluate_scored",
    "fit_data",
    "format_metrics",
    "load_model",
    "save_training_records",
    "score_data",
    "score_input",
    "train_prefix",
    "training_items",
    "versions",
    "write_scores",
]
