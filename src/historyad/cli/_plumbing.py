"""Plumbing of the ``historyad`` command line: options shared by the commands, TOML and
``key=value`` parsing, the error guard (user errors exit with code 2) and printing.

Errors: every command runs under ``_guarded`` (``GuardedTyper`` wraps each command and the
callback, so a new command cannot forget it). A user error (``CLIError``, and any
``ValueError``, ``TypeError``, ``KeyError``, ``OSError`` or historyad exception from the
library) prints one ``error: ...`` line and exits with code 2; anything else prints one
``error: internal error ...`` line and exits with code 1. ``--debug`` shows the traceback.

TOML: ``_load_toml`` checks the whole file against a schema (pydantic, strict: ``quick =
"no"`` is an error, not quick mode): unknown keys are named with the allowed ones, a value of
the wrong type is named with the key and the expected type (``TOML_TYPES``).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_STATE = {"debug": False}


class CLIError(Exception):
    """A user error: printed without a traceback, exit code 2."""


# ----------------------------------------------------------------------------- plumbing


def _one_line(message: str) -> str:
    return "; ".join(part.strip() for part in str(message).splitlines() if part.strip())


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise typer.Exit(code=code)


def _note(message: str | None) -> None:
    """A default that differs from the detector's own, announced on stderr."""
    if message:
        typer.echo(f"note: {message}", err=True)


def _warn(message: str | None) -> None:
    """Something the user should know about the results (they are still written)."""
    if message:
        typer.echo(f"warning: {_one_line(message)}", err=True)


#: exceptions that are the user's to fix (bad values, names, files): exit code 2
USER_ERRORS: tuple[type[BaseException], ...] = (
    CLIError, ValueError, TypeError, KeyError, OSError, ImportError,
)
_UNEXPECTED_KW = re.compile(r"^(?:[\w.<>]+\(\) )?got an unexpected keyword argument '(\w+)'$")


def _user_message(exc: BaseException) -> str:
    """The one-line message of a user error."""
    if isinstance(exc, KeyError) and exc.args:
        msg = str(exc.args[0])
    else:
        msg = str(exc) or type(exc).__name__
    m = _UNEXPECTED_KW.match(msg)
    if isinstance(exc, TypeError) and m:  # a detector or config built with an unknown name
        msg = (f"parameter {m.group(1)!r} is unknown; check the names given with --param "
               "and in the tables of --config (--debug shows where it was refused)")
    if isinstance(exc, FileNotFoundError) and "download=True" in msg:
        msg += " (on the command line: --download)"
    return msg


def _is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, USER_ERRORS) or type(exc).__module__.startswith("historyad.")


