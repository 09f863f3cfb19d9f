"""Whole EM runs in compiled code, for small in-memory data.

:func:`compiled_em` is the bridge between :func:`gaussmix.em.fit_em` and the
compiled loop :func:`gaussmix.core._compiled_em.em_loop`: it says whether a
run can go there (:func:`eligible`), converts the parameters to the loop's
layout and back, and reports where the loop stopped. The loop stops before any
iteration that the NumPy M-step would repair or raise on; ``fit_em`` then
continues from the returned parameters with the NumPy path.

A run goes to the compiled loop when the kernels are loaded
(:mod:`gaussmix.core.kernels`), the data are float64 and small (the limit of
the compiled E-step, :data:`gaussmix.core.estep.COMPILED_MAX_WORK`), the
family is one of mclust's 14 models (scikit-learn's four are among them) or
the univariate E and V, and the fit has no prior, no noise component and free
proportions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gaussmix._typing import FloatArray
from gaussmix.core import kernels
from gaussmix.core.covariance import MCLUST_GROUP, family_names
from gaussmix.core.estep import COMPILED_MAX_WORK
from gaussmix.core.family import CovarianceFamily
from gaussmix.core.mclust_models import MCLUST_MODELS
from gaussmix.core.params import GMMParams, InnerState
from gaussmix.core.sklearn_families import Diag, Full, Spherical, Tied

__all__ = [
    "STORAGE_DIAG",
    "STORAGE_FULL",
    "STORAGE_SPHERICAL",
    "STORAGE_TIED",
    "USE_COMPILED",
    "CellTerms",
    "CompiledRun",
    "compiled_cell",
    "compiled_em",
    "eligible",
    "first_step_log_likelihood",
    "from_layout",
    "storage_shape",
    "to_layout",
]

#: Whether EM runs go to the compiled loop where they can (see the module
#: notes); ``GAUSSMIX_NO_COMPILED=1`` turns it off with the other kernels, and
#: the tests set it to False to run the NumPy path.
USE_COMPILED: bool = kernels.ENABLED

#: The loop's model code of each family class: its model's place in the
#: registry's mclust group (E and V are EII and VII on one feature).
#: Subclasses are not in it: they may change the mathematics.
_ORDER: Final = list(family_names(MCLUST_GROUP))
_MODEL_OF: Final[dict[type, int]] = {
    cls: _ORDER.index(cls.multivariate_model or cls.model)
    for cls in MCLUST_MODELS.values()
}


def _import_loop() -> Any:
    import gaussmix.core._compiled_em as loop  # numba: see gaussmix.core.kernels

    return loop


#: The compiled loop's module, imported on first use.
_compiled_loop: Final = kernels.LazyKernels(_import_loop)


@dataclass(frozen=True, slots=True)
class CompiledRun:
    """Where the compiled loop stopped.

    Parameters
    ----------
    params : GMMParams
        The parameters after the last iteration done.
    n_iter : int
        Iterations done.
    lower_bounds : list of float
        The bound of each iteration done.
    lower_bound : float
        The last bound (or the starting one if no iteration was done).
    converged : bool
        Whether EM converged.
    handed_off : bool
        Whether the next iteration is left to the NumPy path.
    inner_final : bool
        ``fit_em``'s state: EM met ``tol`` with loose inner iterations and
        finishes at the family's own inner tolerance.
    """

    params: GMMParams
    n_iter: int
    lower_bounds: list[float]
    lower_bound: float
    converged: bool
    handed_off: bool
    inner_final: bool


def _takes(X: FloatArray, n_components: int, family: CovarianceFamily) -> bool:
    """Whether the loop takes a fit of ``family`` on ``X`` (data and family only)."""
    if not (USE_COMPILED and kernels.loaded()) or type(family) not in _MODEL_OF:
        return False
    if X.dtype != np.float64 or X.ndim != 2:
        return False
    n_samples, n_features = X.shape
    if family.multivariate_model is not None and n_features != 1:
        return False  # the NumPy path raises the error
    if isinstance(family, Full) and n_features > family.packed_max_features:
        return False
    n_moments = family.n_moments(n_components, n_features)
    return bool(n_samples * n_moments <= COMPILED_MAX_WORK)


def eligible(
    X: FloatArray,
    params: GMMParams,
    family: CovarianceFamily,
    *,
    prior: Any,
    equal_proportions: bool,
) -> bool:
    """Whether :func:`compiled_em` takes this run (see the module notes)."""
    if prior is not None or equal_proportions or params.has_noise:
        return False
    return _takes(X, params.n_components, family)


#: The loop's storage shapes (``_compiled_em.SPHERICAL`` ... ``FULL``).
STORAGE_SPHERICAL, STORAGE_DIAG, STORAGE_TIED, STORAGE_FULL = range(4)


def storage_shape(family: CovarianceFamily) -> int:
    """The loop's code of the family's storage shape."""
    if isinstance(family, Spherical):
        return STORAGE_SPHERICAL
    if isinstance(family, Diag):
        return STORAGE_DIAG
    return STORAGE_TIED if isinstance(family, Tied) else STORAGE_FULL


def to_layout(
    a: FloatArray, code_shape: int, n_components: int, n_features: int
) -> FloatArray:
    """Covariances (or factors) in the family's shape as a ``(K, D, D)`` stack.

    The loop's layout (see :mod:`gaussmix.core._compiled_em`): the variances
    on the diagonals, ``K`` copies of a tied matrix.
    """
    a = np.asarray(a, dtype=np.float64)
    if code_shape == STORAGE_TIED:
        out = np.empty((n_components, n_features, n_features))
        out[:] = a
        return out
    if code_shape == STORAGE_FULL:
        return np.array(a, order="C")
    out = np.zeros((n_components, n_features, n_features))
    idx = np.arange(n_features)
    out[:, idx, idx] = a[:, None] if code_shape == STORAGE_SPHERICAL else a
    return out


def from_layout(code_shape: int, cov: FloatArray) -> FloatArray:
    """The family's shape of a ``(K, D, D)`` stack (inverse of :func:`to_layout`)."""
    if code_shape == STORAGE_SPHERICAL:
        return np.array(cov[:, 0, 0])
    if code_shape == STORAGE_DIAG:
        return np.array(np.diagonal(cov, axis1=1, axis2=2))
    if code_shape == STORAGE_TIED:
        return np.array(cov[0])
    return np.array(cov)


