"""Compiled (numba) EM loop of small data: a whole fit in one call.

On a few hundred rows a selection grid runs some 2,500 EM iterations, and
each NumPy iteration (an E-step kernel, then :func:`gaussmix.core.mstep.m_step`
with the model's constraint, its checks and the factorisation) costs about
0.7 ms of Python calls on tiny arrays. :func:`em_loop` runs the iterations of
one fit in compiled code: the E-step kernels of
:mod:`gaussmix.core._compiled_estep`, then the same M-step (the same formulas,
in the same order, as ``m_step`` and each model's ``constrain``), the same
stopping rules and the same inner tolerance as :func:`gaussmix.em.fit_em`.

It covers the normal case only. Whatever the NumPy M-step would *repair* or
*raise* on (an empty component, a covariance that is singular or close to it,
a collapsed component inside EVI, EVV or EVE, non-finite statistics, an
ambiguous SVD of EVE/VVE's orientation, a failed LAPACK call) makes it stop
*before* that iteration with :data:`HANDOFF`, returning the parameters the
iteration started from: :func:`gaussmix.em.fit_em` then carries on from there
with the NumPy path, which stays the reference. The numbers agree with the
NumPy path's up to rounding (``tests/core/test_compiled_em.py``: 1e-10
relative after several iterations).

Parameters travel in one layout for every model: ``cov`` and the upper
precision factors ``pc`` are ``(K, D, D)``; the spherical and diagonal models
keep their variances (and inverse standard deviations) on the diagonal, and
EEE (tied) keeps ``K`` copies of its matrix. :mod:`gaussmix.core.fast_em`
converts to and from the families' shapes.

Importing this module imports numba: see :mod:`gaussmix.core.kernels`.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from gaussmix._typing import FloatArray
from gaussmix.core._compiled import OK as MM_OK
from gaussmix.core._compiled import (
    common_orientation_jacobi,
    rotated_variances,
    small_eigh,
    volume_factors,
)
from gaussmix.core._compiled_estep import (
    estep_diag,
    estep_full,
    estep_spherical,
    estep_tied,
    fast_exp,
    fast_log,
)
from gaussmix.core.mclust_models import FLOOR_RELATIVE
from gaussmix.core.mstep import EMPTY_FRACTION
from gaussmix.core.numerics import (
    COLLAPSE_RELATIVE,
    INNER_TOL_FACTOR,
    INNER_TOL_LOOSE,
    LOG_2PI,
    VARIANCE_ROUNDING,
)

__all__ = [
    "CARRIES_ORIENTATION",
    "CARRIES_SHAPE",
    "CONVERGED",
    "DIAG",
    "FIRST_STEP_REPAIR",
    "FULL",
    "HANDOFF",
    "MAX_ITER",
    "SPHERICAL",
    "TIED",
    "em_loop",
    "first_m_step",
    "log_terms",
    "whole_cell",
]

#: mclust's 14 models, by code: their order in the registry
#: (:func:`gaussmix.core.covariance.family_names` of mclust's group), which is
#: mclust's. The univariate E and V are EII and VII.
EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV = range(14)
#: The iterative models that carry a common shape, or a common orientation,
#: from one M-step to the next.
CARRIES_SHAPE = (VEI, VEV, VEE)
CARRIES_ORIENTATION = (VEE, EVE, VVE)
#: Storage shapes (the E-step and the unconstrained estimate of a model).
SPHERICAL, DIAG, TIED, FULL = range(4)

#: The parameters in the loop's layout, ``(weights, means, cov, pc,
#: inner_shape, inner_orientation)``: ``(K,)``, ``(K, D)``, ``(K, D, D)``
#: covariances and upper precision factors (see the module notes), and an
#: iterative model's common shape ``(D,)`` and orientation ``(D, D)``.
State = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
#: ``(tol, relative, max_iter, reg_covar, inner_tol, inner_max_iter)``:
#: fit_em's stopping rule and the M-step's options (``inner_tol`` 0 for a
#: model that does not iterate).
Control = tuple[float, bool, int, float, float, int]

#: Statuses of :func:`em_loop`.
CONVERGED = 0
MAX_ITER = 1
HANDOFF = 2

#: A variance within this factor of the collapse threshold
#: (``COLLAPSE_RELATIVE``) hands the iteration to the NumPy path, which decides.
_MARGIN = 4.0
_EPS = 2.220446049250313e-16
_TINY = 2.2250738585072014e-308
#: Rows per block of :func:`log_terms`.
_LOG_TERMS_BLOCK = 256
#: The exponent floor of the E-step's normalisation (``estep._EXP_FLOOR``).
_EXP_FLOOR = -700.0


# ----------------------------------------------------------------- helpers
@numba.njit(cache=True, nogil=True)
def _symmetrise(a: FloatArray) -> None:
    """``a <- (a + a^T) / 2`` for each ``(D, D)`` matrix of a stack, in place."""
    n_components, n_features = a.shape[0], a.shape[1]
    for k in range(n_components):
        for i in range(n_features):
            for j in range(i + 1, n_features):
                v = 0.5 * (a[k, i, j] + a[k, j, i])
                a[k, i, j] = v
                a[k, j, i] = v


@numba.njit(cache=True, nogil=True)
def _from_eigen(vectors: FloatArray, values: FloatArray, out: FloatArray) -> None:
    """``out <- V diag(values) V^T``, symmetrised (mclust_models._from_eigen)."""
    n_features = values.shape[0]
    for i in range(n_features):
        for j in range(n_features):
            acc = 0.0
            for m in range(n_features):
                acc += vectors[i, m] * values[m] * vectors[j, m]
            out[i, j] = acc
    for i in range(n_features):
        for j in range(i + 1, n_features):
            v = 0.5 * (out[i, j] + out[j, i])
            out[i, j] = v
            out[j, i] = v


@numba.njit(cache=True, nogil=True)
def _floor(values: FloatArray, weights: FloatArray) -> float:
    """mclust_models._floor: a tiny share of the pooled variance of ``(K, D)``."""
    n_components, n_features = values.shape
    pooled = 0.0
    total = 0.0
    for k in range(n_components):
        mean = 0.0
        for i in range(n_features):
            mean += values[k, i]
        pooled += weights[k] * (mean / n_features)
        total += weights[k]
    pooled /= total
    if not (math.isfinite(pooled) and pooled > 0.0):
        return _TINY
    return max(FLOOR_RELATIVE * pooled, _TINY)


@numba.njit(cache=True, nogil=True)
def _diagonals(s: FloatArray) -> FloatArray:
    """``(K, D)`` diagonals of a ``(K, D, D)`` stack."""
    n_components, n_features = s.shape[0], s.shape[1]
    out = np.empty((n_components, n_features))
    for k in range(n_components):
        for i in range(n_features):
            out[k, i] = s[k, i, i]
    return out


@numba.njit(cache=True, nogil=True)
def _all_finite(a: FloatArray) -> bool:
    return math.isfinite(np.sum(a))


@numba.njit(cache=True, nogil=True)
def _any_collapsed(values: FloatArray, reference: FloatArray) -> bool:
    """mclust_models._collapsed, any component (``reference`` per feature)."""
    n_components, n_features = values.shape
    for k in range(n_components):
        for i in range(n_features):
            threshold = _MARGIN * COLLAPSE_RELATIVE * max(reference[i], 0.0)
            if not (values[k, i] > threshold):
                return True
    return False


@numba.njit(cache=True, nogil=True)
def _pooled_variance(s: FloatArray, weights: FloatArray) -> float:
    """mclust_models._pooled_variance of a ``(K, D, D)`` stack."""
    n_components, n_features = s.shape[0], s.shape[1]
    total = 0.0
    acc = 0.0
    for k in range(n_components):
        total += weights[k]
    for i in range(n_features):
        v = 0.0
        for k in range(n_components):
            v += weights[k] * s[k, i, i]
        acc += v
    return float((acc / n_features) / total)


@numba.njit(cache=True, nogil=True)
def _shape_and_volumes(
    values: FloatArray,
    weights: FloatArray,
    shape: FloatArray,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, FloatArray, int, bool, bool]:
    """mclust_models._common_shape_and_volumes (VEI, VEV), from ``shape``.

    Returns the volumes, the shape, the inner iterations, whether they
    converged, and False if the objective was not finite (NumPy raises).
    """
    n_components, n_features = values.shape
    floor = _floor(values, weights)
    v = np.empty_like(values)
    for k in range(n_components):
        for i in range(n_features):
            v[k, i] = values[k, i] if values[k, i] >= floor else floor
    shape = shape.copy()
    sums = np.empty(n_components)
    volumes = np.empty(n_components)
    t = np.empty(n_features)
    for k in range(n_components):
        acc = 0.0
        for i in range(n_features):
            acc += v[k, i] / shape[i]
        sums[k] = acc
    objective = math.inf
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        for k in range(n_components):
            volumes[k] = sums[k] / n_features
        for i in range(n_features):
            acc = 0.0
            for k in range(n_components):
                acc += weights[k] * (v[k, i] / volumes[k])
            t[i] = acc
        logs = 0.0
        for i in range(n_features):
            logs += math.log(t[i])
        g = math.exp(logs / n_features)
        for i in range(n_features):
            shape[i] = t[i] / g
        new = 0.0
        for k in range(n_components):
            acc = 0.0
            for i in range(n_features):
                acc += v[k, i] / shape[i]
            sums[k] = acc
            new += weights[k] * (n_features * math.log(volumes[k]) + acc / volumes[k])
        if not math.isfinite(new):
            return volumes, shape, n_iter, False, False
        if abs(objective - new) <= tol * (1.0 + abs(new)):
            converged = True
            break
        objective = new
    for k in range(n_components):
        volumes[k] = sums[k] / n_features
    return volumes, shape, n_iter, converged, True


@numba.njit(cache=True, nogil=True)
def _eigh(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``np.linalg.eigh(a)``: by Jacobi (:func:`small_eigh`), else by LAPACK."""
    values, vectors, ok = small_eigh(a)
    if ok:
        return values, vectors
    values, vectors = np.linalg.eigh(a)
    return values, np.ascontiguousarray(vectors)


