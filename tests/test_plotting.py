"""Tests for ``gaussmix.plotting``: the artists drawn, their geometry, and errors."""

import copy
import importlib.util
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.container import BarContainer
from matplotlib.patches import Ellipse
from mpl_toolkits.mplot3d.art3d import Poly3DCollection
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

from gaussmix import GaussianMixture, select
from gaussmix.exceptions import ConvergenceWarning
from gaussmix.plotting import (
    MAX_PAIR_FEATURES,
    NOISE_COLOR,
    covariance_ellipses,
    plot_clusters,
    plot_convergence,
    plot_density_1d,
    plot_density_surface,
    plot_log_density,
    plot_model_selection,
    plot_pairs,
    plot_uncertainty,
)

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    X, y, centers = make_blobs(
        400, centers=4, cluster_std=0.6, random_state=0, return_centers=True
    )
    return X, y, centers


@pytest.fixture(scope="module")
def models(blobs):
    X = blobs[0]
    return {
        ct: GaussianMixture(4, covariance_type=ct, random_state=0).fit(X)
        for ct in COVARIANCE_TYPES
    }


@pytest.fixture(scope="module")
def data_1d():
    rng = np.random.default_rng(0)
    return np.concatenate(
        [rng.normal(-3, 0.7, 300), rng.normal(0.5, 1.0, 500), rng.normal(5, 1.5, 200)]
    )


@pytest.fixture(scope="module")
def frame_3d():
    X, _ = make_blobs(300, n_features=3, centers=3, cluster_std=0.8, random_state=1)
    df = pd.DataFrame(X, columns=["length", "width", "height"])
    return df, GaussianMixture(3, random_state=0).fit(df)


@pytest.fixture(scope="module")
def noise_model(blobs):
    """Blobs with 40 uniform outliers; mclust's VEV model with a noise component."""
    X = blobs[0]
    rng = np.random.default_rng(3)
    outliers = rng.uniform(X.min(axis=0) - 2, X.max(axis=0) + 2, size=(40, 2))
    Xn = np.vstack([X, outliers])
    gm = GaussianMixture(4, covariance_type="VEV", init_params="hc", noise=True)
    gm.fit(Xn)
    labels = gm.predict(Xn)
    assert 0 < np.sum(labels == -1) < 100  # some noise, not all
    return Xn, gm, labels


GREY = np.asarray(matplotlib.colors.to_rgb(NOISE_COLOR))


def is_grey(faces):
    """Which rows of an (n, 3+) colour array are the noise colour."""
    return np.all(np.isclose(np.asarray(faces)[:, :3], GREY), axis=1)


@pytest.fixture(scope="module")
def selection_table(blobs):
    _, table = select(
        blobs[0],
        range(1, 6),
        "sklearn",
        random_state=0,
        init_params="k-means++",
        n_jobs=1,
    )
    return table


def save_png(fig, path):
    """Render ``fig`` to ``path`` and check it is a real, non-trivial PNG."""
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG_HEADER
    assert len(data) > 5_000
    plt.close(fig)


def inside(patch, points):
    """Whether each point lies inside the drawn ellipse ``patch`` (data coords)."""
    unit = patch.get_patch_transform().inverted().transform(points)
    return np.hypot(unit[:, 0], unit[:, 1]) <= 1.0


def dense_covariance(gm, k):
    """Component ``k``'s 2 x 2 covariance, built from sklearn's documented shapes."""
    c = np.asarray(gm.covariances_)
    return {
        "full": lambda: c[k],
        "tied": lambda: c,
        "diag": lambda: np.diag(c[k]),
        "spherical": lambda: c[k] * np.eye(2),
    }[gm.covariance_type]()