def _guarded(fn: F) -> F:
    """Turn errors into one ``error: ...`` line: user errors (``USER_ERRORS``, bad options,
    unknown names, missing data, and historyad's own exceptions) exit with code 2, anything
    else with code 1; no traceback unless ``--debug``. Wrapping twice is harmless."""
    if getattr(fn, "__historyad_guarded__", False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own: usage errors (exit 2), --help, aborts
        except Exception as exc:
            if _STATE["debug"]:
                raise
            if _is_user_error(exc):
                _fail(_user_message(exc))
            _fail(f"internal error ({type(exc).__name__}: {_one_line(str(exc))}); rerun with "
                  "--debug for the traceback and report it", code=1)

    wrapper.__historyad_guarded__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


class GuardedTyper(typer.Typer):
    """A ``typer.Typer`` whose commands and callback all run under ``_guarded``."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)

        def decorator(fn: F) -> F:
            register(_guarded(fn))
            return fn

        return decorator

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().callback(*args, **kwargs)

        def decorator(fn: F) -> F:
            register(_guarded(fn))
            return fn

        return decorator


# ----------------------------------------------------------------------------- TOML schema

_NAME = "a name (a string)"
_PATH = "a path (a string)"
_CLASS = "a class name or index (a string or an integer)"
_TABLE = "a table ([name] with key = value lines, or {key = value})"
#: each TOML key's type (checked by pydantic in strict mode: no int for a string, no string
#: for a bool) and what the error calls it. Commands whose option is repeatable take a list
#: (``LIST_TYPES``). A key a command allows but not listed here takes any value.
TOML_TYPES: dict[str, tuple[Any, str]] = {
    "out": (str, _PATH),
    "data": (str, _PATH),
    "device": (str, "a device name (a string: cpu, cuda or cuda:N)"),
    "seed": (int, "an integer >= 0"),
    "quick": (bool, "true or false"),
    "overwrite": (bool, "true or false"),
    "download": (bool, "true or false"),
    "no_peers": (bool, "true or false"),
    "detector": (str, "a detector name (a string)"),
    "dataset": (str, "a dataset name (a string)"),
    "protocol": (str, "a protocol name (a string: loo, one-class or windows)"),
    "anomaly": (str | int, _CLASS),
    "normal": (str | int, _CLASS),
    "model": (str, _PATH),
    "name": (str, "an experiment name (a string)"),
    "window": (int, "an integer"),
    "stride": (int, "an integer"),
    "params": (dict[str, Any], _TABLE),
    "alpha": (float, "a false-alarm rate in (0, 1)"),
    "calibration": (float, "a share of the training data in (0, 1)"),
    "gan": (dict[str, Any], _TABLE),
    "history": (dict[str, Any], _TABLE),
    "experiment": (dict[str, Any], _TABLE),
    "set": (list[str], "a list of names ([\"a\", \"b\"])"),
    "family": (list[str], "a list of names ([\"images\", \"tables\"])"),
}
#: the list forms of repeatable options (``evaluate``, ``benchmark``); a single value is
#: read as a list of one
LIST_TYPES: dict[str, tuple[Any, str]] = {
    "detector": (list[str], "a detector name or a list of names"),
    "anomaly": (list[str | int], "a class or a list of classes (names or indices)"),
    "normal": (list[str | int], "a class or a list of classes (names or indices)"),
}


def _schema_errors(data: Mapping[str, Any], types: Mapping[str, tuple[Any, str]],
                   shown: Mapping[str, Any] | None = None) -> list[str]:
    """One message per key whose value is not of its type (pydantic, strict), showing the
    value of ``shown`` (the file's own, default ``data``)."""
    shown = data if shown is None else shown
    from pydantic import ConfigDict, ValidationError, create_model

    fields = {k: (types[k][0], None) for k in data if k in types}
    model = create_model("TomlConfig", __config__=ConfigDict(strict=True), **fields)
    try:
        model.model_validate({k: data[k] for k in fields})
    except ValidationError as exc:
        keys = list(dict.fromkeys(str(err["loc"][0]) for err in exc.errors() if err["loc"]))
        return [f"{k} = {shown[k]!r} is not allowed; expected {types[k][1]}" for k in keys]
    return []


def _load_toml(
    path: Path | None, allowed: Iterable[str], *, lists: Iterable[str] = ()
) -> dict[str, Any]:
    """The TOML file's table (``{}`` without ``--config``), checked against the schema:
    unknown top-level keys and values of the wrong type (``TOML_TYPES``; the keys in
    ``lists`` take ``LIST_TYPES``' list form, a single value becoming a list of one) are
    errors naming the key, the value and what is expected."""
    if path is None:
        return {}
    if not path.is_file():
        raise CLIError(f"--config {str(path)!r} does not exist (or is not a file)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(f"--config {str(path)!r} is not valid TOML: {exc}") from None
    data = {k.replace("-", "_"): v for k, v in data.items()}
    allowed = sorted(allowed)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise CLIError(f"--config {str(path)!r}: unknown keys {unknown}; allowed: {allowed}")
    lists = set(lists)
    types = {**TOML_TYPES, **{k: LIST_TYPES[k] for k in lists if k in LIST_TYPES}}
    given = dict(data)
    for key in lists & set(data):
        if not isinstance(data[key], list):
            data[key] = [data[key]]
    problems = _schema_errors(data, types, shown=given)
    if problems:
        raise CLIError(f"--config {str(path)!r}: " + "; ".join(problems))
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
        key, parsed = key.strip(), _parse_value(value.strip())
        if key in out and out[key] != parsed:
            _note(f"--param {key} is given twice ({out[key]!r}, then {parsed!r}): the last, "
                  f"{parsed!r}, is used")
        out[key] = parsed
    return out


def _check_device(device: str) -> str:
    from historyad.evaluation.jobs import check_device

    return check_device(device, "--device")


def _out_dir(out: Path, overwrite: bool) -> Path:
    """``out`` as a run folder to write: CLIError when it is a file (or below one), or when it
    holds files already and ``overwrite`` is off (two runs would mix)."""
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            what = "" if parent == out else f" (its parent {str(parent)!r} is)"
            raise CLIError(f"--out {str(out)!r} must be a folder, not a file{what}; choose a "
                           "folder")
    if out.is_dir() and not overwrite:
        found = sorted(p.name for p in out.iterdir())
        if found:
            shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
            raise CLIError(f"--out {str(out)!r} is not empty (holds {shown}); choose a new "
                           "folder, or pass --overwrite to write into it (files of the same "
                           "name are replaced)")
    return out


def _out_file(out: Path, overwrite: bool, default_name: str) -> Path:
    """The file ``score`` writes: ``out`` itself when it has a suffix (``scores.csv``), else
    ``out/default_name`` (a folder, created). CLIError when the file (or a non-empty folder)
    exists and ``overwrite`` is off."""
    if out.suffix and not out.is_dir():
        _out_dir(out.parent, overwrite=True)
        if out.exists() and not overwrite:
            raise CLIError(f"--out {str(out)!r} exists; choose another file, or pass "
                           "--overwrite to replace it")
        return out
    return _out_dir(out, overwrite) / default_name


def _echo_tables(records: list[dict[str, Any]]) -> None:
    from historyad.evaluation.report import pivot_table

    if not records or "auprc" not in records[0]:
        return
    for metric in ("auprc", "auroc"):
        typer.echo(pivot_table(records, metric))
        typer.echo("")


# ----------------------------------------------------------------------------- commands

_COMMON = ("out", "data", "device", "seed", "quick", "overwrite")  # their TOML keys


def _common(toml: dict[str, Any], opts: Mapping[str, Any], default_out: str
            ) -> tuple[Path, str | None, str, int, bool]:
    """``(out, data, device, seed, quick)`` from the command line (``opts``: the command's
    catalogue options, ``historyad.cli.options``), else the TOML file, else the defaults."""
    out_p = Path(_pick("out", opts.get("out"), toml, default_out))
    data_s = _pick("data", opts.get("data"), toml, None)
    device_s = _check_device(_pick("device", opts.get("device"), toml, "cpu"))
    seed_i = _pick("seed", opts.get("seed"), toml, 0)
    if isinstance(seed_i, bool) or not isinstance(seed_i, int) or seed_i < 0:
        raise CLIError(f"seed={seed_i!r} is not allowed; use an integer >= 0")
    return out_p, (str(data_s) if data_s else None), device_s, seed_i, bool(
        _pick("quick", opts.get("quick", False), toml, False))


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


def _setup(opts: Mapping[str, Any], keys: tuple[str, ...], default_out: str, *,
           lists: Iterable[str] = ()) -> tuple[dict[str, Any], Path, str | None, str, int, bool]:
    """``(toml, out, data, device, seed, quick)`` of a command taking the common options and
    the TOML ``keys`` (``lists``: those given as lists, see ``_load_toml``)."""
    toml = _load_toml(opts.get("config"), (*_COMMON, *keys), lists=lists)
    return (toml, *_common(toml, opts, default_out))
