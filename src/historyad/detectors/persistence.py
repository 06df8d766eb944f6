"""Saving and loading fitted detectors: one safetensors file per detector.

The file holds the fitted tensors (``state.*`` from each detector's ``_state_tensors``, the
training scores, the standardisation, the calibration scores when there are) and, as
metadata, a JSON document (format, library version, class name, parameters, input shape,
threshold, extra fitted attributes) plus a SHA-256 over both. No pickle: loading never runs
code from the file.

Integrity, and what it does not give: the SHA-256 is stored in the same file, so it detects
accidental corruption or a partial write, not deliberate tampering (whoever can rewrite the
file can rewrite the digest). For that, ``save(path, key=...)`` also stores an HMAC-SHA256
of the same content keyed with a secret (Python's ``hmac``), and ``load(path, key=...)``
refuses a file that is unsigned or signed with another key, or whose content changed.
Without ``key``, ``load`` does not check signatures.

Loading anywhere: ``load(path, device=None)`` builds the detector on ``device`` when given,
else on the saved device when this machine has it, else on the CPU (a model fitted with
``device="cuda"`` loads and scores on a CPU-only machine); the ``device`` parameter of the
loaded detector says where it is. A file written by a newer historyad version loads with a
``NewerVersionWarning`` (the format is the same; a parameter this version does not know is
refused with DetectorFileError naming it). Missing or mis-shaped tensors raise
DetectorFileError naming the tensor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from sklearn.utils.validation import check_is_fitted

from historyad import __version__

if TYPE_CHECKING:
    from torch import nn

    from historyad.detectors.base import BaseDetector

logger = logging.getLogger(__name__)

FORMAT = "historyad-detector"
#: metadata key of the keyed signature
HMAC_KEY = "hmac-sha256"


class DetectorFileError(ValueError):
    """A saved detector file is missing, truncated, corrupt, incomplete, wrongly signed or of
    another format."""


class NewerVersionWarning(UserWarning):
    """The detector file was written by a newer historyad than this one."""


def save_detector(
    det: BaseDetector, path: str | Path, *, key: str | bytes | None = None
) -> Path:
    """Write weights and config to one safetensors file (no pickle). ``key``: also store
    an HMAC-SHA256 keyed with it, which ``load_detector(path, key=...)`` verifies. Returns
    the path."""
    check_is_fitted(det, "threshold_")
    secret = None if key is None else _key_bytes(key)
    path = Path(path)
    tensors = {
        f"state.{k}": v.detach().cpu().contiguous() for k, v in det._state_tensors().items()
    }
    tensors["fitted.decision_scores"] = torch.from_numpy(np.asarray(det.decision_scores_))
    if det.mean_ is not None:
        tensors["fitted.mean"] = torch.from_numpy(det.mean_)
        tensors["fitted.scale"] = torch.from_numpy(det.scale_)
    cal = getattr(det, "calibration_scores_", None)
    if cal is not None:
        tensors["fitted.calibration_scores"] = torch.from_numpy(
            np.ascontiguousarray(cal, dtype=np.float64))
    for prefix, records in training_records(det).items():
        for name, values in records.items():
            tensors[f"{prefix}.{name}"] = torch.from_numpy(
                np.ascontiguousarray(values, dtype=np.float64))
    meta = {
        "format": FORMAT,
        "version": __version__,
        "class": type(det).__name__,
        "params": _jsonable(det.get_params(deep=False)),
        "input_shape": list(det.input_shape_),
        "feature_names": _jsonable(list(getattr(det, "feature_names_in_", []))) or None,
        "threshold": det.threshold_,
        "extra": _jsonable(det._extra_meta()),
    }
    meta_json = json.dumps(meta, sort_keys=True)
    header = {"historyad": meta_json, "sha256": _digest(tensors, meta_json)}
    if secret is not None:
        header[HMAC_KEY] = _mac(tensors, meta_json, secret)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=header)
    tmp.replace(path)
    return path


#: tensor-name prefix -> the fitted attribute its training records are restored into
RECORD_PREFIXES = {"records": "training_records_", "dtv_records": "dtv_records_"}


def training_records(det: Any) -> dict[str, dict[str, list[float]]]:
    """The training curves a detector keeps, by tensor prefix: the GAN's records (one value
    per generator iteration: losses, Wasserstein estimate, ...; ``gan_.records`` after a
    fit, ``training_records_`` after a load) and HistoryAD's D_TV records. Only the series
    of the most common length (the per-iteration ones) are kept."""
    out: dict[str, dict[str, list[float]]] = {}
    gan = getattr(det, "gan_", None)
    sources = {"records": getattr(gan, "records", None) or getattr(det, "training_records_",
                                                                    None),
               "dtv_records": getattr(det, "dtv_records_", None)}
    for prefix, records in sources.items():
        if not records:
            continue
        lengths = [len(v) for v in records.values() if isinstance(v, list | tuple)]
        if not lengths or max(lengths) == 0:
            continue
        n = max(set(lengths), key=lengths.count)
        kept = {str(k): [float(x) for x in v] for k, v in records.items()
                if isinstance(v, list | tuple) and len(v) == n
                and all(isinstance(x, int | float | np.number) for x in v)}
        if kept:
            out[prefix] = kept
    return out


def load_detector(
    path: str | Path,
    *,
    expected: type | None = None,
    device: str | torch.device | None = None,
    key: str | bytes | None = None,
) -> BaseDetector:
    """Load a detector saved by ``save``; the class is read from the file (module
    docstring). Raises DetectorFileError for a missing, truncated, corrupt, incomplete or
    foreign file, and, with ``key``, for an unsigned or wrongly signed one; ``expected`` (a
    detector class) refuses a file holding another class; ``device`` overrides the saved
    device."""
    path = Path(path)
    secret = None if key is None else _key_bytes(key)
    if not path.is_file():
        raise DetectorFileError(f"no detector file at {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise DetectorFileError(
            f"{path} is not a readable safetensors detector file (truncated or corrupt?): "
            f"{exc}"
        ) from exc
    if "historyad" not in header or "sha256" not in header:
        raise DetectorFileError(f"{path} has no historyad metadata; not a detector file")
    meta_json = header["historyad"]
    if _digest(tensors, meta_json) != header["sha256"]:
        raise DetectorFileError(
            f"{path} failed its SHA-256 check: the file is corrupt (changed since it was "
            "written)")
    if secret is not None:
        if HMAC_KEY not in header:
            raise DetectorFileError(
                f"{path} is not signed, but a key was given: refusing it (save it with "
                "save(path, key=...) to sign it)")
        if not hmac.compare_digest(_mac(tensors, meta_json, secret), header[HMAC_KEY]):
            raise DetectorFileError(
                f"{path} failed its HMAC-SHA256 check: signed with another key, or modified "
                "since it was signed; refusing it")
    meta = json.loads(meta_json)
    if meta.get("format") != FORMAT:
        raise DetectorFileError(f"{path} has format {meta.get('format')!r}, not {FORMAT!r}")
    newer = _is_newer(str(meta.get("version", "0")), __version__)
    if newer:
        warnings.warn(
            f"{path} was written by historyad {meta.get('version')}, newer than this "
            f"{__version__}; it is loaded as this version understands it (upgrade historyad "
            "if it fails or scores differ)", NewerVersionWarning, stacklevel=3)
    try:
        return _build(path, meta, tensors, expected=expected, device=device)
    except DetectorFileError as exc:
        if newer:
            raise DetectorFileError(
                f"{exc} (the file is from historyad {meta.get('version')}, newer than this "
                f"{__version__}: upgrade historyad)") from exc
        raise


def _build(
    path: Path,
    meta: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    *,
    expected: type | None,
    device: str | torch.device | None,
) -> BaseDetector:
    """The detector described by a verified file's metadata and tensors."""
    klass = _detector_class(meta["class"])
    if expected is not None and not issubclass(klass, expected):
        raise DetectorFileError(f"{path} holds a {meta['class']}, not a {expected.__name__}")
    params = _params_from_json(klass, meta["params"])
    params["device"] = resolve_device(params.get("device", "cpu"), device)
    det = klass(**params)
    det.input_shape_ = tuple(int(s) for s in meta["input_shape"])
    det.kind_ = {1: "table", 2: "series", 3: "image"}[len(det.input_shape_)]
    det.n_features_in_ = int(np.prod(det.input_shape_))
    if meta.get("feature_names"):
        det.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
    det.threshold_ = float(meta["threshold"])
    _check_fitted_tensors(path, tensors, det.input_shape_)
    det.decision_scores_ = tensors["fitted.decision_scores"].numpy()
    det.mean_ = tensors["fitted.mean"].numpy() if "fitted.mean" in tensors else None
    det.scale_ = tensors["fitted.scale"].numpy() if "fitted.scale" in tensors else None
    cal = tensors.get("fitted.calibration_scores")
    det.calibration_scores_ = None if cal is None else np.sort(cal.numpy().astype(np.float64))
    for prefix, attr in RECORD_PREFIXES.items():
        found = {k[len(prefix) + 1 :]: v.numpy().tolist() for k, v in tensors.items()
                 if k.startswith(prefix + ".")}
        if found:
            setattr(det, attr, found)
    state = {k[len("state.") :]: v for k, v in tensors.items() if k.startswith("state.")}
    _check_state_arrays(path, state, det.input_shape_, int(getattr(det, "n_neighbors", 0)))
    try:
        det._load_state(state, meta.get("extra", {}))
    except DetectorFileError as exc:
        raise DetectorFileError(f"{path}: {exc}") from exc
    except KeyError as exc:
        name = exc.args[0] if exc.args else "?"
        raise DetectorFileError(
            f"{path} has no tensor 'state.{name}' (or no metadata entry {name!r}) that a "
            f"{meta['class']} needs: the file is incomplete") from exc
    except (RuntimeError, ValueError) as exc:
        raise DetectorFileError(f"{path}: its tensors do not fit a {meta['class']}: {exc}"
                                ) from exc
    det.labels_ = det._flag(det.decision_scores_)
    return det


