"""gaussmix.density: the CDF, quantiles and highest-density regions of a mixture.

Against R's mclust (``cdfMclust``, ``quantileMclust`` and ``hdrlevels`` on a
``densityMclust`` fit), replayed from ``tests/references/mclust/``, after checking
that both sides fitted the same model (log-likelihoods within 1e-6 relative);
then properties that need no R: monotone CDF in [0, 1], quantile and CDF
inverse to each other, agreement with numerical integration of the density,
the meaning of a level (the mass it encloses), the plots and the errors.

Which parameters are compared. For one feature mclust's EM (``meE``, ``meV``)
returns, like gaussmix and scikit-learn, the parameters of one more M-step
than its last log-likelihood, so with mclust's default control the two fits
are the same numbers (cdf within 5e-15). Its multivariate EM returns the
parameters of its last log-likelihood, one M-step behind gaussmix's (faithful,
VVV, 2 components: densities 6e-3 apart with equal log-likelihoods), so the
multivariate cases and scikit-learn's names (whose EM control differs from
mclust's) run both sides to EM's fixed point (``tol`` 0, 300 iterations), where
the two coincide.
"""

import importlib.util
import math
import sys
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.exceptions import NotFittedError

from gaussmix import GaussianMixture
from gaussmix.density import PLOT_DRAWS, cdf, hdr_levels, plot_hdr, quantile

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]

#: Probabilities asked of quantileMclust (0 and 1 are tested without R: R's
#: -Inf and Inf travel as JSON null).
P = np.array([1e-10, 1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1 - 1e-10])
#: Probabilities asked of hdrlevels.
PROB = np.array([0.05, 0.25, 0.5, 0.75, 0.95, 0.99])

#: Agreement with mclust (the issue's tolerances): CDF and quantiles absolute,
#: HDR levels relative, fits' log-likelihoods relative.
CDF_ATOL = 1e-8
QUANTILE_ATOL = 1e-8
HDR_RTOL = 1e-8
LOGLIK_RTOL = 1e-6
#: HDR levels of fits run to EM's fixed point: mclust stops when the
#: log-likelihood no longer changes at all, which it stops doing while the
#: parameters still move by about 4e-10 (faithful, V), so densities in the
#: tails (the 99% level) agree to 1.1e-8 relative only.
HDR_RTOL_CONVERGED = 1e-7

#: EM run to its fixed point on both sides (see the module docstring).
R_CONVERGED = ", control = emControl(tol = c(0, 1e-10), itmax = c(300, 300))"
GM_CONVERGED = {"tol": 0.0, "max_iter": 300, "reg_covar": 0.0, "init_params": "hc"}

R_ONE_FEATURE = (
    "d <- densityMclust(x, G = {G}, modelNames = '{model}', verbose = FALSE, "
    "plot = FALSE{control})\n"
    "cd <- cdfMclust(d, pts)\n"
    "emit(list(loglik = d$loglik, cdf_x = cd$x, cdf_y = cd$y, "
    "q = quantileMclust(d, p), hdr = as.vector(hdrlevels(d$density, prob))))\n"
)
R_HDR = (
    "d <- densityMclust(X, G = {G}, modelNames = '{model}', verbose = FALSE, "
    "plot = FALSE{control})\n"
    "emit(list(loglik = d$loglik, hdr = as.vector(hdrlevels(d$density, prob))))\n"
)


def _fit(X, n_components, covariance_type, **params):
    with warnings.catch_warnings():
        # tol=0 runs every iteration and warns that EM did not converge.
        warnings.simplefilter("ignore")
        return GaussianMixture(
            n_components, covariance_type=covariance_type, **params
        ).fit(X)


def _sf(gm, x):
    """``1 - F(x)`` from the fitted arrays, by SciPy (independent of the module)."""
    means = gm.means_.ravel()
    sds = np.sqrt(gm.fitted_model().family.to_dense(gm.covariances_, len(means), 1))
    return float(gm.weights_ @ stats.norm.sf(x, means, sds.ravel()))


# ------------------------------------------------------------- against mclust
#: (data set, column, K, mclust model, gaussmix covariance_type, converged).
ONE_FEATURE_CASES = [
    ("faithful", 0, 2, "V", "V", False),  # eruptions
    ("faithful", 1, 2, "E", "E", False),  # waiting
    ("iris", 2, 3, "V", "V", False),  # Petal.Length
    ("iris", 0, 2, "E", "E", False),  # Sepal.Length
    ("diabetes", 0, 3, "V", "V", False),  # glucose
    # scikit-learn's names: the same models (full = diag = spherical = V and
    # tied = E with one feature), their own storage shapes.
    ("faithful", 0, 2, "V", "full", True),
    ("faithful", 0, 2, "V", "diag", True),
    ("faithful", 0, 2, "V", "spherical", True),
    ("faithful", 1, 2, "E", "tied", True),
]


