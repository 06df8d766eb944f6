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


#: name -> one line saying what the experiment is (``historyad reproduce --list``); "HistoryAD
#: paper": Chatillon & Ballester, arXiv 1912.11843; "WGAN-AD paper": Haloui et al., arXiv
#: 1812.02463.
DESCRIPTIONS: dict[str, str] = {
    "digits-loo": "the demo: leave-one-digit-out on scikit-learn's 8×8 digits, recommended "
                  "detector vs kNN (offline, minutes)",
    "toy-1d": "HistoryAD paper Figs. 3–4: the generator history and D_TV on 1-D N(0, 1)",
    "ring-2d": "WGAN-AD paper Figs. 6–13: GAN, WGAN-clip and WGAN-GP on a ring of 7 "
               "gaussians (mode collapse, critic maps)",
    "har": "WGAN-AD paper §6: human-activity series, leave-one-activity-out (UCI HAR, else "
           "BasicMotions)",
    "mnist-leave-one-out": "WGAN-AD paper Table 1 / HistoryAD paper Fig. 7: MNIST "
                           "leave-one-digit-out, every detector",
    "mnist-vs-kmnist": "HistoryAD paper Fig. 5: trained on MNIST, tested on MNIST vs KMNIST "
                       "(AUPRC along D_TV training)",
    "mnist-noise": "HistoryAD paper Fig. 6: MNIST test images vs gaussian-noise copies, "
                   "AUPRC against σ",
    "mnist-interpolation": "HistoryAD paper Fig. 8: HistoryAD scores along a latent "
                           "interpolation between two normal images",
    "saves-per-epoch": "HistoryAD paper Fig. 9: MNIST-vs-KMNIST AUPRC against generator "
                       "snapshots per epoch",
    "svhn-vs-others": "HistoryAD paper Fig. 1 / Table 1: trained on SVHN, tested against "
                      "CIFAR-10, CelebA and Tiny ImageNet",
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


__all__ = ["DESCRIPTIONS", "EXPERIMENTS", "RunContext", "load_experiment"]
