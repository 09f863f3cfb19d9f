"""scikit-learn's four covariance families: full, tied, diag and spherical.

They are the four array shapes of covariances (scikit-learn's), and every
model of R mclust (:mod:`gaussmix.core.mclust_models`) reuses the one with its
shape: its conversions, its E-step kernels and its unconstrained M-step
estimate. Each family knows, for a chunk of centred data, the two kernels of
the E-step:

* ``log_prob_T(xcT, Z, prep)``: log-densities of every component, as a
  ``(n_components, n_rows)`` array;
* ``moments(R, Z, xcT, rw)``: the chunk's contribution to the statistics, as
  one flat float64 vector whose layout only the family knows (``unpack`` reads it).

**The packed design.** For the full, diagonal and spherical families the
quadratic form of every component is one matrix product. With the chunk's
centred rows ``xc`` and the design ``Z = [xc_i xc_j (i <= j), xc, 1]``,
``log N(x | mu_k, Sigma_k) = coef_k . z(x)`` where ``coef_k`` holds
``-1/2 P_ij`` (doubled off the diagonal), ``P_k d_k`` and the constant. The same
``Z`` gives the statistics as ``R @ Z.T``: two large products per chunk, no
``n x K x D`` temporary and no Python loop over components. Above
``PACKED_MAX_FEATURES`` the packed width ``D (D + 1) / 2`` no longer pays and the
full family whitens per component instead (as scikit-learn does).

Everything here is pure NumPy/SciPy: no estimator state, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt
from scipy import linalg

from gaussmix._typing import FloatArray
from gaussmix.core.family import (
    BoolArray,
    CovarianceFamily,
    CovarianceStats,
    DType,
    Prepared,
    PriorRule,
)
from gaussmix.core.linalg import lapack_kernel
from gaussmix.core.numerics import LOG_2PI
from gaussmix.core.params import GMMParams

__all__ = [
    "FLOAT32_MAX_MAGNITUDE",
    "PACKED_MAX_FEATURES",
    "Diag",
    "Full",
    "Spherical",
    "Tied",
]

#: Above this many features the full family uses per-component whitening
#: instead of the packed design (measured: ``benchmarks/bench_fit.py``).
PACKED_MAX_FEATURES: Final = 96

#: Largest size of the terms of the packed quadratic form (in units of the
#: log-density) for which the float32 product is used. The rounding error of
#: the expanded form grows with this size (about ``eps32 * magnitude``); above
#: it, the E-step of float32 data is computed in float64.
FLOAT32_MAX_MAGNITUDE: Final = 2.0**12

_F64: Final = np.dtype(np.float64)
_NO_EXTRA: Final[Mapping[str, FloatArray]] = {}
IntpArray = npt.NDArray[np.intp]
_TRIU: dict[int, tuple[IntpArray, IntpArray, FloatArray]] = {}
_PACKING: dict[int, tuple[IntpArray, IntpArray]] = {}


def _triu(n_features: int) -> tuple[IntpArray, IntpArray, FloatArray]:
    """``np.triu_indices(n_features)`` and the packed design's factors.

    The factors are 1 on the diagonal, 2 off it. Cached (read-only): they were
    rebuilt in every E- and M-step.
    """
    got = _TRIU.get(n_features)
    if got is None:
        iu0, iu1 = np.triu_indices(n_features)
        factor = np.where(iu0 == iu1, 1.0, 2.0)
        for a in (iu0, iu1, factor):
            a.flags.writeable = False
        got = _TRIU.setdefault(n_features, (iu0, iu1, factor))
    return got


_NEG_HALF: dict[int, FloatArray] = {}


def _neg_half(factor: FloatArray) -> FloatArray:
    """``-0.5 * factor`` of :func:`_triu`, cached."""
    got = _NEG_HALF.get(factor.size)
    if got is None:
        got = -0.5 * factor
        got.flags.writeable = False
        got = _NEG_HALF.setdefault(factor.size, got)
    return got


def _packing(n_features: int) -> tuple[IntpArray, IntpArray]:
    """Flat indices between a ``D x D`` matrix and its packed upper triangle.

    ``pack`` picks the packed entries from a raveled matrix (``m[iu0, iu1]``);
    ``unpack`` picks, for every entry of the raveled matrix, its packed entry
    (``(i, j)`` and ``(j, i)`` share one). Cached, read-only.
    """
    got = _PACKING.get(n_features)
    if got is None:
        iu0, iu1, _ = _triu(n_features)
        pack = iu0 * n_features + iu1
        where = np.empty((n_features, n_features), dtype=np.intp)
        where[iu0, iu1] = np.arange(iu0.size)
        where[iu1, iu0] = np.arange(iu0.size)
        unpack = where.ravel()
        pack.flags.writeable = unpack.flags.writeable = False
        got = _PACKING.setdefault(n_features, (pack, unpack))
    return got


_EYES: dict[int, tuple[FloatArray, BoolArray]] = {}


def _eye_and_upper(n_features: int) -> tuple[FloatArray, BoolArray]:
    """The identity ``(1, D, D)`` and the upper-triangle mask (cached, read-only).

    The identity has a leading axis so that ``solve`` broadcasts it over a stack
    in every NumPy version (NumPy 1 read a ``(D, D)`` right-hand side of a
    ``(K, D, D)`` stack as ``D`` vectors when ``K == D``).
    """
    got = _EYES.get(n_features)
    if got is None:
        eye = np.eye(n_features)[None]
        upper = np.triu(np.ones((n_features, n_features), dtype=bool))
        eye.flags.writeable = upper.flags.writeable = False
        got = _EYES.setdefault(n_features, (eye, upper))
    return got


def _upper_cholesky_inverse(covariance: FloatArray) -> FloatArray:
    """``U = L^{-T}`` for ``covariance = L L^T``, so that ``precision = U U^T``."""
    chol = linalg.cholesky(covariance, lower=True, check_finite=False)
    eye = np.eye(covariance.shape[0])
    return np.asarray(
        linalg.solve_triangular(chol, eye, lower=True, check_finite=False).T
    )


#: The LAPACK kernels behind np.linalg.cholesky and np.linalg.solve.
_CHOLESKY: Final = lapack_kernel("cholesky")
_SOLVE: Final = lapack_kernel("solve")


def _cholesky_and_inverse(
    covariances: FloatArray, eye: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Lower Cholesky factors of a float64 stack and their inverses.

    The same LAPACK calls, and so the same numbers, as ``np.linalg.cholesky``
    then ``np.linalg.solve(chol, eye)``, without their argument checks (about
    10 us per M-step, a tenth of a small model's EM iteration). Raises
    ``LinAlgError`` as they do when a matrix is not positive definite.
    """
    if covariances.dtype != np.float64:
        chol = np.linalg.cholesky(covariances)
        return chol, np.linalg.solve(chol, eye)
    try:
        with np.errstate(
            invalid="raise", over="ignore", divide="ignore", under="ignore"
        ):
            chol = _CHOLESKY(covariances)
            inverse = _SOLVE(chol, np.broadcast_to(eye, covariances.shape))
    except FloatingPointError:
        raise np.linalg.LinAlgError("Matrix is not positive definite") from None
    return chol, inverse


