"""The M-step: parameters from sufficient statistics, with collapse recovery.

The M-step sees only :class:`~gaussmix.core.stats.SuffStats`, never the data, so
every driver (in memory, chunked, distributed, online) shares it.

Two degenerate cases are repaired here instead of failing the fit, and each
repair is returned as a :class:`Repair` record for the caller to report:

* **empty component** (its responsibility mass fell below
  ``EMPTY_FRACTION`` of the total weight): it is re-seeded by splitting the
  component with the largest ``weight * variance`` along its principal axis,
  the two halves sharing that component's weight;
* **collapsed covariance** (not positive definite even after ``reg_covar``, or
  with a variance below ``COLLAPSE_RELATIVE`` of the data's variance of that
  feature: duplicated points, a constant feature with ``reg_covar=0``, a
  component on fewer points than features): a small multiple of the data's
  variance is added to its diagonal, growing tenfold until it is sound.
"""

from __future__ import annotations

import math
from collections.abc import Set
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from gaussmix.core.family import CovarianceFamily, CovarianceStats
from gaussmix.core.frozen import FREEZABLE
from gaussmix.core.numerics import (
    COLLAPSE_RELATIVE,
    VARIANCE_ROUNDING,
    StatisticsOverflowError,
    overflow_error,
)
from gaussmix.core.params import GMMParams
from gaussmix.core.prior import ConjugatePrior, augment
from gaussmix.core.stats import NoiseStats, SuffStats

__all__ = [
    "COLLAPSE_RELATIVE",
    "EMPTY_FRACTION",
    "Repair",
    "StatisticsOverflowError",
    "m_step",
    "overflow_error",
    "params_from_precisions",
]

#: A component whose share of the total weight falls below this is empty.
EMPTY_FRACTION: Final = 1e-10
#: First amount added to a collapsed covariance, relative to the data variance.
REPAIR_RELATIVE: Final = 1e-6
_MAX_REPAIR_STEPS: Final = 12
_TINY: Final = float(np.finfo(np.float64).tiny)
_EPS: dict[Any, float] = {}


def _machine_eps(dtype: Any) -> float:
    """``float(np.finfo(dtype).eps)``, cached (``finfo`` costs microseconds a call)."""
    eps = _EPS.get(dtype)
    if eps is None:
        eps = _EPS[dtype] = float(np.finfo(dtype).eps)
    return eps


@dataclass(frozen=True, slots=True)
class Repair:
    """One repair made by the M-step.

    Parameters
    ----------
    kind : {"empty", "singular"}
        What went wrong.
    component : int
        Index of the repaired component (``-1`` for the tied covariance).
    detail : str
        What happened and what was done.
    advice : str
        How to avoid it.
    """

    kind: Literal["empty", "singular"]
    component: int
    detail: str
    advice: str


def _feature_variances(stats: SuffStats, family: CovarianceFamily) -> np.ndarray:
    """Per-feature variance of the data, recovered from the statistics, ``(D,)``.

    Features with zero variance (constant) get the mean variance of the others;
    if every feature is constant, a scale the float format can still resolve.
    """
    n_features = stats.sx.shape[1]
    total = float(stats.nk.sum())
    if total > 0.0:
        second = family.scatter_diagonal(stats.sxx, n_features) / total
        first = stats.sx.sum(axis=0) / total
        var = second - first * first
        magnitude = np.abs(second) + first * first
    else:
        var = magnitude = np.zeros(n_features)
    if not family.per_feature:
        # Only the total scatter is known: the mean variance is right, per feature not.
        # (sum / n is what np.mean computes, without its Python overhead.)
        var = np.full(n_features, float(var.sum() / n_features))
        magnitude = np.full(n_features, float(magnitude.sum() / n_features))
    # A variance within the rounding of ``second - first**2`` is zero: a constant
    # feature gives 0 or a few ulps of its mean square depending on how the
    # weights round (all 1, or all 1e306 rescaled).
    var = np.where(var > VARIANCE_ROUNDING * magnitude, var, 0.0)
    good = np.isfinite(var) & (var > 0.0)
    if good.all():
        return np.asarray(var)
    if good.any():
        return np.where(good, var, float(np.mean(var[good])))
    scale = 1e-12 * (1.0 + float(np.max(np.abs(stats.shift), initial=0.0))) ** 2
    return np.full(n_features, scale)


