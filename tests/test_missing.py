"""``nan_policy``: EM with missing values, its predictions, imputation and errors.

The references are independent of gaussmix's code: closed-form maximum
likelihood estimates (K = 1), scipy's multivariate normal densities on the
observed blocks, a direct numerical maximisation of the observed-data
likelihood (scipy.optimize over Cholesky factors and softmax weights), and a
row-by-row computation of the conditional expectations. Tolerances are stated
where they are used.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gaussmix import GaussianMixture
from gaussmix.core import missing as core_missing
from gaussmix.core.covariance import REGISTRY, get_family
from gaussmix.core.estep import stats_from_resp
from gaussmix.core.missing import expected_stats, family_scatter, group_patterns
from gaussmix.core.params import GMMParams
from gaussmix.mixture import build_fitted
from gaussmix.model import FitInfo


def _mixture_data(n, d, k, seed, missing=0.2):
    rng = np.random.RandomState(seed)
    centres = rng.normal(scale=4.0, size=(k, d))
    labels = rng.randint(k, size=n)
    X = np.empty((n, d))
    for j in range(k):
        a = rng.normal(size=(d, d))
        cov = a @ a.T / d + 0.5 * np.eye(d)
        rows = labels == j
        X[rows] = rng.multivariate_normal(centres[j], cov, rows.sum())
    Xm = X.copy()
    Xm[rng.rand(n, d) < missing] = np.nan
    Xm = Xm[~np.isnan(Xm).all(axis=1)]  # no all-missing rows unless asked
    return X, Xm


def _dense(gm):
    k, d = gm.means_.shape
    return get_family(gm.covariance_type).to_dense(gm.covariances_, k, d)


def _observed_loglik(X, weights, means, covs):
    """``sum_i log sum_k w_k N(x_io | mu_ko, S_k,oo)`` with scipy's densities."""
    total = 0.0
    observed = ~np.isnan(X)
    for o in np.unique(observed, axis=0):
        rows = X[(observed == o).all(axis=1)][:, o]
        terms = [
            np.log(w)
            + np.atleast_1d(multivariate_normal(m[o], c[np.ix_(o, o)]).logpdf(rows))
            for w, m, c in zip(weights, means, covs, strict=True)
        ]
        total += logsumexp(terms, axis=0).sum()
    return total


def _fit(X, k=1, covariance_type="full", **kw):
    options = {"reg_covar": 0.0, "tol": 1e-14, "max_iter": 20000, "random_state": 0}
    options.update(kw)
    return GaussianMixture(
        k, covariance_type=covariance_type, nan_policy="marginalize", **options
    ).fit(X)


