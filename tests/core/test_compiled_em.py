"""The compiled EM loop of small data (gaussmix.core._compiled_em) against NumPy's.

``fit_em`` hands a run on small float64 data to the compiled loop
(:mod:`gaussmix.core.fast_em`) and takes over with the NumPy path at the first
iteration that needs a repair. The reference here is the NumPy path
throughout (``fast_em.USE_COMPILED``, ``estep.USE_COMPILED`` and
``mclust_models.USE_COMPILED`` all False). Tolerances:

* a fixed number of iterations (``tol=0``): weights, means and covariances
  within ``1e-10`` relative to their size, and every lower bound within 1e-10;
* converged fits: the same iteration count, and the same parameters within
  ``1e-10``, on iris and faithful-like data for the 14 models and
  scikit-learn's four names, K = 1..4;
* a fit that needs repairs gives the NumPy path's repairs and result.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("numba")

from sklearn.datasets import load_iris

from gaussmix import GaussianMixture, select
from gaussmix.core import estep, fast_em, kernels, mclust_models
from gaussmix.core.covariance import get_family
from gaussmix.em import fit_em
from gaussmix.exceptions import DegenerateComponentWarning
from gaussmix.sources import ArraySource

RTOL = 1e-10
MCLUST = [
    "EII",
    "VII",
    "EEI",
    "VEI",
    "EVI",
    "VVI",
    "EEE",
    "VEE",
    "EVE",
    "VVE",
    "EEV",
    "VEV",
    "EVV",
    "VVV",
]
SKLEARN = ["spherical", "diag", "tied", "full"]


@pytest.fixture(autouse=True, scope="module")
def _loaded() -> None:
    assert kernels.load()


@contextmanager
def _numpy_path() -> Iterator[None]:
    """Every kernel off: the NumPy reference."""
    saved = fast_em.USE_COMPILED, estep.USE_COMPILED, mclust_models.USE_COMPILED
    fast_em.USE_COMPILED = estep.USE_COMPILED = mclust_models.USE_COMPILED = False
    try:
        yield
    finally:
        fast_em.USE_COMPILED, estep.USE_COMPILED, mclust_models.USE_COMPILED = saved


def _close(a: np.ndarray, b: np.ndarray, rtol: float = RTOL) -> None:
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.max(np.abs(b))), 1e-300)
    assert a.shape == b.shape
    assert float(np.max(np.abs(a - b))) <= rtol * scale


def _iris() -> np.ndarray:
    return load_iris().data


def _faithful_like(n: int = 272, seed: int = 0) -> np.ndarray:
    """Two elongated clusters in two features (the shape of Old Faithful)."""
    rng = np.random.default_rng(seed)
    a = rng.multivariate_normal([2.0, 54.0], [[0.07, 0.4], [0.4, 34.0]], n // 3)
    b = rng.multivariate_normal([4.3, 80.0], [[0.17, 0.9], [0.9, 35.0]], n - n // 3)
    return np.vstack([a, b])


def _fit(X: np.ndarray, name: str, k: int, **kw) -> GaussianMixture:
    init = {"init_params": "kmeans"} if name in SKLEARN else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(
            n_components=k, covariance_type=name, random_state=0, **init, **kw
        ).fit(X)


def _same_fit(a: GaussianMixture, b: GaussianMixture, rtol: float = RTOL) -> None:
    _close(a.weights_, b.weights_, rtol)
    _close(a.means_, b.means_, rtol)
    _close(a.covariances_, b.covariances_, rtol)
    _close(a.precisions_cholesky_, b.precisions_cholesky_, rtol)
    assert math.isclose(a.lower_bound_, b.lower_bound_, rel_tol=rtol, abs_tol=0)


# ------------------------------------------------------------- agreement
@pytest.mark.parametrize("name", MCLUST + SKLEARN)
@pytest.mark.parametrize("data", ["iris", "faithful"])
def test_fixed_iterations_agree(name: str, data: str) -> None:
    """Five iterations from the same start: the same parameters within 1e-10."""
    X = _iris() if data == "iris" else _faithful_like()
    for k in (1, 3, 4):
        compiled = _fit(X, name, k, max_iter=5, tol=0.0)
        with _numpy_path():
            numpy = _fit(X, name, k, max_iter=5, tol=0.0)
        assert compiled.n_iter_ == numpy.n_iter_ == 5
        _same_fit(compiled, numpy)


@pytest.mark.parametrize("name", MCLUST + SKLEARN)
def test_converged_fits_agree(name: str) -> None:
    """Whole fits with the default stopping rule: the same iterations and result."""
    for X in (_iris(), _faithful_like()):
        for k in (1, 2, 3, 4):
            compiled = _fit(X, name, k)
            with _numpy_path():
                numpy = _fit(X, name, k)
            assert compiled.n_iter_ == numpy.n_iter_
            assert compiled.converged_ == numpy.converged_
            _same_fit(compiled, numpy)


def test_sample_weight_and_reg_covar() -> None:
    """Weights and an explicit reg_covar reach the loop as in NumPy."""
    X = _iris()
    w = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0])
    for name in ("VVV", "VEV", "EVE", "EEI", "EII", "tied"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kw = {
                "n_components": 3,
                "covariance_type": name,
                "reg_covar": 1e-4,
                "random_state": 0,
            }
            compiled = GaussianMixture(**kw).fit(X, sample_weight=w)
            with _numpy_path():
                numpy = GaussianMixture(**kw).fit(X, sample_weight=w)
        assert compiled.n_iter_ == numpy.n_iter_
        _same_fit(compiled, numpy)


def test_inner_state_carries_between_iterations() -> None:
    """The iterative models' common terms come back as the NumPy path's."""
    X = _iris()
    for name in ("VEI", "VEV", "VEE", "EVE", "VVE"):
        family = get_family(name)
        start = _fit(X, name, 3, max_iter=1, tol=0.0)._model().params()
        options = {"tol": 0.0, "max_iter": 4, "reg_covar": 0.0}
        compiled = fit_em(ArraySource(X), start, family, **options).params
        with _numpy_path():
            numpy = fit_em(ArraySource(X), start, family, **options).params
        a, b = compiled.inner, numpy.inner
        assert a is not None
        assert b is not None
        assert a.n_iter == b.n_iter
        assert a.converged == b.converged
        if b.shape is not None:
            _close(a.shape, b.shape)
        if b.orientation is not None:
            # Each column is defined up to its sign: compare its projector.
            _close(
                np.einsum("ji,ki->ijk", a.orientation, a.orientation),
                np.einsum("ji,ki->ijk", b.orientation, b.orientation),
            )
        _close(compiled.covariances, numpy.covariances)


# ---------------------------------------------------------------- handoff
def test_repairs_are_left_to_numpy() -> None:
    """A component collapsing onto duplicated points: the NumPy path repairs it."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(60, 2)), np.tile([[5.0, 5.0]], (4, 1))])
    for name in ("VVV", "VVI", "EVI", "EVV", "EVE"):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            compiled = GaussianMixture(
                n_components=2, covariance_type=name, reg_covar=0.0, max_iter=30
            ).fit(X)
        with _numpy_path(), warnings.catch_warnings(record=True) as want:
            warnings.simplefilter("always")
            numpy = GaussianMixture(
                n_components=2, covariance_type=name, reg_covar=0.0, max_iter=30
            ).fit(X)
        kinds = [w.category for w in got]
        assert kinds == [w.category for w in want]
        assert (DegenerateComponentWarning in kinds) == (
            DegenerateComponentWarning in [w.category for w in want]
        )
        assert compiled.n_iter_ == numpy.n_iter_
        _same_fit(compiled, numpy, rtol=1e-8)