@pytest.fixture(
    scope="module",
    params=ONE_FEATURE_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[4]}{c[2]}" for c in ONE_FEATURE_CASES],
)
def one_feature(request, mclust):
    name, column, k, model, covariance_type, converged = request.param
    x = mclust.dataset(name)[:, column]
    span = x.max() - x.min()
    # The data (with their ties) and a grid reaching far into both tails.
    pts = np.r_[x, np.linspace(x.min() - span, x.max() + span, 101)]
    got = mclust.run_r(
        R_ONE_FEATURE.format(
            G=k, model=model, control=R_CONVERGED if converged else ""
        ),
        x=x,
        pts=pts,
        p=P,
        prob=PROB,
    )
    params = GM_CONVERGED if converged else {}
    gm = _fit(x[:, None], k, covariance_type, **params)
    return gm, x, pts, got, converged


@pytest.mark.mclust
def test_same_fit_as_mclust(one_feature):
    gm, x, _, got, _ = one_feature
    # lower_bound_ is the mean log-likelihood of the last E-step, the point
    # where mclust reports its loglik.
    assert gm.lower_bound_ * len(x) == pytest.approx(got["loglik"], rel=LOGLIK_RTOL)


@pytest.mark.mclust
def test_cdf_matches_cdfmclust(one_feature):
    gm, _, pts, got, _ = one_feature
    # cdfMclust returns the points sorted; cdf keeps their order.
    np.testing.assert_array_equal(np.sort(pts), got["cdf_x"])
    values = cdf(gm, pts)
    np.testing.assert_allclose(
        values[np.argsort(pts, kind="stable")], got["cdf_y"], rtol=0, atol=CDF_ATOL
    )


@pytest.mark.mclust
def test_quantile_matches_quantilemclust(one_feature):
    gm, _, _, got, _ = one_feature
    ours = quantile(gm, P)
    theirs = np.asarray(got["q"], dtype=float)
    central = P <= 0.999
    np.testing.assert_allclose(
        ours[central], theirs[central], rtol=0, atol=QUANTILE_ATOL
    )
    # At p = 1 - 1e-10 the CDF is flat to within its rounding: R's uniroot on
    # cdf - p stops up to 5e-5 away. Both values satisfy F = p as well as F
    # can say (1e-15); gaussmix solves 1 - F = 1e-10 to 1e-9 relative.
    (top,) = np.flatnonzero(~central)
    assert abs(float(cdf(gm, theirs[top])) - P[top]) <= 1e-15
    assert abs(float(cdf(gm, ours[top])) - P[top]) <= 1e-15
    assert _sf(gm, ours[top]) == pytest.approx(1e-10, rel=1e-9)


@pytest.mark.mclust
def test_hdr_levels_match_hdrlevels(one_feature):
    gm, x, _, got, converged = one_feature
    rtol = HDR_RTOL_CONVERGED if converged else HDR_RTOL
    np.testing.assert_allclose(
        hdr_levels(gm, x[:, None], PROB), got["hdr"], rtol=rtol, atol=0
    )


#: (data set, K, mclust model): several features, run to the fixed point.
HDR_CASES = [("faithful", 2, "VVV"), ("iris", 2, "VEV"), ("diabetes", 3, "VVV")]


@pytest.mark.mclust
@pytest.mark.parametrize(("name", "k", "model"), HDR_CASES)
def test_hdr_levels_match_hdrlevels_in_several_dimensions(mclust, name, k, model):
    X = mclust.dataset(name)
    got = mclust.run_r(
        R_HDR.format(G=k, model=model, control=R_CONVERGED), X=X, prob=PROB
    )
    gm = _fit(X, k, model, **GM_CONVERGED)
    assert gm.lower_bound_ * len(X) == pytest.approx(got["loglik"], rel=LOGLIK_RTOL)
    np.testing.assert_allclose(
        hdr_levels(gm, X, PROB), got["hdr"], rtol=HDR_RTOL_CONVERGED, atol=0
    )


# ------------------------------------------------------------ without R
ONE_FEATURE_TYPES = ["full", "tied", "diag", "spherical", "E", "V", "VVV", "EII"]


