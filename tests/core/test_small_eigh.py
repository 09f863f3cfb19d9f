"""The small symmetric eigensolver of the compiled M-steps against LAPACK's (NumPy's).

``_compiled.small_eigh`` (cyclic Jacobi) replaces ``np.linalg.eigh`` in the
compiled M-steps of EEV, VEV, EVV and VEE (``_compiled_em._eigh``), and hands
a matrix back to LAPACK (``ok`` False) when two eigenvalues are closer than
``EIGH_SEPARATION`` times the largest, where eigenvectors are ill-determined.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from gaussmix.core import _compiled

SIZES = range(1, 9)


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _with_values(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    q = _orthogonal(rng, values.shape[0])
    a = (q * values) @ q.T
    return (a + a.T) / 2.0


@pytest.mark.parametrize("n", SIZES)
def test_agrees_with_lapack_on_separated_spectra(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(50):
        # Covariance-like: positive, spread over up to ten orders of magnitude.
        values = np.sort(10.0 ** rng.uniform(-5, 5, n)) * 10.0 ** rng.uniform(-8, 8)
        a = _with_values(rng, values)
        got, vectors, ok = _compiled.small_eigh(a)
        expected, lapack_vectors = np.linalg.eigh(a)
        gaps = np.diff(expected) / np.max(np.abs(expected))
        if not ok:
            assert n > 1
            assert np.min(gaps) <= 1.01 * _compiled.EIGH_SEPARATION
            continue
        scale = np.max(np.abs(expected))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14 * scale)
        assert np.all(np.diff(got) > 0)
        np.testing.assert_allclose(vectors.T @ vectors, np.eye(n), atol=1e-14)
        np.testing.assert_allclose(
            (vectors * got) @ vectors.T, a, rtol=0, atol=1e-13 * scale
        )
        # The same eigenvectors up to sign, within eps / gap.
        signs = np.sign(np.sum(vectors * lapack_vectors, axis=0))
        tol = 1e-14 / max(np.min(gaps), 1e-14) if n > 1 else 1e-15
        np.testing.assert_allclose(vectors * signs, lapack_vectors, atol=tol)


def test_reconstruction_with_other_values_within_1e10() -> None:
    """EEV's use: ``D_k A D_k^T`` with another ``A`` agrees with LAPACK's basis."""
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(200):
        n = int(rng.integers(2, 7))
        a = _with_values(rng, np.sort(10.0 ** rng.uniform(-3, 3, n)))
        _, vectors, ok = _compiled.small_eigh(a)
        if not ok:
            continue
        _, lapack_vectors = np.linalg.eigh(a)
        other = np.sort(10.0 ** rng.uniform(-3, 3, n))
        mine = (vectors * other) @ vectors.T
        theirs = (lapack_vectors * other) @ lapack_vectors.T
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-10 * other.max())
        checked += 1
    assert checked > 150


@pytest.mark.parametrize(
    "values",
    [[1.0, 1.0, 2.0], [0.0, 0.0, 0.0], [3.0, 3.0], [1.0, 2.0, 2.0 + 1e-9]],
)
def test_close_eigenvalues_go_to_lapack(values) -> None:
    a = _with_values(np.random.default_rng(0), np.array(values))
    *_, ok = _compiled.small_eigh(a)
    assert not ok


def test_non_finite_goes_to_lapack() -> None:
    a = np.eye(3)
    a[0, 1] = a[1, 0] = np.nan
    assert not _compiled.small_eigh(a)[2]
    a[0, 1] = a[1, 0] = np.inf
    assert not _compiled.small_eigh(a)[2]


def test_one_by_one_and_diagonal() -> None:
    got, vectors, ok = _compiled.small_eigh(np.array([[4.0]]))
    assert ok
    assert got[0] == 4.0
    assert vectors[0, 0] == 1.0
    got, vectors, ok = _compiled.small_eigh(np.diag([3.0, 1.0, 2.0]))
    assert ok
    np.testing.assert_array_equal(got, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.abs(vectors), np.eye(3)[:, [1, 2, 0]])
