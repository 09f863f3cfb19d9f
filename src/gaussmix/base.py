"""What every mixture estimator of gaussmix shares once it is fitted.

:class:`MixtureEstimator` is the scikit-learn face of a fitted
:class:`gaussmix.model.MixtureModel`: it reads the fitted attributes as one
model (under a lock, so a ``partial_fit`` in another thread is never seen half
done), validates prediction input, and provides ``score_samples``, ``score``,
``predict``, ``predict_proba``, ``sample``, the tail probability and the
information criteria. A new estimator (a Bayesian mixture, a mixture classifier)
subclasses it, fits through :mod:`gaussmix.fitting`, and writes its result with
:meth:`MixtureEstimator._set_model`; it then predicts like the others.
"""

from __future__ import annotations

import threading
from abc import ABCMeta, abstractmethod
from typing import Any, Final, cast

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from gaussmix import array_api
from gaussmix._docs import fill_doc
from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import (
    check_dask_input,
    check_random_state_value,
    check_sample_weight,
    check_X,
    is_count,
    resolve_n_threads,
)
from gaussmix.core.covariance import CovarianceFamily, get_family
from gaussmix.core.noise import NoiseBox
from gaussmix.core.params import GMMParams
from gaussmix.core.prior import ConjugatePrior
from gaussmix.core.stats import rescale_weights
from gaussmix.model import FitInfo, MixtureModel, log_max_resp, weighted_sum
from gaussmix.sources import is_dask_array, is_out_of_core

__all__ = ["MixtureEstimator"]

#: Guards the lazy creation of the per-estimator locks.
_LOCK_CREATION: Final = threading.Lock()
#: Attribute names of the per-estimator locks (see MixtureEstimator._lock).
_LOCK_NAMES: Final = ("_partial_fit_lock", "_params_lock")

_NOISE_ATTRIBUTES: Final = (
    "noise_weight_",
    "noise_log_density_",
    "noise_box_axes_",
    "noise_box_bounds_",
)