@pytest.fixture(scope="module")
def bimodal():
    """Two overlapping normals of different widths, 1,000 values."""
    rng = np.random.default_rng(7)
    return np.r_[rng.normal(-1.0, 0.5, 400), rng.normal(1.5, 1.2, 600)][:, None]


@pytest.fixture(scope="module", params=ONE_FEATURE_TYPES)
def fitted_1d(request, bimodal):
    return _fit(bimodal, 2, request.param, random_state=0)


def test_cdf_is_a_distribution_function(fitted_1d):
    x = np.linspace(-12, 14, 2001)
    values = cdf(fitted_1d, x)
    assert np.all(np.diff(values) >= 0)
    assert values.min() >= 0.0
    assert values.max() <= 1.0
    assert values[0] < 1e-10
    assert values[-1] > 1 - 1e-10
    np.testing.assert_array_equal(cdf(fitted_1d, [-np.inf, np.inf]), [0.0, 1.0])


def test_cdf_is_the_integral_of_the_density(fitted_1d):
    """``F(b) - F(a)`` equals quad of ``exp(score_samples)`` (1e-10 absolute)."""

    def density(y):
        return float(np.exp(fitted_1d.score_samples(np.array([[y]]))[0]))

    points = [-2.0, -0.3, 0.8, 3.0]
    values = cdf(fitted_1d, points)
    for a, b, fa, fb in zip(
        points[:-1], points[1:], values[:-1], values[1:], strict=True
    ):
        mass, error = integrate.quad(density, a, b, epsabs=1e-13, epsrel=1e-13)
        assert error < 1e-11
        assert fb - fa == pytest.approx(mass, abs=1e-10)
    # And the lower tail as an integral from -inf.
    mass, _ = integrate.quad(density, -np.inf, points[0], epsabs=1e-14, epsrel=1e-12)
    assert values[0] == pytest.approx(mass, abs=1e-10)


def test_quantile_inverts_cdf(fitted_1d):
    x = np.linspace(-3.0, 5.0, 41)
    back = quantile(fitted_1d, cdf(fitted_1d, x))
    # F is flat to within its rounding (1.1e-16) over about 1e-16 / p(x).
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-11)
    p = np.array([1e-300, 1e-20, 1e-6, 0.3, 0.5, 0.7, 1 - 1e-6, 1 - 1e-15])
    q = quantile(fitted_1d, p)
    assert np.all(np.diff(q) > 0)
    lower = p < 0.5
    np.testing.assert_allclose(cdf(fitted_1d, q[lower]), p[lower], rtol=1e-10)
    # The upper tail through 1 - F, computed independently with SciPy.
    for qi, pi in zip(q[~lower], p[~lower], strict=True):
        assert _sf(fitted_1d, qi) == pytest.approx(1 - pi, rel=1e-9)


def test_quantile_of_one_component_is_the_normal_quantile(bimodal):
    gm = _fit(bimodal, 1, "full")
    p = np.array([1e-12, 0.025, 0.5, 0.975])
    expected = stats.norm.ppf(p, gm.means_[0, 0], np.sqrt(gm.covariances_[0, 0, 0]))
    np.testing.assert_allclose(quantile(gm, p), expected, rtol=1e-14)


def test_quantile_ends_and_shapes(fitted_1d):
    np.testing.assert_array_equal(quantile(fitted_1d, [0.0, 1.0]), [-np.inf, np.inf])
    assert quantile(fitted_1d, 0.5).shape == ()
    assert quantile(fitted_1d, [[0.1, 0.2], [0.3, 0.4]]).shape == (2, 2)
    assert cdf(fitted_1d, 0.0).shape == ()
    assert cdf(fitted_1d, np.zeros((5, 1))).shape == (5,)
    assert cdf(fitted_1d, [0.0, 1.0, 2.0]).shape == (3,)


def test_model_value_gives_the_same_answers(fitted_1d, bimodal):
    model = fitted_1d.fitted_model()
    x = np.linspace(-3, 4, 9)
    np.testing.assert_array_equal(cdf(model, x), cdf(fitted_1d, x))
    np.testing.assert_array_equal(
        quantile(model, [0.2, 0.9]), quantile(fitted_1d, [0.2, 0.9])
    )
    np.testing.assert_array_equal(
        hdr_levels(model, bimodal, PROB), hdr_levels(fitted_1d, bimodal, PROB)
    )


