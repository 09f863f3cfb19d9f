"""The interface of a covariance family, and the facts each family declares.

A covariance family is one stateless object: it knows its array shapes
(scikit-learn's), how to turn sufficient statistics into covariances, how to
factor them, and the two kernels of the E-step (see
:mod:`gaussmix.core.sklearn_families`). The registry of the named families is
:mod:`gaussmix.core.covariance`.

**Facts, as attributes.** Every family declares what the rest of the library
asks about it, so that no list of names is kept elsewhere:

* ``name`` and ``group``: the name it is registered under and its group
  (scikit-learn's four, R mclust's 14 multivariate models, mclust's univariate
  E and V); the registry's order is the display order;
* ``model``: the mclust model whose mathematics it computes (``full`` is
  ``VVV``: scikit-learn's names are aliases of mclust's models);
* ``n_covariance_parameters``: the number of free parameters;
* ``prior``: how mclust's MAP M-step uses the conjugate prior
  (:class:`PriorRule`), None for the models without a prior;
* ``iterative``: whether the M-step iterates (then ``inner_tol`` and
  ``inner_max_iter`` set the inner iteration);
* ``multivariate_model``: for a univariate model, the multivariate model it
  restricts to one feature.

**No state.** An iterative M-step starts from the common terms of the previous
one (:class:`~gaussmix.core.params.InnerState`), which are passed in and
returned (:meth:`CovarianceFamily.estimate`), not kept on the family: one
family object serves any number of fits, at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from gaussmix._typing import FloatArray
from gaussmix.core.params import GMMParams, InnerState

__all__ = [
    "INNER_MAX_ITER",
    "INNER_TOL",
    "MCLUST_GROUP",
    "SKLEARN_GROUP",
    "UNIVARIATE_GROUP",
    "BoolArray",
    "Constrained",
    "CovarianceFamily",
    "CovarianceStats",
    "DType",
    "Prepared",
    "PriorRule",
]

#: Default relative tolerance of the inner iterations: mclust's ``tol[2]``.
INNER_TOL: Final = float(np.sqrt(np.finfo(np.float64).eps))  # 1.49e-8, as mclust
#: Default cap on the inner iterations of one M-step (mclust's ``itmax[2]``).
INNER_MAX_ITER: Final = 1000

#: The registry's groups of names (:mod:`gaussmix.core.covariance`), in order:
#: scikit-learn's four, mclust's univariate models, mclust's 14 multivariate ones.
SKLEARN_GROUP: Final = "sklearn"
UNIVARIATE_GROUP: Final = "univariate"
MCLUST_GROUP: Final = "mclust"

BoolArray = npt.NDArray[np.bool_]
DType = np.dtype[Any]
#: Covariances from a constrained estimate, and where its inner iteration ended.
Constrained = tuple[FloatArray, InnerState | None]


@dataclass(frozen=True, slots=True)
class Prepared:
    """Per-pass precomputation of the parameters for the E-step kernels.

    Parameters
    ----------
    coef : ndarray of shape (n_components, n_moments)
        Coefficients of the design (packed families) or of the whitened data.
    dtype : numpy dtype
        Dtype of the log-density product (float32 only where it is safe).
    extra : dict
        Family-specific arrays (Cholesky factors for per-component paths).
    """

    coef: FloatArray
    dtype: np.dtype[Any]
    extra: Mapping[str, Any]


class CovarianceStats(NamedTuple):
    """What a covariance estimate reads: the statistics about a shift.

    Parameters
    ----------
    sxx : ndarray
        Family-shaped second moments about the shift.
    sx : ndarray of shape (n_components, n_features)
        First moments about the shift.
    nk : ndarray of shape (n_components,)
        Responsibility mass of each component.
    divisor : ndarray of shape (n_components,)
        Divisor (and weight) of each component's scatter: ``nk`` plus
        scikit-learn's tiny offset (with a prior, plus its pseudo-counts).
    d : ndarray of shape (n_components, n_features)
        ``mean_k - shift`` of the scatter.
    """

    sxx: FloatArray
    sx: FloatArray
    nk: FloatArray
    divisor: FloatArray
    d: FloatArray


@dataclass(frozen=True, slots=True)
class PriorRule:
    """How mclust's M-step of one model uses the conjugate prior.

    See the table in :mod:`gaussmix.core.prior`, where these rules are applied.

    Parameters
    ----------
    matrix_scale : bool
        Whether the prior's scale is a ``d x d`` matrix (else a number).
    lambda_kind : {"none", "trace", "diag", "matrix"}
        The prior scatter ``Lambda``: none (mclust omits it), the scale on the
        trace, ``s I``, or the scale matrix.
    per_component : bool
        Whether ``Lambda`` is added to every component (else once in total).
    shrink_means : bool
        Whether the means are shrunk towards the prior mean.
    counts : callable
        ``counts(dof, kappa_positive, n_components, n_features)``: the
        pseudo-count ``c_k`` added to each component's divisor.
    """

    matrix_scale: bool
    lambda_kind: str
    per_component: bool
    shrink_means: bool
    counts: Callable[[float, int, int, int], float]


class CovarianceFamily(ABC):
    """Interface of a covariance family (see the module notes).

    Parameters
    ----------
    name : str, optional
        The name it is registered under; by default its mclust ``model``.
    group : str, default=""
        Its group in the registry (:mod:`gaussmix.core.covariance`).
    """

    #: The mclust model whose mathematics the family computes.
    model: ClassVar[str]
    #: The name the family is registered under (``covariance_type``).
    name: str
    #: The registry's group of the name: "sklearn", "mclust" or "univariate".
    group: str
    #: Whether one covariance is shared by all components (tied).
    shared: ClassVar[bool] = False
    #: Whether each covariance is a full matrix (full, tied).
    matrix: ClassVar[bool] = False
    #: Whether the statistics keep a second moment per feature (all but spherical).
    per_feature: ClassVar[bool] = True
    #: How mclust's MAP M-step uses the conjugate prior; None: no prior.
    prior: ClassVar[PriorRule | None] = None
    #: For a univariate model (E, V): the multivariate model it restricts.
    multivariate_model: ClassVar[str | None] = None
    #: mclust's description of the model (``mclustModelNames``; empty if none).
    description: ClassVar[str] = ""
    #: Whether the M-step iterates (mclust's VEI, VEV, VEE, EVE, VVE).
    iterative: ClassVar[bool] = False
    #: Whether :func:`gaussmix.em.fit_em` may loosen the inner tolerance while
    #: EM is far from converged (it always ends with ``inner_tol`` itself).
    adaptive_inner: ClassVar[bool] = False
    #: Relative tolerance of an iterative M-step (when none is passed to it).
    inner_tol: float = INNER_TOL
    #: Cap on the inner iterations of one M-step.
    inner_max_iter: int = INNER_MAX_ITER

    def __init__(self, *, name: str | None = None, group: str = "") -> None:
        self.name = self.model if name is None else name
        self.group = group

    def check_n_features(self, n_features: int) -> None:
        """Raise ValueError if a univariate model meets several features."""
        if self.multivariate_model is not None and n_features != 1:
            raise ValueError(
                f"covariance_type={self.name!r} is mclust's univariate model and needs "
                f"exactly one feature, got n_features = {n_features}. Use "
                f"{self.multivariate_model!r}, the same model for several features, "
                "or select one column."
            )

    # ------------------------------------------------------------------ shapes
    @abstractmethod
    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of ``covariances`` (and of the precisions) for this family."""

    @abstractmethod
    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Number of free parameters in the covariances."""

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of the whole mixture: covariances, means and weights."""
        return (
            self.n_covariance_parameters(n_components, n_features)
            + n_components * n_features
            + n_components
            - 1
        )

    # ------------------------------------------------------------ conversions
    @abstractmethod
    def precisions_cholesky(
        self, covariances: FloatArray
    ) -> tuple[FloatArray, BoolArray]:
        """Cholesky factors of the precisions, and a mask of failed components.

        Failed components (covariance not positive definite) get an identity
        placeholder; the caller repairs them.
        """

    @abstractmethod
    def precisions_cholesky_from_precisions(self, precisions: FloatArray) -> FloatArray:
        """Cholesky factors from precision matrices (scikit-learn's convention)."""

    @abstractmethod
    def precisions(self, precisions_cholesky: FloatArray) -> FloatArray:
        """Precisions from their Cholesky factors."""

    @abstractmethod
    def covariances_from_precisions_cholesky(
        self, precisions_cholesky: FloatArray
    ) -> FloatArray:
        """Covariances from the Cholesky factors of the precisions."""

    @abstractmethod
    def log_det_cholesky(
        self, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        """``log det`` of each precision Cholesky factor, shape ``(n_components,)``.

        It equals half the log-determinant of the precision.
        """

    @abstractmethod
    def to_dense(
        self, covariances: FloatArray, n_components: int, n_features: int
    ) -> FloatArray:
        """Covariances as an ``(n_components, D, D)`` stack (for sampling and plots)."""

    @abstractmethod
    def is_positive_definite(self, matrices: FloatArray) -> BoolArray:
        """Per component: whether the family-shaped matrices are positive definite."""

    def sample(
        self,
        random_state: np.random.RandomState,
        means: FloatArray,
        covariances: FloatArray,
        counts: npt.NDArray[np.integer[Any]],
    ) -> FloatArray:
        """Draw ``counts[k]`` points from each component, stacked in component order.

        The draws are those of scikit-learn's ``GaussianMixture.sample`` for the
        same ``random_state``.
        """
        n_components, n_features = means.shape
        if self.matrix:
            dense = self.to_dense(covariances, n_components, n_features)
            parts = [
                random_state.multivariate_normal(mean, cov, int(n))
                for mean, cov, n in zip(means, dense, counts, strict=True)
            ]
        else:
            parts = [
                mean
                + random_state.standard_normal(size=(int(n), n_features)) * np.sqrt(cov)
                for mean, cov, n in zip(means, covariances, counts, strict=True)
            ]
        return np.vstack(parts) if parts else np.empty((0, n_features))

    # ----------------------------------------------------------------- M-step
    @abstractmethod
    def unconstrained_covariances(
        self, m: CovarianceStats, reg_covar: float
    ) -> FloatArray:
        """Covariances ``S_k = W_k / n_k + reg_covar I`` in the family's shape.

        ``W_k`` is the scatter about the new mean (``m.d`` from the shift),
        divided by ``m.divisor``. Only the part of it that the shape keeps is
        formed (its trace, its diagonal, or its sum over components).
        """

    def constrain(
        self, s: FloatArray, weights: FloatArray, start: InnerState | None, tol: float
    ) -> Constrained:
        """The model's estimate from the unconstrained covariances ``s``.

        It maximises ``-1/2 sum_k n_k (log det Sigma_k + tr(S_k Sigma_k^-1))``
        over the model's covariances, with ``n_k`` the ``weights``. An
        iterative model starts from ``start`` (None: its documented start) and
        stops at the relative tolerance ``tol``. The unconstrained families
        return ``s`` itself.
        """
        return s, None

    def estimate(
        self,
        m: CovarianceStats,
        reg_covar: float,
        *,
        start: InnerState | None = None,
        inner_tol: float | None = None,
    ) -> Constrained:
        """The M-step's covariances: :meth:`unconstrained_covariances`, constrained.

        ``start`` is where the previous M-step's inner iteration ended (None:
        the documented start); ``inner_tol`` its tolerance (None: the family's
        ``inner_tol``).

        Returns
        -------
        covariances : ndarray
            Family-shaped covariances.
        inner : InnerState or None
            Where the inner iteration ended (iterative models only).
        """
        if self.multivariate_model is not None:
            self.check_n_features(m.sx.shape[1])
        s = self.unconstrained_covariances(m, reg_covar)
        tol = self.inner_tol if inner_tol is None else inner_tol
        return self.constrain(s, m.divisor, start, tol)

    def covariances(
        self,
        sxx: FloatArray,
        sx: FloatArray,
        nk: FloatArray,
        nk_eps: FloatArray,
        d: FloatArray,
        reg_covar: float,
    ) -> FloatArray:
        """Covariances from statistics about a shift (:meth:`estimate`).

        ``d = means - shift``; ``nk_eps`` is ``nk`` plus scikit-learn's tiny
        offset, used as the divisor. An iterative model starts from its
        documented start.
        """
        return self.estimate(CovarianceStats(sxx, sx, nk, nk_eps, d), reg_covar)[0]

    @abstractmethod
    def conditional_variances(
        self, covariances: FloatArray, precisions_cholesky: FloatArray, n_features: int
    ) -> FloatArray:
        """Variance of each feature given the previous ones, per component, ``(K', D)``.

        For full matrices these are ``1 / diag(U)^2``; they are all positive for a
        positive-definite covariance and tend to zero as it becomes singular.
        ``K'`` is 1 for a shared covariance.
        """

    @abstractmethod
    def add_to_diagonal(
        self, covariances: FloatArray, which: BoolArray, amount: FloatArray
    ) -> FloatArray:
        """Return covariances with ``amount[k]`` added to the diagonal where ``which``."""

    @abstractmethod
    def principal_axis(
        self, covariances: FloatArray, k: int, n_features: int
    ) -> tuple[float, FloatArray]:
        """Largest variance of component ``k`` and its (unit) direction."""

    @abstractmethod
    def scatter_diagonal(self, sxx: FloatArray, n_features: int) -> FloatArray:
        """Per-feature second moment summed over components, shape ``(D,)``."""

    @abstractmethod
    def recenter_scatter(
        self, sxx: FloatArray, nk: FloatArray, sx: FloatArray, delta: FloatArray
    ) -> FloatArray:
        """Second moments about ``shift - delta`` from those about ``shift``."""

    # ----------------------------------------------------------------- E-step
    @abstractmethod
    def n_moments(self, n_components: int, n_features: int) -> int:
        """Length of the flat moment vector of one chunk."""

    @abstractmethod
    def moment_design(self, xcT: FloatArray, n_components: int) -> FloatArray | None:
        """Design rows of a chunk, shape ``(n_design, n_rows)`` (None if unused)."""

    @abstractmethod
    def prepare(
        self, params: GMMParams, shift: FloatArray, dtype: DType, log_weights: bool
    ) -> Prepared:
        """Precompute the kernels' coefficients for one pass."""

    @abstractmethod
    def log_prob_T(
        self, xcT: FloatArray, Z: FloatArray | None, prep: Prepared
    ) -> FloatArray:
        """Log-densities ``(n_components, n_rows)`` of a centred chunk."""

    @abstractmethod
    def moments(
        self, R: FloatArray, Z: FloatArray | None, xcT: FloatArray, rw: FloatArray
    ) -> FloatArray:
        """Flat float64 moments of a chunk from weighted responsibilities ``R``.

        ``R`` is ``(n_components, n_rows)`` and already includes the sample
        weights; ``rw`` is its column sums (the tied family needs them).
        """

    @abstractmethod
    def unpack(
        self, flat: FloatArray, n_components: int, n_features: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(nk, sx, sxx)`` from a (summed) flat moment vector."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
