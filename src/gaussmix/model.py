"""A fitted mixture as a value: its arrays, and what they compute.

:class:`MixtureModel` holds the fitted arrays of a Gaussian mixture (in the
dtype they were fitted in, with scikit-learn's shapes) and computes with them:
log-densities, responsibilities, labels, draws and the information criteria.
It knows nothing of fitting or of scikit-learn's estimator protocol, and takes
arrays that are already validated.

Three writers of fitted estimators use it, so that the attributes of a
:class:`gaussmix.GaussianMixture` are written in one place
(:func:`gaussmix.mixture.build_fitted` and the estimator's own fit): the fit
driver (:mod:`gaussmix.fitting`), model files (:mod:`gaussmix.io`) and MAP
adaptation (:mod:`gaussmix.apps.speaker`). :class:`FitInfo` is the record of the
fit that produced a model (iterations, convergence, lower bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gaussmix._threads import single_threaded_blas
from gaussmix._typing import FloatArray, IntArray
from gaussmix.core.covariance import CovarianceFamily, get_family
from gaussmix.core.estep import estimate_log_prob, estimate_log_prob_resp
from gaussmix.core.noise import NoiseBox
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import weight_exponent

__all__ = ["FitInfo", "MixtureModel", "log_max_resp", "weighted_sum"]


@dataclass(frozen=True, slots=True)
class FitInfo:
    """How the fit that produced a model went.

    Parameters
    ----------
    converged : bool
        Whether EM met its tolerance.
    n_iter : int
        EM iterations (epochs for online EM, batches for ``partial_fit``).
    lower_bound : float
        Per-sample mean log-likelihood of the last E-step.
    lower_bounds : list of float
        The lower bound of every iteration.
    """

    converged: bool
    n_iter: int
    lower_bound: float
    lower_bounds: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MixtureModel:
    """The fitted arrays of a Gaussian mixture, and the computations on them.

    Parameters
    ----------
    covariance_type : str
        A registered covariance family (``gaussmix.core.covariance``).
    weights, means, covariances, precisions_cholesky, precisions : ndarray
        The fitted arrays, as the estimator's attributes of the same names
        (with a trailing underscore), all in one float dtype.
    noise_weight : float or None, default=None
        Proportion of the noise component (None without one).
    noise_log_density : float or None, default=None
        ``log(1 / V)`` of the noise component.
    noise_box : NoiseBox or None, default=None
        The box where noise points are drawn.
    """

    covariance_type: str
    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    precisions_cholesky: FloatArray
    precisions: FloatArray
    noise_weight: float | None = None
    noise_log_density: float | None = None
    noise_box: NoiseBox | None = None

    @classmethod
    def from_params(
        cls,
        params: GMMParams,
        covariance_type: str,
        dtype: Any,
        noise_box: NoiseBox | None = None,
    ) -> MixtureModel:
        """The model of float64 parameters, its arrays cast to ``dtype``.

        The noise component is kept only together with its box (``noise_box``).
        """
        family = get_family(covariance_type)
        noise = params.has_noise and noise_box is not None
        return cls(
            covariance_type=covariance_type,
            weights=params.weights.astype(dtype),
            means=params.means.astype(dtype),
            covariances=params.covariances.astype(dtype),
            precisions_cholesky=params.precisions_cholesky.astype(dtype),
            precisions=family.precisions(params.precisions_cholesky).astype(dtype),
            noise_weight=float(params.noise_weight) if noise else None,
            noise_log_density=(
                float(params.noise_log_density)  # type: ignore[arg-type]
                if noise
                else None
            ),
            noise_box=noise_box if noise else None,
        )

    # ------------------------------------------------------------ the shape
    @property
    def family(self) -> CovarianceFamily:
        """The covariance family object."""
        return get_family(self.covariance_type)

    @property
    def n_components(self) -> int:
        """``K``: the Gaussians (a noise component is not one of them)."""
        return len(self.weights)

    @property
    def n_features(self) -> int:
        """``D``, the width of the rows the model takes."""
        return int(self.means.shape[-1])

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of the fitted arrays."""
        return self.means.dtype

    def params(self) -> GMMParams:
        """The parameters in float64, as the numeric core takes them."""
        base = GMMParams(
            weights=np.asarray(self.weights, dtype=np.float64),
            means=np.asarray(self.means, dtype=np.float64),
            covariances=np.asarray(self.covariances, dtype=np.float64),
            precisions_cholesky=np.asarray(self.precisions_cholesky, dtype=np.float64),
        )
        if self.noise_log_density is None:
            return base
        return GMMParams(
            weights=base.weights,
            means=base.means,
            covariances=base.covariances,
            precisions_cholesky=base.precisions_cholesky,
            noise_weight=float(self.noise_weight or 0.0),
            noise_log_density=float(self.noise_log_density),
        )

    @classmethod
    def from_covariances(
        cls,
        covariance_type: str,
        weights: FloatArray,
        means: FloatArray,
        covariances: FloatArray,
        dtype: Any,
    ) -> MixtureModel:
        """A model of derived float64 arrays (a marginal or a conditional mixture).

        Raises
        ------
        ValueError
            If a covariance is not positive definite.
        """
        family = get_family(covariance_type)
        factors, failed = family.precisions_cholesky(covariances)
        if np.any(failed):
            raise ValueError(
                "a conditional covariance is not positive definite (the joint "
                "covariance is nearly singular); refit with a larger reg_covar."
            )
        params = GMMParams(weights, means, covariances, factors)
        return cls.from_params(params, covariance_type, dtype)

    def n_parameters(self, equal_proportions: bool = False) -> int:
        """Number of free parameters (mclust's ``nMclustParams``).

        Equal proportions count no weights; a noise component counts two (its
        proportion and the hypervolume), as in mclust.
        """
        n = self.family.n_parameters(self.n_components, self.n_features)
        if equal_proportions:
            n -= self.n_components - 1
        if self.noise_log_density is not None:
            n += 2
        return n

    # ------------------------------------------------------- computations
    def log_prob_resp(
        self, X: FloatArray, *, want_resp: bool, n_threads: int = 1
    ) -> tuple[FloatArray, FloatArray | None, IntArray]:
        """``log p(x)``, the responsibilities (with ``want_resp``) and the labels.

        ``X`` is a validated float array with ``n_features`` columns. With a
        noise component, ``resp`` has one more column (the noise, last) and rows
        most likely noise are labelled ``-1``.
        """
        with single_threaded_blas():
            return estimate_log_prob_resp(
                X, self.params(), self.family, want_resp=want_resp, n_threads=n_threads
            )

    def weighted_log_prob(self, X: FloatArray, n_threads: int = 1) -> FloatArray:
        """``log(weights_k) + log N(x | mean_k, cov_k)``, shape (n_samples, K)."""
        with single_threaded_blas():
            return estimate_log_prob(
                X, self.params(), self.family, weighted=True, n_threads=n_threads
            )

    def sample(
        self, n_samples: int, random_state: np.random.RandomState
    ) -> tuple[FloatArray, IntArray]:
        """``n_samples`` draws grouped by component (noise points last) and their labels."""
        family = self.family
        weights = np.asarray(self.weights, dtype=np.float64)
        if self.noise_box is not None:
            probs = np.append(weights, float(self.noise_weight or 0.0))
            counts = random_state.multinomial(int(n_samples), probs / probs.sum())
            X = family.sample(random_state, self.means, self.covariances, counts[:-1])
            X = np.vstack([X, self.noise_box.sample(random_state, int(counts[-1]))])
            labels = [*range(self.n_components), -1]
            y = np.concatenate(
                [
                    np.full(int(n), j, dtype=int)
                    for j, n in zip(labels, counts, strict=True)
                ]
            )
            return X, y
        counts = random_state.multinomial(int(n_samples), weights / weights.sum())
        X = family.sample(random_state, self.means, self.covariances, counts)
        y = np.concatenate(
            [np.full(int(n), j, dtype=int) for j, n in enumerate(counts)]
        )
        return X, y

    def criteria(
        self,
        X: FloatArray,
        sample_weight: FloatArray | None = None,
        *,
        equal_proportions: bool = False,
        n_threads: int = 1,
    ) -> dict[str, float]:
        """Log-likelihood, AIC, BIC and ICL of validated ``X``, from one pass.

        Lower AIC, BIC and ICL are better (scikit-learn's sign); ``n`` in BIC
        is the total weight, so integer weights equal repeated rows.
        """
        log_density, resp, _ = self.log_prob_resp(
            X, want_resp=True, n_threads=n_threads
        )
        assert resp is not None
        loglik, _, log_total = weighted_sum(log_density, sample_weight)
        entropy, _, _ = weighted_sum(log_max_resp(resp), sample_weight)
        n_parameters = self.n_parameters(equal_proportions)
        bic = -2.0 * loglik + n_parameters * log_total
        return {
            "log_likelihood": loglik,
            "aic": -2.0 * loglik + 2.0 * n_parameters,
            "bic": bic,
            "icl": bic - 2.0 * entropy,
        }


