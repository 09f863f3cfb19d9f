"""Compiled (numba) inner loops of the mclust covariance models.

The MM updates of the common orientation of EVE and VVE
(:meth:`gaussmix.core.mclust_models._CommonOrientation.constrain`) run some
20 times per M-step on ``K x D x D`` arrays with ``D`` = 2..6: in NumPy the
loop is bound by the cost of its Python calls (two SVDs and three einsums per
update). :func:`common_orientation_loop` is that loop compiled, with the
einsums written as loops and the SVDs by numba's ``np.linalg.svd`` (LAPACK's
``gesdd`` as in NumPy, but SciPy's build of it). The numbers agree with the
NumPy loop's up to rounding, except where an SVD is not unique (see
:data:`AMBIGUOUS`). It returns a status instead of raising, and the caller
raises the exceptions of the NumPy loop.

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
        g = np.empty(n_components)
        weighted = 0.0
        for k in range(n_components):
            logs = 0.0
            for i in range(n_features):
                logs += math.log(u[k, i])
            g[k] = math.exp(logs / n_features)
            weighted += weights[k] * g[k]
        volume = weighted / total
        for k in range(n_components):
            factor = volume / g[k]
            for i in range(n_features):
                u[k, i] *= factor
        return u, n_features * total * (math.log(volume) + 1.0)
    objective = 0.0
    for k in range(n_components):
        logs = 0.0
        for i in range(n_features):
            logs += math.log(u[k, i])
        objective += weights[k] * (logs + n_features)
    return u, objective


@numba.njit(cache=True, nogil=True)
def _svd(a: FloatArray, n_zero: int) -> tuple[FloatArray, FloatArray, int]:
    """``U``, ``V^T`` of a finite ``a`` with ``n_zero`` zero columns, and a status.

    :data:`SVD_FAILED` if LAPACK did not converge; :data:`AMBIGUOUS` if a
    singular value other than the ``n_zero`` of the zero columns is at most
    :data:`AMBIGUOUS_RCOND` times the largest. (A zero column ``l`` leaves only
    the sign of column ``l`` of the new orientation to rounding, and that sign
    changes no covariance; it carries through later updates as the same sign.)
    """
    try:
        p, values, rt = np.linalg.svd(a)
    except Exception:
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
        p, rt, status = _svd(f, 0)
        if status != OK:
            return orientation, variances, n_iter, False, status
        # D = -(R P^T): D_ij = -sum_m rt_mi p_jm
        for i in range(n_features):
            for j in range(n_features):
                acc = 0.0
                for m in range(n_features):
                    acc += rt[m, i] * p[j, m]
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
        p, rt, status = _svd(f, n_zero)
        if status != OK:
            return orientation, variances, n_iter, False, status
        # D = -(P R^T)
        for i in range(n_features):
            for j in range(n_features):
                acc = 0.0
                for m in range(n_features):
                    acc += p[i, m] * rt[m, j]
                orientation[i, j] = -acc
        variances, new = _given(orientation, s, weights, floor, total, equal_volume)
        if not math.isfinite(new):
            return orientation, variances, n_iter, False, NON_FINITE_OBJECTIVE
        if abs(objective - new) <= tol * (1.0 + abs(new)):
            converged = True
            break
        objective = new
    return orientation, variances, n_iter, converged, OK