# ------------------------------------------------------------- constraints
@numba.njit(cache=True, nogil=True)
def _constrain(
    model: int,
    s: FloatArray,
    weights: FloatArray,
    cov: FloatArray,
    inner_shape: FloatArray,
    inner_orientation: FloatArray,
    tol: float,
    max_iter: int,
) -> tuple[bool, int, bool]:
    """The model's covariances ``cov`` from the unconstrained ``s`` (``(K, D, D)``).

    ``inner_shape`` and ``inner_orientation`` hold the start of an iterative
    model and are overwritten with where it ended. Returns ``(ok, n_iter,
    converged)``; not ok where the NumPy estimate would raise, or would set
    a collapsed component aside (EVI, EVV, EVE).
    """
    n_components, n_features = s.shape[0], s.shape[1]
    total = 0.0
    for k in range(n_components):
        total += weights[k]
    cov[:] = 0.0
    if model in (EII, VII):
        pooled = 0.0
        if model == EII:
            for k in range(n_components):
                pooled += weights[k] * s[k, 0, 0]
            pooled /= total
        for k in range(n_components):
            v = pooled if model == EII else s[k, 0, 0]
            for i in range(n_features):
                cov[k, i, i] = v
        return True, 0, True
    if model in (EEI, VVI):
        for i in range(n_features):
            pooled = 0.0
            if model == EEI:
                for k in range(n_components):
                    pooled += weights[k] * s[k, i, i]
                pooled /= total
            for k in range(n_components):
                cov[k, i, i] = pooled if model == EEI else s[k, i, i]
        return True, 0, True
    if model in (EEE, VVV):
        cov[:] = s
        return True, 0, True
    if not _all_finite(s):
        return False, 0, False
    if model == EVI:
        values = _diagonals(s)
        reference = np.empty(n_features)
        for i in range(n_features):
            acc = 0.0
            for k in range(n_components):
                acc += weights[k] * values[k, i]
            reference[i] = acc / total
        if _any_collapsed(values, reference):
            return False, 0, False
        factor = volume_factors(values, weights, total)[0]
        for k in range(n_components):
            for i in range(n_features):
                cov[k, i, i] = values[k, i] * factor[k]
        return True, 0, True
    if model == VEI:
        volumes, shape, n_iter, converged, ok = _shape_and_volumes(
            _diagonals(s), weights, inner_shape, tol, max_iter
        )
        if not ok:
            return False, n_iter, False
        inner_shape[:] = shape
        for k in range(n_components):
            for i in range(n_features):
                cov[k, i, i] = volumes[k] * shape[i]
        return True, n_iter, converged
    if model in (EEV, VEV, EVV):
        values = np.empty((n_components, n_features))
        vectors = np.empty((n_components, n_features, n_features))
        for k in range(n_components):
            w, v = _eigh(s[k])
            values[k] = w
            vectors[k] = v
        if model == EEV:
            common = np.zeros(n_features)
            for i in range(n_features):
                for k in range(n_components):
                    common[i] += weights[k] * max(values[k, i], 0.0)
                common[i] /= total
            for k in range(n_components):
                _from_eigen(vectors[k], common, cov[k])
            return True, 0, True
        if model == EVV:
            reference = np.full(n_features, _pooled_variance(s, weights))
            if _any_collapsed(values, reference):
                return False, 0, False
            factor = volume_factors(values, weights, total)[0]
            for k in range(n_components):
                for i in range(n_features):
                    for j in range(n_features):
                        cov[k, i, j] = s[k, i, j] * factor[k]
            _symmetrise(cov)
            return True, 0, True
        volumes, shape, n_iter, converged, ok = _shape_and_volumes(
            values, weights, inner_shape, tol, max_iter
        )
        if not ok:
            return False, n_iter, False
        inner_shape[:] = shape
        scaled = np.empty(n_features)
        for k in range(n_components):
            for i in range(n_features):
                scaled[i] = volumes[k] * shape[i]
            _from_eigen(vectors[k], scaled, cov[k])
        return True, n_iter, converged
    if model == VEE:
        return _constrain_vee(
            s, weights, cov, inner_shape, inner_orientation, tol, max_iter
        )
    return _constrain_common_orientation(
        model == EVE, s, weights, cov, inner_orientation, tol, max_iter
    )


