"""The compiled E-step of small data (gaussmix.core._compiled_estep) against NumPy's.

``e_step`` runs the numba kernel of the family's storage shape when the pass is
small (``n_samples * n_moments <= COMPILED_MAX_WORK``), the data are float64
and numba imports; ``GAUSSMIX_NO_COMPILED=1`` (``estep.USE_COMPILED = False``)
forces the NumPy path. The two must give the same statistics up to rounding:
``nk``, ``sx``, ``sxx`` and the log-likelihood within ``1e-10`` relative to the
size of their terms, the same shift (bit for bit, so that statistics of the two
paths can be added), weight and row count, and the same fits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("numba")

from sklearn.datasets import load_iris

from gaussmix import GaussianMixture
from gaussmix.core import estep, fast_em
from gaussmix.core.covariance import COVARIANCE_TYPES, get_family
from gaussmix.core.estep import LogDensityOverflowError, e_step
from gaussmix.core.params import GMMParams
from gaussmix.core.sklearn_families import Diag
from gaussmix.core.stats import NoiseStats

RTOL = 1e-10


# ----------------------------------------------------------------- helpers
@contextmanager
def _path(compiled: bool) -> Iterator[None]:
    """Run the E-step compiled (where it applies) or in NumPy."""
    saved = estep.USE_COMPILED
    estep.USE_COMPILED = compiled
    try:
        yield
    finally:
        estep.USE_COMPILED = saved


def _both(X, params, family, sample_weight=None):
    with _path(True):
        compiled = e_step(X, params, family, sample_weight)
    with _path(False):
        numpy = e_step(X, params, family, sample_weight)
    return compiled, numpy


def _params(family, n_components, n_features, rng, noise=None):
    """Random, well-conditioned parameters in the family's storage shape."""
    weights = rng.dirichlet(np.ones(n_components))
    means = rng.normal(size=(n_components, n_features))
    shape = family.covariance_shape(n_components, n_features)
    if len(shape) == 3:
        a = rng.normal(size=shape)
        cov = a @ np.swapaxes(a, 1, 2) + n_features * np.eye(n_features)
    elif family.shared and len(shape) == 2:
        a = rng.normal(size=shape)
        cov = a @ a.T + n_features * np.eye(n_features)
    else:
        cov = rng.uniform(0.3, 3.0, size=shape)
    factors, failed = family.precisions_cholesky(cov)
    assert not np.any(failed)
    if noise is None:
        return GMMParams(weights, means, cov, factors)
    noise_weight, log_density = noise
    return GMMParams(
        weights * (1.0 - noise_weight), means, cov, factors, noise_weight, log_density
    )


