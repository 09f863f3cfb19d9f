"""Frozen parameters (``GaussianMixture(frozen=...)``, issue 15 part 4).

Frozen parameters keep their initial values bit for bit; the others take the
conditional M-step, checked against closed forms computed here from scipy's
densities and against a direct numerical maximisation of the expected
complete-data log-likelihood; the log-likelihood increases at every iteration
for every covariance family and every subset of frozen parameters.
"""

from __future__ import annotations

import io
import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.base import clone
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import gaussmix
from gaussmix import GaussianMixture
from gaussmix.apps.speaker import map_adapt
from gaussmix.core.adapt import relevance_m_step
from gaussmix.core.covariance import COVARIANCE_TYPES, get_family
from gaussmix.core.estep import e_step
from gaussmix.core.frozen import FREEZABLE
from gaussmix.core.mstep import m_step
from gaussmix.core.params import GMMParams
from gaussmix.exceptions import ConvergenceWarning

SUBSETS = [
    frozenset(c)
    for r in range(1, len(FREEZABLE) + 1)
    for c in itertools.combinations(FREEZABLE, r)
]
#: Relative tolerance of "the log-likelihood never decreases".
MONOTONE_RTOL = 1e-10


def _data(n_features: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts = [
        rng.normal(0.0, 1.0, (70, n_features)),
        rng.normal(3.0, 0.7, (60, n_features)) * np.linspace(1.0, 1.6, n_features),
        rng.normal(-2.5, 1.3, (70, n_features)),
    ]
    return np.vstack(parts)


_REFERENCES: dict[str, GaussianMixture] = {}


def _reference(covariance_type: str) -> GaussianMixture:
    """A fitted model of each family on other data: the frozen values."""
    if covariance_type not in _REFERENCES:
        n_features = 1 if get_family(covariance_type).multivariate_model else 2
        model = GaussianMixture(
            3, covariance_type=covariance_type, random_state=0, max_iter=10, tol=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(_data(n_features, seed=1) * 1.1 + 0.3)
        _REFERENCES[covariance_type] = model
    return _REFERENCES[covariance_type]


def _init_kwargs(ref: GaussianMixture) -> dict[str, np.ndarray]:
    return {
        "weights_init": ref.weights_,
        "means_init": ref.means_,
        "precisions_init": ref.precisions_,
    }


def _fit_quiet(model: GaussianMixture, X: np.ndarray) -> GaussianMixture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


def _assert_monotone(bounds: list[float]) -> None:
    b = np.asarray(bounds)
    drops = b[:-1] - b[1:]
    assert np.all(drops <= MONOTONE_RTOL * np.abs(b[:-1])), drops.max()


@pytest.mark.parametrize("frozen", SUBSETS, ids=lambda s: "+".join(sorted(s)))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_frozen_stay_bitwise_and_loglik_increases(covariance_type, frozen):
    ref = _reference(covariance_type)
    family = get_family(covariance_type)
    X = _data(ref.means_.shape[1])
    model = GaussianMixture(
        3,
        covariance_type=covariance_type,
        frozen=tuple(sorted(frozen)),
        max_iter=12,
        tol=0,
        **_init_kwargs(ref),
    )
    _fit_quiet(model, X)
    start_chol = family.precisions_cholesky_from_precisions(ref.precisions_)
    if "weights" in frozen:
        assert np.array_equal(model.weights_, ref.weights_)
    else:
        assert not np.array_equal(model.weights_, ref.weights_)
    if "means" in frozen:
        assert np.array_equal(model.means_, ref.means_)
    else:
        assert not np.array_equal(model.means_, ref.means_)
    if "covariances" in frozen:
        assert np.array_equal(model.precisions_cholesky_, start_chol)
        assert np.array_equal(
            model.covariances_, family.covariances_from_precisions_cholesky(start_chol)
        )
        np.testing.assert_allclose(model.precisions_, ref.precisions_, rtol=1e-12)
    else:
        assert not np.array_equal(model.precisions_cholesky_, start_chol)
    assert model.n_iter_ == 12
    _assert_monotone(model.lower_bounds_)
    # The fitted model is at least as likely as the start.
    start = GaussianMixture(3, covariance_type=covariance_type, **_init_kwargs(ref))
    start_ll = _fit_quiet(start.set_params(max_iter=1), X).lower_bounds_[0]
    assert model.score(X) >= start_ll - MONOTONE_RTOL * abs(start_ll)


def _responsibilities(X, weights, means, covariances):
    dens = np.column_stack(
        [
            w * stats.multivariate_normal(m, c).pdf(X)
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
    )
    return dens / dens.sum(axis=1, keepdims=True)


def _one_step(covariance_type, frozen, X, reg_covar=0.0):
    ref = _reference(covariance_type)
    model = GaussianMixture(
        3,
        covariance_type=covariance_type,
        frozen=frozen,
        max_iter=1,
        reg_covar=reg_covar,
        **_init_kwargs(ref),
    )
    return ref, _fit_quiet(model, X)


@pytest.mark.parametrize(
    "covariance_type", ["full", "tied", "diag", "spherical", "EEI"]
)
def test_covariances_are_the_scatter_about_the_frozen_means(covariance_type):
    X = _data(2)
    ref, model = _one_step(covariance_type, ("means",), X)
    K, D = ref.means_.shape
    dense = get_family(covariance_type).to_dense(ref.covariances_, K, D)
    resp = _responsibilities(X, ref.weights_, ref.means_, dense)
    nk = resp.sum(axis=0)
    scatter = np.stack(
        [
            (resp[:, k, None] * (X - ref.means_[k])).T @ (X - ref.means_[k])
            for k in range(K)
        ]
    )
    if covariance_type == "full":
        expected = scatter / nk[:, None, None]
    elif covariance_type == "tied":
        expected = scatter.sum(axis=0) / X.shape[0]
    elif covariance_type == "diag":
        expected = np.diagonal(scatter, axis1=1, axis2=2) / nk[:, None]
    elif covariance_type == "spherical":
        expected = np.trace(scatter, axis1=1, axis2=2) / (D * nk)
    else:  # EEI: one diagonal matrix shared by all components
        shared = np.diagonal(scatter.sum(axis=0)) / X.shape[0]
        expected = np.tile(shared, (K, 1))  # stored as K copies of the diagonal
    np.testing.assert_allclose(model.covariances_, expected, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(model.weights_, nk / X.shape[0], rtol=1e-10)
    # Not the scatter about the new means (what an unfrozen M-step gives).
    free = _one_step(covariance_type, (), X)[1]
    assert np.max(np.abs(free.covariances_ - model.covariances_)) > 1e-3


@pytest.mark.parametrize("covariance_type", ["full", "VEV", "EVE"])
def test_means_and_weights_given_frozen_covariances(covariance_type):
    X = _data(2)
    ref, model = _one_step(covariance_type, ("covariances",), X)
    K, D = ref.means_.shape
    dense = get_family(covariance_type).to_dense(ref.covariances_, K, D)
    resp = _responsibilities(X, ref.weights_, ref.means_, dense)
    nk = resp.sum(axis=0)
    np.testing.assert_allclose(model.means_, resp.T @ X / nk[:, None], rtol=1e-10)
    np.testing.assert_allclose(model.weights_, nk / X.shape[0], rtol=1e-10)


def _expected_loglik(X, resp, weights, means, covariances):
    return sum(
        float(
            resp[:, k]
            @ (
                math.log(weights[k])
                + stats.multivariate_normal(means[k], covariances[k]).logpdf(X)
            )
        )
        for k in range(len(weights))
    )


def test_conditional_m_step_is_the_numerical_maximum_vei():
    """VEI (Sigma_k = lambda_k A, det A = 1, iterative M-step) with frozen means."""
    X = _data(2)
    ref, model = _one_step("VEI", ("means", "weights"), X)
    K, D = ref.means_.shape
    family = get_family("VEI")
    resp = _responsibilities(
        X, ref.weights_, ref.means_, family.to_dense(ref.covariances_, K, D)
    )

    def covariances(theta):
        lam = np.exp(theta[:K])
        shape = np.exp(np.append(theta[K:], -np.sum(theta[K:])))
        return np.stack([lam[k] * np.diag(shape) for k in range(K)])

    def objective(theta):
        return -_expected_loglik(X, resp, ref.weights_, ref.means_, covariances(theta))

    best = optimize.minimize(
        objective, np.zeros(K + D - 1), method="BFGS", options={"gtol": 1e-10}
    )
    ours = family.to_dense(model.covariances_, K, D)
    np.testing.assert_allclose(ours, covariances(best.x), rtol=1e-5)
    q_ours = _expected_loglik(X, resp, ref.weights_, ref.means_, ours)
    assert q_ours >= -best.fun - 1e-9 * abs(best.fun)


@pytest.mark.parametrize("covariance_type", ["VEI", "EVE", "VVE", "VEE"])
def test_frozen_covariances_run_no_inner_iteration(covariance_type, monkeypatch):
    family = get_family(covariance_type)
    X = _data(2)
    ref = _reference(covariance_type)  # a free fit: before the inner loop is refused

    def refuse(*args, **kwargs):
        raise AssertionError("the inner iteration ran")

    monkeypatch.setattr(type(family), "constrain", refuse)
    model = GaussianMixture(
        3,
        covariance_type=covariance_type,
        frozen="covariances",
        max_iter=5,
        tol=0,
        **_init_kwargs(ref),
    )
    _fit_quiet(model, X)
    assert model.n_iter_ == 5


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_nothing_frozen_is_scikit_learn(covariance_type):
    X = _data(3)
    kw = {"n_components": 3, "covariance_type": covariance_type, "random_state": 0}
    ours = GaussianMixture(frozen=(), **kw).fit(X)
    default = GaussianMixture(**kw).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.array_equal(getattr(ours, name), getattr(default, name))
    sk = SkGaussianMixture(**kw).fit(X)
    np.testing.assert_allclose(ours.means_, sk.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.covariances_, sk.covariances_, rtol=1e-8)


def test_float32_frozen_means_bitwise():
    X = _data(2).astype(np.float32)
    means = np.array([[0.0, 0.0], [3.0, 3.5], [-2.5, -2.5]], dtype=np.float32)
    model = _fit_quiet(GaussianMixture(3, means_init=means, frozen="means"), X)
    assert model.means_.dtype == np.float32
    assert np.array_equal(model.means_, means)
    _assert_monotone(model.lower_bounds_)


def test_frozen_weights_without_weights_init_keep_the_initialisation():
    X = _data(2)
    start = GaussianMixture(3, random_state=0, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start.fit(X)  # max_iter=0: the initialisation's parameters
    model = GaussianMixture(3, random_state=0, frozen="weights").fit(X)
    assert np.array_equal(model.weights_, start.weights_)
    assert not np.array_equal(model.means_, start.means_)


def test_warm_start_freezes_the_previous_fit():
    X = _data(2)
    first = GaussianMixture(3, random_state=0, warm_start=True).fit(X)
    covariances = first.covariances_.copy()
    chol = first.precisions_cholesky_.copy()
    first.set_params(frozen=("covariances",))
    first.fit(X[::2] + 0.4)
    assert np.array_equal(first.covariances_, covariances)
    assert np.array_equal(first.precisions_cholesky_, chol)


def test_noise_component_with_frozen_weights():
    X = _data(2)
    rng = np.random.default_rng(3)
    X = np.vstack([X, rng.uniform(-8, 8, (20, 2))])
    weights = np.array([0.4, 0.3, 0.3])
    model = GaussianMixture(
        3, noise=True, weights_init=weights, frozen="weights", random_state=0
    )
    _fit_quiet(model, X)
    # The start scales the Gaussian weights by 1 - 0.1 for the noise.
    assert np.array_equal(model.weights_, weights * 0.9)
    assert model.noise_weight_ == pytest.approx(0.1, rel=0, abs=1e-15)
    _assert_monotone(model.lower_bounds_)


def test_prior_with_frozen_means_keeps_them():
    X = _data(2)
    ref = _reference("VVV")
    model = GaussianMixture(
        3, covariance_type="VVV", prior="default", means_init=ref.means_, frozen="means"
    )
    _fit_quiet(model, X)
    assert np.array_equal(model.means_, ref.means_)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("frozen", "match"),
    [
        ("mean", "frozen must be a name or a tuple of names among 'weights'.*'mean'"),
        (("weights", "precisions"), "among .*got \\('weights', 'precisions'\\)"),
        (3, "frozen must be"),
        ({"means": 1}, "frozen must be"),
    ],
)
def test_bad_frozen_values(frozen, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, frozen=frozen).fit(_data(2))


def test_frozen_without_initial_values():
    X = _data(2)
    with pytest.raises(ValueError, match="no means_init"):
        GaussianMixture(3, frozen="means").fit(X)
    with pytest.raises(ValueError, match="no precisions_init"):
        GaussianMixture(3, frozen=["covariances"]).fit(X)
    with pytest.raises(ValueError, match="equal_proportions"):
        GaussianMixture(3, frozen="weights", equal_proportions=True).fit(X)
    with pytest.raises(ValueError, match="no means_init"):
        GaussianMixture(3, frozen="means", batch_size=50).fit(X)
    with pytest.raises(ValueError, match="no means_init"):
        GaussianMixture(3, frozen="means").partial_fit(X)
    family = get_family("full")
    stats_ = e_step(X, _reference("full")._model().params(), family)
    with pytest.raises(ValueError, match="pass previous"):
        m_step(stats_, family, 0.0, frozen=frozenset({"means"}))


def test_clone_get_params_and_model_files():
    model = GaussianMixture(2, frozen=("weights", "covariances"))
    assert clone(model).get_params()["frozen"] == ("weights", "covariances")
    assert model.set_params(frozen="means").frozen == "means"
    ref = _reference("full")
    fitted = _fit_quiet(
        GaussianMixture(3, frozen=["means", "weights"], **_init_kwargs(ref)), _data(2)
    )
    buffer = io.BytesIO()
    gaussmix.save(fitted, buffer)
    buffer.seek(0)
    loaded = gaussmix.load(buffer)
    assert loaded.frozen == ("weights", "means")
    assert np.array_equal(loaded.means_, ref.means_)


# --------------------------------------------------------- other sources
def test_chunked_source_honours_frozen(tmp_path):
    X = _data(2)
    path = tmp_path / "X.npy"
    np.save(path, X)
    ref = _reference("full")
    kw = dict(frozen=("means",), max_iter=8, tol=0, **_init_kwargs(ref))
    chunked = _fit_quiet(GaussianMixture(3, **kw), str(path))
    memory = _fit_quiet(GaussianMixture(3, **kw), X)
    assert np.array_equal(chunked.means_, ref.means_)
    np.testing.assert_allclose(chunked.covariances_, memory.covariances_, rtol=1e-10)
    np.testing.assert_allclose(chunked.lower_bounds_, memory.lower_bounds_, rtol=1e-10)


def test_dask_source_honours_frozen():
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    X = _data(2)
    ref = _reference("tied")
    kw = {"covariance_type": "tied", "frozen": "means", "max_iter": 5, "tol": 0}
    with dask.config.set(scheduler="synchronous"):
        lazy = _fit_quiet(
            GaussianMixture(3, **kw, **_init_kwargs(ref)), da.from_array(X, chunks=50)
        )
    memory = _fit_quiet(GaussianMixture(3, **kw, **_init_kwargs(ref)), X)
    assert np.array_equal(lazy.means_, ref.means_)
    np.testing.assert_allclose(lazy.covariances_, memory.covariances_, rtol=1e-10)


def test_partial_fit_and_online_fit_honour_frozen():
    X = _data(2)
    ref = _reference("diag")
    model = GaussianMixture(
        3, covariance_type="diag", frozen=("covariances",), **_init_kwargs(ref)
    )
    chol = get_family("diag").precisions_cholesky_from_precisions(ref.precisions_)
    rng = np.random.default_rng(0)
    for batch in np.array_split(rng.permutation(X), 5):
        model.partial_fit(batch)
        assert np.array_equal(model.precisions_cholesky_, chol)
    assert not np.array_equal(model.means_, ref.means_)
    online = GaussianMixture(
        3,
        covariance_type="diag",
        batch_size=40,
        frozen=("weights", "covariances"),
        random_state=0,
        **_init_kwargs(ref),
    )
    _fit_quiet(online, X)
    assert np.array_equal(online.precisions_cholesky_, chol)
    assert np.array_equal(online.weights_, ref.weights_)


# ------------------------------------------------------- speaker (MAP)
def _ubm_and_speaker():
    rng = np.random.default_rng(7)
    ubm = GaussianMixture(4, covariance_type="diag", random_state=0)
    ubm.fit(rng.normal(size=(400, 3)) * [1.0, 2.0, 0.5])
    speaker = rng.normal(0.4, 0.8, size=(120, 3))
    return ubm, speaker


def test_one_em_step_with_frozen_weights_and_covariances_is_the_ml_mean_update():
    ubm, speaker = _ubm_and_speaker()
    model = GaussianMixture(
        4,
        covariance_type="diag",
        frozen=("weights", "covariances"),
        max_iter=1,
        **_init_kwargs(ubm),
    )
    _fit_quiet(model, speaker)
    adapted = map_adapt(ubm, speaker, relevance_factor=0.0, adapt="means")
    np.testing.assert_allclose(model.means_, adapted.means_, rtol=0, atol=1e-10)
    # The ML update, from scipy's responsibilities under the UBM.
    dense = get_family("diag").to_dense(ubm.covariances_, 4, 3)
    resp = _responsibilities(speaker, ubm.weights_, ubm.means_, dense)
    expected = resp.T @ speaker / resp.sum(axis=0)[:, None]
    np.testing.assert_allclose(model.means_, expected, rtol=1e-10)
    assert np.array_equal(model.weights_, ubm.weights_)


@pytest.mark.parametrize("covariance_type", ["diag", "full", "VEI"])
@pytest.mark.parametrize("relevance", [0.0, 4.0, 16.0])
def test_relevance_m_step_reproduces_map_adapt_means(covariance_type, relevance):
    ubm = _reference(covariance_type)  # 3 components fitted on other data
    speaker = np.random.default_rng(11).normal(0.4, 0.8, size=(60, 2))
    adapted = map_adapt(ubm, speaker, relevance_factor=relevance, adapt="means")
    family = get_family(covariance_type)
    prior = GMMParams(
        ubm.weights_, ubm.means_, ubm.covariances_, ubm.precisions_cholesky_
    )
    params, repairs = relevance_m_step(
        e_step(speaker, prior, family), prior, family, relevance
    )
    assert not repairs
    np.testing.assert_allclose(params.means, adapted.means_, rtol=0, atol=1e-10)
    assert params.covariances is prior.covariances
    assert params.weights is prior.weights


def test_relevance_em_increases_the_log_posterior():
    """Repeated relevance M-steps: MAP-EM under mu_k ~ N(mu_k^UBM, Sigma_k / r)."""
    ubm, speaker = _ubm_and_speaker()
    family = get_family("diag")
    prior = ubm._model().params()
    r = 8.0
    params = prior
    values = []
    for _ in range(8):
        stats_ = e_step(speaker, params, family)
        log_prior = sum(
            stats.multivariate_normal(
                prior.means[k], np.diag(prior.covariances[k] / r)
            ).logpdf(params.means[k])
            for k in range(4)
        )
        values.append(stats_.loglik + log_prior)
        params, _ = relevance_m_step(stats_, prior, family, r, previous=params)
    _assert_monotone(values)
    assert values[-1] > values[0]
