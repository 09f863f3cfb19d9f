"""The blocked passes of gaussmix.core._compiled_estep: its exp, log and block edges.

The kernels work on blocks of ``_BLOCK`` rows with their own vectorisable
``exp`` and ``log``. Here: that ``exp`` against ``math.exp`` (within 2 ulp on
``[-745, 0]``, exactly 1 at 0), that ``log`` against ``math.log`` (within 2
ulp on the normal positive floats, exactly 0 at 1), and the kernels against the row-by-row
reference below (the formulas of the kernels before blocking, in plain
Python) on row counts around the block size, with sample weights, noise and a
non-finite row in a later block.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("numba")

import numba

from gaussmix.core import _compiled_estep as ce

RTOL = 1e-10


@numba.njit(cache=False)
def _exp_all(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = ce.fast_exp(x[i])
    return out


@numba.njit(cache=False)
def _math_exp_all(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = math.exp(x[i])
    return out


def test_exp_within_two_ulp_of_math_exp():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-745.0, 0.0, 400_000),
            rng.uniform(-1.0, 0.0, 200_000),
            -np.exp(rng.uniform(-40.0, 0.0, 50_000)),
            np.linspace(-745.1, 0.0, 50_001),
            # the ends, the floor of the E-step, both sides of the subnormals
            [0.0, -0.0, -5e-324, -1e-300, -1e-17, -700.0, -708.39, -708.4],
            [-709.0, -720.0, -744.4, -745.0, -745.13],
            # multiples of log(2)/2 (where n changes)
            -0.5 * math.log(2.0) * np.arange(0, 2150),
        ]
    )
    ours = _exp_all(x)
    reference = _math_exp_all(x)
    ulp = np.abs(ours - reference) / np.spacing(np.abs(reference))
    assert float(np.max(ulp)) <= 2.0
    assert _exp_all(np.array([0.0, -0.0]))[0] == 1.0
    assert np.all(ours > 0.0)
    # exp(-700), the floor of the E-step, as math.exp within 2 ulp
    assert abs(ce.fast_exp(-700.0) - math.exp(-700.0)) <= 2 * np.spacing(
        math.exp(-700.0)
    )


@numba.njit(cache=False)
def _log_all(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = ce.fast_log(x[i])
    return out


def test_log_within_two_ulp_of_math_log():
    rng = np.random.default_rng(1)
    tiny = np.finfo(np.float64).tiny
    x = np.concatenate(
        [
            rng.uniform(1.0, 10.0, 400_000),  # the E-step's sums: [1, K + 1]
            rng.uniform(0.5, 2.0, 200_000),
            np.exp(rng.uniform(math.log(tiny), 709.0, 200_000)),
            1.0 + np.exp(rng.uniform(-52 * math.log(2.0), 0.0, 50_000)),
            # around 1, sqrt(2)/2 and sqrt(2) (where k changes), the ends
            np.nextafter(1.0, [0.0, 2.0]),
            [
                math.sqrt(0.5),
                math.sqrt(2.0),
                2.0,
                0.5,
                3.0,
                tiny,
                1.7976931348623157e308,
            ],
            np.nextafter(math.sqrt(2.0), [0.0, 2.0]),
            2.0 ** np.arange(-1022, 1024, dtype=float),
        ]
    )
    ours = _log_all(x)
    reference = np.array([math.log(v) for v in x])
    ulp = np.abs(ours - reference) / np.spacing(np.abs(reference) + (reference == 0))
    assert float(np.max(ulp)) <= 2.0
    assert _log_all(np.array([1.0]))[0] == 0.0


# ----------------------------------------------------------------- reference
def _reference(
    kind, X, shift, weights, means, pc, sample_weight, has_noise, noise_term
):
    """The E-step in NumPy, or None for a non-finite row.

    Returns ``(nk, sx, sxx, loglik, noise, loglik scale, moment scales)``.
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    xc = X - shift
    lt = np.empty((n_samples, n_components))
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    for k in range(n_components):
        d = xc - (means[k] - shift)
        if kind == "full":
            y = d @ pc[k]
            logdet = np.sum(np.log(np.diag(pc[k])))
        elif kind == "tied":
            y = d @ pc
            logdet = np.sum(np.log(np.diag(pc)))
        elif kind == "diag":
            y = d * pc[k]
            logdet = np.sum(np.log(pc[k]))
        else:
            y = d * pc[k]
            logdet = n_features * np.log(pc[k])
        lt[:, k] = (
            -0.5 * n_features * math.log(2 * math.pi) + logdet - 0.5 * np.sum(y * y, 1)
        ) + log_w[k]
    noisy = has_noise and noise_term != -math.inf
    m = lt.max(axis=1)
    if noisy:
        m = np.maximum(m, noise_term)
    if np.isnan(lt).any() or not np.all(np.isfinite(m)):
        return None
    e = np.exp(np.maximum(lt - m[:, None], -700.0))
    noise = np.exp(np.maximum(noise_term - m, -700.0)) if noisy else np.zeros(n_samples)
    s = e.sum(axis=1) + noise
    w = np.ones(n_samples) if sample_weight.shape[0] == 0 else sample_weight
    resp = e * (w / s)[:, None]
    loglik = float(np.sum((np.log(s) + m) * w))
    noise_mass = float(np.sum(noise * w / s))
    nk = resp.sum(axis=0)
    sx, sxx = _moments(kind, resp, xc, w, has_noise)
    # The size of the terms (the moments can cancel): those of |xc|.
    sizes = (nk, *_moments(kind, resp, np.abs(xc), w, has_noise))
    scales = [max(float(np.max(a)), 1e-300) for a in sizes]
    loglik_scale = max(float(np.abs(np.log(s) + m) @ w), 1e-300)
    return nk, sx, sxx, loglik, noise_mass, loglik_scale, scales


