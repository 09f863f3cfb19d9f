"""gaussmix.resampling: MclustBootstrap and mclustBootstrapLRT, against R and on their own.

Against R's mclust (``@pytest.mark.mclust``, replayed from tests/references/):

* **Jackknife** (deterministic): the standard errors within 1e-4 relative of
  ``summary(MclustBootstrap(mod, type = "jk"), what = "se")``. The jackknife's
  leave-one-out refits stop after about two EM iterations, so their spread is of
  the size of one EM step and depends on the exact start: both sides fit the
  model to convergence first (R: ``emControl(tol = c(1e-12, 1e-12))``; gaussmix:
  ``tol=1e-13``), which makes the two fitted models, and so every refit's
  responsibilities, equal to about 1e-10 (the log-likelihoods agree within
  1e-9 relative). With mclust's default tolerance the two fits differ by one
  EM step (mclust returns the parameters of its last E-step, gaussmix those
  after one more M-step), and the jackknife standard errors then differ by up
  to 2.5% on faithful. The refits themselves use
  mclust's default ``emControl()`` on both sides, whatever the fit's.
* **Random methods** ("bs", "wlbs", "pb"): NumPy's draws are not R's, so the
  standard errors agree within Monte Carlo error. An SE estimated from ``B``
  replicates of a distribution with excess kurtosis ``kappa`` has a relative
  standard deviation of about ``sqrt(1 / (2 (B - 1)) + kappa / (4 B))``
  (``1 / sqrt(2B)`` for normal replicates); the two sides' errors add in
  variance, and the test allows 4 of those standard deviations, with
  ``kappa`` estimated from gaussmix's replicates (at least 0). With
  ``B = 999`` on both sides and normal replicates that is 12.7%; the timed
  tests use ``B = 199`` (28%), the ``slow`` ones 999.
* **LRT**: the observed statistics within 1e-6 (absolute) of
  ``mclustBootstrapLRT(X, modelName =, maxG =)$obs``; the p-values within
  Monte Carlo error, ``4 sqrt(p (1 - p) (1/B_R + 1/B_py)) + 1 / (B + 1)``
  (the last term for the discreteness of ``(1 + count) / (B + 1)``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import math
import multiprocessing
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kurtosis
from sklearn.exceptions import NotFittedError

from gaussmix import ConvergenceWarning, GaussianMixture
from gaussmix.core import fast_em, kernels
from gaussmix.resampling import (
    METHODS,
    PARAMETERS,
    BootstrapLRTResult,
    BootstrapResult,
    bootstrap,
    bootstrap_lrt,
)

#: The module itself (``gaussmix.bootstrap`` may also name the function, once
#: the package exports it).
bootstrap_module = importlib.import_module("gaussmix.resampling")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "14_bootstrap.py"

#: The model fitted to each mclust data set (mclust's model names; K).
CASES = {
    "faithful": ("EEE", 3),
    "iris": ("VEV", 2),
    "diabetes": ("VVV", 3),
    "banknote": ("VVV", 3),
}
#: Agreement of the jackknife's standard errors with mclust's (relative).
JK_RTOL = 1e-4
#: Agreement of the log-likelihoods of the same fit (relative).
FIT_RTOL = 1e-6
#: Standard deviations of Monte Carlo error allowed.
MC_SIGMAS = 4.0
#: Replicates of the timed comparisons (the slow ones use mclust's 999).
TIMED_BOOT = 199
#: Seed of R's draws (set.seed) and of gaussmix's.
SEED = 1
#: Tests of the compiled path (GAUSSMIX_NO_COMPILED=1 turns the kernels off).
needs_kernels = pytest.mark.skipif(
    not kernels.ENABLED, reason="the compiled kernels are off (GAUSSMIX_NO_COMPILED)"
)


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def data():
    """Three round clusters, 240 rows, for the unit tests."""
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [2.5, 4.0]])
    X = np.vstack([rng.normal(c, 1.0, (80, 2)) for c in centres])
    return X


@pytest.fixture(scope="module")
def fitted(data):
    return GaussianMixture(3, covariance_type="VVV").fit(data)


def _full(covariances, covariance_type, n_components, n_features):
    """One model's covariances, in any storage, as ``(K, D, D)`` matrices."""
    c = np.asarray(covariances, dtype=np.float64)
    family = bootstrap_module.get_family(covariance_type)
    code = fast_em.storage_shape(family)
    out = np.zeros((n_components, n_features, n_features))
    idx = np.arange(n_features)
    if code == 0:  # spherical (K,)
        out[:, idx, idx] = c[:, None]
    elif code == 1:  # diagonal (K, D)
        out[:, idx, idx] = c
    else:  # common (D, D) or full (K, D, D)
        out[:] = c
    return out


