"""MAP adaptation on statistics (``gaussmix.core.adapt``), for every family.

Three independent references:

* Reynolds et al.'s closed forms, written out with NumPy from the data and
  the responsibilities (diag, and their matrix, spherical and pooled forms for
  full, spherical and tied);
* for every covariance type, the ordinary maximum-likelihood M-step of the
  data plus explicit pseudo-points: ``2 D`` sigma points per component whose
  weighted mean and covariance are exactly the prior's, carrying ``r`` in all
  (MAP adaptation *is* the M-step of the data and the prior's pseudo-data);
* the exact limits ``r = inf`` (the prior) and ``r = 0`` (the ML M-step).
"""

import functools
import math

import numpy as np
import pytest

from gaussmix import GaussianMixture
from gaussmix.core.adapt import ADAPTABLE, map_m_step, map_statistics
from gaussmix.core.covariance import COVARIANCE_TYPES, get_family
from gaussmix.core.estep import e_step, stats_from_resp
from gaussmix.core.mstep import m_step
from gaussmix.core.params import GMMParams

K = 3
RTOL = 1e-10
#: The iterative mclust M-steps stop at a relative change of 1.5e-8 of their
#: objective; two runs from slightly different statistics agree to about this.
ITERATIVE_RTOL = 1e-6
ITERATIVE = {"VEI", "VEV", "VEE", "EVE", "VVE"}
UNIVARIATE = {"E", "V"}


def _n_features(covariance_type):
    return 1 if covariance_type in UNIVARIATE else 3


@functools.cache
def _prior_and_data(covariance_type):
    """A fitted prior model (float64 params) and new data that move it."""
    d = _n_features(covariance_type)
    rng = np.random.default_rng(0)
    # the third centre is 25 standard deviations from the new data
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, 0.0], [0.0, 30.0, 2.0]])
    centres = centres[:, :d] if d == 3 else np.array([[0.0], [4.0], [30.0]])
    X = np.concatenate([c + rng.standard_normal((200, d)) for c in centres])
    gm = GaussianMixture(
        K, covariance_type=covariance_type, random_state=0, max_iter=30
    ).fit(X)
    prior = GMMParams(
        weights=gm.weights_,
        means=gm.means_,
        covariances=gm.covariances_,
        precisions_cholesky=gm.precisions_cholesky_,
    )
    new = np.concatenate(
        [
            centres[0] + 0.5 + 0.8 * rng.standard_normal((60, d)),
            centres[1] - 0.7 + 1.3 * rng.standard_normal((25, d)),
        ]
    )
    return prior, new, X


def _stats(covariance_type):
    prior, X, _ = _prior_and_data(covariance_type)
    family = get_family(covariance_type)
    return prior, X, family, e_step(X, prior, family)


def _resp(prior, family, X):
    """The prior's responsibilities of X, written out with dense covariances."""
    n, d = X.shape
    dense = family.to_dense(prior.covariances, K, d)
    log = np.empty((n, K))
    for k in range(K):
        diff = X - prior.means[k]
        inv = np.linalg.inv(dense[k])
        _, logdet = np.linalg.slogdet(dense[k])
        log[:, k] = (
            np.log(prior.weights[k])
            - 0.5 * (d * math.log(2 * math.pi) + logdet)
            - 0.5 * np.einsum("ij,jk,ik->i", diff, inv, diff)
        )
    log -= log.max(axis=1, keepdims=True)
    resp = np.exp(log)
    return resp / resp.sum(axis=1, keepdims=True)