# ------------------------------------------------------------ (a) no NaN
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "VVV", "VEI"])
def test_marginalize_without_nan_is_the_default_fit(covariance_type):
    X, _ = _mixture_data(200, 3, 2, seed=1)
    a = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    b = GaussianMixture(
        2, covariance_type=covariance_type, random_state=0, nan_policy="marginalize"
    ).fit(X)
    for attr in ("weights_", "means_", "covariances_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))


# ----------------------------------------------- the statistics themselves
@pytest.mark.parametrize("name", list(REGISTRY))
def test_family_scatter_is_the_statistics_shape(name):
    """Full per-component scatter reduced by the family = the family's own moments."""
    family = REGISTRY[name]
    d = 1 if family.multivariate_model else 3
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, d))
    resp = rng.dirichlet(np.ones(2), size=50)
    shift = np.full(d, 0.3)
    reference = stats_from_resp(X, resp, family, 2, shift)
    xc = X - shift
    scatter = np.einsum("nk,ni,nj->kij", resp, xc, xc)
    np.testing.assert_allclose(
        family_scatter(family, scatter), reference.sxx, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("one_row_chunks", [False, True])
@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical"])
def test_expected_stats_row_by_row(name, one_row_chunks, monkeypatch):
    """The pattern-grouped statistics equal a row-by-row computation.

    Also when every group of patterns is cut into chunks of one row (a group's
    conditional covariances are then added from several chunks' masses).
    """
    if one_row_chunks:
        monkeypatch.setattr(core_missing, "_GROUP_ELEMENTS", 1)
    family = get_family(name)
    _, Xm = _mixture_data(60, 3, 2, seed=2, missing=0.3)
    Xm = Xm[np.isnan(Xm).any(axis=1)]
    w = np.random.RandomState(3).uniform(0.5, 2.0, size=Xm.shape[0])
    means = np.array([[0.0, 1.0, -1.0], [3.0, 2.0, 0.5]])
    covs = np.array(
        [[[2.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.5]], np.eye(3) * 0.8]
    )
    if name == "tied":
        covs = np.array([covs[0], covs[0]])
    elif name == "diag":
        covs = np.array([np.diag(np.diag(c)) for c in covs])
    elif name == "spherical":
        covs = np.array([np.eye(3) * 1.3, np.eye(3) * 0.7])
    shaped = {
        "full": covs,
        "tied": covs[0],
        "diag": np.array([np.diag(c) for c in covs]),
        "spherical": covs[:, 0, 0],
    }[name]
    pc, _ = family.precisions_cholesky(shaped)
    params = GMMParams(np.array([0.4, 0.6]), means, shaped, pc)
    shift = np.array([0.5, -0.2, 0.1])
    stats = expected_stats(Xm, group_patterns(Xm), params, family, w, shift)
    nk, sx, scatter, loglik = np.zeros(2), np.zeros((2, 3)), np.zeros((2, 3, 3)), 0.0
    for x, wi in zip(Xm, w, strict=True):
        o, m = ~np.isnan(x), np.isnan(x)
        logs = np.array(
            [
                np.log(pk) + multivariate_normal(mu[o], c[np.ix_(o, o)]).logpdf(x[o])
                for pk, mu, c in zip(params.weights, means, covs, strict=True)
            ]
        )
        loglik += wi * logsumexp(logs)
        r = wi * np.exp(logs - logsumexp(logs))
        for k in range(2):
            c = covs[k]
            gain = c[np.ix_(m, o)] @ np.linalg.inv(c[np.ix_(o, o)])
            xhat = x.copy()
            xhat[m] = means[k][m] + gain @ (x[o] - means[k][o])
            cond = np.zeros((3, 3))
            cond[np.ix_(m, m)] = c[np.ix_(m, m)] - gain @ c[np.ix_(o, m)]
            nk[k] += r[k]
            sx[k] += r[k] * (xhat - shift)
            scatter[k] += r[k] * (np.outer(xhat - shift, xhat - shift) + cond)
    np.testing.assert_allclose(stats.nk, nk, rtol=1e-11)
    np.testing.assert_allclose(stats.sx, sx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(
        stats.sxx, family_scatter(family, scatter), rtol=1e-10, atol=1e-10
    )
    assert stats.loglik == pytest.approx(loglik, rel=1e-12)
    assert stats.weight == pytest.approx(w.sum(), rel=1e-14)


# ------------------------------------------------------- (b) monotone EM
@pytest.mark.parametrize(
    "covariance_type", ["full", "tied", "diag", "spherical", "VEI", "EVE", "VVE"]
)
def test_observed_loglik_increases_every_iteration(covariance_type):
    _, Xm = _mixture_data(300, 3, 2, seed=4, missing=0.25)
    gm = _fit(Xm, 2, covariance_type, tol=1e-10, max_iter=300)
    lb = np.asarray(gm.lower_bounds_)
    assert lb.size > 5
    # Relative tolerance 1e-9 on each step (rounding of the sums).
    assert np.all(np.diff(lb) >= -1e-9 * np.abs(lb[1:])), np.diff(lb).min()
    # lower_bound_ is the observed-data log-likelihood (scipy, row by row) of
    # the parameters before the last M-step; at convergence, of the fitted ones
    # within 1e-8 relative.
    ll = _observed_loglik(Xm, gm.weights_, gm.means_, _dense(gm)) / Xm.shape[0]
    assert gm.lower_bound_ == pytest.approx(ll, rel=1e-8)


# --------------------------------------- (c) direct numerical maximisation
def _unpack(theta, k, d):
    logits = np.concatenate([[0.0], theta[: k - 1]])
    weights = np.exp(logits - logsumexp(logits))
    pos = k - 1
    means = theta[pos : pos + k * d].reshape(k, d)
    pos += k * d
    covs = []
    tri = np.tril_indices(d)
    for _ in range(k):
        L = np.zeros((d, d))
        L[tri] = theta[pos : pos + tri[0].size]
        pos += tri[0].size
        L[np.diag_indices(d)] = np.exp(np.diag(L))
        covs.append(L @ L.T)
    return weights, means, np.array(covs)


def _pack(weights, means, covs):
    d = means.shape[1]
    parts = [np.log(weights[1:] / weights[0]), means.ravel()]
    tri = np.tril_indices(d)
    for c in covs:
        L = np.linalg.cholesky(c)
        L[np.diag_indices(d)] = np.log(np.diag(L))
        parts.append(L[tri])
    return np.concatenate(parts)


@pytest.mark.parametrize(("n", "d", "k", "seed"), [(30, 3, 1, 5), (40, 2, 2, 6)])
def test_agrees_with_direct_maximisation(n, d, k, seed):
    _, Xm = _mixture_data(n, d, k, seed=seed, missing=0.2)
    gm = _fit(Xm, k, "full", n_init=3)
    em_ll = _observed_loglik(Xm, gm.weights_, gm.means_, gm.covariances_)

    def objective(theta):
        return -_observed_loglik(Xm, *_unpack(theta, k, d))

    # Start from the complete-case moments (K = 1) or a perturbed EM answer
    # (K = 2: a nearby start, so the optimiser looks for the same mode).
    if k == 1:
        cc = Xm[~np.isnan(Xm).any(axis=1)]
        start = _pack(np.ones(1), cc.mean(0, keepdims=True), [np.cov(cc.T) + 0.1])
    else:
        rng = np.random.RandomState(0)
        start = _pack(gm.weights_, gm.means_, gm.covariances_)
        start = start + rng.normal(scale=0.1, size=start.size)
    res = minimize(objective, start, method="BFGS", options={"gtol": 1e-9})
    w, mu, cov = _unpack(res.x, k, d)
    # EM reaches the optimiser's maximum within 1e-7 relative (and never less).
    assert em_ll >= -res.fun - 1e-7 * abs(res.fun)
    order = np.argsort(mu[:, 0])
    gm_order = np.argsort(gm.means_[:, 0])
    # Parameters within 1e-4 (the optimiser's accuracy in the flat directions).
    np.testing.assert_allclose(gm.weights_[gm_order], w[order], atol=1e-4)
    np.testing.assert_allclose(gm.means_[gm_order], mu[order], atol=1e-4)
    np.testing.assert_allclose(gm.covariances_[gm_order], cov[order], atol=1e-4)


# ------------------------------------------------------- (d) K = 1 closed forms
def test_one_component_diag_is_per_feature_observed_moments():
    """Diagonal K = 1: the likelihood factors by feature; MLE = observed moments."""
    _, Xm = _mixture_data(80, 3, 1, seed=7, missing=0.3)
    gm = _fit(Xm, 1, "diag")
    np.testing.assert_allclose(gm.means_[0], np.nanmean(Xm, axis=0), rtol=1e-9)
    np.testing.assert_allclose(gm.covariances_[0], np.nanvar(Xm, axis=0), rtol=1e-7)


def test_one_component_full_monotone_pattern_closed_form():
    """One column missing: Anderson's (1957) factored likelihood gives the MLE."""
    rng = np.random.RandomState(8)
    X = rng.multivariate_normal([1.0, -2.0], [[2.0, 1.2], [1.2, 1.5]], 60)
    X[rng.rand(60) < 0.3, 1] = np.nan
    gm = _fit(X, 1, "full")
    x1, both = X[:, 0], ~np.isnan(X[:, 1])
    mu1, s11 = x1.mean(), x1.var()
    a, b = X[both, 0], X[both, 1]
    beta = np.cov(a, b, bias=True)[0, 1] / a.var()
    alpha = b.mean() - beta * a.mean()
    resid = np.mean((b - alpha - beta * a) ** 2)
    expected_mean = [mu1, alpha + beta * mu1]
    expected_cov = [[s11, beta * s11], [beta * s11, resid + beta**2 * s11]]
    # EM stops when the mean log-likelihood changes by < 1e-14: the parameters,
    # at a maximum, are then accurate to about the square root of that.
    np.testing.assert_allclose(gm.means_[0], expected_mean, rtol=1e-6)
    np.testing.assert_allclose(gm.covariances_[0], expected_cov, rtol=1e-6)


# ------------------------------------------------- sample weights
def test_integer_weights_are_repetitions():
    _, Xm = _mixture_data(60, 3, 2, seed=9, missing=0.2)
    counts = np.random.RandomState(1).randint(1, 4, size=Xm.shape[0])
    start = {
        "weights_init": [0.5, 0.5],
        "means_init": np.nanmean(Xm, 0) + np.array([[-1.0, 0, 0], [1.0, 0, 0]]),
    }
    kw = {"tol": 1e-10, "max_iter": 50}
    a = _fit(Xm, 2, "full", **start, **kw).fit(Xm, sample_weight=counts)
    b = _fit(np.repeat(Xm, counts, axis=0), 2, "full", **start, **kw)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-9)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-9)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-10)