def _factor_stack(covariances: FloatArray) -> tuple[FloatArray, BoolArray]:
    n_components, n_features, _ = covariances.shape
    if np.isfinite(covariances).all():
        # One batched LAPACK call for the whole stack: per-component SciPy calls
        # cost 30 us each in argument checking, most of a small model's M-step.
        eye, upper = _eye_and_upper(n_features)
        try:
            _, inverse = _cholesky_and_inverse(covariances, eye)
        except np.linalg.LinAlgError:
            pass  # some component is not positive definite: find it below
        else:
            # solve() pivots, so the inverse of the lower factor carries rounding
            # noise above its diagonal: keep the exact triangle (np.triu's
            # where(), with a cached mask).
            factors = np.where(upper, np.swapaxes(inverse, -1, -2), 0.0)
            if np.isfinite(factors).all():
                return factors, np.zeros(n_components, dtype=bool)
    out = np.empty_like(covariances, dtype=np.float64)
    failed = np.zeros(n_components, dtype=bool)
    eye = np.eye(n_features)
    for k in range(n_components):
        cov = covariances[k]
        if not np.all(np.isfinite(cov)):
            failed[k] = True
            out[k] = eye
            continue
        try:
            out[k] = _upper_cholesky_inverse(cov)
        except (np.linalg.LinAlgError, ValueError):
            failed[k] = True
            out[k] = eye
            continue
        if not np.all(np.isfinite(out[k])):
            failed[k] = True
            out[k] = eye
    return out, failed