# ---------------------------------------------------------------- clusters
class TestPlotClusters:
    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_ellipses_per_component_and_sigma(
        self, covariance_type, models, blobs, tmp_path
    ):
        X, _, centers = blobs
        gm = models[covariance_type]
        drawn = plot_clusters(gm, X, n_std=(1.0, 2.0))
        assert set(drawn) == {"ax", "scatter", "ellipses", "means", "legend"}
        assert drawn["legend"] is None  # no noise component, no legend
        assert len(drawn["ellipses"]) == 4 * 2
        assert all(isinstance(e, Ellipse) for e in drawn["ellipses"])
        np.testing.assert_array_equal(drawn["scatter"].get_offsets(), X)
        np.testing.assert_allclose(drawn["means"].get_xdata(), gm.means_[:, 0])
        # Every true blob centre has an ellipse centred within 0.25 of it.
        ellipse_centres = np.array([e.center for e in drawn["ellipses"]])
        dist = np.linalg.norm(ellipse_centres[:, None] - centers[None], axis=2)
        assert dist.min(axis=0).max() < 0.25
        assert drawn["ax"].get_xlabel() == "feature 0"
        assert drawn["ax"].get_ylabel() == "feature 1"
        save_png(drawn["ax"].figure, tmp_path / f"clusters_{covariance_type}.png")

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_drawn_ellipses_are_mahalanobis_contours(
        self, covariance_type, models, blobs
    ):
        """The s-sigma ellipse is the set at Mahalanobis distance s from the mean."""
        gm = models[covariance_type]
        drawn = plot_clusters(gm, blobs[0], n_std=(1.0, 2.5))
        angles = np.linspace(0, 2 * np.pi, 13)
        circle = np.column_stack([np.cos(angles), np.sin(angles)])
        for k in range(4):
            cov = dense_covariance(gm, k)
            root = np.linalg.cholesky(cov)
            for s, patch in zip(
                (1.0, 2.5), drawn["ellipses"][2 * k : 2 * k + 2], strict=True
            ):
                boundary = gm.means_[k] + s * circle @ root.T
                unit = patch.get_patch_transform().inverted().transform(boundary)
                np.testing.assert_allclose(np.hypot(*unit.T), 1.0, rtol=1e-9)

    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_drawn_ellipses_hold_the_gaussian_fraction(
        self, covariance_type, models, blobs
    ):
        """1- and 2-sigma ellipses hold 1 - exp(-s^2 / 2) of their clusters' points."""
        X, _, _ = blobs
        gm = models[covariance_type]
        drawn = plot_clusters(gm, X, n_std=(1.0, 2.0))
        labels = gm.predict(X)
        for j, s in enumerate((1.0, 2.0)):
            n_inside = sum(
                inside(drawn["ellipses"][2 * k + j], X[labels == k]).sum()
                for k in range(4)
            )
            # 400 fixed points: the binomial spread is about 0.02.
            assert n_inside / len(X) == pytest.approx(1 - np.exp(-s * s / 2), abs=0.025)

    def test_default_three_sigma_levels(self, models, blobs):
        drawn = plot_clusters(models["full"], blobs[0])
        assert len(drawn["ellipses"]) == 4 * 3
        widths = [e.width for e in drawn["ellipses"][:3]]
        np.testing.assert_allclose(widths, np.array([1, 2, 3]) * widths[0])

    def test_a_huge_component_does_not_squeeze_the_data(self, models, blobs):
        X = blobs[0]
        gm = copy.deepcopy(models["full"])
        gm.covariances_ = gm.covariances_.copy()
        gm.covariances_[0] *= 400.0
        fig, ax = plt.subplots()
        plot_clusters(gm, X, ax=ax)
        fig.canvas.draw()  # the final limits
        span = X.max(axis=0) - X.min(axis=0)
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        assert x0 >= X[:, 0].min() - 0.4 * span[0]
        assert x1 <= X[:, 0].max() + 0.4 * span[0]
        assert y0 >= X[:, 1].min() - 0.4 * span[1]
        assert y1 <= X[:, 1].max() + 0.4 * span[1]

    def test_equal_aspect_only_on_its_own_figure_and_similar_scales(
        self, models, blobs
    ):
        X = blobs[0]
        gm = models["spherical"]
        assert plot_clusters(gm, X)["ax"].get_aspect() == 1.0
        assert plot_uncertainty(gm, X)["ax"].get_aspect() == 1.0
        _, ax = plt.subplots()
        assert plot_clusters(gm, X, ax=ax)["ax"].get_aspect() == "auto"
        stretched = X * [1.0, 100.0]
        gm2 = GaussianMixture(4, covariance_type="diag", random_state=0).fit(stretched)
        assert plot_clusters(gm2, stretched)["ax"].get_aspect() == "auto"

    def test_dataframe_labels_and_column_order(self, blobs, tmp_path):
        X = blobs[0]
        df = pd.DataFrame(X, columns=["x_mm", "y_mm"])
        gm = GaussianMixture(4, random_state=0).fit(df)
        drawn = plot_clusters(gm, df[["y_mm", "x_mm"]], dims=("x_mm", "y_mm"))
        assert drawn["ax"].get_xlabel() == "x_mm"
        assert drawn["ax"].get_ylabel() == "y_mm"
        np.testing.assert_array_equal(drawn["scatter"].get_offsets(), X)
        save_png(drawn["ax"].figure, tmp_path / "df.png")

    def test_many_components_get_distinct_colours(self, blobs):
        gm = GaussianMixture(12, random_state=0, max_iter=20).fit(blobs[0])
        drawn = plot_clusters(gm, blobs[0], n_std=(1.0,))
        colours = {tuple(e.get_edgecolor()[:3]) for e in drawn["ellipses"]}
        assert len(colours) == 12

    def test_wide_model_draws_the_pairs_grid(self, frame_3d, tmp_path):
        df, gm = frame_3d
        drawn = plot_clusters(gm, df)
        assert set(drawn) == {"fig", "axes", "ellipses", "scatters", "legend"}
        assert drawn["axes"].shape == (3, 3)
        fig, ax = plt.subplots()
        drawn = plot_clusters(gm, df, ax=ax)
        assert drawn["fig"] is fig
        assert ax not in fig.axes
        save_png(fig, tmp_path / "pairs_on_ax.png")

    def test_wide_model_with_crowded_ax_is_refused(self, frame_3d):
        df, gm = frame_3d
        _, (ax, _) = plt.subplots(1, 2)
        with pytest.raises(ValueError, match="pass dims"):
            plot_clusters(gm, df, ax=ax)

    def test_explicit_dims_on_a_wide_model(self, frame_3d):
        df, gm = frame_3d
        drawn = plot_clusters(gm, df, dims=(2, 0))
        assert drawn["ax"].get_xlabel() == "height"
        assert drawn["ax"].get_ylabel() == "length"
        np.testing.assert_array_equal(
            drawn["scatter"].get_offsets(), df[["height", "length"]].to_numpy()
        )

    def test_noise_points_have_their_own_colour_and_legend(self, noise_model):
        """Label -1 is grey with a legend entry, never the last component's colour."""
        X, gm, labels = noise_model
        drawn = plot_clusters(gm, X)
        faces = drawn["scatter"].get_facecolors()
        assert np.all(is_grey(faces[labels == -1]))
        assert not np.any(is_grey(faces[labels >= 0]))
        assert len({tuple(c) for c in faces[labels >= 0].round(6)}) == 4
        texts = [t.get_text() for t in drawn["legend"].get_texts()]
        assert texts == [
            "component 0",
            "component 1",
            "component 2",
            "component 3",
            f"noise ({np.sum(labels == -1)} points)",
        ]

    def test_features_choose_the_pairs_grid(self):
        """The hint for wide models names an argument plot_clusters accepts."""
        X = np.random.default_rng(0).normal(size=(80, 13))
        gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
        with pytest.raises(ValueError) as info:
            plot_clusters(gm, X)
        message = str(info.value)
        assert message.startswith("plot_clusters: the model has 13 features")
        assert "plot_clusters(model, X, features=[...])" in message
        drawn = plot_clusters(gm, X, features=[0, 12, 5])
        assert drawn["axes"].shape == (3, 3)
        assert [a.get_xlabel() for a in drawn["axes"][-1]] == [
            "feature 0",
            "feature 12",
            "feature 5",
        ]
        with pytest.raises(ValueError, match="not both"):
            plot_clusters(gm, X, dims=(0, 1), features=[0, 1])

    def test_covariance_ellipses_by_name(self, frame_3d):
        _, gm = frame_3d
        by_name = covariance_ellipses(gm, ("width", "height"))
        by_index = covariance_ellipses(gm, (1, 2))
        for a, b in zip(by_name, by_index, strict=True):
            np.testing.assert_allclose(a[0], b[0])
            assert a[1:] == pytest.approx(b[1:], rel=1e-12)