@numba.njit(cache=True, nogil=True)
def _constrain_vee(
    s: FloatArray,
    weights: FloatArray,
    cov: FloatArray,
    inner_shape: FloatArray,
    out_basis: FloatArray,
    tol: float,
    max_iter: int,
) -> tuple[bool, int, bool]:
    """VEE.constrain: alternate the volumes and the common ``C = D A D^T``.

    Starts from ``inner_shape`` and ``out_basis`` and writes where it ended there.
    """
    n_components, n_features = s.shape[0], s.shape[1]
    floor = _floor(_diagonals(s), weights)
    shape = inner_shape.copy()
    basis = out_basis.copy()
    inverse = np.empty((n_features, n_features))
    volumes = np.empty(n_components)
    common = np.empty((n_features, n_features))
    objective = math.inf
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        _inverse_of(basis, shape, inverse)
        for k in range(n_components):
            v = _trace_product(s[k], inverse) / n_features
            volumes[k] = v if (v >= floor or v != v) else floor  # np.maximum
        common[:] = 0.0
        for k in range(n_components):
            a = weights[k] / volumes[k]
            for i in range(n_features):
                for j in range(n_features):
                    common[i, j] += a * s[k, i, j]
        if not _all_finite(common):
            return False, n_iter, False
        t, basis = _eigh(common)
        low = FLOOR_RELATIVE * max(t[n_features - 1], floor)
        logs = 0.0
        for i in range(n_features):
            if not t[i] >= low:  # np.maximum: NaN stays NaN
                t[i] = low if t[i] == t[i] else t[i]
            logs += math.log(t[i])
        g = math.exp(logs / n_features)
        for i in range(n_features):
            shape[i] = t[i] / g
        _inverse_of(basis, shape, inverse)
        new = 0.0
        for k in range(n_components):
            trace = _trace_product(s[k], inverse)
            new += weights[k] * (n_features * math.log(volumes[k]) + trace / volumes[k])
        if not math.isfinite(new):
            return False, n_iter, False
        if abs(objective - new) <= tol * (1.0 + abs(new)):
            converged = True
            break
        objective = new
    inner_shape[:] = shape
    out_basis[:] = basis
    c = np.empty((n_features, n_features))
    _from_eigen(basis, shape, c)
    for k in range(n_components):
        for i in range(n_features):
            for j in range(n_features):
                cov[k, i, j] = volumes[k] * c[i, j]
    _symmetrise(cov)
    return True, n_iter, converged


