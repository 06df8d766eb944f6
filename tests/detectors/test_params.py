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
from tests.detectors.tiny import tiny_params

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
        assert (params["contamination"], params["standardize"], params["device"],
                params["input_kind"]) == (0.05, "auto", "cpu", "auto")


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
    assert names[:4] == ["contamination", "standardize", "device", "input_kind"]
    assert tuple(names[4 : 4 + len(GAN_PARAMETERS)]) == GAN_PARAMETERS
    assert isinstance(vars(GANDetector)["_parameter_constraints"], dict)
    assert "_parameter_constraints" not in [f.name for f in dataclasses.fields(GANDetector)]


# -- number types, bools, seeds, checks before training (issue 16, "Parameters") --------
TINY_PARAMS = tiny_params(batch_size=16, saves_per_epoch=2)
TINY = TINY_PARAMS["critic"]
X_SMALL = np.random.default_rng(0).normal(size=(48, 3)).astype(np.float32)


def _numpy_typed(params: dict[str, Any]) -> dict[str, Any]:
    """Every int as np.int64 and every float as np.float64 (exact, so scores must match)."""
    out = {}
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            out[k] = v
        else:
            out[k] = np.int64(v) if isinstance(v, int) else np.float64(v)
    return out


@pytest.mark.parametrize("name", sorted(TINY_PARAMS))
def test_numpy_numbers_are_accepted_everywhere(name: str, tmp_path: Path) -> None:
    """np.int64 / np.float64 / np.float32 parameters fit, give the scores of Python numbers
    and save (the GAN run's JSON config included)."""
    klass = get_detector(name)
    plain = klass(**TINY_PARAMS[name], contamination=0.1).fit(X_SMALL)
    seed = {"random_state": 0} if issubclass(klass, GANDetector) else {}
    typed = klass(**_numpy_typed({**TINY_PARAMS[name], "contamination": 0.1, **seed}))
    typed.fit(X_SMALL)
    np.testing.assert_allclose(typed.decision_function(X_SMALL),
                               plain.decision_function(X_SMALL), rtol=1e-6)
    assert typed.threshold_ == pytest.approx(plain.threshold_)
    typed.save(tmp_path / "det.safetensors")
    if hasattr(typed, "gan_"):
        typed.gan_.save(tmp_path / "gan.safetensors")
    float32 = klass(**{**TINY_PARAMS[name], "contamination": np.float32(0.1)}).fit(X_SMALL)
    assert float32.threshold_ == pytest.approx(plain.threshold_, rel=1e-3)


def _number_parameters() -> list[tuple[str, str, Interval]]:
    out = []
    for name in sorted(DETECTORS):
        for param, constraint in get_detector(name).parameter_constraints().items():
            if isinstance(constraint, Interval):
                out.append((name, param, constraint))
    return out


@pytest.mark.parametrize("name,param,constraint", _number_parameters(),
                         ids=[f"{n}-{p}" for n, p, _ in _number_parameters()])
def test_bools_nan_and_inf_are_refused_for_every_number_parameter(
    name: str, param: str, constraint: Interval
) -> None:
    for bad in (True, np.bool_(False), float("nan"), float("inf"), np.float32("-inf")):
        with pytest.raises(ValueError, match=rf"^{param}=.* is not allowed"):
            get_detector(name)(**{param: bad})._validate_params()
    if constraint.kind is int:
        with pytest.raises(ValueError, match=rf"{param}=.*\(a float is not an int"):
            get_detector(name)(**{param: 7.0})._validate_params()


def test_options_do_not_take_bools_for_numbers_or_numbers_for_bools() -> None:
    with pytest.raises(ValueError, match=r"case=True is not allowed; choose one of \[1, 2\]"):
        get_detector("historyad")(case=True)._validate_params()
    with pytest.raises(ValueError, match=r"progress=1 is not allowed"):
        get_detector("critic")(progress=1)._validate_params()
    get_detector("historyad")(case=np.int64(2), progress=np.bool_(True))._validate_params()