def resolve_device(saved: str | torch.device, requested: str | torch.device | None) -> str:
    """The device a loaded detector goes to: ``requested`` when given, else ``saved`` when
    this machine has it, else "cpu" (logged)."""
    if requested is not None:
        try:
            return str(torch.device(requested))
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device={requested!r} is not a torch device: {exc}") from exc
    try:
        dev = torch.device(saved)
    except (RuntimeError, TypeError):
        logger.info("saved device %r is unknown here; loading on the CPU", saved)
        return "cpu"
    if _available(dev):
        return str(saved)
    logger.info("the file was saved with device=%r, which this machine lacks; loading on the "
                "CPU (pass device=... to choose)", str(saved))
    return "cpu"


def _available(dev: torch.device) -> bool:
    if dev.type == "cpu":
        return True
    if dev.type == "cuda":
        return torch.cuda.is_available() and (dev.index or 0) < torch.cuda.device_count()
    if dev.type == "mps":
        return bool(torch.backends.mps.is_available())
    backend = getattr(torch, dev.type, None)
    return bool(getattr(backend, "is_available", lambda: False)())


def _is_newer(saved: str, current: str) -> bool:
    """Whether version ``saved`` is newer than ``current`` (leading numeric parts)."""
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", v.split("+")[0])[:3])
    return parts(saved) > parts(current)


