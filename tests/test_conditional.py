"""Marginal and conditional mixtures (GaussianMixture.marginal / condition).

Checked against closed forms computed independently here: the textbook
conditional of a multivariate normal (explicit inverses), SciPy's normal
densities, numerical integration of the joint density, and the identity
``p(x_a | x_b) p(x_b) = p(x_a, x_b)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.exceptions import NotFittedError

from gaussmix import GaussianMixture
from gaussmix.core.conditional import check_features, storage_type
from gaussmix.core.covariance import (
    MCLUST_GROUP,
    SKLEARN_GROUP,
    UNIVARIATE_GROUP,
    family_names,
    get_family,
)

SKLEARN_TYPES = family_names(SKLEARN_GROUP)


def _data(n: int = 300, d: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d))
    centres = rng.integers(0, 3, n)[:, None] * np.linspace(2.0, 4.0, d)
    return rng.standard_normal((n, d)) @ mix + centres


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return _data()


@pytest.fixture(scope="module")
def fitted(data):
    """One 3-component fit per covariance type (scikit-learn's and a few of mclust's)."""
    types = (*SKLEARN_TYPES, "VVV", "EEI", "EII", "VEV", "EEE")
    return {
        t: GaussianMixture(3, covariance_type=t, random_state=0).fit(data)
        for t in types
    }


def _dense(gm: GaussianMixture) -> np.ndarray:
    family = get_family(gm.covariance_type)
    return family.to_dense(gm.covariances_, gm.n_components, gm.means_.shape[1])


# ------------------------------------------------------------ closed forms
def test_one_component_is_the_textbook_conditional(data):
    """K = 1: mu_a + S_ab S_bb^-1 (x_b - mu_b) and S_aa - S_ab S_bb^-1 S_ba."""
    gm = GaussianMixture(1, random_state=0).fit(data)
    mu, S = gm.means_[0], gm.covariances_[0]
    b, a = [3, 1], [0, 2]
    xb = np.array([0.7, -2.0])
    inv = np.linalg.inv(S[np.ix_(b, b)])
    mean = mu[a] + S[np.ix_(a, b)] @ inv @ (xb - mu[b])
    cov = S[np.ix_(a, a)] - S[np.ix_(a, b)] @ inv @ S[np.ix_(b, a)]
    cond = gm.condition(b, xb)
    assert cond.covariance_type == "full"
    np.testing.assert_allclose(cond.weights_, [1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(cond.means_[0], mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cond.covariances_[0], cov, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(
        cond.precisions_[0], np.linalg.inv(cov), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("covariance_type", SKLEARN_TYPES)
def test_conditional_weights_are_the_components_marginal_likelihoods(
    fitted, covariance_type
):
    gm = fitted[covariance_type]
    b = [1, 3]
    xb = np.array([1.0, 2.5])
    S = _dense(gm)
    log = np.log(gm.weights_) + np.array(
        [
            multivariate_normal(m[b], s[np.ix_(b, b)]).logpdf(xb)
            for m, s in zip(gm.means_, S, strict=True)
        ]
    )
    expected = np.exp(log - logsumexp(log))
    np.testing.assert_allclose(
        gm.condition(b, xb).weights_, expected, rtol=1e-11, atol=1e-14
    )


@pytest.mark.parametrize("covariance_type", SKLEARN_TYPES)
def test_marginal_density_integrates_the_joint_out(covariance_type):
    """2-D: p(x_0) equals the integral of p(x_0, x_1) over x_1 (quadrature)."""
    X = _data(300, 2, seed=1)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    m0, m1 = gm.marginal(0), gm.marginal([1])
    for x in (-1.0, 4.0):
        joint = lambda t, x=x: float(np.exp(gm.score_samples([[x, t]])[0]))  # noqa: E731
        value, _ = integrate.quad(joint, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-11)
        assert np.exp(m0.score_samples([[x]])[0]) == pytest.approx(value, rel=1e-8)
        other = lambda t, x=x: float(np.exp(gm.score_samples([[t, x]])[0]))  # noqa: E731
        value, _ = integrate.quad(other, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-11)
        assert np.exp(m1.score_samples([[x]])[0]) == pytest.approx(value, rel=1e-8)


@pytest.mark.parametrize(
    "covariance_type", [*SKLEARN_TYPES, "VVV", "EEI", "EII", "VEV", "EEE"]
)
def test_conditional_times_marginal_is_the_joint(fitted, covariance_type):
    """p(x_a | x_b) p(x_b) = p(x_a, x_b) for several rows x_b and points x_a."""
    gm = fitted[covariance_type]
    rng = np.random.default_rng(3)
    b, a = [2, 0], [1, 3]
    marginal = gm.marginal(b)
    for xb in rng.normal(2.0, 3.0, size=(4, 2)):
        cond = gm.condition(b, xb)
        assert cond.covariance_type == storage_type(get_family(covariance_type))
        xa = rng.normal(2.0, 3.0, size=(6, 2))
        joint = np.empty((6, 4))
        joint[:, b] = xb
        joint[:, a] = xa
        lhs = cond.score_samples(xa) + marginal.score_samples(xb[None])[0]
        np.testing.assert_allclose(lhs, gm.score_samples(joint), rtol=1e-11, atol=1e-10)


@pytest.mark.parametrize("covariance_type", SKLEARN_TYPES)
def test_marginal_is_the_sub_block(fitted, covariance_type):
    gm = fitted[covariance_type]
    f = [3, 0]
    m = gm.marginal(f)
    assert m.covariance_type == covariance_type
    np.testing.assert_array_equal(m.weights_, gm.weights_)
    np.testing.assert_array_equal(m.means_, gm.means_[:, f])
    np.testing.assert_allclose(_dense(m), _dense(gm)[:, f][:, :, f], rtol=0, atol=0)
    for k, dense in enumerate(_dense(m)):
        np.testing.assert_allclose(
            np.exp(
                m._estimate_weighted_log_prob(gm.means_[k : k + 1, f])[0, k]
                - np.log(gm.weights_[k])
            ),
            multivariate_normal(gm.means_[k, f], dense).pdf(gm.means_[k, f]),
            rtol=1e-12,
        )


def test_shapes_are_kept(fitted):
    """diag stays diag (only the weights change), tied stays tied, spherical too."""
    diag = fitted["diag"].condition([0], [1.0])
    np.testing.assert_array_equal(diag.means_, fitted["diag"].means_[:, 1:])
    np.testing.assert_array_equal(diag.covariances_, fitted["diag"].covariances_[:, 1:])
    sph = fitted["spherical"].condition([0, 1], [1.0, 0.0])
    np.testing.assert_array_equal(sph.covariances_, fitted["spherical"].covariances_)
    tied = fitted["tied"].condition([0], [1.0])
    assert tied.covariances_.shape == (3, 3)
    assert fitted["spherical"].marginal([1, 2]).covariance_type == "spherical"


@pytest.mark.parametrize(
    "name", family_names(SKLEARN_GROUP, MCLUST_GROUP, UNIVARIATE_GROUP)
)
def test_every_covariance_type_maps_to_a_scikit_learn_shape(name):
    """The returned covariance_type stores the family's arrays exactly (same shape)."""
    family = get_family(name)
    shape = storage_type(family)
    assert get_family(shape).group == SKLEARN_GROUP
    assert get_family(shape).covariance_shape(
        3, 1 if family.multivariate_model else 4
    ) == (family.covariance_shape(3, 1 if family.multivariate_model else 4))
    if family.group == SKLEARN_GROUP:
        assert shape == name