def test_grid_search_with_numpy_grids() -> None:
    from sklearn.model_selection import GridSearchCV

    def mean_normality(est: Any, X: Any, y: Any = None) -> float:
        return float(np.mean(est.score_samples(X)))

    grid = GridSearchCV(get_detector("knn")(), {"n_neighbors": np.arange(2, 6),
                                                "contamination": np.linspace(0.05, 0.2, 3)},
                        scoring=mean_normality, cv=3).fit(X_SMALL)
    assert isinstance(grid.best_params_["n_neighbors"], np.integer)
    gan = GridSearchCV(get_detector("critic")(**TINY),
                       {"batch_size": np.arange(8, 17, 8), "n_epochs": np.array([0.5])},
                       scoring=mean_normality, cv=2).fit(X_SMALL)
    assert gan.best_estimator_.gan_.gan_config.batch_size in (8, 16)


def test_random_state_none_draws_one_seed_at_fit(tmp_path: Path) -> None:
    """None means unseeded (scikit-learn): a seed is drawn at fit from numpy's global RNG,
    so ``np.random.seed`` reproduces it; the trainer never sees None; the inversion
    detector's scores stay fixed after fit and after save / load."""
    klass = get_detector("inversion")
    np.random.seed(3)  # noqa: NPY002 - the global RNG None draws from
    a = klass(**{**TINY_PARAMS["inversion"], "random_state": None}).fit(X_SMALL)
    np.random.seed(3)  # noqa: NPY002 - the global RNG None draws from
    b = klass(**{**TINY_PARAMS["inversion"], "random_state": None}).fit(X_SMALL)
    assert a.get_params()["random_state"] is None
    assert isinstance(a.random_state_, int) and a.random_state_ == b.random_state_
    assert a.gan_.gan_config.random_state == a.random_state_
    np.testing.assert_array_equal(a.decision_function(X_SMALL), b.decision_function(X_SMALL))
    np.testing.assert_array_equal(a.decision_function(X_SMALL), a.decision_function(X_SMALL))
    loaded = BaseDetector.load(a.save(tmp_path / "inv.safetensors"))
    np.testing.assert_allclose(loaded.decision_function(X_SMALL),
                               a.decision_function(X_SMALL), rtol=1e-6)
    c = klass(**{**TINY_PARAMS["inversion"], "random_state": None}).fit(X_SMALL)
    assert c.random_state_ != a.random_state_  # unseeded: another draw
    seeded = klass(**{**TINY_PARAMS["inversion"], "random_state": np.int64(7)}).fit(X_SMALL)
    assert seeded.random_state_ == 7
    with pytest.raises(ValueError, match=r"random_state=-1 is not allowed; use None or an int"):
        klass(random_state=-1)._validate_params()


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any training (a GAN, the kNN index) fails the test: checks must come first."""
    from historyad.detectors.knn import KNNDetector

    def trained(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("training started before the inputs were checked")

    monkeypatch.setattr(GANDetector, "_fit", trained)
    monkeypatch.setattr(KNNDetector, "_fit", trained)


@pytest.mark.parametrize(
    "name,params,X,match",
    [
        ("critic", {"n_epochs": float("inf")}, X_SMALL, r"n_epochs=inf is not allowed; use a "
                                                         r"number > 0 \(NaN and infinity"),
        ("critic", {"batch_size": 2.5}, X_SMALL, r"batch_size=2.5 is not allowed"),
        ("critic", {"batch_size": 16.0}, X_SMALL, r"batch_size=16.0 .*\(a float is not an int"),
        ("historyad", {"n_epochs": -1}, X_SMALL, r"^n_epochs=-1 is not allowed"),
        ("historyad", {"n_epochs": -1, "alpha": 0.5}, X_SMALL, r"^n_epochs=-1 is not"),
        ("encoder", {"batch_size": 1}, X_SMALL, r"batch_size=1 is not allowed for "
                                               r"EncoderDetector; use an int >= 2"),
        ("encoder", {}, X_SMALL[:1], r"EncoderDetector needs at least 2 training samples.*"
                                     r"n_samples=1"),
        ("recommended", {"n_neighbors": 5}, X_SMALL[:5], r"at least 6 training samples"),
        ("historyad", {"estimator": "knn"}, X_SMALL[:5], r"at least 6 training samples"),
        ("knn", {"n_neighbors": 5}, X_SMALL[:5], r"n_neighbors=5.*n_samples=5"),
        ("critic", {}, np.zeros((20, 3, 3)), r"at least 4 steps"),
        ("critic", {"batch_size": 1}, np.zeros((20, 2, 8)), r"batch_size=1 is not allowed for "
                                                            r"series input; use an int >= 2"),
        ("critic", {"device": "tpu"}, X_SMALL, r"device='tpu' is not allowed"),
        ("critic", {"random_state": True}, X_SMALL, r"random_state=True is not allowed"),
    ],
)
def test_every_parameter_and_input_is_checked_before_any_training(
    no_training: None, name: str, params: dict, X: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        get_detector(name)(**params).fit(X)


def test_unavailable_cuda_is_refused_before_training(no_training: None) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match=r"device='cuda' is not available here"):
        get_detector("knn")(device="cuda").fit(X_SMALL)


def test_validation_set_is_checked_before_any_training(no_training: None) -> None:
    det = get_detector("historyad")()
    y = np.r_[np.zeros(5), np.ones(5)]
    with pytest.raises(ValueError, match=r"X_val has 4 features, but HistoryAD is expecting 3"):
        det.fit(X_SMALL, X_val=np.zeros((10, 4)), y_val=y)
    with pytest.raises(ValueError, match=r"y_val must hold one 0/1 label per row of X_val"):
        det.fit(X_SMALL, X_val=np.zeros((10, 3)), y_val=y[:-1])
    with pytest.raises(ValueError, match=r"X_val contains 1 NaN"):
        det.fit(X_SMALL, X_val=np.r_[np.zeros((9, 3)), [[np.nan, 0, 0]]], y_val=y)
    with pytest.raises(ValueError, match="pass both or neither"):
        det.fit(X_SMALL, X_val=np.zeros((10, 3)))


@pytest.fixture(scope="module")
def small_run() -> Any:
    """A tiny GAN trained on X_SMALL with width 8 and a history."""
    from historyad.config import HistoryConfig, NetConfig
    from historyad.training.trainer import train_gan

    return train_gan(X_SMALL, GANConfig(n_epochs=1.0, batch_size=16, min_iterations=0),
                     NetConfig(width=8), HistoryConfig(saves_per_epoch=2, alpha=0.5, beta=3.0))


@pytest.mark.parametrize(
    "name,params,X,match",
    [
        ("critic", {"width": 16}, X_SMALL, r"width 8 .*parameters give 16.*pass width=8"),
        ("historyad", {}, X_SMALL, r"width 8 .*give 128"),
        ("encoder", {"width": 8, "latent_dim": 5}, X_SMALL, r"latent dimension is 2.*"
                                                            r"pass latent_dim=2"),
        ("critic", {"width": 8}, X_SMALL[:, :2], r"per-sample shape \(3,\), but X has \(2,\)"),
        ("historyad", {"width": 8, "alpha": 0.2}, X_SMALL, r"history was recorded with "
                                                           r"alpha=0.5"),
    ],
)
def test_a_shared_gan_that_does_not_fit_is_refused_before_any_training(
    small_run: Any, no_training: None, name: str, params: dict, X: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        get_detector(name).from_gan(small_run, **params).fit(X)


def test_a_shared_gan_that_fits_is_used(small_run: Any) -> None:
    det = get_detector("encoder").from_gan(small_run, width=8, encoder_epochs=0.5,
                                           batch_size=16).fit(X_SMALL)
    assert det.gan_ is small_run