def weighted_sum(
    values: FloatArray, weights: FloatArray | None
) -> tuple[float, float, float]:
    """``(sum_i w_i values_i, sum_i w_i, log sum_i w_i)``; weights 1 when None.

    The weights count rows (an integer weight is that many repeated rows), so
    the sums scale with them. They are computed on the weights scaled by a
    power of two ``2^e`` near 1 and multiplied back as Python floats: a sum
    beyond float64's range is then +-inf without a RuntimeWarning, and the log
    of the total, ``log(sum) + e log 2``, stays finite.
    """
    values = values.astype(np.float64)
    if weights is None:
        n = float(values.shape[0])
        return float(np.sum(values)), n, math.log(n)
    exponent = weight_exponent(weights)
    scaled = np.ldexp(weights, -exponent) if exponent else weights
    factor = math.ldexp(1.0, exponent)
    total = float(np.sum(scaled))
    return (
        float(values @ scaled) * factor,
        total * factor,
        math.log(total) + exponent * math.log(2.0),
    )


def log_max_resp(resp: FloatArray) -> FloatArray:
    """``log max_k resp_ik`` of every row (ICL's classification entropy term)."""
    best = resp.astype(np.float64).max(axis=1)
    return np.asarray(np.log(np.maximum(best, np.finfo(np.float64).tiny)))
