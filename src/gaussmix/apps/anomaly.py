"""Anomaly detection with a Gaussian mixture: scores, and a threshold you choose.

:class:`AnomalyDetector` fits a mixture to normal data and calls a point
anomalous when its density is low. It follows scikit-learn's outlier detectors
(:class:`~sklearn.ensemble.IsolationForest`, :class:`~sklearn.svm.OneClassSVM`):
``score_samples`` is higher for more normal points, ``decision_function`` is
negative for anomalies and ``predict`` returns +1 (normal) or -1 (anomaly), so
it works in pipelines and with :func:`sklearn.metrics.roc_auc_score`.

The threshold is set by a false-alarm rate ``alpha`` (the share of normal
points that may be flagged), in one of two ways:

``threshold='quantile'`` (default)
    the ``alpha``-quantile of the training points' log-densities. It needs no
    faith in the model's shape, but it is optimistic on small samples: the
    model was fitted to these very points, so their densities are higher than
    those of new normal points, and more than ``alpha`` of new normal data fall
    below the threshold. With ``n * alpha`` below about 10 the quantile is also
    noisy (it rests on the few lowest training scores).
``threshold='tail'``
    flags a point when the model's tail probability
    (:meth:`gaussmix.GaussianMixture.tail_probability`, the share of the
    model's mass no more likely than the point) is below ``alpha``. It uses
    the whole fitted model rather than the few lowest training points, and is
    exactly calibrated when the data come from the model; it is as wrong as
    the model where the model is wrong (heavier tails than Gaussian, for one).
    It is exact for one component or one feature, a Monte Carlo estimate
    otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted

from gaussmix._docs import fill_doc
from gaussmix._typing import FloatArray, IntArray
from gaussmix.mixture import GaussianMixture
from gaussmix.selection import select

__all__ = ["AnomalyDetector"]

_THRESHOLDS = ("quantile", "tail")


@fill_doc
class AnomalyDetector(OutlierMixin, BaseEstimator):  # type: ignore[misc]
    """Density-based anomaly detector on a Gaussian mixture.

    Parameters
    ----------
    n_components : int or sequence of int, default=1
        Number of mixture components; a sequence (for example ``range(1, 9)``)
        fits each and keeps the model with the lowest BIC.
    covariance_type : str or sequence of str, default='full'
        Covariance type; a sequence is searched together with ``n_components``
        by BIC (through :func:`gaussmix.select`).
    false_alarm_rate : float, default=0.01
        Share of normal points that may be flagged, in (0, 1).
    threshold : {'quantile', 'tail'}, default='quantile'
        How the false-alarm rate becomes a threshold: the quantile of the
        training log-densities, or the model's tail probability (see the
        module documentation for the trade-off).
    tail_samples : int, default=100_000
        Monte Carlo draws of the tail probability (``threshold='tail'`` with
        several components and features).
    n_init, reg_covar, max_iter, tol, init_params
        Passed to :class:`gaussmix.GaussianMixture` (same meaning and defaults).
    random_state : int, RandomState instance or None, default=None
        Seed of the mixture's initialisation (and of the Monte Carlo draws;
        None draws them with seed 0, so that repeated calls agree).

    Attributes
    ----------
    model_ : GaussianMixture
        The fitted mixture.
    selection_ : pandas.DataFrame, numpy structured array or None
        The table of :func:`gaussmix.select` when a search was made, else None.
    offset_ : float
        The ``false_alarm_rate``-quantile of the training log-densities;
        ``decision_function`` is ``score_samples - offset_`` for
        ``threshold='quantile'``.
    n_features_in_ : int
        Number of features seen during fit.
    n_iter_ : int
        EM iterations of the fitted mixture.

    See Also
    --------
    sklearn.ensemble.IsolationForest, sklearn.svm.OneClassSVM,
    sklearn.covariance.EllipticEnvelope : scikit-learn's outlier detectors.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix.apps.anomaly import AnomalyDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2))
    >>> det = AnomalyDetector(false_alarm_rate=0.05, random_state=0).fit(X)
    >>> det.predict([[0.0, 0.0], [5.0, 5.0]])
    array([ 1, -1])
    """

    def __init__(
        self,
        n_components: int | Sequence[int] = 1,
        covariance_type: str | Sequence[str] = "full",
        *,
        false_alarm_rate: float = 0.01,
        threshold: str = "quantile",
        tail_samples: int = 100_000,
        n_init: int = 1,
        reg_covar: float | str = "auto",
        max_iter: int | str = "auto",
        tol: float | str = "auto",
        init_params: str = "auto",
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.false_alarm_rate = false_alarm_rate
        self.threshold = threshold
        self.tail_samples = tail_samples
        self.n_init = n_init
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.tol = tol
        self.init_params = init_params
        self.random_state = random_state

    def _mixture_params(self) -> dict[str, Any]:
        return {
            "n_init": self.n_init,
            "reg_covar": self.reg_covar,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "init_params": self.init_params,
        }

    # ------------------------------------------------------------------ fit
    def _check_parameters(self) -> None:
        rate = self.false_alarm_rate
        if not (isinstance(rate, (int, float, np.floating)) and 0.0 < rate < 1.0):
            raise ValueError(
                f"AnomalyDetector: false_alarm_rate must be a number in (0, 1), got "
                f"{rate!r} (0.01 flags 1% of normal points)."
            )
        if self.threshold not in _THRESHOLDS:
            raise ValueError(
                f"AnomalyDetector: threshold must be one of {_THRESHOLDS}, got "
                f"{self.threshold!r}."
            )
        if isinstance(self.tail_samples, bool) or not (
            isinstance(self.tail_samples, (int, np.integer))
            and self.tail_samples >= 100
        ):
            raise ValueError(
                f"AnomalyDetector: tail_samples must be an integer >= 100, got "
                f"{self.tail_samples!r}."
            )

    def fit(self, X: Any, y: Any = None) -> AnomalyDetector:
        """Fit the mixture to normal data and set the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, assumed (mostly) normal.
        {{y_ignored}}

        Returns
        -------
        self : AnomalyDetector
            The fitted detector.
        """
        self._check_parameters()
        n_list = (
            [self.n_components]
            if isinstance(self.n_components, (int, np.integer))
            else list(self.n_components)
        )
        types = (
            [self.covariance_type]
            if isinstance(self.covariance_type, str)
            else list(self.covariance_type)
        )
        if not n_list or not types:
            raise ValueError(
                "AnomalyDetector: n_components and covariance_type must not be "
                "empty sequences."
            )
        if len(n_list) > 1 or len(types) > 1:
            best, table = select(
                X,
                n_list,
                types,
                "bic",
                random_state=self.random_state,
                **self._mixture_params(),
            )
            if best is None:
                errors = sorted({str(e) for e in np.asarray(table["error"]) if e})
                raise ValueError(
                    "AnomalyDetector: every candidate mixture failed to fit: "
                    + "; ".join(errors)
                )
            self.model_ = best
            self.selection_ = table
        else:
            self.model_ = GaussianMixture(
                n_components=n_list[0],
                covariance_type=types[0],
                random_state=self.random_state,
                **self._mixture_params(),
            ).fit(X)
            self.selection_ = None
        self.n_features_in_ = self.model_.n_features_in_
        self.n_iter_ = self.model_.n_iter_
        if hasattr(self.model_, "feature_names_in_"):
            self.feature_names_in_ = self.model_.feature_names_in_
        train_scores = self.model_.score_samples(X).astype(np.float64)
        self.offset_ = float(np.quantile(train_scores, self.false_alarm_rate))
        return self

    # ------------------------------------------------------------ scoring
    def score_samples(self, X: Any) -> FloatArray:
        """Log-density of each row under the fitted mixture (higher = more normal).

        {{predict_parameters}}

        Returns
        -------
        ndarray of shape (n_samples,)
            ``log p(x)``.
        """
        check_is_fitted(self)
        return self.model_.score_samples(X)

    def tail_probability(self, X: Any) -> FloatArray:
        """The model's tail probability of each row: a calibrated p-value.

        The share of the fitted mixture's probability mass where the density
        is at most that at ``x``; uniform on data drawn from the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score. With several components and features, their
            probabilities come from the same ``tail_samples`` draws.

        Returns
        -------
        ndarray of shape (n_samples,)
            Values in [0, 1]; small means unusual.
        """
        check_is_fitted(self)
        seed = self.random_state if self.random_state is not None else 0
        tail = self.model_.tail_probability(
            X, n_samples=int(self.tail_samples), random_state=seed
        )
        assert isinstance(tail, np.ndarray)
        return tail

    def decision_function(self, X: Any) -> FloatArray:
        """Signed distance to the threshold: negative for anomalies.

        ``score_samples(X) - offset_`` for ``threshold='quantile'``;
        ``tail_probability(X) - false_alarm_rate`` for ``threshold='tail'``.

        {{predict_parameters}}

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if self.threshold == "tail":
            return self.tail_probability(X) - float(self.false_alarm_rate)
        return np.asarray(self.score_samples(X) - self.offset_, dtype=np.float64)

    def predict(self, X: Any) -> IntArray:
        """+1 for normal points, -1 for anomalies (as scikit-learn's detectors).

        {{predict_parameters}}

        Returns
        -------
        ndarray of shape (n_samples,)
            +1 or -1; a point exactly at the threshold is normal.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")
