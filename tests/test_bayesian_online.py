"""``BayesianGaussianMixture.partial_fit`` and ``fit(batch_size=)``: stochastic VI.

The step is ``S <- (1 - rho_t) S + rho_t (N / w_B) s_B`` followed by the
variational M-step of ``S`` (Hoffman et al. 2013). With ``rho_t = 1`` and the
whole data as the batch it is one iteration of batch variational EM, which is
checked against scikit-learn's ``BayesianGaussianMixture`` with ``max_iter``
iterations; over epochs of mini-batches the posterior approaches the batch fit.
"""

from __future__ import annotations

import copy
import itertools
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBGM
from sklearn.utils.estimator_checks import parametrize_with_checks

from gaussmix import BayesianGaussianMixture

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: One step with rho = 1 on all the data against scikit-learn's iteration.
STEP_RTOL = 1e-10
#: Means of the SVI posterior after 100 epochs against the batch fit's.
MEANS_ATOL = 0.05
#: Weight left on a switched-off component of the Dirichlet process.
EXTRA_WEIGHT_MAX = 0.01

ATTRIBUTES = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_cholesky_",
    "mean_precision_",
    "degrees_of_freedom_",
)


def _blobs(seed: int = 0, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 8.0], [0.0, 8.0]])
    return np.vstack([rng.normal(c, 1.0, (n, 2)) for c in centres])


def _assert_rel(actual, expected, rtol, what):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    err = float(np.max(np.abs(actual - expected))) / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


def _sklearn(max_iter: int, **kw) -> SkBGM:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SkBGM(max_iter=max_iter, random_state=0, **kw).fit(_blobs())


# ------------------------------------------------- (a) a step with rho = 1
@pytest.mark.parametrize(
    ("covariance_type", "prior_type"),
    [
        ("full", "dirichlet_process"),
        ("tied", "dirichlet_process"),
        ("diag", "dirichlet_process"),
        ("spherical", "dirichlet_process"),
        ("full", "dirichlet_distribution"),
        ("spherical", "dirichlet_distribution"),
    ],
)
def test_steps_with_rho_one_are_batch_iterations(covariance_type, prior_type):
    """First step: one iteration; with t0 = 0 the second step has rho = 1 too."""
    X = _blobs()
    kw = {
        "n_components": 5,
        "covariance_type": covariance_type,
        "weight_concentration_prior_type": prior_type,
    }
    g = BayesianGaussianMixture(
        random_state=0, learning_offset=0.0, total_samples=X.shape[0], **kw
    )
    for n_steps in (1, 2):
        g.partial_fit(X)
        ref = _sklearn(n_steps, **kw)
        for name in ATTRIBUTES:
            _assert_rel(getattr(g, name), getattr(ref, name), STEP_RTOL, name)
        _assert_rel(g.weight_concentration_, ref.weight_concentration_, STEP_RTOL, "wc")
        _assert_rel(g.lower_bound_, ref.lower_bound_, STEP_RTOL, "lower_bound_")
        assert g.n_iter_ == n_steps
        assert not g.converged_
        assert len(g.lower_bounds_) == n_steps


def test_first_step_with_running_count_is_a_batch_iteration():
    """total_samples=None: N is the weight seen, the batch's own on the first call."""
    g = BayesianGaussianMixture(n_components=4, random_state=0).partial_fit(_blobs())
    ref = _sklearn(1, n_components=4)
    for name in ATTRIBUTES:
        _assert_rel(getattr(g, name), getattr(ref, name), STEP_RTOL, name)


def test_later_steps_blend_with_the_step_size():
    """rho_t = (t + t0)^-kappa blends the statistics, not the parameters.

    After a first step on all the data the posterior is scikit-learn's first
    iteration, so the second call's E-step gives the statistics of its second
    iteration: with rho_1 = 2^-0.6 the step's ``nk`` is
    ``(1 - rho) nk_1 + rho nk_2``.
    """
    X = _blobs()
    g = BayesianGaussianMixture(
        n_components=3, random_state=0, total_samples=X.shape[0]
    )  # default t0 = 1: rho_1 = 2^-0.6
    g.partial_fit(X)
    first = g.means_.copy()
    g.partial_fit(X)
    ref = _sklearn(2, n_components=3)
    one = _sklearn(1, n_components=3)
    _assert_rel(first, one.means_, STEP_RTOL, "first means")
    # Second step: S = (1 - rho) S_1 + rho S_2 (statistics, not parameters):
    # between the two iterations' posteriors, strictly inside unless equal.
    rho = 2.0**-0.6
    nk1 = one.weight_concentration_[0] - 1.0
    nk2 = ref.weight_concentration_[0] - 1.0
    nk = g.weight_concentration_[0] - 1.0
    _assert_rel(nk, (1 - rho) * nk1 + rho * nk2, 1e-8, "blended nk")


