"""Variational Bayesian mixtures: the M-step, the expected log-densities and the bound.

The variational posterior of a Bayesian Gaussian mixture (Bishop 2006, ch. 10.2;
Blei and Jordan 2006 for the Dirichlet process) is, per component, a
Gaussian-Wishart over the mean and precision and a Dirichlet (or the Beta
factors of a truncated stick-breaking process) over the weights. Its update
from the responsibilities needs only the sums ``nk``, ``sum r x`` and the
family-shaped ``sum r x x^T``: the :class:`~gaussmix.core.stats.SuffStats` that
every E-step of gaussmix already produces, by chunks, threads, files or Dask.

**The E-step is the ordinary one.** Under the variational posterior the
expected log-density of a row under component ``k`` is

    E[log pi_k] + log N(x | m_k, (nu_k W_k)^-1) + c_k,
    c_k = -D/2 log nu_k + 1/2 (D log 2 + sum_i digamma((nu_k - i)/2) - D / beta_k),

a Gaussian log-density with the expected precision plus a per-component
constant. :func:`estep_params` folds the constants into the log-weights of a
:class:`~gaussmix.core.params.GMMParams` (normalised, with the normaliser
returned), so :func:`gaussmix.core.estep.e_step` computes the responsibilities
and statistics unchanged (its packed design, compiled kernels and float32 path
included).

**The bound from the statistics.** scikit-learn's lower bound needs the
entropy ``-sum_i w_i sum_k r_ik log r_ik`` of the responsibilities. With
``L_ik`` the E-step's log terms, ``log r_ik = L_ik - log sum_k exp L_ik``, so the
entropy is ``sum_i w_i log sum_k exp L_ik`` (the E-step's ``loglik``) minus
``sum_ik w_i r_ik L_ik``, and the latter is linear in the statistics
(:func:`expected_log_terms`): no ``N x K`` array is needed.

The formulas, their normalisations ("normalised" Wishart scale matrices, the
constants left out of the bound) and the ``10 eps`` offset on ``nk`` are
scikit-learn's (``sklearn.mixture.BayesianGaussianMixture``), so that fits from
the same start agree to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from scipy.special import betaln, digamma, gammaln

from gaussmix._typing import FloatArray
from gaussmix.core.family import CovarianceFamily, CovarianceStats
from gaussmix.core.numerics import LOG_2PI
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats

__all__ = [
    "DIRICHLET_DISTRIBUTION",
    "DIRICHLET_PROCESS",
    "WEIGHT_PRIOR_TYPES",
    "IllDefinedCovarianceError",
    "VariationalParams",
    "VariationalPrior",
    "estep_params",
    "expected_log_terms",
    "expected_log_weights",
    "log_density_offsets",
    "lower_bound",
    "point_weights",
    "variational_m_step",
]

DIRICHLET_PROCESS: Final = "dirichlet_process"
DIRICHLET_DISTRIBUTION: Final = "dirichlet_distribution"
#: The accepted ``weight_concentration_prior_type`` values (scikit-learn's).
WEIGHT_PRIOR_TYPES: Final = (DIRICHLET_PROCESS, DIRICHLET_DISTRIBUTION)

_EPS: Final = float(np.finfo(np.float64).eps)


class IllDefinedCovarianceError(ValueError):
    """A posterior scale matrix is not positive definite."""


@dataclass(frozen=True, slots=True)
class VariationalPrior:
    """The resolved priors of a variational fit (scikit-learn's ``*_prior_``).

    Parameters
    ----------
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}
        Stick-breaking (truncated Dirichlet process) or a finite Dirichlet.
    weight_concentration : float
        ``gamma`` (the Beta's second parameter for the process, the
        Dirichlet's concentration otherwise).
    mean_precision : float
        ``beta_0``, the precision of the means' prior in units of the precision.
    mean : ndarray of shape (n_features,)
        ``m_0``, the means' prior mean.
    degrees_of_freedom : float
        ``nu_0`` of the Wishart prior (> n_features - 1).
    covariance : ndarray or float
        The Wishart prior's scale ``W_0^-1`` in the family's shape: ``(D, D)``
        for full and tied, ``(D,)`` diag, a number spherical.
    """

    weight_concentration_prior_type: str
    weight_concentration: float
    mean_precision: float
    mean: FloatArray
    degrees_of_freedom: float
    covariance: Any


@dataclass(frozen=True, slots=True)
class VariationalParams:
    """The variational posterior, with scikit-learn's fitted attributes' shapes.

    Parameters
    ----------
    weight_concentration : ndarray or tuple of two ndarrays
        Dirichlet parameters ``(K,)``, or the Beta parameters of the sticks.
    mean_precision : ndarray of shape (n_components,)
        ``beta_k``.
    means : ndarray of shape (n_components, n_features)
        ``m_k``.
    degrees_of_freedom : ndarray of shape (n_components,) or float
        ``nu_k`` (one number for the tied family).
    covariances : ndarray
        ``(nu_k W_k)^-1`` in the family's shape (scikit-learn's normalised scale).
    precisions_cholesky : ndarray
        Cholesky factors of ``nu_k W_k``, the expected precisions.
    """

    weight_concentration: Any
    mean_precision: FloatArray
    means: FloatArray
    degrees_of_freedom: Any
    covariances: FloatArray
    precisions_cholesky: FloatArray


# ------------------------------------------------------------------ M-step
def _wishart_scale(
    family: CovarianceFamily,
    prior: VariationalPrior,
    nk: FloatArray,
    sk: FloatArray,
    diff: FloatArray,
    mean_precision: FloatArray,
) -> tuple[Any, FloatArray]:
    """``nu_k`` and ``(nu_k W_k)^-1`` in the family's shape (Bishop's 10.62-10.63)."""
    n_components = nk.shape[0]
    beta0 = prior.mean_precision
    if family.shared:
        total = nk.sum() / n_components
        dof: Any = prior.degrees_of_freedom + total
        cov = (
            prior.covariance
            + sk * total
            + beta0 / n_components * np.dot((nk / mean_precision) * diff.T, diff)
        )
        return dof, np.asarray(cov / dof)
    dof = prior.degrees_of_freedom + nk
    shrink = nk * beta0 / mean_precision
    if family.matrix:
        cov = (
            prior.covariance
            + nk[:, None, None] * sk
            + shrink[:, None, None] * np.einsum("ki,kj->kij", diff, diff)
        )
        return dof, np.asarray(cov / dof[:, None, None])
    if family.per_feature:
        cov = prior.covariance + nk[:, None] * (
            sk + (beta0 / mean_precision)[:, None] * np.square(diff)
        )
        return dof, np.asarray(cov / dof[:, None])
    cov = prior.covariance + nk * (
        sk + beta0 / mean_precision * np.mean(np.square(diff), axis=1)
    )
    return dof, np.asarray(cov / dof)


def variational_m_step(
    stats: SuffStats,
    family: CovarianceFamily,
    prior: VariationalPrior,
    reg_covar: float,
    *,
    dtype: Any = np.float64,
) -> VariationalParams:
    """The variational posterior given the statistics of an E-step.

    Parameters
    ----------
    stats : SuffStats
        Statistics of the responsibilities (weighted by the sample weights).
    family : CovarianceFamily
        One of scikit-learn's four families.
    prior : VariationalPrior
        The resolved priors.
    reg_covar : float
        Added to the diagonal of each empirical covariance (scikit-learn's ``sk``).
    dtype : numpy dtype, default=float64
        Dtype of the data: its epsilon sets the ``10 eps`` added to ``nk``
        (scikit-learn's), in units of the mean sample weight.

    Returns
    -------
    VariationalParams

    Raises
    ------
    IllDefinedCovarianceError
        If a posterior covariance is not positive definite.
    """
    nk_raw = np.asarray(stats.nk, dtype=np.float64)
    mean_weight = stats.weight / stats.n_samples if stats.n_samples else 1.0
    nk = nk_raw + 10.0 * float(np.finfo(dtype).eps) * mean_weight
    d = stats.sx / nk[:, None]
    xk = stats.shift + d
    sk = family.unconstrained_covariances(
        CovarianceStats(stats.sxx, stats.sx, nk_raw, nk, d), reg_covar
    )
    if prior.weight_concentration_prior_type == DIRICHLET_PROCESS:
        tail = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0.0))
        concentration: Any = (1.0 + nk, prior.weight_concentration + tail)
    else:
        concentration = prior.weight_concentration + nk
    beta0 = prior.mean_precision
    mean_precision = beta0 + nk
    means = (beta0 * prior.mean + nk[:, None] * xk) / mean_precision[:, None]
    diff = xk - prior.mean
    dof, covariances = _wishart_scale(family, prior, nk, sk, diff, mean_precision)
    precisions_cholesky, failed = family.precisions_cholesky(covariances)
    if np.any(failed):
        raise IllDefinedCovarianceError(
            "Fitting the mixture model failed because some components have "
            "ill-defined empirical covariance (for instance caused by singleton "
            "or collapsed samples). Try to decrease the number of components, "
            "increase reg_covar, or scale the input data."
        )
    return VariationalParams(
        weight_concentration=concentration,
        mean_precision=np.asarray(mean_precision),
        means=np.asarray(means),
        degrees_of_freedom=dof,
        covariances=covariances,
        precisions_cholesky=np.asarray(precisions_cholesky),
    )


# ------------------------------------------------------------------ E-step
def expected_log_weights(params: VariationalParams, prior_type: str) -> FloatArray:
    """``E[log pi_k]`` under the Dirichlet (or stick-breaking) posterior."""
    concentration = params.weight_concentration
    if prior_type == DIRICHLET_PROCESS:
        a, b = concentration
        digamma_sum = digamma(a + b)
        sticks = np.cumsum(digamma(b) - digamma_sum)[:-1]
        return np.asarray(digamma(a) - digamma_sum + np.hstack((0.0, sticks)))
    return np.asarray(digamma(concentration) - digamma(np.sum(concentration)))


def log_density_offsets(params: VariationalParams, n_features: int) -> FloatArray:
    """``c_k``: the expected log-density minus the Gaussian one, ``(n_components,)``.

    ``E[log N(x | mu_k, Lambda_k)] = log N(x | m_k, (nu_k W_k)^-1) + c_k``.
    """
    dof = params.degrees_of_freedom
    features = np.arange(n_features)
    log_lambda = n_features * math.log(2.0) + np.sum(
        digamma(0.5 * (dof - features[:, None])), axis=0
    )
    offsets = -0.5 * n_features * np.log(dof) + 0.5 * (
        log_lambda - n_features / params.mean_precision
    )
    return np.asarray(offsets, dtype=np.float64)


def estep_params(params: VariationalParams, prior_type: str) -> tuple[GMMParams, float]:
    """The Gaussian mixture whose E-step is the variational one, and its offset.

    The log-weights ``E[log pi_k] + c_k`` are normalised (so that the
    E-step's centring and its float32 checks see ordinary weights); the
    normaliser ``log sum_k exp(E[log pi_k] + c_k)`` is returned: the
    variational log-density of a row (scikit-learn's ``score_samples``) is
    the mixture's log-density plus it.

    Returns
    -------
    params : GMMParams
        Weights ``exp(E[log pi_k] + c_k - offset)``, the posterior means, the
        normalised covariances and the expected precisions' factors.
    offset : float
        ``log sum_k exp(E[log pi_k] + c_k)``.
    """
    n_features = params.means.shape[1]
    log_terms = expected_log_weights(params, prior_type) + log_density_offsets(
        params, n_features
    )
    top = float(np.max(log_terms))
    offset = top + math.log(float(np.sum(np.exp(log_terms - top))))
    weights = np.exp(log_terms - offset)
    gaussians = GMMParams(
        weights=weights,
        means=params.means,
        covariances=params.covariances,
        precisions_cholesky=params.precisions_cholesky,
    )
    return gaussians, offset


def point_weights(params: VariationalParams, prior_type: str) -> FloatArray:
    """``weights_``: the posterior mean of the weights (scikit-learn's)."""
    concentration = params.weight_concentration
    if prior_type == DIRICHLET_PROCESS:
        a, b = concentration
        total = a + b
        weights = a / total * np.hstack((1.0, np.cumprod(b / total)[:-1]))
        return np.asarray(weights / np.sum(weights))
    return np.asarray(concentration / np.sum(concentration))


# ------------------------------------------------------------- the bound
def expected_log_terms(
    stats: SuffStats, params: GMMParams, family: CovarianceFamily
) -> float:
    """``sum_i w_i sum_k r_ik L_ik`` from the statistics of the E-step of ``params``.

    ``L_ik = log weights_k + log N(x_i | means_k, precisions_k)``, the E-step's
    log terms; ``r`` the responsibilities the statistics were made with.
    Components without mass contribute nothing (even with a zero weight).
    """
    n_features = params.means.shape[1]
    nk = np.asarray(stats.nk, dtype=np.float64)
    u = params.precisions_cholesky
    precisions = family.precisions(u)
    d = params.means - stats.shift
    sxx, sx = stats.sxx, stats.sx
    if family.matrix:
        stack = (
            np.broadcast_to(precisions, (nk.shape[0], n_features, n_features))
            if family.shared
            else precisions
        )
        pd = np.einsum("kij,kj->ki", stack, d)
        quadratic = (
            float(np.sum(precisions * sxx))
            - 2.0 * float(np.sum(sx * pd))
            + float(np.sum(nk * np.einsum("ki,ki->k", d, pd)))
        )
    elif family.per_feature:
        quadratic = float(
            np.sum(precisions * sxx)
            - 2.0 * np.sum(precisions * sx * d)
            + np.sum(nk[:, None] * precisions * d * d)
        )
    else:
        quadratic = float(
            np.sum(precisions * sxx)
            - 2.0 * np.sum(precisions * np.einsum("ki,ki->k", sx, d))
            + np.sum(nk * precisions * np.einsum("ki,ki->k", d, d))
        )
    log_det = family.log_det_cholesky(u, n_features)
    with np.errstate(divide="ignore"):
        const = np.log(params.weights) - 0.5 * n_features * LOG_2PI + log_det
    linear = float(np.sum(np.where(nk > 0.0, nk * const, 0.0)))
    return linear - 0.5 * quadratic


def lower_bound(
    entropy: float,
    params: VariationalParams,
    family: CovarianceFamily,
    prior_type: str,
) -> float:
    """scikit-learn's evidence lower bound (up to its constant terms).

    Parameters
    ----------
    entropy : float
        ``-sum_i w_i sum_k r_ik log r_ik`` of the E-step before the M-step.
    params : VariationalParams
        The posterior after the M-step.
    family : CovarianceFamily
        The covariance family.
    prior_type : str
        The weight prior's type.

    Returns
    -------
    float
    """
    n_components, n_features = params.means.shape
    dof = params.degrees_of_freedom
    log_det = family.log_det_cholesky(
        params.precisions_cholesky, n_features
    ) - 0.5 * n_features * np.log(dof)
    features = np.arange(n_features)
    log_wishart_norm = -(
        dof * log_det
        + dof * n_features * 0.5 * math.log(2.0)
        + np.sum(gammaln(0.5 * (dof - features[:, None])), axis=0)
    )
    if family.shared:
        log_wishart = n_components * float(np.sum(log_wishart_norm))
    else:
        log_wishart = float(np.sum(log_wishart_norm))
    concentration = params.weight_concentration
    if prior_type == DIRICHLET_PROCESS:
        log_norm_weight = -float(np.sum(betaln(concentration[0], concentration[1])))
    else:
        log_norm_weight = float(
            gammaln(np.sum(concentration)) - np.sum(gammaln(concentration))
        )
    return float(
        entropy
        - log_wishart
        - log_norm_weight
        - 0.5 * n_features * np.sum(np.log(params.mean_precision))
    )