def test_handoff_continues_the_same_run() -> None:
    """fit_em's result is the same whether the loop hands off or not at all."""
    X = _iris()
    family = get_family("VVV")
    start = _fit(X, "VVV", 3, max_iter=1, tol=0.0)._model().params()
    # Stop the compiled loop after 3 iterations by a cap, then go on in NumPy
    # from there with the bound it reached: the same as 8 iterations at once.
    run = fast_em.compiled_em(
        X,
        None,
        start,
        family,
        tol=0.0,
        relative_tol=False,
        max_iter=3,
        reg_covar=1e-6,
        lower_bound=-math.inf,
    )
    assert run is not None
    assert run.n_iter == 3
    assert not run.handed_off
    with _numpy_path():
        rest = fit_em(
            ArraySource(X),
            run.params,
            family,
            tol=0.0,
            max_iter=5,
            reg_covar=1e-6,
            lower_bound=run.lower_bound,
        )
        whole = fit_em(
            ArraySource(X), start, family, tol=0.0, max_iter=8, reg_covar=1e-6
        )
    _close(rest.params.means, whole.params.means)
    _close(rest.params.covariances, whole.params.covariances)
    _close(run.lower_bounds + rest.lower_bounds, whole.lower_bounds)


# ------------------------------------------------------------ eligibility
def test_not_taken_with_prior_noise_equal_proportions_or_float32() -> None:
    X = _iris()
    params = _fit(X, "VVV", 2, max_iter=1)._model().params()
    family = get_family("VVV")
    assert fast_em.eligible(X, params, family, prior=None, equal_proportions=False)
    assert not fast_em.eligible(
        X, params, family, prior=object(), equal_proportions=False
    )
    assert not fast_em.eligible(X, params, family, prior=None, equal_proportions=True)
    assert not fast_em.eligible(
        X.astype(np.float32), params, family, prior=None, equal_proportions=False
    )
    big = np.zeros((200_000, 4))
    assert not fast_em.eligible(
        big, params, family, prior=None, equal_proportions=False
    )


