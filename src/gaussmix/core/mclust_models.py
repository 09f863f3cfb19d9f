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
shape (:mod:`gaussmix.core.sklearn_families`) and only replaces the M-step
estimate of the covariances (:meth:`~gaussmix.core.family.CovarianceFamily.constrain`).
The four models that *are* scikit-learn's families (VII = spherical, VVI =
diag, EEE = tied, VVV = full) are those families themselves, registered under
both names:

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
* EVE, VVE: the common orientation ``D`` by sweeps of plane rotations, each
  pair of columns turned by the angle that minimises the profile objective in
  its plane (Newton's method on the angle; Flury and Gautschi's idea for
  common principal components), then the shapes (and volumes); with one
  component, the closed form (``S`` itself, ``D`` its eigenvectors). mclust
  uses the majorisation-minimisation (MM) updates of Browne & McNicholas
  (2014) instead, which converge linearly and stop short of the optimum
  (``_compiled``'s notes); they remain for another weighting of ``D``.

The inner iteration stops when the relative change of the objective falls
below ``inner_tol`` (``|F_old - F| <= tol (1 + |F|)``, mclust's rule; default
:data:`INNER_TOL`, and the M-step may pass another) or after ``inner_max_iter``
iterations (default :data:`INNER_MAX_ITER`). The first M-step of a fit starts
from ``A = I`` (VEI, VEV), ``C = I`` (VEE) or ``D = I`` (EVE, VVE), as mclust
does; every later M-step starts from the previous M-step's common terms, which
travel with the parameters (:class:`~gaussmix.core.params.InnerState`,
``GMMParams.inner``) and are passed back in (``m_step(..., previous=params)``):
the family objects keep no state. Starting from the previous parameters makes
each M-step increase the expected log-likelihood, so the EM log-likelihood
never decreases (a generalised EM), whether or not the inner iteration
converged.

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

import functools
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import numpy as np

from gaussmix._typing import FloatArray
from gaussmix.core import kernels
from gaussmix.core.family import (
    INNER_MAX_ITER,
    INNER_TOL,
    MCLUST_GROUP,
    UNIVARIATE_GROUP,
    BoolArray,
    Constrained,
    CovarianceFamily,
    PriorRule,
)
from gaussmix.core.linalg import lapack_kernel
from gaussmix.core.numerics import (
    COLLAPSE_RELATIVE,
    StatisticsOverflowError,
    overflow_error,
)
from gaussmix.core.pair_rotation import pair_angle
from gaussmix.core.params import InnerState
from gaussmix.core.sklearn_families import Diag, Full, Spherical, Tied

__all__ = [
    "E",
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
    "V",
    "VEE",
    "VEI",
    "VEV",
    "VVE",
    "best_variances",
    "new_family",
]

#: Variances and eigenvalues below this fraction of the pooled variance are
#: raised to it inside the constrained estimates (singular statistics only).
FLOOR_RELATIVE: Final = 1e-14

#: The LAPACK kernels behind np.linalg.svd and np.linalg.eigh (float64).
_SVD: Final = lapack_kernel("svd")
_EIGH: Final = lapack_kernel("eigh")

#: Whether EVE and VVE run their inner loop compiled (``gaussmix.core._compiled``)
#: when numba is installed; ``GAUSSMIX_NO_COMPILED=1`` in the environment (or
#: setting this to False) forces the NumPy loop.
USE_COMPILED: bool = os.environ.get("GAUSSMIX_NO_COMPILED", "").strip() in ("", "0")

#: The compiled loop once imported; False when numba cannot be imported.
_compiled_loop: Callable[..., Any] | bool | None = None


def _import_orientation_loop() -> Callable[..., Any]:
    from gaussmix.core._compiled import common_orientation_jacobi

    return common_orientation_jacobi


def _common_orientation_kernel() -> Callable[..., Any] | None:
    """The compiled rotations of EVE and VVE's orientation, or None (NumPy loop).

    An EVE or VVE M-step loads the kernels (:func:`gaussmix.core.kernels.load`)
    if nothing has: its rotations, a Python loop over pairs of columns, cost
    more in NumPy than numba's load (a banknote fit with 5 components: 0.3-0.5 s
    each in NumPy; with the kernels 0.9 s for the first fit of a process,
    numba's import included, and 10-15 ms for each one after). A missing or
    broken numba, or ``GAUSSMIX_NO_COMPILED=1``, leaves the NumPy loop.
    """
    global _compiled_loop
    if not (USE_COMPILED and (kernels.loaded() or kernels.load())):
        return None
    if _compiled_loop is None:
        _compiled_loop = kernels.import_kernels(_import_orientation_loop)
    return _compiled_loop if callable(_compiled_loop) else None


def _float64_c(a: FloatArray) -> FloatArray:
    """``a`` as a writeable C-contiguous float64 array (one compiled signature)."""
    flags = a.flags
    if a.dtype == np.float64 and flags.c_contiguous and flags.writeable:
        return a
    return np.array(a, dtype=np.float64, order="C")


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


def _common_volume(
    target: FloatArray, values: FloatArray, weights: FloatArray, collapsed: BoolArray
) -> FloatArray:
    """``target`` with one volume for every component that has not collapsed.

    The volume of component ``k`` is the geometric mean of its ``values`` (its
    variances along its axes); each component that has not collapsed is scaled
    to the ``weights``-weighted mean of their volumes. A collapsed component
    has no shape ``A_k``: it keeps its (singular) ``target`` for the M-step's
    repair. Returns ``target`` itself if every component has collapsed.
    """
    if np.all(collapsed):
        return target
    keep = ~collapsed
    g = _geomean(values[keep])
    volume = float(weights[keep] @ g) / float(np.sum(weights[keep]))
    out = target.copy()
    factor = volume / g
    out[keep] = target[keep] * factor.reshape(factor.shape + (1,) * (out.ndim - 1))
    return out


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


def _start_shape(start: InnerState | None, n_features: int) -> FloatArray | None:
    """The common shape to start from, if ``start`` has one for ``n_features``."""
    if start is None or start.shape is None or start.shape.shape != (n_features,):
        return None
    return start.shape


def _start_orientation(start: InnerState | None, n_features: int) -> FloatArray | None:
    """The common orientation to start from, if ``start`` has one for ``n_features``."""
    if start is None or start.orientation is None:
        return None
    return start.orientation if start.orientation.shape == (n_features,) * 2 else None


def _common_shape_and_volumes(
    values: FloatArray,
    weights: FloatArray,
    start: InnerState | None,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, FloatArray, InnerState]:
    """Volumes ``lambda_k`` and a common shape ``a`` (det 1) for ``Sigma_k ~ lambda_k a``.

    Celeux & Govaert's iteration for VEI (``values`` the diagonals of ``S_k``)
    and VEV (the eigenvalues of ``S_k``, in a fixed order): minimise
    ``sum_k n_k (D log lambda_k + sum_j v_kj / (lambda_k a_j))`` by alternating
    ``lambda_k = mean_j(v_kj / a_j)`` and ``a ~ sum_k n_k v_k / lambda_k``, from
    the shape of ``start`` (or ``a = 1``). The values are floored first
    (:func:`_floor`). Returns the volumes, the shape and where the iteration
    ended.
    """
    values = np.maximum(values, _floor(values, weights))
    shape = _start_shape(start, values.shape[1])
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
    return volumes, shape, InnerState(shape=shape, n_iter=n_iter, converged=converged)


class _InnerIteration(CovarianceFamily):
    """Settings of the families whose M-step iterates (put first in the bases).

    ``inner_tol`` (the default tolerance, when the M-step passes none) and
    ``inner_max_iter`` may be given to the constructor. The family keeps no
    state: the M-step's start comes in and goes out as an
    :class:`~gaussmix.core.params.InnerState`.
    """

    iterative: ClassVar[bool] = True
    adaptive_inner: ClassVar[bool] = True
    inner_tol: float = INNER_TOL
    inner_max_iter: int = INNER_MAX_ITER

    def __init__(
        self,
        *,
        inner_tol: float | None = None,
        inner_max_iter: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if inner_tol is not None:
            self.inner_tol = inner_tol
        if inner_max_iter is not None:
            self.inner_max_iter = inner_max_iter


# ------------------------------------------------------------- spherical-shaped
class EII(Spherical):
    """Equal spherical covariances ``lambda I`` (mclust EII), stored as ``(K,)``."""

    model: ClassVar[str] = "EII"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "spherical, equal volume"
    prior: ClassVar[PriorRule | None] = PriorRule(
        False, "none", True, True, lambda dof, kp, g, d: (dof + 2) / (d * g) + 1
    )

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): one variance."""
        self.check_n_features(n_features)
        return 1

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """The pooled variance ``sum_k n_k s_k / n`` for every component."""
        return np.full_like(s, float(weights @ s) / float(np.sum(weights))), None


class E(EII):
    """Univariate, equal variance (mclust E): one feature only."""

    model: ClassVar[str] = "E"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "univariate, equal variance"
    multivariate_model: ClassVar[str | None] = "EII"
    prior: ClassVar[PriorRule | None] = PriorRule(
        False, "diag", False, True, lambda dof, kp, g, d: (dof + g + 2) / g
    )


class V(Spherical):
    """Univariate, variable variances (mclust V): one feature only."""

    model: ClassVar[str] = "V"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "univariate, unequal variance"
    multivariate_model: ClassVar[str | None] = "VII"
    prior: ClassVar[PriorRule | None] = PriorRule(
        False, "diag", True, True, lambda dof, kp, g, d: dof + 3
    )


# ------------------------------------------------------------------ diag-shaped
class EEI(Diag):
    """Equal diagonal covariances ``lambda A`` (mclust EEI), stored as ``(K, D)``."""

    model: ClassVar[str] = "EEI"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "diagonal, equal volume and shape"
    prior: ClassVar[PriorRule | None] = PriorRule(
        False, "diag", False, False, lambda dof, kp, g, d: (dof + 1 + kp) / g
    )

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``D``."""
        return n_features

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """The pooled diagonal ``sum_k n_k diag(S_k) / n`` for every component."""
        pooled = (weights @ s) / float(np.sum(weights))
        return np.asarray(np.broadcast_to(pooled, s.shape).copy()), None


class VEI(_InnerIteration, Diag):
    """Diagonal covariances ``lambda_k A`` with a common shape (mclust VEI).

    Iterative M-step (Celeux & Govaert 1995); see the module notes.
    """

    model: ClassVar[str] = "VEI"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "diagonal, equal shape"
    prior: ClassVar[PriorRule | None] = PriorRule(
        False, "diag", True, True, lambda dof, kp, g, d: (dof + 2 + kp) / d
    )

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K + D - 1``."""
        return n_components + n_features - 1

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """``lambda_k A`` by alternating volumes and the common shape."""
        _require_finite(s, self.name)
        volumes, shape, inner = _common_shape_and_volumes(
            s, weights, start, tol, self.inner_max_iter
        )
        return np.asarray(volumes[:, None] * shape[None, :]), inner


class EVI(Diag):
    """Diagonal covariances ``lambda A_k`` with a common volume (mclust EVI)."""

    model: ClassVar[str] = "EVI"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "diagonal, equal volume, varying shape"
    prior: ClassVar[PriorRule | None] = PriorRule(
        False, "diag", True, True, lambda dof, kp, g, d: (dof + 1 + kp) / g
    )

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``1 + K (D - 1)``."""
        return 1 + n_components * (n_features - 1)

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """``A_k = diag(S_k) / det^{1/D}``, ``lambda = sum_k n_k det_k^{1/D} / n``."""
        _require_finite(s, self.name)
        collapsed = _collapsed(s, (weights @ s) / float(np.sum(weights)))
        return _common_volume(s, s, weights, collapsed), None


# ----------------------------------------------------------------- full-shaped
class EEV(Full):
    """``lambda D_k A D_k^T``: common volume and shape, own orientation (mclust EEV)."""

    model: ClassVar[str] = "EEV"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "ellipsoidal, equal volume and shape"
    prior: ClassVar[PriorRule | None] = PriorRule(
        True, "matrix", True, True, lambda dof, kp, g, d: (dof + d + 1 + kp) / g
    )

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``D + K D (D - 1) / 2``."""
        return n_features + n_components * n_features * (n_features - 1) // 2

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """``D_k`` the eigenvectors of ``S_k``; ``lambda A`` the pooled eigenvalues."""
        _require_finite(s, self.name)
        values, vectors = np.linalg.eigh(s)  # ascending, paired by position
        pooled = (weights @ np.maximum(values, 0.0)) / float(np.sum(weights))
        return _from_eigen(vectors, np.broadcast_to(pooled, values.shape)), None


class VEV(_InnerIteration, Full):
    """``lambda_k D_k A D_k^T``: common shape, own volume and orientation (mclust VEV).

    Iterative M-step (Celeux & Govaert 1995); see the module notes.
    """

    model: ClassVar[str] = "VEV"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "ellipsoidal, equal shape"
    prior: ClassVar[PriorRule | None] = PriorRule(
        True, "matrix", True, True, lambda dof, kp, g, d: 0.0
    )

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K + D - 1 + K D (D - 1) / 2``."""
        return (
            n_components
            + n_features
            - 1
            + n_components * n_features * (n_features - 1) // 2
        )

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """Volumes and the common shape of the eigenvalues of ``S_k``, alternating."""
        _require_finite(s, self.name)
        values, vectors = np.linalg.eigh(s)  # ascending, paired by position
        volumes, shape, inner = _common_shape_and_volumes(
            values, weights, start, tol, self.inner_max_iter
        )
        return _from_eigen(vectors, volumes[:, None] * shape[None, :]), inner


class EVV(Full):
    """``lambda C_k`` (det ``C_k`` = 1): common volume only (mclust EVV)."""

    model: ClassVar[str] = "EVV"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "ellipsoidal, equal volume"
    prior: ClassVar[PriorRule | None] = None  # none in mclust 6.0.0

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K D (D + 1) / 2 - (K - 1)``."""
        return n_components * n_features * (n_features + 1) // 2 - (n_components - 1)

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """``C_k = S_k / det(S_k)^{1/D}``, ``lambda = sum_k n_k det(S_k)^{1/D} / n``."""
        _require_finite(s, self.name)
        values = np.linalg.eigvalsh(s)
        collapsed = _collapsed(values, _pooled_variance(s, weights))
        out = _common_volume(s, values, weights, collapsed)
        return (s if out is s else _symmetric(out)), None


class VEE(_InnerIteration, Full):
    """``lambda_k C`` (det ``C`` = 1): common shape and orientation (mclust VEE).

    Iterative M-step (Celeux & Govaert 1995); see the module notes.
    """

    model: ClassVar[str] = "VEE"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "ellipsoidal, equal shape and orientation"
    prior: ClassVar[PriorRule | None] = None  # none in mclust 6.0.0

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``): ``K + D - 1 + D (D - 1) / 2``."""
        return n_components + n_features - 1 + n_features * (n_features - 1) // 2

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """Alternate ``lambda_k = tr(S_k C^{-1}) / D`` and ``C ~ sum_k n_k S_k / lambda_k``."""
        _require_finite(s, self.name)
        n_features = s.shape[1]
        floor = _floor(np.diagonal(s, axis1=1, axis2=2), weights)
        basis = _start_orientation(start, n_features)
        shape = _start_shape(start, n_features)
        if basis is None or shape is None:
            basis, shape = np.eye(n_features), np.ones(n_features)
        objective = math.inf
        converged = False
        n_iter = 0
        einsum = np.einsum
        # One error state for the loop, so that the eigen-decomposition is the
        # bare LAPACK call (same numbers).
        with _LapackLoop("Eigenvalues"):
            while n_iter < self.inner_max_iter:
                n_iter += 1
                inverse = (basis / shape) @ basis.T
                volumes = np.maximum(
                    einsum("kij,ji->k", s, inverse) / n_features, floor
                )
                common = einsum("k,kij->ij", weights / volumes, s)
                _require_finite(common, "VEE")
                t, basis = _EIGH(common)
                t = np.maximum(t, FLOOR_RELATIVE * max(float(t[-1]), floor))
                shape = t / np.exp(np.log(t).sum() / n_features)  # _geomean
                inverse = (basis / shape) @ basis.T
                trace = einsum("kij,ji->k", s, inverse)
                new = float(weights @ (n_features * np.log(volumes) + trace / volumes))
                if not math.isfinite(new):
                    raise overflow_error("The M-step of covariance_type='VEE'")
                if abs(objective - new) <= tol * (1.0 + abs(new)):  # _converged
                    converged = True
                    break
                objective = new
        inner = InnerState(shape, basis, n_iter, converged)
        common = _from_eigen(basis, shape)
        return _symmetric(volumes[:, None, None] * common[None]), inner


class _LapackLoop:
    """``np.linalg``'s error state, for bare LAPACK calls (:mod:`gaussmix.core.linalg`).

    Invalid values mean that LAPACK did not converge (the loops' other
    operations cannot make any): ``LinAlgError("<what> did not converge")``.
    Overflow, division by zero and underflow are the loops' own business. (A
    class, not a generator: it runs once per M-step of the inner loops.)
    """

    __slots__ = ("state", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self.state = np.errstate(
            invalid="raise", over="ignore", divide="ignore", under="ignore"
        )

    def __enter__(self) -> None:
        self.state.__enter__()

    def __exit__(self, kind: type[BaseException] | None, *rest: Any) -> None:
        self.state.__exit__(kind, *rest)
        if kind is None or not issubclass(kind, FloatingPointError):
            return
        if not issubclass(kind, StatisticsOverflowError):
            raise np.linalg.LinAlgError(f"{self.what} did not converge") from None


def _svd_uv(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``U`` and ``V^T`` of ``np.linalg.svd(a)`` for a float64 square matrix.

    Refuses a non-finite ``a`` (LAPACK's SVD may never return on it) and
    raises ``LinAlgError`` if LAPACK does not converge; :func:`_svd_loop`
    without those checks is the inner loop's.
    """
    _require_finite(a, "EVE/VVE")
    with _LapackLoop("SVD"):
        return _svd_loop(a)


def _svd_loop(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """:func:`_svd_uv` for a caller that holds np.linalg.svd's error state.

    The same LAPACK call as ``np.linalg.svd`` (so the same numbers), without its
    argument checks: a third of the MM update's time for D = 2..6 (this is the
    inner loop of EVE and VVE, run some 20 times per M-step on iris). ``a``
    must be finite: LAPACK's SVD may never return on an infinite entry (the
    caller checks, see :func:`_require_finite`).
    """
    p, _, rt = _SVD(a)
    return p, rt


def _shifted_scatter(scatter: FloatArray, largest: FloatArray) -> FloatArray:
    """``M_k - largest_k I``, for the first MM update of the common orientation."""
    return np.asarray(scatter - largest[:, None, None] * np.eye(scatter.shape[1]))


class _CommonOrientation(_InnerIteration, Full):
    """EVE and VVE: ``D A_k D^T`` shapes with one orientation ``D`` for all.

    ``D`` minimises the profile objective (the variances best for ``D`` put
    in): sweeps of plane rotations (:func:`_rotations`, compiled as
    ``_compiled.common_orientation_jacobi``), until the objective changes by
    at most ``tol (1 + |F|)``.

    A subclass that weights the orientation otherwise
    (:meth:`_orientation_weights`) gets the two majorisation-minimisation (MM)
    updates of Browne & McNicholas (2014), mclust's algorithm: they decrease
    ``f(D) = sum_k tr(D^T M_k D N_k)`` over orthogonal ``D`` for symmetric
    ``M_k`` (the weighted scatter ``n_k S_k``, with largest eigenvalues
    ``a_k``) and diagonal ``N_k`` (by default the inverse variances along
    ``D``). Each replaces a concave part of ``f`` (``M_k - a_k I``, then ``N_k
    - max(N_k) I``) by its tangent at the current ``D`` and minimises that
    over orthogonal matrices, in closed form through an SVD.
    """

    #: Whether the volumes are common (EVE) or own (VVE).
    equal_volume: ClassVar[bool]
    prior: ClassVar[PriorRule | None] = None  # none in mclust 6.0.0

    def _orientation_weights(self, variances: FloatArray) -> FloatArray:
        """``N_k`` of the orientation objective: the inverse variances along ``D``.

        ``sum_k n_k tr(D^T S_k D N_k)`` is the part of the objective that depends
        on ``D`` when ``Sigma_k = D diag(variances_k) D^T``.
        """
        return np.asarray(1.0 / variances)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Covariance parameters (mclust's ``nVarParams``).

        The volumes (one for EVE, ``K`` for VVE), ``K (D - 1)`` shapes and the
        ``D (D - 1) / 2`` angles of ``D``: ``1 + K (D - 1) + D (D - 1) / 2`` for
        EVE, ``K D + D (D - 1) / 2`` for VVE.
        """
        volumes = 1 if self.equal_volume else n_components
        return (
            volumes
            + n_components * (n_features - 1)
            + n_features * (n_features - 1) // 2
        )

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """Plane rotations of ``D`` (or MM updates, see below), then the variances."""
        name = self.name
        _require_finite(s, name)
        n_features = s.shape[1]
        floor = _floor(np.diagonal(s, axis1=1, axis2=2), weights)
        if s.shape[0] == 1:
            one = _one_component(s, floor)
            if one is not None:
                return one
        total = float(np.sum(weights))
        orientation = _start_orientation(start, n_features)
        if orientation is None:
            orientation = np.eye(n_features)

        equal_volume = self.equal_volume
        given = functools.partial(
            best_variances, s=s, weights=weights, floor=floor, equal_volume=equal_volume
        )

        if (
            type(self)._orientation_weights
            is not _CommonOrientation._orientation_weights
        ):
            # Another weighting of the orientation (tests emulate mclust's VVE
            # with it): the MM updates, which take any weights.
            orientation, variances, n_iter, converged = self._mm_updates(
                s, weights, orientation, given, tol
            )
        else:
            kernel = (
                _common_orientation_kernel()
                if s.dtype == np.float64 and weights.dtype == np.float64
                else None
            )
            if kernel is not None:
                # The same rotations compiled (numba); it reports a non-finite
                # objective, where the NumPy loop raises.
                found = kernel(
                    _float64_c(s),
                    _float64_c(weights),
                    _float64_c(orientation),
                    floor,
                    total,
                    bool(equal_volume),
                    float(tol),
                    int(self.inner_max_iter),
                )
                if found[4] != 0:  # _compiled.OK
                    raise overflow_error(f"The M-step of covariance_type={name!r}")
                orientation, variances, n_iter, converged = found[:4]
            else:
                orientation, variances, n_iter, converged = _rotations(
                    s,
                    weights,
                    orientation,
                    floor,
                    equal_volume,
                    given,
                    tol,
                    self.inner_max_iter,
                    name,
                )
        inner = InnerState(orientation=orientation, n_iter=n_iter, converged=converged)
        if self.equal_volume:
            u = np.einsum("ji,kjl,li->ki", orientation, s, orientation)
            collapsed = _collapsed(u, _pooled_variance(s, weights))
            if np.any(collapsed):
                variances = _common_volume(u, u, weights, collapsed)
        dense = _from_eigen(
            np.broadcast_to(orientation, s.shape), np.asarray(variances)
        )
        return dense, inner

    def _mm_updates(
        self,
        s: FloatArray,
        weights: FloatArray,
        orientation: FloatArray,
        given: Callable[[FloatArray], tuple[FloatArray, float]],
        tol: float,
    ) -> tuple[FloatArray, FloatArray, int, bool]:
        """The MM updates of ``D`` with :meth:`_orientation_weights`, alternating with ``given``.

        Browne and McNicholas's two MM updates (see the class) decrease
        ``sum_k tr(D^T M_k D N_k)`` for any diagonal weights ``N_k``, which
        lets a subclass weight the orientation otherwise (mclust 6.0.0's VVE
        leaves the volumes out: ``tests/test_against_mclust.py``).
        """
        name = self.name
        scatter = weights[:, None, None] * s
        _require_finite(scatter, name)
        largest = np.linalg.eigvalsh(scatter)[:, -1]
        shifted = _shifted_scatter(scatter, largest)
        _require_finite(shifted, name)
        einsum = np.einsum
        variances, objective = given(orientation)
        converged = False
        n_iter = 0
        with _LapackLoop("SVD"):
            while n_iter < self.inner_max_iter:
                n_iter += 1
                inverse_shape = self._orientation_weights(variances)
                # MM 1: F = sum_k N_k D^T (M_k - a_k I), D <- -R P^T for F = P B R^T.
                f1 = einsum("kj,ij,kil->jl", inverse_shape, orientation, shifted)
                _require_finite(f1, name)  # LAPACK may hang on infinity
                p, rt = _svd_loop(f1)
                orientation = -(rt.T @ p.T)
                # MM 2: F = sum_k M_k D (N_k - b_k I), D <- -P R^T for F = P B R^T.
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
        return orientation, variances, n_iter, converged


def _rotations(
    s: FloatArray,
    weights: FloatArray,
    orientation: FloatArray,
    floor: float,
    equal_volume: bool,
    given: Callable[[FloatArray], tuple[FloatArray, float]],
    tol: float,
    max_iter: int,
    name: str,
) -> tuple[FloatArray, FloatArray, int, bool]:
    """EVE and VVE's common orientation by sweeps of plane rotations (the NumPy path).

    The algorithm of ``_compiled.common_orientation_jacobi``, which the
    module notes describe, step for step.
    """
    n_features = s.shape[1]
    orientation = np.array(orientation, dtype=np.float64, order="C")
    variances, objective = given(orientation)
    if not math.isfinite(objective):
        raise overflow_error(f"The M-step of covariance_type={name!r}")
    exponent = 1.0 / n_features if equal_volume else 0.0
    others = np.ones(n_features, dtype=bool)
    pair = np.empty((4, s.shape[0]))  # m, x, y, a of pair_angle
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        sd = s @ orientation  # S_k D
        u = np.einsum("ij,kij->kj", orientation, sd)
        log_u = np.log(np.maximum(u, floor))
        for p in range(n_features - 1):
            for q in range(p + 1, n_features):
                pair[0] = 0.5 * (u[:, p] + u[:, q])
                pair[1] = 0.5 * (u[:, p] - u[:, q])
                pair[2] = sd[:, :, q] @ orientation[:, p]
                if equal_volume:
                    others[:] = True
                    others[[p, q]] = False
                    pair[3] = weights * np.exp(exponent * log_u[:, others].sum(axis=1))
                else:
                    pair[3] = weights
                phi = pair_angle(pair.tolist(), floor, exponent)
                if phi == 0.0:
                    continue
                c = math.cos(0.5 * phi)
                sn = math.sin(0.5 * phi)
                dp = orientation[:, p].copy()
                dq = orientation[:, q]
                orientation[:, p] = c * dp + sn * dq
                orientation[:, q] = c * dq - sn * dp
                sp = sd[:, :, p].copy()
                sq = sd[:, :, q]
                sd[:, :, p] = c * sp + sn * sq
                sd[:, :, q] = c * sq - sn * sp
                u[:, p] = sd[:, :, p] @ orientation[:, p]
                u[:, q] = sd[:, :, q] @ orientation[:, q]
                log_u[:, p] = np.log(np.maximum(u[:, p], floor))
                log_u[:, q] = np.log(np.maximum(u[:, q], floor))
        variances, new = given(orientation)
        if not math.isfinite(new):
            raise overflow_error(f"The M-step of covariance_type={name!r}")
        if abs(objective - new) <= tol * (1.0 + abs(new)):
            converged = True
            break
        objective = new
    return orientation, variances, n_iter, converged


def best_variances(
    orientation: FloatArray,
    s: FloatArray,
    weights: FloatArray,
    floor: float,
    equal_volume: bool,
) -> tuple[FloatArray, float]:
    """EVE/VVE: the diagonal variances ``(K, D)`` best for ``orientation``, and the objective.

    ``u_ki = d_i^T S_k d_i`` floored at ``floor``; EVE (``equal_volume``)
    rescales each row to the common volume. The objective is the profile one
    that the orientation minimises (``_compiled._given`` compiled).
    """
    n_features = s.shape[1]
    total = float(np.sum(weights))
    u = np.einsum("ji,kjl,li->ki", orientation, s, orientation)
    np.maximum(u, floor, out=u)
    if equal_volume:
        g = np.exp(np.log(u).sum(axis=1) / n_features)  # _geomean(u)
        volume = float(weights @ g) / total
        variances = u * (volume / g)[:, None]
        return variances, n_features * total * (math.log(volume) + 1.0)
    return u, float(weights @ (np.log(u).sum(axis=1) + n_features))


def _one_component(s: FloatArray, floor: float) -> Constrained | None:
    """EVE and VVE with one component: the closed form, or None (iterate).

    One covariance ``lambda D A D^T`` is unconstrained, so the maximum is ``S``
    itself: ``D`` its eigenvectors and ``lambda A`` its eigenvalues (the fixed
    point that the iterations approach, slowly). A singular ``S`` (an
    eigenvalue at or below the floor)
    keeps the iteration and its floors.
    """
    values, vectors = np.linalg.eigh(s[0])
    if not values[0] > floor:
        return None
    inner = InnerState(orientation=vectors, n_iter=0, converged=True)
    return _from_eigen(vectors[None], values[None]), inner


class EVE(_CommonOrientation):
    """``lambda D A_k D^T``: common volume and orientation (mclust EVE).

    Iterative M-step (plane rotations of ``D``); see the module notes.
    """

    model: ClassVar[str] = "EVE"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "ellipsoidal, equal volume and orientation"
    equal_volume: ClassVar[bool] = True


class VVE(_CommonOrientation):
    """``lambda_k D A_k D^T``: common orientation only (mclust VVE).

    Iterative M-step (plane rotations of ``D``); see the module notes.
    """

    model: ClassVar[str] = "VVE"
    #: mclust's description of the model (``mclustModelNames``).
    description: ClassVar[str] = "ellipsoidal, equal orientation"
    equal_volume: ClassVar[bool] = False


#: mclust's models by name, in mclust's order (univariate first). The four
#: that scikit-learn also has are its families (VII = spherical, VVI = diag,
#: EEE = tied, VVV = full).
MCLUST_MODELS: Final[Mapping[str, type[CovarianceFamily]]] = {
    cls.model: cls
    for cls in (
        E,
        V,
        EII,
        Spherical,
        EEI,
        VEI,
        EVI,
        Diag,
        Tied,
        VEE,
        EVE,
        VVE,
        EEV,
        VEV,
        EVV,
        Full,
    )
}


def new_family(name: str) -> CovarianceFamily:
    """A new instance of the mclust model ``name``.

    Parameters
    ----------
    name : str
        An mclust model name (``'EII'``, ..., ``'VVV'``, ``'E'``, ``'V'``).

    Returns
    -------
    CovarianceFamily
        The family, named ``name``.

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
    group = MCLUST_GROUP if cls.multivariate_model is None else UNIVARIATE_GROUP
    return cls(name=name, group=group)