def test_far_rows_keep_finite_weights(fitted):
    """Weights are normalised in log space: no 0/0 far from every component."""
    cond = fitted["full"].condition([0, 1], [1e4, -1e4])
    assert np.all(np.isfinite(cond.weights_))
    assert cond.weights_.sum() == pytest.approx(1.0, abs=1e-14)


def test_float32_model_gives_float32_mixtures(data):
    gm = GaussianMixture(2, random_state=0).fit(data.astype(np.float32))
    assert gm.marginal([0, 1]).means_.dtype == np.float32
    assert gm.condition([0], [0.5]).covariances_.dtype == np.float32


def test_result_is_a_usable_estimator(fitted):
    gm = fitted["full"]
    cond = gm.condition([0], [1.0])
    assert cond.n_features_in_ == 3
    assert cond.means_init is None
    assert cond.precisions_init is None
    assert cond.predict(cond.means_).shape == (3,)
    X, _ = cond.sample(10, random_state=0)
    assert X.shape == (10, 3)


def test_sampling_the_conditional_matches_its_moments(data):
    gm = GaussianMixture(1, random_state=0).fit(data)
    cond = gm.condition([1], [0.3])
    X, _ = cond.sample(40_000, random_state=1)
    se = np.sqrt(np.diag(cond.covariances_[0]) / len(X))
    # Within 5 standard errors of the closed-form mean, and the covariance within 3%.
    assert np.all(np.abs(X.mean(axis=0) - cond.means_[0]) < 5 * se)
    np.testing.assert_allclose(np.cov(X.T), cond.covariances_[0], rtol=0.03, atol=0.03)


