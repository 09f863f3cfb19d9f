"""Covariance families keep no state: the M-step's start travels with the parameters.

An iterative M-step (mclust's VEI, VEV, VEE, EVE, VVE) starts from the common
terms of the previous one, which ``m_step`` reads from ``previous.inner`` and
returns in ``params.inner``. So one family object serves any number of fits,
interleaved or at once, with the results of one object per fit.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from gaussmix.core.covariance import REGISTRY
from gaussmix.core.estep import e_step, stats_from_resp
from gaussmix.core.family import CovarianceStats
from gaussmix.core.mstep import m_step
from gaussmix.core.params import GMMParams

ITERATIVE = ("VEI", "VEV", "VEE", "EVE", "VVE")
N_ITER = 12


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.concatenate(
        [
            rng.normal(size=(60, 3)) @ rng.normal(size=(3, 3)) + rng.normal(0, 4, 3)
            for _ in range(3)
        ]
    )
    resp = rng.dirichlet(np.ones(3), size=X.shape[0])
    return X, resp


class _Fit:
    """A hand-written EM loop on one data set, one M-step at a time."""

    def __init__(self, seed: int, family, inner_tol: float | None = None) -> None:
        self.X, resp = _data(seed)
        self.inner_tol = inner_tol
        stats = stats_from_resp(self.X, resp, family, 3, self.X.mean(axis=0))
        self.params, _ = m_step(stats, family, 0.0, previous=None, inner_tol=inner_tol)

    def step(self, family) -> None:
        stats = e_step(self.X, self.params, family)
        self.params, _ = m_step(
            stats, family, 0.0, previous=self.params, inner_tol=self.inner_tol
        )


def _assert_same(a: GMMParams, b: GMMParams) -> None:
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.inner is None) == (b.inner is None)
    if a.inner is not None and b.inner is not None:
        assert a.inner.n_iter == b.inner.n_iter
        for name in ("shape", "orientation"):
            x, y = getattr(a.inner, name), getattr(b.inner, name)
            assert (x is None) == (y is None)
            if x is not None:
                np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("model", ITERATIVE)
def test_interleaved_fits_sharing_one_family_equal_separate_ones(model):
    shared = REGISTRY[model]
    before = copy.copy(vars(shared))
    one, two = _Fit(0, shared), _Fit(1, shared)
    for _ in range(N_ITER):  # interleaved, on one object
        one.step(shared)
        two.step(shared)
    alone = []
    for seed in (0, 1):  # one fresh object per fit, one fit after the other
        family = type(shared)(name=model)
        fit = _Fit(seed, family)
        for _ in range(N_ITER):
            fit.step(family)
        alone.append(fit.params)
    _assert_same(one.params, alone[0])
    _assert_same(two.params, alone[1])
    assert vars(shared).keys() == before.keys()
    assert all(vars(shared)[k] is v for k, v in before.items())


@pytest.mark.parametrize("model", ITERATIVE)
def test_warm_start_takes_fewer_inner_iterations(model):
    """From its own optimum an M-step stops at once; from the documented start it iterates."""
    rng = np.random.default_rng(8)
    k, d = 3, 3
    s = np.empty((k, d, d))
    for j in range(k):
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        s[j] = (q * rng.uniform(0.2, 3.0, size=d)) @ q.T
    w = rng.uniform(5.0, 50.0, size=k)
    family = REGISTRY[model]
    sxx = s * w[:, None, None]
    if not family.matrix:
        sxx = np.diagonal(sxx, axis1=1, axis2=2)
    zeros = np.zeros((k, d))
    m = CovarianceStats(sxx, zeros, w, w, zeros)
    first, cold = family.estimate(m, 0.0, inner_tol=1e-12)
    second, warm = family.estimate(m, 0.0, start=cold, inner_tol=1e-12)
    again, cold_again = family.estimate(m, 0.0, inner_tol=1e-12)
    assert cold is not None
    assert warm is not None
    assert cold_again is not None
    assert cold.converged
    assert warm.converged
    assert warm.n_iter < cold.n_iter
    assert cold_again.n_iter == cold.n_iter  # no state was kept
    np.testing.assert_array_equal(again, first)
    np.testing.assert_allclose(second, first, rtol=0, atol=1e-6 * np.max(first))


@pytest.mark.parametrize("model", ITERATIVE)
def test_inner_tolerance_is_an_argument(model):
    """A tighter inner tolerance iterates more, without touching the family."""
    family = REGISTRY[model]
    X, resp = _data(3)
    stats = stats_from_resp(X, resp, family, 3, X.mean(axis=0))
    loose, _ = m_step(stats, family, 0.0, previous=None, inner_tol=1e-3)
    tight, _ = m_step(stats, family, 0.0, previous=None, inner_tol=1e-12)
    assert loose.inner is not None
    assert tight.inner is not None
    assert loose.inner.n_iter < tight.inner.n_iter
    assert "inner_tol" not in vars(family)


@pytest.mark.parametrize("name", ["full", "diag", "EEV", "EVV", "EII"])
def test_closed_form_families_carry_no_inner_state(name):
    X, resp = _data(4)
    family = REGISTRY[name]
    stats = stats_from_resp(X, resp, family, 3, X.mean(axis=0))
    params, _ = m_step(stats, family, 0.0, previous=None)
    assert params.inner is None
