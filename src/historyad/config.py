"""Typed configuration dataclasses, one per concern, and the parameter constraints they and
the detectors declare.

Every default cites its source: "seed 000" is the HistoryAD paper (history-based anomaly
detector), "seed 001" is "Anomaly detection with Wasserstein GAN". A resolved config is
written beside every result and inside every checkpoint (`to_dict` / `from_dict`).

Constraints (``Options``, ``Interval``, ``Check``) are declared per class in a dict
parameter -> constraint (scikit-learn's ``_parameter_constraints`` in spirit) and checked
by one routine, ``check_params``, whose errors name the parameter, the value and what is
allowed: ``"case=3 is not allowed; choose one of [1, 2]"``.

One knob, one name: a config field that a detector parameter sets carries that parameter's
name (``GANConfig.gan_lr`` is ``HistoryAD(gan_lr=...)`` is ``-p gan_lr=...`` on the command
line). Configs written before the fields were renamed (checkpoints, ``GANRun.save``) still
load: each class's ``RENAMED_FIELDS`` maps an old field name to its new one, and
``from_dict`` / ``upgrade_dict`` apply it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np

T = TypeVar("T")

NetSize = Literal["cpu", "paper"]
LossName = Literal["gan", "wgan", "wgan-gp"]
StoreKind = Literal["auto", "memory", "disk"]


# -- parameter constraints -----------------------------------------------------------------
def is_bool(value: Any) -> bool:
    """True for Python and numpy booleans (which are never accepted as numbers here)."""
    return isinstance(value, bool | np.bool_)


def is_number(value: Any, kind: type[int] | type[float]) -> bool:
    """Whether ``value`` is an integral (``kind=int``) or real (``kind=float``) number of any
    type (Python, numpy, ``fractions``), not a bool and, for reals, finite."""
    abc = numbers.Integral if kind is int else numbers.Real
    if is_bool(value) or not isinstance(value, abc):
        return False
    try:
        return math.isfinite(value)
    except (TypeError, OverflowError, ValueError):  # an integer too large for a float
        return kind is int


def plain(value: Any) -> Any:
    """``value`` as a plain Python object: numpy numbers and booleans become ``int`` /
    ``float`` / ``bool`` (so configs stay JSON-serialisable); anything else unchanged."""
    if is_bool(value):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


class Constraint:
    """What one parameter accepts. ``params`` holds all the owner's parameters, so that a
    bound may name another parameter (``Interval(float, lt="n_epochs")``)."""

    def allows(self, value: Any, params: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def describe(self, params: Mapping[str, Any]) -> str:
        """What is allowed, as the end of the error message ("use an int >= 1")."""
        raise NotImplementedError

    def hint(self, value: Any) -> str:
        """Why ``value`` is refused when its type says more than the bounds (a bool, a
        float for an int, NaN): appended to the message; "" when nothing to add."""
        return ""


class Options(Constraint):
    """One of the listed values. Booleans match only booleans (``True`` is not the option
    ``1``, nor ``1`` the option ``True``); numpy scalars match their Python values."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    def allows(self, value: Any, params: Mapping[str, Any]) -> bool:
        if not isinstance(value, Hashable):
            return False  # arrays, lists and the like
        try:
            return any(
                is_bool(value) == is_bool(option) and bool(value == option)
                for option in self.values
            )
        except (TypeError, ValueError):
            return False

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"choose one of {list(self.values)}"

    def __repr__(self) -> str:
        return f"Options{self.values!r}"


Bound = float | int | str | None  # a number, or the name of another parameter


