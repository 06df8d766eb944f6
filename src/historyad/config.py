"""Typed configuration dataclasses, one per concern.

Every default cites its source: "seed 000" is the HistoryAD paper (history-based anomaly
detector), "seed 001" is "Anomaly detection with Wasserstein GAN". A resolved config is
written beside every result and inside every checkpoint (`to_dict` / `from_dict`).
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")

NetSize = Literal["cpu", "paper"]
LossName = Literal["gan", "wgan", "wgan-gp"]
StoreKind = Literal["auto", "memory", "disk"]


def _check_choice(name: str, value: object, allowed: tuple[object, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {list(allowed)}")


def _check_positive(name: str, value: float, *, strict: bool = True) -> None:
    if (strict and not value > 0) or (not strict and not value >= 0):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{name}={value!r} is not allowed; it must be {bound}")


@dataclass
class NetConfig:
    """Network family and size; the family (mlp / conv1d / conv2d) follows the data shape."""

    size: NetSize = "cpu"  # "paper": ~5 M parameters per G and D (seed 000 §4.1)
    width: int | None = None  # base channel / hidden width; None = the size's default
    latent_dim: int | None = None  # None = size default (2 for 2-D toys, 100 for images)

    def __post_init__(self) -> None:
        _check_choice("size", self.size, ("cpu", "paper"))
        if self.width is not None:
            _check_positive("width", self.width)
        if self.latent_dim is not None:
            _check_positive("latent_dim", self.latent_dim)


@dataclass
class GANConfig:
    """Adversarial training. Defaults: WGAN-GP, seed 001 Alg. 2."""

    loss: LossName = "wgan-gp"
    n_epochs: float = 5.0  # seed 000 §4.3 (MNIST: 5 epochs)
    batch_size: int = 64  # seed 001 §4
    n_critic: int = 5  # critic steps per generator step, seed 001 Alg. 2
    gp_lambda: float = 10.0  # λ_GP, seed 001 Alg. 2
    clip: float = 0.01  # weight clipping c for loss="wgan", seed 001 §3.2
    optimizer: Literal["adam", "rmsprop"] = "adam"
    lr: float = 1e-4  # seed 001 Alg. 2 (WGAN-GP); 5e-5 with RMSprop for WGAN-clip
    betas: tuple[float, float] = (0.5, 0.9)  # Adam β, seed 001 Alg. 2
    lr_decay: float | None = None  # final lr / initial lr, linear decay; None = constant
    # floor on the generator iterations: an epoch is stretched to ceil(min_iterations /
    # n_epochs) iterations when one pass over the data gives fewer (0 = no floor)
    min_iterations: int = 0
    seed: int = 0
    device: str = "cpu"
    progress: bool = False
    checkpoint_dir: str | None = None  # safetensors + JSON each epoch when set

    def __post_init__(self) -> None:
        _check_choice("loss", self.loss, ("gan", "wgan", "wgan-gp"))
        _check_choice("optimizer", self.optimizer, ("adam", "rmsprop"))
        _check_positive("n_epochs", self.n_epochs)
        _check_positive("batch_size", self.batch_size)
        _check_positive("n_critic", self.n_critic)
        _check_positive("lr", self.lr)
        _check_positive("gp_lambda", self.gp_lambda, strict=False)
        _check_positive("clip", self.clip)
        if (isinstance(self.min_iterations, bool)
                or not isinstance(self.min_iterations, numbers.Integral)
                or self.min_iterations < 0):
            raise ValueError(
                f"min_iterations={self.min_iterations!r} is not allowed; use an int >= 0"
            )
        self.min_iterations = int(self.min_iterations)
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GANConfig:
        """Named presets from the papers: "wgan-gp", "wgan-clip", "gan", "historyad"."""
        presets: dict[str, dict[str, Any]] = {
            # seed 001 Alg. 2
            "wgan-gp": dict(loss="wgan-gp", optimizer="adam", lr=1e-4, betas=(0.5, 0.9)),
            # seed 001 §3.2 (Arjovsky et al.): RMSprop 5e-5, c = 0.01
            "wgan-clip": dict(loss="wgan", optimizer="rmsprop", lr=5e-5, n_critic=5),
            # seed 001 Alg. 1 (Goodfellow et al.): one D step per G step
            "gan": dict(loss="gan", optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1),
            # seed 000 §4.3: WGAN-GP with Adam and a learning rate decreasing from 5e-4
            "historyad": dict(loss="wgan-gp", optimizer="adam", lr=5e-4, lr_decay=0.1),
        }
        if name not in presets:
            raise ValueError(f"preset={name!r} is not allowed; choose one of {sorted(presets)}")
        return cls(**{**presets[name], **overrides})


@dataclass
class HistoryConfig:
    """Generator history (seed 000 §3.2, §4.3)."""

    saves_per_epoch: int = 50  # seed 000 §4.3
    alpha: float = 1.0  # start of the history window [α, n_epochs], in epochs
    beta: float = 3.0  # time weight e^(−βt); β > 0 favours early snapshots
    # "auto": in memory while the projected snapshots fit in memory_budget_mb, else on disk
    # (250 snapshots of a 5 M-parameter G are 5 GB in fp32; the disk store holds one at a time)
    store: StoreKind = "auto"
    memory_budget_mb: float = 256.0
    store_dir: str | None = None  # where the disk store writes; None = a temp dir
    store_dtype: Literal["float32", "float16"] = "float32"
    record_critic: bool = False  # keep critic snapshots too (the average is online anyway)

    def __post_init__(self) -> None:
        _check_positive("saves_per_epoch", self.saves_per_epoch)
        _check_positive("alpha", self.alpha, strict=False)
        _check_choice("store", self.store, ("auto", "memory", "disk"))
        _check_positive("memory_budget_mb", self.memory_budget_mb, strict=False)
        _check_choice("store_dtype", self.store_dtype, ("float32", "float16"))


@dataclass
class DTVConfig:
    """D_TV training (seed 000 §3.3, eq. 10)."""

    n_steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    lam: float = 10.0  # λ in eq. 10
    case: Literal[1, 2] = 1  # 2: half the latents from a wider P_Z'
    wide_std: float = 2.0  # std of P_Z' (case 2)
    gp_lambda: float = 0.0  # optional gradient penalty on D_TV (our extension)
    noise: float = 0.0  # instance-noise std on D_TV's inputs (our extension)

    def __post_init__(self) -> None:
        _check_positive("n_steps", self.n_steps, strict=False)
        _check_positive("batch_size", self.batch_size)
        _check_positive("lr", self.lr)
        _check_positive("lam", self.lam, strict=False)
        _check_choice("case", self.case, (1, 2))
        _check_positive("wide_std", self.wide_std)
        _check_positive("gp_lambda", self.gp_lambda, strict=False)
        _check_positive("noise", self.noise, strict=False)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (possibly nested) config dataclass."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config dataclass, rejecting unknown keys with a clear error."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; allowed: {sorted(names)}")
    kwargs = dict(data)
    if "betas" in kwargs and isinstance(kwargs["betas"], list):
        kwargs["betas"] = tuple(kwargs["betas"])
    return cls(**kwargs)


__all__ = [
    "DTVConfig",
    "GANConfig",
    "HistoryConfig",
    "NetConfig",
    "from_dict",
    "to_dict",
]
