"""R mclust's covariance models as covariance families.

mclust writes each component covariance through its eigen-decomposition
(Banfield & Raftery 1993; Celeux & Govaert 1995)::

    Sigma_k = lambda_k D_k A_k D_k^T

with the *volume* ``lambda_k > 0``, the *shape* ``A_k`` (diagonal, determinant
1) and the *orientation* ``D_k`` (orthogonal). A model name gives, in this
order, whether the volume, shape and orientation are Equal across components,
Variable, or the Identity: ``EII`` (one spherical covariance), ``VVI`` (own
diagonal covariances), ``EVE`` (common volume and orientation, own shape), ...
``E`` and ``V`` are the univariate models (equal / variable variance).

Every model reuses the E-step of the scikit-learn family with the same array
shape and only replaces the M-step estimate of the covariances:

=========================  ==============================  =================
models                     ``covariances_`` shape          E-step of
=========================  ==============================  =================
E, V, EII, VII             ``(K,)``                        :class:`Spherical`
EEI, VEI, EVI, VVI         ``(K, D)``                      :class:`Diag`
EEE                        ``(D, D)``                      :class:`Tied`
the other seven            ``(K, D, D)``                   :class:`Full`
=========================  ==============================  =================

**How the M-step works.** The parent family turns the statistics into the
unconstrained per-component covariances ``S_k = W_k / n_k + reg_covar I``
(``W_k`` the scatter about the new mean; only the part of it that the shape
keeps: its trace, its diagonal, or its sum over components). The constrained
estimate then maximises the expected complete-data log-likelihood::

    -1/2 sum_k n_k (log det Sigma_k + tr(S_k Sigma_k^{-1}))

over the model's covariances. ``reg_covar`` is thus added to the diagonal
*before* the constraint: the result always has the model's structure, and the
four models equal to scikit-learn's (``VII`` = spherical, ``VVI`` = diag,
``EEE`` = tied, ``VVV`` = full) give exactly scikit-learn's estimates.
``reg_covar=0`` gives mclust's maximum-likelihood M-step.

Closed forms exist for EII, VII, EEI, EVI, VVI, EEE, EEV, EVV and VVV. The
other five iterate, each step maximising over one block of parameters given
the others, so the objective never decreases:

* VEI, VEE, VEV: Celeux & Govaert (1995), alternating the volumes
  ``lambda_k`` and the common shape (VEI, VEV; VEV's orientations are the
  eigenvectors of ``S_k``) or the common ``C = D A D^T`` (VEE);
* EVE, VVE: the common orientation ``D`` by the two majorisation-minimisation
  (MM) updates of Browne & McNicholas (2014), then the shapes (and volumes).

The inner iteration stops when the relative change of the objective falls
below :data:`INNER_TOL` (``|F_old - F| <= tol (1 + |F|)``, mclust's rule) or
after :data:`INNER_MAX_ITER` iterations; both are class attributes
(``inner_tol``, ``inner_max_iter``) that a subclass may change. The first
M-step of a fit starts from ``A = I`` (VEI, VEV), ``C = I`` (VEE) or
``D = I`` (EVE, VVE), as mclust does; every later M-step starts from the
previous M-step's parameters, which the family instance keeps (so
:func:`gaussmix.core.covariance.get_family` returns a new instance of these
families for every call). Starting from the previous parameters makes each
M-step increase the expected log-likelihood, so the EM log-likelihood never
decreases (a generalised EM), whether or not the inner iteration converged.

Degenerate statistics (a component on fewer points than features, or a
constant feature, with ``reg_covar=0``) make some of these estimates singular,
where mclust returns NA. Here the result stays finite: variances are floored
at ``FLOOR_RELATIVE`` times the pooled variance inside the computation; in
EVI, EVV and EVE a component whose scatter is singular has no shape ``A_k``,
so it keeps its own (singular) ``S_k`` and the common volume is pooled over
the others; and the M-step's collapse repair (:mod:`gaussmix.core.mstep`)
adds to the diagonal of any singular result, with a
:class:`~gaussmix.exceptions.DegenerateComponentWarning`.

The user guide to these models, with the comparison with R's mclust, is
``docs/mclust-models.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import numpy as np

from gaussmix._typing import FloatArray
from gaussmix.core.covariance import (
    BoolArray,
    CovarianceFamily,
    Diag,
    Full,
    Prepared,
    Spherical,
    Tied,
)
from gaussmix.core.mstep import (
    COLLAPSE_RELATIVE,
    StatisticsOverflowError,
    overflow_error,
)
from gaussmix.core.params import GMMParams

__all__ = [
    "E",
    "EEE",
    "EEI",
    "EEV",
    "EII",
    "EVE",
    "EVI",
    "EVV",
    "FLOOR_RELATIVE",
    "INNER_MAX_ITER",
    "INNER_TOL",
    "MCLUST_MODELS",
    "new_family",
    "V",
    "VEE",
    "VEI",
    "VEV",
    "VII",
    "VVE",
    "VVI",
    "VVV",
]

#: Default relative tolerance of the inner iterations: mclust's ``tol[2]``.
INNER_TOL: Final = float(np.sqrt(np.finfo(np.float64).eps))  # 1.49e-8, as mclust
#: Default cap on the inner iterations of one M-step (mclust's ``itmax[2]``).
INNER_MAX_ITER: Final = 1000
#: Variances and eigenvalues below this fraction of the pooled variance are
#: raised to it inside the constrained estimates (singular statistics only).
FLOOR_RELATIVE: Final = 1e-14


# --------------------------------------------------------------------- helpers
def _floor(values: FloatArray, weights: FloatArray) -> float:
    """Smallest variance used inside the estimates: a tiny share of the pooled one.

    ``values`` are per-component variances ``(K, ...)`` weighted by ``weights``.
    """
    per_component = values.reshape(values.shape[0], -1).mean(axis=1)
    pooled = float(weights @ per_component) / float(np.sum(weights))
    if not (math.isfinite(pooled) and pooled > 0.0):
        return float(np.finfo(np.float64).tiny)
    return max(FLOOR_RELATIVE * pooled, float(np.finfo(np.float64).tiny))


def _collapsed(values: FloatArray, reference: FloatArray | float) -> BoolArray:
    """Components ``(K,)`` with a variance (or eigenvalue) that has collapsed.

    ``values`` is ``(K, D)``; a value at or below ``COLLAPSE_RELATIVE`` times
    ``reference`` (the pooled variance, per feature or overall), or at or below
    zero, or NaN, has collapsed: the component's shape ``A_k`` (determinant 1)
    does not exist. (A constant feature with ``reg_covar=0`` gives variances of
    0 and, by rounding, tiny negative ones; their pooled "variance" may be
    negative, and a zero must still count as collapsed.)
    """
    with np.errstate(invalid="ignore"):
        threshold = COLLAPSE_RELATIVE * np.maximum(reference, 0.0)
        return np.asarray(np.any(~(values > threshold), axis=1))


def _require_finite(values: FloatArray, model: str) -> None:
    """Raise a clear error unless every entry of ``values`` is finite.

    One sum instead of an ``isfinite`` scan: a sum is finite exactly when its
    terms are, unless it overflows itself (then the values are too large to use
    anyway). LAPACK's SVD may never return on infinite input, so every matrix
    handed to it inside an inner loop is checked first.
    """
    if not math.isfinite(float(np.add.reduce(values, axis=None))):
        raise overflow_error(f"The M-step of covariance_type={model!r}")


def _geomean(values: FloatArray) -> FloatArray:
    """Geometric mean along the last axis (of positive values)."""
    # sum / n is what np.mean computes (the same numbers), without its overhead.
    return np.asarray(np.exp(np.log(values).sum(axis=-1) / values.shape[-1]))


def _pooled_variance(s: FloatArray, weights: FloatArray) -> float:
    """Mean over features of the pooled variance of full covariances ``(K, D, D)``."""
    diagonal = np.diagonal(s, axis1=1, axis2=2)
    return float(np.mean(weights @ diagonal)) / float(np.sum(weights))


def _symmetric(a: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (a + np.swapaxes(a, -1, -2)))


def _from_eigen(vectors: FloatArray, values: FloatArray) -> FloatArray:
    """``V diag(values) V^T`` for a stack ``(K, D, D)`` and ``(K, D)`` (or broadcast)."""
    return _symmetric(np.einsum("...ij,...j,...kj->...ik", vectors, values, vectors))


def _converged(old: float, new: float, tol: float) -> bool:
    return abs(old - new) <= tol * (1.0 + abs(new))


def _common_shape_and_volumes(
    values: FloatArray,
    weights: FloatArray,
    shape: FloatArray | None,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, FloatArray, int, bool]:
    """Volumes ``lambda_k`` and a common shape ``a`` (det 1) for ``Sigma_k ~ lambda_k a``.

    Celeux & Govaert's iteration for VEI (``values`` the diagonals of ``S_k``)
    and VEV (the eigenvalues of ``S_k``, in a fixed order): minimise
    ``sum_k n_k (D log lambda_k + sum_j v_kj / (lambda_k a_j))`` by alternating
    ``lambda_k = mean_j(v_kj / a_j)`` and ``a ~ sum_k n_k v_k / lambda_k``.
    """
    n_features = values.shape[1]
    shape = np.ones(n_features) if shape is None else shape
    objective = math.inf
    converged = False
    n_iter = 0
    # sum_j v_kj / a_j for the current shape; its mean over j is the next volume
    # (np.mean is this sum over n: the same numbers, computed once).
    sums = (values / shape).sum(axis=1)
    while n_iter < max_iter:
        n_iter += 1
        volumes = sums / n_features
        t = weights @ (values / volumes[:, None])
        shape = t / _geomean(t)
        sums = (values / shape).sum(axis=1)
        ratio = sums / volumes
        new = float(weights @ (n_features * np.log(volumes) + ratio))
        if not math.isfinite(new):
            raise overflow_error("The volume-and-shape iteration of the M-step")
        if _converged(objective, new, tol):
            converged = True
            break
        objective = new
    volumes = sums / n_features
    return volumes, shape, n_iter, converged


class _InnerIteration:
    """State and settings of the families whose M-step iterates.

    ``inner_tol`` and ``inner_max_iter`` set the inner iteration;
    ``last_inner_iterations`` and ``last_inner_converged`` report on the last
    M-step. ``_start`` holds the previous M-step's parameters (None before the
    first M-step or after :meth:`reset`).
    """

    inner_tol: ClassVar[float] = INNER_TOL
    inner_max_iter: ClassVar[int] = INNER_MAX_ITER
    #: Whether :func:`gaussmix.em.fit_em` may loosen ``inner_tol`` while EM is
    #: far from converged (it always ends with ``inner_tol`` itself).
    adaptive_inner: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self._start: Any = None
        self.last_inner_iterations = 0
        self.last_inner_converged = True

    def reset(self) -> None:
        """Forget the previous M-step: the next one starts from the documented start."""
        self._start = None

    def _previous(self, shape: tuple[int, ...]) -> Any:
        """The stored start if its first array has ``shape`` (else None)."""
        start = self._start
        if start is None:
            return None
        first = start[0] if isinstance(start, tuple) else start
        return start if first.shape == shape else None

    def _record(self, start: Any, n_iter: int, converged: bool) -> None:
        self._start = start
        self.last_inner_iterations = n_iter
        self.last_inner_converged = converged


# ------------------------------------------------------------- spherical-shaped
class EII(Spherical):
    """Equal spherical covariances ``lambda I`` (mclust EII), stored as ``(K,)``."""

    name: ClassVar[str] = "EII"

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): one variance."""
        return 1

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """The pooled variance ``sum_k n_k s_k / n`` for every component."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        return np.full_like(s, float(nk_eps @ s) / float(np.sum(nk_eps)))


class VII(Spherical):
    """Own spherical covariances ``lambda_k I`` (mclust VII = scikit-learn spherical)."""

    name: ClassVar[str] = "VII"


def _check_univariate(name: str, n_features: int) -> None:
    if n_features != 1:
        raise ValueError(
            f"covariance_type={name!r} is mclust's univariate model and needs exactly "
            f"one feature, got n_features = {n_features}. Use "
            f"{'EII' if name == 'E' else 'VII'!r}, the same model for several "
            "features, or select one column."
        )


class _OneFeature(Spherical):
    """Mixin of the univariate models: every entry point checks ``D == 1``.

    Put before the multivariate model it restricts (``class E(_OneFeature, EII)``).
    """

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """``(K,)``; raises ValueError unless ``n_features == 1``."""
        _check_univariate(self.name, n_features)
        return super().covariance_shape(n_components, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """As the multivariate model; raises ValueError unless ``n_features == 1``."""
        _check_univariate(self.name, n_features)
        return super().n_covariance_parameters(n_components, n_features)

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """As the multivariate model; raises ValueError unless there is one feature."""
        _check_univariate(self.name, sx.shape[1])
        return super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)

    def prepare(
        self,
        params: GMMParams,
        shift: FloatArray,
        dtype: np.dtype[Any],
        log_weights: bool,
    ) -> Prepared:
        """The spherical E-step; raises ValueError unless there is one feature."""
        _check_univariate(self.name, params.means.shape[1])
        return super().prepare(params, shift, dtype, log_weights)


class E(_OneFeature, EII):
    """Univariate, equal variance (mclust E): one feature only."""

    name: ClassVar[str] = "E"


class V(_OneFeature, VII):
    """Univariate, variable variances (mclust V): one feature only."""

    name: ClassVar[str] = "V"


# ------------------------------------------------------------------ diag-shaped
class EEI(Diag):
    """Equal diagonal covariances ``lambda A`` (mclust EEI), stored as ``(K, D)``."""

    name: ClassVar[str] = "EEI"

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``D``."""
        return n_features

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """The pooled diagonal ``sum_k n_k diag(S_k) / n`` for every component."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        pooled = (nk_eps @ s) / float(np.sum(nk_eps))
        return np.asarray(np.broadcast_to(pooled, s.shape).copy())


class VEI(_InnerIteration, Diag):
    """Diagonal covariances ``lambda_k A`` with a common shape (mclust VEI).

    Iterative M-step (Celeux & Govaert 1995); see the module notes.
    """

    name: ClassVar[str] = "VEI"

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K + D - 1``."""
        return n_components + n_features - 1

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """``lambda_k A`` by alternating volumes and the common shape."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        _require_finite(s, self.name)
        values = np.maximum(s, _floor(s, nk_eps))
        previous = self._previous((s.shape[1],))
        volumes, shape, n_iter, ok = _common_shape_and_volumes(
            values, nk_eps, previous, self.inner_tol, self.inner_max_iter
        )
        self._record(shape, n_iter, ok)
        return np.asarray(volumes[:, None] * shape[None, :])


class EVI(Diag):
    """Diagonal covariances ``lambda A_k`` with a common volume (mclust EVI)."""

    name: ClassVar[str] = "EVI"

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``1 + K (D - 1)``."""
        return 1 + n_components * (n_features - 1)

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """``A_k = diag(S_k) / det^{1/D}``, ``lambda = sum_k n_k det_k^{1/D} / n``."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        _require_finite(s, self.name)
        collapsed = _collapsed(s, (nk_eps @ s) / float(np.sum(nk_eps)))
        if np.all(collapsed):
            return s
        keep = ~collapsed
        g = _geomean(s[keep])
        volume = float(nk_eps[keep] @ g) / float(np.sum(nk_eps[keep]))
        out = s.copy()
        out[keep] = s[keep] * (volume / g)[:, None]
        return out


class VVI(Diag):
    """Own diagonal covariances (mclust VVI = scikit-learn diag)."""

    name: ClassVar[str] = "VVI"


# ----------------------------------------------------------------- tied-shaped
class EEE(Tied):
    """One general covariance shared by all components (mclust EEE = tied)."""

    name: ClassVar[str] = "EEE"


# ----------------------------------------------------------------- full-shaped
class VVV(Full):
    """Own general covariances (mclust VVV = scikit-learn full)."""

    name: ClassVar[str] = "VVV"


class EEV(Full):
    """``lambda D_k A D_k^T``: common volume and shape, own orientation (mclust EEV)."""

    name: ClassVar[str] = "EEV"

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``D + K D (D - 1) / 2``."""
        return n_features + n_components * n_features * (n_features - 1) // 2

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """``D_k`` the eigenvectors of ``S_k``; ``lambda A`` the pooled eigenvalues."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        _require_finite(s, self.name)
        values, vectors = np.linalg.eigh(s)  # ascending, paired by position
        pooled = (nk_eps @ np.maximum(values, 0.0)) / float(np.sum(nk_eps))
        return _from_eigen(vectors, np.broadcast_to(pooled, values.shape))


class VEV(_InnerIteration, Full):
    """``lambda_k D_k A D_k^T``: common shape, own volume and orientation (mclust VEV).

    Iterative M-step (Celeux & Govaert 1995); see the module notes.
    """

    name: ClassVar[str] = "VEV"

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K + D - 1 + K D (D - 1) / 2``."""
        return (
            n_components
            + n_features
            - 1
            + n_components * n_features * (n_features - 1) // 2
        )

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """Volumes and the common shape of the eigenvalues of ``S_k``, alternating."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        _require_finite(s, self.name)
        values, vectors = np.linalg.eigh(s)  # ascending, paired by position
        values = np.maximum(values, _floor(values, nk_eps))
        previous = self._previous((s.shape[1],))
        volumes, shape, n_iter, ok = _common_shape_and_volumes(
            values, nk_eps, previous, self.inner_tol, self.inner_max_iter
        )
        self._record(shape, n_iter, ok)
        return _from_eigen(vectors, volumes[:, None] * shape[None, :])


class EVV(Full):
    """``lambda C_k`` (det ``C_k`` = 1): common volume only (mclust EVV)."""

    name: ClassVar[str] = "EVV"

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K D (D + 1) / 2 - (K - 1)``."""
        return n_components * n_features * (n_features + 1) // 2 - (n_components - 1)

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """``C_k = S_k / det(S_k)^{1/D}``, ``lambda = sum_k n_k det(S_k)^{1/D} / n``."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        _require_finite(s, self.name)
        values = np.linalg.eigvalsh(s)
        collapsed = _collapsed(values, _pooled_variance(s, nk_eps))
        if np.all(collapsed):
            return s
        keep = ~collapsed
        g = _geomean(values[keep])
        volume = float(nk_eps[keep] @ g) / float(np.sum(nk_eps[keep]))
        out = s.copy()
        out[keep] = s[keep] * (volume / g)[:, None, None]
        return _symmetric(out)


class VEE(_InnerIteration, Full):
    """``lambda_k C`` (det ``C`` = 1): common shape and orientation (mclust VEE).

    Iterative M-step (Celeux & Govaert 1995); see the module notes.
    """

    name: ClassVar[str] = "VEE"

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K + D - 1 + D (D - 1) / 2``."""
        return n_components + n_features - 1 + n_features * (n_features - 1) // 2

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """Alternate ``lambda_k = tr(S_k C^{-1}) / D`` and ``C ~ sum_k n_k S_k / lambda_k``."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        _require_finite(s, self.name)
        n_features = s.shape[1]
        floor = _floor(np.diagonal(s, axis1=1, axis2=2), nk_eps)
        previous = self._previous((n_features, n_features))
        basis: FloatArray
        shape: FloatArray
        if previous is None:
            basis, shape = np.eye(n_features), np.ones(n_features)
        else:
            basis, shape = previous
        objective = math.inf
        converged = False
        n_iter = 0
        tol = self.inner_tol
        einsum = np.einsum
        # One error state for the loop: np.linalg.eigh's (invalid values mean that
        # LAPACK did not converge; the other operations here cannot make any), so
        # that the eigen-decomposition is the bare LAPACK call (same numbers).
        try:
            with np.errstate(
                invalid="raise", over="ignore", divide="ignore", under="ignore"
            ):
                while n_iter < self.inner_max_iter:
                    n_iter += 1
                    inverse = (basis / shape) @ basis.T
                    volumes = np.maximum(
                        einsum("kij,ji->k", s, inverse) / n_features, floor
                    )
                    common = einsum("k,kij->ij", nk_eps / volumes, s)
                    _require_finite(common, "VEE")
                    t, basis = _eigh_loop(common)
                    t = np.maximum(t, FLOOR_RELATIVE * max(float(t[-1]), floor))
                    shape = t / np.exp(np.log(t).sum() / n_features)  # _geomean
                    inverse = (basis / shape) @ basis.T
                    trace = einsum("kij,ji->k", s, inverse)
                    new = float(
                        nk_eps @ (n_features * np.log(volumes) + trace / volumes)
                    )
                    if not math.isfinite(new):
                        raise overflow_error("The M-step of covariance_type='VEE'")
                    if abs(objective - new) <= tol * (1.0 + abs(new)):  # _converged
                        converged = True
                        break
                    objective = new
        except StatisticsOverflowError:
            raise
        except FloatingPointError:
            raise np.linalg.LinAlgError("Eigenvalues did not converge") from None
        self._record((basis, shape), n_iter, converged)
        common = _from_eigen(basis, shape)
        return _symmetric(volumes[:, None, None] * common[None])


def _mm_orientation(
    orientation: FloatArray,
    scatter: FloatArray,
    largest: FloatArray,
    inverse_shape: FloatArray,
    shifted: FloatArray | None = None,
) -> FloatArray:
    """Two MM updates of a common orientation (Browne & McNicholas 2014).

    They decrease ``f(D) = sum_k tr(D^T M_k D N_k)`` over orthogonal ``D``
    for symmetric ``M_k`` (``scatter``, with largest eigenvalues ``largest``)
    and diagonal ``N_k`` (``inverse_shape``, ``(K, D)``). Each replaces a concave
    part of ``f`` (``M_k - largest_k I``, then ``N_k - max(N_k) I``) by its tangent
    at the current ``D`` and minimises that over orthogonal matrices, in closed
    form through an SVD. ``shifted`` is ``M_k - largest_k I`` if the caller
    has it (it does not change between the updates of one M-step).
    """
    if shifted is None:
        shifted = _shifted_scatter(scatter, largest)
    # MM 1: F = sum_k N_k D^T (M_k - a_k I), D <- -R P^T for F = P B R^T.
    f1 = np.einsum("kj,ij,kil->jl", inverse_shape, orientation, shifted)
    p, rt = _svd_uv(f1)
    orientation = -(rt.T @ p.T)
    # MM 2: F = sum_k M_k D (N_k - b_k I), D <- -P R^T for F = P B R^T.
    reduced = inverse_shape - inverse_shape.max(axis=1, keepdims=True)
    f2 = np.einsum("kij,jl,kl->il", scatter, orientation, reduced)
    p, rt = _svd_uv(f2)
    return np.asarray(-(p @ rt))


try:  # the gufunc behind np.linalg.svd (NumPy 2); NumPy 1 named it differently
    from numpy.linalg import _umath_linalg

    _SVD_FULL: Any = getattr(_umath_linalg, "svd_f", None)
except ImportError:  # pragma: no cover
    _SVD_FULL = None


def _svd_uv(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``U`` and ``V^T`` of ``np.linalg.svd(a)`` for a float64 square matrix.

    The same LAPACK call as ``np.linalg.svd`` (so the same numbers), without its
    argument checks: a third of the MM update's time for D = 2..6 (this is the
    inner loop of EVE and VVE, run some 20 times per M-step on iris).
    """
    _require_finite(a, "EVE/VVE")
    if _SVD_FULL is None:  # pragma: no cover - NumPy 1
        p, _, rt = np.linalg.svd(a)
        return p, rt
    # np.linalg.svd's error state: invalid values mean LAPACK did not converge.
    try:
        with np.errstate(
            invalid="raise", over="ignore", divide="ignore", under="ignore"
        ):
            return _svd_loop(a)
    except FloatingPointError:
        raise np.linalg.LinAlgError("SVD did not converge") from None


