"""Parameter declarations: one shared GAN block, declarative constraints, one validation
routine, and the import directions of the detectors layer."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from historyad.config import Constraint, DTVConfig, GANConfig, Interval, Options, check_params
from historyad.detectors.base import BaseDetector, detector_params
from historyad.detectors.gan_base import GAN_PARAMETERS, MIN_ITERATIONS, GANDetector
from historyad.detectors.registry import DETECTORS, get_detector

GAN_BLOCK_DEFAULTS = {
    "loss": "wgan-gp", "n_epochs": 5.0, "batch_size": 64, "n_critic": None, "gp_lambda": 10.0,
    "gan_lr": None, "min_iterations": MIN_ITERATIONS, "net_size": "cpu", "width": None,
    "latent_dim": None, "random_state": 0, "progress": False,
}  # fmt: skip


def test_gan_parameters_are_declared_once_in_the_gan_base() -> None:
    assert GAN_PARAMETERS == tuple(GAN_BLOCK_DEFAULTS)
    for name in DETECTORS:
        klass = get_detector(name)
        params = klass().get_params()
        if issubclass(klass, GANDetector):
            assert {k: params[k] for k in GAN_PARAMETERS} == GAN_BLOCK_DEFAULTS
            # subclasses declare only their own parameters
            own = set(inspect.get_annotations(klass)) - {"_parameter_constraints"}
            assert not own & set(GAN_PARAMETERS)
        assert (params["contamination"], params["standardize"], params["device"]) == (
            0.05, "auto", "cpu")


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_every_parameter_is_keyword_only_and_constrained(name: str) -> None:
    klass = get_detector(name)
    sig = inspect.signature(klass)
    assert all(p.kind is p.KEYWORD_ONLY for p in sig.parameters.values())
    assert set(sig.parameters) == set(klass().get_params()) == set(klass.parameter_constraints())
    assert all(isinstance(c, Constraint) for c in klass.parameter_constraints().values())


def test_a_parameter_without_a_constraint_is_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"without a constraint \['k'\]"):

        @detector_params
        class _Bad(BaseDetector):
            k: int = 1


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("knn", {"n_neighbors": 0}, r"n_neighbors=0 is not allowed; use an int >= 1"),
        ("knn", {"method": "max"}, r"method='max' is not allowed; choose one of \['largest'"),
        ("knn", {"contamination": 0.6}, r"contamination=0.6 is not allowed; use a number in "
                                        r"\(0, 0.5\]"),
        ("critic", {"loss": "lsgan"}, r"loss='lsgan' is not allowed; choose one of "
                                      r"\['gan', 'wgan', 'wgan-gp'\]"),
        ("critic", {"batch_size": 2.5}, r"batch_size=2.5 is not allowed; use an int > 0"),
        ("critic", {"gan_lr": 0.0}, r"gan_lr=0.0 is not allowed; use None or a number > 0"),
        ("critic", {"net_size": "big"}, r"net_size='big' is not allowed"),
        ("encoder", {"kappa": -1.0}, r"kappa=-1.0 is not allowed; use a number >= 0"),
        ("inversion", {"inversion_steps": 0}, r"inversion_steps=0 is not allowed"),
        ("recommended", {"n_generated": 0}, r"n_generated=0 is not allowed; use None or an"),
        ("historyad", {"n_history": 5}, r"n_history=5 is not allowed; use None or an int > "
                                        r"n_neighbors=5"),
        ("historyad", {"alpha": 5.0}, r"alpha=5.0 is not allowed; use a number in "
                                      r"\[0, n_epochs=5.0\)"),
        ("historyad", {"history_store": "tape"}, r"history_store='tape' is not allowed"),
        ("historyad", {"dtv_steps": -1}, r"dtv_steps=-1 is not allowed; use an int >= 0"),
    ],
)
def test_validation_names_parameter_value_and_what_is_allowed(
    name: str, params: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        get_detector(name)(**params).fit(np.zeros((10, 3), dtype=np.float32))


def test_parameters_are_validated_before_any_training_even_with_a_shared_gan() -> None:
    """``from_gan`` skips GAN training, not validation: the run is never touched."""
    det = get_detector("critic").from_gan(object(), loss="lsgan")
    with pytest.raises(ValueError, match="loss='lsgan'"):
        det.fit(np.zeros((10, 3), dtype=np.float32))


def test_historyad_trains_dtv_with_the_dtv_config_it_builds() -> None:
    det = get_detector("historyad")(dtv_steps=7, dtv_lr=1e-3, dtv_gp=1.0, dtv_noise=0.1,
                                    lam=5.0, case=2, wide_std=3.0, batch_size=16)
    assert det._dtv_config() == DTVConfig(dtv_steps=7, batch_size=16, dtv_lr=1e-3, lam=5.0,
                                          case=2, wide_std=3.0, dtv_gp=1.0, dtv_noise=0.1)


def test_configs_share_the_constraint_vocabulary() -> None:
    with pytest.raises(ValueError, match=r"case=3 is not allowed; choose one of \[1, 2\]"):
        DTVConfig(case=3)
    with pytest.raises(ValueError, match="min_iterations=-1 is not allowed; use an int >= 0"):
        GANConfig(min_iterations=-1)
    constraints: dict[str, Constraint] = {"k": Interval(int, ge=1), "m": Interval(
        int, gt="k", optional=True), "mode": Options("a", "b")}
    check_params({"k": 2, "m": None, "mode": "a"}, constraints)
    with pytest.raises(ValueError, match=r"m=2 is not allowed; use None or an int > k=2"):
        check_params({"k": 2, "m": 2, "mode": "a"}, constraints)
    assert not Interval(float, gt=0).allows(True, {})  # bools are not numbers here
    assert Interval(int, ge=1).allows(np.int64(3), {})


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_detectors_import_downwards_only() -> None:
    """detectors/ may import config, nn and training; never evaluation or the CLI; and
    base.py (which the registry imports) never imports the registry."""
    folder = Path(inspect.getfile(BaseDetector)).parent
    for path in folder.glob("*.py"):
        bad = {m for m in _imports(path)
               if m.startswith(("historyad.evaluation", "historyad.cli"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"
    assert "historyad.detectors.registry" not in _imports(folder / "base.py")


def test_declared_parameters_are_dataclass_fields_in_declaration_order() -> None:
    names = [f.name for f in dataclasses.fields(get_detector("historyad"))]
    assert names[:3] == ["contamination", "standardize", "device"]
    assert tuple(names[3 : 3 + len(GAN_PARAMETERS)]) == GAN_PARAMETERS
    assert isinstance(vars(GANDetector)["_parameter_constraints"], dict)
    assert "_parameter_constraints" not in [f.name for f in dataclasses.fields(GANDetector)]
