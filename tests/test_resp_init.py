"""``resp_init``: the fit starts with an M-step from given responsibilities."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import GaussianMixture

TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (120, 3)), rng.normal(4, 0.5, (80, 3))])
    resp = rng.dirichlet([1.0, 1.0], size=200)
    return X, resp


def _mstep_by_hand(X, resp, covariance_type, reg):
    """Parameters from responsibilities, through scikit-learn's own M-step."""
    from sklearn.mixture._gaussian_mixture import (
        _compute_precision_cholesky,
        _estimate_gaussian_parameters,
    )

    nk, means, covs = _estimate_gaussian_parameters(X, resp, reg, covariance_type)
    return nk / len(X), means, covs, _compute_precision_cholesky(covs, covariance_type)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::gaussmix.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", TYPES)
def test_fit_from_resp_equals_sklearn_from_the_same_start(data, covariance_type):
    """resp_init's M-step gives scikit-learn's start; both fits agree (rtol 1e-8)."""
    X, resp = data
    weights, means, _covs, prec_chol = _mstep_by_hand(X, resp, covariance_type, 1e-6)
    if covariance_type == "full":
        precisions = np.einsum("kij,klj->kil", prec_chol, prec_chol)
    elif covariance_type == "tied":
        precisions = prec_chol @ prec_chol.T
    else:
        precisions = prec_chol**2
    sk = SkGaussianMixture(
        2,
        covariance_type=covariance_type,
        weights_init=weights,
        means_init=means,
        precisions_init=precisions,
        tol=1e-10,
        max_iter=200,
    ).fit(X)
    gm = GaussianMixture(
        2, covariance_type=covariance_type, resp_init=resp, tol=1e-10, max_iter=200
    ).fit(X)
    assert gm.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-8, atol=1e-10)
    assert gm.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-10)


def test_hard_labels_and_sample_weights(data):
    """One-hot resp_init with integer weights equals repeated rows."""
    X, _ = data
    labels = (X[:, 0] > 2).astype(int)
    resp = np.eye(2)[labels]
    w = np.arange(len(X)) % 3
    a = GaussianMixture(2, resp_init=resp, tol=1e-8).fit(X, sample_weight=w)
    rep = np.repeat(np.arange(len(X)), w)
    b = GaussianMixture(2, resp_init=resp[rep], tol=1e-8).fit(X[rep])
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-10)


@pytest.mark.parametrize(
    ("resp", "match"),
    [
        (np.ones((200, 3)) / 3, r"shape \(200, 3\), expected .*\(200, 2\)"),
        (np.full((200, 2), 0.7), "must sum to 1"),
        (np.full((200, 2), np.nan), "finite and non-negative"),
        (np.tile([1.5, -0.5], (200, 1)), "finite and non-negative"),
        ("abc", "array"),
    ],
)
def test_bad_resp_init_is_explained(data, resp, match):
    X, _ = data
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, resp_init=resp).fit(X)


def test_resp_init_excludes_other_init_arrays(data):
    X, resp = data
    with pytest.raises(ValueError, match="either resp_init or"):
        GaussianMixture(2, resp_init=resp, means_init=X[:2]).fit(X)
