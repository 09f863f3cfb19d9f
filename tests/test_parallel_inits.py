"""n_init restarts in worker processes give the serial result, bit for bit."""

import numpy as np
import pytest

import gaussmix.fitting as fitting_module
from gaussmix import GaussianMixture


def data(n=3000, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.normal(scale=3, size=(4, 3))
    labels = rng.randint(4, size=n)
    return centres[labels] + rng.normal(size=(n, 3))


@pytest.mark.parametrize(
    ("cov", "weighted"), [("full", False), ("diag", True), ("VEV", False)]
)
def test_parallel_restarts_equal_serial(monkeypatch, cov, weighted):
    X = data()
    w = np.random.RandomState(1).randint(1, 3, size=X.shape[0]) if weighted else None
    serial = GaussianMixture(4, covariance_type=cov, n_init=3, random_state=0, n_jobs=1)
    serial.fit(X, sample_weight=w)

    calls = []
    original = fitting_module._em_in_processes

    def spy(*args, **kwargs):
        calls.append(args[-1])
        return original(*args, **kwargs)

    monkeypatch.setattr(fitting_module, "PARALLEL_INIT_MIN_WORK", 0)
    monkeypatch.setattr(fitting_module, "_em_in_processes", spy)
    parallel = GaussianMixture(
        4, covariance_type=cov, n_init=3, random_state=0, n_jobs=2
    )
    parallel.fit(X, sample_weight=w)
    assert calls == [2]  # two worker processes ran the three EM runs
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(parallel, attr), getattr(serial, attr))
    assert parallel.n_iter_ == serial.n_iter_
    assert parallel.lower_bounds_ == serial.lower_bounds_


def test_when_restarts_stay_in_this_process(monkeypatch):
    X = data()
    source = fitting_module.ArraySource(X)
    options = fitting_module.FitOptions

    def workers(n_init, max_iter=100, verbose=0, n_jobs=2):
        given = options(max_iter=max_iter, verbose=verbose, n_jobs=n_jobs)
        return fitting_module._parallel_inits(source, n_init, given)

    monkeypatch.setattr(fitting_module, "PARALLEL_INIT_MIN_WORK", 0)
    assert workers(3) == 2
    assert workers(1) == 1  # one start
    assert workers(3, n_jobs=1) == 1
    assert workers(3, verbose=1) == 1
    assert workers(3, max_iter=0) == 1  # no EM
    monkeypatch.setattr(fitting_module, "PARALLEL_INIT_MIN_WORK", 10**12)
    assert workers(3) == 1  # too small
