"""``historyad export``: a saved model to a deployment format (ONNX), checked with
onnxruntime against PyTorch (``historyad.export.onnx``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from historyad.cli._plumbing import CLIError, _load_toml, _out_file, _pick
from historyad.cli.options import with_options

FORMAT_OPT = typer.Option(None, "--format", "-f", help="Format: onnx (default).")
EXPORT_OUT_OPT = typer.Option(None, "--out", "-o",
                              help="Output file (default: the model's path, .onnx).")
CHECK_OPT = typer.Option(True, "--check/--no-check",
                         help="Compare onnxruntime with PyTorch on 1000 inputs.")


def register(app: typer.Typer) -> None:
    """Add the ``export`` command to ``app``."""
    app.command("export")(export)  # app: a GuardedTyper (errors as one line)


@with_options("model", "config", "overwrite")
def export(
    opts: Any,
    format: str | None = FORMAT_OPT,
    out: Path | None = EXPORT_OUT_OPT,
    check: bool = CHECK_OPT,
) -> None:
    """Export a saved network-scored detector (critic, encoder, HistoryAD's network) to ONNX:
    input x raw, outputs score and label (0/1 at the fitted threshold); the threshold and
    the model card are stored as metadata."""
    from historyad.export.onnx import ExportCheckError, export_model

    toml = _load_toml(opts["config"], ("model", "format", "out", "check", "overwrite"))
    model_p = _pick("model", opts["model"], toml, None)
    if not model_p:
        raise CLIError("--model is required (a model.safetensors written by `historyad fit`)")
    model_p = Path(model_p)
    fmt = str(_pick("format", format, toml, "onnx")).lower()
    out_p = Path(_pick("out", out, toml, model_p.with_suffix(f".{fmt}")))
    out_p = _out_file(out_p, bool(_pick("overwrite", opts["overwrite"], toml, False)), "model.onnx")
    do_check = bool(toml.get("check", True)) and check
    try:
        result = export_model(model_p, out_p, format=fmt, check=do_check)
    except (ImportError, ExportCheckError) as exc:
        raise CLIError(str(exc)) from exc
    card = result["card"]
    typer.echo(f"wrote {result['path']} ({card['class']}, input {tuple(card['input_shape'])}, "
               f"threshold {card['threshold']:.6g})")
    if result["check"] is not None:
        c = result["check"]
        labels = "equal" if c["labels_equal"] else "equal except at the threshold"
        typer.echo(f"checked with onnxruntime on {c['n']} inputs: max |score difference| "
                   f"{c['max_abs_diff']:.2g}, labels {labels}")
