"""``BayesianGaussianMixture``: variational Bayesian mixtures on the fitting engine.

A drop-in for :class:`sklearn.mixture.BayesianGaussianMixture`. The numerics are
:mod:`gaussmix.core.variational` (the variational M-step from sufficient
statistics, the expected log-densities and the bound); the E-step is the
ordinary :func:`gaussmix.core.estep.e_step`, run through a
:class:`~gaussmix.sources.DataSource` (an in-memory array, a ``.npy`` file,
memmap, chunk factory or dask array), so that a variational fit has the
speed design of :class:`gaussmix.GaussianMixture`: chunks, the packed design,
threads over chunks, no ``N x K`` array.

:func:`fit_variational` is the driver (starts from ``init_params`` through
:mod:`gaussmix.core.init`, ``n_init`` restarts, warm start, the best bound);
the estimator validates, calls it and writes the fitted attributes.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Final

import numpy as np
from sklearn.utils import check_random_state

from gaussmix._docs import fill_doc
from gaussmix._threads import single_threaded_blas
from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import (
    check_dask_input,
    check_first_batch,
    check_model_size,
    check_n_features,
    check_parameters,
    check_sample_weight,
    check_X,
    describe_value,
    resolve_n_threads,
)
from gaussmix.base import MixtureEstimator
from gaussmix.core.covariance import CovarianceFamily, family_names, get_family
from gaussmix.core.estep import e_step
from gaussmix.core.family import SKLEARN_GROUP
from gaussmix.core.init import INIT_METHODS, initial_resp
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats
from gaussmix.core.variational import (
    WEIGHT_PRIOR_TYPES,
    VariationalParams,
    VariationalPrior,
    estep_params,
    expected_log_terms,
    lower_bound,
    point_weights,
    variational_m_step,
)
from gaussmix.em import OnlineState, online_blend
from gaussmix.exceptions import ConvergenceWarning
from gaussmix.fitting import (
    VerboseReporter,
    online_start_sample,
    outside_stacklevel,
    start_stats,
    summarize_source,
    warn_not_converged,
)
from gaussmix.model import FitInfo, MixtureModel
from gaussmix.sources import (
    INIT_SAMPLE_SIZE,
    ArraySource,
    DataSource,
    as_source,
    is_out_of_core,
)

__all__ = [
    "BayesianGaussianMixture",
    "SVIState",
    "build_fitted_bayesian",
    "VariationalFit",
    "fit_variational",
    "svi_step",
]

#: The parameters every mixture estimator shares, checked by gaussmix's rules.
_SHARED_RULES: Final = (
    "n_components",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
    "n_jobs",
    "batch_size",
    "learning_decay",
    "learning_offset",
)
_SKLEARN_NAMES: Final = family_names(SKLEARN_GROUP)


# ----------------------------------------------------------------- the driver
@dataclass(frozen=True, slots=True)
class VariationalFit:
    """The outcome of :func:`fit_variational`.

    Parameters
    ----------
    params : VariationalParams
        The posterior of the kept run.
    prior : VariationalPrior
        The resolved priors.
    info : FitInfo
        Iterations, convergence and the bounds of the kept run (totals, as
        scikit-learn's, not per sample).
    n_features : int
        Number of features.
    dtype : numpy dtype
        Dtype of the data.
    """

    params: VariationalParams
    prior: VariationalPrior
    info: FitInfo
    n_features: int
    dtype: np.dtype[Any]
    svi_state: SVIState | None = None


@dataclass(frozen=True, slots=True)
class SVIState:
    """Running statistics of stochastic variational inference.

    Parameters
    ----------
    running : OnlineState
        The blended per-sample statistics (:func:`gaussmix.em.online_blend`)
        and the number of steps taken.
    seen : float
        Total weight of the mini-batches seen (the data size ``N`` when
        ``total_samples`` is None).
    """

    running: OnlineState
    seen: float


@dataclass(frozen=True, slots=True)
class _Settings:
    """The validated parameters of a fit."""

    owner: str
    n_components: int
    covariance_type: str
    prior_type: str
    tol: float
    reg_covar: float
    max_iter: int
    n_init: int
    init_params: str
    random_state: Any
    verbose: int
    verbose_interval: int
    n_threads: int
    weight_concentration_prior: Any
    mean_precision_prior: Any
    mean_prior: Any
    degrees_of_freedom_prior: Any
    covariance_prior: Any
    batch_size: int | None = None
    learning_decay: float = 0.6
    learning_offset: float = 1.0
    total_samples: float | None = None


def _resolve_prior(
    settings: _Settings, family: CovarianceFamily, summary: Any
) -> VariationalPrior:
    """The priors of the fit (scikit-learn's defaults from the data's moments).

    The default ``mean_prior`` is the (weighted) mean of the data and the
    default ``covariance_prior`` their covariance with divisor ``n - 1``
    (``np.cov``; with weights, total weight minus one, so that integer weights
    equal repeated rows); diag takes its diagonal and spherical the mean of it.
    """
    name = settings.owner
    n_features = summary.n_features
    n_components = settings.n_components
    concentration = settings.weight_concentration_prior
    if concentration is None:
        concentration = 1.0 / n_components
    mean_precision = settings.mean_precision_prior
    if mean_precision is None:
        mean_precision = 1.0
    if settings.mean_prior is None:
        mean: FloatArray = np.asarray(summary.mean, dtype=np.float64)
    else:
        mean = _float_array(settings.mean_prior, "mean_prior", name)
        if mean.shape != (n_features,):
            raise ValueError(
                f"{name}: mean_prior must have shape (n_features,) = ({n_features},); "
                f"got shape {mean.shape}."
            )
    dof = settings.degrees_of_freedom_prior
    if dof is None:
        dof = float(n_features)
    elif not dof > n_features - 1.0:
        raise ValueError(
            f"{name}: degrees_of_freedom_prior must be greater than n_features - 1 "
            f"= {n_features - 1}; got {dof!r}. The Wishart prior needs more degrees "
            "of freedom than features minus one; leave it None for n_features."
        )
    covariance = _covariance_prior(settings, family, summary, n_features)
    return VariationalPrior(
        weight_concentration_prior_type=settings.prior_type,
        weight_concentration=concentration,
        mean_precision=mean_precision,
        mean=mean,
        degrees_of_freedom=dof,
        covariance=covariance,
    )


def _float_array(value: Any, what: str, name: str) -> FloatArray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: {what} must be numbers; got {describe_value(value)}."
        ) from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: {what} must be finite; it holds NaN or infinity.")
    return array


def _covariance_prior(
    settings: _Settings, family: CovarianceFamily, summary: Any, n_features: int
) -> Any:
    name = settings.owner
    given = settings.covariance_prior
    if given is None:
        dense = np.atleast_2d(np.asarray(summary.covariance, dtype=np.float64))
        if family.matrix:
            return dense
        variances = np.diagonal(dense).copy()
        return variances if family.per_feature else float(np.mean(variances))
    kind = settings.covariance_type
    cov: FloatArray
    if family.matrix:
        cov = _float_array(given, "covariance_prior", name)
        if cov.shape != (n_features, n_features):
            raise ValueError(
                f"{name}: covariance_prior of covariance_type={kind!r} must have shape "
                f"(n_features, n_features) = ({n_features}, {n_features}); got shape "
                f"{cov.shape}."
            )
        if not np.allclose(cov, cov.T) or np.any(np.linalg.eigvalsh(cov) <= 0.0):
            raise ValueError(
                f"{name}: covariance_prior of covariance_type={kind!r} must be "
                "symmetric and positive definite."
            )
        return cov
    if family.per_feature:
        cov = _float_array(given, "covariance_prior", name)
        if cov.shape != (n_features,):
            raise ValueError(
                f"{name}: covariance_prior of covariance_type={kind!r} must have shape "
                f"(n_features,) = ({n_features},); got shape {cov.shape}."
            )
        if np.any(cov <= 0.0):
            raise ValueError(
                f"{name}: covariance_prior of covariance_type={kind!r} must be "
                "positive."
            )
        return cov
    if not _positive_number(given):
        raise ValueError(
            f"{name}: covariance_prior of covariance_type={kind!r} must be a positive "
            f"number; got {describe_value(given)}."
        )
    return float(given)


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value) > 0.0
    )


def _initial_params(
    summary: Any,
    settings: _Settings,
    family: CovarianceFamily,
    prior: VariationalPrior,
    random_state: np.random.RandomState,
    sample: tuple[FloatArray, FloatArray | None] | None = None,
) -> VariationalParams:
    """The first variational M-step, from ``init_params``'s responsibilities.

    The responsibilities are scikit-learn's for the same ``random_state``
    (:mod:`gaussmix.core.init`). For out-of-core data they are those of the
    summary's sample (or of ``sample``, rows of it), and its statistics are
    scaled to the data's total weight (the priors' pseudo-counts weigh against
    the whole data, not the sample).
    """
    X, weights = (summary.sample, summary.sample_weight) if sample is None else sample
    n_components = settings.n_components
    resp, sequential = initial_resp(
        X, n_components, settings.init_params, random_state, weights
    )
    n_threads = 1 if sequential else settings.n_threads
    stats = start_stats(X, resp, family, n_components, weights, n_threads)
    if X.shape[0] != summary.n_samples and stats.weight > 0.0:
        stats = stats.scaled(float(summary.weight) / stats.weight)
    return variational_m_step(
        stats, family, prior, settings.reg_covar, dtype=summary.dtype
    )


def _run(
    source: DataSource,
    params: VariationalParams,
    family: CovarianceFamily,
    settings: _Settings,
    prior: VariationalPrior,
    bound: float,
    dtype: Any,
    reporter: VerboseReporter,
) -> tuple[VariationalParams, float, list[float], int, bool]:
    """Variational EM from ``params``: scikit-learn's loop on the engine's E-step."""
    bounds: list[float] = []
    converged = False
    n_iter = 0
    for n_iter in range(1, settings.max_iter + 1):
        previous = bound
        gaussians, _ = estep_params(params, settings.prior_type)
        stats = source.accumulate(gaussians, family)
        entropy = stats.loglik - expected_log_terms(stats, gaussians, family)
        params = variational_m_step(
            stats, family, prior, settings.reg_covar, dtype=dtype
        )
        bound = lower_bound(entropy, params, family, settings.prior_type)
        bounds.append(bound)
        change = bound - previous
        reporter.iteration(n_iter, math.nan, change)
        if abs(change) < settings.tol:
            converged = True
            break
    reporter.init_end(bound, converged)
    return params, bound, bounds, n_iter, converged


# ------------------------------------------------ stochastic variational inference
def svi_step(
    state: SVIState | None,
    batch: SuffStats,
    gaussians: GMMParams,
    family: CovarianceFamily,
    prior: VariationalPrior,
    settings: _Settings,
    dtype: Any,
) -> tuple[SVIState, VariationalParams, float]:
    """One natural-gradient step of stochastic variational inference.

    The natural parameters of the conjugate posterior are linear in the
    expected sufficient statistics, so the natural-gradient step of Hoffman
    et al. (2013) with step ``rho_t`` is a blend of statistics followed by the
    ordinary variational M-step: ``S <- (1 - rho_t) S + rho_t (N / w_B) s_B``,
    the posterior being :func:`~gaussmix.core.variational.variational_m_step`
    of ``S``. The blend is stepwise EM's (:func:`gaussmix.em.online_blend`, on
    per-sample averages, ``rho_t = (t + t0)^-kappa`` of
    :func:`gaussmix.em.step_size`), scaled to ``N``: ``settings.total_samples``,
    or when it is None the total weight of the batches seen so far (this one
    included).

    Parameters
    ----------
    state : SVIState or None
        The running statistics; None before the first step (which takes the
        batch whole: one iteration of batch variational EM on it).
    batch : SuffStats
        Statistics of the batch's E-step under ``gaussians`` (positive weight).
    gaussians : GMMParams
        The E-step's mixture (:func:`~gaussmix.core.variational.estep_params`
        of the posterior before the step).
    family : CovarianceFamily
        The covariance family.
    prior : VariationalPrior
        The resolved priors.
    settings : _Settings
        Step sizes, ``total_samples``, ``reg_covar`` and the weight prior.
    dtype : numpy dtype
        Dtype of the data.

    Returns
    -------
    state : SVIState
        The blended statistics.
    params : VariationalParams
        The posterior after the step.
    bound : float
        scikit-learn's lower bound with the batch's entropy scaled to ``N``
        rows and the new posterior: a noisy estimate of the bound on ``N``
        rows (exact for a first step on all the data).
    """
    seen = (0.0 if state is None else state.seen) + batch.weight
    n_total = seen if settings.total_samples is None else settings.total_samples
    running = online_blend(
        None if state is None else state.running,
        batch,
        family,
        settings.learning_offset,
        settings.learning_decay,
    )
    # N rows of the batch's mean weight (the M-step's 10 eps offset reads it).
    rows = max(1, round(n_total * batch.n_samples / batch.weight))
    stats = replace(running.stats.scaled(n_total), n_samples=rows)
    params = variational_m_step(stats, family, prior, settings.reg_covar, dtype=dtype)
    entropy = batch.loglik - expected_log_terms(batch, gaussians, family)
    bound = lower_bound(
        entropy * (n_total / batch.weight), params, family, settings.prior_type
    )
    return SVIState(running, seen), params, bound


def _fit_svi(
    source: DataSource,
    summary: Any,
    settings: _Settings,
    family: CovarianceFamily,
    prior: VariationalPrior,
    random_state: np.random.RandomState,
    warm: tuple[VariationalParams, float] | None,
) -> tuple[VariationalParams, FitInfo, SVIState | None]:
    """``fit`` with ``batch_size``: epochs of SVI over the source's mini-batches.

    ``N`` is ``total_samples`` or the data's total weight. An epoch's bound is
    the weight-averaged estimate of its batches (:func:`svi_step`); the fit
    stops when it changes by less than ``tol`` per unit of weight (the
    estimates are noisy totals over ``N`` rows; GaussianMixture's online EM
    reads its per-sample log-likelihood the same way), or after ``max_iter``
    epochs.
    """
    assert settings.batch_size is not None
    batch_size = int(settings.batch_size)
    n_total = (
        float(summary.weight)
        if settings.total_samples is None
        else float(settings.total_samples)
    )
    settings = replace(settings, total_samples=n_total)
    # A source without mini-batches (a dask array) refuses before the start.
    first = source.batches(batch_size, random_state)
    if warm is not None:
        params = warm[0]
    else:
        X, weights = online_start_sample(
            summary.sample, summary.sample_weight, random_state
        )
        params = _initial_params(
            summary, settings, family, prior, random_state, sample=(X, weights)
        )
    reporter = VerboseReporter(settings.verbose, settings.verbose_interval)
    reporter.init_begin(0)
    state: SVIState | None = None
    bounds: list[float] = []
    previous = -math.inf
    converged = False
    epoch = 0
    for epoch in range(1, settings.max_iter + 1):
        batches = first if epoch == 1 else source.batches(batch_size, random_state)
        total = weight = 0.0
        for Xb, wb in batches:
            gaussians, _ = estep_params(params, settings.prior_type)
            batch = e_step(Xb, gaussians, family, wb, n_threads=settings.n_threads)
            if batch.weight <= 0.0:
                continue
            state, params, estimate = svi_step(
                state, batch, gaussians, family, prior, settings, summary.dtype
            )
            total += estimate * batch.weight
            weight += batch.weight
        bound = total / weight if weight > 0.0 else -math.inf
        bounds.append(bound)
        change = bound - previous
        previous = bound
        reporter.iteration(epoch, math.nan, change)
        if abs(change) < settings.tol * n_total:
            converged = True
            break
    reporter.init_end(previous, converged)
    info = FitInfo(
        converged=converged, n_iter=epoch, lower_bound=previous, lower_bounds=bounds
    )
    return params, info, state


def fit_variational(
    source: DataSource,
    settings: _Settings,
    warm: tuple[VariationalParams, float] | None = None,
) -> VariationalFit:
    """Fit the variational posterior to the data of ``source``.

    Parameters
    ----------
    source : DataSource
        The data.
    settings : _Settings
        The estimator's validated parameters.
    warm : (VariationalParams, float), default=None
        Continue from this posterior and bound (``warm_start``) instead of
        ``n_init`` new starts.

    Returns
    -------
    VariationalFit
    """
    name = settings.owner
    family = get_family(settings.covariance_type)
    random_state = check_random_state(settings.random_state)
    summary = summarize_source(
        source, family, settings.n_components, random_state, name
    )
    n_features = summary.n_features
    if warm is not None:
        check_n_features(n_features, warm[0].means.shape[1], name)
    prior = _resolve_prior(settings, family, summary)
    if settings.batch_size is not None:
        with single_threaded_blas():
            params, info, state = _fit_svi(
                source, summary, settings, family, prior, random_state, warm
            )
        if not info.converged and settings.max_iter > 0:
            warnings.warn(
                "Stochastic variational inference did not converge in "
                f"max_iter={settings.max_iter} epochs. Increase max_iter or tol, "
                "or the batch_size.",
                ConvergenceWarning,
                stacklevel=outside_stacklevel(),
            )
        return VariationalFit(params, prior, info, n_features, summary.dtype, state)
    reporter = VerboseReporter(settings.verbose, settings.verbose_interval)
    n_init = settings.n_init if warm is None else 1
    best: tuple[VariationalParams, float, list[float], int, bool] | None = None
    with single_threaded_blas():
        for init in range(n_init):
            reporter.init_begin(init)
            if warm is None:
                params = _initial_params(summary, settings, family, prior, random_state)
                bound = -math.inf
            else:
                params, bound = warm
            if settings.max_iter == 0:
                best = (params, -math.inf, [], 0, False)
                continue
            run = _run(
                source, params, family, settings, prior, bound, summary.dtype, reporter
            )
            if best is None or run[1] > best[1] or best[1] == -math.inf:
                best = run
    assert best is not None
    params, bound, bounds, n_iter, converged = best
    if not converged and settings.max_iter > 0:
        warn_not_converged()
    info = FitInfo(
        converged=converged, n_iter=n_iter, lower_bound=bound, lower_bounds=bounds
    )
    return VariationalFit(params, prior, info, n_features, summary.dtype)


def _checked_weights(
    X: FloatArray, sample_weight: Any, n_components: int | None, name: str
) -> FloatArray | None:
    """Validated weights, refused when their scale overflows the statistics."""
    weights = check_sample_weight(sample_weight, X.shape[0], n_components, name)
    if weights is not None:
        with np.errstate(over="ignore"):
            total = float(np.sum(weights))
            top = max(float(np.max(np.abs(X))), 1.0)
            scatter = total * top * top
        if not math.isfinite(scatter):
            raise ValueError(
                f"{name}: sample_weight counts samples against the priors' "
                f"pseudo-counts, so its scale matters, and weights summing to "
                f"{total:.3g} make the weighted sums of squares overflow "
                "float64. Give weights on the scale of sample counts."
            )
    return weights


# ---------------------------------------------------------------- estimator
@fill_doc
class BayesianGaussianMixture(MixtureEstimator):
    """Variational Bayesian estimation of a Gaussian mixture.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`:
    the same parameters, fitted attributes and results from the same
    ``random_state`` (to rounding), on gaussmix's fitting engine: sample
    weights, chunked and threaded E-steps without an ``n_samples x
    n_components`` array, and out-of-core or Dask data.

    The posterior over the weights is a Dirichlet distribution or the
    stick-breaking representation of a Dirichlet process truncated at
    ``n_components``; over each component's mean and precision a
    Gaussian-Wishart. Components the data do not need get weights near zero,
    so ``n_components`` is an upper bound on the components used.

    Parameters
    ----------
    n_components : int, default=1
        Number of components (an upper bound on those the fit uses).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Shape of the covariances (scikit-learn's four; mclust's models have no
        variational form here).
    tol : float, default=1e-3
        Stop when the lower bound (a total, not a per-sample mean) changes by
        less than ``tol``.
    reg_covar : float, default=1e-6
        Added to the diagonal of each component's empirical covariance.
    max_iter : int, default=100
        Largest number of iterations.
    n_init : int, default=1
        Number of initialisations; the one with the largest bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'}, \
default='kmeans'
        The initial responsibilities (scikit-learn's; 'hc' is mclust's
        hierarchical clustering).
    weight_concentration_prior_type : {'dirichlet_process', \
'dirichlet_distribution'}, default='dirichlet_process'
        The prior on the weights.
    weight_concentration_prior : float or None, default=None
        Its concentration ``gamma`` (> 0); None is ``1 / n_components``.
    mean_precision_prior : float or None, default=None
        ``beta_0`` (> 0), the precision of the means' prior relative to the
        components' precisions; None is 1.
    mean_prior : array-like of shape (n_features,) or None, default=None
        The means' prior mean; None is the mean of ``X``.
    degrees_of_freedom_prior : float or None, default=None
        ``nu_0`` of the Wishart prior (> n_features - 1); None is n_features.
    covariance_prior : float or array-like or None, default=None
        The Wishart prior's covariance: ``(n_features, n_features)`` for full
        and tied, ``(n_features,)`` diag, a number spherical; None is the
        covariance of ``X`` (its diagonal, or the diagonal's mean).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation (and of ``sample``).
    warm_start : bool, default=False
        Continue from the previous fit (one initialisation).
    verbose : int, default=0
        Progress messages (scikit-learn's).
    verbose_interval : int, default=10
        Iterations between messages.
    n_jobs : int or None, default=None
        Threads over row chunks in the E-step (None: all usable cores). The
        result does not depend on it.
    batch_size : int or None, default=None
        None fits by batch variational EM. An integer fits by *stochastic
        variational inference* (Hoffman et al. 2013) on mini-batches of this
        many rows, as :meth:`partial_fit` does: ``fit`` runs epochs over the
        data in a random order (``max_iter`` epochs at most; it stops when the
        epoch's bound changes by less than ``tol`` per unit of weight), with
        ``N`` = ``total_samples`` or the data's total weight, from
        ``init_params`` on a random sample of at most
        :data:`gaussmix.sources.INIT_SAMPLE_SIZE` rows (one initialisation).
    learning_decay : float, default=0.6
        ``kappa`` of the step ``rho_t = (t + learning_offset)^-kappa`` of the
        ``t``-th mini-batch, in (0.5, 1] (GaussianMixture's online EM's).
    learning_offset : float, default=1.0
        ``t0`` of that step: a larger value damps the first updates.
    total_samples : float or None, default=None
        ``N``, the data size the mini-batches' statistics are scaled to (each
        batch stands for ``N`` rows against the priors' pseudo-counts). None:
        with ``batch_size``, the data's total weight; in :meth:`partial_fit`,
        the total weight of the batches seen so far (the posterior of a stream
        given what it has seen). Give the data size when :meth:`partial_fit`
        passes over a finite data set several times (else each pass counts
        the rows again and the posterior grows too confident).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The posterior mean of the weights.
    means_ : ndarray of shape (n_components, n_features)
        The posterior means ``m_k``.
    covariances_ : ndarray
        ``(nu_k W_k)^-1``, scikit-learn's normalised covariances (family shape).
    precisions_ : ndarray
        Their inverses, the expected precisions ``nu_k W_k``.
    precisions_cholesky_ : ndarray
        Cholesky factors of ``precisions_``.
    weight_concentration_prior_ : float
        The resolved ``gamma``.
    weight_concentration_ : ndarray or tuple of two ndarrays
        The Dirichlet's parameters, or the sticks' Beta parameters.
    mean_precision_prior_ : float
        The resolved ``beta_0``.
    mean_precision_ : ndarray of shape (n_components,)
        ``beta_k``.
    mean_prior_ : ndarray of shape (n_features,)
        The resolved prior mean.
    degrees_of_freedom_prior_ : float
        The resolved ``nu_0``.
    degrees_of_freedom_ : ndarray of shape (n_components,) or float
        ``nu_k`` (one number for 'tied').
    covariance_prior_ : float or ndarray
        The resolved prior covariance.
    converged_ : bool
        Whether the kept run met ``tol``.
    n_iter_ : int
        Iterations of the kept run.
    lower_bound_ : float
        Its last lower bound (scikit-learn's, up to its constant terms).
    lower_bounds_ : list of float
        The bound of each of its iterations.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` had string column names.

    See Also
    --------
    GaussianMixture : The maximum-likelihood mixture, fitted by EM.

    Notes
    -----
    ``predict``, ``predict_proba`` and ``score_samples`` use the variational
    expected log-densities (as scikit-learn's); ``sample`` draws from the
    point estimate ``weights_``, ``means_``, ``covariances_``.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import BayesianGaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [12, 4], [10, 7]])
    >>> bgm = BayesianGaussianMixture(n_components=2, random_state=42).fit(X)
    >>> bgm.means_.round(2)
    array([[2.49, 2.29],
           [8.45, 4.52]])
    >>> bgm.predict([[0, 0], [9, 3]])
    array([0, 1])
    """

    #: No equal-proportions option: the weights have a prior.
    equal_proportions: ClassVar[bool] = False

    def __init__(
        self,
        *,
        n_components: int = 1,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weight_concentration_prior_type: str = "dirichlet_process",
        weight_concentration_prior: float | None = None,
        mean_precision_prior: float | None = None,
        mean_prior: Any = None,
        degrees_of_freedom_prior: float | None = None,
        covariance_prior: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_jobs: int | None = None,
        batch_size: int | None = None,
        learning_decay: float = 0.6,
        learning_offset: float = 1.0,
        total_samples: float | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.total_samples = total_samples

    # ---------------------------------------------------------- parameters
    def _settings(self) -> _Settings:
        """The validated parameters (the wording of GaussianMixture's errors)."""
        name = type(self).__name__
        params = self.get_params(deep=False)
        shared = {k: params[k] for k in _SHARED_RULES}
        for key in ("tol", "reg_covar", "max_iter"):
            if isinstance(shared[key], str):
                raise ValueError(
                    f"{name}: {key} must be a number; got {describe_value(shared[key])}."
                )
        check_parameters(shared, name)

        def must(ok: bool, key: str, expected: str) -> None:
            if not ok:
                raise ValueError(
                    f"{name}: {key} must be {expected}; got "
                    f"{describe_value(params[key])}."
                )

        kind = params["covariance_type"]
        must(
            isinstance(kind, str) and kind in _SKLEARN_NAMES,
            "covariance_type",
            "one of " + ", ".join(repr(k) for k in _SKLEARN_NAMES),
        )
        init = params["init_params"]
        must(
            isinstance(init, str) and init in INIT_METHODS,
            "init_params",
            "one of " + ", ".join(repr(m) for m in INIT_METHODS),
        )
        prior_type = params["weight_concentration_prior_type"]
        must(
            isinstance(prior_type, str) and prior_type in WEIGHT_PRIOR_TYPES,
            "weight_concentration_prior_type",
            "one of " + ", ".join(repr(t) for t in WEIGHT_PRIOR_TYPES),
        )
        for key in (
            "weight_concentration_prior",
            "mean_precision_prior",
            "degrees_of_freedom_prior",
        ):
            value = params[key]
            must(value is None or _positive_number(value), key, "None or a number > 0")
        cov_prior = params["covariance_prior"]
        must(
            cov_prior is None
            or _positive_number(cov_prior)
            or (hasattr(cov_prior, "__len__") and not isinstance(cov_prior, str)),
            "covariance_prior",
            "None, a number > 0 or an array",
        )
        total_samples = params["total_samples"]
        must(
            total_samples is None or _positive_number(total_samples),
            "total_samples",
            "None or a number > 0 (the data size of stochastic variational inference)",
        )
        mean_prior = params["mean_prior"]
        must(
            mean_prior is None
            or (hasattr(mean_prior, "__len__") and not isinstance(mean_prior, str)),
            "mean_prior",
            "None or an array of shape (n_features,)",
        )
        return _Settings(
            owner=name,
            n_components=int(params["n_components"]),
            covariance_type=kind,
            prior_type=prior_type,
            tol=float(params["tol"]),
            reg_covar=float(params["reg_covar"]),
            max_iter=int(params["max_iter"]),
            n_init=int(params["n_init"]),
            init_params=init,
            random_state=params["random_state"],
            verbose=int(params["verbose"]),
            verbose_interval=int(params["verbose_interval"]),
            n_threads=resolve_n_threads(params["n_jobs"]),
            weight_concentration_prior=params["weight_concentration_prior"],
            mean_precision_prior=params["mean_precision_prior"],
            mean_prior=mean_prior,
            degrees_of_freedom_prior=params["degrees_of_freedom_prior"],
            covariance_prior=cov_prior,
            batch_size=None
            if params["batch_size"] is None
            else int(params["batch_size"]),
            learning_decay=float(params["learning_decay"]),
            learning_offset=float(params["learning_offset"]),
            total_samples=None if total_samples is None else float(total_samples),
        )

    # ----------------------------------------------------------------- fit
    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None
    ) -> BayesianGaussianMixture:
        """Fit the variational posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), str, os.PathLike, \
numpy.memmap, callable or dask.array.Array
            Training data. Besides arrays, a ``.npy`` path, a memmap, a chunk
            factory or a dask array are read one pass per iteration (as
            :meth:`gaussmix.GaussianMixture.fit`), the initialisation running
            on a reservoir sample.
        {{y_ignored}}
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: an integer weight counts its row that many
            times against the priors' pseudo-counts (so, unlike a maximum
            likelihood fit, their scale matters).

        Returns
        -------
        self : BayesianGaussianMixture
        """
        self._fit(X, sample_weight, want_labels=False)
        return self

    def _fit(self, X: Any, sample_weight: Any, *, want_labels: bool) -> Any:
        settings = self._settings()
        name = settings.owner
        source: DataSource
        if is_out_of_core(X):
            source = as_source(X, sample_weight, settings.n_threads, name)
        else:
            X = check_X(self, X, reset=True)
            weights = _checked_weights(X, sample_weight, settings.n_components, name)
            source = ArraySource(X, weights, n_threads=settings.n_threads)
        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            warm = (self._posterior(), float(self.lower_bound_))
        result = fit_variational(source, settings, warm)
        self._set_out_of_core_features(X, result.n_features)
        self._set_fitted(result, settings)
        if not want_labels:
            return None
        gaussians, _ = estep_params(result.params, settings.prior_type)
        with single_threaded_blas():
            return source.labels(gaussians, get_family(settings.covariance_type))

    def _set_fitted(self, result: VariationalFit, settings: _Settings) -> None:
        """Write the fitted attributes (scikit-learn's names), under the lock."""
        params, prior = result.params, result.prior
        point = GMMParams(
            weights=point_weights(params, settings.prior_type),
            means=params.means,
            covariances=params.covariances,
            precisions_cholesky=params.precisions_cholesky,
        )
        model = MixtureModel.from_params(point, settings.covariance_type, result.dtype)
        with self._lock("_params_lock"):
            self._set_model(model, result.info)
            self.weight_concentration_prior_ = prior.weight_concentration
            self.mean_precision_prior_ = prior.mean_precision
            self.mean_prior_ = prior.mean
            self.degrees_of_freedom_prior_ = prior.degrees_of_freedom
            self.covariance_prior_ = prior.covariance
            self.weight_concentration_ = params.weight_concentration
            self.mean_precision_ = params.mean_precision
            self.degrees_of_freedom_ = params.degrees_of_freedom
            self._svi_state = result.svi_state

    def _fitted_prior(self) -> VariationalPrior:
        """The resolved priors of the fit (its ``*_prior_`` attributes)."""
        return VariationalPrior(
            weight_concentration_prior_type=self.weight_concentration_prior_type,
            weight_concentration=float(self.weight_concentration_prior_),
            mean_precision=float(self.mean_precision_prior_),
            mean=np.asarray(self.mean_prior_, dtype=np.float64),
            degrees_of_freedom=float(self.degrees_of_freedom_prior_),
            covariance=self.covariance_prior_,
        )

    # ---------------------------------------------------------- partial_fit
    def partial_fit(
        self, X: Any, y: Any = None, sample_weight: Any = None
    ) -> BayesianGaussianMixture:
        """Update the posterior with one mini-batch (stochastic variational inference).

        The first call resolves the priors (their defaults from this batch's
        moments) and initialises from this batch with ``init_params``, unless
        the model was fitted before, in which case it continues from the
        fitted posterior. Every call runs the variational E-step on the batch
        and takes one natural-gradient step (Hoffman et al. 2013): the
        posterior's natural parameters are linear in the expected sufficient
        statistics, so the step blends them, ``S <- (1 - rho_t) S + rho_t
        (N / w_B) s_B`` with ``rho_t = (t + learning_offset)^-learning_decay``
        (GaussianMixture's stepwise EM's blend), and the variational M-step
        reads ``S``. ``N`` is ``total_samples``, or the total weight of the
        batches seen so far. The first step (and a first step after a batch
        ``fit``) takes the batch whole: on all the data it is one iteration of
        batch variational EM.

        Parameters
        ----------
        {{X_partial_fit}}
        {{y_ignored}}
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the batch's rows (counts against the priors, as in
            :meth:`fit`).

        Returns
        -------
        self : BayesianGaussianMixture
            ``n_iter_`` counts the steps, ``lower_bound_`` is the step's
            estimate of the bound on ``N`` rows (the batch's entropy scaled to
            ``N``, the new posterior) and ``lower_bounds_`` their history;
            ``converged_`` is False (a stream has no end).

        Notes
        -----
        Calls from several threads are serialised (none is lost); predictions
        meanwhile see the posterior before or after a step.
        """
        with self._lock("_partial_fit_lock"):
            return self._partial_fit(X, sample_weight)

    def _partial_fit(self, X: Any, sample_weight: Any) -> BayesianGaussianMixture:
        settings = self._settings()
        name = settings.owner
        family = get_family(settings.covariance_type)
        fitted = hasattr(self, "weight_concentration_")
        X = check_X(self, X, reset=not fitted, min_samples=1)
        n_samples, n_features = X.shape
        weights = _checked_weights(X, sample_weight, None, name)
        state: SVIState | None = None
        history: list[float] = []
        with single_threaded_blas():
            if fitted:
                params, prior = self._posterior(), self._fitted_prior()
                state = getattr(self, "_svi_state", None)
                if state is not None:
                    history = list(self.lower_bounds_)
            else:
                check_model_size(family, settings.n_components, n_features, name)
                check_first_batch(n_samples, settings.n_components, name)
                random_state = check_random_state(settings.random_state)
                summary = ArraySource(X, weights).summarize(
                    INIT_SAMPLE_SIZE, random_state
                )
                prior = _resolve_prior(settings, family, summary)
                params = _initial_params(summary, settings, family, prior, random_state)
            gaussians, _ = estep_params(params, settings.prior_type)
            batch = e_step(X, gaussians, family, weights, n_threads=settings.n_threads)
            if batch.weight <= 0.0:
                return self  # nothing to learn from an all-zero-weight batch
            state, params, bound = svi_step(
                state, batch, gaussians, family, prior, settings, X.dtype
            )
        history.append(bound)
        info = FitInfo(
            converged=False,
            n_iter=state.running.n_steps,
            lower_bound=bound,
            lower_bounds=history,
        )
        result = VariationalFit(params, prior, info, n_features, X.dtype, state)
        self._set_fitted(result, settings)
        return self

    def _posterior(self) -> VariationalParams:
        """The fitted posterior, read from the attributes together."""
        with self._lock("_params_lock"):
            return VariationalParams(
                weight_concentration=self.weight_concentration_,
                mean_precision=np.asarray(self.mean_precision_, dtype=np.float64),
                means=np.asarray(self.means_, dtype=np.float64),
                degrees_of_freedom=self.degrees_of_freedom_,
                covariances=np.asarray(self.covariances_, dtype=np.float64),
                precisions_cholesky=np.asarray(
                    self.precisions_cholesky_, dtype=np.float64
                ),
            )

    def _variational_model(self) -> tuple[MixtureModel, float]:
        """The mixture whose log terms are the expected ones, and their offset."""
        gaussians, offset = estep_params(
            self._posterior(), self.weight_concentration_prior_type
        )
        model = MixtureModel.from_params(
            gaussians, self.covariance_type, np.dtype(np.float64)
        )
        return model, offset

    # ----------------------------------------------------------- predictions
    def _prediction_pass(
        self, X: FloatArray, want_resp: bool
    ) -> tuple[FloatArray, FloatArray | None, IntArray]:
        """Variational ``log p(x)``, responsibilities and labels of validated X."""
        model, offset = self._variational_model()
        log_density, resp, labels = model.log_prob_resp(
            X, want_resp=want_resp, n_threads=self._n_threads()
        )
        log_density += np.asarray(offset, dtype=log_density.dtype)
        return log_density, resp, labels

    def _estimate_weighted_log_prob(self, X: Any) -> FloatArray:
        """``E[log pi_k] + E[log N(x | mu_k, Lambda_k)]``, shape (n_samples, K)."""
        X = self._predict_input(X)
        model, offset = self._variational_model()
        out = model.weighted_log_prob(X, n_threads=self._n_threads())
        out += np.asarray(offset, dtype=out.dtype)
        return out

    def _dask_predict(self, method: str, X: Any) -> Any:
        """``method`` on a dask array, lazily, with the variational log terms."""
        check_dask_input(self, X)
        from gaussmix.distributed import dask as gm_dask

        gaussians, offset = estep_params(
            self._posterior(), self.weight_concentration_prior_type
        )
        out = getattr(gm_dask, method)(X, gaussians, self._family(), owner=method)
        return out + offset if method == "score_samples" else out