def _svd_loop(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """:func:`_svd_uv` for a caller that holds np.linalg.svd's error state.

    ``a`` must be finite: LAPACK's SVD may never return on an infinite entry
    (the caller checks, see :func:`_require_finite`).
    """
    if _SVD_FULL is None:  # pragma: no cover - NumPy 1
        p, _, rt = np.linalg.svd(a)
        return p, rt
    p, _, rt = _SVD_FULL(a, signature="d->ddd")
    return p, rt


_EIGH_LOWER: Any = getattr(_umath_linalg, "eigh_lo", None) if _SVD_FULL else None


def _eigh_loop(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``np.linalg.eigh(a)`` for a caller that holds its error state (float64)."""
    if _EIGH_LOWER is None:  # pragma: no cover - NumPy 1
        values, vectors = np.linalg.eigh(a)
        return values, vectors
    values, vectors = _EIGH_LOWER(a, signature="d->dd")
    return values, vectors


def _shifted_scatter(scatter: FloatArray, largest: FloatArray) -> FloatArray:
    """``M_k - largest_k I`` for the first MM update of :func:`_mm_orientation`."""
    return np.asarray(scatter - largest[:, None, None] * np.eye(scatter.shape[1]))


class _CommonOrientation(_InnerIteration, Full):
    """EVE and VVE: ``D A_k D^T`` shapes with one orientation ``D`` for all."""

    #: Whether the volumes are common (EVE) or own (VVE).
    equal_volume: ClassVar[bool]

    def _orientation_weights(self, variances: FloatArray) -> FloatArray:
        """``N_k`` of the orientation objective: the inverse variances along ``D``.

        ``sum_k n_k tr(D^T S_k D N_k)`` is the part of the objective that depends
        on ``D`` when ``Sigma_k = D diag(variances_k) D^T``.
        """
        return np.asarray(1.0 / variances)

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """MM updates of ``D``, then the shapes (and volumes) given ``D``, alternating."""
        s = super().covariances(sxx, sx, nk, nk_eps, d, reg_covar)
        name = self.name
        _require_finite(s, name)
        n_features = s.shape[1]
        floor = _floor(np.diagonal(s, axis1=1, axis2=2), nk_eps)
        total = float(np.sum(nk_eps))
        scatter = nk_eps[:, None, None] * s
        _require_finite(scatter, name)
        largest = np.linalg.eigvalsh(scatter)[:, -1]
        shifted = _shifted_scatter(scatter, largest)
        _require_finite(shifted, name)
        previous = self._previous((n_features, n_features))
        orientation = np.eye(n_features) if previous is None else previous

        equal_volume = self.equal_volume
        weights_of = self._orientation_weights
        tol = self.inner_tol
        einsum = np.einsum
        log = np.log

        def given(orientation: FloatArray) -> tuple[FloatArray, float]:
            """Diagonal variances ``(K, D)`` that are best for ``D``, and the objective."""
            u = einsum("ji,kjl,li->ki", orientation, s, orientation)
            np.maximum(u, floor, out=u)
            if equal_volume:
                g = np.exp(log(u).sum(axis=1) / n_features)  # _geomean(u)
                volume = float(nk_eps @ g) / total
                variances = u * (volume / g)[:, None]
                return variances, n_features * total * (math.log(volume) + 1.0)
            objective = float(nk_eps @ (log(u).sum(axis=1) + n_features))
            return u, objective

        variances, objective = given(orientation)
        converged = False
        n_iter = 0
        # The loop of _mm_orientation and given, written out: this is the
        # innermost loop of a selection grid (about 20 updates per M-step on
        # iris), so it avoids function calls and per-SVD argument checks. One
        # error state for the loop: np.linalg.svd's (invalid values mean that
        # LAPACK did not converge; the other operations here cannot make any).
        with np.errstate(
            invalid="raise", over="ignore", divide="ignore", under="ignore"
        ):
            try:
                while n_iter < self.inner_max_iter:
                    n_iter += 1
                    inverse_shape = weights_of(variances)
                    # MM 1 and MM 2 of _mm_orientation.
                    f1 = einsum("kj,ij,kil->jl", inverse_shape, orientation, shifted)
                    _require_finite(f1, name)  # LAPACK may hang on infinity
                    p, rt = _svd_loop(f1)
                    orientation = -(rt.T @ p.T)
                    reduced = inverse_shape - inverse_shape.max(axis=1, keepdims=True)
                    f2 = einsum("kij,jl,kl->il", scatter, orientation, reduced)
                    _require_finite(f2, name)
                    p, rt = _svd_loop(f2)
                    orientation = -(p @ rt)
                    variances, new = given(orientation)
                    if not math.isfinite(new):
                        raise overflow_error(f"The M-step of covariance_type={name!r}")
                    if abs(objective - new) <= tol * (1.0 + abs(new)):  # _converged
                        converged = True
                        break
                    objective = new
            except StatisticsOverflowError:
                raise
            except FloatingPointError:
                raise np.linalg.LinAlgError("SVD did not converge") from None
        self._record(orientation, n_iter, converged)
        if self.equal_volume:
            # A component singular along a column of D has no shape A_k: it keeps
            # its (singular) variances for the M-step's repair, and the common
            # volume is that of the others.
            u = np.einsum("ji,kjl,li->ki", orientation, s, orientation)
            collapsed = _collapsed(u, _pooled_variance(s, nk_eps))
            if np.all(collapsed):
                variances = u
            elif np.any(collapsed):
                keep = ~collapsed
                g = _geomean(u[keep])
                volume = float(nk_eps[keep] @ g) / float(np.sum(nk_eps[keep]))
                variances = u.copy()
                variances[keep] = u[keep] * (volume / g)[:, None]
        return _from_eigen(np.broadcast_to(orientation, s.shape), np.asarray(variances))


class EVE(_CommonOrientation):
    """``lambda D A_k D^T``: common volume and orientation (mclust EVE).

    Iterative M-step (Browne & McNicholas 2014); see the module notes.
    """

    name: ClassVar[str] = "EVE"
    equal_volume: ClassVar[bool] = True

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``1 + K (D - 1) + D (D - 1) / 2``."""
        return 1 + n_components * (n_features - 1) + n_features * (n_features - 1) // 2


class VVE(_CommonOrientation):
    """``lambda_k D A_k D^T``: common orientation only (mclust VVE).

    Iterative M-step (Browne & McNicholas 2014); see the module notes.
    """

    name: ClassVar[str] = "VVE"
    equal_volume: ClassVar[bool] = False

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K D + D (D - 1) / 2``."""
        return n_components * n_features + n_features * (n_features - 1) // 2


#: mclust's models by name, in mclust's order (univariate first).
MCLUST_MODELS: Final[Mapping[str, type[CovarianceFamily]]] = {
    cls.name: cls
    for cls in (
        E,
        V,
        EII,
        VII,
        EEI,
        VEI,
        EVI,
        VVI,
        EEE,
        VEE,
        EVE,
        VVE,
        EEV,
        VEV,
        EVV,
        VVV,
    )
}


def new_family(name: str) -> CovarianceFamily:
    """A new instance of the mclust model ``name``.

    The iterative models keep the previous M-step's parameters as the start of
    the next one, so each fit needs its own instance.

    Parameters
    ----------
    name : str
        An mclust model name (``'EII'``, ..., ``'VVV'``, ``'E'``, ``'V'``).

    Returns
    -------
    CovarianceFamily
        The family.

    Raises
    ------
    ValueError
        If ``name`` is not an mclust model.
    """
    try:
        cls = MCLUST_MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"{name!r} is not an mclust model; use one of {', '.join(MCLUST_MODELS)}."
        ) from None
    return cls()