def compiled_em(
    X: FloatArray,
    sample_weight: FloatArray | None,
    params: GMMParams,
    family: CovarianceFamily,
    *,
    tol: float,
    relative_tol: bool,
    max_iter: int,
    reg_covar: float,
    lower_bound: float,
    inner_final: bool = False,
) -> CompiledRun | None:
    """EM by the compiled loop from ``params``; None if the kernels are missing.

    The caller checks :func:`eligible` first. The arguments are those of
    :func:`gaussmix.em.fit_em` (``max_iter`` the iterations left), and
    ``inner_final`` its state (see :class:`CompiledRun`).
    """
    module = _compiled_loop.get()
    if module is None:
        return None
    model = _MODEL_OF[type(family)]
    code_shape = storage_shape(family)
    n_components, n_features = params.means.shape
    cov = to_layout(params.covariances, code_shape, n_components, n_features)
    pc = to_layout(params.precisions_cholesky, code_shape, n_components, n_features)
    carries_shape = model in module.CARRIES_SHAPE
    carries_orientation = model in module.CARRIES_ORIENTATION
    shape, orientation = _inner_start(
        carries_shape, carries_orientation, params.inner, n_features
    )
    weights = np.array(params.weights, dtype=np.float64)
    means = np.array(params.means, dtype=np.float64, order="C")
    state = (weights, means, cov, pc, shape, orientation)
    control = _control(module, model, family, tol, relative_tol, max_iter, reg_covar)
    status, n_iter, bounds, bound, inner_final, inner_n_iter, inner_converged = (
        module.em_loop(
            model,
            code_shape,
            np.ascontiguousarray(X),
            np.empty(0)
            if sample_weight is None
            else np.ascontiguousarray(sample_weight, dtype=np.float64),
            state,
            control,
            float(lower_bound),
            bool(inner_final),
        )
    )
    out = (
        params
        if n_iter == 0
        else _params_of(module, model, family, state, inner_n_iter, inner_converged)
    )
    return CompiledRun(
        params=out,
        n_iter=int(n_iter),
        lower_bounds=[float(b) for b in bounds],
        lower_bound=float(bound),
        converged=status == module.CONVERGED,
        handed_off=status == module.HANDOFF,
        inner_final=bool(inner_final),
    )


