"""The jobs behind ``historyad fit``, ``score`` and ``evaluate``: protocol splits, detector
parameters (the ``--quick`` schedules, parameters routed to the shared GAN), fitting and
scoring through the harness (``evaluation.harness``) and the run directory.

The command line (``historyad.cli``) only reads options and prints; everything that decides
what is trained lives here. Errors are ``ValueError`` with a message naming the option.

One default differs from the detectors' own, and it is announced when it applies
(``short_schedule_alpha``): HistoryAD's history window starts at α = 1 epoch (the HistoryAD
paper), which needs ``n_epochs`` > 1; with ``n_epochs`` ≤ 1 and no ``alpha`` given, ``fit``
and ``evaluate`` use α = 0.2 · ``n_epochs`` (the paper's proportion, 1 of 5 epochs) instead
of failing, say so on stderr and write it to ``config.json``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from historyad.evaluation.harness import GAN_KEYS, HISTORY_KEYS

PROTOCOLS = {"loo": "loo", "leave-one-class-out": "loo", "one-class": "one-class",
             "one_class": "one-class", "windows": "windows"}
#: ``--quick`` schedules of ``fit`` and ``evaluate`` (applied where the detector takes them)
QUICK_PARAMS: dict[str, Any] = {"n_epochs": 2.0, "min_iterations": 200, "dtv_steps": 200,
                                "encoder_epochs": 2.0, "inversion_steps": 20,
                                "saves_per_epoch": 10}
QUICK_CAPS = {"max_train": 2000, "max_test": 2000}
#: α = SHORT_SCHEDULE_ALPHA · n_epochs for HistoryAD when n_epochs <= 1 and alpha is not given
SHORT_SCHEDULE_ALPHA = 0.2

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ----------------------------------------------------------------------------- checks


def check_dataset(name: str | None) -> str:
    from historyad.data import DATASETS

    if not name:
        raise ValueError(f"--dataset is required; choose one of {sorted(DATASETS)}")
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"--dataset {name!r} is unknown; choose one of {sorted(DATASETS)}")
    return name


def check_device(device: object, option: str = "--device") -> str:
    """``device`` if torch can use it here: cpu, cuda or cuda:N (CUDA available); else
    ValueError naming ``option``."""
    if isinstance(device, str) and device == "cpu":
        return device
    if isinstance(device, str) and (device == "cuda" or (
            device.startswith("cuda:") and device[5:].isdigit())):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"{option} {device!r}: CUDA is not available here; use cpu")
        index = int(device[5:]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"{option} {device!r}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
        return device
    raise ValueError(f"{option} {device!r} is not allowed; use cpu, cuda or cuda:N")


def detector_class(name: str) -> type:
    from historyad.detectors.registry import DETECTORS, get_detector

    if not isinstance(name, str) or name not in DETECTORS:
        raise ValueError(f"--detector {name!r} is unknown; choose one of {sorted(DETECTORS)}")
    return get_detector(name)


def protocol_name(name: str) -> str:
    if not isinstance(name, str) or name not in PROTOCOLS:
        raise ValueError(f"--protocol {name!r} is unknown; choose one of loo, one-class, windows")
    return PROTOCOLS[name]


def valid_params(klass: type) -> list[str]:
    return sorted(klass().get_params(deep=False))


def _class_value(value: Any, classes: Sequence[str], option: str) -> int | str:
    """A class given by name or index; errors list the classes."""
    text = str(value)
    if text in classes:
        return text
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(classes):
        return int(text)
    raise ValueError(f"{option} {text!r} is not a class; choose one of {list(classes)}")


def make_split(
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
            raise ValueError(f"--protocol windows needs a recording; only 'daphnet' has one, "
                             f"not {dataset!r}")
        rec = load_daphnet_recording(root=data, download=download)
        return windows(rec.X, rec.labels, window=window, stride=stride, name="daphnet")
    ds = load(dataset, root=data, download=download)
    if len(ds.classes) < 2:
        raise ValueError(f"--dataset {dataset!r} has one class; --protocol {protocol} needs two")
    option = "--anomaly" if protocol == "loo" else "--normal"
    value = _class_value(ds.classes[0] if klass is None else klass, ds.classes, option)
    if protocol == "loo":
        return leave_one_class_out(ds, value, train_fraction=0.8, seed=seed, **caps)
    return one_class(ds, value, seed=seed, **caps)


#: the settings that decide a split (as ``fit`` writes them to config.json)
SPLIT_KEYS = ("dataset", "protocol", "class", "seed", "quick", "window", "stride")


def training_overlap(
    saved: Mapping[str, Any],
    scored: Mapping[str, Any],
    X_test: Any,
    *,
    data: str | None,
) -> str | None:
    """A warning when the split being scored may hold rows the model was trained on, or
    None. ``saved``: the model's ``config.json`` (``fit`` writes the split's settings there,
    ``SPLIT_KEYS``); ``scored``: the settings of the split being scored. The same settings
    give the fit's own test split (disjoint from its training rows); other settings on the
    same dataset rebuild the training split and count the scored rows found in it."""
    if not saved.get("dataset") or saved.get("dataset") != scored.get("dataset"):
        return None

    def norm(key: str, value: Any) -> Any:
        return None if value is None else str(value) if key == "class" else value

    diffs = [f"{k} {norm(k, saved.get(k))!r} -> {norm(k, scored.get(k))!r}" for k in SPLIT_KEYS
             if norm(k, saved.get(k)) != norm(k, scored.get(k))]
    if not diffs:
        return None
    klass = "" if saved.get("class") is None else f", class {saved['class']!r}"
    fitted = (f"the model was fit on {saved['dataset']} ({saved.get('protocol')}{klass}, seed "
              f"{saved.get('seed')}); this split differs in " + ", ".join(diffs))
    try:
        import numpy as np

        train = make_split(saved["dataset"], saved["protocol"], saved.get("class"), data=data,
                           seed=int(saved.get("seed", 0)), quick=bool(saved.get("quick")),
                           window=int(saved.get("window", 64)),
                           stride=int(saved.get("stride", 32))).X_train
        X_test = np.asarray(X_test, dtype=np.float32)
        if train.shape[1:] != X_test.shape[1:]:
            return None
        seen = {row.tobytes() for row in train.reshape(len(train), -1)}
        n = sum(row.tobytes() in seen for row in X_test.reshape(len(X_test), -1))
    except Exception as exc:  # the warning must never stop the scoring
        return (f"{fitted}: it may hold the model's training rows (not checked: {exc}); "
                "those would look more normal than unseen rows (optimistic metrics)")
    if n == 0:
        return None
    return (f"{n} of {len(X_test)} scored rows ({100 * n / len(X_test):.0f} %) are rows the "
            f"model was trained on: {fitted}; they look more normal than unseen rows "
            "(optimistic metrics)")


# ----------------------------------------------------------------------------- parameters


def short_schedule_alpha(params: dict[str, Any], *, label: str = "historyad") -> str | None:
    """Set HistoryAD's ``alpha`` to ``SHORT_SCHEDULE_ALPHA · n_epochs`` in ``params`` when
    ``n_epochs`` <= 1 and ``alpha`` is not given (the default α = 1 epoch needs n_epochs > 1);
    returns the note to show, or None when nothing was set."""
    n_epochs = params.get("n_epochs", 5.0)
    if (isinstance(n_epochs, bool) or not isinstance(n_epochs, numbers.Real)
            or not 0 < n_epochs <= 1 or "alpha" in params):
        return None  # a bad n_epochs is reported as such by the detector's check
    n_epochs = float(n_epochs)
    params["alpha"] = SHORT_SCHEDULE_ALPHA * n_epochs
    return (f"{label}: alpha={params['alpha']:g} ({SHORT_SCHEDULE_ALPHA:g} · n_epochs="
            f"{n_epochs:g}; the default alpha=1 epoch needs n_epochs > 1; set -p alpha=... to "
            "choose)")


def detector_params(
    klass: type, params: dict[str, Any], *, device: str, seed: int, quick: bool
) -> dict[str, Any]:
    """``fit``'s parameters: the quick schedule, device and seed (``random_state``), then
    ``params``; unknown names are an error listing the valid ones."""
    valid = valid_params(klass)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            f"--param {unknown} not accepted by {klass.__name__}; valid parameters: {valid}"
        )
    if "device" in params:
        check_device(params["device"], "--param device")
    out = {k: v for k, v in QUICK_PARAMS.items() if quick and k in valid}
    out.update({k: v for k, v in (("device", device), ("random_state", seed)) if k in valid})
    out.update(params)
    return out


def check_detector_params(klass: type, params: Mapping[str, Any], *, label: str) -> None:
    """Check ``params`` against ``klass``'s parameter constraints before any data is loaded
    or any training starts: ValueError ``"<label>: <parameter>=<value> is not allowed; ..."``
    (the detector asked for, the parameter, the value and what is allowed)."""
    try:
        det = klass(**params)
        check = getattr(det, "_validate_params", None)
        if check is not None:
            check()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{label}: {exc}") from None


def evaluate_settings(
    names: Sequence[str],
    params: dict[str, Any],
    *,
    gan: dict[str, Any],
    history: dict[str, Any],
    device: str,
    seed: int,
    quick: bool,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any], list[str]]:
    """``(specs, gan, history, notes)`` of ``evaluate``: one harness spec per detector, the
    shared GAN's parameters (``GAN_KEYS``) and HistoryAD's history (``HISTORY_KEYS``).
    ``params`` (``key`` or ``label.key``) go to the GAN, the history or the detectors that
    take them; ``gan`` / ``history`` are the ``[gan]`` / ``[history]`` tables."""
    from historyad.detectors.gan_base import GANDetector

    classes = {n: detector_class(n) for n in dict.fromkeys(names)}
    gan_users = [n for n, c in classes.items() if issubclass(c, GANDetector)]
    history_users = [n for n in gan_users if classes[n].needs_history]
    for table, given, allowed, users, what in (
        ("[gan]", gan, GAN_KEYS, gan_users, "GAN"),
        ("[history]", history, HISTORY_KEYS, history_users, "generator history"),
    ):
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            whose = (f"to the {what} of {', '.join(users)}" if users else
                     f"(and no detector asked for, {', '.join(classes)}, uses a {what})")
            raise ValueError(f"{table} keys {unknown} are unknown {whose}; {table} takes: "
                             f"{list(allowed)}")
    if "device" in gan:
        check_device(gan["device"], "[gan] device")
    gan_out = {k: v for k, v in QUICK_PARAMS.items() if quick and k in GAN_KEYS}
    gan_out.update({"device": device, "random_state": seed, **gan})
    hist = {k: v for k, v in QUICK_PARAMS.items() if quick and k in HISTORY_KEYS}
    hist.update(history)
    specs: dict[str, dict[str, Any]] = {
        n: {"name": n, **({k: v for k, v in QUICK_PARAMS.items()
                           if quick and k in valid_params(c) and k not in GAN_KEYS
                           and k not in HISTORY_KEYS})}
        for n, c in classes.items()
    }
    if "knn" in specs:
        specs["knn"]["device"] = device
    for key, value in params.items():
        label, dot, pkey = key.rpartition(".")
        if pkey == "device":
            check_device(value, f"--param {key}")
        targets = [label] if dot else list(specs)
        if dot and label not in specs:
            raise ValueError(f"--param {key!r}: {label!r} is not a chosen detector {list(specs)}")
        if pkey in GAN_KEYS and any(issubclass(classes[t], GANDetector) for t in targets):
            gan_out[pkey] = value
        elif pkey in HISTORY_KEYS and any(classes[t].needs_history for t in targets
                                          if issubclass(classes[t], GANDetector)):
            hist[pkey] = value
        accepted = [t for t in targets if pkey in valid_params(classes[t])]
        if not accepted:
            valid = sorted({p for t in targets for p in valid_params(classes[t])})
            raise ValueError(f"--param {key!r} is accepted by none of {targets}; valid: {valid}")
        if pkey not in GAN_KEYS and pkey not in HISTORY_KEYS:
            for t in accepted:
                specs[t][pkey] = value
    notes = []
    if any(getattr(c, "needs_history", False) for c in classes.values()):
        window = {"n_epochs": gan_out.get("n_epochs", 5.0), **hist}
        note = short_schedule_alpha(window)
        if note is not None:
            hist["alpha"] = window["alpha"]
            notes.append(note)
    for n, spec in specs.items():  # every detector's parameters, before any data is loaded
        klass = classes[n]
        merged = {k: v for k, v in spec.items() if k != "name"}
        if issubclass(klass, GANDetector):  # as harness.fit_each merges them
            merged = {**gan_out, **(hist if klass.needs_history else {}), **merged}
        check_detector_params(klass, merged, label=n)
    return specs, gan_out, hist, notes


# ----------------------------------------------------------------------------- jobs


def run_context(out: Path, *, quick: bool, seed: int, data: str | None, device: str) -> Any:
    """The run directory of a ``fit`` or ``evaluate`` job (``experiments.common.RunContext``)."""
    from historyad.evaluation.experiments.common import RunContext

    return RunContext(out_dir=out, quick=quick, seed=seed, data_root=data, device=device)


def run_fit(
    name: str,
    params: dict[str, Any],
    split: Any,
    *,
    ctx: Any,
    resolved: dict[str, Any],
    echo: Echo = _quiet,
    calibration: float | None = None,
) -> tuple[dict[str, Any], Path]:
    """Fit detector ``name`` on ``split.X_train`` (``harness.fit_each``; ``calibration``: the
    share of it held out for p-values), save it as ``ctx.out_dir/model.safetensors``, score
    the test part and write the run directory. Returns ``(record, model path)``."""
    from historyad.evaluation.filejobs import save_training_records
    from historyad.evaluation.harness import fit_each, score_fitted

    echo(f"fitting {name} on {split.name}: {len(split.X_train)} training samples")
    fit_kwargs = {name: {"calibration": calibration}} if calibration is not None else None
    _, det, fit_s = next(fit_each(split.X_train, {name: {"name": name, **params}},
                                  fit_kwargs=fit_kwargs))
    path = det.save(ctx.out_dir / "model.safetensors")
    save_training_records(det, ctx.out_dir)  # training.csv / .png beside the model
    proto = resolved["protocol"]
    anomaly = split.meta.get("anomaly_class_name", split.meta.get("normal_class_name", ""))
    res = score_fitted(name, det, fit_s, split.X_test, split.y_test,
                       dataset=resolved["dataset"], protocol=proto, anomaly=str(anomaly))
    ap, roc = res.auprc, res.auroc
    record = res.record()
    ctx.finish([record], resolved_config={**resolved, "split": split.meta, "model": str(path)},
               report_md=(
        f"# fit {name} on {split.name}\n\nmodel: `{path.name}`; test AUPRC {ap:.3f}, "
        f"AUROC {roc:.3f} on {len(split.y_test)} samples.\n"
            + ("" if not math.isnan(ap) else
               "\n(the test split has one class: metrics undefined)\n")))
    return record, path


def run_evaluate(
    dataset: str,
    protocol: str,
    wanted: list[Any],
    *,
    specs: dict[str, dict[str, Any]],
    gan: dict[str, Any],
    history: dict[str, Any],
    ctx: Any,
    window: int,
    stride: int,
    download: bool,
    echo_err: Echo = _quiet,
) -> list[dict[str, Any]]:
    """Every detector of ``specs`` on each split (one per class of ``wanted``) through
    ``harness.evaluate_detectors`` (GANs shared when their settings match); writes
    metrics.json, config.json, report.md and the figures to ``ctx.out_dir``."""
    from tqdm.auto import tqdm

    from historyad import plotting
    from historyad.evaluation.experiments.common import figures_md, result_tables
    from historyad.evaluation.harness import evaluate_detectors

    results, records = [], []
    for value in tqdm(wanted, desc=f"{dataset} {protocol}", unit="split"):
        split = make_split(dataset, protocol, None if protocol == "windows" else value,
                           data=ctx.data_root, seed=ctx.seed, quick=ctx.quick, window=window,
                           stride=stride, download=download)
        if split.y_test.min() == split.y_test.max():
            echo_err(f"{split.name}: the test part holds one class only; skipped (metrics "
                     "undefined)")
            continue
        res = evaluate_detectors(split.X_train, split.X_test, split.y_test, specs, gan=gan,
                                 history=history, dataset=dataset, protocol=protocol,
                                 anomaly=str(value))
        results.append((split, res))
        records += [r.record() for r in res]
    figs = []
    if results:
        split0, res0 = results[0]
        figs.append(ctx.figure(plotting.plot_score_densities(
            {r.detector: r.scores for r in res0}, split0.y_test,
            suptitle=f"{split0.name}: test scores"), "score_densities"))
        if len(results) > 1:
            figs.append(ctx.figure(plotting.plot_metric_bars(records), "auprc_bars"))
    resolved = {"command": "evaluate", "dataset": dataset, "protocol": protocol,
                "detectors": specs, "gan": gan, "history": history, "classes": wanted,
                "window": window, "stride": stride}
    ctx.finish(records, resolved_config=resolved, report_md=(
        f"# evaluate: {', '.join(specs)} on {dataset} ({protocol})\n\n"
        f"{result_tables(records)}\n\n## Figures\n\n{figures_md(figs, ctx.out_dir)}\n"))
    return records