# -- tensor checks: missing or mis-shaped tensors are named ------------------------------
def _fail_tensor(path: Path, name: str, problem: str) -> None:
    raise DetectorFileError(f"{path}: tensor {name!r} {problem}; the file is incomplete or "
                            "was not written by historyad")


def _check_fitted_tensors(path: Path, tensors: dict[str, torch.Tensor],
                          input_shape: tuple[int, ...]) -> None:
    """The training scores, the standardisation and the calibration scores."""
    scores = tensors.get("fitted.decision_scores")
    if scores is None:
        _fail_tensor(path, "fitted.decision_scores", "is missing")
    elif scores.dim() != 1 or len(scores) == 0:
        _fail_tensor(path, "fitted.decision_scores",
                     f"has shape {tuple(scores.shape)}, not (n_train,)")
    # the scaler keeps one value per feature / channel: (D,), (C, 1) or (C, 1, 1)
    scaler_shape = (input_shape[0], *[1] * (len(input_shape) - 1))
    present = [k for k in ("fitted.mean", "fitted.scale") if k in tensors]
    if len(present) == 1:
        other = ({"fitted.mean", "fitted.scale"} - set(present)).pop()
        _fail_tensor(path, other, f"is missing (the file has {present[0]!r})")
    for name in present:
        if tuple(tensors[name].shape) != scaler_shape:
            _fail_tensor(path, name, f"has shape {tuple(tensors[name].shape)}, not "
                         f"{scaler_shape} for inputs of shape {input_shape}")
    cal = tensors.get("fitted.calibration_scores")
    if cal is not None and (cal.dim() != 1 or len(cal) == 0):
        _fail_tensor(path, "fitted.calibration_scores",
                     f"has shape {tuple(cal.shape)}, not (n_cal,)")


