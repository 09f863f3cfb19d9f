"""Compiled (numba) E-step of small data: one pass over the rows, per storage shape.

On a few hundred rows with ``D`` = 2..6 the NumPy E-step
(:func:`gaussmix.core.estep._e_step_one_chunk`) is bound by the cost of its
some thirty NumPy calls on tiny arrays, not by arithmetic. The kernels here do
the same work in one compiled pass: the family's coefficients (the same
formulas as its ``prepare``), then for every row its design, its log-densities,
the log-sum-exp normalisation (with the same floor of the exponent,
``-700``), its responsibilities, its share of the log-likelihood and of the
statistics. They return the statistics in their final shapes (those of
``family.unpack``), so that no NumPy call is left but building the
:class:`~gaussmix.core.stats.SuffStats`.

There is one kernel per storage shape of the covariances, which covers every
family: mclust's models reuse the E-step of the scikit-learn family with their
shape.

* :func:`estep_full`: ``(K, D, D)`` upper factors ``U_k`` (packed design
  ``[xc_i xc_j (i <= j), xc, 1]``);
* :func:`estep_tied`: one ``(D, D)`` factor (whitened rows ``U^T xc``);
* :func:`estep_diag`: ``(K, D)`` inverse standard deviations (design
  ``[xc^2, xc, 1]``);
* :func:`estep_spherical`: ``(K,)`` (design ``[|xc|^2, xc, 1]``).

The sums run in row order instead of BLAS's blocked order, so the results agree
with the NumPy path up to rounding (a few ``eps`` relative to the size of the
terms), not bit for bit.

Every kernel takes ``X`` ``(N, D)``, the shift (the mixture mean, computed by
the caller exactly as the NumPy path computes it), the weights, means and
precision factors, the sample weights (an empty array for none) and the noise
component (``has_noise``, ``noise_term = log(noise_weight) +
noise_log_density``), and returns ``(nk, sx, sxx, loglik, noise_mass,
status)``. A status other than :data:`OK` means that some row's log-density is
not finite under every component (or is NaN): the caller then runs the NumPy
path, which raises its error.

Importing this module imports numba (an optional dependency): the caller
imports it on first use and keeps the NumPy path on ``ImportError``. The
kernels are cached on disk (``cache=True``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gaussmix._typing import FloatArray
from gaussmix.core.numerics import LOG_2PI

__all__ = [
    "NON_FINITE",
    "OK",
    "estep_diag",
    "estep_full",
    "estep_spherical",
    "estep_tied",
]

#: Statuses of the kernels.
OK = 0
#: The largest log-density of some row (noise term included) is not finite.
NON_FINITE = 1

#: ``_EXP_FLOOR`` of :mod:`gaussmix.core.estep` for float64.
_EXP_FLOOR = -700.0
_HALF_LOG_2PI = 0.5 * LOG_2PI

#: The result of a kernel: ``nk, sx, sxx, loglik, noise_mass, status``.
Result = tuple[FloatArray, FloatArray, FloatArray, float, float, int]


@numba.njit(cache=True, nogil=True)
def _normalise_row(
    lt: FloatArray, e: FloatArray, has_noise: bool, noise_term: float
) -> tuple[float, float, float, bool]:
    """``e <- exp(max(lt - m, -700))``; ``(log p(x), sum, noise share, ok)``.

    ``m`` is the largest of ``lt`` (and of ``noise_term`` with noise). The sum
    includes the noise share ``exp(max(noise_term - m, -700))`` (0 for a noise
    term of ``-inf``). ``ok`` is False when ``m`` is not finite or some ``lt``
    is NaN (NumPy's ``max`` propagates NaN).
    """
    n_components = lt.shape[0]
    mx = -math.inf
    nan = False
    for k in range(n_components):
        v = lt[k]
        if v != v:
            nan = True
        elif v > mx:
            mx = v
    noisy = has_noise and noise_term != -math.inf
    if noisy and noise_term > mx:
        mx = noise_term
    if nan or not math.isfinite(mx):
        return 0.0, 0.0, 0.0, False
    s = 0.0
    for k in range(n_components):
        a = lt[k] - mx
        if a < _EXP_FLOOR:
            a = _EXP_FLOOR
        v = math.exp(a)
        e[k] = v
        s += v
    noise = 0.0
    if noisy:
        a = noise_term - mx
        if a < _EXP_FLOOR:
            a = _EXP_FLOOR
        noise = math.exp(a)
        s += noise
    return math.log(s) + mx, s, noise, True


@numba.njit(cache=True, nogil=True)
def _weigh_row(
    lt: FloatArray,
    e: FloatArray,
    has_noise: bool,
    noise_term: float,
    sample_weight: FloatArray,
    n: int,
) -> tuple[float, float, float, bool]:
    """Row ``n`` normalised (:func:`_normalise_row`) and weighted.

    Returns ``(w log p(x), w / sum, noise share * w / sum, ok)``: the row's
    term of the log-likelihood, the factor that turns ``e`` into its weighted
    responsibilities, and its weighted noise responsibility, with ``w`` the
    row's sample weight (1 for an empty ``sample_weight``).
    """
    log_norm, s, noise, ok = _normalise_row(lt, e, has_noise, noise_term)
    if not ok:
        return 0.0, 0.0, 0.0, False
    if sample_weight.shape[0] > 0:
        w = sample_weight[n]
        scale = w / s
        return log_norm * w, scale, noise * scale, True
    scale = 1.0 / s
    return log_norm, scale, noise * scale, True


@numba.njit(cache=True, nogil=True)
def _log_weight(w: float) -> float:
    """``log(w)``, ``-inf`` for 0 (as ``np.log``)."""
    if w > 0.0:
        return math.log(w)
    if w == 0.0:
        return -math.inf
    return math.nan


@numba.njit(cache=True, nogil=True)
def _packed_pass(
    X: FloatArray,
    shift: FloatArray,
    coefT: FloatArray,
    kind: int,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> tuple[FloatArray, float, float, int]:
    """The pass of the families linear in a packed design (full, diag, spherical).

    ``coefT`` is ``(width, K)``; ``kind`` 0 is the full design
    ``[xc_i xc_j (i <= j), xc, 1]``, 1 the diagonal ``[xc^2, xc, 1]``, 2 the
    spherical ``[|xc|^2, xc, 1]``. Returns the moments ``(K, width)`` (those of
    ``R @ Z.T``), the log-likelihood, the noise mass and the status.
    """
    n_samples, n_features = X.shape
    width, n_components = coefT.shape
    z = np.empty(width)
    xc = np.empty(n_features)
    lt = np.empty(n_components)
    e = np.empty(n_components)
    acc = np.zeros((n_components, width))
    loglik = 0.0
    noise_mass = 0.0
    lin = width - 1 - n_features
    for n in range(n_samples):
        for i in range(n_features):
            xc[i] = X[n, i] - shift[i]
        if kind == 0:
            o = 0
            for i in range(n_features):
                xi = xc[i]
                for j in range(i, n_features):
                    z[o] = xi * xc[j]
                    o += 1
        elif kind == 1:
            for i in range(n_features):
                z[i] = xc[i] * xc[i]
        else:
            sq = 0.0
            for i in range(n_features):
                sq += xc[i] * xc[i]
            z[0] = sq
        for i in range(n_features):
            z[lin + i] = xc[i]
        z[width - 1] = 1.0
        for k in range(n_components):
            a = 0.0
            for j in range(width):
                a += coefT[j, k] * z[j]
            lt[k] = a
        term, scale, noise, ok = _weigh_row(
            lt, e, has_noise, noise_term, sample_weight, n
        )
        if not ok:
            return acc, 0.0, 0.0, NON_FINITE
        loglik += term
        noise_mass += noise
        for k in range(n_components):
            r = e[k] * scale
            for j in range(width):
                acc[k, j] += r * z[j]
    return acc, loglik, noise_mass, OK


@numba.njit(cache=True, nogil=True)
def _linear_moments(acc: FloatArray, n_features: int) -> tuple[FloatArray, FloatArray]:
    """``nk`` ``(K,)`` and ``sx`` ``(K, D)`` from the moments of :func:`_packed_pass`.

    Every packed design ends with ``[xc, 1]``: ``sx`` is read from the ``D``
    columns before the last, ``nk`` from the last.
    """
    n_components, width = acc.shape
    lin = width - 1 - n_features
    nk = np.empty(n_components)
    sx = np.empty((n_components, n_features))
    for k in range(n_components):
        nk[k] = acc[k, width - 1]
        for i in range(n_features):
            sx[k, i] = acc[k, lin + i]
    return nk, sx


@numba.njit(cache=True, nogil=True)
def estep_full(
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    precisions_cholesky: FloatArray,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> Result:
    """The E-step of the full-shaped families, ``U_k`` of shape ``(K, D, D)``.

    The coefficients of :meth:`Full.prepare <gaussmix.core.sklearn_families.Full.prepare>`:
    ``-P_ij / 2`` (doubled off the diagonal), ``P d``, and
    ``-D/2 log(2 pi) + log|U| + log w - d^T P d / 2`` with ``P = U U^T``.
    """
    n_features = X.shape[1]
    n_components = means.shape[0]
    n_packed = n_features * (n_features + 1) // 2
    width = n_packed + n_features + 1
    coefT = np.empty((width, n_components))
    prec = np.empty((n_features, n_features))
    d = np.empty(n_features)
    for k in range(n_components):
        u = precisions_cholesky[k]
        for i in range(n_features):
            for j in range(n_features):
                pij = 0.0
                for m in range(n_features):
                    pij += u[i, m] * u[j, m]
                prec[i, j] = pij
        logdet = 0.0
        for i in range(n_features):
            logdet += math.log(u[i, i])
            d[i] = means[k, i] - shift[i]
        const = -_HALF_LOG_2PI * n_features + logdet
        const = const + _log_weight(weights[k])
        dpd = 0.0
        o = 0
        for i in range(n_features):
            pd = 0.0
            for j in range(n_features):
                pd += prec[i, j] * d[j]
            dpd += d[i] * pd
            coefT[n_packed + i, k] = pd
            coefT[o, k] = -0.5 * prec[i, i]
            o += 1
            for j in range(i + 1, n_features):
                coefT[o, k] = -prec[i, j]
                o += 1
        coefT[width - 1, k] = const - 0.5 * dpd
    acc, loglik, noise_mass, status = _packed_pass(
        X, shift, coefT, 0, sample_weight, has_noise, noise_term
    )
    nk, sx = _linear_moments(acc, n_features)
    sxx = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        o = 0
        for i in range(n_features):
            for j in range(i, n_features):
                sxx[k, i, j] = acc[k, o]
                sxx[k, j, i] = acc[k, o]
                o += 1
    return nk, sx, sxx, loglik, noise_mass, status


@numba.njit(cache=True, nogil=True)
def estep_diag(
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    precisions_cholesky: FloatArray,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> Result:
    """The E-step of the diagonal-shaped families, ``(K, D)`` inverse standard deviations."""
    n_features = X.shape[1]
    n_components = means.shape[0]
    width = 2 * n_features + 1
    coefT = np.empty((width, n_components))
    for k in range(n_components):
        logdet = 0.0
        maha = 0.0
        for i in range(n_features):
            u = precisions_cholesky[k, i]
            p = u * u
            di = means[k, i] - shift[i]
            logdet += math.log(u)
            maha += p * di * di
            coefT[i, k] = -0.5 * p
            coefT[n_features + i, k] = p * di
        const = -_HALF_LOG_2PI * n_features + logdet
        const = const - 0.5 * maha
        coefT[width - 1, k] = const + _log_weight(weights[k])
    acc, loglik, noise_mass, status = _packed_pass(
        X, shift, coefT, 1, sample_weight, has_noise, noise_term
    )
    nk, sx = _linear_moments(acc, n_features)
    sxx = acc[:, :n_features].copy()
    return nk, sx, sxx, loglik, noise_mass, status


@numba.njit(cache=True, nogil=True)
def estep_spherical(
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    precisions_cholesky: FloatArray,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> Result:
    """The E-step of the spherical-shaped families, ``(K,)`` inverse standard deviations."""
    n_features = X.shape[1]
    n_components = means.shape[0]
    width = n_features + 2
    coefT = np.empty((width, n_components))
    for k in range(n_components):
        u = precisions_cholesky[k]
        p = u * u
        dd = 0.0
        for i in range(n_features):
            di = means[k, i] - shift[i]
            dd += di * di
            coefT[1 + i, k] = p * di
        coefT[0, k] = -0.5 * p
        const = -_HALF_LOG_2PI * n_features + n_features * math.log(u)
        const = const - 0.5 * (p * dd)
        coefT[width - 1, k] = const + _log_weight(weights[k])
    acc, loglik, noise_mass, status = _packed_pass(
        X, shift, coefT, 2, sample_weight, has_noise, noise_term
    )
    nk, sx = _linear_moments(acc, n_features)
    sxx = acc[:, 0].copy()
    return nk, sx, sxx, loglik, noise_mass, status


@numba.njit(cache=True, nogil=True)
def estep_tied(
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    precisions_cholesky: FloatArray,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> Result:
    """The E-step of the tied-shaped families, one ``(D, D)`` factor ``U``.

    As :meth:`Tied.prepare <gaussmix.core.sklearn_families.Tied.prepare>`:
    ``y = U^T xc``, ``log N_k = e_k . y + c_k - |y|^2 / 2`` with the whitened
    offsets ``e_k = U^T d_k``. The scatter ``sum_i w_i xc_i xc_i^T`` is shared
    (with noise, weighted by the Gaussians' share of each row's weight).
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    u = precisions_cholesky
    weighted = sample_weight.shape[0] > 0
    eT = np.empty((n_features, n_components))
    const = np.empty(n_components)
    logdet = 0.0
    for i in range(n_features):
        logdet += math.log(u[i, i])
    base = -_HALF_LOG_2PI * n_features + logdet
    for k in range(n_components):
        ee = 0.0
        for j in range(n_features):
            acc = 0.0
            for i in range(n_features):
                acc += (means[k, i] - shift[i]) * u[i, j]
            eT[j, k] = acc
            ee += acc * acc
        c = base - 0.5 * ee
        const[k] = c + _log_weight(weights[k])
    first = np.zeros((n_components, n_features + 1))
    sxx = np.zeros((n_features, n_features))
    xc = np.empty(n_features)
    y = np.empty(n_features)
    lt = np.empty(n_components)
    e = np.empty(n_components)
    loglik = 0.0
    noise_mass = 0.0
    for n in range(n_samples):
        for i in range(n_features):
            xc[i] = X[n, i] - shift[i]
            y[i] = 0.0
        for i in range(n_features):
            xi = xc[i]
            for j in range(n_features):
                y[j] += u[i, j] * xi
        yy = 0.0
        for j in range(n_features):
            yy += y[j] * y[j]
        for k in range(n_components):
            lt[k] = 0.0
        for j in range(n_features):
            yj = y[j]
            for k in range(n_components):
                lt[k] += eT[j, k] * yj
        for k in range(n_components):
            lt[k] = (lt[k] + const[k]) - 0.5 * yy
        term, scale, noise, ok = _weigh_row(
            lt, e, has_noise, noise_term, sample_weight, n
        )
        if not ok:
            return const, first, sxx, 0.0, 0.0, NON_FINITE
        loglik += term
        noise_mass += noise
        w = sample_weight[n] if weighted else 1.0
        share = 0.0
        for k in range(n_components):
            r = e[k] * scale
            share += r
            for i in range(n_features):
                first[k, i] += r * xc[i]
            first[k, n_features] += r
        if has_noise:
            w = share
        for i in range(n_features):
            wx = w * xc[i]
            for j in range(i, n_features):
                sxx[i, j] += wx * xc[j]
    for i in range(n_features):
        for j in range(i + 1, n_features):
            sxx[j, i] = sxx[i, j]
    nk = np.empty(n_components)
    sx = np.empty((n_components, n_features))
    for k in range(n_components):
        nk[k] = first[k, n_features]
        for i in range(n_features):
            sx[k, i] = first[k, i]
    return nk, sx, sxx, loglik, noise_mass, OK