def _r_se(got):
    """mclust's standard errors as (weights (K,), means (K, D), covariances (K, D, D))."""
    pro = np.atleast_1d(np.asarray(got["pro"], dtype=np.float64))
    mean = np.asarray(got["mean"], dtype=np.float64).T  # (d, G) -> (G, d)
    variance = np.asarray(got["variance"], dtype=np.float64)  # (G, d, d)
    return pro, mean, variance


def _our_se(result, n_components, n_features):
    cov = _full(
        result.se["covariances"], result.covariance_type, n_components, n_features
    )
    return result.se["weights"], result.se["means"], cov


def _upper(a):
    """The upper triangles (with diagonals) of ``(K, D, D)`` matrices, flattened."""
    i, j = np.triu_indices(a.shape[-1])
    return a[:, i, j].ravel()


def _excess_kurtosis(result, n_components, n_features):
    """Excess kurtosis of gaussmix's replicates per parameter entry (at least 0)."""
    reps = result.replicates
    cov = np.stack(
        [
            _upper(_full(c, result.covariance_type, n_components, n_features))
            for c in reps["covariances"]
        ]
    )
    parts = [reps["weights"], reps["means"].reshape(len(reps["means"]), -1), cov]
    return [
        np.maximum(kurtosis(p, axis=0, fisher=True, bias=False), 0.0) for p in parts
    ]


