"""Gaussian mixture regression: a regressor from a joint mixture of inputs and targets.

:class:`GMRegressor` fits one :class:`~gaussmix.GaussianMixture` to the rows
``[x, y]`` and predicts from the conditional mixture ``p(y | x)``
(Ghahramani and Jordan 1994; Sung 2004; Calinon 2007): its mean
(:meth:`GMRegressor.predict`), its standard deviation (``return_std=True``)
and the whole conditional distribution (:meth:`GMRegressor.predict_distribution`),
which is what a multimodal problem needs: where ``y`` given ``x`` has several
likely values, the mean may lie between them, where no data are.

The conditionals of all rows are computed at once by
:func:`gaussmix.core.conditional.condition` (one Cholesky factor per
component, batched products over blocks of rows; no Python loop over rows).
:class:`ConditionalMixtures` holds them as arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from gaussmix._typing import FloatArray
from gaussmix.core import conditional
from gaussmix.core.covariance import get_family
from gaussmix.mixture import GaussianMixture

__all__ = ["ConditionalMixtures", "GMRegressor"]

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class ConditionalMixtures:
    """The conditional mixtures ``p(y | x_i)`` of many rows, as arrays.

    Row ``i`` is the Gaussian mixture ``sum_k weights[i, k] N(y | means[i, k],
    S_k)``. The covariances ``S_k`` (the Schur complements) do not depend on
    ``x`` and are stored once. Index it (``dist[i]``) for row ``i`` as a
    fitted :class:`~gaussmix.GaussianMixture` (every method of the estimator
    then works on it), or use the vectorised methods below for all rows.

    Parameters
    ----------
    weights : ndarray of shape (n_rows, n_components)
        Conditional weights (each row sums to one): the posterior of each
        component given ``x_i``.
    means : ndarray of shape (n_rows, n_components, n_targets)
        Conditional means of the components.
    covariances : ndarray
        The components' conditional covariances, in the shape of
        ``covariance_type`` over the targets.
    covariance_type : str
        'full', 'tied', 'diag' or 'spherical' (the shape that stores the
        joint mixture's covariances; see :meth:`GaussianMixture.condition`).
    log_evidence : ndarray of shape (n_rows,)
        ``log p(x_i)``: the joint mixture's marginal log-density of each input.
    joint : GaussianMixture
        The fitted joint mixture over ``[x, y]``.
    X : ndarray of shape (n_rows, n_features)
        The inputs.
    """

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    covariance_type: str
    log_evidence: FloatArray
    joint: GaussianMixture
    X: FloatArray

    def __len__(self) -> int:
        return int(self.weights.shape[0])

    def __getitem__(self, i: int) -> GaussianMixture:
        """Row ``i``'s conditional mixture as a fitted GaussianMixture over ``y``."""
        n_features = self.X.shape[1]
        return self.joint.condition(np.arange(n_features), self.X[i])

    def to_mixtures(self) -> list[GaussianMixture]:
        """Every row's conditional mixture as a fitted GaussianMixture (a list)."""
        return [self[i] for i in range(len(self))]

    def _conditional(self) -> conditional.Conditional:
        with np.errstate(divide="ignore"):
            log_weights = np.log(self.weights)
        return conditional.Conditional(
            log_weights,
            self.means,
            self.covariances,
            self.covariance_type,
            self.log_evidence,
        )

    def mean(self) -> FloatArray:
        """Conditional means ``E[y | x_i]``, shape ``(n_rows, n_targets)``."""
        return conditional.mixture_moments(self._conditional())[0]

    def variance(self) -> FloatArray:
        """Total conditional variances of each target, ``(n_rows, n_targets)``.

        ``sum_k w_k (S_k,jj + (m_kj - E[y_j | x])^2)``: the components' spread
        plus the spread of their means.
        """
        return conditional.mixture_moments(self._conditional())[1]

    def _dense_factors(self) -> tuple[FloatArray, FloatArray]:
        """Per component: the lower Cholesky factor of ``S_k`` and ``log det S_k / 2``."""
        family = get_family(self.covariance_type)
        n_components, n_targets = self.means.shape[1], self.means.shape[2]
        dense = family.to_dense(self.covariances, n_components, n_targets)
        chol = np.linalg.cholesky(dense)
        half_log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        return chol, half_log_det

    def log_density(self, y: Any, *, paired: bool = False) -> FloatArray:
        """``log p(y | x_i)`` of target values under the rows' mixtures.

        Parameters
        ----------
        y : array-like of shape (n_points, n_targets) or (n_points,)
            Target values (a 1-D array for one target).
        paired : bool, default=False
            False: every point under every row, a grid (for images of the
            conditional density). True: point ``i`` under row ``i`` only
            (``n_points`` must equal the number of rows), e.g. the predictive
            log-likelihood of test targets.

        Returns
        -------
        ndarray of shape (n_rows, n_points), or (n_rows,) with ``paired``
        """
        n_rows, n_components, n_targets = self.means.shape
        points = np.asarray(y, dtype=np.float64)
        if points.ndim == 1 and n_targets == 1:
            points = points[:, None]
        if points.ndim != 2 or points.shape[1] != n_targets:
            raise ValueError(
                f"log_density: y needs {n_targets} target column(s), got shape "
                f"{np.shape(y)}."
            )
        if paired and points.shape[0] != n_rows:
            raise ValueError(
                f"log_density(paired=True): y needs one row per conditional "
                f"({n_rows}), got {points.shape[0]}."
            )
        chol, half_log_det = self._dense_factors()
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        shape = (n_rows,) if paired else (n_rows, points.shape[0])
        terms = np.empty((n_components, *shape))
        for k in range(n_components):  # K is small; each step covers all rows
            if paired:
                diff = points - self.means[:, k, :]
            else:
                diff = points[None, :, :] - self.means[:, k, None, :]
            # Solve L z = diff for every row and point: z = diff @ L^-T.
            z = linalg.solve_triangular(
                chol[k], diff.reshape(-1, n_targets).T, lower=True, check_finite=False
            ).T
            maha = np.einsum("ij,ij->i", z, z).reshape(shape)
            terms[k] = (
                (log_w[:, k] if paired else log_w[:, k, None])
                - 0.5 * maha
                - half_log_det[k]
                - 0.5 * n_targets * _LOG_2PI
            )
        top = np.max(terms, axis=0)
        top = np.where(np.isfinite(top), top, 0.0)
        return np.asarray(top + np.log(np.sum(np.exp(terms - top), axis=0)))

    def sample(self, n_samples: int = 1, random_state: Any = None) -> FloatArray:
        """Draws from every row's conditional mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Draws per row.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws.

        Returns
        -------
        ndarray of shape (n_rows, n_samples, n_targets)
        """
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}.")
        rng = check_random_state(random_state)
        n_rows, n_components, n_targets = self.means.shape
        chol, _ = self._dense_factors()
        cumulative = np.cumsum(self.weights, axis=1)
        u = rng.uniform(size=(n_rows, n_samples)) * cumulative[:, -1:]
        comp = np.minimum(
            (u[:, :, None] > cumulative[:, None, :]).sum(axis=2), n_components - 1
        )
        noise = rng.standard_normal(size=(n_rows, n_samples, n_targets))
        rows = np.arange(n_rows)[:, None]
        centre = self.means[rows, comp]
        return np.asarray(centre + np.einsum("nsij,nsj->nsi", chol[comp], noise))


class GMRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Gaussian mixture regression (GMR): predict from a joint mixture of [X, y].

    ``fit`` fits a :class:`~gaussmix.GaussianMixture` to the rows ``[x, y]``;
    a prediction is the mixture conditioned on ``x``: its mean
    (:meth:`predict`), its standard deviation (``return_std=True``) or the
    whole conditional mixture (:meth:`predict_distribution`), whose weights
    are the components' posteriors given ``x`` and whose means are
    ``mu_ky + S_kyx S_kxx^-1 (x - mu_kx)``: a locally linear regression with
    smooth, learned switching, and noise that varies with ``x``.

    Parameters
    ----------
    n_components : int, default=1
        Components of the joint mixture. One component is ordinary least
        squares (up to ``reg_covar``); more fit non-linear and multimodal
        relations.
    covariance_type : str, default='full'
        Covariance shape of the joint mixture (any of
        :class:`~gaussmix.GaussianMixture`'s). 'full' (or 'tied' and the
        mclust models with full matrices) is needed for the conditional means
        to depend on ``x`` within a component; with 'diag' or 'spherical' the
        inputs and targets are independent within each component, and the
        prediction is a mixture of the components' target means weighted by
        their posteriors given ``x``.
    tol, reg_covar, max_iter : float, int or 'auto', default='auto'
        EM control, as in :class:`~gaussmix.GaussianMixture`. ``reg_covar`` is
        in the units of the data: scale ``X`` and ``y`` to comparable ranges
        (e.g. with a ``Pipeline`` and ``TransformedTargetRegressor``) when
        their scales differ by orders of magnitude.
    n_init : int, default=1
        Initialisations of EM; the best is kept.
    init_params : str, default='auto'
        Initialisation, as in :class:`~gaussmix.GaussianMixture`.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation.
    n_jobs : int or None, default=None
        Threads of the fit, as in :class:`~gaussmix.GaussianMixture`.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted joint mixture over ``n_features_in_ + n_targets_`` columns,
        the inputs first.
    n_features_in_ : int
        Number of input features.
    n_targets_ : int
        Number of targets.
    n_iter_ : int
        EM iterations of the kept initialisation (``mixture_.n_iter_``).
    converged_ : bool
        Whether EM met its tolerance (``mixture_.converged_``).
    feature_names_in_ : ndarray of str
        Input names, when ``X`` has string column names.

    See Also
    --------
    GaussianMixture.condition : The conditional mixture of one row.

    Notes
    -----
    The conditional of row ``x`` is computed for all rows at once (one
    Cholesky factor per component of the joint covariance, then batched
    products): ``predict`` costs ``O(n K D^2)`` after an ``O(K D^3)`` set-up.

    References
    ----------
    Ghahramani, Z. and Jordan, M. I. (1994). Supervised learning from
    incomplete data via an EM approach. NIPS 6.

    Calinon, S., Guenter, F. and Billard, A. (2007). On learning,
    representing and generalizing a task in a humanoid robot. IEEE Trans.
    SMC-B 37(2), 286-298.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GMRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(500, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(500)
    >>> reg = GMRegressor(n_components=6, random_state=0).fit(X, y)
    >>> mean, std = reg.predict([[0.0], [1.5]], return_std=True)
    >>> mean.shape, std.shape
    ((2,), (2,))
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float | str = "auto",
        reg_covar: float | str = "auto",
        max_iter: int | str = "auto",
        n_init: int = 1,
        init_params: str = "auto",
        random_state: Any = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GMRegressor:
        """Fit the joint mixture of ``[X, y]`` by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; 1-D ``y`` gives 1-D predictions.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (an integer weight counts its row that many
            times).

        Returns
        -------
        self : GMRegressor
        """
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=np.float64
        )
        Y = np.asarray(y, dtype=np.float64)
        self._y_1d = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        # Every parameter of GMRegressor is one of the joint mixture's.
        mixture = GaussianMixture(**self.get_params(deep=False))
        mixture.fit(np.hstack([X, Y]), sample_weight=sample_weight)
        self.mixture_ = mixture
        self.n_targets_ = Y.shape[1]
        self.n_iter_ = mixture.n_iter_
        self.converged_ = mixture.converged_
        return self

    def _condition(self, X: Any) -> tuple[FloatArray, conditional.Conditional]:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        model = self.mixture_.fitted_model()
        cond = conditional.condition(
            model.family,
            model.weights,
            model.means,
            model.covariances,
            np.arange(self.n_features_in_),
            X,
        )
        return X, cond

    def _shape(self, values: FloatArray) -> FloatArray:
        return values[:, 0] if self._y_1d else values

    def predict(
        self, X: Any, return_std: bool = False
    ) -> FloatArray | tuple[FloatArray, FloatArray]:
        """The conditional mean ``E[y | x]`` of every row (and its std).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        return_std : bool, default=False
            Also return the conditional standard deviation of each target: the
            square root of the conditional mixture's total variance (the
            components' spread plus the spread of their means).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
            1-D when ``y`` was 1-D in ``fit``.
        y_std : ndarray of the same shape
            Only with ``return_std``.
        """
        _, cond = self._condition(X)
        mean, variance = conditional.mixture_moments(cond)
        if return_std:
            return self._shape(mean), self._shape(np.sqrt(variance))
        return self._shape(mean)

    def predict_distribution(self, X: Any) -> ConditionalMixtures:
        """The conditional mixture ``p(y | x)`` of every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ConditionalMixtures
            The weights, means and covariances of all rows' mixtures as arrays,
            with vectorised ``mean``, ``variance``, ``log_density`` and
            ``sample``; ``dist[i]`` is row ``i``'s mixture as a fitted
            :class:`~gaussmix.GaussianMixture`.
        """
        X, cond = self._condition(X)
        return ConditionalMixtures(
            weights=np.exp(cond.log_weights),
            means=cond.means,
            covariances=cond.covariances,
            covariance_type=cond.covariance_type,
            log_evidence=cond.log_evidence,
            joint=self.mixture_,
            X=X,
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