def test_sample_weight_and_float32():
    """Weights as in the batch fit (one iteration), float32 close to float64."""
    X = _blobs()
    w = np.random.default_rng(1).integers(0, 4, X.shape[0]).astype(float)
    g = BayesianGaussianMixture(n_components=3, random_state=0)
    g.partial_fit(X, sample_weight=w)
    ref = BayesianGaussianMixture(n_components=3, random_state=0, max_iter=1)
    ref.fit(X, sample_weight=w)
    for name in ATTRIBUTES:
        _assert_rel(getattr(g, name), getattr(ref, name), STEP_RTOL, name)
    g32 = BayesianGaussianMixture(n_components=3, random_state=0)
    g32.partial_fit(X.astype(np.float32))
    g64 = BayesianGaussianMixture(n_components=3, random_state=0).partial_fit(X)
    assert g32.means_.dtype == np.float32
    _assert_rel(g32.means_, g64.means_, 1e-4, "float32 means")


# ------------------------------------------- (b, c) epochs of mini-batches
def _epochs(model, X, n_epochs, seed=0, n_batches=9, every=None):
    rng = np.random.default_rng(seed)
    bounds = []
    for epoch in range(1, n_epochs + 1):
        for rows in np.array_split(rng.permutation(X.shape[0]), n_batches):
            model.partial_fit(X[rows])
        if every is not None and epoch in every:
            bounds.append(_full_bound(model, X))
    return bounds


