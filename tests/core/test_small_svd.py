"""The small-matrix SVD of the compiled EVE/VVE loop against LAPACK's (NumPy's).

``_compiled._small_svd`` (one-sided Jacobi) replaces ``np.linalg.svd`` in the
MM updates of the common orientation, whose results are the polar factors
``U V^T`` of ``D x D`` matrices, ``D`` = 1..10. ``_compiled._svd`` adds the
statuses: ``SVD_FAILED`` if it did not converge, ``AMBIGUOUS`` if a singular
value other than those of the exactly zero columns is at most
``AMBIGUOUS_RCOND`` times the largest.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from gaussmix.core import _compiled

SIZES = range(1, 11)


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _with_values(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    """A random matrix with the given singular values."""
    n = values.shape[0]
    return (_orthogonal(rng, n) * values) @ _orthogonal(rng, n).T


def _check_factors(a, u, values, vt, tol=1e-13):
    """Decreasing values, orthogonal factors, and ``U diag(values) V^T = a``."""
    n = a.shape[0]
    assert np.all(np.diff(values) <= 0.0)
    assert np.all(values >= 0.0)
    np.testing.assert_allclose(u.T @ u, np.eye(n), rtol=0, atol=tol)
    np.testing.assert_allclose(vt @ vt.T, np.eye(n), rtol=0, atol=tol)
    scale = max(values[0], np.finfo(float).tiny)
    assert np.max(np.abs((u * values) @ vt - a)) <= tol * scale


def _aligned(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``got`` with each column's sign that of the matching column of ``want``."""
    return got * np.where(np.sum(got * want, axis=0) < 0, -1.0, 1.0)


@pytest.mark.parametrize("n", SIZES)
def test_random_matrices_match_lapack(n):
    rng = np.random.default_rng(n)
    for _ in range(200):
        a = rng.standard_normal((n, n)) * 10.0 ** rng.uniform(-5, 5)
        u, values, vt, converged = _compiled._small_svd(a)
        assert converged
        _check_factors(a, u, values, vt)
        want = np.linalg.svd(a, compute_uv=False)
        assert np.max(np.abs(values - want)) <= 1e-13 * want[0]


@pytest.mark.parametrize("n", SIZES)
def test_polar_factor_matches_lapack_on_well_conditioned_matrices(n):
    """``U V^T`` is unique for a nonsingular matrix: the same as LAPACK's."""
    rng = np.random.default_rng(100 + n)
    for _ in range(200):
        a = _with_values(rng, rng.uniform(0.01, 1.0, size=n)) * rng.uniform(0.1, 1e3)
        p, rt, status = _compiled._svd(a, 0)
        assert status == _compiled.OK
        p_ref, _, rt_ref = np.linalg.svd(a)
        assert np.max(np.abs(p @ rt - p_ref @ rt_ref)) <= 1e-12


@pytest.mark.parametrize("n", SIZES)
def test_the_input_is_not_modified(n):
    a = np.random.default_rng(n).standard_normal((n, n))
    copy = a.copy()
    _compiled._svd(a, 0)
    np.testing.assert_array_equal(a, copy)


@pytest.mark.parametrize(
    ("n", "n_zero"), [(n, z) for n in range(2, 11) for z in (1, 2) if z < n]
)
def test_exactly_zero_columns(n, n_zero):
    """Zero columns give exactly zero singular values and ``V``'s columns ``e_l``.

    ``U`` is completed to an orthonormal basis; the polar factor is then the
    same as LAPACK's up to the sign of each zero column (for one zero column;
    two leave a rotation of those columns free, which is not compared).
    """
    rng = np.random.default_rng([n, n_zero])
    for _ in range(50):
        a = _with_values(rng, rng.uniform(0.1, 1.0, size=n))
        zero = rng.choice(n, size=n_zero, replace=False)
        a[:, zero] = 0.0
        p, rt, status = _compiled._svd(a, n_zero)
        assert status == _compiled.OK
        u, values, vt, converged = _compiled._small_svd(a)
        assert converged
        np.testing.assert_array_equal(u, p)
        np.testing.assert_array_equal(vt, rt)
        _check_factors(a, u, values, vt)
        np.testing.assert_array_equal(values[n - n_zero :], 0.0)
        assert values[n - n_zero - 1] > 0.0
        for row in vt[n - n_zero :]:
            assert set(np.flatnonzero(row)) <= set(zero)
        if n_zero == 1:
            p_ref, _, rt_ref = np.linalg.svd(a)
            polar, want = p @ rt, p_ref @ rt_ref
            np.testing.assert_allclose(_aligned(polar, want), want, atol=1e-12)


@pytest.mark.parametrize("n", range(2, 11))
def test_rank_deficient_matrices_are_ambiguous(n):
    """Beyond the zero columns, a singular value <= AMBIGUOUS_RCOND * largest."""
    rng = np.random.default_rng(200 + n)
    for rank in range(n):
        values = np.zeros(n)
        values[:rank] = rng.uniform(0.5, 2.0, size=rank)
        a = _with_values(rng, values)
        assert _compiled._svd(a, 0)[2] == _compiled.AMBIGUOUS
        u, got, vt, converged = _compiled._small_svd(a)
        assert converged
        _check_factors(a, u, got, vt)
        if rank:
            np.testing.assert_allclose(got[:rank], np.sort(values)[::-1][:rank])
            assert np.all(got[rank:] <= 1e-14 * got[0])
    # A zero column plus a dependent pair: ambiguous with n_zero = 1 too.
    a = _with_values(rng, rng.uniform(0.5, 2.0, size=n))
    a[:, 0] = 0.0
    if n > 2:
        a[:, 1] = 3.0 * a[:, n - 1]
        assert _compiled._svd(a, 1)[2] == _compiled.AMBIGUOUS
    # ... and a zero column alone is not.
    a[:, 1] = rng.standard_normal(n)
    assert _compiled._svd(a, 1)[2] == _compiled.OK