def _params_of(
    module: Any,
    model: int,
    family: CovarianceFamily,
    state: tuple[Any, ...],
    inner_n_iter: int,
    inner_converged: bool,
) -> GMMParams:
    """The loop's state as the family's parameters (its shapes, its factors)."""
    weights, means, cov, _, shape, orientation = state
    covariances = from_layout(storage_shape(family), cov)
    factors, _ = family.precisions_cholesky(covariances)
    inner = None
    carries_shape = model in module.CARRIES_SHAPE
    carries_orientation = model in module.CARRIES_ORIENTATION
    if carries_shape or carries_orientation:
        inner = InnerState(
            shape=shape if carries_shape else None,
            orientation=orientation if carries_orientation else None,
            n_iter=int(inner_n_iter),
            converged=bool(inner_converged),
        )
    return GMMParams(weights, means, covariances, factors, inner=inner)


def _inner_start(
    carries_shape: bool,
    carries_orientation: bool,
    inner: InnerState | None,
    n_features: int,
) -> tuple[FloatArray, FloatArray]:
    """The iterative model's start: the previous common terms, or ``A = I``, ``D = I``.

    As ``_start_shape`` and ``_start_orientation`` of
    :mod:`gaussmix.core.mclust_models` (VEE carries both, and needs both or
    starts afresh).
    """
    shape = np.ones(n_features)
    orientation = np.eye(n_features)
    if inner is None:
        return shape, orientation
    has_shape = inner.shape is not None and inner.shape.shape == (n_features,)
    has_orientation = inner.orientation is not None and inner.orientation.shape == (
        n_features,
        n_features,
    )
    if carries_shape and carries_orientation and not (has_shape and has_orientation):
        return shape, orientation
    if has_shape and carries_shape:
        shape = np.array(inner.shape, dtype=np.float64)
    if has_orientation and carries_orientation:
        orientation = np.array(inner.orientation, dtype=np.float64, order="C")
    return shape, orientation


@dataclass(frozen=True, slots=True)
class CellTerms:
    """What a selection grid's cell needs of a fit (:func:`compiled_cell`).

    Parameters
    ----------
    log_likelihood : float
        ``sum_i log p(x_i)`` under the fitted parameters.
    entropy : float
        ``sum_i log max_k resp_ik`` (ICL's term).
    n_iter : int
        EM iterations.
    converged : bool
        Whether EM converged.
    """

    log_likelihood: float
    entropy: float
    n_iter: int
    converged: bool


def compiled_cell(
    X: FloatArray,
    labels: npt.NDArray[np.integer[Any]],
    n_components: int,
    family: CovarianceFamily,
    *,
    tol: float,
    relative_tol: bool,
    max_iter: int,
    reg_covar: float,
) -> CellTerms | CompiledRun | None:
    """A whole fit from hard labels in compiled code, and its criteria's terms.

    The first M-step from ``labels`` (``-1``: a row left out), EM and the
    log-likelihood and entropy of the result, as the estimator computes them
    (``fitting._initial_gaussians``, :func:`gaussmix.em.fit_em`,
    :meth:`gaussmix.model.MixtureModel.criteria`) without sample weights, a
    prior, noise or equal proportions. None when the kernels do not take the
    fit or when the first M-step needs a repair: the caller then runs the
    NumPy path. When an EM iteration may need one, the run so far
    (:class:`CompiledRun`, ``handed_off``), from which the caller goes on
    with :func:`gaussmix.em.fit_em`.
    """
    module = _compiled_loop.get()
    if module is None or max_iter < 1 or not _takes(X, n_components, family):
        return None
    model = _MODEL_OF[type(family)]
    control = _control(module, model, family, tol, relative_tol, max_iter, reg_covar)
    status, n_iter, bound, inner_final, inner_n_iter, inner_converged, *rest = (
        _whole_cell(module, model, family, X, labels, n_components, control)
    )
    loglik, entropy, packed = rest
    if status == module.FIRST_STEP_REPAIR:
        return None
    if status == module.HANDOFF:
        # The next iteration may need a repair: the caller goes on from here.
        bounds, state = _unpack_handoff(packed, n_iter, n_components, X.shape[1])
        return CompiledRun(
            params=_params_of(
                module, model, family, state, inner_n_iter, inner_converged
            ),
            n_iter=int(n_iter),
            lower_bounds=[float(b) for b in bounds],
            lower_bound=float(bound),
            converged=False,
            handed_off=True,
            inner_final=bool(inner_final),
        )
    return CellTerms(
        float(loglik), float(entropy), int(n_iter), status == module.CONVERGED
    )