# ---------------------------------------------------------------- pairs
def _twin_of(ax):
    fig = ax.figure
    return next(
        a
        for a in fig.axes
        if a is not ax and a.get_position().bounds == ax.get_position().bounds
    )


class TestPlotPairs:
    def test_grid_counts_labels_and_png(self, frame_3d, tmp_path):
        df, gm = frame_3d
        drawn = plot_pairs(gm, df, n_std=(1.0, 2.0))
        axes = drawn["axes"]
        assert axes.shape == (3, 3)
        assert len(drawn["scatters"]) == 6
        assert len(drawn["ellipses"]) == 6 * 3 * 2
        assert [a.get_xlabel() for a in axes[-1]] == ["length", "width", "height"]
        assert [a.get_ylabel() for a in axes[:, 0]] == ["length", "width", "height"]
        # Panel (0, 1): x = width, y = length.
        np.testing.assert_array_equal(
            drawn["scatters"][0].get_offsets(), df[["width", "length"]].to_numpy()
        )
        save_png(drawn["fig"], tmp_path / "pairs.png")

    def test_diagonal_is_the_marginal_mixture_density(self, frame_3d):
        df, gm = frame_3d
        axes = plot_pairs(gm, df)["axes"]
        for d in range(3):
            twin = _twin_of(axes[d, d])
            lines = twin.get_lines()
            assert len(lines) == 3 + 1
            mixture = lines[-1].get_ydata()
            components = np.array([line.get_ydata() for line in lines[:-1]])
            np.testing.assert_allclose(components.sum(axis=0), mixture, rtol=1e-12)
            x = lines[-1].get_xdata()
            # Well-separated blobs: the data range holds nearly all the mass.
            assert np.trapezoid(mixture, x) == pytest.approx(1.0, abs=0.02)
            heights = [p.get_height() * p.get_width() for p in twin.patches]
            assert sum(heights) == pytest.approx(1.0, rel=1e-9)

    def test_feature_subset_in_order(self, frame_3d):
        df, gm = frame_3d
        axes = plot_pairs(gm, df, features=["height", "length"])["axes"]
        assert axes.shape == (2, 2)
        assert [a.get_xlabel() for a in axes[-1]] == ["height", "length"]

    def test_too_many_features_needs_a_choice(self):
        X = np.random.default_rng(0).normal(size=(60, MAX_PAIR_FEATURES + 1))
        gm = GaussianMixture(1, covariance_type="diag").fit(X)
        with pytest.raises(ValueError, match="features="):
            plot_pairs(gm, X)
        assert plot_pairs(gm, X, features=[0, 5])["axes"].shape == (2, 2)

    def test_noise_points_are_grey_in_every_panel(self, noise_model):
        X, gm, labels = noise_model
        drawn = plot_pairs(gm, X)
        for scatter in drawn["scatters"]:
            faces = scatter.get_facecolors()
            assert np.all(is_grey(faces[labels == -1]))
            assert not np.any(is_grey(faces[labels >= 0]))
        assert drawn["legend"].get_texts()[-1].get_text().startswith("noise (")

    def test_bad_features_and_busy_figure(self, frame_3d):
        df, gm = frame_3d
        with pytest.raises(ValueError, match="distinct"):
            plot_pairs(gm, df, features=[0, 0])
        with pytest.raises(ValueError, match="unknown feature 'depth'"):
            plot_pairs(gm, df, features=["depth"])
        fig, _ = plt.subplots()
        with pytest.raises(ValueError, match="fig must be empty"):
            plot_pairs(gm, df, fig=fig)