def _closed_form(prior, family, X, r, adapt=ADAPTABLE):
    """Reynolds et al.'s formulas, as dense (K, D, D) covariances."""
    resp = _resp(prior, family, X)
    d = X.shape[1]
    n = resp.sum(axis=0)
    alpha = n / (n + r)
    xbar = resp.T @ X / n[:, None]
    S = np.stack(
        [
            (
                resp[:, k, None, None]
                * np.einsum("ij,ik->ijk", X - xbar[k], X - xbar[k])
            ).sum(axis=0)
            / n[k]
            for k in range(K)
        ]
    )
    mu = prior.means
    means = (
        alpha[:, None] * xbar + (1 - alpha[:, None]) * mu if "means" in adapt else mu
    )
    sigma = family.to_dense(prior.covariances, K, d)
    # scatter of the data and of the pseudo-data about the adapted means
    gd = xbar - means
    gp = mu - means
    data = n[:, None, None] * (S + np.einsum("ki,kj->kij", gd, gd))
    pseudo = r * (sigma + np.einsum("ki,kj->kij", gp, gp))
    if family.shared:
        pooled = (data + pseudo).sum(axis=0) / (n + r).sum()
        covs = np.broadcast_to(pooled, (K, d, d))
    else:
        covs = (data + pseudo) / (n + r)[:, None, None]
    weights = prior.weights
    if "weights" in adapt:
        mixed = alpha * n / len(X) + (1 - alpha) * prior.weights
        weights = mixed / mixed.sum()
    return weights, means, covs


def _dense(family, params):
    return family.to_dense(params.covariances, K, params.means.shape[1])


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("covariance_type", ["diag", "full", "tied", "spherical"])
@pytest.mark.parametrize("r", [0.5, 4.0, 16.0, 1e3])
def test_closed_forms_of_the_four_sklearn_families(covariance_type, r):
    prior, X, family, stats = _stats(covariance_type)
    params = map_m_step(stats, prior, family, r)
    weights, means, covs = _closed_form(prior, family, X, r)
    np.testing.assert_allclose(params.weights, weights, rtol=RTOL)
    np.testing.assert_allclose(params.means, means, rtol=RTOL, atol=1e-12)
    dense = _dense(family, params)
    if covariance_type == "diag":
        covs = covs * np.eye(3)
    elif covariance_type == "spherical":
        covs = np.trace(covs, axis1=1, axis2=2)[:, None, None] / 3 * np.eye(3)
    np.testing.assert_allclose(dense, covs, rtol=RTOL, atol=1e-12)
    # The precision factors are those of the covariances.
    check, _ = family.precisions_cholesky(params.covariances)
    np.testing.assert_allclose(params.precisions_cholesky, check, rtol=RTOL)