@fill_doc
class MixtureEstimator(DensityMixin, BaseEstimator, metaclass=ABCMeta):  # type: ignore[misc]
    """Base class of gaussmix's mixture estimators: predictions of a fitted model.

    Subclasses define the constructor (scikit-learn's parameters, among them
    ``covariance_type``, ``n_jobs`` and ``random_state``; ``equal_proportions``
    if they have it) and the fit methods, which end with :meth:`_set_model`:
    ``fit`` and :meth:`fit_predict` call their ``_fit``.
    """

    def _lock(self, name: str) -> threading.RLock:
        """The lock ``name`` of this estimator, created on first use.

        Locks are not parameters or fitted attributes (their names do not end
        in ``_``), and are left out of pickles and copies (:meth:`__getstate__`).
        """
        lock = self.__dict__.get(name)
        if lock is None:
            with _LOCK_CREATION:
                lock = self.__dict__.get(name)
                if lock is None:
                    lock = self.__dict__[name] = threading.RLock()
        return cast("threading.RLock", lock)

    def __getstate__(self) -> dict[str, Any]:
        """The pickled state: everything but the locks (which cannot be pickled)."""
        state = dict(super().__getstate__())
        for name in _LOCK_NAMES:
            state.pop(name, None)
        return state

    def _set_model(self, model: MixtureModel, info: FitInfo) -> None:
        """The fitted attributes of ``model`` and ``info`` (caller holds the lock)."""
        if model.noise_box is not None:
            assert model.noise_log_density is not None
            box = model.noise_box
            self.noise_weight_ = float(model.noise_weight or 0.0)
            self.noise_log_density_ = float(model.noise_log_density)
            self.noise_box_axes_ = np.asarray(box.axes, dtype=np.float64)
            self.noise_box_bounds_ = np.vstack([box.lower, box.upper])
        else:
            for attr in _NOISE_ATTRIBUTES:
                if hasattr(self, attr):
                    delattr(self, attr)
        self.weights_ = model.weights
        self.means_ = model.means
        self.covariances_ = model.covariances
        self.precisions_cholesky_ = model.precisions_cholesky
        self.precisions_ = model.precisions
        self.converged_ = bool(info.converged)
        self.n_iter_ = int(info.n_iter)
        self.lower_bound_ = float(info.lower_bound)
        self.lower_bounds_ = [float(v) for v in info.lower_bounds]

    def _set_prior(self, prior: ConjugatePrior | None) -> None:
        """``prior_`` after a fit: the resolved prior, or no attribute."""
        if prior is not None:
            self.prior_: dict[str, Any] = prior.as_dict()
        elif hasattr(self, "prior_"):
            delattr(self, "prior_")

    def _model(self) -> MixtureModel:
        """The fitted model, read from the attributes together.

        A ``partial_fit`` in another thread may be replacing them; the attributes
        are read (not a cached copy), so a user's change to one is seen.
        """
        array_api.check_numpy_model(self)
        with self._lock("_params_lock"):
            noise = hasattr(self, "noise_log_density_")
            return MixtureModel(
                covariance_type=self.covariance_type,
                weights=self.weights_,
                means=self.means_,
                covariances=self.covariances_,
                precisions_cholesky=self.precisions_cholesky_,
                precisions=self.precisions_,
                noise_weight=float(self.noise_weight_) if noise else None,
                noise_log_density=float(self.noise_log_density_) if noise else None,
                noise_box=self._noise_box_fitted() if noise else None,
            )

    def fitted_model(self) -> MixtureModel:
        """The fitted arrays as one value that computes with them.

        A :class:`gaussmix.model.MixtureModel` (log-densities, responsibilities,
        draws, criteria) on already validated arrays; it holds the estimator's
        current fitted attributes, read together.

        Returns
        -------
        MixtureModel
        """
        check_is_fitted(self)
        return self._model()

    def _fitted_params(self) -> GMMParams:
        """The fitted parameters in float64, read together."""
        return self._model().params()

    def _noise_box_fitted(self) -> NoiseBox | None:
        if not hasattr(self, "noise_box_axes_"):
            return None
        bounds = np.asarray(self.noise_box_bounds_, dtype=np.float64)
        return NoiseBox(
            np.asarray(self.noise_box_axes_, dtype=np.float64), bounds[0], bounds[1]
        )

    # ------------------------------------------------------------------- fit
    @abstractmethod
    def _fit(self, X: Any, sample_weight: Any, *, want_labels: bool) -> Any:
        """Fit to ``X``; return the labels of its rows with ``want_labels``, else None.

        Each subclass defines its fit here (scikit-learn's ``BaseMixture`` holds
        ``fit_predict`` over an abstract fit the same way).
        """

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> IntArray:
        """Fit, then return the most likely component of every row of ``X``.

        The labels are those of ``fit(X).predict(X)`` whatever ``max_iter`` and
        ``tol`` (a final E-step is run after the last M-step).

        Parameters
        ----------
        {{X_fit}}
        {{y_ignored}}
        {{sample_weight_fit}}

        Returns
        -------
        {{labels_returns}}
        """
        labels = self._fit(X, sample_weight, want_labels=True)
        assert labels is not None
        return cast("IntArray", labels)

    def _set_out_of_core_features(self, X: Any, n_features: int) -> None:
        """``n_features_in_`` after a fit on an out-of-core ``X`` (no column names).

        A path, memmap, chunk factory or dask array is read by the fit, not by
        ``check_X``, which sets these attributes for arrays.
        """
        if is_out_of_core(X):
            self.n_features_in_ = n_features
            if hasattr(self, "feature_names_in_"):
                delattr(self, "feature_names_in_")

    # ------------------------------------------------------------ prediction
    def _predict_input(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        return check_X(self, X, reset=False, min_samples=1)

    def _dask_predict(self, method: str, X: Any) -> Any:
        """``method`` on a dask array: lazy, block by block (gaussmix.distributed)."""
        check_dask_input(self, X)
        from gaussmix.distributed import dask as gm_dask

        function = getattr(gm_dask, method)
        return function(X, self._fitted_params(), self._family(), owner=method)

    def _family(self) -> CovarianceFamily:
        return get_family(self.covariance_type)

    def _n_threads(self) -> int:
        return resolve_n_threads(self.n_jobs)

    def _prediction_pass(
        self, X: FloatArray, want_resp: bool
    ) -> tuple[FloatArray, FloatArray | None, IntArray]:
        """``log p(x)``, responsibilities (with ``want_resp``) and labels of validated X."""
        return self._model().log_prob_resp(
            X, want_resp=want_resp, n_threads=self._n_threads()
        )

    def _predicted(self, X: Any, method: str) -> Any:
        """What ``method`` returns for ``X``, from one pass (lazy for a dask array).

        ``score_samples`` gives ``log p(x)``, ``predict`` the labels and
        ``predict_proba`` the responsibilities.
        """
        if array_api.xp_prediction(self, X):
            return array_api.predict(self, X, method)
        if is_dask_array(X):
            return self._dask_predict(method, X)
        X = self._predict_input(X)
        log_density, resp, labels = self._prediction_pass(X, method == "predict_proba")
        outputs = {
            "score_samples": log_density,
            "predict": labels,
            "predict_proba": resp,
        }
        return outputs[method]

    def score_samples(self, X: Any) -> FloatArray:
        """Log of the mixture's probability density at each row of ``X``.

        This is a log-*density*, not the log of a probability: it can be
        positive, and its value depends on the units of ``X``.

        {{predict_parameters}}

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            ``log p(x)`` of every row (with a noise component, ``p`` includes
            its density ``noise_weight_ / V``). For a dask array, a lazy dask
            array computed block by block on the workers.
        """
        return cast("FloatArray", self._predicted(X, "score_samples"))

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Weighted mean log-density of ``X``.

        Parameters
        ----------
        {{X_predict}}
        {{y_ignored}}
        {{sample_weight_score}}

        Returns
        -------
        float
            ``sum_i w_i log p(x_i) / sum_i w_i``.
        """
        log_density = self.score_samples(X)
        if is_dask_array(log_density):
            if sample_weight is None:
                return float(log_density.mean(dtype=np.float64).compute())
            total = (log_density.astype(np.float64) * sample_weight).sum()
            return float((total / sample_weight.sum()).compute())
        if array_api.is_namespace_array(log_density):
            return array_api.weighted_mean(log_density, sample_weight)
        weights = check_sample_weight(
            sample_weight, log_density.shape[0], None, type(self).__name__
        )
        if weights is None:
            return float(np.mean(log_density, dtype=np.float64))
        # A weighted mean does not depend on the weights' scale: extreme ones
        # (1e306, 5e-324) are brought near 1 first (exactly, a power of two).
        return float(
            np.average(log_density.astype(np.float64), weights=rescale_weights(weights))
        )

    def predict(self, X: Any) -> IntArray:
        """Most likely component of each row of ``X``.

        {{predict_parameters}}

        Returns
        -------
        {{labels_returns}}
        """
        return cast("IntArray", self._predicted(X, "predict"))

    def predict_proba(self, X: Any) -> FloatArray:
        """Posterior probability of each component for each row of ``X``.

        {{predict_parameters}}

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components) or (n_samples, n_components + 1)
            Responsibilities; each row sums to one. With a noise component the
            last column is the noise. For a dask array, a lazy dask array.
        """
        return cast("FloatArray", self._predicted(X, "predict_proba"))

    def tail_probability(
        self,
        X: Any,
        *,
        method: str = "auto",
        n_samples: int = 100_000,
        random_state: Any = 0,
        return_std: bool = False,
    ) -> FloatArray | tuple[FloatArray, FloatArray]:
        """Share of the model's probability mass that is no more likely than ``x``.

        ``score_samples`` gives a *density*, which is not a probability: its
        value depends on the units of ``X`` and can exceed 1. The question "how
        probable is a value like this one?" is answered by the tail probability
        ``P(p(Y) <= p(x))`` for ``Y`` drawn from the model: 1 at the densest
        point, near 0 far out, and uniform on data drawn from the model, so a
        threshold of 0.01 flags 1% of typical data (a calibrated anomaly score).

        Parameters
        ----------
        {{X_predict}}
        method : {'auto', 'exact', 'monte-carlo'}, default='auto'
            'exact' needs one component (chi-square tail of the Mahalanobis
            distance) or one feature (root finding on the density and normal
            CDFs, accurate to about 1e-12); 'monte-carlo' compares with
            ``n_samples`` draws from the model; 'auto' is exact where possible.
        n_samples : int, default=100_000
            Draws for the Monte Carlo estimate (at least 100); its standard
            error is ``sqrt(q (1 - q) / n_samples)``, at most 0.0016 here.
        random_state : int, RandomState instance or None, default=0
            Seed of the draws. Fixed by default so that repeated calls agree.
        return_std : bool, default=False
            Also return the standard error of each value (0 where exact).

        Returns
        -------
        tail : ndarray of shape (n_samples,)
            The tail probability of each row, in [0, 1].
        std : ndarray of shape (n_samples,)
            Its standard error; only when ``return_std`` is True.
        """
        from gaussmix._tail import tail_probability

        check_is_fitted(self)
        if hasattr(self, "noise_log_density_"):
            raise ValueError(
                f"{type(self).__name__}: tail_probability is not defined for a model "
                "with a noise component (its uniform density has no tails); fit "
                "with noise=None, or use score_samples."
            )
        X = self._predict_input(X)
        seed = self._call_random_state(random_state, "tail_probability")
        q, std = tail_probability(
            self._model(),
            X,
            n_samples=n_samples,
            random_state=seed,
            method=method,
            n_threads=self._n_threads(),
        )
        return (q, std) if return_std else q

    def cdf(self, X: Any) -> FloatArray:
        """Cumulative distribution function of a one-feature model, ``P(X <= x)``.

        ``sum_k w_k Phi((x - mu_k) / sigma_k)`` (R mclust's ``cdfMclust``): a
        probability, where :meth:`score_samples` gives a log-density.

        Parameters
        ----------
        X : float or array-like of shape (n_samples,) or (n_samples, 1)
            Values at which to evaluate; ``-inf`` and ``inf`` give 0 and 1.

        Returns
        -------
        ndarray
            ``P(X <= x)`` in [0, 1], shaped as ``X`` (``(n_samples,)`` for a
            column, a 0-d array for a number), in the order of ``X``.

        Raises
        ------
        ValueError
            If the model has more than one feature ("cdf is defined for one
            feature; this model has D"), or ``X`` has NaN values or several
            columns.

        See Also
        --------
        quantile : The inverse of the CDF.
        gaussmix.density.hdr_levels : Highest-density regions, any number of
            features.

        Notes
        -----
        With a noise component, the distribution of the Gaussian part (its
        weights rescaled to sum to 1), as ``cdfMclust``.
        """
        from gaussmix.density import cdf

        return cdf(self, X)

    def quantile(self, p: Any) -> FloatArray:
        """Quantile function of a one-feature model: the ``x`` with ``P(X <= x) = p``.

        The inverse of :meth:`cdf` (R mclust's ``quantileMclust``), by Brent's
        method between the smallest and largest of the components' own
        ``p``-quantiles, solved in log space so that tail probabilities keep
        their accuracy.

        Parameters
        ----------
        {{quantile_p}}

        Returns
        -------
        {{quantile_returns}}

        Raises
        ------
        ValueError
            If a probability is outside [0, 1] or NaN, or the model has more
            than one feature.

        See Also
        --------
        cdf : The distribution function this inverts.
        """
        from gaussmix.density import quantile

        return quantile(self, p)

    def _estimate_weighted_log_prob(self, X: Any) -> FloatArray:
        """``log(weights_k) + log N(x | mean_k, cov_k)``, shape (n_samples, n_components)."""
        X = self._predict_input(X)
        return self._model().weighted_log_prob(X, n_threads=self._n_threads())

    def sample(
        self, n_samples: int = 1, random_state: Any = None
    ) -> tuple[FloatArray, IntArray]:
        """Draw new points from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of points.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws; None uses the estimator's ``random_state`` (as
            scikit-learn does, so that equal seeds give equal samples).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The points, grouped by component (noise points last).
        y : ndarray of shape (n_samples,)
            The component of each point; ``-1`` for a noise point.

        Notes
        -----
        With a noise component, ``noise_weight_`` of the points (in
        expectation) are drawn uniformly in the box ``noise_box_axes_``,
        ``noise_box_bounds_`` (volume ``V``). The model's density, like
        mclust's, has the noise term ``noise_weight_ / V`` everywhere, so
        these points follow it only inside that box.
        """
        check_is_fitted(self)
        if not is_count(n_samples, 1):
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires "
                "at least one sample (an integer >= 1)."
            )
        rng = check_random_state(self._call_random_state(random_state, "sample"))
        if array_api.fitted_in_namespace(self):
            return array_api.sample(self, int(n_samples), rng)
        return self._model().sample(int(n_samples), rng)

    def _call_random_state(self, random_state: Any, method: str) -> Any:
        """The validated seed of a call of ``method`` (``sample``, ``tail_probability``).

        ``random_state``, or for None the estimator's own ``random_state`` (as
        scikit-learn's ``sample``, so that equal seeds give equal draws).
        """
        name = type(self).__name__
        if random_state is None:
            check_random_state_value(self.random_state, name, "random_state")
            return self.random_state
        check_random_state_value(random_state, f"{name}.{method}", "random_state")
        return random_state

    # -------------------------------------------------------- model selection
    def _n_parameters(self) -> int:
        """Number of free parameters of the fitted model (as scikit-learn's)."""
        return self.n_parameters()

    def n_parameters(self) -> int:
        """Number of free parameters of the fitted model (mclust's ``nMclustParams``).

        Equal proportions count no weights; a noise component counts two (its
        proportion and the hypervolume), as in mclust.

        Returns
        -------
        int
        """
        check_is_fitted(self)
        if array_api.fitted_in_namespace(self):
            return array_api.n_parameters(self)
        return self._model().n_parameters(self.equal_proportions)

    def information_criteria(
        self, X: Any, sample_weight: Any = None
    ) -> dict[str, float]:
        """Log-likelihood, AIC, BIC and ICL of ``X`` from one pass (lower is better).

        The same numbers as :meth:`score_samples` (summed), :meth:`aic`,
        :meth:`bic` and :meth:`icl`, which would take four passes (model
        selection uses this).

        {{criterion_parameters}}

        Returns
        -------
        dict
            ``log_likelihood``, ``aic``, ``bic`` and ``icl``.
        """
        X = self._predict_input(X)
        weights = check_sample_weight(
            sample_weight, X.shape[0], None, type(self).__name__
        )
        return self._model().criteria(
            X,
            weights,
            equal_proportions=self.equal_proportions,
            n_threads=self._n_threads(),
        )

    def _total_loglik(self, X: Any, sample_weight: Any) -> tuple[float, float]:
        loglik, _, log_total = self._weighted_sum(self.score_samples(X), sample_weight)
        return loglik, log_total

    def _weighted_sum(
        self, values: FloatArray, sample_weight: Any
    ) -> tuple[float, float, float]:
        """``(sum w values, sum w, log sum w)`` (:func:`gaussmix.model.weighted_sum`)."""
        if array_api.is_namespace_array(values):
            return array_api.weighted_sum(values, sample_weight)
        weights = check_sample_weight(
            sample_weight, values.shape[0], None, type(self).__name__
        )
        return weighted_sum(values, weights)

    def bic(self, X: Any, sample_weight: Any = None) -> float:
        """Bayesian information criterion on ``X`` (lower is better).

        ``-2 log L + n_parameters * log(n)``, with ``n`` the total weight.

        {{criterion_parameters}}

        Returns
        -------
        float
        """
        loglik, log_total = self._total_loglik(X, sample_weight)
        return -2.0 * loglik + self._n_parameters() * log_total

    def aic(self, X: Any, sample_weight: Any = None) -> float:
        """Akaike information criterion on ``X`` (lower is better).

        ``-2 log L + 2 n_parameters``.

        {{criterion_parameters}}

        Returns
        -------
        float
        """
        loglik, _ = self._total_loglik(X, sample_weight)
        return -2.0 * loglik + 2.0 * self._n_parameters()

    def uncertainty(self, X: Any) -> FloatArray:
        """How unsure the classification of each row is: ``1 - max_k resp_k``.

        0 for a row certainly in one component, up to ``1 - 1/K`` for a row
        shared equally (mclust's ``uncertainty``).

        {{predict_parameters}}

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        resp = self.predict_proba(X)
        return np.asarray(1.0 - resp.max(axis=1), dtype=np.float64)

    def icl(self, X: Any, sample_weight: Any = None) -> float:
        """Integrated completed likelihood criterion on ``X`` (lower is better).

        ``BIC - 2 sum_i w_i log z_{i, c(i)}``, with ``c(i)`` the most probable
        component of row ``i``: BIC plus a penalty for overlapping components
        (Biernacki, Celeux and Govaert 2000). mclust's ``icl`` is the same number
        with the opposite sign.

        {{criterion_parameters}}

        Returns
        -------
        float
        """
        entropy, _, _ = self._weighted_sum(
            log_max_resp(self.predict_proba(X)), sample_weight
        )
        return self.bic(X, sample_weight) - 2.0 * entropy
