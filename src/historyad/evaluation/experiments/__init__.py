"""Experiment registry for ``historyad reproduce``.

Modules are imported lazily (``load_experiment``), so a missing or broken module only
fails when that experiment is run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from historyad.evaluation.experiments.common import RunContext

_PKG = "historyad.evaluation.experiments"

# name -> "module" (its ``run(ctx)``) or "module:function"
EXPERIMENTS: dict[str, str] = {
    "digits-loo": f"{_PKG}.common:run_digits_loo",
    "toy-1d": f"{_PKG}.toy_1d",
    "ring-2d": f"{_PKG}.ring_2d",
    "har": f"{_PKG}.har",
    "mnist-leave-one-out": f"{_PKG}.mnist_loo",
    "mnist-vs-kmnist": f"{_PKG}.mnist_kmnist",
    "mnist-noise": f"{_PKG}.mnist_noise",
    "mnist-interpolation": f"{_PKG}.mnist_interpolation",
    "saves-per-epoch": f"{_PKG}.saves_per_epoch",
    "svhn-vs-others": f"{_PKG}.svhn_others",
}


def load_experiment(name: str) -> Callable[[RunContext], list[dict[str, Any]]]:
    """The ``run(ctx)`` function of experiment ``name``."""
    if name not in EXPERIMENTS:
        raise ValueError(
            f"experiment={name!r} is unknown; choose one of {', '.join(sorted(EXPERIMENTS))}"
        )
    module_name, _, func = EXPERIMENTS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ModuleNotFoundError(
                f"experiment {name!r} is registered but its module {module_name!r} is not "
                "available (not written yet?)",
                name=exc.name,
            ) from exc
        raise
    return getattr(module, func or "run")


__all__ = ["EXPERIMENTS", "RunContext", "load_experiment"]