def test_reynolds_diagonal_formula_in_raw_moments():
    """Reynolds et al. (2000) eq. 13, as printed: E[x^2] and mu^2 terms."""
    prior, X, family, stats = _stats("diag")
    r = 16.0
    resp = _resp(prior, family, X)
    n = resp.sum(axis=0)
    E = resp.T @ X / n[:, None]
    E2 = resp.T @ (X * X) / n[:, None]
    a = (n / (n + r))[:, None]
    mu, var = prior.means, prior.covariances
    new_mu = a * E + (1 - a) * mu
    new_var = a * E2 + (1 - a) * (var + mu**2) - new_mu**2
    params = map_m_step(stats, prior, family, r)
    np.testing.assert_allclose(params.means, new_mu, rtol=RTOL)
    np.testing.assert_allclose(params.covariances, new_var, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
@pytest.mark.parametrize(
    "adapt", [("means",), ("variances",), ("weights",), ("means", "weights")]
)
def test_adapting_some_parameters_keeps_the_others(covariance_type, adapt):
    prior, X, family, stats = _stats(covariance_type)
    params = map_m_step(stats, prior, family, 8.0, adapt=adapt)
    weights, means, covs = _closed_form(prior, family, X, 8.0, adapt)
    for name, value, expected in (
        ("means", params.means, means),
        ("weights", params.weights, weights),
    ):
        if name in adapt:
            np.testing.assert_allclose(value, expected, rtol=RTOL)
        else:
            np.testing.assert_array_equal(value, getattr(prior, name))
    if "variances" in adapt:
        # estimated about the prior's means (the means are kept)
        dense = _dense(family, params)
        if covariance_type == "diag":
            covs = covs * np.eye(3)
        elif covariance_type == "spherical":
            covs = np.trace(covs, axis1=1, axis2=2)[:, None, None] / 3 * np.eye(3)
        np.testing.assert_allclose(dense, covs, rtol=RTOL)
    else:
        np.testing.assert_array_equal(params.covariances, prior.covariances)
        np.testing.assert_array_equal(
            params.precisions_cholesky, prior.precisions_cholesky
        )


# ------------------------------------------------------------------ every family
def _sigma_points(prior, family, r):
    """``2 D`` points per component with the prior's mean and covariance, weight r."""
    d = prior.means.shape[1]
    dense = _dense(family, prior)
    points, resp = [], []
    for k in range(K):
        root = np.linalg.cholesky(dense[k]) * math.sqrt(d)
        for j in range(d):
            for sign in (1.0, -1.0):
                points.append(prior.means[k] + sign * root[:, j])
                row = np.zeros(K)
                row[k] = r / (2 * d)
                resp.append(row)
    return np.array(points), np.array(resp)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("r", [2.0, 16.0])
def test_map_is_the_ml_m_step_of_the_data_and_pseudo_points(covariance_type, r):
    prior, X, family, stats = _stats(covariance_type)
    params = map_m_step(stats, prior, get_family(covariance_type), r)
    points, pseudo = _sigma_points(prior, family, r)
    both = np.concatenate([X, points])
    resp = np.concatenate([_resp(prior, family, X), pseudo])
    ml_stats = stats_from_resp(both, resp, family, K, prior.center())
    ml, repairs = m_step(ml_stats, get_family(covariance_type), 0.0)
    assert not repairs
    rtol = ITERATIVE_RTOL if covariance_type in ITERATIVE else 1e-9
    np.testing.assert_allclose(params.means, ml.means, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(params.covariances, ml.covariances, rtol=rtol)
    # The weights are Reynolds's blend, not the augmented M-step's.
    resp_x = _resp(prior, family, X)
    n = resp_x.sum(axis=0)
    alpha = n / (n + r)
    mixed = alpha * n / len(X) + (1 - alpha) * prior.weights
    np.testing.assert_allclose(params.weights, mixed / mixed.sum(), rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_limits_infinite_and_zero_relevance(covariance_type):
    prior, _, family, stats = _stats(covariance_type)
    same = map_m_step(stats, prior, family, math.inf)
    np.testing.assert_array_equal(same.means, prior.means)
    np.testing.assert_array_equal(same.covariances, prior.covariances)
    np.testing.assert_array_equal(same.precisions_cholesky, prior.precisions_cholesky)
    np.testing.assert_allclose(same.weights, prior.weights, rtol=1e-15, atol=0)
    # r = 0 on data that reach every component: the ML M-step
    stats = e_step(_prior_and_data(covariance_type)[2], prior, family)
    ml = map_m_step(stats, prior, get_family(covariance_type), 0.0)
    expected, repairs = m_step(stats, get_family(covariance_type), 0.0)
    assert not repairs
    rtol = ITERATIVE_RTOL if covariance_type in ITERATIVE else 1e-9
    np.testing.assert_allclose(ml.weights, expected.weights, rtol=1e-9)
    np.testing.assert_allclose(ml.means, expected.means, rtol=1e-9)
    np.testing.assert_allclose(ml.covariances, expected.covariances, rtol=rtol)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_structure_of_the_family_is_kept(covariance_type):
    prior, _, family, stats = _stats(covariance_type)
    params = map_m_step(stats, prior, family, 16.0)
    assert params.covariances.shape == prior.covariances.shape
    assert np.all(np.isfinite(params.covariances))
    assert not np.array_equal(params.covariances, prior.covariances)
    c = params.covariances
    if covariance_type in ("EII", "E"):
        np.testing.assert_allclose(c, c[0], rtol=1e-12)  # one common variance
    elif covariance_type == "EEI":
        np.testing.assert_allclose(c, c[[0]].repeat(K, axis=0), rtol=1e-12)
    elif covariance_type in ("EEV", "EVV", "EVI"):  # a common volume
        dets = np.linalg.det(_dense(family, params))
        np.testing.assert_allclose(dets, dets[0], rtol=1e-9)


# ------------------------------------------------------------------ exactness
def test_components_the_data_do_not_reach_keep_their_parameters():
    for covariance_type in ("diag", "full", "spherical", "VVV", "V"):
        prior, X, family, stats = _stats(covariance_type)
        far = int(np.argmin(stats.nk))
        assert np.all(_resp(prior, family, X)[:, far] < 1e-100), covariance_type
        params = map_m_step(stats, prior, family, 16.0)
        np.testing.assert_array_equal(params.means[far], prior.means[far])
        np.testing.assert_array_equal(params.covariances[far], prior.covariances[far])
        np.testing.assert_array_equal(
            params.precisions_cholesky[far], prior.precisions_cholesky[far]
        )
        near = int(np.argmax(stats.nk))
        assert not np.array_equal(params.means[near], prior.means[near])
        assert not np.array_equal(params.covariances[near], prior.covariances[near])


def test_shared_parts_move_components_the_data_do_not_reach():
    prior, _, family, stats = _stats("EII")
    far = int(np.argmin(stats.nk))
    params = map_m_step(stats, prior, family, 16.0)
    np.testing.assert_array_equal(params.means[far], prior.means[far])
    assert params.covariances[far] != prior.covariances[far]  # the common variance


def test_variance_floor_raises_small_variances_and_eigenvalues():
    for covariance_type in ("diag", "full"):
        prior, _, family, stats = _stats(covariance_type)
        params = map_m_step(stats, prior, family, 0.0, variance_floor=2.0)
        dense = _dense(family, params)
        assert np.linalg.eigvalsh(dense).min() >= 2.0 * (1 - 1e-12)


# ------------------------------------------------------------------ statistics
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_augmented_statistics_are_the_pseudo_points_statistics(covariance_type):
    prior, _, family, stats = _stats(covariance_type)
    aug = map_statistics(stats, prior, family, 5.0)
    points, pseudo = _sigma_points(prior, family, 5.0)
    direct = stats_from_resp(points, pseudo, family, K, stats.shift)
    np.testing.assert_allclose(aug.nk, stats.nk + direct.nk, rtol=1e-12)
    np.testing.assert_allclose(aug.sx, stats.sx + direct.sx, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(aug.sxx, stats.sxx + direct.sxx, rtol=1e-9)
    assert aug.weight == pytest.approx(stats.weight + K * 5.0)
    assert aug.n_samples == stats.n_samples
    # They are statistics like any other: recentring commutes with augmenting.
    shift = stats.shift + np.array([0.5, -1.0, 2.0])
    moved = map_statistics(stats.recentered(shift, family), prior, family, 5.0)
    again = aug.recentered(shift, family)
    np.testing.assert_allclose(moved.sx, again.sx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(moved.sxx, again.sxx, rtol=1e-10)


# ------------------------------------------------------------------ errors
def test_errors():
    prior, _, family, stats = _stats("diag")
    with pytest.raises(ValueError, match="adapt must name"):
        map_m_step(stats, prior, family, 1.0, adapt=("mean",))
    with pytest.raises(ValueError, match="adapt must name"):
        map_m_step(stats, prior, family, 1.0, adapt=())
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError, match="relevance must be"):
            map_m_step(stats, prior, family, bad)
    with pytest.raises(ValueError, match="variance_floor"):
        map_m_step(stats, prior, family, 1.0, variance_floor=-1.0)
    with pytest.raises(ValueError, match="finite"):
        map_statistics(stats, prior, family, math.inf)
    noisy = GMMParams(
        prior.weights * 0.9,
        prior.means,
        prior.covariances,
        prior.precisions_cholesky,
        noise_weight=0.1,
        noise_log_density=-3.0,
    )
    with pytest.raises(ValueError, match="noise component"):
        map_m_step(stats, noisy, family, 1.0)


def test_singular_ml_covariance_is_refused():
    prior, _, family, _ = _stats("full")
    X = np.repeat(prior.means[:1], 5, axis=0)  # five copies of one point
    stats = e_step(X, prior, family)
    with pytest.raises(ValueError, match="not positive definite"):
        map_m_step(stats, prior, family, 0.0)
    params = map_m_step(stats, prior, family, 0.0, variance_floor=1e-3)
    assert np.all(np.isfinite(params.precisions_cholesky))
