"""GMRegressor: Gaussian mixture regression against closed forms and scikit-learn.

One component is ordinary least squares (the conditional of a fitted joint
normal); several components are checked against a direct per-row,
per-component NumPy computation written here with explicit inverses.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from gaussmix import GMRegressor
from gaussmix.core.covariance import SKLEARN_GROUP, family_names, get_family
from gaussmix.regression import ConditionalMixtures


def _linear(n: int = 400, seed: int = 0, targets: int = 1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -1.0]
    coef = rng.standard_normal((3, targets))
    Y = X @ coef + 0.5 + 0.3 * rng.standard_normal((n, targets))
    return X, Y


def _two_regimes(n: int = 600, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-3, 1, n // 2), rng.normal(3, 1, n - n // 2)])
    slope = np.where(x < 0, 2.0, -1.0)
    y = slope * x + np.where(x < 0, 1.0, 0.0) + 0.2 * rng.standard_normal(n)
    return x[:, None], y


def _reference_gmr(gm, X, n_in):
    """Per row and component: textbook conditionals with explicit inverses."""
    family = get_family(gm.covariance_type)
    S = family.to_dense(gm.covariances_, gm.n_components, gm.means_.shape[1])
    b, a = slice(0, n_in), slice(n_in, None)
    means, stds = [], []
    for x in X:
        logw, mus, covs = [], [], []
        for w, mu, s in zip(gm.weights_, gm.means_, S, strict=True):
            inv = np.linalg.inv(s[b, b])
            logw.append(np.log(w) + multivariate_normal(mu[b], s[b, b]).logpdf(x))
            mus.append(mu[a] + s[a, b] @ inv @ (x - mu[b]))
            covs.append(s[a, a] - s[a, b] @ inv @ s[b, a])
        w = np.exp(np.array(logw) - logsumexp(logw))
        mus = np.array(mus)
        mean = w @ mus
        var = w @ np.array([np.diag(c) for c in covs]) + w @ (mus - mean) ** 2
        means.append(mean)
        stds.append(np.sqrt(var))
    return np.array(means), np.array(stds)


# ------------------------------------------------------------ closed forms
def test_one_component_is_ordinary_least_squares():
    X, Y = _linear()
    y = Y[:, 0]
    reg = GMRegressor(reg_covar=0.0).fit(X, y)
    ols = LinearRegression().fit(X, y)
    mean, std = reg.predict(X, return_std=True)
    assert mean.shape == (len(X),)
    np.testing.assert_allclose(mean, ols.predict(X), rtol=0, atol=1e-10)
    # The conditional variance of the ML joint normal is the ML residual variance.
    resid = y - ols.predict(X)
    np.testing.assert_allclose(std, np.sqrt(np.mean(resid**2)), rtol=1e-10)
    assert reg.score(X, y) == pytest.approx(ols.score(X, y), abs=1e-12)


def test_multi_output_is_least_squares_per_target():
    X, Y = _linear(targets=2)
    reg = GMRegressor(reg_covar=0.0).fit(X, Y)
    assert reg.n_targets_ == 2
    pred = reg.predict(X)
    assert pred.shape == (len(X), 2)
    np.testing.assert_allclose(
        pred, LinearRegression().fit(X, Y).predict(X), rtol=0, atol=1e-10
    )
    column = GMRegressor(reg_covar=0.0).fit(X, Y[:, :1]).predict(X)
    assert column.shape == (len(X), 1)


def test_linear_gaussian_data_recover_the_true_conditional():
    """Large n: the prediction is near the true regression, std near the noise."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20_000, 2))
    y = 1.5 * X[:, 0] - 0.5 * X[:, 1] + 2.0 + 0.4 * rng.standard_normal(20_000)
    grid = np.array([[0.0, 0.0], [1.0, -1.0], [-2.0, 0.5]])
    mean, std = GMRegressor(random_state=0).fit(X, y).predict(grid, return_std=True)
    np.testing.assert_allclose(mean, grid @ [1.5, -0.5] + 2.0, atol=0.03)
    np.testing.assert_allclose(std, 0.4, atol=0.01)