# ------------------------------------------- (e) predictions with NaN
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_predictions_are_the_marginal_mixture(covariance_type):
    X, Xm = _mixture_data(200, 3, 2, seed=10, missing=0.3)
    gm = GaussianMixture(
        2, covariance_type=covariance_type, nan_policy="marginalize", random_state=0
    ).fit(Xm)
    test = X[:20].copy()
    test[::3, 0] = np.nan
    test[1::3, 1:] = np.nan
    test[5] = np.nan  # nothing observed: log p = 0, resp = weights
    covs = _dense(gm)
    log_wp = np.empty((20, 2))
    for i, x in enumerate(test):
        o = ~np.isnan(x)
        for k in range(2):
            log_wp[i, k] = np.log(gm.weights_[k]) + (
                multivariate_normal(gm.means_[k][o], covs[k][np.ix_(o, o)]).logpdf(x[o])
                if o.any()
                else 0.0
            )
    expected = logsumexp(log_wp, axis=1)
    np.testing.assert_allclose(gm.score_samples(test), expected, rtol=1e-10, atol=1e-13)
    resp = np.exp(log_wp - expected[:, None])
    np.testing.assert_allclose(gm.predict_proba(test), resp, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(gm.predict(test), resp.argmax(axis=1))
    assert gm.score(test) == pytest.approx(expected.mean(), rel=1e-12)
    # Rows without NaN: the ordinary predictions, bit for bit.
    template = GaussianMixture(2, covariance_type=covariance_type).get_params()
    plain = build_fitted(template, gm.fitted_model(), FitInfo(True, 1, 0.0))
    full_rows = ~np.isnan(test).any(axis=1)
    np.testing.assert_array_equal(
        gm.score_samples(test)[full_rows], plain.score_samples(test[full_rows])
    )


def test_fit_predict_labels_every_row():
    _, Xm = _mixture_data(150, 3, 2, seed=11, missing=0.2)
    gm = GaussianMixture(2, nan_policy="marginalize", random_state=0)
    labels = gm.fit_predict(Xm)
    np.testing.assert_array_equal(labels, gm.predict(Xm))


# --------------------------------------------------------- (f) impute
def test_impute_conditional_mean_closed_form_one_component():
    _, Xm = _mixture_data(100, 3, 1, seed=12, missing=0.2)
    gm = _fit(Xm, 1, "full", tol=1e-6)
    mu, c = gm.means_[0], gm.covariances_[0]
    out = gm.impute(Xm)
    for x, y in zip(Xm, out, strict=True):
        o, m = ~np.isnan(x), np.isnan(x)
        np.testing.assert_array_equal(y[o], x[o])
        if m.any():
            expected = mu[m] + c[np.ix_(m, o)] @ np.linalg.solve(
                c[np.ix_(o, o)], x[o] - mu[o]
            )
            np.testing.assert_allclose(y[m], expected, rtol=1e-10, atol=1e-12)


def test_impute_draws_have_the_conditional_moments():
    X, Xm = _mixture_data(200, 3, 2, seed=13, missing=0.2)
    gm = GaussianMixture(2, nan_policy="marginalize", random_state=0).fit(Xm)
    row = np.array([[X[0, 0], np.nan, np.nan]])
    n_draws = 20000
    draws = gm.impute(row, n_imputations=n_draws, random_state=0)
    assert draws.shape == (n_draws, 1, 3)
    assert np.all(draws[:, 0, 0] == row[0, 0])
    # Conditional law: a mixture of the components' conditional Gaussians.
    resp = gm.predict_proba(row)[0]
    covs = _dense(gm)
    mean = np.zeros(2)
    second = np.zeros((2, 2))
    for k in range(2):
        c = covs[k]
        gain = c[1:, :1] / c[0, 0]
        xk = gm.means_[k, 1:] + gain[:, 0] * (row[0, 0] - gm.means_[k, 0])
        ck = c[1:, 1:] - gain @ c[:1, 1:]
        mean += resp[k] * xk
        second += resp[k] * (ck + np.outer(xk, xk))
    cov = second - np.outer(mean, mean)
    np.testing.assert_allclose(gm.impute(row)[0, 1:], mean, rtol=1e-10)
    sample = draws[:, 0, 1:]
    # Means within 4 standard errors; covariance within 5% (20,000 draws).
    se = np.sqrt(np.diag(cov) / n_draws)
    assert np.all(np.abs(sample.mean(axis=0) - mean) < 4 * se)
    np.testing.assert_allclose(np.cov(sample.T), cov, rtol=0.05, atol=0.02)
    again = gm.impute(row, n_imputations=3, random_state=1)
    np.testing.assert_array_equal(
        again, gm.impute(row, n_imputations=3, random_state=1)
    )


def test_float32_data():
    _, Xm = _mixture_data(200, 3, 2, seed=14)
    gm = GaussianMixture(2, nan_policy="marginalize", random_state=0)
    gm.fit(Xm.astype(np.float32))
    assert gm.means_.dtype == np.float32
    ref = GaussianMixture(2, nan_policy="marginalize", random_state=0).fit(Xm)
    # float32 input rounded to 24 bits: the fits agree to about 1e-5.
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-4, atol=1e-4)
    assert gm.impute(Xm.astype(np.float32)).dtype == np.float32