def _close(a, b, scale, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, what
    assert a.dtype == b.dtype, what
    err = float(np.max(np.abs(a - b), initial=0.0))
    assert err <= RTOL * scale, f"{what}: {err} > {RTOL} * {scale}"
    return err / scale if scale else 0.0


def _assert_same(compiled, numpy, X, params, family, sample_weight=None):
    """The statistics agree within RTOL of the size of their terms."""
    assert type(compiled) is type(numpy)
    assert np.array_equal(compiled.shift, numpy.shift)
    assert compiled.n_samples == numpy.n_samples
    assert compiled.weight == pytest.approx(numpy.weight, rel=RTOL)
    worst = 0.0
    for name in ("nk", "sx", "sxx"):
        b = getattr(numpy, name)
        scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
        worst = max(worst, _close(getattr(compiled, name), b, scale, name))
    # The log-likelihood can cancel: compare it with the sum of |w_i log p(x_i)|.
    with _path(False):
        log_p, _, _ = estep.estimate_log_prob_resp(X, params, family, want_resp=False)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    scale = max(float(np.abs(log_p) @ w), 1e-300)
    worst = max(worst, _close(compiled.loglik, numpy.loglik, scale, "loglik"))
    if isinstance(numpy, NoiseStats):
        assert compiled.noise_log_density == numpy.noise_log_density
        scale = max(numpy.weight, 1e-300)
        worst = max(worst, _close(compiled.noise, numpy.noise, scale, "noise"))
    return worst


def _cases():
    for name in COVARIANCE_TYPES:
        family = get_family(name)
        if family.multivariate_model is not None:  # E, V
            yield name, 1
        elif family.group == "sklearn":
            yield from ((name, d) for d in (1, 2, 5))
        else:
            yield from ((name, d) for d in (2, 5))


# ----------------------------------------------------------------- kernels
@pytest.mark.parametrize(("name", "n_features"), list(_cases()))
def test_compiled_estep_matches_numpy(name, n_features):
    family = get_family(name)
    with _path(True):
        assert estep._compiled_kernel(family) is not None
    rng = np.random.default_rng(abs(hash((name, n_features))) % 2**32)
    for n_components in (1, 3, 9):
        for n_samples in (1, 7, 300, 2000):
            params = _params(family, n_components, n_features, rng)
            X = 1.5 * rng.normal(size=(n_samples, n_features))
            assert (
                n_samples * family.n_moments(n_components, n_features)
                <= estep.COMPILED_MAX_WORK
            ) or n_samples == 2000
            for weights in (None, rng.uniform(0.0, 3.0, size=n_samples)):
                # Call the kernel itself: (2000, 5, 9) is beyond the threshold.
                with _path(True):
                    compiled = estep._e_step_compiled(X, params, family, weights)
                assert compiled is not None
                with _path(False):
                    numpy = e_step(X, params, family, weights)
                _assert_same(compiled, numpy, X, params, family, weights)


@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical", "V", "VEV"])
@pytest.mark.parametrize("noise_weight", [0.0, 0.2])
def test_noise_component(name, noise_weight):
    family = get_family(name)
    n_features = 1 if family.multivariate_model else 3
    rng = np.random.default_rng(7)
    params = _params(family, 3, n_features, rng, noise=(noise_weight, -4.0))
    X = 2.0 * rng.normal(size=(400, n_features))
    for weights in (None, rng.uniform(0.0, 2.0, size=400)):
        compiled, numpy = _both(X, params, family, weights)
        assert isinstance(compiled, NoiseStats)
        _assert_same(compiled, numpy, X, params, family, weights)


@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical"])
def test_zero_weight_component(name):
    """``log(0) = -inf`` for an empty component, as ``np.log`` (exp floored at -700)."""
    family = get_family(name)
    rng = np.random.default_rng(3)
    params = _params(family, 3, 2, rng)
    params = GMMParams(
        np.array([0.6, 0.0, 0.4]),
        params.means,
        params.covariances,
        params.precisions_cholesky,
    )
    X = rng.normal(size=(50, 2))
    compiled, numpy = _both(X, params, family)
    assert compiled.nk[1] < 1e-290
    assert numpy.nk[1] < 1e-290
    _assert_same(compiled, numpy, X, params, family)


@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical"])
def test_non_finite_log_density_raises_as_numpy(name):
    family = get_family(name)
    params = _params(family, 2, 2, np.random.default_rng(0))
    X = np.array([[0.0, 0.0], [1e200, -1e200]])
    for compiled in (True, False):
        with _path(compiled), pytest.raises(LogDensityOverflowError, match="1 rows"):
            e_step(X, params, family)


# ----------------------------------------------------------------- routing
def _spy(monkeypatch):
    calls = []
    original = estep._e_step_compiled

    def spy(*args):
        found = original(*args)
        calls.append(found is not None)
        return found

    monkeypatch.setattr(estep, "_e_step_compiled", spy)
    # Whole fits would otherwise run in the compiled EM loop, which calls the
    # kernels directly (tests/core/test_compiled_em.py).
    monkeypatch.setattr(fast_em, "USE_COMPILED", False)
    return calls


def test_routing(monkeypatch):
    family = get_family("full")
    rng = np.random.default_rng(1)
    params = _params(family, 3, 4, rng)
    calls = _spy(monkeypatch)
    with _path(True):
        small = rng.normal(size=(100, 4))
        e_step(small, params, family)
        assert calls == [True]
        e_step(small.astype(np.float32), params, family)  # float32: NumPy
        e_step(small, params, family, rows=50)  # explicit chunks: NumPy
        big_rows = estep.COMPILED_MAX_WORK // family.n_moments(3, 4) + 1
        e_step(rng.normal(size=(big_rows, 4)), params, family)  # BLAS
        assert calls == [True]
        e_step(np.asfortranarray(small), params, family)  # copied to C order
        assert calls == [True, True]
    with _path(False):
        e_step(small, params, family)
    assert calls == [True, True]


def test_overriding_family_keeps_numpy():
    class Custom(Diag):
        def prepare(self, params, shift, dtype, log_weights):
            return super().prepare(params, shift, dtype, log_weights)

    with _path(True):
        assert estep._compiled_kernel(Custom(name="custom")) is None
        assert estep._compiled_kernel(get_family("VEI")) is not None


def test_full_beyond_packed_design_keeps_numpy(monkeypatch):
    family = get_family("full")
    rng = np.random.default_rng(2)
    params = _params(family, 2, 3, rng)
    monkeypatch.setattr(family, "packed_max_features", 2)
    X = rng.normal(size=(20, 3))
    with _path(True):
        assert estep._e_step_compiled(X, params, family, None) is None


def test_import_is_lazy_and_env_switch():
    code = (
        "import sys, gaussmix, gaussmix.core.estep as e; "
        "assert 'gaussmix.core._compiled_estep' not in sys.modules; "
        "print(e.USE_COMPILED)"
    )
    env = dict(os.environ, GAUSSMIX_NO_COMPILED="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------- fits
@pytest.mark.parametrize(
    ("name", "k"),
    [("full", 3), ("tied", 3), ("diag", 2), ("spherical", 4), ("VEV", 3), ("EVI", 3)],
)
def test_fit_on_iris(name, k, monkeypatch):
    X = load_iris().data
    calls = _spy(monkeypatch)
    fits = []
    for compiled in (True, False):
        with _path(compiled):
            gm = GaussianMixture(k, covariance_type=name, random_state=0).fit(X)
        fits.append(gm)
        # Every E-step of the fit ran compiled (one more: the final one).
        assert len(calls) >= gm.n_iter_
        assert all(calls)
    a, b = fits
    assert a.n_iter_ == b.n_iter_
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=RTOL)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=RTOL)
    np.testing.assert_allclose(a.means_, b.means_, rtol=RTOL)
    scale = float(np.max(np.abs(b.covariances_)))
    np.testing.assert_allclose(
        a.covariances_, b.covariances_, rtol=RTOL, atol=RTOL * scale
    )
