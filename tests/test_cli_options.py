"""``historyad.cli.options``: the options declared once and given to commands by name."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from historyad.cli import app
from historyad.cli.options import CATALOGUE, COMMON, READING, with_options


def _toy_app() -> typer.Typer:
    toy = typer.Typer()

    @toy.command()
    @with_options("out", "quick", "param")
    def run(opts: Any, name: str = typer.Option("x", "--name")) -> None:
        typer.echo(f"{name} {opts['out']} {opts['quick']} {opts['param']}")

    @toy.command()
    def other() -> None:  # a second command keeps typer from folding `run` into the app
        pass

    return toy


def test_command_receives_the_catalogue_options_as_one_mapping() -> None:
    """The values reach ``opts`` by name, converted by typer (Path, bool flag, repeatable
    list); absent options give the catalogue's defaults; the command's own parameter stays."""
    toy = _toy_app()
    res = CliRunner().invoke(toy, ["run", "--out", "a/b", "--quick", "-p", "k=1", "-p", "j=2",
                                   "--name", "y"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"y {Path('a/b')} True ['k=1', 'j=2']"
    res = CliRunner().invoke(toy, ["run"])
    assert res.output.strip() == "x None False None"


def test_signature_lists_own_parameters_then_the_options() -> None:
    @with_options("seed", "device")
    def cmd(opts: Any, a: int = 1) -> None:
        pass

    params = inspect.signature(cmd).parameters
    assert list(params) == ["a", "seed", "device"]
    assert params["seed"].default is CATALOGUE["seed"][1]
    assert params["seed"].annotation == (int | None)


@pytest.mark.parametrize(("names", "match", "error"), [
    (("no_such_option",), "no_such_option", KeyError),
    (("out",), "must take an `opts` parameter first", TypeError),
])
def test_programming_errors_are_named(names: tuple[str, ...], match: str,
                                      error: type[Exception]) -> None:
    with pytest.raises(error, match=match):
        @with_options(*names)
        def cmd(out: int = 0) -> None:
            pass


def test_called_from_python_with_positional_arguments() -> None:
    """The command's own parameters keep their positions; ``opts`` is filled in."""
    @with_options("seed")
    def cmd(opts: Any, a: int = 1, b: int = 2) -> tuple[Any, int, int]:
        return opts["seed"], a, b

    assert cmd(5, 6, seed=3) == (3, 5, 6)
    assert cmd() == (None, 1, 2)
    with pytest.raises(TypeError, match="first"):
        @with_options("seed")
        def late(a: int, opts: Any) -> None:
            pass


def test_an_option_declared_twice_is_refused() -> None:
    with pytest.raises(TypeError, match=r"\['out'\]"):
        @with_options("out")
        def cmd(opts: Any, out: int = 0) -> None:
            pass


def test_every_command_takes_its_options_from_the_catalogue() -> None:
    """The flags of the common options and of the file-reading options are the same object
    (one help text) in every command that takes them, but for the deliberate differences:
    ``benchmark --quick`` (its own sets), ``export --out`` (a file), ``score --dataset`` /
    ``--protocol`` (default: the model's) and ``info MODEL`` (an argument)."""
    own = {("benchmark", "quick"), ("export", "out"), ("score", "dataset"),
           ("score", "protocol"), ("info", "model")}
    seen: dict[str, set[int]] = {}
    for cmd in app.registered_commands:
        command = cmd.name or cmd.callback.__name__
        for name, param in inspect.signature(cmd.callback).parameters.items():
            if name in CATALOGUE and (command, name) not in own:
                seen.setdefault(name, set()).add(id(param.default))
    assert set(COMMON) <= set(seen) and set(READING) <= set(seen)
    assert all(ids == {id(CATALOGUE[n][1])} for n, ids in seen.items())


def test_a_parameter_given_twice_is_announced() -> None:
    """``-p k=a -p k=b``: the last wins, and a note on stderr says so (the same value twice
    is not worth a note)."""
    from historyad.cli._plumbing import _parse_params

    res = CliRunner().invoke(_params_app(), ["-p", "k=1", "-p", "j=x", "-p", "k=2"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "{'k': 2, 'j': 'x'}"
    assert "note: --param k is given twice (1, then 2): the last, 2, is used" in res.stderr
    assert _parse_params(["k=1", "k=1"]) == {"k": 1}


def _params_app() -> typer.Typer:
    from historyad.cli._plumbing import _parse_params

    toy = typer.Typer()

    @toy.command()
    @with_options("param")
    def run(opts: Any) -> None:
        typer.echo(str(_parse_params(opts["param"])))

    return toy