def _check_state_arrays(path: Path, state: dict[str, torch.Tensor],
                        input_shape: tuple[int, ...], k: int) -> None:
    """The arrays of the memory-based detectors (networks: ``check_module_state``):
    stored rows are (n, width) with the width of the flattened input (kNN, HistoryAD's knn)
    or one width shared by the data and the generated samples (the density-ratio ones,
    whose series rows are spectra), and more training rows than ``k`` neighbours;
    HistoryAD's score reference is (3,)."""
    width = int(np.prod(input_shape))
    for name in ("train", "knn.data", "knn.history"):
        if name in state and (state[name].dim() != 2 or state[name].shape[1] != width):
            _fail_tensor(path, f"state.{name}", f"has shape {tuple(state[name].shape)}, "
                         f"not (n, {width}) for inputs of shape {input_shape}")
    for name in ("train", "knn.data", "data"):
        if name in state and state[name].dim() >= 1 and len(state[name]) <= k:
            _fail_tensor(path, f"state.{name}", f"has {len(state[name])} rows, but "
                         f"n_neighbors={k} needs more than {k}")
    if "data" in state and "generated" in state:
        data, gen = state["data"], state["generated"]
        if data.dim() != 2 or gen.dim() != 2 or data.shape[1] != gen.shape[1]:
            _fail_tensor(path, "state.generated", f"has shape {tuple(gen.shape)}, which "
                         f"does not match 'state.data' {tuple(data.shape)} (n, width)")
    ref = state.get("score_reference")
    if ref is not None and tuple(ref.shape) != (3,):
        _fail_tensor(path, "state.score_reference", f"has shape {tuple(ref.shape)}, not (3,)")


def check_module_state(net: nn.Module, tensors: dict[str, torch.Tensor], prefix: str) -> None:
    """DetectorFileError naming the first tensor of ``net`` that ``tensors`` (keys
    ``<prefix>.<name>``) lack or hold with another shape, or an extra one."""
    want = net.state_dict()
    have = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    for name, ref in want.items():
        if name not in have:
            raise DetectorFileError(f"tensor 'state.{prefix}.{name}' is missing; the file is "
                                    "incomplete or was not written by historyad")
        if tuple(have[name].shape) != tuple(ref.shape):
            raise DetectorFileError(
                f"tensor 'state.{prefix}.{name}' has shape {tuple(have[name].shape)}, but the "
                f"{prefix} network of the saved parameters needs {tuple(ref.shape)}")
    extra = sorted(set(have) - set(want))
    if extra:
        raise DetectorFileError(f"tensor 'state.{prefix}.{extra[0]}' is unknown to the "
                                f"{prefix} network of the saved parameters")


def _detector_class(class_name: str) -> type[BaseDetector]:
    """The detector class of the library named ``class_name``. Every one is a subclass of
    BaseDetector that is already imported: importing this module runs the package's
    ``__init__``, which imports them all (no lookup in the registry, which imports this)."""
    from historyad.detectors.base import BaseDetector

    todo, seen = [BaseDetector], set()
    while todo:
        klass = todo.pop()
        if klass.__name__ == class_name and klass.__module__.startswith("historyad.detectors"):
            return klass
        seen.add(klass)
        todo.extend(k for k in klass.__subclasses__() if k not in seen)
    raise DetectorFileError(f"detector class {class_name!r} is unknown")


def _feed(h: Any, tensors: dict[str, torch.Tensor], meta_json: str) -> str:
    """Feed the metadata and every tensor (name, shape, dtype, bytes) to the hash ``h``."""
    h.update(meta_json.encode())
    for key in sorted(tensors):
        t = tensors[key].contiguous()
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _digest(tensors: dict[str, torch.Tensor], meta_json: str) -> str:
    """SHA-256 of the file's content (detects corruption; stored in the same file)."""
    return _feed(hashlib.sha256(), tensors, meta_json)


def _mac(tensors: dict[str, torch.Tensor], meta_json: str, key: bytes) -> str:
    """HMAC-SHA256 of the same content keyed with ``key`` (detects tampering by anyone
    without the key)."""
    return _feed(hmac.new(key, digestmod=hashlib.sha256), tensors, meta_json)


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes | bytearray) or len(key) == 0:
        raise ValueError("key must be a non-empty str or bytes (the signing secret)")
    return bytes(key)


def jsonable(obj: Any, *, lenient: bool = False) -> Any:
    """``obj`` as JSON values (numpy scalars to Python, tuples to lists, paths to str).
    TypeError for anything else, or its ``repr`` when ``lenient`` (descriptive sidecars)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v, lenient=lenient) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v, lenient=lenient) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if lenient:
        return repr(obj)
    raise TypeError(f"cannot save parameter value {obj!r} of type {type(obj).__name__} as JSON")


_jsonable = jsonable


def _params_from_json(klass: type, params: dict[str, Any]) -> dict[str, Any]:
    # JSON turns tuples into lists; restore tuples where the default is a tuple.
    defaults = klass().get_params(deep=False)
    out = {}
    for k, v in params.items():
        if k not in defaults:
            raise DetectorFileError(f"saved parameter {k!r} is unknown to {klass.__name__}")
        out[k] = tuple(v) if isinstance(defaults[k], tuple) and isinstance(v, list) else v
    return out