class Interval(Constraint):
    """A finite real number (``kind=float``) or an integer (``kind=int``) of any number type
    (Python, numpy: ``np.int64(5)``, ``np.float32(0.1)``), never a bool, within the bounds
    given by ``gt`` / ``ge`` / ``lt`` / ``le``; a bound may be another parameter's name.
    ``optional``: None is allowed too. NaN and ±inf are refused (no parameter takes them)."""

    def __init__(
        self,
        kind: type[int] | type[float],
        *,
        gt: Bound = None,
        ge: Bound = None,
        lt: Bound = None,
        le: Bound = None,
        optional: bool = False,
    ) -> None:
        self.kind, self.optional = kind, optional
        self.low, self.low_closed = (ge, True) if ge is not None else (gt, False)
        self.high, self.high_closed = (le, True) if le is not None else (lt, False)

    def or_none(self) -> Interval:
        """The same interval, None allowed too."""
        out = Interval(self.kind, optional=True)
        out.low, out.low_closed, out.high, out.high_closed = (
            self.low, self.low_closed, self.high, self.high_closed)  # fmt: skip
        return out

    def allows(self, value: Any, params: Mapping[str, Any]) -> bool:
        if value is None:
            return self.optional
        if not is_number(value, self.kind):
            return False
        low, high = _resolve(self.low, params), _resolve(self.high, params)
        try:
            if low is not None and not (value >= low if self.low_closed else value > low):
                return False
            return high is None or bool(value <= high if self.high_closed else value < high)
        except TypeError:  # a bound naming an invalid parameter
            return False

    def describe(self, params: Mapping[str, Any]) -> str:
        what = "an int" if self.kind is int else "a number"
        low, high = _show(self.low, params), _show(self.high, params)
        if low is not None and high is not None:
            what += (f" in {'[' if self.low_closed else '('}{low}, {high}"
                     f"{']' if self.high_closed else ')'}")
        elif low is not None:
            what += f" {'>=' if self.low_closed else '>'} {low}"
        elif high is not None:
            what += f" {'<=' if self.high_closed else '<'} {high}"
        return f"use None or {what}" if self.optional else f"use {what}"

    def hint(self, value: Any) -> str:
        if is_bool(value):
            return " (a bool is not a number here)"
        if self.kind is int and isinstance(value, numbers.Real) and not isinstance(
                value, numbers.Integral):
            return " (a float is not an int, even a whole one)"
        if isinstance(value, float | np.floating) and not math.isfinite(value):
            return " (NaN and infinity are not allowed)"
        return ""

    def __repr__(self) -> str:
        return f"Interval({self.describe({})})"


class Check(Constraint):
    """Any value ``predicate`` accepts; ``allowed`` says what that is ("a device name")."""

    def __init__(self, predicate: Callable[[Any], bool], allowed: str) -> None:
        self.predicate, self.allowed = predicate, allowed

    def allows(self, value: Any, params: Mapping[str, Any]) -> bool:
        try:
            return bool(self.predicate(value))
        except Exception:  # a predicate that cannot judge the value refuses it
            return False

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"use {self.allowed}"


def _resolve(bound: Bound, params: Mapping[str, Any]) -> Any:
    return params.get(bound) if isinstance(bound, str) else bound


def _show(bound: Bound, params: Mapping[str, Any]) -> str | None:
    if isinstance(bound, str):
        return f"{bound}={params[bound]!r}" if bound in params else bound
    return None if bound is None else str(bound)


def check_params(params: Mapping[str, Any], constraints: Mapping[str, Constraint]) -> None:
    """Check ``params`` against ``constraints`` in the constraints' order (a bound naming
    another parameter names an earlier one, so that parameter's own error comes first);
    raise ValueError naming the first parameter that breaks its constraint, its value and
    what is allowed."""
    for name, constraint in constraints.items():
        value = params[name]
        if not constraint.allows(value, params):
            raise ValueError(
                f"{name}={_show_value(value)} is not allowed; {constraint.describe(params)}"
                f"{constraint.hint(value)}"
            )


def _show_value(value: Any) -> str:
    """``repr`` of a parameter value for messages, long reprs cut."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_fields(cfg: Any) -> None:
    """``check_params`` over a config dataclass's fields and its ``constraints``."""
    check_params({f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)},
                 cfg.constraints)


def _is_pair_of_betas(value: Any) -> bool:
    return (isinstance(value, tuple | list) and len(value) == 2
            and all(isinstance(b, numbers.Real) and not isinstance(b, bool) and 0 <= b < 1
                    for b in value))


_BETAS = Check(_is_pair_of_betas, "a pair of numbers in [0, 1), e.g. (0.5, 0.9)")
_BOOL = Options(True, False)
_PATH_OR_NONE = Check(lambda v: v is None or isinstance(v, str | os.PathLike),
                      "None or a folder path")