# ---------------------------------------------------------------- uncertainty
class TestPlotUncertainty:
    def test_uncertainty_and_sizes(self, models, blobs, tmp_path):
        X = blobs[0]
        gm = models["full"]
        drawn = plot_uncertainty(gm, X)
        assert set(drawn) == {"ax", "scatter", "ellipses", "uncertainty"}
        expected = 1.0 - gm.predict_proba(X).max(axis=1)
        np.testing.assert_allclose(drawn["uncertainty"], expected, atol=1e-12)
        assert drawn["uncertainty"].max() > 0.1  # some points near a boundary
        sizes = drawn["scatter"].get_sizes()
        order = np.argsort(drawn["uncertainty"])
        assert np.all(np.diff(sizes[order]) >= 0)
        assert sizes.max() > 5 * sizes.min()
        assert len(drawn["ellipses"]) == 4 * 2
        np.testing.assert_array_equal(drawn["scatter"].get_offsets(), X)
        labels = gm.predict(X)
        colours = drawn["scatter"].get_facecolors()[:, :3]
        for k in range(4):
            assert len({tuple(c) for c in colours[labels == k]}) == 1
        save_png(drawn["ax"].figure, tmp_path / "uncertainty.png")

    def test_one_feature_model_is_refused(self, data_1d):
        gm = GaussianMixture(2, random_state=0).fit(data_1d[:, None])
        with pytest.raises(ValueError, match="at least 2 features"):
            plot_uncertainty(gm, data_1d[:, None])

    def test_noise_model(self, noise_model, tmp_path):
        """The noise column of predict_proba is a class of its own (grey)."""
        X, gm, labels = noise_model
        drawn = plot_uncertainty(gm, X)
        proba = gm.predict_proba(X)
        np.testing.assert_allclose(drawn["uncertainty"], 1 - proba.max(axis=1))
        faces = drawn["scatter"].get_facecolors()
        assert np.all(is_grey(faces[labels == -1]))
        assert not np.any(is_grey(faces[labels >= 0]))
        save_png(drawn["ax"].figure, tmp_path / "uncertainty_noise.png")