@numba.njit(cache=True, nogil=True)
def _inverse_of(basis: FloatArray, shape: FloatArray, out: FloatArray) -> None:
    """``out <- (basis / shape) @ basis.T``."""
    n_features = shape.shape[0]
    for i in range(n_features):
        for j in range(n_features):
            acc = 0.0
            for m in range(n_features):
                acc += basis[i, m] / shape[m] * basis[j, m]
            out[i, j] = acc


@numba.njit(cache=True, nogil=True)
def _trace_product(a: FloatArray, b: FloatArray) -> float:
    """``tr(a b)`` (einsum "ij,ji->")."""
    n_features = a.shape[0]
    acc = 0.0
    for i in range(n_features):
        for j in range(n_features):
            acc += a[i, j] * b[j, i]
    return acc


@numba.njit(cache=True, nogil=True)
def _constrain_common_orientation(
    equal_volume: bool,
    s: FloatArray,
    weights: FloatArray,
    cov: FloatArray,
    orientation: FloatArray,
    tol: float,
    max_iter: int,
) -> tuple[bool, int, bool]:
    """_CommonOrientation.constrain (EVE, VVE) by the compiled rotations."""
    n_components, n_features = s.shape[0], s.shape[1]
    floor = _floor(_diagonals(s), weights)
    if n_components == 1:
        # mclust_models._one_component: S itself, D its eigenvectors.
        values, vectors = np.linalg.eigh(s[0])
        if not values[0] > floor:
            return False, 0, False
        orientation[:] = vectors
        _from_eigen(vectors, values, cov[0])
        return True, 0, True
    total = 0.0
    for k in range(n_components):
        total += weights[k]
    found, variances, n_iter, converged, status = common_orientation_jacobi(
        s, weights, orientation, floor, total, equal_volume, tol, max_iter
    )
    if status != MM_OK:
        return False, n_iter, False
    if equal_volume:
        u = rotated_variances(found, s)
        reference = np.full(n_features, _pooled_variance(s, weights))
        if _any_collapsed(u, reference):
            return False, n_iter, False
    orientation[:] = found
    for k in range(n_components):
        _from_eigen(found, variances[k], cov[k])
    return True, n_iter, converged


# ------------------------------------------------------------------ E-step
@numba.njit(cache=True, nogil=True)
def _e_step(
    shape: int,
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    pc: FloatArray,
    sample_weight: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, float, int]:
    """The E-step kernel of the storage shape; ``sxx`` in the ``(K, D, D)`` layout."""
    n_components, n_features = means.shape
    if shape == FULL:
        nk, sx, full, loglik, _, status = estep_full(
            X, shift, weights, means, pc, sample_weight, False, 0.0
        )
        return nk, sx, full, loglik, status
    sxx = np.zeros((n_components, n_features, n_features))
    if shape == SPHERICAL:
        p1 = np.empty(n_components)
        for k in range(n_components):
            p1[k] = pc[k, 0, 0]
        nk, sx, s1, loglik, _, status = estep_spherical(
            X, shift, weights, means, p1, sample_weight, False, 0.0
        )
        for k in range(n_components):
            sxx[k, 0, 0] = s1[k]
    elif shape == DIAG:
        nk, sx, s2, loglik, _, status = estep_diag(
            X, shift, weights, means, _diagonals(pc), sample_weight, False, 0.0
        )
        for k in range(n_components):
            for i in range(n_features):
                sxx[k, i, i] = s2[k, i]
    else:
        nk, sx, s3, loglik, _, status = estep_tied(
            X, shift, weights, means, pc[0].copy(), sample_weight, False, 0.0
        )
        sxx[0] = s3
    return nk, sx, sxx, loglik, status


