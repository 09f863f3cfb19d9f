"""Compiled (numba) inner loops of the mclust covariance models.

**EVE and VVE's common orientation** (:func:`common_orientation_jacobi`). The
M-step of EVE and VVE needs the orthogonal ``D`` that minimises the profile
objective: with the variances that are best for ``D`` (``u_ki = d_i^T S_k
d_i``), ``sum_k n_k sum_i log u_ki`` for VVE (Flury's common principal
components, weighted) and ``sum_k n_k (prod_i u_ki)^(1/D)`` for EVE (the common
volume). A sweep rotates each pair of columns ``(p, q)`` by the angle that
minimises the objective in that plane: along the rotation by ``theta`` the
pair's variances are ``m_k +- h_k(2 theta)`` with ``h_k`` a sinusoid, so the
angle is a one-dimensional problem that Newton's method solves in 2-4 steps
(:func:`pair_angle`). Sweeps stop by mclust's rule on the objective.

Before, the loop was Browne and McNicholas's MM updates (two SVDs each),
as mclust's. From the M-steps of EM fits on banknote, thyroid and iris, with
the same start and stopping rule, the rotations took 2-3 sweeps where the MM
loop took 3-28 updates, 1.5x-8x less time, and always ended lower: by up to
5e-4 relative, because MM converges linearly and its stopping rule fires
while it is still far from the optimum. The MM updates stay, in NumPy, for a
family that weights the orientation otherwise
(:meth:`gaussmix.core.mclust_models._CommonOrientation._mm_updates`).

**Eigenvectors** (:func:`small_eigh`): cyclic Jacobi for the compiled M-steps
of EEV, VEV, EVV and VEE.

The same algorithms run in NumPy in :mod:`gaussmix.core.mclust_models` (the
reference, when numba is missing); ``tests/core/test_compiled.py`` checks
that both agree within 1e-10. The Newton iteration on one pair's angle is one
definition for both: the Python functions of the NumPy path, compiled here.

Importing this module imports numba (an optional dependency): the caller
imports it on first use and falls back to the NumPy loop on ``ImportError``.
The kernels are cached on disk (``cache=True``), so a new process loads them
instead of compiling them again.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import register_jitable

from gaussmix._typing import FloatArray
from gaussmix.core import pair_rotation

__all__ = [
    "NON_FINITE_OBJECTIVE",
    "OK",
    "common_orientation_jacobi",
    "pair_angle",
    "rotated_variances",
    "small_eigh",
    "volume_factors",
]

#: Statuses of :func:`common_orientation_jacobi`.
OK = 0
#: The objective is not finite: the NumPy loop raises ``overflow_error``.
NON_FINITE_OBJECTIVE = 2


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


#: Rounding unit of float64 (the Jacobi solvers' stopping tests).
_JACOBI_EPS = 2.220446049250313e-16
#: Sweeps of :func:`small_eigh` and of the rotations before they give up
#: (far more than needed: a sweep takes 2-8 here).
_MAX_SWEEPS = 100


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


#: The Newton iteration on one pair's angle: the NumPy path's Python functions
#: (:func:`gaussmix.core.pair_rotation.pair_angle`), compiled.
register_jitable(cache=True, nogil=True)(pair_rotation.pair_terms)
pair_angle = numba.njit(cache=True, nogil=True)(pair_rotation.pair_angle)


@numba.njit(cache=True, nogil=True)
def common_orientation_jacobi(
    s: FloatArray,
    weights: FloatArray,
    orientation: FloatArray,
    floor: float,
    total: float,
    equal_volume: bool,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, FloatArray, int, bool, int]:
    """EVE and VVE's common orientation by plane rotations, from ``orientation``.

    The variances that are best for an orientation ``D`` are ``u_ki = d_i^T
    S_k d_i`` (EVE: rescaled to the common volume), so ``D`` minimises the
    profile objective ``sum_k n_k sum_i log u_ki`` (VVE; Flury's common
    principal components) or ``sum_k n_k (prod_i u_ki)^(1/D)`` (EVE). A sweep
    rotates every pair of columns ``(p, q)`` in turn by the angle that
    minimises the objective over that plane (:func:`pair_angle`); sweeps stop
    when the objective of :func:`_given` changes by at most ``tol (1 +
    |F|)``, mclust's rule, as the MM loop's did.

    Parameters
    ----------
    s : ndarray of shape (K, D, D)
        The sample covariances ``S_k`` (finite).
    weights : ndarray of shape (K,)
        ``n_k``.
    orientation : ndarray of shape (D, D)
        The orientation to start from (not modified).
    floor : float
        The smallest variance used (``mclust_models._floor``).
    total : float
        ``sum_k n_k``.
    equal_volume : bool
        EVE (common volume) or VVE.
    tol, max_iter : float, int
        The stopping rule ``|F_old - F| <= tol (1 + |F|)`` and the cap on sweeps.

    Returns
    -------
    orientation : ndarray of shape (D, D)
    variances : ndarray of shape (K, D)
        The variances along ``orientation`` (EVE: at the common volume).
    n_iter : int
        Sweeps.
    converged : bool
    status : int
        :data:`OK`, or :data:`NON_FINITE_OBJECTIVE` (the NumPy loop raises);
        the other results are then meaningless.
    """
    n_components, n_features = s.shape[0], s.shape[1]
    orientation = orientation.copy()
    variances, objective = _given(orientation, s, weights, floor, total, equal_volume)
    if not math.isfinite(objective):
        return orientation, variances, 0, False, NON_FINITE_OBJECTIVE
    exponent = 1.0 / n_features if equal_volume else 0.0
    sd = np.empty((n_components, n_features, n_features))  # S_k D
    u = np.empty((n_components, n_features))
    log_u = np.empty((n_components, n_features))
    pair = np.empty((4, n_components))  # m, x, y, a of pair_angle
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        for k in range(n_components):
            for i in range(n_features):
                for j in range(n_features):
                    acc = 0.0
                    for r in range(n_features):
                        acc += s[k, i, r] * orientation[r, j]
                    sd[k, i, j] = acc
            for j in range(n_features):
                acc = 0.0
                for i in range(n_features):
                    acc += orientation[i, j] * sd[k, i, j]
                u[k, j] = acc
                log_u[k, j] = math.log(max(acc, floor))
        for p in range(n_features - 1):
            for q in range(p + 1, n_features):
                for k in range(n_components):
                    alpha = u[k, p]
                    beta = u[k, q]
                    gamma = 0.0
                    for i in range(n_features):
                        gamma += orientation[i, p] * sd[k, i, q]
                    pair[0, k] = 0.5 * (alpha + beta)
                    pair[1, k] = 0.5 * (alpha - beta)
                    pair[2, k] = gamma
                    if equal_volume:
                        # The other variances' product, (prod_i u_ki)^(1/D).
                        logs = 0.0
                        for i in range(n_features):
                            if i != p and i != q:
                                logs += log_u[k, i]
                        pair[3, k] = weights[k] * math.exp(exponent * logs)
                    else:
                        pair[3, k] = weights[k]
                phi = pair_angle(pair, floor, exponent)
                if phi == 0.0:
                    continue
                c = math.cos(0.5 * phi)
                sn = math.sin(0.5 * phi)
                for i in range(n_features):
                    dp = orientation[i, p]
                    dq = orientation[i, q]
                    orientation[i, p] = c * dp + sn * dq
                    orientation[i, q] = c * dq - sn * dp
                for k in range(n_components):
                    up = 0.0
                    uq = 0.0
                    for i in range(n_features):
                        sp = sd[k, i, p]
                        sq = sd[k, i, q]
                        sp, sq = c * sp + sn * sq, c * sq - sn * sp
                        sd[k, i, p] = sp
                        sd[k, i, q] = sq
                        up += orientation[i, p] * sp
                        uq += orientation[i, q] * sq
                    u[k, p] = up
                    u[k, q] = uq
                    log_u[k, p] = math.log(max(up, floor))
                    log_u[k, q] = math.log(max(uq, floor))
        variances, new = _given(orientation, s, weights, floor, total, equal_volume)
        if not math.isfinite(new):
            return orientation, variances, n_iter, False, NON_FINITE_OBJECTIVE
        if abs(objective - new) <= tol * (1.0 + abs(new)):
            converged = True
            break
        objective = new
    return orientation, variances, n_iter, converged, OK
