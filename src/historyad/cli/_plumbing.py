"""Plumbing of the ``historyad`` command line: options shared by the commands, TOML and
``key=value`` parsing, the error guard (user errors exit with code 2) and printing."""

from __future__ import annotations

import functools
import json
import logging
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_STATE = {"debug": False}


class CLIError(Exception):
    """A user error: printed without a traceback, exit code 2."""


# ----------------------------------------------------------------------------- plumbing


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _note(message: str | None) -> None:
    """A default that differs from the detector's own, announced on stderr."""
    if message:
        typer.echo(f"note: {message}", err=True)


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
SEED_OPT = typer.Option(None, "--seed", help="Seed of the splits and the detectors' "
                        "random_state (default 0; -p random_state=N sets the latter alone).")
QUICK_OPT = typer.Option(False, "--quick", help="Short schedules and capped data.")
CONFIG_OPT = typer.Option(None, "--config", help="TOML file setting any option.")
DOWNLOAD_OPT = typer.Option(False, "--download", help="Fetch missing files (SHA-256 checked).")
DATASET_OPT = typer.Option(None, "--dataset", help="Dataset name.")
PROTOCOL_OPT = typer.Option(None, "--protocol", help="loo | one-class | windows.")
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
PARAM_OPT = typer.Option(None, "--param", "-p", help="Detector parameter key=value, under "
                         "the detector's own name (repeatable; evaluate also takes "
                         "label.key=value). HistoryAD with n_epochs <= 1 and no alpha: "
                         "alpha = 0.2·n_epochs (announced; its default 1 needs n_epochs > 1).")


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


def _setup(config: Path | None, keys: tuple[str, ...], out: Path | None, data: str | None,
           device: str | None, seed: int | None, quick: bool,
           default_out: str) -> tuple[dict[str, Any], Path, str | None, str, int, bool]:
    """``(toml, out, data, device, seed, quick)`` of a command taking the common options and
    the TOML ``keys``."""
    toml = _load_toml(config, (*_COMMON, *keys))
    return (toml, *_common(toml, out, data, device, seed, quick, default_out))