def build_fitted_bayesian(
    params: Mapping[str, Any],
    model: MixtureModel,
    info: FitInfo,
    *,
    weight_concentration: Any,
    mean_precision: FloatArray,
    degrees_of_freedom: Any,
    prior: VariationalPrior,
    feature_names: Any = None,
) -> BayesianGaussianMixture:
    """A fitted :class:`BayesianGaussianMixture` from stored attributes.

    Model files (:func:`gaussmix.io.load`) use it. The attributes are set as
    given (no M-step is run), so predictions equal the saved model's bitwise.
    The online state of :meth:`BayesianGaussianMixture.partial_fit` is not
    part of it: a ``partial_fit`` after this starts a new stream from the
    posterior (as after ``fit``).

    Parameters
    ----------
    params : mapping
        Constructor parameters.
    model : MixtureModel
        The point estimate: ``weights_``, ``means_``, ``covariances_``,
        ``precisions_`` and ``precisions_cholesky_``.
    info : FitInfo
        Iterations, convergence and lower bounds.
    weight_concentration : ndarray or tuple of two ndarrays
        ``weight_concentration_``.
    mean_precision : ndarray of shape (n_components,)
        ``mean_precision_``.
    degrees_of_freedom : ndarray of shape (n_components,) or float
        ``degrees_of_freedom_``.
    prior : VariationalPrior
        The resolved priors (the ``*_prior_`` attributes).
    feature_names : array-like of str, default=None
        ``feature_names_in_``.

    Returns
    -------
    BayesianGaussianMixture
    """
    estimator = BayesianGaussianMixture(**params)
    with estimator._lock("_params_lock"):
        estimator._set_model(model, info)
        estimator.weight_concentration_prior_ = prior.weight_concentration
        estimator.mean_precision_prior_ = prior.mean_precision
        estimator.mean_prior_ = prior.mean
        estimator.degrees_of_freedom_prior_ = prior.degrees_of_freedom
        estimator.covariance_prior_ = prior.covariance
        estimator.weight_concentration_ = weight_concentration
        estimator.mean_precision_ = mean_precision
        estimator.degrees_of_freedom_ = degrees_of_freedom
        estimator._svi_state = None
    estimator.n_features_in_ = model.n_features
    if feature_names is not None:
        estimator.feature_names_in_ = np.asarray(feature_names, dtype=object)
    return estimator
