"""The command line never shows a raw traceback: every command, given bad options, bad
``-p`` values, a bad ``--config`` file or a bad ``--out``, prints one ``error:`` line naming
the problem and exits with code 2 (an internal error: one line, code 1). And the files it
writes: a non-empty ``--out`` is refused without ``--overwrite``; ``score`` writes where it is
told and warns when the scored rows were part of the model's training data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from historyad.cli import app

runner = CliRunner()
TINY_GAN = ["-p", "n_epochs=1", "-p", "width=8", "-p", "latent_dim=4", "-p", "min_iterations=0"]


pytestmark = pytest.mark.usefixtures("one_thread")


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_user_error(result, *expected: str) -> None:
    """Exit code 2, one ``error:`` line naming ``expected``, no traceback."""
    assert isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    for text in expected:
        assert text in errors[0], (text, errors[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A plain file, a non-empty folder, a fitted model (knn, digits, loo, anomaly 4, seed
    1) in its run folder, and a place for TOML files."""
    root = tmp_path_factory.mktemp("cli")
    (root / "afile").write_text("x")
    (root / "full").mkdir()
    (root / "full" / "metrics.json").write_text("{}")
    fitted = root / "fitted"
    result = invoke("fit", "-d", "knn", "--dataset", "digits", "--anomaly", "4", "--seed", "1",
                    "--out", fitted)
    assert result.exit_code == 0, result.output
    return {"root": root, "file": root / "afile", "full": root / "full",
            "model": fitted / "model.safetensors"}


def toml(files: dict[str, Path], text: str) -> Path:
    path = files["root"] / f"c{abs(hash(text))}.toml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------ the battery

FIT = ["fit", "-d", "critic", "--dataset", "digits", *TINY_GAN]
HIST = ["fit", "-d", "historyad", "--dataset", "digits", *TINY_GAN]
EVAL = ["evaluate", "--dataset", "digits", "--anomaly", "1"]