def test_noise_component_gives_the_gaussian_part(bimodal):
    """As cdfMclust: the Gaussian weights rescaled to 1, the uniform left out."""
    rng = np.random.default_rng(3)
    X = np.r_[bimodal, rng.uniform(-15, 15, (40, 1))]
    gm = _fit(X, 2, "V", noise=True)
    assert gm.noise_weight_ > 0.01
    w = gm.weights_ / gm.weights_.sum()
    x = np.linspace(-5, 6, 12)
    expected = (
        stats.norm.cdf(x[:, None], gm.means_.ravel(), np.sqrt(gm.covariances_.ravel()))
        @ w
    )
    np.testing.assert_allclose(cdf(gm, x), expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(
        cdf(gm, quantile(gm, [0.1, 0.6])), [0.1, 0.6], rtol=1e-12
    )


# ---------------------------------------------------------------- levels
def test_hdr_levels_are_quantiles_of_the_density(fitted_1d, bimodal):
    density = np.exp(fitted_1d.score_samples(bimodal))
    levels = hdr_levels(fitted_1d, bimodal, PROB)
    # R's quantile type 7, written out: x[h] + (h - floor h)(x[h + 1] - x[h]).
    s = np.sort(density)
    h = (len(s) - 1) * (1 - PROB)
    lo = np.floor(h).astype(int)
    hi = np.minimum(lo + 1, len(s) - 1)
    np.testing.assert_allclose(levels, s[lo] + (h - lo) * (s[hi] - s[lo]), rtol=1e-14)
    assert np.all(np.diff(levels) < 0)  # more probability, a lower level
    # A share prob of the rows lies in each region (to one row).
    share = (density[:, None] >= levels).mean(axis=0)
    assert np.all(np.abs(share - PROB) <= 1.0 / len(density))


def test_a_level_encloses_its_probability(bimodal):
    """On data drawn from the model, the region {p >= level} holds prob of the mass.

    The mass is integrated on a fine grid (error about 1e-6), independently of
    ``cdf``; the level comes from 20,000 draws, whose sampling error of the
    enclosed probability is sqrt(p (1 - p) / n) <= 0.0035 (tolerance: 4 of them).
    """
    gm = _fit(bimodal, 2, "V")
    draws, _ = gm.sample(20_000, random_state=1)
    levels = hdr_levels(gm, draws, PROB)
    grid = np.linspace(-15, 18, 400_001)
    density = np.exp(gm.score_samples(grid[:, None]))
    for p, level in zip(PROB, levels, strict=True):
        mass = np.trapezoid(np.where(density >= level, density, 0.0), grid)
        assert mass == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / 20_000))


def test_hdr_levels_in_two_dimensions_and_scalar_prob():
    rng = np.random.default_rng(2)
    X = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(4, 0.5, (200, 2))]
    gm = _fit(X, 2, "full", random_state=0)
    (level,) = hdr_levels(gm, X, 0.8)
    density = np.exp(gm.score_samples(X))
    assert level == pytest.approx(np.quantile(density, 0.2), rel=1e-14)


# ---------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def two_features():
    X = np.random.default_rng(0).normal(size=(100, 2))
    return _fit(X, 2, "full", random_state=0)


@pytest.mark.parametrize("func", [cdf, quantile])
def test_one_feature_only(func, two_features):
    with pytest.raises(ValueError, match="defined for one feature; this model has 2"):
        func(two_features, [0.5])


@pytest.mark.parametrize("p", [-0.1, 1.5, np.nan, [0.2, 2.0]])
def test_probability_outside_zero_one(fitted_1d, p):
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\]"):
        quantile(fitted_1d, p)


@pytest.mark.parametrize("prob", [-0.1, 1.01, np.nan])
def test_hdr_probability_outside_zero_one(fitted_1d, bimodal, prob):
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\]"):
        hdr_levels(fitted_1d, bimodal, prob)


def test_bad_x(fitted_1d):
    with pytest.raises(ValueError, match="NaN"):
        cdf(fitted_1d, [0.0, np.nan])
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        cdf(fitted_1d, np.zeros((3, 2)))
    with pytest.raises(TypeError, match="numeric"):
        cdf(fitted_1d, "1.0")
    with pytest.raises(TypeError, match="number or an array of numbers"):
        cdf(fitted_1d, [object()])


def test_not_a_model_or_not_fitted(bimodal):
    with pytest.raises(TypeError, match="fitted gaussmix mixture"):
        cdf(np.zeros(3), [0.0])
    with pytest.raises(NotFittedError):
        quantile(GaussianMixture(2), 0.5)
    with pytest.raises(NotFittedError):
        hdr_levels(GaussianMixture(2), bimodal, 0.5)