def _collapsed(
    family: CovarianceFamily,
    covariances: np.ndarray,
    precisions_cholesky: np.ndarray,
    failed: np.ndarray,
    reference: np.ndarray,
) -> np.ndarray:
    """Components that failed to factor or whose variance collapsed (``(K',)``)."""
    n_features = reference.size
    cond = family.conditional_variances(covariances, precisions_cholesky, n_features)
    if not failed.any():
        # Factored components have finite conditional variances: no NaN to compare.
        return np.asarray(failed | ~(cond >= COLLAPSE_RELATIVE * reference).all(axis=1))
    with np.errstate(invalid="ignore"):
        tiny = ~np.all(cond >= COLLAPSE_RELATIVE * reference, axis=1)
    return np.asarray(failed | tiny)


def m_step(
    stats: SuffStats,
    family: CovarianceFamily,
    reg_covar: float,
    *,
    prior: ConjugatePrior | None = None,
    equal_proportions: bool = False,
    dtype: np.dtype[Any] | type = np.float64,
    previous: GMMParams | None = None,
    inner_tol: float | None = None,
    frozen: Set[str] = frozenset(),
) -> tuple[GMMParams, list[Repair]]:
    """Parameters that maximise the expected log-likelihood given ``stats``.

    With a ``prior``, they maximise the expected log-likelihood plus the log
    prior density instead (MAP-EM, mclust's M-step with ``prior``; see
    :mod:`gaussmix.core.prior`).

    Parameters
    ----------
    stats : SuffStats
        Statistics of an E-step pass (or of initial responsibilities).
    family : CovarianceFamily
        Covariance family.
    reg_covar : float
        Non-negative amount added to the diagonal of each covariance.
    prior : ConjugatePrior, default=None
        mclust's conjugate prior on the means and covariances (the weights have
        none); None is maximum likelihood.
    equal_proportions : bool, default=False
        Keep every weight at ``1 / n_components`` (mclust's ``equalPro``); with
        a noise component, at ``(1 - noise_weight) / n_components``.
    dtype : numpy dtype, default=float64
        Dtype of the data: its machine epsilon sets the tiny offset that
        scikit-learn adds to ``nk`` (``10 * eps``), kept for identical results.
    previous : GMMParams, default=None
        The parameters this M-step updates (those of the E-step that made
        ``stats``). An iterative family (mclust's VEI, VEV, VEE, EVE, VVE)
        starts its inner iteration from ``previous.inner``; None (or
        ``previous.inner`` None) starts it from the documented start (the
        first M-step of a fit).
    inner_tol : float, default=None
        Relative tolerance of an iterative family's inner iteration; None is
        the family's ``inner_tol``. Ignored by the other families.
    frozen : set of {'weights', 'means', 'covariances'}, default=empty
        Parameters kept at ``previous``'s values (:mod:`gaussmix.core.frozen`);
        the others take their conditional maximum given them (covariances:
        the scatter about the frozen means). Frozen covariances keep their
        precision factors and inner state bit for bit (no inner iteration),
        and are never repaired; an empty component is not re-seeded when
        anything is frozen (its free mean stays ``previous``'s). Needs
        ``previous``.

    Returns
    -------
    params : GMMParams
        Finite float64 parameters, with ``inner`` set by an iterative family
        (the start of the next M-step). For :class:`~gaussmix.core.stats.NoiseStats`
        they include the noise component: every proportion is its
        responsibility mass over the total weight (mclust's M-step).
    repairs : list of Repair
        What was repaired, if anything.
    """
    repairs: list[Repair] = []
    nk = np.asarray(stats.nk, dtype=np.float64)
    total = float(nk.sum())
    # A sum is finite exactly when its terms are (or it overflows itself): one
    # cheap test instead of three isfinite scans. Non-finite statistics would
    # otherwise reach LAPACK, which may not return on them.
    if not math.isfinite(total + float(stats.sx.sum()) + float(stats.sxx.sum())):
        raise overflow_error(
            "The M-step's statistics (weighted sums of the data and their squares)"
        )
    # scikit-learn adds 10 eps to each nk; in units of the mean sample weight, so that
    # scaling every weight by a constant does not change the fit.
    mean_weight = stats.weight / stats.n_samples if stats.n_samples else 1.0
    eps = 10.0 * _machine_eps(dtype) * mean_weight
    nk_eps = nk + eps
    if prior is None:
        d = stats.sx / nk_eps[:, None]
        means = stats.shift + d
        m = CovarianceStats(stats.sxx, stats.sx, nk, nk_eps, d)
    else:
        aug = augment(prior, family, stats.sxx, stats.sx, nk, nk_eps, stats.shift)
        means = stats.shift + aug.mean_offset
        m = aug.stats
    empty = nk < EMPTY_FRACTION * max(total, _TINY)
    if frozen:
        previous = _frozen_previous(frozen, previous)
        if "means" in frozen:
            means = np.asarray(previous.means, dtype=np.float64)  # no copy
            m = m._replace(d=means - stats.shift)  # the scatter about them
        elif empty.any():
            means = np.where(empty[:, None], previous.means, means)
    if "covariances" in frozen:
        assert previous is not None
        covariances, inner = previous.covariances, previous.inner
    else:
        start = None if previous is None else previous.inner
        covariances, inner = family.estimate(
            m, reg_covar, start=start, inner_tol=inner_tol
        )
    weights = nk_eps.copy()

    if empty.any() and not empty.all() and not frozen:
        means, covariances, weights = _reseed(
            family, means, covariances, weights, empty, repairs
        )

    if "covariances" in frozen:
        assert previous is not None
        precisions_cholesky = previous.precisions_cholesky
    else:
        precisions_cholesky, failed = family.precisions_cholesky(covariances)
        reference = _feature_variances(stats, family)
        failed = _collapsed(family, covariances, precisions_cholesky, failed, reference)
        if failed.any():
            covariances, precisions_cholesky = _repair_singular(
                family, reference, covariances, failed, repairs
            )
    noise_weight, noise_log_density = 0.0, None
    if not isinstance(stats, NoiseStats):
        weights = weights / weights.sum()
        if equal_proportions:
            weights = np.full_like(weights, 1.0 / weights.shape[0])
    else:
        # mclust's M-step with a noise component: every proportion (the noise's
        # too) is its responsibility mass over the total; equal proportions
        # share 1 - pi_0.
        noise = max(float(stats.noise), 0.0)
        total_mass = float(weights.sum()) + noise
        noise_weight = noise / total_mass
        weights = weights / total_mass
        if equal_proportions:
            weights = np.full_like(weights, (1.0 - noise_weight) / weights.shape[0])
        noise_log_density = float(stats.noise_log_density)
    if "weights" in frozen:
        assert previous is not None
        weights = np.asarray(previous.weights, dtype=np.float64)  # no copy
        noise_weight = previous.noise_weight
    params = GMMParams(
        weights,
        means,
        covariances,
        precisions_cholesky,
        noise_weight,
        noise_log_density,
        inner,
    )
    return params, repairs