def _full_bound(model, X):
    """scikit-learn's bound on all of X: one batch iteration from the posterior."""
    probe = copy.deepcopy(model)
    probe.set_params(warm_start=True, max_iter=1, batch_size=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(X)
    return float(probe.lower_bound_)


def test_epochs_approach_the_batch_fit_and_switch_off_extra_components():
    X = _blobs()
    kw = {"n_components": 6, "weight_concentration_prior": 0.01, "random_state": 0}
    batch = BayesianGaussianMixture(**kw).fit(X)
    svi = BayesianGaussianMixture(total_samples=X.shape[0], **kw)
    bounds = _epochs(svi, X, 100, every=(1, 3, 10, 30, 100))
    used = np.sort(svi.weights_)[::-1]
    assert np.all(used[:3] > 0.3), used
    assert np.all(used[3:] < EXTRA_WEIGHT_MAX), used
    big = svi.means_[svi.weights_ > 0.3]
    ref = batch.means_[batch.weights_ > 0.3]
    for mean in ref:
        assert np.min(np.max(np.abs(big - mean), axis=1)) < MEANS_ATOL, (big, ref)
    # (c) The bound on the full data improves over the epochs ...
    assert all(b > a for a, b in itertools.pairwise(bounds)), bounds
    # ... to at least that of the batch fit (which keeps a sixth component at
    # weight 1e-3 and pays for it in the bound).
    assert bounds[-1] > batch.lower_bound_ - 1.0, (bounds, batch.lower_bound_)


def test_fit_with_batch_size_one_batch_is_batch_iterations(tmp_path):
    """batch_size >= n and one epoch is one batch iteration, in memory and on file.

    (A file's start is k-means on its reservoir sample, whose row order is not
    the array's: each is compared with the batch fit of the same data.)
    """
    X = _blobs()
    path = tmp_path / "x.npy"
    np.save(path, X)
    for data in (X, str(path)):
        ref = BayesianGaussianMixture(n_components=4, random_state=0, max_iter=1)
        ref.fit(data)
        g = BayesianGaussianMixture(
            n_components=4, random_state=0, max_iter=1, batch_size=X.shape[0]
        ).fit(data)
        for name in ATTRIBUTES:
            _assert_rel(getattr(g, name), getattr(ref, name), STEP_RTOL, name)
        _assert_rel(g.lower_bound_, ref.lower_bound_, STEP_RTOL, "lower_bound_")


def test_fit_with_batch_size_on_chunks_approaches_the_batch_fit(tmp_path):
    X = _blobs()[np.random.default_rng(3).permutation(900)]
    path = tmp_path / "x.npy"
    np.save(path, X)
    kw = {"n_components": 3, "random_state": 0}
    batch = BayesianGaussianMixture(**kw).fit(X)
    for data in (X, str(path)):
        g = BayesianGaussianMixture(batch_size=100, max_iter=50, tol=1e-4, **kw)
        g.fit(data)
        assert g.n_features_in_ == 2
        assert len(g.lower_bounds_) == g.n_iter_ <= 50
        order = np.argsort(g.means_[:, 0] + 10 * g.means_[:, 1])
        ref = np.argsort(batch.means_[:, 0] + 10 * batch.means_[:, 1])
        np.testing.assert_allclose(g.means_[order], batch.means_[ref], atol=0.1)
        np.testing.assert_allclose(g.weights_[order], batch.weights_[ref], atol=0.01)
        # The same clusters: labels agree on 99% of the rows after relabelling.
        relabel = np.empty(3, dtype=int)
        relabel[order] = ref
        agree = np.mean(relabel[g.predict(X)] == batch.predict(X))
        assert agree > 0.99, agree


def test_partial_fit_continues_a_fit():
    """After fit, partial_fit continues from the fitted posterior and priors."""
    X = _blobs()
    g = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    prior_mean = g.mean_prior_.copy()
    g.partial_fit(X[:100] + 0.5)
    np.testing.assert_array_equal(g.mean_prior_, prior_mean)
    assert g.n_iter_ == 1
    # batch_size fit, then partial_fit: the running statistics go on.
    s = BayesianGaussianMixture(n_components=3, random_state=0, batch_size=300)
    s.set_params(max_iter=2).fit(X)
    steps = len(s.lower_bounds_)
    s.partial_fit(X[:300])
    assert s.n_iter_ == 2 * 3 + 1
    assert len(s.lower_bounds_) == steps + 1


# ------------------------------------------------------------- (d) errors
def test_errors():
    X = _blobs()
    g = BayesianGaussianMixture(n_components=3, random_state=0).partial_fit(X[:50])
    with pytest.raises(ValueError, match="expecting 2 features"):
        g.partial_fit(np.ones((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        g.partial_fit(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="sample_weight"):
        g.partial_fit(X[:5], sample_weight=-np.ones(5))
    with pytest.raises(ValueError, match="needs at least n_components = 3 rows"):
        BayesianGaussianMixture(n_components=3).partial_fit(X[:2])
    with pytest.raises(ValueError, match="sample_weight is zero for every row"):
        BayesianGaussianMixture(n_components=3).partial_fit(
            X[:10], sample_weight=np.zeros(10)
        )
    for bad in (
        {"total_samples": 0},
        {"total_samples": "n"},
        {"batch_size": 0},
        {"learning_decay": 0.4},
        {"learning_offset": -1.0},
    ):
        (key,) = bad
        with pytest.raises(ValueError, match=key):
            BayesianGaussianMixture(**bad).partial_fit(X)
        with pytest.raises(ValueError, match=key):
            BayesianGaussianMixture(**{**{"batch_size": 10}, **bad}).fit(X)


def test_dask_array_with_batch_size_is_refused():
    da = pytest.importorskip("dask.array")
    X = da.from_array(_blobs(), chunks=300)
    with pytest.raises(ValueError, match="batch_size"):
        BayesianGaussianMixture(n_components=2, batch_size=100).fit(X)


def test_clone_and_get_params():
    g = BayesianGaussianMixture(
        batch_size=50, learning_decay=0.7, learning_offset=5.0, total_samples=1e4
    )
    params = g.get_params()
    for key, value in {
        "batch_size": 50,
        "learning_decay": 0.7,
        "learning_offset": 5.0,
        "total_samples": 1e4,
    }.items():
        assert params[key] == value
    g.partial_fit(_blobs())
    c = clone(g)
    assert c.get_params() == g.get_params()
    assert not hasattr(c, "weights_")
    assert not hasattr(c, "_svi_state")


# ------------------------------------------------------ (e) check_estimator
@parametrize_with_checks(
    [
        BayesianGaussianMixture(batch_size=16, max_iter=5, random_state=0),
        BayesianGaussianMixture(n_components=2, total_samples=100, random_state=0),
    ],
    expected_failed_checks=lambda est: (
        {}
        if est.n_components == 1
        else {
            "check_sample_weight_equivalence_on_dense_data": (
                "the k-means start is random and the check repeats and shuffles "
                "rows (as for the batch fit, tests/test_bayesian_mixture.py)."
            )
        }
    ),
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