@dataclass
class NetConfig:
    """Network family and size; the family (mlp / conv1d / conv2d) follows the data shape."""

    net_size: NetSize = "cpu"  # "paper": ~5 M parameters per G and D (seed 000 §4.1)
    width: int | None = None  # base channel / hidden width; None = the size's default
    latent_dim: int | None = None  # None = size default (2 for 2-D toys, 100 for images)

    #: old field name -> new (detector parameter) name, for configs saved before the rename
    RENAMED_FIELDS: ClassVar[dict[str, str]] = {"size": "net_size"}
    constraints: ClassVar[dict[str, Constraint]] = {
        "net_size": Options("cpu", "paper"),
        "width": Interval(int, gt=0, optional=True),
        "latent_dim": Interval(int, gt=0, optional=True),
    }

    def __post_init__(self) -> None:
        _check_fields(self)


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
    gan_lr: float = 1e-4  # seed 001 Alg. 2 (WGAN-GP); 5e-5 with RMSprop for WGAN-clip
    betas: tuple[float, float] = (0.5, 0.9)  # Adam β, seed 001 Alg. 2
    lr_decay: float | None = None  # final lr / initial lr, linear decay; None = constant
    # floor on the generator iterations: an epoch is stretched to ceil(min_iterations /
    # n_epochs) iterations when one pass over the data gives fewer (0 = no floor)
    min_iterations: int = 0
    random_state: int = 0  # seeds the nets, the latents and the data permutations
    device: str = "cpu"
    progress: bool = False
    checkpoint_dir: str | None = None  # safetensors + JSON each epoch when set

    #: old field name -> new (detector parameter) name, for configs saved before the rename
    RENAMED_FIELDS: ClassVar[dict[str, str]] = {"lr": "gan_lr", "seed": "random_state"}
    constraints: ClassVar[dict[str, Constraint]] = {
        "loss": Options("gan", "wgan", "wgan-gp"),
        "optimizer": Options("adam", "rmsprop"),
        "n_epochs": Interval(float, gt=0),
        "batch_size": Interval(int, gt=0),
        "n_critic": Interval(int, gt=0),
        "gan_lr": Interval(float, gt=0),
        "gp_lambda": Interval(float, ge=0),
        "clip": Interval(float, gt=0),
        "min_iterations": Interval(int, ge=0),
        "betas": _BETAS,
        "lr_decay": Interval(float, gt=0, optional=True),
        "random_state": Interval(int, ge=0, optional=True),
        "progress": _BOOL,
        "checkpoint_dir": _PATH_OR_NONE,
    }

    def __post_init__(self) -> None:
        _check_fields(self)
        self.min_iterations = int(self.min_iterations)
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GANConfig:
        """Named presets from the papers: "wgan-gp", "wgan-clip", "gan", "historyad"."""
        presets: dict[str, dict[str, Any]] = {
            # seed 001 Alg. 2
            "wgan-gp": dict(loss="wgan-gp", optimizer="adam", gan_lr=1e-4, betas=(0.5, 0.9)),
            # seed 001 §3.2 (Arjovsky et al.): RMSprop 5e-5, c = 0.01
            "wgan-clip": dict(loss="wgan", optimizer="rmsprop", gan_lr=5e-5, n_critic=5),
            # seed 001 Alg. 1 (Goodfellow et al.): one D step per G step
            "gan": dict(loss="gan", optimizer="adam", gan_lr=2e-4, betas=(0.5, 0.999),
                        n_critic=1),
            # seed 000 §4.3: WGAN-GP with Adam and a learning rate decreasing from 5e-4
            "historyad": dict(loss="wgan-gp", optimizer="adam", gan_lr=5e-4, lr_decay=0.1),
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
    history_store: StoreKind = "auto"
    memory_budget_mb: float = 256.0
    store_dir: str | None = None  # where the disk store writes; None = a temp dir
    store_dtype: Literal["float32", "float16"] = "float32"
    record_critic: bool = False  # keep critic snapshots too (the average is online anyway)

    #: old field name -> new (detector parameter) name, for configs saved before the rename
    RENAMED_FIELDS: ClassVar[dict[str, str]] = {"store": "history_store"}
    constraints: ClassVar[dict[str, Constraint]] = {
        "saves_per_epoch": Interval(int, gt=0),
        "alpha": Interval(float, ge=0),
        "history_store": Options("auto", "memory", "disk"),
        "memory_budget_mb": Interval(float, ge=0),
        "store_dtype": Options("float32", "float16"),
        "beta": Interval(float),
        "store_dir": _PATH_OR_NONE,
        "record_critic": _BOOL,
    }

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass
class DTVConfig:
    """D_TV training (seed 000 §3.3, eq. 10). ``HistoryAD`` builds one from its ``dtv_*``,
    ``batch_size``, ``lam``, ``case`` and ``wide_std`` parameters, fields of the same names
    whose constraints they take."""

    dtv_steps: int = 1500
    batch_size: int = 64
    dtv_lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    lam: float = 10.0  # λ in eq. 10
    case: Literal[1, 2] = 1  # 2: half the latents from a wider P_Z'
    wide_std: float = 2.0  # std of P_Z' (case 2)
    dtv_gp: float = 0.0  # optional gradient penalty on D_TV (our extension)
    dtv_noise: float = 0.0  # instance-noise std on D_TV's inputs (our extension)

    #: old field name -> new (detector parameter) name, for configs saved before the rename
    RENAMED_FIELDS: ClassVar[dict[str, str]] = {
        "n_steps": "dtv_steps", "lr": "dtv_lr", "gp_lambda": "dtv_gp", "noise": "dtv_noise",
    }
    constraints: ClassVar[dict[str, Constraint]] = {
        "dtv_steps": Interval(int, ge=0),
        "batch_size": Interval(int, gt=0),
        "dtv_lr": Interval(float, gt=0),
        "lam": Interval(float, ge=0),
        "case": Options(1, 2),
        "wide_std": Interval(float, gt=0),
        "dtv_gp": Interval(float, ge=0),
        "dtv_noise": Interval(float, ge=0),
        "betas": _BETAS,
    }

    def __post_init__(self) -> None:
        _check_fields(self)
        self.betas = (float(self.betas[0]), float(self.betas[1]))


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (possibly nested) config dataclass."""
    return dataclasses.asdict(cfg)


def upgrade_dict(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (a dict of ``cls``'s fields, as ``to_dict`` writes it) with the old field names
    of ``cls.RENAMED_FIELDS`` replaced by the current ones, so that configs written before a
    rename still load; other keys are kept as they are. ValueError when a dict holds both an
    old name and its new one (which value is meant is ambiguous)."""
    renamed: dict[str, str] = getattr(cls, "RENAMED_FIELDS", {})
    out = dict(data)
    for old, new in renamed.items():
        if old not in out:
            continue
        if new in out:
            raise ValueError(
                f"{cls.__name__} keys {old!r} and {new!r} both given; {old!r} is the old name "
                f"of {new!r} (configs saved before the rename), keep only {new!r}"
            )
        out[new] = out.pop(old)
    return out


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Rebuild a config dataclass, rejecting unknown keys with a clear error. Old field names
    (``cls.RENAMED_FIELDS``, configs written before a rename) are read as the new ones.
    Every error is a ValueError naming the class, the key and the value."""
    if not isinstance(data, Mapping):
        raise ValueError(
            f"a {cls.__name__} must be a table of field = value, not {type(data).__name__} "
            f"{data!r}"
        )
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise ValueError(f"{cls.__name__} keys must be strings, not {bad_keys!r}")
    kwargs = upgrade_dict(cls, data)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; allowed: {sorted(names)}")
    if "betas" in kwargs and isinstance(kwargs["betas"], list):
        kwargs["betas"] = tuple(kwargs["betas"])
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{cls.__name__}: {exc}") from None


__all__ = [
    "Check",
    "Constraint",
    "DTVConfig",
    "GANConfig",
    "HistoryConfig",
    "Interval",
    "NetConfig",
    "Options",
    "check_params",
    "from_dict",
    "to_dict",
    "upgrade_dict",
]


def default_of(cls: type, name: str) -> Any:
    """The default of config dataclass ``cls``'s field ``name``: detectors declare their GAN,
    network, history and D_TV parameters with these, so each default is written once."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is dataclasses.MISSING:
                raise TypeError(f"{cls.__name__}.{name} has no plain default")
            return f.default
    raise AttributeError(f"{cls.__name__} has no field {name!r}")