# --------------------------------------------------------- "omit"
def test_omit_drops_rows_with_a_warning():
    _, Xm = _mixture_data(200, 3, 2, seed=15)
    n_nan = int(np.isnan(Xm).any(axis=1).sum())
    with pytest.warns(UserWarning, match=f"left out {n_nan} of {Xm.shape[0]} rows"):
        gm = GaussianMixture(2, nan_policy="omit", random_state=0).fit(Xm)
    ref = GaussianMixture(2, random_state=0).fit(Xm[~np.isnan(Xm).any(axis=1)])
    np.testing.assert_array_equal(gm.means_, ref.means_)
    with pytest.raises(ValueError, match="NaN"):
        gm.predict(Xm)
    with pytest.warns(UserWarning, match="left out"):
        labels = GaussianMixture(2, nan_policy="omit", random_state=0).fit_predict(Xm)
    assert np.all(labels[np.isnan(Xm).any(axis=1)] == -1)


# --------------------------------------------------------- (g) errors
def test_errors():
    _, Xm = _mixture_data(100, 3, 2, seed=16)
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        GaussianMixture(nan_policy="ignore").fit(Xm)
    with pytest.raises(ValueError, match="nan_policy='marginalize'"):
        GaussianMixture(2).fit(Xm)  # the default: the error names the fix
    bad = Xm.copy()
    bad[0, 0] = np.inf
    for policy in ("marginalize", "omit"):
        with pytest.raises(ValueError, match="infinity"):
            GaussianMixture(2, nan_policy=policy).fit(bad)
    gm = GaussianMixture(2, nan_policy="marginalize", random_state=0).fit(Xm)
    with pytest.raises(ValueError, match="infinity"):
        gm.predict(bad)
    no_column = Xm.copy()
    no_column[:, 1] = np.nan
    no_column[:, 1] = np.nan
    no_column = no_column[~np.isnan(no_column).all(axis=1)]
    with pytest.raises(ValueError, match=r"feature\(s\) \[1\].*no observed value"):
        GaussianMixture(2, nan_policy="marginalize").fit(no_column)
    with pytest.raises(ValueError, match="noise component"):
        GaussianMixture(2, nan_policy="marginalize", noise=True).fit(Xm)
    with pytest.raises(ValueError, match="n_imputations"):
        gm.impute(Xm, n_imputations=0)