def _moments(kind, resp, xc, w, has_noise):
    sx = resp.T @ xc
    if kind == "tied":
        share = resp.sum(axis=1) if has_noise else w
        sxx = (xc * share[:, None]).T @ xc
    elif kind == "full":
        sxx = np.einsum("nk,ni,nj->kij", resp, xc, xc)
    elif kind == "diag":
        sxx = resp.T @ (xc * xc)
    else:
        sxx = resp.T @ np.sum(xc * xc, axis=1)
    return sx, sxx


def _parameters(kind, n_components, n_features, rng):
    weights = rng.dirichlet(np.ones(n_components))
    means = rng.normal(size=(n_components, n_features))
    if kind == "full":
        a = rng.normal(size=(n_components, n_features, n_features))
        cov = a @ np.swapaxes(a, 1, 2) + n_features * np.eye(n_features)
        pc = np.array([np.linalg.inv(np.linalg.cholesky(c)).T for c in cov])
    elif kind == "tied":
        a = rng.normal(size=(n_features, n_features))
        cov = a @ a.T + n_features * np.eye(n_features)
        pc = np.linalg.inv(np.linalg.cholesky(cov)).T.copy()
    elif kind == "diag":
        pc = 1.0 / np.sqrt(rng.uniform(0.3, 3.0, size=(n_components, n_features)))
    else:
        pc = 1.0 / np.sqrt(rng.uniform(0.3, 3.0, size=n_components))
    return weights, means, np.ascontiguousarray(pc)


KINDS = ["full", "tied", "diag", "spherical"]
EDGES = [1, ce._BLOCK - 1, ce._BLOCK, ce._BLOCK + 1, 2 * ce._BLOCK, 3 * ce._BLOCK + 5]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_samples", EDGES)
def test_kernels_match_reference_around_block_edges(kind, n_samples):
    kernel = getattr(ce, f"estep_{kind}")
    rng = np.random.default_rng(n_samples)
    for n_features in (2, 5):
        X = 1.5 * rng.normal(size=(n_samples, n_features))
        shift = X.mean(axis=0)
        for n_components in (1, 4, 9):
            params = _parameters(kind, n_components, n_features, rng)
            for sample_weight in (np.empty(0), rng.uniform(0.0, 3.0, n_samples)):
                for has_noise, noise_term in (
                    (False, 0.0),
                    (True, -3.0),
                    (True, -math.inf),
                ):
                    args = (X, shift, *params, sample_weight, has_noise, noise_term)
                    nk, sx, sxx, loglik, noise, status = kernel(*args)
                    assert status == ce.OK
                    ref = _reference(kind, *args)
                    for a, b, scale in zip((nk, sx, sxx), ref[:3], ref[6], strict=True):
                        assert a.shape == b.shape
                        assert np.max(np.abs(a - b)) <= RTOL * scale
                    assert abs(loglik - ref[3]) <= RTOL * ref[5]
                    weight = (
                        n_samples
                        if sample_weight.shape[0] == 0
                        else sample_weight.sum()
                    )
                    assert abs(noise - ref[4]) <= RTOL * max(weight, 1e-300)
                    if not has_noise or noise_term == -math.inf:
                        assert noise == 0.0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, 1e200])
def test_non_finite_row_in_a_later_block(kind, bad):
    """A NaN, infinite or overflowing row past the first block gives NON_FINITE.

    With a (finite) noise term, a row that is ``-inf`` under every Gaussian
    goes to the noise (as in NumPy): only NaN stays NON_FINITE.
    """
    kernel = getattr(ce, f"estep_{kind}")
    rng = np.random.default_rng(5)
    n_samples = 2 * ce._BLOCK + 7
    X = rng.normal(size=(n_samples, 3))
    shift = X.mean(axis=0)
    X[ce._BLOCK + 3, 1] = bad
    params = _parameters(kind, 3, 3, rng)
    assert kernel(X, shift, *params, np.empty(0), False, 0.0)[5] == ce.NON_FINITE
    out = kernel(X, shift, *params, np.empty(0), True, -2.0)
    if math.isnan(bad):
        assert out[5] == ce.NON_FINITE
    elif bad == 1e200:
        assert out[5] == ce.OK
        assert out[4] >= 1.0  # the row's weight went to the noise


@pytest.mark.parametrize("kind", KINDS)
def test_noise_dominates_far_rows(kind):
    """Rows far from every component: the noise term is the row's maximum."""
    kernel = getattr(ce, f"estep_{kind}")
    rng = np.random.default_rng(11)
    X = np.concatenate([rng.normal(size=(70, 2)), 40.0 + rng.normal(size=(30, 2))])
    shift = X.mean(axis=0)
    params = _parameters(kind, 3, 2, rng)
    args = (X, shift, *params, np.empty(0), True, -6.0)
    nk, sx, sxx, loglik, noise, status = kernel(*args)
    ref = _reference(kind, *args)
    assert status == ce.OK
    assert noise == pytest.approx(ref[4], rel=RTOL)
    assert noise > 29.0
    assert loglik == pytest.approx(ref[3], rel=RTOL)
    for a, b, scale in zip((nk, sx, sxx), ref[:3], ref[6], strict=True):
        assert np.max(np.abs(a - b)) <= RTOL * scale