# (arguments, a TOML file's text or None, the words the error line must hold); "{file}",
# "{full}", "{model}" and "{root}" are filled in from the ``files`` fixture
BATTERY: list[tuple[list[str], str | None, list[str]]] = [
    # -p values the detector refuses: named with the detector, before any data is loaded
    ([*FIT, "-p", "n_epochs=abc"], None, ["critic", "n_epochs='abc'"]),
    ([*FIT, "-p", "batch_size=2.5"], None, ["batch_size=2.5"]),
    ([*FIT, "-p", "device=tpu"], None, ["device", "'tpu'", "cuda"]),
    ([*FIT, "-p", "device=3"], None, ["device", "3"]),
    ([*HIST, "-p", "n_epochs=-1"], None, ["n_epochs=-1"]),
    ([*FIT, "-p", "n_epochs"], None, ["key=value"]),
    (["fit", "-d", "knn", "--dataset", "digits", "--device", "tpu"], None, ["tpu"]),
    (["fit", "-d", "knn", "--dataset", "digits", "--seed", "-1"], None, ["seed=-1"]),
    (["fit", "-d", "knn", "--dataset", "digits", "--protocol", "windows"], None, ["daphnet"]),
    # --out: a file, below a file, a non-empty folder
    (["fit", "-d", "knn", "--dataset", "digits", "--out", "{file}"], None, ["folder", "afile"]),
    (["fit", "-d", "knn", "--dataset", "digits", "--out", "{file}/sub"], None, ["afile"]),
    (["fit", "-d", "knn", "--dataset", "digits", "--out", "{full}"], None,
     ["not empty", "metrics.json", "--overwrite"]),
    # TOML: wrong types (named with the key, the value and the type), unknown keys, syntax
    (["fit"], 'dataset = "digits"\ndetector = "knn"\nparams = 3\n', ["params = 3", "table"]),
    (["fit"], 'dataset = "digits"\ndetector = ["knn"]\n', ["detector = ['knn']", "string"]),
    (["fit"], 'dataset = "digits"\ndetector = "knn"\nquick = "no"\n',
     ["quick = 'no'", "true or false"]),
    (["fit"], 'dataset = "digits"\ndetector = "knn"\nseed = true\n', ["seed = True"]),
    (["fit"], 'dataset = "digits"\ndetector = "knn"\nseed = 1.0\n', ["seed = 1.0", "integer"]),
    (["fit"], 'dataset = "digits"\ndetector = "knn"\nwindow = "x"\n', ["window = 'x'"]),
    (["fit"], 'dataset = "digits"\ndetector = "knn"\nanomaly = 1.5\n', ["anomaly = 1.5"]),
    (["fit"], 'dataset = 3\ndetector = "knn"\nout = 4\n', ["dataset = 3", "out = 4"]),
    (["fit"], 'dataset = "digits"\nwhen = 2024-01-01\n', ["unknown keys ['when']"]),
    (["fit"], 'dataset = "digits"\n[parms]\nn_neighbors = 3\n', ["unknown keys ['parms']"]),
    (["fit"], 'dataset = "digits"\ndetector = "knn"\n[params]\nbogus = 1\n', ["bogus"]),
    (["fit"], 'dataset = "digits"\ndetector = "knn"\n[params]\nn_neighbors = "5"\n',
     ["knn", "n_neighbors='5'"]),
    (["fit"], "dataset = \n", ["not valid TOML"]),
    (["fit"], 'dataset = "digits"\ndetector = "knn"\n[params]\ndevice = "tpu"\n', ["tpu"]),
    # score
    (["score", "--model", "missing.safetensors"], None, ["missing.safetensors", "not exist"]),
    (["score", "--model", "{root}"], None, ["--model", "not a file"]),
    (["score", "--model", "{file}", "--dataset", "digits"], None, ["afile"]),
    (["score"], None, ["--model is required"]),
    (["score", "--model", "{model}", "--out", "{full}"], None, ["not empty"]),
    (["score", "--model", "{model}", "--out", "{file}/s.csv"], None, ["afile"]),
    (["score", "--model", "{model}", "--anomaly", "12"], None, ["'12'"]),
    (["score", "--model", "{model}"], 'quick = "no"\n', ["quick = 'no'"]),
    # evaluate: the [gan] / [history] tables name the detectors asked for
    ([*EVAL, "-d", "critic"], "[gan]\nbogus = 1\n", ["[gan]", "bogus", "critic", "n_epochs"]),
    ([*EVAL, "-d", "knn"], "[gan]\nbogus = 1\n", ["[gan]", "bogus", "knn"]),
    ([*EVAL, "-d", "historyad"], "[history]\nalphaa = 1\n", ["[history]", "alphaa", "alpha"]),
    ([*EVAL, "-d", "critic", "-p", "n_epochs=abc"], None, ["critic", "n_epochs='abc'"]),
    ([*EVAL, "-d", "critic", "-p", "batch_size=2.5"], None, ["batch_size=2.5"]),
    ([*EVAL, "-d", "knn", "-p", "knn.device=tpu"], None, ["tpu"]),
    ([*EVAL, "-d", "critic"], "[gan]\ndevice = \"tpu\"\n", ["tpu"]),
    (EVAL, "detector = 3\n", ["detector = 3", "detector name"]),
    (EVAL, 'detector = "nope"\n', ["'nope'"]),
    (EVAL, "anomaly = [1.5]\n", ["anomaly = [1.5]"]),
    (EVAL, "gan = 3\n", ["gan = 3", "table"]),
    ([*EVAL, "--out", "{file}"], None, ["folder"]),
    ([*EVAL, "-d", "knn", "--out", "{full}"], None, ["not empty"]),
    # demo
    (["demo", "--out", "{file}"], None, ["folder"]),
    (["demo", "--out", "{full}"], None, ["not empty"]),
    (["demo"], 'experiment = "x"\n', ["experiment = 'x'", "table"]),
    (["demo"], "seed = -1\n", ["seed=-1"]),
    (["demo", "--device", "tpu"], None, ["tpu"]),
    # benchmark
    (["benchmark"], "set = 3\n", ["set = 3"]),
    (["benchmark"], 'no_peers = "yes"\n', ["no_peers = 'yes'"]),
    (["benchmark"], 'detector = ["nope"]\n', ["'nope'"]),
    (["benchmark"], "device = 'cpu'\n", ["unknown keys ['device']"]),
    (["benchmark", "--out", "{file}"], None, ["folder"]),
    # datasets
    (["datasets"], "data = 3\n", ["data = 3"]),
    (["datasets"], "seed = 3\n", ["unknown keys ['seed']"]),
    # reproduce
    (["reproduce"], "name = 3\n", ["name = 3"]),
    (["reproduce"], None, ["experiment name"]),
    (["reproduce", "toy-1d", "--out", "{file}"], None, ["folder"]),
    (["reproduce", "toy-1d", "--out", "{full}"], None, ["not empty", "--overwrite"]),
    (["reproduce", "toy-1d"], 'experiment = "x"\n', ["experiment = 'x'"]),
    (["reproduce", "toy-1d"], "[experiment]\nn_epoch = 1\n", ["n_epoch"]),
    # the callback
    (["--threads", "0", "datasets"], None, ["--threads"]),
]


