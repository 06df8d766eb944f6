"""The options of the ``historyad`` commands, declared once.

``CATALOGUE`` holds every option that more than one command takes (its type, flags and help);
a command lists the ones it takes with :func:`with_options` and receives their values as one
mapping, ``opts`` (name → the value given on the command line, or the option's default). The
TOML file (``--config``) uses the same names (``_plumbing.TOML_TYPES``). An option that only
one command has stays in that command's signature.

Typer builds the command-line interface from the function's signature
(``inspect.signature``); ``with_options`` sets that signature (``__signature__``), so
``--help``, parsing and typer's type conversion see ordinary parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])


def _option(annotation: Any, default: Any, *flags: str, help: str) -> tuple[Any, Any]:
    return annotation, typer.Option(default, *flags, help=help)


_INPUT_HELP = ("Your own data: a table (CSV or other delimited text with a header, Parquet, "
               ".npy), a series (the same with --window) or a folder of PNG/JPEG images (any "
               "depth). score --stream: a file or - (standard input, the default).")
_PARAM_HELP = ("Detector parameter key=value, under the detector's own name (repeatable; "
               "evaluate also takes label.key=value). HistoryAD with n_epochs <= 1 and no "
               "alpha: alpha = 0.2·n_epochs (announced; its default 1 needs n_epochs > 1).")
_CALIBRATION_HELP = ("Hold out this share of the training data (e.g. 0.2) as calibration "
                     "normals: the model then gives conformal p-values (score writes p_value "
                     "and takes --alpha).")
_STREAM_HELP = ("Read a CSV stream (--input FILE or standard input) in chunks and write each "
                "row's score as soon as its window is complete (--out FILE, default standard "
                "output).")

#: name (the Python parameter and the TOML key) -> (type, typer option)
CATALOGUE: dict[str, tuple[Any, Any]] = {
    # the common options
    "out": _option(Path | None, None, "--out", "-o", help="Output folder (or file for score)."),
    "data": _option(str | None, None, "--data", help="Folder holding <dataset>/ folders "
                    "(default: $HISTORYAD_DATA, else the pooch cache)."),
    "device": _option(str | None, None, "--device", help="cpu, cuda or cuda:N (default cpu)."),
    "seed": _option(int | None, None, "--seed", help="Seed of the splits and the detectors' "
                    "random_state (default 0; -p random_state=N sets the latter alone)."),
    "quick": _option(bool, False, "--quick", help="Short schedules and capped data."),
    "download": _option(bool, False, "--download",
                        help="Fetch missing files (SHA-256 checked)."),
    "config": _option(Path | None, None, "--config", help="TOML file setting any option."),
    "overwrite": _option(bool, False, "--overwrite", help="Write into a non-empty --out "
                         "(files of the same name are replaced)."),
    # datasets, detectors and models
    "dataset": _option(str | None, None, "--dataset", help="Dataset name."),
    "protocol": _option(str | None, None, "--protocol", help="loo | one-class | windows."),
    "param": _option(list[str] | None, None, "--param", "-p", help=_PARAM_HELP),
    "model": _option(Path | None, None, "--model", "-m", help="model.safetensors."),
    "calibration": _option(float | None, None, "--calibration", help=_CALIBRATION_HELP),
    "alpha": _option(float | None, None, "--alpha", help="Flag p-value <= alpha (false-alarm "
                     "rate <= alpha on normals) instead of the fitted threshold; needs a model "
                     "fitted with --calibration."),
    # your own files (historyad.cli.files)
    "input_": _option(str | None, None, "--input", "-i", help=_INPUT_HELP),
    "columns": _option(list[str] | None, None, "--columns", help="Feature columns, "
                       "comma-separated or repeated (default: every numeric column)."),
    "label_column": _option(str | None, None, "--label-column", help="0/1 label column (1 = "
                            "anomaly), kept out of the features; fit leaves the rows labelled "
                            "1 out."),
    "timestamp_column": _option(str | None, None, "--timestamp-column", help="Series: the time "
                                "column, kept as the rows' ids (default: the first column when "
                                "not numeric)."),
    "delimiter": _option(str | None, None, "--delimiter", help="Field delimiter of text files "
                         "(default: found among , ; tab |; 'tab' for tab)."),
    "window": _option(int | None, None, "--window", help="Series: rows per window (the input "
                      "is then read as a series, (N, C, W) windows)."),
    "stride": _option(int | None, None, "--stride", help="Series: rows between window starts "
                      "(default 1; at most --window)."),
    "channels": _option(int | None, None, "--channels",
                        help="Images: 1 (grey) or 3 (colour); default as found."),
    "size": _option(int | None, None, "--size", help="Images: crop to a square and resize to "
                    "SIZE×SIZE (needed when the images differ in size)."),
    "quiet": _option(bool, False, "--quiet", "-q", help="No progress bars on stderr."),
    "stream": _option(bool, False, "--stream", help=_STREAM_HELP),
    "chunk_size": _option(int | None, None, "--chunk-size", help="--stream: rows read per "
                          "chunk (default 256; 1 = every row at once)."),
}

#: the options of every command that runs a job
COMMON = ("out", "data", "device", "seed", "quick", "download", "config", "overwrite")
#: how ``--input`` is read (``historyad.data.files.InputSpec``)
READING = ("input_", "columns", "label_column", "timestamp_column", "delimiter", "window",
           "stride", "channels", "size", "quiet")


def with_options(*names: str) -> Callable[[F], F]:
    """Give a command the catalogue's options ``names`` (after its own parameters, in that
    order). The command's first parameter is ``opts``: a read-only mapping from each of
    ``names`` to the value given (the option's default when absent); called from Python,
    the command takes its own parameters as before (positionally too) and the options as
    keywords.

    Raises:
        KeyError: a name not in ``CATALOGUE`` (a programming error, at import).
        TypeError: the command's first parameter is not ``opts``, or it already has one of
            ``names``.
    """
    unknown = [n for n in names if n not in CATALOGUE]
    if unknown:
        raise KeyError(f"options {unknown} are not in the catalogue; choose from "
                       f"{sorted(CATALOGUE)}")

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        if next(iter(sig.parameters), None) != "opts":
            raise TypeError(f"{fn.__name__} must take an `opts` parameter first")
        clash = sorted(set(names) & set(sig.parameters))
        if clash:
            raise TypeError(f"{fn.__name__} declares {clash} itself and takes them from "
                            "the catalogue")
        own = [p for p in sig.parameters.values() if p.name != "opts"]
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY,
                                   default=CATALOGUE[n][1], annotation=CATALOGUE[n][0])
                 for n in names]

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> Any:
            given = {n: kwargs.pop(n, CATALOGUE[n][1].default) for n in names}
            return fn(MappingProxyType(given), *args, **kwargs)  # read-only

        params = [*own, *added]
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__annotations__["return"] = sig.return_annotation
        return command  # type: ignore[return-value]

    return decorate


__all__ = ["CATALOGUE", "COMMON", "READING", "with_options"]
