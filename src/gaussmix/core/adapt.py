"""MAP adaptation of a fitted mixture to new data, for every covariance family.

A *prior model* (for speaker recognition, the universal background model) is
moved towards the statistics of new data by one maximum a posteriori step
(Gauvain & Lee 1994; Reynolds, Quatieri & Dunn 2000). The prior counts as
``r`` pseudo-observations per component placed at its own parameters, ``r``
being the *relevance factor*: a component that the data give a mass ``n_k``
moves by the share ``alpha_k = n_k / (n_k + r)``.

How each parameter is adapted:

* **means** (every family): ``mu_k' = alpha_k xbar_k + (1 - alpha_k) mu_k``,
  with ``xbar_k`` the data's mean under component ``k``;
* **covariances**: the family's own M-step on the *augmented statistics*
  (:func:`map_statistics`): the data's statistics plus, for each component,
  ``r`` pseudo-observations with mean ``mu_k`` and covariance ``Sigma_k``
  (count ``r``, first moment ``r mu_k``, second moment
  ``r (Sigma_k + mu_k mu_k^T)``). The M-step maximises
  ``sum_k (n_k + r) (log det Sigma_k + tr(S_k' Sigma_k^-1))`` under the
  family's constraints, with ``S_k'`` the augmented scatter about the adapted
  mean over ``n_k + r``. For the unconstrained families (full, diag,
  spherical; mclust's VVV, VVI, VII, V) that is the closed form
  ``alpha_k S_k + (1 - alpha_k) Sigma_k + alpha_k (1 - alpha_k) g_k g_k^T``
  with ``S_k`` the data's covariance and ``g_k = xbar_k - mu_k`` (Reynolds et
  al.'s eq. 13 for diag). **Shared and constrained families:** the shared
  parts are estimated from every component's augmented statistics. The tied
  covariance (mclust EEE) is the pooled augmented scatter over
  ``N + K r``: the prior's covariance counts as ``K r`` observations, ``r``
  per component, and the data's share is ``N / (N + K r)``. A common volume,
  shape or orientation (EII, EEI, VEI, EVE, ...) is likewise estimated from
  all components, so a component the data do not reach still follows the
  parts it shares with the others, and the result keeps the family's
  structure;
* **weights**: Reynolds et al.'s blend ``w_k' = gamma (alpha_k n_k / N +
  (1 - alpha_k) w_k)``, ``gamma`` making them sum to one (not the M-step of
  the augmented statistics).

Parameters not named in ``adapt`` are the prior's. When the means are kept,
the covariances are estimated about the prior's means.

``r = inf`` returns the prior model (its weights renormalised if adapted);
``r = 0`` is the maximum-likelihood M-step from the prior model's
responsibilities. A component whose share ``alpha_k`` rounds to zero keeps its
mean exactly, and its covariance and precision exactly too in the families
whose components share no covariance parameter.

**With frozen parameters** (:mod:`gaussmix.core.frozen`). Mean-only adaptation
is one EM step with the weights and covariances frozen at the prior model's,
on the augmented statistics: :func:`relevance_m_step` with the default
``frozen=("weights", "covariances")`` gives ``(sx_k + r (mu_k - c)) / (n_k +
r)``, Reynolds et al.'s mean (up to scikit-learn's ``10 eps`` in the divisor),
and with ``r = 0`` the maximum-likelihood mean update of EM with those two
parameters frozen (``GaussianMixture(frozen=("weights", "covariances"))``
started from the prior model). Repeating it, each time from the new
responsibilities but with the pseudo-observations still at the prior model's
means, is MAP-EM under the prior ``mu_k ~ N(mu_k^prior, Sigma_k / r)``: it
never decreases the log-posterior. Other frozen subsets are MAP-EM too: free
covariances take the augmented M-step above (about the current means), free
weights ``(n_k + r) / (N + K r)`` (a Dirichlet prior of concentration
``r + 1``, not Reynolds et al.'s blend, which :func:`map_m_step` keeps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gaussmix._typing import FloatArray
from gaussmix.core.family import CovarianceFamily, CovarianceStats
from gaussmix.core.mstep import Repair, m_step
from gaussmix.core.params import GMMParams, InnerState
from gaussmix.core.stats import SuffStats

__all__ = ["ADAPTABLE", "map_m_step", "map_statistics", "relevance_m_step"]

#: The parameters MAP adaptation can adapt, in the order they are listed.
ADAPTABLE: Final = ("means", "variances", "weights")

BoolArray = npt.NDArray[np.bool_]


def _relevance(relevance: float) -> float:
    r = float(relevance)
    if math.isnan(r) or r < 0:
        raise ValueError(f"relevance must be a number >= 0 (16 is usual), got {r}")
    return r


def _component_moments(
    family: CovarianceFamily, covariances: FloatArray, offsets: FloatArray
) -> FloatArray:
    """Family-shaped second moments about a shift of Gaussians at ``shift + offsets``.

    Component ``k`` has mean ``shift + offsets[k]`` and covariance
    ``covariances[k]``; its second moment about the shift is
    ``Sigma_k + offsets_k offsets_k^T``, stored as the statistics store it:
    ``(K, D, D)`` full, summed over components ``(D, D)`` for a shared matrix,
    the diagonal ``(K, D)`` for diagonal families, the trace ``(K,)``
    for spherical ones.
    """
    n_components, n_features = offsets.shape
    if family.matrix:
        outer = offsets[:, :, None] * offsets[:, None, :]
        if family.shared:
            return np.asarray(n_components * covariances + outer.sum(axis=0))
        return np.asarray(covariances + outer)
    if family.per_feature:
        return np.asarray(covariances + offsets * offsets)
    return np.asarray(n_features * covariances + np.sum(offsets * offsets, axis=1))


def map_statistics(
    stats: SuffStats,
    prior: GMMParams,
    family: CovarianceFamily,
    relevance: float,
) -> SuffStats:
    """The data's statistics plus ``relevance`` pseudo-observations per component.

    The pseudo-observations of component ``k`` have the prior's mean ``mu_k``
    and covariance ``Sigma_k``: they add ``r`` to ``nk[k]``, ``r (mu_k - c)``
    to ``sx[k]`` and ``r (Sigma_k + (mu_k - c)(mu_k - c)^T)`` (family-shaped)
    to the second moment, ``c`` being the statistics' shift. The ordinary
    M-step of these statistics is the MAP estimate under the prior model; see
    the module notes (and :func:`map_m_step`, which computes it for each
    parameter as MAP adaptation defines it).

    Parameters
    ----------
    stats : SuffStats
        Statistics of the new data under the prior model's responsibilities.
    prior : GMMParams
        The prior model (no noise component), float64.
    family : CovarianceFamily
        The prior model's covariance family.
    relevance : float
        ``r``, finite and non-negative.

    Returns
    -------
    SuffStats
        The augmented statistics, about the same shift; ``weight`` includes
        the ``K r`` pseudo-observations, ``n_samples`` counts the data's rows.

    Raises
    ------
    ValueError
        If ``relevance`` is negative, NaN or infinite.
    """
    r = _relevance(relevance)
    if math.isinf(r):
        raise ValueError("relevance must be finite for augmented statistics")
    offsets = prior.means - stats.shift
    moments = _component_moments(family, prior.covariances, offsets)
    return SuffStats(
        nk=stats.nk + r,
        sx=stats.sx + r * offsets,
        sxx=stats.sxx + r * moments,
        shift=stats.shift,
        loglik=stats.loglik,
        weight=stats.weight + r * prior.n_components,
        n_samples=stats.n_samples,
    )


def _separable(family: CovarianceFamily, n_components: int, n_features: int) -> bool:
    """Whether no covariance parameter is shared between components.

    Then the K components have K times the parameters of one, and each
    component's covariance is estimated from its own statistics alone.
    """
    if family.shared:
        return False
    one = family.n_covariance_parameters(1, n_features)
    return family.n_covariance_parameters(n_components, n_features) == (
        n_components * one
    )


def _per_component(family: CovarianceFamily, same: BoolArray) -> BoolArray:
    """An elementwise comparison of family-shaped arrays, reduced per component."""
    if family.shared:
        return np.asarray([bool(np.all(same))])
    return np.asarray(np.all(same.reshape(same.shape[0], -1), axis=1))


def _apply_floor(
    family: CovarianceFamily, covariances: FloatArray, floor: float
) -> FloatArray:
    """Variances (matrix families: eigenvalues) below ``floor`` raised to it."""
    if floor <= 0.0:
        return covariances
    if not family.matrix:
        return np.maximum(covariances, floor)
    stack = covariances.reshape(-1, *covariances.shape[-2:])
    values, vectors = np.linalg.eigh(stack)
    low = np.any(values < floor, axis=1)
    if not low.any():
        return covariances
    out = stack.copy()
    raised = np.maximum(values[low], floor)
    out[low] = (vectors[low] * raised[:, None, :]) @ np.swapaxes(vectors[low], 1, 2)
    return out.reshape(covariances.shape)


def map_m_step(
    stats: SuffStats,
    prior: GMMParams,
    family: CovarianceFamily,
    relevance: float,
    *,
    adapt: Sequence[str] = ADAPTABLE,
    variance_floor: float = 0.0,
) -> GMMParams:
    """The prior model after one MAP step towards the data of ``stats``.

    See the module notes for what each parameter becomes, for every family.

    Parameters
    ----------
    stats : SuffStats
        Statistics of the new data under the prior model's responsibilities
        (an E-step of the data with ``prior``).
    prior : GMMParams
        The prior model, float64, without a noise component.
    family : CovarianceFamily
        Its covariance family: any registered one
        (:func:`gaussmix.core.covariance.get_family`), scikit-learn's or mclust's.
    relevance : float
        ``r >= 0``; ``math.inf`` returns the prior model.
    adapt : sequence of {'means', 'variances', 'weights'}, default=all three
        The parameters to adapt; the others are the prior's.
    variance_floor : float, default=0.0
        Smallest adapted variance (for matrix families: eigenvalue) of the
        family's M-step result. It may break a constrained family's structure
        only for a covariance that falls below it.

    Returns
    -------
    GMMParams
        The adapted parameters, float64. Covariances equal to the prior's
        keep the prior's precision factors, bit for bit.

    Raises
    ------
    ValueError
        For a prior with a noise component, an unknown name in ``adapt``, a
        negative or NaN ``relevance`` or ``variance_floor``, or an adapted
        covariance that is not positive definite (``r = 0`` on too few points:
        use ``variance_floor > 0`` or ``r > 0``).
    """
    names = tuple(adapt)
    if not names or not set(names) <= set(ADAPTABLE):
        raise ValueError(f"adapt must name one or more of {ADAPTABLE}, got {adapt!r}")
    r = _relevance(relevance)
    floor = float(variance_floor)
    if math.isnan(floor) or floor < 0:
        raise ValueError(f"variance_floor must be >= 0, got {floor}")
    if prior.has_noise:
        raise ValueError("MAP adaptation of a mixture with a noise component")
    n = np.asarray(stats.nk, dtype=np.float64)
    alpha = np.zeros_like(n)
    if math.isfinite(r):
        np.divide(n, n + r, out=alpha, where=(n + r) > 0)
    untouched = (1.0 - alpha) == 1.0  # the data's share rounds to zero

    means = prior.means
    if "means" in names:
        xbar = stats.shift + stats.sx / np.where(n > 0, n, 1.0)[:, None]
        means = alpha[:, None] * xbar + (1.0 - alpha[:, None]) * prior.means

    covariances = prior.covariances
    precisions_cholesky = prior.precisions_cholesky
    inner = prior.inner
    if "variances" in names and not untouched.all():
        covariances, inner = _map_covariances(stats, prior, family, r, means, untouched)
        covariances = _apply_floor(family, covariances, floor)
        precisions_cholesky, failed = family.precisions_cholesky(covariances)
        if failed.any():
            raise ValueError(
                f"the adapted covariance(s) of component(s) "
                f"{np.flatnonzero(failed).tolist()} are not positive definite "
                "(too few points for a relevance factor of 0); use a positive "
                "relevance factor or variance floor"
            )
        same = _per_component(family, covariances == prior.covariances)
        if family.shared:
            if same.all():
                precisions_cholesky = prior.precisions_cholesky
        else:
            precisions_cholesky = np.array(precisions_cholesky)
            precisions_cholesky[same] = prior.precisions_cholesky[same]

    weights = prior.weights
    if "weights" in names:
        total = float(stats.weight)
        share = n / total if total > 0 else np.zeros_like(n)
        mixed = alpha * share + (1.0 - alpha) * prior.weights
        weights = mixed / mixed.sum()
    return GMMParams(
        weights=weights,
        means=means,
        covariances=covariances,
        precisions_cholesky=precisions_cholesky,
        inner=inner,
    )


def _map_covariances(
    stats: SuffStats,
    prior: GMMParams,
    family: CovarianceFamily,
    r: float,
    means: FloatArray,
    untouched: BoolArray,
) -> tuple[FloatArray, InnerState | None]:
    """The family's M-step of the augmented statistics, about ``means``.

    An iterative family starts from the prior's inner state (None: from its
    documented start).
    """
    augmented = map_statistics(stats, prior, family, r)
    nk = augmented.nk
    divisor = np.where(nk > 0, nk, 1.0)  # r = 0 and no data: a zero scatter
    m = CovarianceStats(
        augmented.sxx, augmented.sx, nk, divisor, means - augmented.shift
    )
    covariances, inner = family.estimate(m, 0.0, start=prior.inner)
    n_components, n_features = means.shape
    if untouched.any() and _separable(family, n_components, n_features):
        # These components' statistics are the prior's pseudo-observations
        # alone, whose M-step is the prior's covariance up to rounding.
        covariances = covariances.copy()
        covariances[untouched] = prior.covariances[untouched]
    return covariances, inner


def relevance_m_step(
    stats: SuffStats,
    prior: GMMParams,
    family: CovarianceFamily,
    relevance: float,
    *,
    frozen: Sequence[str] = ("weights", "covariances"),
    previous: GMMParams | None = None,
    reg_covar: float = 0.0,
    dtype: np.dtype[Any] | type = np.float64,
) -> tuple[GMMParams, list[Repair]]:
    """One M-step of MAP-EM with the relevance prior of ``prior``, some parameters frozen.

    The M-step (:func:`gaussmix.core.mstep.m_step`) of the augmented statistics
    (:func:`map_statistics`: the data's plus ``relevance`` pseudo-observations
    per component at the prior model's parameters), with the ``frozen``
    parameters kept at ``previous``'s values (see the module notes). With the
    default ``frozen`` and ``previous`` the prior model, it is mean-only MAP
    adaptation, :func:`map_m_step` with ``adapt=("means",)``.

    Parameters
    ----------
    stats : SuffStats
        E-step statistics of the data under ``previous``.
    prior : GMMParams
        The prior model (the UBM), float64, without a noise component.
    family : CovarianceFamily
        Its covariance family.
    relevance : float
        ``r``, finite and non-negative; 0 is the plain (maximum-likelihood)
        conditional M-step.
    frozen : sequence of {'weights', 'means', 'covariances'}, default=('weights', 'covariances')
        Parameters kept at ``previous``'s values.
    previous : GMMParams, default=None
        The parameters of the E-step that made ``stats``; None is ``prior``
        (the first step).
    reg_covar : float, default=0.0
        Added to the diagonal of free covariances.
    dtype : numpy dtype, default=float64
        Dtype of the data (for the M-step's tiny offset).

    Returns
    -------
    params : GMMParams
    repairs : list of Repair
    """
    if prior.has_noise:
        raise ValueError("MAP adaptation of a mixture with a noise component")
    augmented = map_statistics(stats, prior, family, relevance)
    return m_step(
        augmented,
        family,
        reg_covar,
        dtype=dtype,
        previous=prior if previous is None else previous,
        frozen=frozenset(frozen),
    )