def _frozen_previous(frozen: Set[str], previous: GMMParams | None) -> GMMParams:
    """``previous``, which frozen parameters need, checked."""
    unknown = set(frozen) - set(FREEZABLE)
    if unknown:
        raise ValueError(
            f"frozen may name only {FREEZABLE}; got unknown {sorted(unknown)}"
        )
    if previous is None:
        raise ValueError(
            "m_step: frozen parameters keep the values of previous; pass previous="
        )
    return previous


def _reseed(
    family: CovarianceFamily,
    means: np.ndarray,
    covariances: np.ndarray,
    weights: np.ndarray,
    empty: np.ndarray,
    repairs: list[Repair],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_components, n_features = means.shape
    means = means.copy()
    covariances = covariances.copy()
    weights = weights.copy()
    alive = ~empty
    shrink = 1.0  # each further split in this step moves half as far
    for k in np.flatnonzero(empty):
        spread = np.array(
            [
                weights[j] * family.principal_axis(covariances, j, n_features)[0]
                if alive[j]
                else -np.inf
                for j in range(n_components)
            ]
        )
        donor = int(np.argmax(spread))
        variance, axis = family.principal_axis(covariances, donor, n_features)
        step = shrink * math.sqrt(max(variance, 0.0)) * axis
        for _ in range(_MAX_REPAIR_STEPS):
            # Never place a component on top of another one: EM could not part them.
            new = means[donor] + step
            keep = alive.copy()
            keep[int(k)] = keep[donor] = False
            others = means[keep]
            if not np.any(np.all(np.isclose(others, new, rtol=1e-9, atol=0.0), axis=1)):
                break
            step = 0.75 * step
        shrink *= 0.5
        means[k] = means[donor] + step
        means[donor] = means[donor] - step
        if not family.shared:
            covariances[k] = covariances[donor]
        weights[k] = weights[donor] / 2.0
        weights[donor] = weights[donor] / 2.0
        alive[k] = True
        repairs.append(
            Repair(
                "empty",
                int(k),
                f"component {k} lost all its samples; it was re-seeded by splitting "
                f"component {donor} along its widest axis",
                "This suggests that the data support fewer components; try a "
                "smaller n_components",
            )
        )
    return means, covariances, weights


def _repair_singular(
    family: CovarianceFamily,
    reference: np.ndarray,
    covariances: np.ndarray,
    failed: np.ndarray,
    repairs: list[Repair],
) -> tuple[np.ndarray, np.ndarray]:
    n_components = failed.size
    amount = np.full(n_components, REPAIR_RELATIVE * float(np.mean(reference)))
    added = np.zeros(n_components)
    todo = failed.copy()
    for _ in range(_MAX_REPAIR_STEPS):
        covariances = family.add_to_diagonal(covariances, todo, amount)
        added[todo] += amount[todo]
        precisions_cholesky, still = family.precisions_cholesky(covariances)
        still = _collapsed(family, covariances, precisions_cholesky, still, reference)
        if not np.any(still):
            break
        todo = still
        amount = amount * 10.0
    else:
        # The repair adds up to 1e5 times the data's variance: only covariances
        # that are not finite, or a variance that float64 cannot resolve next to
        # the data's offset, get here.
        stuck = np.flatnonzero(todo).tolist()
        raise StatisticsOverflowError(
            f"the covariance(s) of component(s) {stuck} stayed singular after "
            f"adding up to {float(np.max(added)):.3g} (1e5 times the data's mean "
            "variance) to the diagonal: the data's spread is too small for their "
            "magnitude or too large for float64. Centre and scale the data (e.g. "
            "sklearn.preprocessing.StandardScaler) or increase reg_covar."
        )
    for k in np.flatnonzero(failed):
        which = "the shared covariance" if family.shared else f"component {k}"
        repairs.append(
            Repair(
                "singular",
                -1 if family.shared else int(k),
                f"{which} collapsed (its covariance became singular: duplicated "
                f"points or a feature constant within it); {added[k]:.3g} was added "
                "to its diagonal",
                "Increase reg_covar, or remove duplicated points or constant "
                "features, to avoid this",
            )
        )
    return covariances, precisions_cholesky


def params_from_precisions(
    weights: np.ndarray,
    means: np.ndarray,
    precisions: np.ndarray,
    family: CovarianceFamily,
) -> GMMParams:
    """Parameters from user-given weights, means and precisions (validated)."""
    precisions_cholesky = family.precisions_cholesky_from_precisions(
        np.asarray(precisions, dtype=np.float64)
    )
    covariances = family.covariances_from_precisions_cholesky(precisions_cholesky)
    return GMMParams(
        weights=np.asarray(weights, dtype=np.float64),
        means=np.asarray(means, dtype=np.float64),
        covariances=covariances,
        precisions_cholesky=precisions_cholesky,
    )