@numba.njit(cache=True, nogil=True)
def _unconstrained(
    shape: int,
    sxx: FloatArray,
    sx: FloatArray,
    nk: FloatArray,
    divisor: FloatArray,
    d: FloatArray,
    reg_covar: float,
) -> tuple[FloatArray, FloatArray]:
    """``S_k = W_k / n_k + reg I`` of the shape (its ``unconstrained_covariances``).

    Returns ``S`` in the ``(K, D, D)`` layout and the per-feature scatter
    diagonal summed over components (``scatter_diagonal``).
    """
    n_components, n_features = sx.shape
    s = np.zeros((n_components, n_features, n_features))
    diagonal = np.zeros(n_features)
    if shape == SPHERICAL:
        total = 0.0
        for k in range(n_components):
            cross = 0.0
            dd = 0.0
            for i in range(n_features):
                cross += sx[k, i] * d[k, i]
                dd += d[k, i] * d[k, i]
            v = (sxx[k, 0, 0] - 2.0 * cross + nk[k] * dd) / (divisor[k] * n_features)
            v += reg_covar
            for i in range(n_features):
                s[k, i, i] = v
            total += sxx[k, 0, 0]
        for i in range(n_features):
            diagonal[i] = total / n_features
    elif shape == DIAG:
        for k in range(n_components):
            for i in range(n_features):
                v = sxx[k, i, i] - 2.0 * sx[k, i] * d[k, i] + nk[k] * d[k, i] * d[k, i]
                s[k, i, i] = v / divisor[k] + reg_covar
                diagonal[i] += sxx[k, i, i]
    elif shape == TIED:
        total = 0.0
        for k in range(n_components):
            total += divisor[k]
        c = np.empty((n_features, n_features))
        for i in range(n_features):
            for j in range(n_features):
                cross_ij = 0.0
                cross_ji = 0.0
                dd = 0.0
                for k in range(n_components):
                    cross_ij += sx[k, i] * d[k, j]
                    cross_ji += sx[k, j] * d[k, i]
                    dd += d[k, i] * nk[k] * d[k, j]
                c[i, j] = (sxx[0, i, j] - cross_ij - cross_ji + dd) / total
        for i in range(n_features):
            diagonal[i] = sxx[0, i, i]
            for j in range(n_features):
                v = 0.5 * (c[i, j] + c[j, i])
                if i == j:
                    v += reg_covar
                for k in range(n_components):
                    s[k, i, j] = v
    else:
        for k in range(n_components):
            for i in range(n_features):
                diagonal[i] += sxx[k, i, i]
                for j in range(n_features):
                    v = (
                        sxx[k, i, j]
                        - sx[k, i] * d[k, j]
                        - d[k, i] * sx[k, j]
                        + nk[k] * d[k, i] * d[k, j]
                    )
                    s[k, i, j] = v / divisor[k]
        _symmetrise(s)
        for k in range(n_components):
            for i in range(n_features):
                s[k, i, i] += reg_covar
    return s, diagonal


@numba.njit(cache=True, nogil=True)
def _reference(
    shape: int, diagonal: FloatArray, sx: FloatArray, total: float
) -> tuple[FloatArray, bool]:
    """mstep._feature_variances; False unless every feature has a variance."""
    n_components, n_features = sx.shape
    var = np.empty(n_features)
    magnitude = np.empty(n_features)
    for i in range(n_features):
        second = diagonal[i] / total
        first = 0.0
        for k in range(n_components):
            first += sx[k, i]
        first /= total
        var[i] = second - first * first
        magnitude[i] = abs(second) + first * first
    if shape == SPHERICAL:
        mv = 0.0
        mm = 0.0
        for i in range(n_features):
            mv += var[i]
            mm += magnitude[i]
        var[:] = mv / n_features
        magnitude[:] = mm / n_features
    for i in range(n_features):
        if not (var[i] > VARIANCE_ROUNDING * magnitude[i] and math.isfinite(var[i])):
            return var, False
    return var, True


@numba.njit(cache=True, nogil=True)
def _factor(shape: int, cov: FloatArray, reference: FloatArray, pc: FloatArray) -> bool:
    """Upper precision factors ``pc`` of ``cov``; False if one is near collapse.

    False where the NumPy M-step would repair (not positive definite, or a
    conditional variance below ``COLLAPSE_RELATIVE`` times the feature's
    variance), with a margin of :data:`_MARGIN`.
    """
    n_components, n_features = cov.shape[0], cov.shape[1]
    pc[:] = 0.0
    if shape in (SPHERICAL, DIAG):
        for k in range(n_components):
            for i in range(n_features):
                v = cov[k, i, i]
                if not (
                    v > _MARGIN * COLLAPSE_RELATIVE * reference[i] and math.isfinite(v)
                ):
                    return False
                pc[k, i, i] = 1.0 / math.sqrt(v)
        return True
    lower = np.zeros((n_features, n_features))
    for k in range(n_components):
        if shape == TIED and k > 0:
            pc[k] = pc[0]
            continue
        a = cov[k]
        for j in range(n_features):
            acc = a[j, j]
            for m in range(j):
                acc -= lower[j, m] * lower[j, m]
            if not (
                acc > _MARGIN * COLLAPSE_RELATIVE * reference[j] and math.isfinite(acc)
            ):
                return False  # conditional variance L_jj^2 of feature j
            ljj = math.sqrt(acc)
            lower[j, j] = ljj
            for i in range(j + 1, n_features):
                acc = a[i, j]
                for m in range(j):
                    acc -= lower[i, m] * lower[j, m]
                lower[i, j] = acc / ljj
        # U = L^{-T}: solve L Y = I (lower), U = Y^T.
        for c in range(n_features):
            for i in range(n_features):
                acc = 1.0 if i == c else 0.0
                for m in range(c, i):
                    acc -= lower[i, m] * pc[k, c, m]
                pc[k, c, i] = acc / lower[i, i] if i >= c else 0.0
    return True