def test_the_ambiguity_threshold():
    rng = np.random.default_rng(3)
    rcond = _compiled.AMBIGUOUS_RCOND
    for n in range(2, 7):
        for smallest, status in ((10 * rcond, _compiled.OK), (rcond / 10, 4)):
            values = np.linspace(1.0, 0.5, n)
            values[-1] = smallest
            a = _with_values(rng, values) * 7.0
            assert _compiled._svd(a, 0)[2] == status
            _, got, _, _ = _compiled._small_svd(a)
            assert abs(got[-1] - 7.0 * smallest) <= 1e-14 * 7.0


def test_zero_and_one_by_one_matrices():
    for n in SIZES:
        u, values, vt, converged = _compiled._small_svd(np.zeros((n, n)))
        assert converged
        np.testing.assert_array_equal(values, 0.0)
        _check_factors(np.zeros((n, n)), u, values, vt)
        assert _compiled._svd(np.zeros((n, n)), n)[2] == _compiled.OK
        assert _compiled._svd(np.zeros((n, n)), 0)[2] == _compiled.AMBIGUOUS
    for x in (-3.0, 2.5, -1e-300, 1e300):
        p, rt, status = _compiled._svd(np.array([[x]]), 0)
        assert status == _compiled.OK
        assert (p @ rt)[0, 0] == np.sign(x)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("scale", [1e150, 1e-150, 1e300, 1e-300])
def test_huge_and_tiny_scales(n, scale):
    """Scaled by a power of two inside: the same factors, the values scaled."""
    rng = np.random.default_rng(n)
    for _ in range(20):
        a = _with_values(rng, rng.uniform(0.01, 1.0, size=n))
        u, values, vt, converged = _compiled._small_svd(a)
        u_s, values_s, vt_s, converged_s = _compiled._small_svd(a * scale)
        assert converged
        assert converged_s
        np.testing.assert_allclose(values_s, values * scale, rtol=1e-13, atol=0)
        np.testing.assert_allclose(u_s @ vt_s, u @ vt, rtol=0, atol=1e-13)
        _check_factors(a * scale, u_s, values_s, vt_s)


@pytest.mark.parametrize("n", range(2, 11))
def test_graded_matrices(n):
    """Rows and columns from 1e-150 to 1e150: LAPACK's values, no overflow."""
    rng = np.random.default_rng(300 + n)
    for _ in range(20):
        grades = np.logspace(-150, 150, n)
        a = grades[:, None] * rng.standard_normal((n, n))
        u, values, vt, converged = _compiled._small_svd(a)
        assert converged
        assert np.all(np.isfinite(u))
        assert np.all(np.isfinite(vt))
        _check_factors(a, u, values, vt)
        want = np.linalg.svd(a, compute_uv=False)
        assert np.max(np.abs(values - want)) <= 1e-13 * want[0]
        a = a.T
        _, values, _, converged = _compiled._small_svd(a)
        assert converged
        assert np.max(np.abs(values - want)) <= 1e-13 * want[0]


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_input_fails(bad):
    a = np.eye(3)
    a[1, 2] = bad
    assert not _compiled._small_svd(a)[3]
    assert _compiled._svd(a, 0)[2] == _compiled.SVD_FAILED


@pytest.mark.parametrize("n", SIZES)
def test_starting_from_a_nearby_v(n):
    """From the ``V^T`` of a nearby matrix (the MM loop's warm start): the same SVD."""
    rng = np.random.default_rng(400 + n)
    for _ in range(50):
        a = _with_values(rng, rng.uniform(0.01, 1.0, size=n))
        _, _, start, _ = _compiled._small_svd(a)
        # A nearby matrix, and the start's rows slightly off orthonormal.
        b = a + 1e-3 * rng.standard_normal((n, n))
        start = start + 1e-9 * rng.standard_normal((n, n))
        kept = start.copy()
        u, values, vt, converged = _compiled._small_svd(b, start)
        np.testing.assert_array_equal(start, kept)
        assert converged
        _check_factors(b, u, values, vt)
        p_ref, want, rt_ref = np.linalg.svd(b)
        assert np.max(np.abs(values - want)) <= 1e-13 * want[0]
        p, rt, status = _compiled._svd(b, 0, start)
        assert status == _compiled.OK
        assert np.max(np.abs(p @ rt - p_ref @ rt_ref)) <= 1e-12
        # From an unrelated orthogonal start too.
        u, values, vt, converged = _compiled._small_svd(b, _orthogonal(rng, n))
        assert converged
        _check_factors(b, u, values, vt)
        assert np.max(np.abs(u @ vt - p_ref @ rt_ref)) <= 1e-12


def test_repeated_warm_starts_keep_v_orthogonal():
    """Each start's rounding is removed: no drift over many chained SVDs."""
    rng = np.random.default_rng(9)
    for n in (3, 6, 10):
        a = _with_values(rng, rng.uniform(0.1, 1.0, size=n))
        vt = np.eye(n)
        for _ in range(3000):
            a = a + 1e-4 * rng.standard_normal((n, n))
            _, _, vt, converged = _compiled._small_svd(a, vt)
            assert converged
        assert np.max(np.abs(vt @ vt.T - np.eye(n))) <= 1e-14 * n