# --------------------------------------------------------- feature selection
def test_masks_negative_indices_and_order(fitted):
    gm = fitted["full"]
    by_mask = gm.marginal(np.array([True, False, True, False]))
    by_index = gm.marginal([0, 2])
    np.testing.assert_array_equal(by_mask.means_, by_index.means_)
    np.testing.assert_array_equal(gm.marginal([-1]).means_, gm.marginal([3]).means_)
    np.testing.assert_array_equal(gm.marginal([2, 0]).means_, gm.means_[:, [2, 0]])
    c1 = gm.condition(np.array([False, True, False, True]), [0.5, 1.0])
    c2 = gm.condition([1, 3], [0.5, 1.0])
    np.testing.assert_allclose(c1.means_, c2.means_, rtol=0, atol=0)


def test_named_columns(data):
    frame = pd.DataFrame(data, columns=["a", "b", "c", "d"])
    gm = GaussianMixture(2, random_state=0).fit(frame)
    cond = gm.condition(["b", "d"], [0.5, 1.0])
    assert list(cond.feature_names_in_) == ["a", "c"]
    assert list(gm.marginal("c").feature_names_in_) == ["c"]
    np.testing.assert_allclose(cond.means_, gm.condition([1, 3], [0.5, 1.0]).means_)
    with pytest.raises(ValueError, match="unknown feature name 'z'"):
        gm.marginal(["a", "z"])


@pytest.mark.parametrize(
    ("features", "match"),
    [
        ([4], "out of range"),
        ([-5], "out of range"),
        ([1, 1], "more than once"),
        ([], "at least one feature"),
        ([0.5], "integer column indices"),
        (np.array([True, False]), "one entry per feature"),
        (np.zeros(4, dtype=bool), "at least one feature"),
        ("a", "column names"),
    ],
)
def test_bad_features(fitted, features, match):
    with pytest.raises(ValueError, match=match):
        fitted["full"].marginal(features)
    with pytest.raises(ValueError, match=match):
        check_features(features, 4)


def test_bad_values(fitted):
    gm = fitted["full"]
    with pytest.raises(ValueError, match="one row of 2 numbers"):
        gm.condition([0, 1], [1.0])
    with pytest.raises(ValueError, match="one row of 2 numbers"):
        gm.condition([0, 1], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="finite"):
        gm.condition([0, 1], [1.0, np.nan])
    with pytest.raises(ValueError, match="nothing is left"):
        gm.condition([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
    assert gm.condition(0, 1.0).n_features_in_ == 3  # a number for one feature


def test_unfitted_and_noise_models(data):
    with pytest.raises(NotFittedError):
        GaussianMixture(2).marginal([0])
    with pytest.raises(NotFittedError):
        GaussianMixture(2).condition([0], [1.0])
    noisy = GaussianMixture(2, covariance_type="VVV", noise=True, random_state=0).fit(
        data
    )
    with pytest.raises(ValueError, match="noise component"):
        noisy.marginal([0, 1])