# ------------------------------------------------------------------ M-step
@numba.njit(cache=True, nogil=True)
def _m_step(
    model: int,
    shape: int,
    stats: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    eps: float,
    reg_covar: float,
    out: State,
    inner_tol: float,
    inner_max_iter: int,
) -> tuple[bool, int, bool]:
    """mstep.m_step without a prior, noise or equal proportions, into ``out``.

    ``stats`` are ``(nk, sx, sxx, shift)``: the statistics about ``shift``
    (``sxx`` in the layout of :func:`_e_step`); ``eps`` is scikit-learn's
    offset of ``nk``. ``out`` is a :data:`State`, whose inner terms hold the
    start on entry. Returns ``(ok, inner n_iter, inner converged)``; not ok
    where the NumPy M-step would repair or raise (``out`` is then
    meaningless).
    """
    nk, sx, sxx, shift = stats
    weights, means, cov, pc, inner_shape, inner_orientation = out
    n_components, n_features = sx.shape
    total = 0.0
    for k in range(n_components):
        total += nk[k]
    if not math.isfinite(total + np.sum(sx) + np.sum(sxx)):
        return False, 0, False
    nk_eps = np.empty(n_components)
    d = np.empty((n_components, n_features))
    empty = False
    weight_sum = 0.0
    for k in range(n_components):
        nk_eps[k] = nk[k] + eps
        weight_sum += nk_eps[k]
        empty = empty or nk[k] < EMPTY_FRACTION * max(total, _TINY)
        for i in range(n_features):
            d[k, i] = sx[k, i] / nk_eps[k]
            means[k, i] = shift[i] + d[k, i]
    if empty:
        return False, 0, False
    s, diagonal = _unconstrained(shape, sxx, sx, nk, nk_eps, d, reg_covar)
    reference, ok = _reference(shape, diagonal, sx, total)
    if not ok:
        return False, 0, False
    ok, m_iter, m_converged = _constrain(
        model,
        s,
        nk_eps,
        cov,
        inner_shape,
        inner_orientation,
        inner_tol,
        inner_max_iter,
    )
    if not ok or not _factor(shape, cov, reference, pc):
        return False, m_iter, False
    for k in range(n_components):
        weights[k] = nk_eps[k] / weight_sum
    return True, m_iter, m_converged


@numba.njit(cache=True, nogil=True)
def first_m_step(
    model: int,
    shape: int,
    X: FloatArray,
    labels: npt.NDArray[np.int64],
    out: State,
    control: Control,
) -> tuple[bool, int, bool]:
    """The first M-step of a fit from hard labels (``-1``: a row left out).

    The statistics of one-hot responsibilities about the mean of ``X``
    (``stats_from_resp`` of the hierarchical start, without sample weights),
    then :func:`_m_step` into ``out`` from the documented start of an iterative
    model (its inner terms: ones and the identity), at the family's own inner
    tolerance (``control``'s). Returns as :func:`_m_step`.
    """
    n_samples, n_features = X.shape
    n_components = out[1].shape[0]
    shift = np.zeros(n_features)
    for n in range(n_samples):
        for i in range(n_features):
            shift[i] += X[n, i]
    for i in range(n_features):
        shift[i] /= n_samples
    nk = np.zeros(n_components)
    sx = np.zeros((n_components, n_features))
    full = np.zeros((n_components, n_features, n_features))
    xc = np.empty(n_features)
    for n in range(n_samples):
        k = labels[n]
        if k < 0:
            continue
        nk[k] += 1.0
        for i in range(n_features):
            xc[i] = X[n, i] - shift[i]
            sx[k, i] += xc[i]
        for i in range(n_features):
            for j in range(n_features):
                full[k, i, j] += xc[i] * xc[j]
    sxx = np.zeros((n_components, n_features, n_features))
    if shape == SPHERICAL:
        for k in range(n_components):
            for i in range(n_features):
                sxx[k, 0, 0] += full[k, i, i]
    elif shape == DIAG:
        for k in range(n_components):
            for i in range(n_features):
                sxx[k, i, i] = full[k, i, i]
    elif shape == TIED:
        for k in range(n_components):
            sxx[0] += full[k]
    else:
        sxx[:] = full
    stats = (nk, sx, sxx, shift)
    reg_covar, inner_tol, inner_max_iter = control[3], control[4], control[5]
    return _m_step(
        model, shape, stats, 10.0 * _EPS, reg_covar, out, inner_tol, inner_max_iter
    )