def test_hdr_levels_bad_data(fitted_1d, two_features):
    with pytest.raises(ValueError, match="features"):
        hdr_levels(two_features, np.zeros((4, 3)), 0.5)
    model = two_features.fitted_model()
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        hdr_levels(model, np.zeros((4, 3)), 0.5)
    with pytest.raises(ValueError, match="NaN or infinite"):
        hdr_levels(model, np.array([[0.0, np.inf]]), 0.5)


# ---------------------------------------------------------------- plots
def _region_labels(drawn):
    return [
        t.get_text() for t in drawn["legend"].get_texts() if "region" in t.get_text()
    ]


def test_plot_one_dimension(fitted_1d, bimodal):
    import matplotlib.pyplot as plt

    drawn = plot_hdr(fitted_1d, bimodal, prob=(0.5, 0.95))
    ax = drawn["ax"]
    assert ax.get_ylabel() == "density"
    assert "probability" not in ax.get_ylabel() + ax.get_xlabel()
    assert _region_labels(drawn) == [
        "95% highest-density region",
        "50% highest-density region",
    ]
    np.testing.assert_allclose(
        drawn["levels"], hdr_levels(fitted_1d, bimodal, [0.95, 0.5])
    )
    # The curve is the model's density.
    np.testing.assert_allclose(
        drawn["density"],
        np.exp(fitted_1d.score_samples(drawn["grid"][:, None])),
        rtol=1e-12,
    )
    assert drawn["points"] is not None
    plt.close(ax.figure)


def test_plot_two_dimensions_without_data():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(4)
    X = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(5, 0.7, (300, 2))]
    gm = _fit(X, 2, "full", random_state=0)
    drawn = plot_hdr(gm, prob=[0.25, 0.5, 0.9])
    ax = drawn["ax"]
    assert drawn["points"] is None
    assert _region_labels(drawn) == [
        "25% highest-density region",
        "50% highest-density region",
        "90% highest-density region",
    ]
    # Levels from PLOT_DRAWS model draws: within sampling error of those on the
    # data (the enclosed share of the data stays within 4 standard errors).
    density = np.exp(gm.score_samples(X))
    share = (density[:, None] >= drawn["levels"]).mean(axis=0)
    n = len(X)
    tol = 4 * np.sqrt(drawn["prob"] * (1 - drawn["prob"]) * (1 / n + 1 / PLOT_DRAWS))
    assert np.all(np.abs(share - drawn["prob"]) <= tol)
    assert drawn["density"].shape == drawn["grid"][0].shape
    plt.close(ax.figure)


def test_plot_errors(two_features):
    X3 = np.random.default_rng(0).normal(size=(50, 3))
    gm3 = _fit(X3, 1, "full")
    with pytest.raises(ValueError, match="one or two features; this model has 3"):
        plot_hdr(gm3)
    with pytest.raises(ValueError, match=r"each in \(0, 1\]"):
        plot_hdr(two_features, prob=[0.0, 0.5])


# ---------------------------------------------------------------- gallery
def _load(*parts):
    path = ROOT.joinpath(*parts)
    spec = importlib.util.spec_from_file_location(f"density_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_example_16_density_regions(tmp_path, capsys):
    r = _load("examples", "16_density_regions.py").main(
        ["--small", "--out", str(tmp_path)]
    )
    text = capsys.readouterr().out
    assert len(r["figures"]) == 3
    for figure in r["figures"]:
        path = Path(figure)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
        assert f"figure written to {path}" in text
    # Each 1-D region encloses its probability (exact mass from the CDF), within
    # the sampling error of the data the level came from.
    n = r["n_samples_1d"]
    for row in r["regions_1d"]:
        p = row["prob"]
        assert row["mass"] == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n))
        assert row["data_share"] == pytest.approx(p, abs=1.0 / n)
    assert r["round_trip_error"] < 1e-10
    for row in r["regions_2d"]:
        p = row["prob"]
        assert row["data_share"] == pytest.approx(p, abs=1.0 / r["n_samples_2d"])
    assert "a density, not a probability" in text


def test_benchmark_runs_without_r(capsys):
    table = _load("benchmarks", "bench_density.py").main(["--quick", "--no-r"])
    assert "gaussmix" in capsys.readouterr().out
    assert set(table) == {"cdf", "quantile", "hdr_levels"}
    assert all(row["gaussmix_s"] > 0 for row in table.values())
