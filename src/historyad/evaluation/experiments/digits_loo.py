"""The demo job: leave-one-digit-out on scikit-learn's 8×8 digits (embedded, offline).

Protocol as both papers: pool the data, drop the anomalous digit, train on 80 % of the
normal samples, test on the other 20 % plus every sample of the anomalous digit. All GAN
detectors share one WGAN-GP per digit (with its recorded history); kNN on raw pixels is the
baseline to beat.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from historyad.evaluation.harness import Result, evaluate_detectors

logger = logging.getLogger(__name__)


@dataclass
class DigitsConfig:
    digits: list[int] = field(default_factory=lambda: list(range(10)))
    seed: int = 0
    checkpoint_dir: str | None = None  # save each digit's GAN there when set
    # 1 437 normal training images -> 4 generator iterations per "epoch"; schedules are
    # therefore counted in many short epochs (100 epochs ≈ 450 generator iterations).
    gan: dict[str, Any] = field(
        default_factory=lambda: {"n_epochs": 100.0, "batch_size": 64, "width": 32,
                                 "gan_lr": 2e-4, "min_iterations": 0, "random_state": 0}
    )
    history: dict[str, Any] = field(
        default_factory=lambda: {"saves_per_epoch": 1, "alpha": 20.0, "beta": 0.03}
    )
    detectors: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "knn": {"name": "knn", "n_neighbors": 5},
            "historyad": {"name": "historyad"},  # the defaults: the knn estimator
            "historyad-network": {"name": "historyad", "estimator": "network",
                                  "dtv_steps": 300},
            "historyad-two-sided": {"name": "historyad", "estimator": "network",
                                    "dtv_steps": 300, "score": "two-sided"},
            "historyad-no-training": {"name": "historyad", "estimator": "network",
                                      "train_dtv": False},
            "critic": {"name": "critic"},
            "encoder": {"name": "encoder", "encoder_epochs": 100.0},
            "inversion": {"name": "inversion", "inversion_steps": 50},
        }
    )


def run(config: DigitsConfig | None = None) -> list[Result]:
    """Fit and score every detector for each anomalous digit; returns the result rows."""
    from historyad.data import load
    from historyad.protocols import leave_one_class_out

    cfg = config or DigitsConfig()
    ds = load("digits")
    results: list[Result] = []
    for digit in cfg.digits:
        split = leave_one_class_out(ds, digit, train_fraction=0.8, seed=cfg.seed)
        results += evaluate_detectors(
            split.X_train,
            split.X_test,
            split.y_test,
            cfg.detectors,
            gan=cfg.gan,
            history=cfg.history,
            dataset="digits",
            protocol="leave-one-class-out",
            anomaly=str(digit),
            checkpoint=(
                f"{cfg.checkpoint_dir}/gan-digit{digit}.safetensors" if cfg.checkpoint_dir
                else None
            ),
        )
    return results


def config_dict(cfg: DigitsConfig) -> dict[str, Any]:
    return asdict(cfg)