def test_selection_grid_agrees() -> None:
    """The README's call: the same BIC table on both paths (within 1e-8)."""
    X = _faithful_like()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, compiled = select(X, range(1, 5), "all", n_jobs=1)
        with _numpy_path():
            _, numpy = select(X, range(1, 5), "all", n_jobs=1)
    a = np.asarray(compiled["bic"], dtype=float)
    b = np.asarray(numpy["bic"], dtype=float)
    np.testing.assert_allclose(a, b, rtol=1e-8)


@pytest.mark.parametrize("name", ["E", "V"])
def test_univariate_models_agree(name: str) -> None:
    """mclust's E and V run as EII and VII on one feature."""
    X = _faithful_like()[:, :1]
    for k in (1, 2, 3):
        compiled = _fit(X, name, k)
        with _numpy_path():
            numpy = _fit(X, name, k)
        assert compiled.n_iter_ == numpy.n_iter_
        _same_fit(compiled, numpy)


def test_compiled_loop_resumes_after_a_repair(monkeypatch) -> None:
    """After the NumPy iteration that repairs, the compiled loop takes over again."""
    import gaussmix.em as em

    calls: list[int] = []
    original = em.compiled_em

    def spy(*args, **kwargs):
        run = original(*args, **kwargs)
        calls.append(run.n_iter)
        return run

    monkeypatch.setattr(em, "compiled_em", spy)
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(60, 2)), np.tile([[5.0, 5.0]], (4, 1))])
    kw = {"n_components": 2, "covariance_type": "VVV", "reg_covar": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = GaussianMixture(**kw, max_iter=30).fit(X)
        with _numpy_path():
            numpy = GaussianMixture(**kw, max_iter=30).fit(X)
    assert len(calls) > 1  # handed off, then resumed
    assert compiled.n_iter_ == numpy.n_iter_
    _same_fit(compiled, numpy, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "tied", "full"])
def test_layout_round_trip(covariance_type):
    """The loop's ``(K, D, D)`` layout of each storage shape, and back."""
    rng = np.random.default_rng(0)
    n_components, n_features = 3, 4
    family = get_family(covariance_type)
    code = fast_em.storage_shape(family)
    a = rng.uniform(1.0, 2.0, (n_components, n_features, n_features))
    stored = {
        "spherical": a[:, 0, 0],
        "diag": a[:, 0],
        "tied": a[0],
        "full": a,
    }[covariance_type]
    stack = fast_em.to_layout(stored, code, n_components, n_features)
    assert stack.shape == (n_components, n_features, n_features)
    assert stack.flags.c_contiguous
    assert stack is not stored
    if covariance_type == "tied":
        assert all(np.array_equal(stack[k], stored) for k in range(n_components))
    elif covariance_type != "full":
        diagonals = np.diagonal(stack, axis1=1, axis2=2)
        assert np.array_equal(stack, diagonals[:, :, None] * np.eye(n_features))
    np.testing.assert_array_equal(fast_em.from_layout(code, stack), stored)
