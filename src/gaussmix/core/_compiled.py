"""Compiled (numba) inner loops of the mclust covariance models.

The MM updates of the common orientation of EVE and VVE
(:meth:`gaussmix.core.mclust_models._CommonOrientation.constrain`) run some
20 times per M-step on ``K x D x D`` arrays with ``D`` = 2..6: in NumPy the
loop is bound by the cost of its Python calls (two SVDs and three einsums per
update). :func:`common_orientation_loop` is that loop compiled, with the
einsums written as loops. The numbers agree with the NumPy loop's up to
rounding, except where an SVD is not unique (see :data:`AMBIGUOUS`). It
returns a status instead of raising, and the caller raises the exceptions of
the NumPy loop.

Each update needs the polar factor ``P R^T`` of a ``D x D`` matrix ``F = P B
R^T``. Its SVD is :func:`_small_svd`, one-sided (Hestenes) Jacobi written out
here, and not numba's ``np.linalg.svd``: that is LAPACK's ``gesdd`` behind a
workspace query, copies to Fortran order and allocations, some 4 us on a
2 x 2 and 13 us on a 6 x 6 matrix, which made the SVDs most of the loop's
time. The Jacobi SVD takes about 1 us on 2 x 2 and 6-8 us on a random 6 x 6
matrix, and half that when it starts from the previous update's ``V`` (the
matrices ``F`` change little from one update to the next, so ``F V_prev``
has nearly orthogonal columns and one or two sweeps settle it). Measured on
``common_orientation_loop`` itself (K = 3..9 random components, median per
call, against the loop with LAPACK's SVD): 3.4x faster at D = 2 and 3, 3.3x
at D = 4, 3.1x at D = 5, 2.8x at D = 6. Its polar factors agree with
LAPACK's to about ``1e-14`` on well-conditioned matrices (unique there);
``U`` comes out orthonormal to rounding whatever the conditioning (a pair of
columns is rotated until the cosine of their angle is below ``D eps``).

Importing this module imports numba (an optional dependency): the caller
imports it on first use and falls back to the NumPy loop on ``ImportError``.
The kernels are cached on disk (``cache=True``), so a new process loads them
instead of compiling them again.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gaussmix._typing import FloatArray

__all__ = [
    "NON_FINITE_MM",
    "NON_FINITE_OBJECTIVE",
    "OK",
    "SVD_FAILED",
    "AMBIGUOUS",
    "AMBIGUOUS_RCOND",
    "common_orientation_loop",
    "rotated_variances",
    "small_eigh",
    "volume_factors",
]

#: Statuses of :func:`common_orientation_loop`.
OK = 0
#: A matrix of an MM update (``F`` of MM 1 or MM 2) is not finite: the NumPy
#: loop's ``_require_finite`` raises (LAPACK's SVD may never return on it).
NON_FINITE_MM = 1
#: The objective is not finite: the NumPy loop raises ``overflow_error``.
NON_FINITE_OBJECTIVE = 2
#: LAPACK's SVD did not converge: the NumPy loop raises ``LinAlgError``.
SVD_FAILED = 3
#: An MM update met a rank-deficient ``F`` (beyond its exactly zero columns):
#: its polar factor ``P R^T`` is not unique, LAPACK's rounding picks one, and
#: this loop may pick another than the NumPy loop. The caller runs the NumPy
#: loop instead (always for ``K = 1``, where ``F`` of MM 1 is singular).
AMBIGUOUS = 4

#: ``F`` counts as rank-deficient when a singular value is at most this times
#: the largest. The pairing of the signs of the singular vectors of a zero
#: singular value is decided by rounding, a few ``eps``; above this bound it
#: is decided by the data, the same way on both paths.
AMBIGUOUS_RCOND = 1e-10


@numba.njit(cache=True, nogil=True)
def rotated_variances(orientation: FloatArray, s: FloatArray) -> FloatArray:
    """``u_ki = d_i^T S_k d_i``: the variance of each ``S_k`` along each column ``d_i``."""
    n_components, n_features = s.shape[0], s.shape[1]
    u = np.empty((n_components, n_features))
    for k in range(n_components):
        for i in range(n_features):
            acc = 0.0
            for j in range(n_features):
                row = 0.0
                for m in range(n_features):
                    row += s[k, j, m] * orientation[m, i]
                acc += orientation[j, i] * row
            u[k, i] = acc
    return u


@numba.njit(cache=True, nogil=True)
def volume_factors(
    values: FloatArray, weights: FloatArray, total: float
) -> tuple[FloatArray, float]:
    """Per component ``volume / g_k``, and the common volume.

    ``g_k`` is the geometric mean of row ``k`` of ``values`` (its volume), and
    the common volume their mean weighted by ``weights`` over ``total``.
    """
    n_components, n_features = values.shape
    factors = np.empty(n_components)
    weighted = 0.0
    for k in range(n_components):
        logs = 0.0
        for i in range(n_features):
            logs += math.log(values[k, i])
        factors[k] = math.exp(logs / n_features)
        weighted += weights[k] * factors[k]
    volume = weighted / total
    for k in range(n_components):
        factors[k] = volume / factors[k]
    return factors, volume


@numba.njit(cache=True, nogil=True)
def _given(
    orientation: FloatArray,
    s: FloatArray,
    weights: FloatArray,
    floor: float,
    total: float,
    equal_volume: bool,
) -> tuple[FloatArray, float]:
    """Diagonal variances ``(K, D)`` that are best for ``orientation``, and the objective.

    ``u_ki = d_i^T S_k d_i`` floored (NaN stays NaN, as in ``np.maximum``);
    EVE rescales every row to the common volume.
    """
    n_components, n_features = s.shape[0], s.shape[1]
    u = rotated_variances(orientation, s)
    for k in range(n_components):
        for i in range(n_features):
            if u[k, i] <= floor:
                u[k, i] = floor
    if equal_volume:
        factors, volume = volume_factors(u, weights, total)
        for k in range(n_components):
            for i in range(n_features):
                u[k, i] *= factors[k]
        return u, n_features * total * (math.log(volume) + 1.0)
    objective = 0.0
    for k in range(n_components):
        logs = 0.0
        for i in range(n_features):
            logs += math.log(u[k, i])
        objective += weights[k] * (logs + n_features)
    return u, objective


#: The convergence threshold of :func:`_small_svd` per dimension: a pair of
#: columns is rotated while the cosine of their angle exceeds ``D`` times
#: this (``eps``; rounding of the cosine itself is about ``D eps``).
_JACOBI_EPS = 2.220446049250313e-16
#: Columns of the scaled matrix (largest entry in [0.5, 1)) whose squared
#: norm is below this are left out of the rotations of :func:`_small_svd`
#: and get ``U``'s columns as the zero columns do. (So the products of the
#: rotation test neither underflow nor overflow, and a column whose squares
#: underflow is not rotated forever without effect.) Such a column makes a
#: singular value at most 1e-60 times the largest: :func:`_svd` reports
#: :data:`AMBIGUOUS` (unless it is exactly zero).
_NEGLIGIBLE = 1e-120
#: Sweeps of :func:`_small_svd` before it reports :data:`SVD_FAILED` (far
#: more than needed: convergence is quadratic).
_MAX_SWEEPS = 100


@numba.njit(cache=True, nogil=True)
def _small_svd(
    a: FloatArray, start: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, bool]:
    """The SVD ``a = U diag(values) V^T`` of a small square ``a``, by one-sided Jacobi.

    Hestenes' method: plane rotations ``V`` from the right make the columns
    of ``a V`` orthogonal; their norms are the singular values and the
    normalised columns ``U``. A pair of columns is rotated while the cosine
    of their angle exceeds ``D eps``, so ``U`` is orthonormal to rounding
    whatever the conditioning, and a column of ``a`` that is exactly zero
    stays zero (no rotation involves it). ``a`` is first scaled by a power of
    two (exact) so that the squared norms neither overflow nor underflow.

    With ``start``, an orthogonal ``V_0^T``, the rotations start from ``a V_0``
    instead of ``a``: from the ``V^T`` of a nearby matrix (the previous MM
    update's), they settle in fewer sweeps. (A zero column of ``a`` then gives
    a singular value of the order of ``eps`` instead of exactly zero.)

    Parameters
    ----------
    a : ndarray of shape (D, D)
        A square matrix (not modified).
    start : ndarray of shape (D, D), optional
        ``V_0^T`` to start from (orthogonal up to rounding, which is removed
        first; not modified). By default ``I``.

    Returns
    -------
    u : ndarray of shape (D, D)
        The left singular vectors (columns). Those of zero (or negligible,
        :data:`_NEGLIGIBLE`) singular values complete the others to an
        orthonormal basis.
    values : ndarray of shape (D,)
        The singular values, in decreasing order as LAPACK returns them.
    vt : ndarray of shape (D, D)
        ``V^T``: the right singular vectors (rows), in the same order.
    converged : bool
        False if the rotations did not settle within :data:`_MAX_SWEEPS`
        sweeps or ``a`` is not finite (the other results are then
        meaningless).
    """
    n = a.shape[0]
    values = np.zeros(n)
    u = np.eye(n)
    largest = 0.0
    for i in range(n):
        for j in range(n):
            x = abs(a[i, j])
            if not math.isfinite(x):
                return u, values, u, False
            if x > largest:
                largest = x
    if largest == 0.0:
        return u, values, np.eye(n), True
    # Power-of-two scaling: entries in [0.5, 1) at the largest (exact).
    scale = math.ldexp(1.0, -math.frexp(largest)[1])
    # Row-major work: row j of g is column j of the scaled a (then of a V),
    # and row j of w = V^T is column j of V; norms2[j] = |g_j|^2.
    g = np.empty((n, n))
    if start is None:
        for i in range(n):
            for j in range(n):
                g[j, i] = a[i, j] * scale
        w: FloatArray = np.eye(n)
    else:
        # The rows of start orthonormalised (modified Gram-Schmidt): else
        # the rounding of each V^T would carry into the next.
        w = start.copy()
        for j in range(n):
            for r in range(j):
                dot = 0.0
                for i in range(n):
                    dot += w[j, i] * w[r, i]
                for i in range(n):
                    w[j, i] -= dot * w[r, i]
            acc = 0.0
            for i in range(n):
                acc += w[j, i] * w[j, i]
            norm = math.sqrt(acc)
            for i in range(n):
                w[j, i] /= norm
        # g_ji = (a V_0)_ij = sum_m a_im w_jm
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for m in range(n):
                    acc += a[i, m] * w[j, m]
                g[j, i] = acc * scale
    norms2 = values
    for j in range(n):
        acc = 0.0
        for i in range(n):
            acc += g[j, i] * g[j, i]
        norms2[j] = acc
    tol2 = (n * _JACOBI_EPS) ** 2
    converged = False
    for _ in range(_MAX_SWEEPS):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                alpha = norms2[p]
                beta = norms2[q]
                if alpha < _NEGLIGIBLE or beta < _NEGLIGIBLE:
                    continue
                gamma = 0.0
                for i in range(n):
                    gamma += g[p, i] * g[q, i]
                # cos^2 of the angle > tol^2 (alpha, beta in [1e-120, D]).
                if not gamma * gamma > tol2 * alpha * beta:
                    continue
                rotated = True
                # The rotation that makes columns p and q orthogonal, the
                # smaller of the two angles (Rutishauser's formulas; |zeta|
                # < 1e140 here, so zeta^2 does not overflow).
                zeta = (beta - alpha) / (2.0 * gamma)
                t = 1.0 / (abs(zeta) + math.sqrt(1.0 + zeta * zeta))
                if zeta < 0.0:
                    t = -t
                c = 1.0 / math.sqrt(1.0 + t * t)
                s = c * t
                alpha = 0.0
                beta = 0.0
                for i in range(n):
                    x = g[p, i]
                    y = g[q, i]
                    x, y = c * x - s * y, s * x + c * y
                    g[p, i] = x
                    g[q, i] = y
                    alpha += x * x
                    beta += y * y
                norms2[p] = alpha
                norms2[q] = beta
                for i in range(n):
                    x = w[p, i]
                    y = w[q, i]
                    w[p, i] = c * x - s * y
                    w[q, i] = s * x + c * y
        if not rotated:
            converged = True
            break
    if not converged:
        return u, values, w, False
    # Decreasing order: swap the rows of g and w (selection sort).
    for m in range(n - 1):
        k = m
        for j in range(m + 1, n):
            if norms2[j] > norms2[k]:
                k = j
        if k != m:
            norms2[m], norms2[k] = norms2[k], norms2[m]
            for i in range(n):
                g[m, i], g[k, i] = g[k, i], g[m, i]
                w[m, i], w[k, i] = w[k, i], w[m, i]
    n_normal = 0
    for m in range(n):
        if norms2[m] >= _NEGLIGIBLE:
            n_normal += 1
            norm = math.sqrt(norms2[m])
            for i in range(n):
                u[i, m] = g[m, i] / norm
            values[m] = norm / scale
            continue
        # Tiny (squares may underflow) or zero: the norm scaled first.
        big = 0.0
        for i in range(n):
            big = max(big, abs(g[m, i]))
        acc = 0.0
        if big > 0.0:
            for i in range(n):
                acc += (g[m, i] / big) ** 2
        values[m] = big * math.sqrt(acc) / scale
    if n_normal < n:
        _complete(u, n_normal)
    return u, values, w, True


#: :func:`small_eigh` leaves to LAPACK a matrix two of whose eigenvalues are
#: closer than this times the largest magnitude: there its eigenvectors are
#: ill-determined (error ``eps / gap``), and the M-steps that use them (EEV's
#: ``D_k A D_k^T`` with another ``A``) could differ from the NumPy path's by
#: more than rounding. Above it the two agree within about ``1e-11``.
EIGH_SEPARATION = 1e-5


@numba.njit(cache=True, nogil=True)
def small_eigh(a: FloatArray) -> tuple[FloatArray, FloatArray, bool]:
    """Eigenvalues (ascending) and eigenvectors of a small symmetric ``a``, by Jacobi.

    Cyclic two-sided Jacobi: the plane rotation of each pair ``(p, q)``
    zeroes ``a_pq``, sweep after sweep, until every ``|a_pq|`` is at most
    ``eps sqrt(|a_pp a_qq|)`` (Demmel and Veselic's test, which keeps small
    eigenvalues of a positive definite ``a`` to high relative accuracy).
    numba's ``np.linalg.eigh`` is LAPACK's ``syevd`` behind a workspace
    query and copies: some 7 us on a 6 x 6 matrix, against about 2 us here.

    Parameters
    ----------
    a : ndarray of shape (D, D)
        Symmetric (only its upper triangle is read; not modified).

    Returns
    -------
    values : ndarray of shape (D,)
        Ascending, as LAPACK returns them.
    vectors : ndarray of shape (D, D)
        Orthonormal eigenvectors (columns), in the same order.
    ok : bool
        False when the caller should ask LAPACK instead: ``a`` is not
        finite, the rotations did not settle in :data:`_MAX_SWEEPS` sweeps, or
        two eigenvalues are closer than :data:`EIGH_SEPARATION` times the
        largest magnitude.
    """
    n = a.shape[0]
    m = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            x = a[i, j]
            if not math.isfinite(x):
                return np.zeros(n), np.eye(n), False
            m[i, j] = x
            m[j, i] = x
    v = np.eye(n)
    converged = False
    for _ in range(_MAX_SWEEPS):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = m[p, q]
                if abs(apq) <= _JACOBI_EPS * math.sqrt(abs(m[p, p] * m[q, q])):
                    continue
                rotated = True
                # Rutishauser's rotation (the smaller angle) that zeroes a_pq.
                theta = (m[q, q] - m[p, p]) / (2.0 * apq)
                t = 1.0 / (abs(theta) + math.sqrt(1.0 + theta * theta))
                if theta < 0.0:
                    t = -t
                c = 1.0 / math.sqrt(1.0 + t * t)
                s = t * c
                for k in range(n):
                    x = m[k, p]
                    y = m[k, q]
                    m[k, p] = c * x - s * y
                    m[k, q] = s * x + c * y
                for k in range(n):
                    x = m[p, k]
                    y = m[q, k]
                    m[p, k] = c * x - s * y
                    m[q, k] = s * x + c * y
                m[p, q] = 0.0
                m[q, p] = 0.0
                for k in range(n):
                    x = v[k, p]
                    y = v[k, q]
                    v[k, p] = c * x - s * y
                    v[k, q] = s * x + c * y
        if not rotated:
            converged = True
            break
    values = np.empty(n)
    for i in range(n):
        values[i] = m[i, i]
    if not converged:
        return values, v, False
    # Ascending order (selection sort of the values and the columns).
    for i in range(n - 1):
        k = i
        for j in range(i + 1, n):
            if values[j] < values[k]:
                k = j
        if k != i:
            values[i], values[k] = values[k], values[i]
            for r in range(n):
                v[r, i], v[r, k] = v[r, k], v[r, i]
    largest = max(abs(values[0]), abs(values[n - 1]))
    for i in range(n - 1):
        if not values[i + 1] - values[i] > EIGH_SEPARATION * largest:
            return values, v, False
    return values, v, True


@numba.njit(cache=True, nogil=True)
def _complete(u: FloatArray, n_done: int) -> None:
    """Complete the first ``n_done`` orthonormal columns of ``u`` to a basis, in place.

    Each new column is the unit vector ``e_j`` farthest from the span so far,
    orthogonalised twice against it (classical Gram-Schmidt) and normalised.
    """
    n = u.shape[0]
    residual = np.empty(n)
    for m in range(n_done, n):
        best = -1.0
        pick = 0
        for j in range(n):
            acc = 1.0
            for c in range(m):
                acc -= u[j, c] * u[j, c]
            if acc > best:
                best = acc
                pick = j
        for i in range(n):
            residual[i] = 1.0 if i == pick else 0.0
        for _ in range(2):
            for c in range(m):
                dot = 0.0
                for i in range(n):
                    dot += u[i, c] * residual[i]
                for i in range(n):
                    residual[i] -= dot * u[i, c]
        acc = 0.0
        for i in range(n):
            acc += residual[i] * residual[i]
        norm = math.sqrt(acc)
        for i in range(n):
            u[i, m] = residual[i] / norm


@numba.njit(cache=True, nogil=True)
def _svd(
    a: FloatArray, n_zero: int, start: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, int]:
    """``U``, ``V^T`` of a finite ``a`` with ``n_zero`` zero columns, and a status.

    By :func:`_small_svd` (from ``start``, a ``V^T``, if given).
    :data:`SVD_FAILED` if it did not converge; :data:`AMBIGUOUS` if a
    singular value other than the ``n_zero`` of the zero columns is at most
    :data:`AMBIGUOUS_RCOND` times the largest. (A zero column ``l`` leaves
    only the sign of column ``l`` of the new orientation to rounding, and
    that sign changes no covariance; it carries through later updates as the
    same sign.)
    """
    p, values, rt, converged = _small_svd(a, start)
    if not converged:
        return a, a, SVD_FAILED
    n = values.shape[0]
    if n_zero < n and not (values[n - 1 - n_zero] > AMBIGUOUS_RCOND * values[0]):
        return p, rt, AMBIGUOUS
    return p, rt, OK


@numba.njit(cache=True, nogil=True)
def common_orientation_loop(
    s: FloatArray,
    weights: FloatArray,
    scatter: FloatArray,
    shifted: FloatArray,
    orientation: FloatArray,
    floor: float,
    total: float,
    equal_volume: bool,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, FloatArray, int, bool, int]:
    """The MM loop of EVE and VVE's M-step, from ``orientation``.

    Parameters
    ----------
    s : ndarray of shape (K, D, D)
        The sample covariances ``S_k`` (finite).
    weights : ndarray of shape (K,)
        ``n_k``.
    scatter : ndarray of shape (K, D, D)
        ``M_k = n_k S_k``.
    shifted : ndarray of shape (K, D, D)
        ``M_k - a_k I`` with ``a_k`` the largest eigenvalue of ``M_k``.
    orientation : ndarray of shape (D, D)
        The orientation to start from (not modified).
    floor : float
        The smallest variance used (``_floor``).
    total : float
        ``sum_k n_k``.
    equal_volume : bool
        EVE (common volume) or VVE.
    tol, max_iter : float, int
        The stopping rule ``|F_old - F| <= tol (1 + |F|)`` and the cap.

    Returns
    -------
    orientation : ndarray of shape (D, D)
    variances : ndarray of shape (K, D)
        The variances along ``orientation`` (EVE: at the common volume).
    n_iter : int
    converged : bool
    status : int
        :data:`OK`, or why the NumPy loop would have raised
        (:data:`NON_FINITE_MM`, :data:`NON_FINITE_OBJECTIVE`,
        :data:`SVD_FAILED`), or :data:`AMBIGUOUS` (run the NumPy loop); the
        other results are then meaningless.

    The orientation weights ``N_k`` are the inverse variances.
    """
    n_components, n_features = s.shape[0], s.shape[1]
    orientation = orientation.copy()
    variances, objective = _given(orientation, s, weights, floor, total, equal_volume)
    converged = False
    n_iter = 0
    inverse = np.empty((n_components, n_features))
    reduced = np.empty((n_components, n_features))
    f = np.empty((n_features, n_features))
    column = np.empty(n_features)
    # The V^T of the previous update of each kind: the next SVD starts there.
    rt1: FloatArray = np.eye(n_features)
    rt2: FloatArray = np.eye(n_features)
    while n_iter < max_iter:
        n_iter += 1
        for k in range(n_components):
            largest = -math.inf
            for i in range(n_features):
                inverse[k, i] = 1.0 / variances[k, i]
                if inverse[k, i] > largest:
                    largest = inverse[k, i]
            for i in range(n_features):
                reduced[k, i] = inverse[k, i] - largest
        # MM 1: F = sum_k N_k D^T (M_k - a_k I), D <- -R P^T for F = P B R^T.
        # F_jl = sum_k N_kj sum_i D_ij shifted_kil
        f[:] = 0.0
        for k in range(n_components):
            for j in range(n_features):
                for m in range(n_features):
                    column[m] = 0.0
                for i in range(n_features):
                    d = orientation[i, j]
                    for m in range(n_features):
                        column[m] += d * shifted[k, i, m]
                nkj = inverse[k, j]
                for m in range(n_features):
                    f[j, m] += nkj * column[m]
        if not math.isfinite(np.sum(f)):
            return orientation, variances, n_iter, False, NON_FINITE_MM
        p, rt1, status = _svd(f, 0, rt1)
        if status != OK:
            return orientation, variances, n_iter, False, status
        # D = -(R P^T): D_ij = -sum_m rt_mi p_jm
        for i in range(n_features):
            for j in range(n_features):
                acc = 0.0
                for m in range(n_features):
                    acc += rt1[m, i] * p[j, m]
                orientation[i, j] = -acc
        # MM 2: F = sum_k M_k D (N_k - b_k I), D <- -P R^T for F = P B R^T.
        # F_il = sum_k (sum_j M_kij D_jl) reduced_kl
        f[:] = 0.0
        for k in range(n_components):
            for i in range(n_features):
                for m in range(n_features):
                    acc = 0.0
                    for j in range(n_features):
                        acc += scatter[k, i, j] * orientation[j, m]
                    f[i, m] += acc * reduced[k, m]
        if not math.isfinite(np.sum(f)):
            return orientation, variances, n_iter, False, NON_FINITE_MM
        # Column l of F is zero where every N_k is largest (reduced_kl = 0).
        n_zero = 0
        for m in range(n_features):
            zero = True
            for i in range(n_features):
                if f[i, m] != 0.0:
                    zero = False
                    break
            if zero:
                n_zero += 1
        # (Zero columns stay exactly zero only when starting from I.)
        if n_zero == 0:
            p, rt2, status = _svd(f, 0, rt2)
        else:
            p, rt2, status = _svd(f, n_zero, None)
        if status != OK:
            return orientation, variances, n_iter, False, status
        # D = -(P R^T)
        for i in range(n_features):
            for j in range(n_features):
                acc = 0.0
                for m in range(n_features):
                    acc += p[i, m] * rt2[m, j]
                orientation[i, j] = -acc
        variances, new = _given(orientation, s, weights, floor, total, equal_volume)
        if not math.isfinite(new):
            return orientation, variances, n_iter, False, NON_FINITE_OBJECTIVE
        if abs(objective - new) <= tol * (1.0 + abs(new)):
            converged = True
            break
        objective = new
    return orientation, variances, n_iter, converged, OK