def _whole_cell(
    module: Any,
    model: int,
    family: CovarianceFamily,
    X: FloatArray,
    labels: npt.NDArray[np.integer[Any]],
    n_components: int,
    control: tuple[float, bool, int, float, float, int],
) -> tuple[Any, ...]:
    """``_compiled_em.whole_cell`` on contiguous float64 data and int64 labels."""
    found: tuple[Any, ...] = module.whole_cell(
        model,
        storage_shape(family),
        np.ascontiguousarray(X),
        np.ascontiguousarray(labels, dtype=np.int64),
        int(n_components),
        control,
    )
    return found


def first_step_log_likelihood(
    X: FloatArray,
    labels: npt.NDArray[np.integer[Any]],
    n_components: int,
    family: CovarianceFamily,
    *,
    reg_covar: float,
) -> float | None:
    """The log-likelihood of the M-step from hard labels, in compiled code.

    The parameters of one M-step from the one-hot responsibilities of
    ``labels`` (as :func:`compiled_cell`'s first step), and ``sum_i log p(x_i)``
    of the mixture they make. NaN where that M-step needs a repair (a
    singular covariance: mclust's NA); None where the kernels do not take the
    fit (the caller runs the NumPy M-step). Model-based discriminant analysis
    (:class:`gaussmix.MixtureClassifier`, mclust's EDDA) scores every
    covariance model this way.
    """
    module = _compiled_loop.get()
    if module is None or not _takes(X, n_components, family):
        return None
    model = _MODEL_OF[type(family)]
    # EM of no iteration: the first M-step, then the log terms at its parameters.
    control = _control(module, model, family, 0.0, True, 0, reg_covar)
    status, *_, loglik, _entropy, _packed = _whole_cell(
        module, model, family, X, labels, n_components, control
    )
    if status == module.FIRST_STEP_REPAIR:
        return math.nan
    return float(loglik)


def _unpack_handoff(
    packed: FloatArray, n_iter: int, n_components: int, n_features: int
) -> tuple[FloatArray, tuple[Any, ...]]:
    """The bounds and the state cut out of ``_compiled_em._pack_handoff``'s array.

    The state as the loop holds it (``weights, means, covariances, factors,
    inner shape, inner orientation``), without the factors (None), which
    :func:`_params_of` computes again from the covariances.
    """
    k, d = n_components, n_features
    sizes = (n_iter, k, k * d, k * d * d, d, d * d)
    cuts = np.cumsum(sizes)[:-1]
    bounds, weights, means, cov, shape, orientation = np.split(packed, cuts)
    state = (
        weights,
        means.reshape(k, d),
        cov.reshape(k, d, d),
        None,
        shape,
        orientation.reshape(d, d),
    )
    return bounds, state


def _control(
    module: Any,
    model: int,
    family: CovarianceFamily,
    tol: float,
    relative_tol: bool,
    max_iter: int,
    reg_covar: float,
) -> tuple[float, bool, int, float, float, int]:
    """The loop's ``Control``: the stopping rule and the M-step's options."""
    carries = model in module.CARRIES_SHAPE or model in module.CARRIES_ORIENTATION
    return (
        float(tol),
        bool(relative_tol),
        int(max_iter),
        float(reg_covar),
        float(family.inner_tol) if carries else 0.0,
        int(family.inner_max_iter) if carries else 0,
    )