# ---------------------------------------------------------------- 1-D density
class TestPlotDensity1D:
    @pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
    def test_components_sum_to_the_mixture(self, covariance_type, data_1d, tmp_path):
        gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
        gm.fit(data_1d[:, None])
        drawn = plot_density_1d(gm, data_1d, n_points=500)
        grid = drawn["grid"]
        assert grid.shape == (500,)
        mixture = drawn["mixture_density"]
        comps = drawn["component_densities"]
        assert comps.shape == (3, 500)
        np.testing.assert_allclose(comps.sum(axis=0), mixture, rtol=1e-10, atol=0)
        np.testing.assert_allclose(
            mixture, np.exp(gm.score_samples(grid[:, None])), rtol=1e-12
        )
        np.testing.assert_allclose(drawn["mixture"].get_ydata(), mixture)
        assert len(drawn["components"]) == 3
        for line, comp in zip(drawn["components"], comps, strict=True):
            np.testing.assert_allclose(line.get_ydata(), comp)
        # Each weighted component integrates to its weight, the mixture to 1.
        np.testing.assert_allclose(np.trapezoid(comps, grid), gm.weights_, atol=1e-3)
        assert isinstance(drawn["hist"], BarContainer)
        area = sum(p.get_height() * p.get_width() for p in drawn["hist"])
        assert area == pytest.approx(1.0, rel=1e-9)
        assert drawn["ax"].get_xlabel() == "feature 0"
        assert drawn["ax"].get_ylabel() == "density"
        save_png(drawn["ax"].figure, tmp_path / "density.png")

    def test_components_are_drawn_over_the_mixture(self, data_1d):
        """A component that makes the whole density is not hidden by the mixture."""
        gm = GaussianMixture(3, random_state=0).fit(data_1d[:, None])
        drawn = plot_density_1d(gm, data_1d)
        mixture = drawn["mixture"]
        for line in drawn["components"]:
            assert line.get_zorder() > mixture.get_zorder()
            assert line.get_linewidth() < mixture.get_linewidth()
        assert mixture.get_alpha() < 1
        assert drawn["noise"] is None

    def test_noise_component(self, data_1d):
        """With noise, the components and the noise's constant sum to the mixture."""
        rng = np.random.default_rng(0)
        x = np.concatenate([data_1d, rng.uniform(-12, 14, 60)])
        gm = GaussianMixture(3, noise=True, random_state=0).fit(x[:, None])
        drawn = plot_density_1d(gm, x)
        level = gm.noise_weight_ * np.exp(gm.noise_log_density_)
        np.testing.assert_allclose(drawn["noise"].get_ydata(), level)
        np.testing.assert_allclose(
            drawn["component_densities"].sum(axis=0) + level,
            drawn["mixture_density"],
            rtol=1e-10,
        )
        assert drawn["noise"].get_label().startswith("noise (weight")

    def test_without_data_and_with_a_frame(self, data_1d):
        df = pd.DataFrame({"height_cm": data_1d})
        gm = GaussianMixture(3, random_state=0).fit(df)
        drawn = plot_density_1d(gm)
        assert drawn["hist"] is None
        assert drawn["ax"].get_xlabel() == "height_cm"
        drawn = plot_density_1d(gm, df, bins=30)
        assert len(drawn["hist"]) == 30

    def test_two_feature_model_is_refused(self, models, blobs):
        with pytest.raises(
            ValueError, match="fitted on 1 feature, but this model has 2"
        ):
            plot_density_1d(models["full"], blobs[0])

    def test_bad_n_points(self, data_1d):
        gm = GaussianMixture(1).fit(data_1d[:, None])
        with pytest.raises(ValueError, match="n_points must be at least 2"):
            plot_density_1d(gm, n_points=1)


