"""Each plotting function returns a Figure with the expected axes / artists on tiny arrays."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from historyad import plotting

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_samples_2d_panels_reference_and_centres():
    pts = RNG.normal(size=(20, 2))
    fig = plotting.plot_samples_2d({"a": pts, "b": pts}, reference=pts, centres=pts[:3])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].collections) == 3  # reference, samples, centres


def test_samples_2d_grid_drops_unused_axes_and_checks_shape():
    pts = RNG.normal(size=(5, 2))
    fig = plotting.plot_samples_2d([(str(i), pts) for i in range(5)], ncols=3)
    assert len(fig.axes) == 5
    with pytest.raises(ValueError, match="expected \\(N, 2\\)"):
        plotting.plot_samples_2d({"bad": np.zeros(5)})
    with pytest.raises(ValueError, match="panels is empty"):
        plotting.plot_samples_2d({})


def test_sample_histograms():
    x = np.linspace(-3, 3, 11)
    fig = plotting.plot_sample_histograms(
        [("t=1", RNG.normal(size=(30, 1))), ("t=2", RNG.normal(size=30))],
        reference=(x, np.exp(-(x**2) / 2)),
    )
    assert len(fig.axes) == 2
    assert len(fig.axes[0].patches) == 50 and len(fig.axes[0].lines) == 1


def test_density_1d_curves_samples_shade():
    x = np.linspace(-1, 1, 9)
    fig = plotting.plot_density_1d(
        x, {"p": x**2, "q": x}, samples={"s": RNG.normal(size=10)}, shade=x > 0, bins=5
    )
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.lines) == 2 and len(ax.patches) == 5
    with pytest.raises(ValueError, match="curve 'bad'"):
        plotting.plot_density_1d(x, {"bad": np.zeros(3)})


def test_scalar_field_continuous_and_discrete():
    xx, yy = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4))
    fig = plotting.plot_scalar_field_2d(xx, yy, xx * yy, points=RNG.normal(size=(7, 2)))
    assert len(fig.axes) == 2  # field + colour bar
    fig = plotting.plot_scalar_field_2d(xx, yy, (xx > 0).astype(int), discrete=("in", "out"))
    assert len(fig.axes) == 1 and fig.axes[0].get_legend() is not None
    with pytest.raises(ValueError, match="share one"):
        plotting.plot_scalar_field_2d(xx, yy, np.zeros(3))


def test_score_densities_per_detector_and_class():
    labels = np.array([0, 0, 1, 1, 2, 2])
    fig = plotting.plot_score_densities(
        {"a": np.arange(6.0), "b": -np.arange(6.0)}, labels, class_names=["x", "y", "z"], bins=4
    )
    assert len(fig.axes) == 2
    assert len(fig.axes[0].patches) == 3 * 4
    with pytest.raises(ValueError, match="class_names"):
        plotting.plot_score_densities(np.arange(6.0), labels)


def test_training_curves():
    rec = {"gen_iter": [1, 2, 3], "epoch": [0.5, 1, 1.5], "a": [1, 2, 3], "b": [3, 2, 1]}
    fig = plotting.plot_training_curves(rec, smooth=2)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="x='step'"):
        plotting.plot_training_curves(rec, x="step")


def test_image_grid_gray_and_rgb():
    fig = plotting.plot_image_grid(RNG.uniform(-1, 1, size=(5, 1, 4, 4)), nrow=3)
    assert len(fig.axes) == 1 and len(fig.axes[0].images) == 1
    assert fig.axes[0].images[0].get_array().shape == (2 * 5 + 1, 3 * 5 + 1)
    fig = plotting.plot_image_grid(RNG.uniform(-1, 1, size=(2, 3, 4, 4)))
    assert fig.axes[0].images[0].get_array().shape[-1] == 3
    with pytest.raises(ValueError, match="images has shape"):
        plotting.plot_image_grid(np.zeros((2, 4, 4)))


def test_boxplots_bars_and_metric_along_training():
    fig = plotting.plot_boxplots({"a": [0.1, 0.2], "b": [0.3]}, reference={"a": 0.5})
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 1
    recs = [
        {"detector": d, "anomaly": a, "auprc": 0.5}
        for d in ("knn", "critic") for a in ("0", "1", "2")
    ]
    fig = plotting.plot_metric_bars(recs)
    assert len(fig.axes[0].patches) == 6
    fig = plotting.plot_metric_along_training([1, 2, 3], {"x": [0.1, 0.2, 0.3]})
    assert len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="steps has 3"):
        plotting.plot_metric_along_training([1, 2, 3], {"x": [0.1]})