def _flip(a: FloatArray) -> FloatArray:
    return a[..., ::-1, ::-1]


def _pd_stack(matrices: FloatArray) -> BoolArray:
    ok = np.zeros(matrices.shape[0], dtype=bool)
    for k, m in enumerate(matrices):
        # The same symmetry test as scikit-learn's (numpy's default tolerances).
        if not np.all(np.isfinite(m)) or not np.allclose(m, m.T):
            continue
        try:
            np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            continue
        ok[k] = True
    return ok


def _compute_dtype(magnitude: FloatArray, dtype: DType) -> DType:
    if dtype == np.float32 and float(np.max(magnitude)) <= FLOAT32_MAX_MAGNITUDE:
        return np.dtype(np.float32)
    return _F64


def _prepared(
    coef: FloatArray,
    dtype: DType,
    magnitude: Callable[[], FloatArray],
    extra: Mapping[str, FloatArray] = _NO_EXTRA,
) -> Prepared:
    """The kernels' coefficients, in float32 only where that is safe.

    Float64 data give a float64 product anyway. For float32 data the product
    is float32 when the largest ``magnitude()`` of its terms allows it
    (:data:`FLOAT32_MAX_MAGNITUDE`), and the coefficients and ``extra`` arrays
    are cast to that dtype.
    """
    if dtype != np.float32:
        return Prepared(coef=coef, dtype=_F64, extra=extra)
    cdt = _compute_dtype(magnitude(), dtype)
    cast = {key: value.astype(cdt) for key, value in extra.items()}
    return Prepared(coef=coef.astype(cdt), dtype=cdt, extra=cast)


class _MatrixFamily(CovarianceFamily):
    """Families whose covariances are full matrices (full and tied)."""

    matrix: ClassVar[bool] = True

    def precisions_cholesky_from_precisions(self, precisions: FloatArray) -> FloatArray:
        # U with P = U U^T is the flipped lower Cholesky factor of the flipped P.
        return np.ascontiguousarray(_flip(np.linalg.cholesky(_flip(precisions))))