# ---------------------------------------------------------------- 2-D density
class TestPlotLogDensity:
    def test_contours_colorbar_and_points(self, models, blobs, tmp_path):
        X = blobs[0]
        gm = models["full"]
        drawn = plot_log_density(gm, X, grid=60, levels=12)
        assert set(drawn) == {"ax", "contourf", "colorbar", "scatter"}
        levels = drawn["contourf"].levels
        assert 8 <= len(levels) <= 16
        peak = gm.score_samples(gm.means_).max()
        assert levels[-1] >= peak
        assert levels[-1] - peak < levels[-1] - levels[-2]
        assert drawn["colorbar"].ax.get_ylabel() == "log density"
        np.testing.assert_array_equal(drawn["scatter"].get_offsets(), X)
        x0, x1 = drawn["ax"].get_xlim()
        assert x0 <= X[:, 0].min()
        assert x1 >= X[:, 0].max()
        save_png(drawn["ax"].figure, tmp_path / "logdens.png")

    def test_without_points(self, models):
        assert plot_log_density(models["diag"], grid=30)["scatter"] is None

    def test_three_feature_model_is_refused(self, frame_3d):
        with pytest.raises(ValueError, match="2 features, but this model has 3"):
            plot_log_density(frame_3d[1])


class TestPlotDensitySurface:
    def test_surface(self, models, tmp_path):
        gm = models["tied"]
        drawn = plot_density_surface(gm, grid=30)
        assert drawn["ax"].name == "3d"
        assert isinstance(drawn["surface"], Poly3DCollection)
        # One face per grid cell, coloured by its density.
        faces = drawn["surface"].get_array()
        assert faces.shape == (29 * 29,)
        zmax = np.exp(gm.score_samples(gm.means_)).max()
        assert faces.max() == pytest.approx(zmax, rel=0.1)
        assert faces.min() >= 0.0
        assert drawn["ax"].get_zlim()[1] >= 0.9 * zmax
        assert drawn["ax"].get_zlabel() == "density"
        save_png(drawn["ax"].figure, tmp_path / "surface.png")

    def test_flat_axes_are_refused(self, models):
        _, ax = plt.subplots()
        with pytest.raises(ValueError, match="3-D Axes"):
            plot_density_surface(models["full"], ax=ax)