@pytest.mark.parametrize(("args", "text", "expected"), BATTERY,
                         ids=[" ".join(a[:1] + a[-2:]) + (" +toml" if t else "")
                              for a, t, _ in BATTERY])
def test_bad_inputs_give_one_error_line_and_exit_2(files, tmp_path: Path, args, text,
                                                   expected):
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    if text is not None:
        args += ["--config", str(toml(files, text))]
    if "--out" not in args and args[0] not in ("datasets", "--threads"):
        args += ["--out", str(tmp_path / "out")]
    result = invoke(*args)
    assert_user_error(result, *expected)
    out = tmp_path / "out"  # refused before anything was written
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("value", ["null", "None"])
def test_random_state_none_never_gives_a_traceback(tmp_path: Path, value: str):
    """``random_state=None`` (unseeded) is allowed or refused with one line, never a crash."""
    result = invoke(*FIT, "-p", f"random_state={value}", "--out", tmp_path / "o")
    assert isinstance(result.exception, SystemExit | None), result.exception
    assert result.exit_code in (0, 2) and "Traceback" not in result.output


def test_every_command_is_guarded():
    commands = {c.name or c.callback.__name__: c.callback for c in app.registered_commands}
    assert {"demo", "fit", "score", "evaluate", "benchmark", "datasets", "reproduce"} <= set(
        commands)
    for name, callback in commands.items():
        assert getattr(callback, "__historyad_guarded__", False), name
    assert getattr(app.registered_callback.callback, "__historyad_guarded__", False)