def test_rows_with_nothing_observed_are_dropped_with_a_warning():
    _, Xm = _mixture_data(100, 3, 2, seed=17)
    with_empty = np.vstack([Xm, np.full((2, 3), np.nan)])
    n = with_empty.shape[0]
    with pytest.warns(UserWarning, match=f"2 of {n} rows of X have every value"):
        a = GaussianMixture(2, nan_policy="marginalize", random_state=0).fit(with_empty)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = GaussianMixture(2, nan_policy="marginalize", random_state=0).fit(Xm)
    np.testing.assert_array_equal(a.means_, b.means_)
    with pytest.raises(ValueError, match="needs at least 2 rows with a value"):
        GaussianMixture(2, nan_policy="marginalize").fit(np.full((5, 3), np.nan))


def test_mclust_names_stop_sooner_with_missing_values():
    """mclust's 10,000-iteration limit becomes 1,000 under 'marginalize'.

    With many values missing and no regularisation the likelihood can be
    unbounded, and EM creeps towards a singular covariance (wine, 30% missing,
    VVV: 343 s at the old limit).
    """
    from gaussmix._validation import MCLUST_MAX_ITER, MISSING_MCLUST_MAX_ITER

    assert (
        GaussianMixture(covariance_type="VVV").em_control().max_iter == MCLUST_MAX_ITER
    )
    marginal = GaussianMixture(covariance_type="VVV", nan_policy="marginalize")
    assert marginal.em_control().max_iter == MISSING_MCLUST_MAX_ITER == 1_000
    full = GaussianMixture(covariance_type="full", nan_policy="marginalize")
    assert full.em_control().max_iter == 100  # scikit-learn's, unchanged
    given = GaussianMixture(covariance_type="VVV", nan_policy="marginalize", max_iter=7)
    assert given.em_control().max_iter == 7