class Full(_MatrixFamily):
    """Each component has its own general covariance matrix, ``(K, D, D)``.

    mclust's VVV; registered as ``"full"`` and ``"VVV"``.
    """

    model: ClassVar[str] = "VVV"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "ellipsoidal, varying volume, shape, and orientation"
    prior: ClassVar[PriorRule | None] = PriorRule(
        True, "matrix", True, True, lambda dof, kp, g, d: dof + d + 2
    )

    def __init__(
        self, packed_max_features: int = PACKED_MAX_FEATURES, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.packed_max_features = packed_max_features

    def _packed(self, n_features: int) -> bool:
        return n_features <= self.packed_max_features

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features * (n_features + 1) // 2

    def precisions_cholesky(
        self, covariances: FloatArray
    ) -> tuple[FloatArray, BoolArray]:
        return _factor_stack(covariances)

    def precisions(self, precisions_cholesky: FloatArray) -> FloatArray:
        return np.asarray(precisions_cholesky @ np.swapaxes(precisions_cholesky, 1, 2))

    def covariances_from_precisions_cholesky(
        self, precisions_cholesky: FloatArray
    ) -> FloatArray:
        n_features = precisions_cholesky.shape[-1]
        eye = np.eye(n_features)
        out = np.empty_like(precisions_cholesky, dtype=np.float64)
        for k, u in enumerate(precisions_cholesky):
            v = linalg.solve_triangular(u, eye, lower=False, check_finite=False)
            out[k] = v.T @ v
        return out

    def log_det_cholesky(
        self, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        diag = np.diagonal(precisions_cholesky, axis1=1, axis2=2)
        return np.asarray(np.log(diag).sum(axis=1))

    def to_dense(
        self, covariances: FloatArray, n_components: int, n_features: int
    ) -> FloatArray:
        return np.asarray(covariances)

    def is_positive_definite(self, matrices: FloatArray) -> BoolArray:
        return _pd_stack(matrices)

    def unconstrained_covariances(
        self, m: CovarianceStats, reg_covar: float
    ) -> FloatArray:
        # sum_i r (x - mu)(x - mu)^T = S - sx d^T - d sx^T + nk d d^T   (x - c = (x - mu) + d)
        sxx, sx, nk, d = m.sxx, m.sx, m.nk, m.d
        cross = np.einsum("ki,kj->kij", sx, d)
        cov = (
            sxx - cross - np.swapaxes(cross, 1, 2) + np.einsum("k,ki,kj->kij", nk, d, d)
        )
        cov /= m.divisor[:, None, None]
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))  # exactly symmetric
        if reg_covar:
            n_features = cov.shape[1]
            cov.reshape(cov.shape[0], -1)[:, :: n_features + 1] += reg_covar
        return np.asarray(cov)

    def conditional_variances(
        self, covariances: FloatArray, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        diag = np.diagonal(precisions_cholesky, axis1=1, axis2=2)
        return np.asarray(1.0 / diag**2)

    def add_to_diagonal(
        self, covariances: FloatArray, which: BoolArray, amount: FloatArray
    ) -> FloatArray:
        out = covariances.copy()
        idx = np.arange(out.shape[1])
        for k in np.flatnonzero(which):
            out[k, idx, idx] += amount[k]
        return out

    def principal_axis(
        self, covariances: FloatArray, k: int, n_features: int
    ) -> tuple[float, FloatArray]:
        values, vectors = np.linalg.eigh(covariances[k])
        return float(values[-1]), np.asarray(vectors[:, -1])

    def scatter_diagonal(self, sxx: FloatArray, n_features: int) -> FloatArray:
        return np.asarray(np.einsum("kii->i", sxx))

    def recenter_scatter(
        self, sxx: FloatArray, nk: FloatArray, sx: FloatArray, delta: FloatArray
    ) -> FloatArray:
        cross = np.einsum("ki,j->kij", sx, delta)
        return np.asarray(
            sxx
            + cross
            + np.swapaxes(cross, 1, 2)
            + nk[:, None, None] * np.outer(delta, delta)
        )

    def n_moments(self, n_components: int, n_features: int) -> int:
        width = n_features * (n_features + 1) // 2 + n_features + 1
        return n_components * width

    def moment_design(self, xcT: FloatArray, n_components: int) -> FloatArray | None:
        n_features, n_rows = xcT.shape
        if not self._packed(n_features):
            return None
        n_packed = n_features * (n_features + 1) // 2
        Z = np.empty((n_packed + n_features + 1, n_rows), dtype=np.float64)
        o = 0
        for i in range(n_features):
            np.multiply(xcT[i], xcT[i:], out=Z[o : o + n_features - i])
            o += n_features - i
        Z[n_packed : n_packed + n_features] = xcT
        Z[-1] = 1.0
        return Z

    def prepare(
        self, params: GMMParams, shift: FloatArray, dtype: DType, log_weights: bool
    ) -> Prepared:
        n_components, n_features = params.means.shape
        u = params.precisions_cholesky
        d = params.means - shift
        const = -0.5 * n_features * LOG_2PI + self.log_det_cholesky(u, n_features)
        if log_weights:
            const = const + np.log(params.weights)
        if not self._packed(n_features):
            # Per-component whitening is centred on each mean: always float32-safe.
            cdt = np.dtype(np.float32) if dtype == np.float32 else _F64
            return Prepared(
                coef=const.astype(cdt),
                dtype=cdt,
                extra={"u": u.astype(cdt), "d": d.astype(cdt)},
            )
        prec = self.precisions(u)
        pd = np.einsum("kij,kj->ki", prec, d)
        const = const - 0.5 * np.einsum("ki,ki->k", d, pd)
        iu0, iu1, factor = _triu(n_features)
        pack, _ = _packing(n_features)
        # prec[:, iu0, iu1] as one take from the raveled matrices (the same entries).
        # (-0.5 x) f == x (-0.5 f) exactly for f in {1, 2}: one product.
        quad = prec.reshape(n_components, -1).take(pack, axis=1) * _neg_half(factor)
        coef = np.concatenate([quad, pd, const[:, None]], axis=1)

        def magnitude() -> FloatArray:
            # Size of the largest terms for a point one standard deviation from
            # its mean.
            var = np.diagonal(params.covariances, axis1=1, axis2=2)
            t = np.abs(d) + np.sqrt(np.maximum(var, 0.0))
            tz = np.concatenate([t[:, iu0] * t[:, iu1], t], axis=1)
            return np.asarray(np.sum(np.abs(coef[:, :-1]) * tz, axis=1))

        return _prepared(coef, dtype, magnitude)

    def log_prob_T(
        self, xcT: FloatArray, Z: FloatArray | None, prep: Prepared
    ) -> FloatArray:
        if Z is not None:
            return np.asarray(prep.coef @ Z.astype(prep.dtype, copy=False))
        u, d, const = prep.extra["u"], prep.extra["d"], prep.coef
        x = xcT.astype(prep.dtype, copy=False)
        out = np.empty((u.shape[0], x.shape[1]), dtype=prep.dtype)
        for k in range(u.shape[0]):
            y = u[k].T @ (x - d[k][:, None])
            out[k] = const[k] - 0.5 * np.einsum("ij,ij->j", y, y)
        return out

    def moments(
        self, R: FloatArray, Z: FloatArray | None, xcT: FloatArray, rw: FloatArray
    ) -> FloatArray:
        if Z is not None:
            return np.asarray((R @ Z.T).ravel())
        n_components = R.shape[0]
        n_features = xcT.shape[0]
        iu0, iu1, _ = _triu(n_features)
        n_packed = iu0.size
        out = np.empty((n_components, n_packed + n_features + 1))
        for k in range(n_components):
            s = (xcT * R[k]) @ xcT.T
            out[k, :n_packed] = s[iu0, iu1]
        out[:, n_packed : n_packed + n_features] = R @ xcT.T
        out[:, -1] = R.sum(axis=1)
        return out.ravel()

    def unpack(
        self, flat: FloatArray, n_components: int, n_features: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        n_packed = n_features * (n_features + 1) // 2
        a = flat.reshape(n_components, n_packed + n_features + 1)
        _, unpack = _packing(n_features)
        # Both triangles from the packed entries, in one take (a new array).
        sxx = a.take(unpack, axis=1).reshape(n_components, n_features, n_features)
        return a[:, -1].copy(), a[:, n_packed:-1].copy(), sxx


class Tied(_MatrixFamily):
    """All components share one general covariance matrix, ``(D, D)``.

    mclust's EEE; registered as ``"tied"`` and ``"EEE"``.
    """

    model: ClassVar[str] = "EEE"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "ellipsoidal, equal volume, shape and orientation"
    shared: ClassVar[bool] = True
    prior: ClassVar[PriorRule | None] = PriorRule(
        True, "matrix", False, True, lambda dof, kp, g, d: (dof + d + 1) / g + kp
    )

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_features, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_features * (n_features + 1) // 2

    def precisions_cholesky(
        self, covariances: FloatArray
    ) -> tuple[FloatArray, BoolArray]:
        out, failed = _factor_stack(covariances[None])
        return out[0], failed

    def precisions(self, precisions_cholesky: FloatArray) -> FloatArray:
        return np.asarray(precisions_cholesky @ precisions_cholesky.T)

    def covariances_from_precisions_cholesky(
        self, precisions_cholesky: FloatArray
    ) -> FloatArray:
        v = linalg.solve_triangular(
            precisions_cholesky, np.eye(precisions_cholesky.shape[0]), lower=False
        )
        return np.asarray(v.T @ v)

    def log_det_cholesky(
        self, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        return np.asarray(np.sum(np.log(np.diagonal(precisions_cholesky))))

    def to_dense(
        self, covariances: FloatArray, n_components: int, n_features: int
    ) -> FloatArray:
        return np.asarray(
            np.broadcast_to(covariances, (n_components, *covariances.shape))
        )

    def is_positive_definite(self, matrices: FloatArray) -> BoolArray:
        return _pd_stack(matrices[None])

    def unconstrained_covariances(
        self, m: CovarianceStats, reg_covar: float
    ) -> FloatArray:
        cross = m.sx.T @ m.d
        cov = m.sxx - cross - cross.T + (m.d.T * m.nk) @ m.d
        cov /= np.sum(m.divisor)
        cov = 0.5 * (cov + cov.T)
        if reg_covar:
            cov.reshape(-1)[:: cov.shape[0] + 1] += reg_covar
        return np.asarray(cov)

    def conditional_variances(
        self, covariances: FloatArray, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        return np.asarray(1.0 / np.diagonal(precisions_cholesky) ** 2)[None, :]

    def add_to_diagonal(
        self, covariances: FloatArray, which: BoolArray, amount: FloatArray
    ) -> FloatArray:
        out = covariances.copy()
        if np.any(which):
            idx = np.arange(out.shape[0])
            out[idx, idx] += float(np.max(amount[which]))
        return out

    def principal_axis(
        self, covariances: FloatArray, k: int, n_features: int
    ) -> tuple[float, FloatArray]:
        values, vectors = np.linalg.eigh(covariances)
        return float(values[-1]), np.asarray(vectors[:, -1])

    def scatter_diagonal(self, sxx: FloatArray, n_features: int) -> FloatArray:
        return np.asarray(np.diagonal(sxx).copy())

    def recenter_scatter(
        self, sxx: FloatArray, nk: FloatArray, sx: FloatArray, delta: FloatArray
    ) -> FloatArray:
        tot = sx.sum(axis=0)
        cross = np.outer(tot, delta)
        return np.asarray(sxx + cross + cross.T + nk.sum() * np.outer(delta, delta))

    def n_moments(self, n_components: int, n_features: int) -> int:
        return n_components * (n_features + 1) + n_features * n_features

    def moment_design(self, xcT: FloatArray, n_components: int) -> FloatArray | None:
        n_features, n_rows = xcT.shape
        Z = np.empty((n_features + 1, n_rows), dtype=np.float64)
        Z[:n_features] = xcT
        Z[-1] = 1.0
        return Z

    def prepare(
        self, params: GMMParams, shift: FloatArray, dtype: DType, log_weights: bool
    ) -> Prepared:
        n_features = params.means.shape[1]
        u = params.precisions_cholesky
        e = (params.means - shift) @ u  # whitened offsets of the means
        ee = np.einsum("ki,ki->k", e, e)
        const = -0.5 * n_features * LOG_2PI + self.log_det_cholesky(u, n_features)
        const = const - 0.5 * ee
        if log_weights:
            const = const + np.log(params.weights)
        coef = np.concatenate([e, const[:, None]], axis=1)
        return _prepared(
            coef,
            dtype,
            lambda: (np.sqrt(ee) + math.sqrt(n_features)) ** 2,
            {"uT": u.T},
        )

    def log_prob_T(
        self, xcT: FloatArray, Z: FloatArray | None, prep: Prepared
    ) -> FloatArray:
        y = prep.extra["uT"] @ xcT.astype(prep.dtype, copy=False)
        coef = prep.coef
        out = coef[:, :-1] @ y
        out += coef[:, -1:]
        out -= 0.5 * np.einsum("ij,ij->j", y, y)
        return np.asarray(out)

    def moments(
        self, R: FloatArray, Z: FloatArray | None, xcT: FloatArray, rw: FloatArray
    ) -> FloatArray:
        assert Z is not None
        first = R @ Z.T
        scatter = (xcT * rw) @ xcT.T
        return np.concatenate([first.ravel(), scatter.ravel()])

    def unpack(
        self, flat: FloatArray, n_components: int, n_features: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        n_first = n_components * (n_features + 1)
        a = flat[:n_first].reshape(n_components, n_features + 1)
        sxx = flat[n_first:].reshape(n_features, n_features).copy()
        return a[:, -1].copy(), a[:, :-1].copy(), sxx


class _VarianceFamily(CovarianceFamily):
    """Families with variances only (diag and spherical): no matrix anywhere.

    Their precision "Cholesky factors" are inverse standard deviations, and
    the log-density is linear in the packed design ``[xc^2, xc, 1]`` (per
    feature, or the squared norm for spherical).
    """

    #: Index that gives a per-component ``(K,)`` array the axes of the covariances.
    _per_component: ClassVar[tuple[Any, ...]]

    def precisions_cholesky(
        self, covariances: FloatArray
    ) -> tuple[FloatArray, BoolArray]:
        bad = ~self.is_positive_definite(covariances)
        safe = np.where(bad[self._per_component], 1.0, covariances)
        return np.asarray(1.0 / np.sqrt(safe)), bad

    def precisions_cholesky_from_precisions(self, precisions: FloatArray) -> FloatArray:
        return np.asarray(np.sqrt(precisions))

    def precisions(self, precisions_cholesky: FloatArray) -> FloatArray:
        return np.asarray(precisions_cholesky**2)

    def covariances_from_precisions_cholesky(
        self, precisions_cholesky: FloatArray
    ) -> FloatArray:
        return np.asarray(1.0 / precisions_cholesky**2)

    def add_to_diagonal(
        self, covariances: FloatArray, which: BoolArray, amount: FloatArray
    ) -> FloatArray:
        out = covariances.copy()
        out[which] += amount[which][self._per_component]
        return out

    def _design_terms(
        self, prec: FloatArray, d: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The quadratic and linear coefficients, and ``d_k^T P_k d_k``."""
        raise NotImplementedError

    def _magnitude(
        self, precisions_cholesky: FloatArray, prec: FloatArray, d: FloatArray
    ) -> FloatArray:
        """Size of the largest terms of the packed form, per component."""
        raise NotImplementedError

    def prepare(
        self, params: GMMParams, shift: FloatArray, dtype: DType, log_weights: bool
    ) -> Prepared:
        n_features = params.means.shape[1]
        if self.multivariate_model is not None:
            self.check_n_features(n_features)
        u = params.precisions_cholesky
        prec = u**2
        d = params.means - shift
        quad, linear, mahalanobis = self._design_terms(prec, d)
        const = -0.5 * n_features * LOG_2PI + self.log_det_cholesky(u, n_features)
        const = const - 0.5 * mahalanobis
        if log_weights:
            const = const + np.log(params.weights)
        coef = np.concatenate([quad, linear, const[:, None]], axis=1)
        return _prepared(coef, dtype, lambda: self._magnitude(u, prec, d))

    def log_prob_T(
        self, xcT: FloatArray, Z: FloatArray | None, prep: Prepared
    ) -> FloatArray:
        assert Z is not None
        return np.asarray(prep.coef @ Z.astype(prep.dtype, copy=False))

    def moments(
        self, R: FloatArray, Z: FloatArray | None, xcT: FloatArray, rw: FloatArray
    ) -> FloatArray:
        assert Z is not None
        return np.asarray((R @ Z.T).ravel())


class Diag(_VarianceFamily):
    """Each component has its own diagonal covariance, ``(K, D)``.

    mclust's VVI; registered as ``"diag"`` and ``"VVI"``.
    """

    model: ClassVar[str] = "VVI"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "diagonal, varying volume and shape"
    _per_component: ClassVar[tuple[Any, ...]] = (slice(None), None)
    prior: ClassVar[PriorRule | None] = PriorRule(
        False, "diag", True, True, lambda dof, kp, g, d: dof + 2 + kp
    )

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features

    def log_det_cholesky(
        self, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        return np.asarray(np.sum(np.log(precisions_cholesky), axis=1))

    def to_dense(
        self, covariances: FloatArray, n_components: int, n_features: int
    ) -> FloatArray:
        n_features = covariances.shape[1]
        out = np.zeros((n_components, n_features, n_features))
        idx = np.arange(n_features)
        out[:, idx, idx] = covariances
        return out

    def is_positive_definite(self, matrices: FloatArray) -> BoolArray:
        return np.asarray(np.all(np.isfinite(matrices) & (matrices > 0.0), axis=1))

    def unconstrained_covariances(
        self, m: CovarianceStats, reg_covar: float
    ) -> FloatArray:
        sx, d = m.sx, m.d
        cov = (m.sxx - 2.0 * sx * d + m.nk[:, None] * d * d) / m.divisor[:, None]
        return np.asarray(cov + reg_covar)

    def conditional_variances(
        self, covariances: FloatArray, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        return np.asarray(covariances)

    def principal_axis(
        self, covariances: FloatArray, k: int, n_features: int
    ) -> tuple[float, FloatArray]:
        j = int(np.argmax(covariances[k]))
        axis = np.zeros(covariances.shape[1])
        axis[j] = 1.0
        return float(covariances[k, j]), axis

    def scatter_diagonal(self, sxx: FloatArray, n_features: int) -> FloatArray:
        return np.asarray(sxx.sum(axis=0))

    def recenter_scatter(
        self, sxx: FloatArray, nk: FloatArray, sx: FloatArray, delta: FloatArray
    ) -> FloatArray:
        return np.asarray(sxx + 2.0 * sx * delta + nk[:, None] * delta * delta)

    def n_moments(self, n_components: int, n_features: int) -> int:
        return n_components * (2 * n_features + 1)

    def moment_design(self, xcT: FloatArray, n_components: int) -> FloatArray | None:
        n_features, n_rows = xcT.shape
        Z = np.empty((2 * n_features + 1, n_rows), dtype=np.float64)
        np.multiply(xcT, xcT, out=Z[:n_features])
        Z[n_features:-1] = xcT
        Z[-1] = 1.0
        return Z

    def _design_terms(
        self, prec: FloatArray, d: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        return -0.5 * prec, prec * d, np.sum(prec * d * d, axis=1)

    def _magnitude(
        self, precisions_cholesky: FloatArray, prec: FloatArray, d: FloatArray
    ) -> FloatArray:
        t = np.abs(d) + 1.0 / precisions_cholesky
        return np.asarray(np.sum(prec * t * t + prec * np.abs(d) * t, axis=1))

    def unpack(
        self, flat: FloatArray, n_components: int, n_features: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        a = flat.reshape(n_components, 2 * n_features + 1)
        return a[:, -1].copy(), a[:, n_features:-1].copy(), a[:, :n_features].copy()


class Spherical(_VarianceFamily):
    """Each component has one variance, ``(K,)``.

    mclust's VII; registered as ``"spherical"`` and ``"VII"``.
    """

    model: ClassVar[str] = "VII"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "spherical, varying volume"
    per_feature: ClassVar[bool] = False
    _per_component: ClassVar[tuple[Any, ...]] = (slice(None),)
    prior: ClassVar[PriorRule | None] = PriorRule(
        False, "trace", True, True, lambda dof, kp, g, d: (dof + 2) / d + kp
    )

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        self.check_n_features(n_features)  # E and V: one feature only
        return (n_components,)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        self.check_n_features(n_features)
        return n_components

    def log_det_cholesky(
        self, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        return np.asarray(n_features * np.log(precisions_cholesky))

    def to_dense(
        self, covariances: FloatArray, n_components: int, n_features: int
    ) -> FloatArray:
        return np.asarray(covariances[:, None, None] * np.eye(n_features))

    def is_positive_definite(self, matrices: FloatArray) -> BoolArray:
        return np.asarray(np.isfinite(matrices) & (matrices > 0.0))

    def unconstrained_covariances(
        self, m: CovarianceStats, reg_covar: float
    ) -> FloatArray:
        sx, d = m.sx, m.d
        num = (
            m.sxx
            - 2.0 * np.einsum("ki,ki->k", sx, d)
            + m.nk * np.einsum("ki,ki->k", d, d)
        )
        return np.asarray(num / (m.divisor * sx.shape[1]) + reg_covar)

    def conditional_variances(
        self, covariances: FloatArray, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        return np.asarray(np.repeat(covariances[:, None], n_features, axis=1))

    def principal_axis(
        self, covariances: FloatArray, k: int, n_features: int
    ) -> tuple[float, FloatArray]:
        # No direction is preferred: split along the main diagonal.
        return float(covariances[k]), np.full(n_features, 1.0 / math.sqrt(n_features))

    def scatter_diagonal(self, sxx: FloatArray, n_features: int) -> FloatArray:
        return np.full(n_features, float(np.sum(sxx)) / n_features)

    def recenter_scatter(
        self, sxx: FloatArray, nk: FloatArray, sx: FloatArray, delta: FloatArray
    ) -> FloatArray:
        return np.asarray(sxx + 2.0 * sx @ delta + nk * float(delta @ delta))

    def n_moments(self, n_components: int, n_features: int) -> int:
        return n_components * (n_features + 2)

    def moment_design(self, xcT: FloatArray, n_components: int) -> FloatArray | None:
        n_features, n_rows = xcT.shape
        Z = np.empty((n_features + 2, n_rows), dtype=np.float64)
        np.einsum("ij,ij->j", xcT, xcT, out=Z[0])
        Z[1:-1] = xcT
        Z[-1] = 1.0
        return Z

    def _design_terms(
        self, prec: FloatArray, d: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        dd = np.einsum("ki,ki->k", d, d)
        return (-0.5 * prec)[:, None], prec[:, None] * d, prec * dd

    def _magnitude(
        self, precisions_cholesky: FloatArray, prec: FloatArray, d: FloatArray
    ) -> FloatArray:
        dd = np.einsum("ki,ki->k", d, d)
        t2 = (np.sqrt(dd) + np.sqrt(d.shape[1] / prec)) ** 2
        return np.asarray(2.0 * prec * t2)

    def unpack(
        self, flat: FloatArray, n_components: int, n_features: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        a = flat.reshape(n_components, n_features + 2)
        return a[:, -1].copy(), a[:, 1:-1].copy(), a[:, 0].copy()
