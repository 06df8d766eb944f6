"""``historyad info MODEL``: what a saved model is, what it was trained on (from the
``input.json`` / ``config.json`` beside it), its threshold, calibration and training curves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from historyad.evaluation.filejobs import (
    INPUT_JSON,
    TRAINING_CSV,
    TRAINING_DTV_CSV,
    TRAINING_PNG,
)


def describe_model(model: str | Path) -> list[str]:
    """What ``historyad info MODEL`` prints: the detector, what it was trained on, its
    threshold, the versions and the files beside it."""
    from historyad.detectors.base import BaseDetector
    from historyad.detectors.registry import DETECTORS

    model = Path(model)
    det = BaseDetector.load(model)
    name = next((n for n, (_, c) in DETECTORS.items() if c == type(det).__name__), "?")
    defaults = type(det)().get_params(deep=False)
    changed = {k: v for k, v in det.get_params(deep=False).items()
               if defaults.get(k) != v and k != "progress"}
    shape = det.input_shape_
    if len(shape) == 1:
        what = f"table rows of {shape[0]} features"
    elif len(shape) == 2:
        what = f"series windows of {shape[0]} channels × {shape[1]} rows"
    else:
        what = (f"images of {shape[0]} channel{'s' if shape[0] > 1 else ''}, "
                f"{shape[1]}×{shape[2]} pixels")
    lines = [f"model: {model}",
             f"  detector: {type(det).__name__} (registry name {name!r}); scores: higher = "
             "more anomalous",
             "  parameters: " + (", ".join(f"{k}={v!r}" for k, v in changed.items())
                                 or "the defaults"),
             f"  input: {what}; standardised with training statistics: "
             f"{'yes' if det.mean_ is not None else 'no'}"]
    scores = np.asarray(det.decision_scores_)
    thr_line = (f"threshold: {det.threshold_:.6g} (the {1 - det.contamination:.0%} quantile of "
                f"the {len(scores)} training scores, contamination {det.contamination:g}; "
                f"training scores {scores.min():.4g} .. {scores.max():.4g})")
    sidecar = model.parent / INPUT_JSON
    config = model.parent / "config.json"
    if sidecar.is_file():
        meta = json.loads(sidecar.read_text())
        spec, t = meta["input"], meta["trained_on"]
        lines.append(f"trained on: {t['source']} ({spec['kind']}, {t['format']}"
                     + (f", delimiter {t['delimiter']!r}" if t.get("delimiter") else "") + ")")
        rows = f"{t['n_rows']} {'images' if spec['kind'] == 'images' else 'rows'}"
        if spec["kind"] == "series":
            rows += (f" -> {t['shape'][0]} windows (window {spec['window']}, stride "
                     f"{spec['stride']})")
        if t.get("rows_left_out"):
            rows += f"; {t['rows_left_out']} rows labelled 1 left out"
        lines.append(f"  {rows}; training data shape {tuple(t['shape'])}, values "
                     f"{t['min']:.4g} .. {t['max']:.4g}")
        if spec.get("columns"):
            lines.append(f"  features ({len(spec['columns'])}): {', '.join(spec['columns'])}")
        extra = [f"{k.replace('_', ' ')} {spec[k]!r}" for k in
                 ("timestamp_column", "label_column", "channels", "size") if spec.get(k)]
        if t.get("dropped_columns"):
            extra.append(f"columns left out (not numeric) {t['dropped_columns']}")
        if extra:
            lines.append("  " + "; ".join(extra))
        lines.append(thr_line)
        v = meta.get("versions", {})
        lines.append("versions at fit: " + ", ".join(f"{k} {val}" for k, val in v.items()))
        lines.append(f"fit took {meta.get('fit_seconds', math.nan):.1f} s")
    elif config.is_file():
        cfg = json.loads(config.read_text())
        lines.append(f"trained on: dataset {cfg.get('dataset')!r}, protocol "
                     f"{cfg.get('protocol')!r}, class {cfg.get('class')!r} (config.json)")
        lines.append(thr_line)
    else:
        lines.append("trained on: unknown (no input.json or config.json beside the model)")
        lines.append(thr_line)
    cal = getattr(det, "calibration_scores_", None)
    lines.append(f"calibration: {len(cal)} held-out normal scores (conformal p-values; "
                 "score --alpha)" if cal is not None else
                 "calibration: none (no p-values; fit with --calibration 0.2 for them)")
    curves = [p.name for p in (model.parent / TRAINING_CSV, model.parent / TRAINING_PNG,
                               model.parent / TRAINING_DTV_CSV) if p.is_file()]
    if not curves and getattr(det, "training_records_", None):
        curves = ["in the model file (training_records_)"]
    lines.append("training curves: " + (", ".join(curves) if curves else
                                         "none (this detector trains no GAN)"))
    return lines


__all__ = ["describe_model"]