@pytest.mark.parametrize("covariance_type", family_names(SKLEARN_GROUP))
def test_mixture_prediction_matches_the_per_row_computation(covariance_type):
    X, y = _two_regimes()
    reg = GMRegressor(3, covariance_type=covariance_type, random_state=0).fit(X, y)
    grid = np.linspace(-6, 6, 25)[:, None]
    mean, std = reg.predict(grid, return_std=True)
    ref_mean, ref_std = _reference_gmr(reg.mixture_, grid, 1)
    np.testing.assert_allclose(mean, ref_mean[:, 0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(std, ref_std[:, 0], rtol=1e-10, atol=1e-10)


def test_two_regimes_are_followed():
    X, y = _two_regimes()
    reg = GMRegressor(2, random_state=0).fit(X, y)
    grid = np.array([[-4.0], [-2.0], [2.0], [4.0]])
    truth = np.array([-7.0, -3.0, -2.0, -4.0])
    np.testing.assert_allclose(reg.predict(grid), truth, atol=0.15)


# -------------------------------------------------------------- distribution
def test_predict_distribution_agrees_with_predict_and_condition():
    X, y = _two_regimes()
    reg = GMRegressor(3, random_state=0).fit(X, y)
    grid = np.array([[-3.0], [0.1], [2.5]])
    dist = reg.predict_distribution(grid)
    assert isinstance(dist, ConditionalMixtures)
    assert len(dist) == 3
    mean, std = reg.predict(grid, return_std=True)
    np.testing.assert_allclose(dist.mean()[:, 0], mean, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(np.sqrt(dist.variance()[:, 0]), std, rtol=1e-14)
    np.testing.assert_allclose(dist.weights.sum(axis=1), 1.0, rtol=1e-14)
    points = np.linspace(-8, 4, 7)
    density = dist.log_density(points)
    assert density.shape == (3, 7)
    for i, row in enumerate(dist.to_mixtures()):
        np.testing.assert_allclose(row.weights_, dist.weights[i], rtol=1e-12)
        np.testing.assert_allclose(row.means_, dist.means[i], rtol=1e-12)
        np.testing.assert_allclose(
            density[i], row.score_samples(points[:, None]), rtol=1e-11
        )
    paired = dist.log_density(points[:3], paired=True)
    np.testing.assert_allclose(paired, np.diag(density[:, :3]), rtol=1e-13)
    # The evidence is the marginal density of the inputs.
    np.testing.assert_allclose(
        dist.log_evidence, reg.mixture_.marginal([0]).score_samples(grid), rtol=1e-12
    )


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_sampling_matches_the_moments(covariance_type):
    X, Y = _linear(targets=2)
    Y[:, 1] += np.where(X[:, 0] > 0, 3.0, 0.0)
    reg = GMRegressor(3, covariance_type=covariance_type, random_state=0).fit(X, Y)
    dist = reg.predict_distribution(X[:4])
    draws = dist.sample(20_000, random_state=0)
    assert draws.shape == (4, 20_000, 2)
    se = np.sqrt(dist.variance() / 20_000)
    assert np.all(np.abs(draws.mean(axis=1) - dist.mean()) < 5 * se)
    # The variance within 5 of its standard errors, sqrt((m4 - var^2) / n): a
    # mixture with a light, distant component has heavy tails.
    centred = draws - draws.mean(axis=1, keepdims=True)
    m4 = np.mean(centred**4, axis=1)
    se_var = np.sqrt((m4 - draws.var(axis=1) ** 2) / 20_000)
    assert np.all(np.abs(draws.var(axis=1) - dist.variance()) < 5 * se_var)


def test_log_density_errors():
    X, Y = _linear(targets=2)
    dist = GMRegressor().fit(X, Y).predict_distribution(X[:3])
    with pytest.raises(ValueError, match="2 target column"):
        dist.log_density(np.zeros(5))
    with pytest.raises(ValueError, match="one row per conditional"):
        dist.log_density(np.zeros((5, 2)), paired=True)
    with pytest.raises(ValueError, match="n_samples"):
        dist.sample(0)


# ----------------------------------------------------- scikit-learn protocol
def test_check_estimator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(GMRegressor())


def test_pipeline_grid_search_and_clone():
    X, y = _two_regimes(300)
    X = X * 100.0 + 5.0
    pipe = make_pipeline(StandardScaler(), GMRegressor(random_state=0))
    search = GridSearchCV(pipe, {"gmregressor__n_components": [1, 2]}, cv=3)
    search.fit(X, y)
    assert search.best_params_ == {"gmregressor__n_components": 2}
    assert search.score(X, y) > 0.9
    reg = GMRegressor(2, covariance_type="tied", random_state=3)
    copy = clone(reg)
    assert copy.get_params() == reg.get_params()
    assert not hasattr(copy, "mixture_")


def test_sample_weight_counts_rows():
    X, Y = _linear(60)
    weights = np.arange(60) % 3
    repeated = np.repeat(np.arange(60), weights)
    a = GMRegressor(reg_covar=0.0).fit(X, Y[:, 0], sample_weight=weights)
    b = GMRegressor(reg_covar=0.0).fit(X[repeated], Y[repeated, 0])
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-10, atol=1e-10)


def test_errors():
    X, Y = _linear(50)
    with pytest.raises(NotFittedError):
        GMRegressor().predict(X)
    reg = GMRegressor().fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :2])
    with pytest.raises(ValueError, match="covariance_type"):
        GMRegressor(covariance_type="round").fit(X, Y)