def test_a_new_command_is_guarded_without_asking():
    from historyad.cli._plumbing import GuardedTyper

    extra = GuardedTyper()

    @extra.command()
    def bad(kind: str) -> None:
        raise {"value": ValueError("x=1 is not allowed"), "type": TypeError("bad type"),
               "os": PermissionError(13, "Permission denied", "/root/x"),
               "runtime": RuntimeError("kaboom")}[kind]

    @extra.command()
    def other() -> None:
        pass

    for kind in ("value", "type", "os"):
        assert_user_error(runner.invoke(extra, ["bad", kind]))
    result = runner.invoke(extra, ["bad", "runtime"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: internal error (RuntimeError: kaboom)")
    assert "--debug" in result.output and "Traceback" not in result.output


def test_an_internal_error_is_one_line_with_exit_1_and_debug_shows_it(monkeypatch):
    from historyad.evaluation import jobs

    def boom(name: object) -> str:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(jobs, "check_dataset", boom)
    result = invoke("fit", "-d", "knn", "--dataset", "digits")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.count("\n") == 1 and "boom; second line" in result.output
    result = invoke("--debug", "fit", "-d", "knn", "--dataset", "digits")
    assert isinstance(result.exception, RuntimeError)


def test_a_library_type_error_is_a_user_error(monkeypatch):
    from historyad.evaluation import jobs

    def refuse(*args: object, **kwargs: object) -> None:
        raise TypeError("KNNDetector.__init__() got an unexpected keyword argument 'k'")

    monkeypatch.setattr(jobs, "detector_params", refuse)
    result = invoke("fit", "-d", "knn", "--dataset", "digits")
    assert_user_error(result, "parameter 'k' is unknown")


# ------------------------------------------------------------------------------ TOML schema


def test_toml_lists_take_a_single_value_and_strict_types_pass(files, tmp_path: Path):
    cfg = toml(files, 'dataset = "digits"\ndetector = "knn"\nanomaly = 3\nprotocol = "loo"\n'
                      "seed = 2\nquick = false\n[params]\nn_neighbors = 3\n")
    result = invoke("evaluate", "--config", cfg, "--out", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    recs = json.loads((tmp_path / "ev" / "metrics.json").read_text())["results"]
    assert [(r["detector"], r["anomaly"]) for r in recs] == [("knn", "3")]


def test_overwrite_in_the_config_file(files, tmp_path: Path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "old.txt").write_text("x")
    cfg = toml(files, 'dataset = "digits"\ndetector = "knn"\noverwrite = true\n')
    result = invoke("fit", "--config", cfg, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file() and (out / "old.txt").is_file()


# ------------------------------------------------------------------------------ score's output


def test_score_writes_where_asked(files, tmp_path: Path, monkeypatch):
    model = files["model"]
    folder = tmp_path / "scored"
    result = invoke("score", "--model", model, "--out", folder)
    assert result.exit_code == 0, result.output
    assert str(folder / "scores.csv") in result.output
    rows = list(csv.DictReader((folder / "scores.csv").open()))
    assert rows and set(rows[0]) == {"index", "label", "score", "prediction"}
    assert "warning" not in result.output  # the fit's own test split: no training rows
    # an existing file is replaced only with --overwrite
    file = tmp_path / "s.csv"
    file.write_text("mine")
    assert_user_error(invoke("score", "--model", model, "--out", file), "exists", "--overwrite")
    assert file.read_text() == "mine"
    assert invoke("score", "--model", model, "--out", file, "--overwrite").exit_code == 0
    assert file.read_text().startswith("index,label,score,prediction")
    # no --out: runs/score/scores.csv, said in full, never a bare file in the working folder
    monkeypatch.chdir(tmp_path)
    result = invoke("score", "--model", model)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "score" / "scores.csv").is_file()
    assert not (tmp_path / "scores.csv").exists()


@pytest.mark.parametrize(
    "args",
    [["--seed", "2"], ["--protocol", "one-class", "--normal", "0"], ["--anomaly", "5"]],
)
def test_score_warns_when_the_split_holds_training_rows(files, tmp_path: Path, args):
    result = invoke("score", "--model", files["model"], *args, "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    warning = next(ln for ln in result.output.splitlines() if ln.startswith("warning: "))
    assert "rows the model was trained on" in warning and "seed 1" in warning
    assert (tmp_path / "s" / "scores.csv").is_file()  # the scores are written all the same


def test_score_without_the_fit_config_does_not_warn(files, tmp_path: Path):
    import shutil

    lone = tmp_path / "lone.safetensors"
    shutil.copy(files["model"], lone)
    result = invoke("score", "--model", lone, "--dataset", "digits", "--anomaly", "4",
                    "--out", tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_a_bad_fit_config_beside_the_model_is_named(files, tmp_path: Path):
    import shutil

    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(files["model"], folder / "model.safetensors")
    (folder / "config.json").write_text('{"dataset": "digits", "seed": "one"}')
    result = invoke("score", "--model", folder / "model.safetensors", "--out", tmp_path / "o")
    assert_user_error(result, "config.json", "seed = 'one'")
    (folder / "config.json").write_text("{not json")
    result = invoke("score", "--model", folder / "model.safetensors", "--out", tmp_path / "o")
    assert_user_error(result, "config.json", "unreadable")