# ---------------------------------------------------------------- selection
class TestPlotModelSelection:
    @pytest.mark.parametrize("as_array", [False, True], ids=["frame", "structured"])
    def test_lines_and_best(self, selection_table, as_array, tmp_path):
        table = selection_table
        if as_array:
            table = table.to_records(index=False)
        drawn = plot_model_selection(table, criteria=("bic", "aic", "icl"))
        assert len(drawn["axes"]) == 3
        ks = np.asarray(table["n_components"])
        types = np.asarray(table["covariance_type"]).astype(str)
        for ax, crit in zip(drawn["axes"], ("bic", "aic", "icl"), strict=True):
            assert ax.get_ylabel() == f"{crit.upper()} (lower is better)"
            assert ax.get_xlabel() == "number of components"
            values = np.asarray(table[crit], dtype=float)
            assert set(drawn["lines"][crit]) == set(COVARIANCE_TYPES)
            for t, line in drawn["lines"][crit].items():
                np.testing.assert_array_equal(line.get_xdata(), ks[types == t])
                np.testing.assert_allclose(line.get_ydata(), values[types == t])
            best = int(np.argmin(values))
            star = drawn["best"][crit]
            assert star.get_xdata()[0] == ks[best]
            assert star.get_ydata()[0] == values[best]
        save_png(drawn["fig"], tmp_path / f"selection_{as_array}.png")

    def test_failed_fits_are_skipped(self, selection_table):
        table = selection_table.copy()
        best = int(np.argmin(table["bic"]))
        table.loc[best, ["bic", "aic", "icl"]] = np.nan
        table.loc[best, "error"] = "collapsed"
        drawn = plot_model_selection(table, criteria="bic")
        t = table.loc[best, "covariance_type"]
        xs = drawn["lines"]["bic"][t].get_xdata()
        assert table.loc[best, "n_components"] not in xs
        assert np.all(np.isfinite(drawn["lines"]["bic"][t].get_ydata()))
        second = int(np.nanargmin(np.asarray(table["bic"], dtype=float)))
        assert drawn["best"]["bic"].get_ydata()[0] == table.loc[second, "bic"]

    def test_legend_is_outside_the_axes(self, selection_table):
        drawn = plot_model_selection(selection_table, criteria=("bic", "aic"))
        fig = drawn["fig"]
        fig.canvas.draw()
        legend = drawn["legend"].get_window_extent()
        for ax in drawn["axes"]:
            box = ax.get_window_extent()
            assert legend.x0 >= box.x1 or legend.x1 <= box.x0  # no overlap
        assert drawn["axes"][-1].get_legend() is drawn["legend"]
        assert drawn["axes"][0].get_legend() is None

    def test_very_poor_fits_are_clipped_and_said(self, selection_table):
        """Two terrible models do not squash the curves of the good ones."""
        table = selection_table.copy()
        ks = sorted(set(table["n_components"]))
        bad = pd.DataFrame(
            {
                "n_components": ks * 2,
                "covariance_type": ["EII"] * len(ks) + ["VII"] * len(ks),
                "bic": np.concatenate([[1e5] * len(ks), [2e5] * len(ks)]),
            }
        )
        table = pd.concat([table, bad], ignore_index=True)
        drawn = plot_model_selection(table, criteria="bic")
        ax = drawn["axes"][0]
        lo, hi = ax.get_ylim()
        good = table.loc[table["bic"] < 1e5, "bic"]
        assert hi < 1e5
        assert lo <= good.min()
        assert hi >= good.quantile(0.5)
        assert drawn["clipped"]["bic"] == int(np.sum(table["bic"] > hi))
        assert drawn["clipped"]["bic"] >= 2 * len(ks)
        assert "y-axis clipped" in ax.get_title()
        assert "EII" in ax.get_title()
        assert "VII" in ax.get_title()
        # Every line is still drawn in full (the clipping is only the view).
        np.testing.assert_allclose(drawn["lines"]["bic"]["EII"].get_ydata(), 1e5)

    def test_nothing_is_clipped_when_no_fit_stands_out(self):
        ks = np.repeat(np.arange(1, 6), 2)
        table = pd.DataFrame(
            {
                "n_components": ks,
                "covariance_type": ["full", "diag"] * 5,
                "bic": 100.0 + (ks - 3.0) ** 2 + np.tile([0.0, 1.0], 5),
            }
        )
        drawn = plot_model_selection(table, criteria="bic")
        assert drawn["clipped"] == {"bic": 0}
        assert drawn["axes"][0].get_title() == ""
        assert drawn["axes"][0].get_ylim()[1] >= table["bic"].max()

    def test_bad_inputs(self, selection_table):
        with pytest.raises(ValueError, match="criteria must be some of"):
            plot_model_selection(selection_table, criteria=("bick",))
        failed = selection_table.copy()
        failed["bic"] = np.nan
        with pytest.raises(ValueError, match="every fit failed"):
            plot_model_selection(failed, criteria="bic")
        with pytest.raises(ValueError, match="no column 'n_components'"):
            plot_model_selection(pd.DataFrame({"bic": [1.0]}))