# ------------------------------------------------------------------ gallery
def _example(name):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / name
    spec = importlib.util.spec_from_file_location(f"gallery_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _figures_written(result, text):
    from pathlib import Path

    for figure in result["figures"]:
        path = Path(figure)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
        assert f"figure written to {path}" in text


def test_example_20_gmr_heteroscedastic(tmp_path, capsys):
    r = _example("20_gmr_heteroscedastic.py").main(["--small", "--out", str(tmp_path)])
    _figures_written(r, capsys.readouterr().out)
    assert r["rmse_mean"] < 0.1  # the noise sd is 0.05 to 0.85
    # The band follows the noise: the predicted sd within 30% of the true one,
    # growing from left to right.
    np.testing.assert_allclose(r["probe_std"], r["true_probe_std"], rtol=0.3)
    assert r["probe_std"][-1] > 3 * r["probe_std"][0]
    # Coverage of fresh points, within 4 binomial standard errors.
    n = r["n_samples"]
    for share, p in ((r["inside_1_sigma"], 0.6827), (r["inside_2_sigma"], 0.9545)):
        assert share == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n))


def test_example_21_gmr_inverse_problem(tmp_path, capsys):
    r = _example("21_gmr_inverse_problem.py").main(["--small", "--out", str(tmp_path)])
    _figures_written(r, capsys.readouterr().out)
    assert r["share_three_modes"] > 0.5
    assert np.median(r["mode_gap"]) < 0.03
    # The mean finds one of three solutions; the modes find them all.
    assert r["hit_mean"] < 0.5
    assert r["hit_modes"] > 0.8
    assert r["mixture_lpd"] > r["gauss_lpd"] + 0.5
    # Past the fold the mean lies between the two groups, far from both modes.
    assert len(r["slice_modes"]) == 2
    assert min(abs(m - r["slice_mean"]) for m in r["slice_modes"]) > 0.1


def test_benchmark_runs(capsys):
    bench = _example("../benchmarks/bench_gmr.py")
    result = bench.main(["--rows", "2000", "--repeats", "1"])
    assert "numpy / gaussmix" in capsys.readouterr().out
    assert result["max_difference"] < 1e-10