@numba.njit(cache=True, nogil=True, error_model="numpy")
def log_terms(
    X: FloatArray, weights: FloatArray, means: FloatArray, pc: FloatArray
) -> tuple[float, float]:
    """``sum_i log p(x_i)`` and ``sum_i log max_k resp_ik`` (the criteria's terms).

    ``pc`` in the ``(K, D, D)`` layout (upper factors of the precisions;
    diagonal for the spherical and diagonal models). As
    :meth:`gaussmix.model.MixtureModel.criteria` without sample weights: the
    largest responsibility is floored at the smallest normal float.

    By blocks of rows, as the E-step kernels (the loops over the rows of a
    block vectorise): per component the whitened distance ``|U_k^T (x -
    mu_k)|^2``, then per row ``m = max_k l_k``, ``s = sum_k exp(l_k - m)``
    (the exponent floored at -700), ``log p = m + log s`` and ``log max_k
    resp = -log s``. The sums over rows run in row order.
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    const = np.empty(n_components)
    for k in range(n_components):
        logdet = 0.0
        for i in range(n_features):
            logdet += math.log(pc[k, i, i])
        log_weight = math.log(weights[k]) if weights[k] > 0.0 else -math.inf
        const[k] = log_weight - 0.5 * n_features * LOG_2PI + logdet
    block = min(_LOG_TERMS_BLOCK, n_samples)
    xc = np.empty((n_features, block))
    y = np.empty(block)
    lt = np.empty((n_components, block))
    mx = np.empty(block)
    total = np.empty(block)
    loglik = 0.0
    entropy = 0.0
    log_tiny = math.log(_TINY)
    for first in range(0, n_samples, block):
        n = min(block, n_samples - first)
        for k in range(n_components):
            for i in range(n_features):
                xi = xc[i]
                mean = means[k, i]
                for r in range(n):
                    xi[r] = X[first + r, i] - mean
            lk = lt[k]
            for r in range(n):
                lk[r] = 0.0
            for j in range(n_features):
                for r in range(n):
                    y[r] = 0.0
                for i in range(j + 1):
                    c = pc[k, i, j]
                    xi = xc[i]
                    for r in range(n):
                        y[r] += xi[r] * c
                for r in range(n):
                    lk[r] += y[r] * y[r]
            c = const[k]
            for r in range(n):
                lk[r] = c - 0.5 * lk[r]
        for r in range(n):
            mx[r] = -math.inf
            total[r] = 0.0
        for k in range(n_components):
            lk = lt[k]
            for r in range(n):
                if lk[r] > mx[r]:
                    mx[r] = lk[r]
        for k in range(n_components):
            lk = lt[k]
            for r in range(n):
                total[r] += fast_exp(max(lk[r] - mx[r], _EXP_FLOOR))
        for r in range(n):
            total[r] = fast_log(total[r])
        for r in range(n):
            loglik += mx[r] + total[r]
            entropy += max(-total[r], log_tiny)
    return loglik, entropy


# -------------------------------------------------------------------- loop
@numba.njit(cache=True, nogil=True)
def _inner_tolerance(change: float, current: float, base: float) -> float:
    """em._inner_tolerance."""
    if not math.isfinite(change):
        return max(base, INNER_TOL_LOOSE)
    relative = abs(change) / (1.0 + abs(current))
    return max(base, min(INNER_TOL_LOOSE, INNER_TOL_FACTOR * relative))


@numba.njit(cache=True, nogil=True)
def em_loop(
    model: int,
    shape: int,
    X: FloatArray,
    sample_weight: FloatArray,
    state: State,
    control: Control,
    lower_bound: float,
    inner_final: bool,
) -> tuple[int, int, FloatArray, float, bool, int, bool]:
    """EM from the given parameters, as :func:`gaussmix.em.fit_em` without repairs.

    Parameters
    ----------
    model : int
        The model's code (:data:`EII` ... :data:`VVV`).
    shape : int
        Its storage shape (:data:`SPHERICAL`, :data:`DIAG`, :data:`TIED`,
        :data:`FULL`).
    X : ndarray of shape (N, D)
        Float64 data.
    sample_weight : ndarray of shape (N,) or (0,)
        Weights, or an empty array for none.
    state : State
        The parameters to start from (see :data:`State`); overwritten with
        the result.
    control : Control
        The stopping rule and the M-step's options (see :data:`Control`).
    lower_bound : float
        The bound before the first iteration (``-inf``, or a warm start's).
    inner_final : bool
        fit_em's ``inner_final`` so far (False for a new run).

    Returns
    -------
    status : int
        :data:`CONVERGED`, :data:`MAX_ITER` or :data:`HANDOFF`.
    n_iter : int
        Iterations done (with HANDOFF: before the one handed off).
    lower_bounds : ndarray of shape (n_iter,)
    lower_bound : float
        The last bound (with HANDOFF: the bound before the handed-off iteration).
    inner_final : bool
        fit_em's ``inner_final`` (converged with a loose inner tolerance).
    inner_n_iter, inner_converged : int, bool
        The last M-step's inner iteration.
    """
    weights, means, cov, pc, inner_shape, inner_orientation = state
    tol, relative, max_iter, reg_covar, inner_base, inner_max_iter = control
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    if sample_weight.shape[0] == 0:
        weight_total = float(n_samples)
    else:
        weight_total = 0.0
        for i in range(n_samples):
            weight_total += sample_weight[i]
    mean_weight = weight_total / n_samples
    eps = 10.0 * _EPS * mean_weight
    bounds = np.empty(max_iter)
    new_cov = np.empty_like(cov)
    new_pc = np.empty_like(pc)
    new_shape = inner_shape.copy()
    new_orientation = inner_orientation.copy()
    shift = np.empty(n_features)
    means_new = np.empty_like(means)
    new_weights = np.empty_like(weights)
    inner_n_iter = 0
    inner_converged = True
    n_done = 0
    stop_status = MAX_ITER
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        for i in range(n_features):
            acc = 0.0
            for k in range(n_components):
                acc += weights[k] * means[k, i]
            shift[i] = acc
        nk, sx, sxx, loglik, status = _e_step(
            shape, X, shift, weights, means, pc, sample_weight
        )
        if status != 0:
            stop_status = HANDOFF
            break
        bound = loglik / weight_total
        inner_tol = inner_base
        if inner_base > 0.0 and not inner_final:
            inner_tol = _inner_tolerance(bound - previous, bound, inner_base)
        new_shape[:] = inner_shape
        new_orientation[:] = inner_orientation
        stats = (nk, sx, sxx, shift)
        out = (new_weights, means_new, new_cov, new_pc, new_shape, new_orientation)
        ok, m_iter, m_converged = _m_step(
            model, shape, stats, eps, reg_covar, out, inner_tol, inner_max_iter
        )
        if not ok:
            stop_status = HANDOFF
            break
        # ---- commit the iteration
        weights[:] = new_weights
        means[:] = means_new
        cov[:] = new_cov
        pc[:] = new_pc
        inner_shape[:] = new_shape
        inner_orientation[:] = new_orientation
        inner_n_iter = m_iter
        inner_converged = m_converged
        lower_bound = bound
        bounds[n_iter - 1] = bound
        n_done = n_iter
        change = bound - previous
        if relative:
            stop = abs(change) * n_samples <= tol * (1.0 + abs(bound) * n_samples)
        else:
            stop = abs(change) < tol
        if stop:
            if inner_base > 0.0 and inner_tol > inner_base:
                inner_final = True
                continue
            stop_status = CONVERGED
            break
    return (
        stop_status,
        n_done,
        bounds[:n_done],
        lower_bound,
        inner_final,
        inner_n_iter,
        inner_converged,
    )


#: :func:`whole_cell`'s status when the first M-step needs a repair.
FIRST_STEP_REPAIR = 3


@numba.njit(cache=True, nogil=True)
def _pack_handoff(bounds: FloatArray, state: State) -> FloatArray:
    """The bounds and the state's arrays (but the factors) in one flat array.

    In the order ``bounds, weights, means, covariances, inner shape, inner
    orientation``; :func:`gaussmix.core.fast_em.compiled_cell` cuts it apart
    (it knows ``n_iter``, ``K`` and ``D``).
    """
    weights, means, cov, _, shape, orientation = state
    parts = (
        bounds,
        weights,
        means.ravel(),
        cov.ravel(),
        shape,
        orientation.ravel(),
    )
    size = 0
    for part in parts:
        size += part.shape[0]
    out = np.empty(size)
    at = 0
    for part in parts:
        out[at : at + part.shape[0]] = part
        at += part.shape[0]
    return out


@numba.njit(cache=True, nogil=True)
def whole_cell(
    model: int,
    shape: int,
    X: FloatArray,
    labels: npt.NDArray[np.int64],
    n_components: int,
    control: Control,
) -> tuple[int, int, float, bool, int, bool, float, float, FloatArray]:
    """A fit from hard labels in one call: the first M-step, EM and the log terms.

    One call instead of three saves two dispatches of the tuple arguments
    (some 30 us each, more than a small cell's EM). The state starts as
    ``fast_em.compiled_cell`` documents (an iterative model's inner terms:
    ones and the identity). Only a handed-off run returns arrays: each array
    returned costs about 1 us to box, and most cells need none.

    Returns
    -------
    tuple
        :func:`em_loop`'s status (:data:`FIRST_STEP_REPAIR` when the first
        M-step needs a repair), ``n_iter``, last bound, ``inner_final``, inner
        ``n_iter`` and ``converged``; :func:`log_terms`'s two (0 unless
        converged or at ``max_iter``); with :data:`HANDOFF` the bounds and the
        state (:func:`_pack_handoff`), else an empty array.
    """
    n_features = X.shape[1]
    state = (
        np.empty(n_components),
        np.empty((n_components, n_features)),
        np.empty((n_components, n_features, n_features)),
        np.empty((n_components, n_features, n_features)),
        np.ones(n_features),
        np.eye(n_features),
    )
    if not first_m_step(model, shape, X, labels, state, control)[0]:
        return (FIRST_STEP_REPAIR, 0, -math.inf, False, 0, False, 0.0, 0.0, np.empty(0))
    found = em_loop(model, shape, X, np.empty(0), state, control, -math.inf, False)
    status, n_iter, bounds, bound, inner_final, inner_n_iter, inner_converged = found
    loglik = entropy = 0.0
    if status == HANDOFF:
        packed = _pack_handoff(bounds, state)
    else:
        loglik, entropy = log_terms(X, state[0], state[1], state[3])
        packed = np.empty(0)
    return (
        status,
        n_iter,
        bound,
        inner_final,
        inner_n_iter,
        inner_converged,
        loglik,
        entropy,
        packed,
    )