def _fit(X, model, k, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a degenerate fit would not be the same model
        return GaussianMixture(
            k, covariance_type=model, init_params="hc", **kwargs
        ).fit(X)


# ===================================================== against R's mclust
R_FIT = (
    'm <- Mclust(X, G = {k}, modelNames = "{model}", verbose = FALSE)\n'
    "emit(list(loglik = m$loglik, pro = m$parameters$pro))\n"
)
R_JK = (
    'm <- Mclust(X, G = {k}, modelNames = "{model}", verbose = FALSE,\n'
    "            control = emControl(tol = c(1e-12, 1e-12)))\n"
    'b <- MclustBootstrap(m, type = "jk", verbose = FALSE)\n'
    's <- summary(b, what = "se")\n'
    "emit(list(loglik = m$loglik, nonfit = b$nonfit, pro = s$pro, mean = s$mean,\n"
    "          variance = s$variance))\n"
)
R_RANDOM = (
    'm <- Mclust(X, G = {k}, modelNames = "{model}", verbose = FALSE)\n'
    "set.seed({seed})\n"
    'b <- MclustBootstrap(m, nboot = {n_boot}, type = "{method}", verbose = FALSE)\n'
    's <- summary(b, what = "se")\n'
    "emit(list(nonfit = b$nonfit, pro = s$pro, mean = s$mean, variance = s$variance))\n"
)
R_LRT = (
    "set.seed({seed})\n"
    'l <- mclustBootstrapLRT(X, modelName = "{model}", maxG = {max_g}, '
    "nboot = {n_boot}, verbose = FALSE)\n"
    "emit(list(obs = l$obs, p = l$p.value, G = l$G))\n"
)


@pytest.mark.mclust
@pytest.mark.parametrize("name", list(CASES))
def test_same_fit_as_mclust(mclust, name):
    """The default fits agree with mclust's before any comparison of refits."""
    model, k = CASES[name]
    X = mclust.dataset(name)
    got = mclust.run_r(R_FIT.format(k=k, model=model), X=X)
    gm = _fit(X, model, k)
    # lower_bound_ is the log-likelihood of the last E-step, as mclust reports.
    assert gm.lower_bound_ * len(X) == pytest.approx(got["loglik"], rel=FIT_RTOL)
    # The same components in the same order (the SEs are compared per component).
    # mclust returns the parameters of its last E-step and gaussmix those after one
    # more M-step: on banknote's slowly converging fit they differ by 7e-4.
    np.testing.assert_allclose(gm.weights_, got["pro"], rtol=2e-3)


@pytest.mark.mclust
@pytest.mark.parametrize("name", list(CASES))
def test_jackknife_matches_mclust(mclust, name):
    """Jackknife standard errors within 1e-4 of mclust's, from the same converged fit."""
    model, k = CASES[name]
    X = mclust.dataset(name)
    got = mclust.run_r(R_JK.format(k=k, model=model), X=X)
    gm = _fit(X, model, k, tol=1e-13, max_iter=100_000)
    assert gm.lower_bound_ * len(X) == pytest.approx(got["loglik"], rel=1e-9)
    result = bootstrap(gm, X, method="jk")
    assert result.n_boot == len(X)
    assert result.n_nonfit == got["nonfit"] == 0
    for ours, theirs, what in zip(
        _our_se(result, k, X.shape[1]), _r_se(got), PARAMETERS, strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=JK_RTOL, err_msg=f"{name} {what}")


def _random_case(mclust, name, method, n_boot):
    model, k = CASES[name]
    X = mclust.dataset(name)
    got = mclust.run_r(
        R_RANDOM.format(k=k, model=model, seed=SEED, n_boot=n_boot, method=method), X=X
    )
    gm = _fit(X, model, k)
    result = bootstrap(gm, X, n_boot=n_boot, method=method, random_state=SEED)
    assert result.n_boot == n_boot
    assert np.isfinite(result.weights).all()
    d = X.shape[1]
    ours = _our_se(result, k, d)
    theirs = _r_se(got)
    kappa = _excess_kurtosis(result, k, d)
    flat_ours = [ours[0], ours[1].ravel(), _upper(ours[2])]
    flat_theirs = [theirs[0], theirs[1].ravel(), _upper(theirs[2])]
    report = []
    for what, a, b, kap in zip(PARAMETERS, flat_ours, flat_theirs, kappa, strict=True):
        # Relative standard deviation of each side's SE, added in variance.
        sd = np.sqrt(2.0 * (1.0 / (2.0 * (n_boot - 1)) + kap / (4.0 * n_boot)))
        tol = MC_SIGMAS * sd
        rel = a / b - 1.0
        report.append((what, np.round(rel, 3), np.round(tol, 3)))
        assert np.all(np.abs(rel) <= tol), (name, method, report)


@pytest.mark.mclust
@pytest.mark.parametrize(
    ("name", "method"),
    [(n, m) for n in CASES for m in ("bs", "pb")]
    # R's weighted EM is an R loop (about 40 s for 199 replicates): out of the timed
    # suite and CI's live layer; wlbs itself is timed in test_weighted_refit_*.
    + [pytest.param(n, "wlbs", marks=pytest.mark.slow) for n in ("faithful", "iris")],
)
def test_random_methods_match_mclust_timed(mclust, name, method):
    """bs, pb (and wlbs on two sets, slow): SEs within Monte Carlo error, 199 replicates."""
    _random_case(mclust, name, method, TIMED_BOOT)


@pytest.mark.slow
@pytest.mark.mclust
@pytest.mark.parametrize(
    ("name", "method"), [(n, m) for n in CASES for m in ("bs", "wlbs", "pb")]
)
def test_random_methods_match_mclust_999(mclust, name, method):
    """mclust's default 999 replicates: SEs within Monte Carlo error (12.7% normal)."""
    _random_case(mclust, name, method, 999)


def _lrt_case(mclust, name, model, max_g, n_boot):
    X = mclust.dataset(name)
    got = mclust.run_r(
        R_LRT.format(seed=SEED, model=model, max_g=max_g, n_boot=n_boot), X=X
    )
    result = bootstrap_lrt(
        X, model, max_components=max_g, n_boot=n_boot, random_state=SEED
    )
    table = result.table
    assert (
        list(table["n_components"])
        == list(np.atleast_1d(got["G"]))
        == list(range(1, max_g + 1))
    )
    np.testing.assert_allclose(table["statistic"], got["obs"], rtol=0, atol=1e-6)
    p_r = np.atleast_1d(np.asarray(got["p"], dtype=np.float64))
    p = np.asarray(table["p_value"], dtype=np.float64)
    pooled = (p + p_r) / 2
    tol = MC_SIGMAS * np.sqrt(pooled * (1 - pooled) * 2.0 / n_boot) + 1.0 / (n_boot + 1)
    assert np.all(np.abs(p - p_r) <= tol), (p, p_r, tol)
    assert result.replicates.shape == (n_boot, max_g)


@pytest.mark.mclust
@pytest.mark.parametrize(("name", "model"), [("faithful", "EEE"), ("iris", "VEV")])
def test_lrt_matches_mclust_timed(mclust, name, model):
    """Observed LRT statistics within 1e-6 of mclust's; p-values within MC error (99)."""
    _lrt_case(mclust, name, model, 3, 99)


@pytest.mark.slow
@pytest.mark.mclust
@pytest.mark.parametrize(("name", "model"), [("faithful", "EEE"), ("diabetes", "VVV")])
def test_lrt_matches_mclust_999(mclust, name, model):
    _lrt_case(mclust, name, model, 3, 999)


# ============================================================ the refits
def _mclust_me_reference(X, z, model, k, weights=None, absolute=False):
    """mclust's ``me`` by the estimator: P_t by ``resp_init`` and ``max_iter = t - 1``.

    Returns the estimator fitted to ``P_t`` and ``t``, where ``t`` is the first
    iteration ``>= 2`` whose log-likelihood meets mclust's rule, read from the
    estimator's own trace (``lower_bounds_[j]`` is the bound of ``P_{j+1}``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: all 60 steps
        trace = GaussianMixture(
            k, covariance_type=model, resp_init=z, tol=0.0, max_iter=60
        ).fit(X, sample_weight=weights)
    total = len(X) if weights is None else float(np.sum(weights))
    L = np.asarray(trace.lower_bounds_) * total  # L[j] = loglik of P_{j+1}
    t = None
    for j in range(1, len(L)):
        met = (
            L[j] - L[j - 1] <= 1e-5
            if absolute
            else abs(L[j] - L[j - 1]) <= 1e-5 * (1 + abs(L[j]))
        )
        if met:
            t = j + 1
            break
    assert t is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = GaussianMixture(
            k, covariance_type=model, resp_init=z, tol=0.0, max_iter=t - 1
        ).fit(X, sample_weight=weights)
    return ref, t


@pytest.mark.parametrize("model", ["EEE", "VVV", "EII", "EEI", "EEV"])
def test_a_refit_is_mclusts_me(data, model):
    """Jackknife refits are P_t of mclust's me from the model's z (the estimator's).

    (Models whose M-step iterates are left out: the estimator loosens their inner
    tolerance early in a fit, the refits keep it tight as mclust does.)
    """
    gm = GaussianMixture(3, covariance_type=model, init_params="hc").fit(data)
    z = gm.predict_proba(data)
    result = bootstrap(gm, data, method="jk")
    for i in (0, 117):
        keep = np.arange(len(data)) != i
        ref, t = _mclust_me_reference(data[keep], z[keep], model, 3)
        assert result.n_iter[i] == t
        np.testing.assert_allclose(result.weights[i], ref.weights_, rtol=1e-9)
        np.testing.assert_allclose(result.means[i], ref.means_, rtol=1e-9)
        np.testing.assert_allclose(result.covariances[i], ref.covariances_, rtol=1e-9)


def test_weighted_refit_is_me_weighted(data):
    """wlbs: me.weighted's absolute rule on the weighted log-likelihood, from z * w."""
    gm = GaussianMixture(3, covariance_type="EEE", init_params="hc").fit(data)
    model = gm.fitted_model()
    refitter = bootstrap_module._Refitter(
        model,
        equal_proportions=False,
        reg_covar=0.0,
        dtype=data.dtype,
        n_rows=len(data),
    )
    rep = bootstrap_module._draw(
        "wlbs", data, bootstrap_module._Sampler(model), np.random.default_rng(3)
    )
    assert rep.w.max() == 1.0
    fit = refitter.me(rep.X, rep.w, refitter.rule(rep.total, weighted=True))
    ref, t = _mclust_me_reference(
        data, gm.predict_proba(data), "EEE", 3, weights=rep.w, absolute=True
    )
    assert fit.n_iter == t
    np.testing.assert_allclose(fit.means, ref.means_, rtol=1e-9)
    np.testing.assert_allclose(fit.covariances, ref.covariances_, rtol=1e-9)


@needs_kernels
@pytest.mark.parametrize("model", ["EEE", "VEV", "EVE", "VVV", "spherical"])
def test_compiled_path_equals_numpy_path(data, model, monkeypatch):
    """The compiled loop's replicates equal the NumPy EM's within 1e-9."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(3, covariance_type=model, init_params="hc").fit(data)
    kernels.load()
    fast = bootstrap(gm, data, n_boot=12, random_state=4, n_jobs=1)
    monkeypatch.setattr(fast_em, "USE_COMPILED", False)
    slow = bootstrap(gm, data, n_boot=12, random_state=4, n_jobs=1)
    np.testing.assert_array_equal(fast.n_iter, slow.n_iter)
    for name in PARAMETERS:
        np.testing.assert_allclose(
            fast.replicates[name], slow.replicates[name], rtol=1e-9, atol=1e-12
        )


@needs_kernels
def test_call_sizes_do_not_change_the_numbers(data, monkeypatch):
    """Where the calls of the compiled loop end leaves the results bit-equal.

    ``LOOSEN`` near 1 makes the first call overshoot ``t`` (and run again from
    its start), a large one ends it early (many forecast calls).
    """
    kernels.load()
    gm = GaussianMixture(3, covariance_type="VEV", init_params="hc").fit(data)
    model = gm.fitted_model()
    refitter = bootstrap_module._Refitter(
        model,
        equal_proportions=False,
        reg_covar=0.0,
        dtype=data.dtype,
        n_rows=len(data),
    )
    assert refitter.loop is not None
    sampler = bootstrap_module._Sampler(model)
    reps = [
        bootstrap_module._draw(method, data, sampler, np.random.default_rng(0))
        for method in ("bs", "wlbs", "pb")
    ]
    calls = []
    original = bootstrap_module._CompiledSteps.advance

    def counted(self, *args):
        calls.append(args[1])
        return original(self, *args)

    monkeypatch.setattr(bootstrap_module._CompiledSteps, "advance", counted)
    for rep, weighted in zip(reps, (False, True, False), strict=True):
        rule = refitter.rule(rep.total, weighted=weighted)
        fits = []
        for loosen in (2.0, 1.0 + 1e-9, 50.0):
            monkeypatch.setattr(bootstrap_module, "LOOSEN", loosen)
            calls.clear()
            steps = bootstrap_module._CompiledSteps(refitter, rep.X, rep.w, rule)
            fits.append(bootstrap_module._run_me(steps, rule, refitter.max_iter))
            assert len(calls) >= 2
        for other in fits[1:]:
            assert other.n_iter == fits[0].n_iter
            np.testing.assert_array_equal(other.weights, fits[0].weights)
            np.testing.assert_array_equal(other.means, fits[0].means)
            np.testing.assert_array_equal(other.covariances, fits[0].covariances)


# ================================================================ contract
@pytest.mark.parametrize(
    ("model", "cov_shape"),
    [("spherical", (3,)), ("diag", (3, 2)), ("tied", (2, 2)), ("VVV", (3, 2, 2))],
)
@pytest.mark.parametrize("method", list(METHODS))
def test_shapes(data, model, cov_shape, method):
    gm = GaussianMixture(3, covariance_type=model, random_state=0).fit(data)
    result = bootstrap(gm, data, n_boot=8, method=method, random_state=0)
    n = len(data) if method == "jk" else 8
    assert isinstance(result, BootstrapResult)
    assert result.n_boot == n
    assert result.weights.shape == (n, 3)
    assert result.means.shape == (n, 3, 2)
    assert result.covariances.shape == (n, *cov_shape)
    assert set(result.se) == set(PARAMETERS)
    assert result.se["covariances"].shape == gm.covariances_.shape
    assert result.se["means"].shape == gm.means_.shape
    for name, (lower, upper) in result.ci().items():
        assert lower.shape == upper.shape == result.se[name].shape
    np.testing.assert_allclose(result.weights.sum(axis=1), 1.0, rtol=1e-12)
    assert result.n_iter.shape == (n,)
    assert (result.n_iter >= 2).all()


def test_standard_errors_are_the_formulas(fitted, data):
    """sd of the replicates; the jackknife's sqrt((n-1)/n sum (theta_i - mean)^2)."""
    bs = bootstrap(fitted, data, n_boot=30, random_state=1)
    np.testing.assert_allclose(bs.se["means"], bs.means.std(axis=0, ddof=1), rtol=1e-12)
    jk = bootstrap(fitted, data, method="jk")
    n = len(data)
    dev = jk.weights - jk.weights.mean(axis=0)
    np.testing.assert_allclose(
        jk.se["weights"], np.sqrt((n - 1) / n * (dev**2).sum(axis=0)), rtol=1e-12
    )


def test_ci_ordering_and_nesting(fitted, data):
    result = bootstrap(fitted, data, n_boot=60, random_state=2, level=0.9)
    wide, narrow = result.ci(0.99), result.ci(0.5)
    default = result.ci()
    np.testing.assert_array_equal(default["means"][0], result.ci(0.9)["means"][0])
    for name in PARAMETERS:
        lo_w, hi_w = wide[name]
        lo_n, hi_n = narrow[name]
        assert np.all(lo_w <= lo_n)
        assert np.all(lo_n <= hi_n)
        assert np.all(hi_n <= hi_w)
        np.testing.assert_allclose(
            default[name][0], np.quantile(result.replicates[name], 0.05, axis=0)
        )
    jk = bootstrap(fitted, data, method="jk")
    lo, hi = jk.ci(0.95)["means"]
    centre = jk.means.mean(axis=0)
    np.testing.assert_allclose(
        hi - centre, 1.959963984540054 * jk.se["means"], rtol=1e-9
    )
    np.testing.assert_allclose(centre - lo, hi - centre, rtol=1e-9)


def test_intervals_cover_the_truth_roughly(data):
    """The 95% intervals of the means contain the true centres (3 clusters, sd 1)."""
    gm = GaussianMixture(3, covariance_type="VVV").fit(data)
    result = bootstrap(gm, data, n_boot=200, random_state=0)
    lower, upper = result.ci(0.999)["means"]
    order = np.argsort(gm.means_[:, 0] + 10 * gm.means_[:, 1])
    truth = np.array([[0.0, 0.0], [5.0, 0.0], [2.5, 4.0]])
    assert np.all((lower[order] <= truth) & (truth <= upper[order]))
    # Each mean's SE is about sd / sqrt(n_k) = 1 / sqrt(80), more where the
    # clusters overlap (measured: 0.98 to 1.42 times that).
    ratio = result.se["means"] * np.sqrt(80)
    assert np.all((ratio > 0.75) & (ratio < 1.6)), ratio


@pytest.mark.parametrize("method", ["bs", "wlbs", "pb"])
def test_reproducible_with_a_seed(fitted, data, method):
    a = bootstrap(fitted, data, n_boot=20, method=method, random_state=7, n_jobs=1)
    b = bootstrap(fitted, data, n_boot=20, method=method, random_state=7, n_jobs=2)
    c = bootstrap(fitted, data, n_boot=20, method=method, random_state=8, n_jobs=1)
    for name in PARAMETERS:
        np.testing.assert_array_equal(a.replicates[name], b.replicates[name])
    assert not np.array_equal(a.means, c.means)
    rs = np.random.RandomState(7)
    d = bootstrap(fitted, data, n_boot=20, method=method, random_state=rs)
    np.testing.assert_array_equal(a.means, d.means)


def test_jackknife_is_deterministic(fitted, data):
    a = bootstrap(fitted, data, method="jk", random_state=1, n_jobs=1)
    b = bootstrap(fitted, data, method="jk", random_state=2, n_jobs=2)
    np.testing.assert_array_equal(a.covariances, b.covariances)


def _ran_in_a_fresh_process(request) -> bool:
    """Run this test again in a new process when threads here forbid forking.

    The bootstrap forks only when this process has a single thread; a dask
    computation earlier in the same test worker leaves its thread pool alive.
    A new process has none, so the forked path is tested whatever ran before.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the fork start method")
    if bootstrap_module.can_fork():
        return False
    if os.environ.get("GAUSSMIX_FRESH_PROCESS"):
        pytest.fail("a fresh test process has more than one thread")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         request.node.nodeid],
        cwd=request.config.rootpath,
        env={**os.environ, "GAUSSMIX_FRESH_PROCESS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return True


@pytest.mark.parametrize("method", ["bs", "jk"])
def test_forked_processes_give_the_same_replicates(
    fitted, data, method, monkeypatch, request
):
    """With forking forced (no minimum saving), 3 processes give the serial results."""
    if _ran_in_a_fresh_process(request):
        return
    serial = bootstrap(fitted, data, n_boot=30, method=method, random_state=3, n_jobs=1)
    forks = []
    original = bootstrap_module._forked

    def spy(work, todo, n_workers):
        forks.append((len(todo), n_workers))
        return original(work, todo, n_workers)

    monkeypatch.setattr(bootstrap_module, "PROCESS_MIN_SECONDS", 0.0)
    monkeypatch.setattr(bootstrap_module, "_forked", spy)
    forked = bootstrap(fitted, data, n_boot=30, method=method, random_state=3, n_jobs=3)
    n = 30 if method == "bs" else len(data)
    assert forks == [(n - bootstrap_module.PROCESS_PROBE, 3)]
    for name in PARAMETERS:
        np.testing.assert_array_equal(serial.replicates[name], forked.replicates[name])
    np.testing.assert_array_equal(serial.n_iter, forked.n_iter)


def test_a_failing_child_leaves_its_share_to_the_parent(monkeypatch, request):
    """Work that fails in a child is run again in this process (and raises there)."""
    if _ran_in_a_fresh_process(request):
        return
    parent = os.getpid()

    def work(i):
        if os.getpid() != parent and i % 2:
            raise RuntimeError("child failure")
        return i * i

    assert bootstrap_module._forked(work, list(range(12)), 3) == [
        i * i for i in range(12)
    ]

    def broken(i):
        raise ValueError(f"bad item {i}")

    with pytest.raises(ValueError, match="bad item"):
        bootstrap_module._forked(broken, list(range(6)), 2)


def test_draws(fitted, data):
    """bs: distinct rows with counts summing to n; wlbs: largest weight 1; pb: n rows."""
    model = fitted.fitted_model()
    sampler = bootstrap_module._Sampler(model)
    rng = np.random.default_rng(0)
    n = len(data)
    for _ in range(5):
        rep = bootstrap_module._draw("bs", data, sampler, rng)
        assert rep.w.sum() == rep.total == n
        assert len(np.unique(rep.X, axis=0)) == len(rep.X) < n
        rep = bootstrap_module._draw("wlbs", data, sampler, rng)
        assert rep.w.max() == 1.0
        assert rep.total == pytest.approx(rep.w.sum())
    rep = bootstrap_module._draw("pb", data, sampler, rng)
    assert rep.X.shape == data.shape
    assert rep.w is None
    # The sampler draws from the model: means and covariances of many draws.
    big = sampler.draw(200_000, rng)
    centre = model.weights @ model.means
    np.testing.assert_allclose(big.mean(axis=0), centre, atol=0.02)
    second = np.einsum(
        "k,kij->ij",
        model.weights,
        model.covariances + np.einsum("ki,kj->kij", model.means, model.means),
    )
    np.testing.assert_allclose(
        np.cov(big.T), second - np.outer(centre, centre), rtol=0.03
    )


def test_label_switches_are_flagged(fitted):
    model = fitted.fitted_model()
    means = np.stack([model.means, model.means[[1, 0, 2]], model.means + 0.01])
    assert bootstrap_module._switched(means, model).tolist() == [False, True, False]


def test_non_fits_are_counted_and_redrawn():
    """A component on 3 of 40 rows collapses in some resamples: redrawn, counted."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (37, 2)), rng.normal(8, 0.05, (3, 2))])
    gm = GaussianMixture(2, covariance_type="VVV").fit(X)
    result = bootstrap(gm, X, n_boot=40, random_state=0)
    assert result.n_nonfit > 0
    assert np.isfinite(result.means).all()
    jk = bootstrap(gm, X, method="jk")
    nan_rows = ~np.isfinite(jk.weights).all(axis=1)
    assert nan_rows.sum() == jk.n_nonfit
    assert np.isfinite(jk.se["weights"]).all()


def test_to_frame_and_plot(fitted, data, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = bootstrap(fitted, data, n_boot=20, random_state=0)
    frame = result.to_frame()
    assert list(frame.columns) == [
        "parameter",
        "component",
        "row",
        "column",
        "estimate",
        "se",
        "lower",
        "upper",
    ]
    assert len(frame) == 3 + 6 + 12
    np.testing.assert_allclose(
        frame.loc[frame.parameter == "means", "se"], result.se["means"].ravel()
    )
    assert (frame["lower"] <= frame["upper"]).all()
    for parameter, shape in [("means", (2, 3)), ("weights", (1, 3)), ("var", (2, 3))]:
        axes = result.plot(parameter)
        assert axes.shape == shape
        axes[0, 0].figure.savefig(tmp_path / f"{parameter}.png")
        plt.close("all")
    tied = bootstrap(
        GaussianMixture(3, covariance_type="EEE").fit(data),
        data,
        n_boot=5,
        random_state=0,
    )
    assert tied.plot("covariances").shape == (2, 1)
    _fig, given = plt.subplots(2, 3)
    assert result.plot("means", ax=given)[1, 2] is given[1, 2]
    with pytest.raises(ValueError, match="needs 6"):
        result.plot("means", ax=given[0])
    with pytest.raises(ValueError, match="parameter must be one of"):
        result.plot("variance")
    plt.close("all")


# ================================================================== errors
def test_errors(fitted, data):
    with pytest.raises(ValueError, match="n_boot must be at least 2"):
        bootstrap(fitted, data, n_boot=1)
    with pytest.raises(TypeError, match="n_boot must be an integer"):
        bootstrap(fitted, data, n_boot=2.5)
    with pytest.raises(ValueError, match="method must be one of 'bs', 'wlbs'"):
        bootstrap(fitted, data, method="nonpara")
    with pytest.raises(ValueError, match="level must be in"):
        bootstrap(fitted, data, level=95)
    with pytest.raises(NotFittedError):
        bootstrap(GaussianMixture(3), data)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture"):
        bootstrap(fitted, np.hstack([data, data[:, :1]]))
    with pytest.raises(TypeError, match=r"must be a fitted gaussmix\.GaussianMixture"):
        bootstrap("model", data)
    with pytest.raises(ValueError, match="noise component"):
        bootstrap(GaussianMixture(3, noise=True).fit(data), data)
    with pytest.raises(ValueError, match="prior"):
        bootstrap(GaussianMixture(3, prior="default").fit(data), data)
    with pytest.raises(ValueError, match="n_jobs"):
        bootstrap(fitted, data, n_jobs=0)
    result = bootstrap(fitted, data, n_boot=3, random_state=0)
    with pytest.raises(ValueError, match="level must be in"):
        result.ci(1.0)


def test_lrt_contract(data):
    result = bootstrap_lrt(data, "VVV", max_components=3, n_boot=19, random_state=0)
    assert isinstance(result, BootstrapLRTResult)
    assert list(result.table.columns) == ["n_components", "statistic", "p_value"]
    assert list(result.table["n_components"]) == [1, 2, 3]
    assert result.replicates.shape == (19, 3)
    count = (result.replicates >= result.table["statistic"].to_numpy()).sum(axis=0)
    np.testing.assert_allclose(result.table["p_value"], (1 + count) / 20)
    # Three clusters: 1 and 2 components are rejected, 3 is not.
    p = result.table["p_value"].to_numpy()
    assert p[0] == p[1] == 0.05
    assert p[2] > 0.05
    fits = [
        GaussianMixture(k, covariance_type="VVV", init_params="hc").fit(data)
        for k in (1, 2)
    ]
    observed = 2 * len(data) * (fits[1].lower_bound_ - fits[0].lower_bound_)
    assert result.table["statistic"][0] == pytest.approx(observed, rel=1e-12)
    # scikit-learn's names are their mclust models, with mclust's control.
    full = bootstrap_lrt(data, "full", max_components=1, n_boot=19, random_state=0)
    assert full.covariance_type == "VVV"
    np.testing.assert_array_equal(full.replicates[:, 0], result.replicates[:, 0])
    # mclust's sequence (no max_components) stops after the first p > level.
    seq = bootstrap_lrt(data, "VVV", n_boot=19, random_state=0)
    assert list(seq.table["n_components"]) == [1, 2, 3]
    np.testing.assert_array_equal(seq.replicates, result.replicates)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert result.plot(2).get_title().startswith("bootstrap LRT, VVV: 2 vs 3")
    with pytest.raises(ValueError, match="no test of 5 components"):
        result.plot(5)
    plt.close("all")


def test_lrt_errors(data):
    with pytest.raises(ValueError, match="n_boot must be at least 2"):
        bootstrap_lrt(data, "VVV", 2, n_boot=1)
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        bootstrap_lrt(data, "XYZ", 2)
    with pytest.raises(ValueError, match="max_components must be None"):
        bootstrap_lrt(data, "VVV", 0)
    with pytest.raises(ValueError, match="needs at least 5 rows"):
        bootstrap_lrt(data[:4], "VVV", 4)


# ================================================================= example
def test_gallery_example_14_bootstrap(tmp_path):
    """examples/14_bootstrap.py at --small sizes: its figures and its claims."""
    spec = importlib.util.spec_from_file_location("gallery_14_bootstrap", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = module.main(["--small", "--out", str(tmp_path)])
    text = printed.getvalue()
    assert len(result["figures"]) == 2
    for figure in result["figures"]:
        png = Path(figure)
        assert png.parent == tmp_path
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 10_000
        assert f"figure written to {png}" in text
    assert "standard errors (199 replicates" in text
    # The four methods estimate the same spread: within 40% of the bootstrap's
    # (199 replicates: 4 Monte Carlo standard deviations are about 28%).
    assert result["largest_log_ratio"] < math.log(1.4)
    assert 0.8 < result["jk_bs_ratio"] < 1.2
    # About 95% of the 9 intervals contain the truth (at most 2 misses here).
    assert result["n_inside"] >= result["n_parameters"] - 2
    # 1 and 2 components are rejected at the smallest p-value, 3 is not.
    smallest = 1 / (result["lrt_n_boot"] + 1)
    p = result["lrt_p_values"]
    np.testing.assert_allclose(p[:2], smallest)
    assert p[2] > 0.05