# ---------------------------------------------------------------- convergence
class TestPlotConvergence:
    def test_trace(self, blobs, tmp_path):
        gm = GaussianMixture(4, init_params="random", random_state=0).fit(blobs[0])
        drawn = plot_convergence(gm)
        line = drawn["line"]
        np.testing.assert_allclose(line.get_ydata(), gm.lower_bounds_)
        np.testing.assert_array_equal(
            line.get_xdata(), np.arange(1, len(gm.lower_bounds_) + 1)
        )
        ax = drawn["ax"]
        assert ax.get_xlabel() == "EM iteration"
        assert ax.get_ylabel() == "mean log-likelihood"
        assert ax.get_title() == f"EM converged after {gm.n_iter_} iterations"
        save_png(ax.figure, tmp_path / "conv.png")

    def test_not_converged_title(self, blobs):
        gm = GaussianMixture(4, init_params="random", max_iter=1, random_state=0)
        with pytest.warns(ConvergenceWarning):
            gm.fit(blobs[0])
        title = plot_convergence(gm)["ax"].get_title()
        assert title == "EM NOT converged after 1 iteration (max_iter=1)"


# ---------------------------------------------------------------- errors
UNFITTED_CALLS = {
    "covariance_ellipses": lambda m, X: covariance_ellipses(m),
    "plot_clusters": lambda m, X: plot_clusters(m, X),
    "plot_pairs": lambda m, X: plot_pairs(m, X),
    "plot_uncertainty": lambda m, X: plot_uncertainty(m, X),
    "plot_density_1d": lambda m, X: plot_density_1d(m),
    "plot_log_density": lambda m, X: plot_log_density(m),
    "plot_density_surface": lambda m, X: plot_density_surface(m),
    "plot_convergence": lambda m, X: plot_convergence(m),
}


class TestErrors:
    @pytest.mark.parametrize("name", sorted(UNFITTED_CALLS))
    def test_unfitted_model(self, name, blobs):
        with pytest.raises(NotFittedError):
            UNFITTED_CALLS[name](GaussianMixture(2), blobs[0])

    def test_one_feature_model_in_a_cluster_plot(self, data_1d):
        gm = GaussianMixture(2, random_state=0).fit(data_1d[:, None])
        with pytest.raises(ValueError, match="plot_density_1d"):
            plot_clusters(gm, data_1d[:, None])

    def test_wrong_number_of_columns(self, models, frame_3d):
        with pytest.raises(ValueError, match="fitted on 2 features"):
            plot_clusters(models["full"], frame_3d[0].to_numpy())

    def test_missing_frame_column(self, frame_3d):
        df, gm = frame_3d
        with pytest.raises(ValueError, match="lacks the column"):
            plot_pairs(gm, df.drop(columns="width"))

    def test_nan_rows(self, models, blobs):
        X = blobs[0].copy()
        X[[3, 7], 1] = np.nan
        with pytest.raises(ValueError, match="NaN or infinite values in 2 row"):
            plot_clusters(models["full"], X)

    @pytest.mark.parametrize(
        ("dims", "match"),
        [((0, 0), "two different"), ((0, 2), "out of range"), ((0,), "a pair")],
    )
    def test_bad_dims(self, models, blobs, dims, match):
        with pytest.raises(ValueError, match=match):
            plot_clusters(models["full"], blobs[0], dims=dims)

    @pytest.mark.parametrize("n_std", [(), (1.0, -2.0), (np.nan,)])
    def test_bad_n_std(self, models, blobs, n_std):
        with pytest.raises(ValueError, match="n_std must be positive"):
            plot_clusters(models["full"], blobs[0], n_std=n_std)

    def test_missing_matplotlib(self, models, monkeypatch):
        monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
        with pytest.raises(ImportError, match=r"pip install 'gaussmix\[plot\]'"):
            plot_convergence(models["full"])


# ---------------------------------------------------------------- gallery 04
def test_example_04_numbers_components_as_its_legend(tmp_path, capsys):
    """The printed table and the density figure's legend use the same numbers."""
    path = Path(__file__).resolve().parents[1] / "examples" / "04_one_dimension.py"
    spec = importlib.util.spec_from_file_location("gallery_04_plotting", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--small", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    table = text.split("component   weight (true)")[1].splitlines()[1:4]
    printed = {int(row.split()[0]): float(row.split()[1]) for row in table}
    legend = {}
    for label in result["legend_labels"]:
        if label.startswith("component "):
            k, weight = label.removeprefix("component ").split(" (weight ")
            legend[int(k)] = float(weight.rstrip(")"))
    assert sorted(printed) == sorted(legend) == [0, 1, 2]
    for k, weight in printed.items():
        assert weight == pytest.approx(legend[k], abs=0.006)
