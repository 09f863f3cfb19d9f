"""The EM loops, written once for every source of statistics: batch and online.

``fit_em`` alternates the E-step (``source.accumulate``) and the M-step
(:func:`gaussmix.core.mstep.m_step`) until the change of the per-sample mean
log-likelihood falls below ``tol``. As in scikit-learn, the lower bound of
iteration ``n`` is the log-likelihood of the parameters *before* that
iteration's M-step; the returned parameters are those after it.

With a conjugate prior (MAP-EM) the quantity EM increases is the
log-posterior, ``log L + log_prior`` (:func:`gaussmix.core.prior.log_prior`):
convergence is judged on its per-sample change, and ``objectives`` records it
per iteration, while ``lower_bounds`` still records the log-likelihood (what
mclust reports), which may decrease slightly. Without a prior both are the
log-likelihood.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np

from gaussmix._docs import fill_doc, register
from gaussmix._typing import FloatArray
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step
from gaussmix.core.fast_em import compiled_em, eligible
from gaussmix.core.mstep import Repair, m_step
from gaussmix.core.numerics import INNER_TOL_FACTOR, INNER_TOL_LOOSE
from gaussmix.core.params import GMMParams
from gaussmix.core.prior import ConjugatePrior, log_prior
from gaussmix.core.stats import SuffStats
from gaussmix.sources import ArraySource, StatsSource

__all__ = [
    "EMResult",
    "OnlineSettings",
    "OnlineState",
    "fit_em",
    "fit_online",
    "online_blend",
    "online_step",
    "step_size",
]

logger = logging.getLogger(__name__)

IterationCallback = Callable[[int, float, float], None]

register(
    "em_online_state_batch",
    """
    state : OnlineState or None
        Running statistics; None before the first batch.
    batch : SuffStats
        E-step statistics of one mini-batch (positive weight).
    """,
)


@dataclass(frozen=True, slots=True)
class EMResult:
    """Outcome of one EM run.

    Parameters
    ----------
    params : GMMParams
        Parameters after the last M-step.
    n_iter : int
        Number of EM iterations run.
    lower_bound : float
        Per-sample mean log-likelihood of the last E-step.
    lower_bounds : list of float
        Lower bound of every iteration.
    converged : bool
        Whether the change fell below ``tol``.
    repairs : list of (iteration, Repair)
        Repairs made by the M-step.
    objectives : list of float
        Per-sample mean log-posterior of every iteration (with a prior only;
        empty without one).
    """

    params: GMMParams
    n_iter: int
    lower_bound: float
    lower_bounds: list[float]
    converged: bool
    repairs: list[tuple[int, Repair]] = field(default_factory=list)
    objectives: list[float] = field(default_factory=list)

    @property
    def objective(self) -> float:
        """What EM maximised, at the last E-step: the log-posterior with a prior."""
        return self.objectives[-1] if self.objectives else self.lower_bound


def fit_em(
    source: StatsSource,
    params: GMMParams,
    family: CovarianceFamily,
    *,
    tol: float,
    max_iter: int,
    reg_covar: float,
    dtype: np.dtype[Any] | type = np.float64,
    lower_bound: float = -math.inf,
    callback: IterationCallback | None = None,
    equal_proportions: bool = False,
    prior: ConjugatePrior | None = None,
    relative_tol: bool = False,
    stop_at_repair: bool = False,
    inner_final: bool = False,
    frozen: Set[str] = frozenset(),
) -> EMResult:
    """Run EM from ``params`` until convergence or ``max_iter`` iterations.

    Parameters
    ----------
    source : StatsSource
        Provides the E-step statistics.
    params : GMMParams
        Initial parameters.
    family : CovarianceFamily
        Covariance family.
    tol : float
        Convergence threshold on the change of the per-sample log-likelihood
        (scikit-learn's rule: ``|l - l_old| < tol``), or with ``relative_tol``
        on the relative change of the total log-likelihood ``L`` (mclust's
        rule: ``|L - L_old| <= tol (1 + |L|)``). With a prior, the
        log-posterior takes the place of the log-likelihood.
    max_iter : int
        Maximum number of iterations (0 returns ``params`` unchanged).
    reg_covar : float
        Added to the diagonal of every covariance.
    dtype : numpy dtype, default=float64
        Dtype of the data (for the M-step's tiny offset).
    lower_bound : float, default=-inf
        Lower bound before the first iteration (warm start).
    callback : callable, default=None
        ``callback(n_iter, lower_bound, change)`` after each iteration.
    equal_proportions : bool, default=False
        Keep the weights equal (see :func:`gaussmix.core.mstep.m_step`).
    prior : ConjugatePrior, default=None
        MAP-EM with mclust's conjugate prior; None is maximum likelihood.
    relative_tol : bool, default=False
        Use mclust's relative rule for ``tol``.
    stop_at_repair : bool, default=False
        Stop, not converged, after the first iteration whose M-step repaired a
        component (mclust stops at a singular covariance and reports NA);
        :func:`gaussmix.select`'s quick cells use it, since a repaired fit is
        never selected.
    inner_final : bool, default=False
        Resuming a run that met ``tol`` with loose inner iterations and
        finishes at the family's own inner tolerance (the state
        :class:`gaussmix.core.fast_em.CompiledRun` reports).
    frozen : set of {'weights', 'means', 'covariances'}, default=empty
        Parameters kept at their values in ``params``; the others take their
        conditional M-step (:mod:`gaussmix.core.frozen`). The compiled loop
        is not used then.

    Returns
    -------
    EMResult
    """
    lower_bounds: list[float] = []
    objectives: list[float] = []
    repairs: list[tuple[int, Repair]] = []
    converged = False
    n_iter = 0
    objective = lower_bound
    # Families whose M-step iterates (mclust's VEI, VEV, VEE, EVE, VVE): the
    # inner tolerance follows the outer progress, and is the family's own at the
    # end. It is passed to each M-step; the (shared) family object is not changed.
    inner_base: float | None = family.inner_tol if family.adaptive_inner else None
    inner_tol = inner_base
    repaired_at: deque[int] = deque(maxlen=STUCK_REPAIRS)  # iterations repaired
    # Small data: the iterations run compiled (gaussmix.core.fast_em) until one
    # needs a repair; this loop runs that one, and the compiled loop goes on.
    compiled = (
        not frozen
        and isinstance(source, ArraySource)
        and eligible(
            source.X, params, family, prior=prior, equal_proportions=equal_proportions
        )
    )
    n_iter = 0
    while n_iter < max_iter:
        if compiled:
            assert isinstance(source, ArraySource)
            run = compiled_em(
                source.X,
                source.sample_weight,
                params,
                family,
                tol=tol,
                relative_tol=relative_tol,
                max_iter=max_iter - n_iter,
                reg_covar=reg_covar,
                lower_bound=lower_bound,
                inner_final=inner_final,
            )
            compiled = run is not None
            if run is not None:
                _report(callback, n_iter, lower_bound, run.lower_bounds)
                lower_bounds.extend(run.lower_bounds)
                params, lower_bound = run.params, run.lower_bound
                n_iter += run.n_iter
                inner_final = run.inner_final
                if not run.handed_off:
                    converged = run.converged
                    break
        n_iter += 1
        previous = lower_bound if prior is None else objective
        stats = source.accumulate(params, family)
        lower_bound = stats.loglik / stats.weight
        if prior is not None:
            prior_term = log_prior(prior, family, params.means, params.covariances)
            objective = lower_bound + prior_term / stats.weight
            if n_iter == 1 and previous != -math.inf:
                previous += prior_term / stats.weight  # a warm start's bound
            objectives.append(objective)
        if inner_base is not None:
            current = lower_bound if prior is None else objective
            inner_tol = (
                inner_base
                if inner_final
                else _inner_tolerance(current - previous, current, inner_base)
            )
        params, step_repairs = m_step(
            stats,
            family,
            reg_covar,
            dtype=dtype,
            equal_proportions=equal_proportions,
            prior=prior,
            previous=params,
            inner_tol=inner_tol,
            frozen=frozen,
        )
        change = (lower_bound if prior is None else objective) - previous
        repairs.extend((n_iter, r) for r in step_repairs)
        lower_bounds.append(lower_bound)
        logger.debug(
            "iteration %d: lower bound %.10g (change %.3g)",
            n_iter,
            lower_bound,
            change,
        )
        if callback is not None:
            callback(n_iter, lower_bound, change)
        current = lower_bound if prior is None else objective
        if _converged(change, current, stats.n_samples, tol, relative_tol):
            if (
                inner_base is not None
                and inner_tol is not None
                and inner_tol > inner_base
            ):
                # Converged with loose inner iterations: finish with the
                # family's own tolerance before stopping.
                inner_final = True
                continue
            converged = True
            break
        if step_repairs:
            if stop_at_repair:
                break
            repaired_at.append(n_iter)
        if (
            relative_tol
            and len(repaired_at) == STUCK_REPAIRS
            and n_iter - repaired_at[0] < STUCK_WINDOW
        ):
            break  # a degenerate fit that does not settle: see STUCK_REPAIRS
    return EMResult(
        params=params,
        n_iter=n_iter,
        lower_bound=lower_bound,
        lower_bounds=lower_bounds,
        converged=converged,
        repairs=repairs,
        objectives=objectives,
    )


def _report(
    callback: IterationCallback | None,
    done: int,
    lower_bound: float,
    bounds: list[float],
) -> None:
    """``callback`` for each iteration the compiled loop ran after ``done`` others."""
    if callback is None:
        return
    previous = lower_bound
    for i, bound in enumerate(bounds, start=done + 1):
        callback(i, bound, bound - previous)
        previous = bound


#: With mclust's rule (``relative_tol``), EM stops, not converged, once M-steps
#: have repaired a component in this many of the last :data:`STUCK_WINDOW`
#: iterations. Without ``reg_covar`` a component that collapses onto a few
#: points is floored, and collapses again, every other iteration; the
#: log-likelihood then swings (banknote, VVE with 8 components: by 3% per
#: iteration) and never meets the tolerance, so such a fit ran to ``max_iter``
#: (10,000 iterations, 17 s). mclust stops at
#: the first singular covariance and reports NA; the repaired fit is kept here,
#: with its DegenerateComponentWarning, and :func:`gaussmix.select` reports it
#: as degenerate (NaN criteria) as before.
STUCK_REPAIRS: Final = 10
STUCK_WINDOW: Final = 20


def _converged(
    change: float, current: float, n_rows: int, tol: float, relative: bool
) -> bool:
    """Whether EM stops: scikit-learn's rule, or with ``relative`` mclust's.

    ``change`` and ``current`` are per unit of weight; mclust's rule reads the
    totals, ``|L - L_old| <= tol (1 + |L|)``, with ``L = n_rows * current``: the
    log-likelihood of ``n_rows`` unit-weight rows, mclust's own ``L`` without
    weights, and the same stop whatever the weights' scale (weights of 1e-300
    or 1e306 give the fit of weights of one).
    """
    if relative:
        return abs(change) * n_rows <= tol * (1.0 + abs(current) * n_rows)
    return abs(change) < tol


def _inner_tolerance(change: float, current: float, base: float) -> float:
    """Inner tolerance for the next M-step, from the last outer change.

    An M-step that only increases its objective (one MM update, say) still
    makes EM monotone (a generalised EM); converging it tightly is wasted while
    the outer parameters are still moving. The tolerance therefore follows
    the outer progress and reaches the family's own (mclust's ``tol[2]``) as
    EM converges; :func:`fit_em` only stops after an M-step at that tolerance.
    """
    if not math.isfinite(change):
        return max(base, INNER_TOL_LOOSE)
    relative = abs(change) / (1.0 + abs(current))
    return max(base, min(INNER_TOL_LOOSE, INNER_TOL_FACTOR * relative))


# ------------------------------------------------------------------ online EM


@dataclass(frozen=True, slots=True)
class OnlineState:
    """Running statistics of stepwise (online) EM.

    Parameters
    ----------
    stats : SuffStats
        Running average of the per-sample statistics (total weight about 1).
    n_steps : int
        Number of mini-batches blended so far.
    """

    stats: SuffStats
    n_steps: int


@dataclass(frozen=True, slots=True)
class OnlineSettings:
    """How stepwise EM moves: its step sizes and the options of its M-step.

    Parameters
    ----------
    learning_offset, learning_decay : float
        ``t0`` and ``kappa`` of the step ``gamma_t = (t + t0)^-kappa``.
    reg_covar : float
        Added to the diagonal of every covariance.
    dtype : numpy dtype, default=float64
        Dtype of the data.
    equal_proportions : bool, default=False
        Keep the weights equal.
    frozen : frozenset of str, default=empty
        Parameters each update keeps (:mod:`gaussmix.core.frozen`).
    """

    learning_offset: float
    learning_decay: float
    reg_covar: float
    dtype: np.dtype[Any] | type = np.float64
    equal_proportions: bool = False
    frozen: frozenset[str] = frozenset()


def step_size(n_steps: int, learning_offset: float, learning_decay: float) -> float:
    """Step ``gamma_t = (t + t0)^-kappa`` of update number ``t = n_steps`` (>= 1).

    The first update (``t = 0``) has no running statistics to blend with and
    takes the batch's statistics whole (step 1).
    """
    if n_steps == 0:
        return 1.0
    return float((n_steps + learning_offset) ** (-learning_decay))


@fill_doc
def online_blend(
    state: OnlineState | None,
    batch: SuffStats,
    family: CovarianceFamily,
    learning_offset: float,
    learning_decay: float,
) -> OnlineState:
    """Blend a mini-batch's statistics into the running per-sample averages.

    ``S <- (1 - gamma_t) S + gamma_t s_B / w_B`` with ``gamma_t`` from
    :func:`step_size` (the first batch is taken whole), centred on the batch's
    shift. Stepwise EM (:func:`online_step`) and stochastic variational
    inference (:mod:`gaussmix.bayesian`) both update their parameters from it:
    the M-step of either is a function of these statistics.

    Parameters
    ----------
    {{em_online_state_batch}}
    family : CovarianceFamily
        Covariance family (to recentre the running statistics).
    learning_offset, learning_decay : float
        ``t0`` and ``kappa`` of the step.

    Returns
    -------
    OnlineState
        The blended averages (total weight about 1), one more step counted.
    """
    average = batch.scaled(1.0 / batch.weight)
    n_steps = 0 if state is None else state.n_steps
    gamma = step_size(n_steps, learning_offset, learning_decay)
    if state is None:
        running = average
    else:
        earlier = state.stats.recentered(average.shift, family)
        running = earlier.scaled(1.0 - gamma) + average.scaled(gamma)
    return OnlineState(running, n_steps + 1)


@fill_doc
def online_step(
    state: OnlineState | None,
    batch: SuffStats,
    family: CovarianceFamily,
    settings: OnlineSettings,
    *,
    previous: GMMParams | None = None,
) -> tuple[OnlineState, GMMParams, list[Repair]]:
    """One stepwise-EM update (Cappe & Moulines 2009) from a mini-batch's statistics.

    The running statistics ``S`` are per-sample averages:
    ``S <- (1 - gamma_t) S + gamma_t s_B / w_B``, where ``s_B`` are the batch's
    E-step statistics under the current parameters, ``w_B`` its total weight
    and ``gamma_t = (t + t0)^-kappa`` (:func:`step_size`). The M-step then
    reads ``S`` scaled to the batch's weight (the maximiser does not depend on
    the scale; the repair thresholds then see the batch's counts). With
    ``kappa`` in (0.5, 1] the steps satisfy Robbins-Monro's conditions and the
    parameters converge to a stationary point of the expected log-likelihood
    on stationary data.

    Parameters
    ----------
    {{em_online_state_batch}}
    family : CovarianceFamily
        Covariance family.
    settings : OnlineSettings
        The step sizes and the M-step's options.
    previous : GMMParams, default=None
        The parameters of the batch's E-step: an iterative M-step starts its
        inner iteration from them (None: from its documented start).

    Returns
    -------
    state : OnlineState
        The blended statistics.
    params : GMMParams
        Parameters from them.
    repairs : list of Repair
        Repairs made by the M-step.
    """
    blended = online_blend(
        state, batch, family, settings.learning_offset, settings.learning_decay
    )
    as_batch = replace(blended.stats.scaled(batch.weight), n_samples=batch.n_samples)
    params, repairs = m_step(
        as_batch,
        family,
        settings.reg_covar,
        dtype=settings.dtype,
        equal_proportions=settings.equal_proportions,
        previous=previous,
        frozen=settings.frozen,
    )
    return blended, params, repairs


def fit_online(
    batches: Callable[[int], Iterable[tuple[FloatArray, FloatArray | None]]],
    params: GMMParams,
    family: CovarianceFamily,
    settings: OnlineSettings,
    *,
    tol: float,
    max_iter: int,
    n_threads: int = 1,
    callback: IterationCallback | None = None,
    relative_tol: bool = False,
    batch_stats: Callable[..., SuffStats] | None = None,
) -> tuple[EMResult, OnlineState | None]:
    """Epochs of stepwise EM until the mean log-likelihood of an epoch settles.

    ``batches(epoch)`` yields the ``(X, sample_weight)`` mini-batches of one
    epoch; each is blended into running statistics by :func:`online_step`.
    The lower bound of an epoch is the weighted mean log-likelihood of its
    batches, each under the parameters before its own update; EM stops when
    it changes by less than ``tol`` (with ``relative_tol``, mclust's relative
    rule of :func:`fit_em`), or after ``max_iter`` epochs.
    ``batch_stats(X, params, family, w, n_threads)`` replaces the E-step of a
    batch (missing values: the marginalising E-step).

    Returns
    -------
    result : EMResult
        The parameters after the last update; ``n_iter`` counts epochs.
    state : OnlineState or None
        The running statistics (None if no batch had a positive weight), for
        later :meth:`~gaussmix.GaussianMixture.partial_fit` calls.
    """
    state: OnlineState | None = None
    lower_bounds: list[float] = []
    repairs: list[tuple[int, Repair]] = []
    previous = -math.inf
    converged = False
    epoch = 0
    for epoch in range(1, max_iter + 1):
        loglik = weight = 0.0
        rows = 0
        for Xb, wb in batches(epoch):
            if batch_stats is None:
                batch = e_step(Xb, params, family, wb, n_threads=n_threads)
            else:
                batch = batch_stats(Xb, params, family, wb, n_threads)
            if batch.weight <= 0:
                continue
            loglik += batch.loglik
            weight += batch.weight
            rows += batch.n_samples
            state, params, step_repairs = online_step(
                state, batch, family, settings, previous=params
            )
            repairs.extend((epoch, r) for r in step_repairs)
        lower_bound = loglik / weight if weight > 0 else -math.inf
        lower_bounds.append(lower_bound)
        change = lower_bound - previous
        if callback is not None:
            callback(epoch, lower_bound, change)
        previous = lower_bound
        if _converged(change, lower_bound, rows, tol, relative_tol):
            converged = True
            break
    result = EMResult(params, epoch, previous, lower_bounds, converged, repairs)
    return result, state
