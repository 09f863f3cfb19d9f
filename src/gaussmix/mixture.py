"""``GaussianMixture``: the scikit-learn estimator over the fitting engine.

The estimator validates its parameters and the data, hands the fit to the
driver (:func:`gaussmix.fitting.fit_mixture`, one ``partial_fit`` step to
:func:`gaussmix.fitting.partial_fit_step`) and writes the result to
scikit-learn's fitted attributes, in one place (:meth:`GaussianMixture._set_fitted`,
also reached through :func:`build_fitted` by model files and MAP adaptation).
Predictions are computed by the fitted :class:`gaussmix.model.MixtureModel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from gaussmix import array_api, missing
from gaussmix._docs import fill_doc
from gaussmix._validation import (
    EMControl,
    check_parameters,
    check_sample_weight,
    check_X,
    resolve_em_control,
)
from gaussmix.base import MixtureEstimator
from gaussmix.core import conditional
from gaussmix.em import OnlineState
from gaussmix.fitting import (
    NOISE_INIT_WEIGHT,
    FitOptions,
    FitResult,
    WarmStart,
    array_source,
    fit_mixture,
    open_source,
    partial_fit_step,
)
from gaussmix.model import FitInfo, MixtureModel
from gaussmix.sources import is_dask_array, is_out_of_core

if TYPE_CHECKING:
    from gaussmix.summary import ModelSummary

__all__ = ["NOISE_INIT_WEIGHT", "GaussianMixture", "build_fitted"]


@fill_doc
class GaussianMixture(MixtureEstimator):
    """Gaussian mixture model fitted by expectation-maximisation.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: the
    same parameters, methods and fitted attributes, with the same results from
    the same ``random_state``, plus sample weights, float32 computation,
    bounded memory and repair of collapsing components.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Shape of the covariances: each component its own general matrix
        ('full'), one matrix shared by all ('tied'), its own diagonal ('diag')
        or its own single variance ('spherical').
    tol : 'auto' or float, default='auto'
        Convergence threshold. A number: EM stops when the per-sample mean
        log-likelihood changes by less than ``tol`` (scikit-learn's rule).
        'auto' follows the covariance type's home library: scikit-learn's
        ``1e-3`` on that change for 'full', 'tied', 'diag' and 'spherical';
        for mclust's model names R mclust's ``emControl()`` rule, stop when
        the total log-likelihood ``L`` changes by at most ``1e-5 (1 + |L|)``.
        See "EM control" in the Notes.
    reg_covar : 'auto' or float, default='auto'
        Non-negative amount added to the diagonal of every covariance, which
        keeps them positive definite. 'auto' is scikit-learn's ``1e-6`` for
        scikit-learn's covariance types and ``0`` (mclust adds nothing) for
        mclust's model names.
    max_iter : 'auto' or int, default='auto'
        Maximum number of EM iterations per initialisation (epochs with
        ``batch_size``). 'auto' is scikit-learn's 100 for scikit-learn's
        covariance types and for online EM; for mclust's model names it is
        :data:`gaussmix._validation.MCLUST_MAX_ITER` (10,000: mclust sets no
        limit, and its tolerance takes more than 100 iterations on small data;
        1,000 with ``nan_policy='marginalize'``).
    n_init : int, default=1
        Number of initialisations; the best (highest log-likelihood, or
        log-posterior with a ``prior``) is kept.
    init_params : {'auto', 'kmeans', 'k-means++', 'random', \
'random_from_data', 'hc'}, default='auto'
        How the initial responsibilities are made: from k-means labels, from
        k-means++ seeds, uniformly at random, from randomly chosen rows, or
        from R mclust's model-based hierarchical clustering cut at
        ``n_components`` (``'hc'``, mclust's default start; docs/hc-init.md).
        'auto' is 'kmeans' (scikit-learn's default) for scikit-learn's
        covariance types and 'hc' for mclust's model names.
    weights_init : array-like of shape (n_components,), default=None
        Initial weights; None uses ``init_params``.
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means; None uses ``init_params``.
    precisions_init : array-like, default=None
        Initial precisions (inverse covariances); None uses ``init_params``.
        The shape depends on ``covariance_type``::

            (n_components,)                        if 'spherical',
            (n_features, n_features)               if 'tied',
            (n_components, n_features)             if 'diag',
            (n_components, n_features, n_features) if 'full'

    resp_init : array-like of shape (n_samples, n_components), default=None
        Initial responsibilities (each row non-negative, summing to 1, as R
        mclust's ``z``): the fit begins with an M-step from them, as mclust's
        ``me(z=...)`` does, for any covariance type. Exclusive with
        ``weights_init``/``means_init``/``precisions_init``; overrides
        ``init_params``. It belongs to one data set: fitting other data raises.
    equal_proportions : bool, default=False
        Keep every weight at ``1 / n_components`` (mclust's ``equalPro``); the
        weights then count no free parameters in :meth:`bic` and :meth:`aic`.
        With a noise component the Gaussians share ``1 - noise_weight_``
        equally.
    noise : None, True or float, default=None
        Add R mclust's *noise component*: a uniform density ``1 / V`` with its
        own proportion ``noise_weight_``, estimated by EM, that takes the
        points no Gaussian explains. True takes ``V`` from the training data as
        mclust's ``hypvol`` does (the smaller of the volumes of the
        axis-aligned bounding box and of the bounding box in the principal
        axes); a positive number is ``V`` itself. None (or False): no noise.
    noise_init : array-like of bool of shape (n_samples,), default=None
        Rows that start as noise (mclust's ``initialization$noise``): the first
        M-step gives the noise component these rows and the Gaussians the
        responsibilities that ``init_params`` makes on the other rows. None
        starts the Gaussians from ``init_params`` on all rows and the noise
        proportion at :data:`NOISE_INIT_WEIGHT` (0.1, the Gaussian weights
        scaled by 0.9); so do ``weights_init``/``means_init``/
        ``precisions_init``. A ``resp_init`` with ``n_components + 1`` columns
        gives the noise responsibilities in its last column (mclust's
        ``me(z = cbind(z, noise))``). Needs ``noise``; like ``resp_init`` it
        belongs to one data set.
    prior : None, 'default' or dict, default=None
        Fit by MAP-EM with R mclust's conjugate prior (Fraley & Raftery 2007):
        a normal prior on each mean, shrunk towards ``mean`` with weight
        ``shrinkage``, and an inverse-gamma/Wishart prior on the variances
        with ``dof`` degrees of freedom and scale ``scale``. 'default' is
        mclust's ``priorControl()`` (``defaultPrior``: shrinkage 0.01, the
        data mean, ``dof = n_features + 2``, scale from the data's variance
        divided by ``n_components^(2/n_features)``); a dict with keys among
        ``shrinkage``, ``mean``, ``dof`` and ``scale`` replaces those values.
        The M-step is mclust's (``gaussmix.core.prior`` lists it per model).
        Supported for 'full' (VVV), 'tied' (EEE), 'diag' (VVI), 'spherical'
        (VII) and mclust's E, V, EII, VII, EEI, VEI, EVI, VVI, EEE, EEV, VEV,
        VVV; VEE, EVE, VVE and EVV raise ValueError (mclust has no prior for
        them). ``lower_bound_`` stays the log-likelihood (as mclust reports),
        which may decrease slightly; EM increases the log-posterior and stops
        on its change. Criteria (:meth:`bic`, ...) use the log-likelihood, as
        mclust's.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation (and the default for :meth:`sample`).
    warm_start : bool, default=False
        If True, each ``fit`` starts from the previous solution and ``n_init``
        is ignored after the first call.
    frozen : str or tuple of {'weights', 'means', 'covariances'}, default=()
        Parameters EM keeps at their initial values (``*_init`` or a warm
        start) while the others take their conditional M-step, so the
        log-likelihood still increases. Frozen means or covariances need
        ``means_init`` / ``precisions_init`` or a warm start. Every covariance
        type and data source; see docs/frozen-parameters.md.
    batch_size : int or None, default=None
        None fits by batch EM. An integer fits by *online* (stepwise) EM on
        mini-batches of this many rows (Cappe & Moulines 2009): ``fit`` runs
        epochs over the data in a random order (``max_iter`` epochs at most,
        stopping when the mean log-likelihood of an epoch changes by less than
        ``tol``), each mini-batch updating running statistics as
        :meth:`partial_fit` does. It starts from ``init_params`` on a random
        sample of at most :data:`gaussmix.outofcore.INIT_SAMPLE_SIZE` rows.
    learning_decay : float, default=0.6
        ``kappa`` in the step ``gamma_t = (t + learning_offset)^-kappa`` given to
        the ``t``-th mini-batch by online EM; in (0.5, 1]. Smaller values
        forget old batches faster and keep moving longer (better for drifting
        data and for mixtures where EM converges slowly), larger values average
        more (less noise on stationary data). Measured on 2,000,000 rows of an
        overlapping 8-component mixture, after one epoch of 10,000-row batches:
        0.6 with offset 1 ends 1.3e-3 nats per sample below batch EM, 0.7 with
        offset 10 (scikit-learn's LDA defaults) 0.16 below.
    learning_offset : float, default=1.0
        ``t0`` in that step: a larger value damps the first updates.
    verbose : int, default=0
        1 prints the initialisation and each ``verbose_interval``-th
        iteration; 2 also prints timings and log-likelihood changes.
    verbose_interval : int, default=10
        Iterations between two progress messages.
    n_jobs : int or None, default=None
        Threads over chunks of rows. None or -1 uses every core this process may
        run on; 1 runs serially. BLAS runs single-threaded inside gaussmix
        either way (its own threads were measured to lose on shared 2-core
        machines). Results do not depend on this value.
    nan_policy : {'raise', 'marginalize', 'omit'}, default='raise'
        What NaN in ``X`` means. 'raise': an error (as in scikit-learn).
        'marginalize': values missing at random: ``fit`` runs exact EM on the
        observed values (Ghahramani and Jordan 1994), for every covariance
        type; the predictions use each row's observed features, and
        :meth:`impute` fills the missing values. 'omit': rows with NaN are left
        out of ``fit``, with a warning. See docs/missing-values.md.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Mixing weights of the Gaussians (they sum to ``1 - noise_weight_``
        with a noise component, else to 1).
    means_ : ndarray of shape (n_components, n_features)
        Component means.
    covariances_ : ndarray
        Covariances, shaped as ``precisions_init``.
    precisions_ : ndarray
        Precisions (inverse covariances), same shape.
    precisions_cholesky_ : ndarray
        Cholesky factors of the precisions (upper triangular ``U`` with
        ``precision = U @ U.T`` for 'full' and 'tied').
    converged_ : bool
        Whether the best initialisation converged.
    n_iter_ : int
        EM iterations of the best initialisation.
    lower_bound_ : float
        Per-sample mean log-likelihood (weighted) of the best initialisation
        (the log-likelihood also with a ``prior``, as mclust reports it).
    lower_bounds_ : list of float
        Lower bound at every iteration of the best initialisation.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    prior_ : dict
        The prior used (only with ``prior``): ``shrinkage``, ``mean``,
        ``dof`` and ``scale`` resolved on the training data (mclust's
        ``defaultPrior`` output); ``scale`` is a number (array of shape ())
        for the models with scalar variances, else a matrix.
    noise_weight_ : float
        Proportion of the noise component (only with ``noise``).
    noise_log_density_ : float
        ``log(1 / V)``, the log-density of the noise component (only with
        ``noise``).
    noise_box_axes_ : ndarray of shape (n_features, n_features)
        Orthonormal edge directions (columns) of the box of volume ``V`` where
        :meth:`sample` draws noise points (only with ``noise``).
    noise_box_bounds_ : ndarray of shape (2, n_features)
        Lower and upper bounds of ``x @ noise_box_axes_`` in that box: the
        ``hypvol`` box of the training data, scaled about its centre to volume
        ``V`` when ``V`` was given (only with ``noise``).

    See Also
    --------
    sklearn.mixture.GaussianMixture : The scikit-learn estimator this mirrors.

    Notes
    -----
    **EM control.** ``tol``, ``reg_covar``, ``init_params`` and ``max_iter``
    default to 'auto': whoever asks for scikit-learn's covariance types gets
    scikit-learn's procedure (k-means start, ``reg_covar=1e-6``, stop when the
    mean log-likelihood changes by less than ``1e-3`` or after 100
    iterations), so that fits equal scikit-learn's from the same
    ``random_state``; whoever asks for mclust's model names ('EII' ... 'VVV',
    'E', 'V') gets R mclust's (hierarchical start, no regularisation, stop
    when ``|L - L_old| <= 1e-5 (1 + |L|)`` on the total log-likelihood ``L``,
    no practical iteration limit), so that fits and BIC tables agree with
    ``Mclust``/``mclustBIC``. 'full' and 'VVV' are the same model fitted by
    these two procedures. A value given explicitly always wins; an explicit
    ``tol`` is scikit-learn's rule on the mean log-likelihood. With
    ``reg_covar=0`` a component that collapses onto a point or a line is
    repaired as documented in :mod:`gaussmix.core.mstep` (and the criteria of
    :func:`gaussmix.select` are NaN for that fit, as mclust reports NA).

    One EM iteration of a 'full' model costs about ``2 N K D^2`` multiply-adds,
    done as two large matrix products per chunk of rows. Memory beyond the
    data is a few megabytes per thread, whatever ``N`` is. float32 data are
    computed in float32 where the rounding error of the expanded quadratic
    form stays small, with statistics accumulated in float64; parameters are
    returned in the input's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.means_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> gm.predict([[0, 0], [12, 3]])
    array([1, 0])
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
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        resp_init: Any = None,
        equal_proportions: bool = False,
        noise: Any = None,
        noise_init: Any = None,
        prior: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        frozen: str | tuple[str, ...] = (),
        batch_size: int | None = None,
        learning_decay: float = 0.6,
        learning_offset: float = 1.0,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_jobs: int | None = None,
        nan_policy: str = "raise",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.resp_init = resp_init
        self.equal_proportions = equal_proportions
        self.noise = noise
        self.noise_init = noise_init
        self.prior = prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.frozen = frozen
        self.batch_size = batch_size
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_jobs = n_jobs
        self.nan_policy = nan_policy

    def em_control(self) -> EMControl:
        """The EM control a fit uses, with every ``'auto'`` resolved.

        Returns
        -------
        EMControl
            ``tol``, ``relative`` (True: mclust's relative rule on the total
            log-likelihood; False: scikit-learn's on the mean), ``reg_covar``,
            ``init_params`` and ``max_iter``, for this ``covariance_type``
            (see "EM control" in the class Notes).

        Examples
        --------
        >>> from gaussmix import GaussianMixture
        >>> GaussianMixture(covariance_type="VVV").em_control().init_params
        'hc'
        >>> GaussianMixture(covariance_type="full").em_control().tol
        0.001
        """
        check_parameters(self.get_params(deep=False), type(self).__name__)
        return resolve_em_control(
            self.covariance_type,
            self.tol,
            self.reg_covar,
            self.init_params,
            self.max_iter,
            online=self.batch_size is not None,
            missing=self.nan_policy == "marginalize",
        )

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Estimate the parameters with the EM algorithm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), str, os.PathLike, \
numpy.memmap, callable or dask.array.Array
            Training data, one row per sample. Besides arrays: the path of a
            ``.npy`` file, a memmap, or a chunk factory (a callable returning a
            new iterator over 2-D arrays or ``(X_chunk, weight_chunk)`` pairs,
            the same data on every call) are read one pass per EM iteration,
            with the initialisation run on a reservoir sample of
            :data:`gaussmix.outofcore.INIT_SAMPLE_SIZE` rows; a dask array is
            fitted on its workers (docs/scale.md). From the same initial
            parameters, all give the in-memory fit.
        {{y_ignored}}
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights. An integer weight counts its row that many
            times; a zero weight ignores the row. (With a chunk factory, the
            chunks carry their weights instead.) Without a ``prior`` the fit
            depends only on their ratios, and extreme scales (all ``1e300``,
            all ``5e-324``) are fitted as those ratios; with a ``prior`` they
            count samples against the prior's pseudo-counts, and scales that
            overflow or leave no digits are refused.

        Returns
        -------
        self : GaussianMixture
            The fitted estimator.
        """
        self._fit(X, sample_weight, want_labels=False)
        return self

    def _own_params(self) -> dict[str, Any]:
        """``get_params(deep=False)`` with the parameter names cached per class."""
        names = _PARAM_NAMES.get(type(self))
        if names is None:
            names = _PARAM_NAMES.setdefault(type(self), tuple(self._get_param_names()))
        return {n: getattr(self, n) for n in names}

    def _options(self) -> FitOptions:
        """The validated parameters, as the fit driver takes them."""
        params = self._own_params()
        name = type(self).__name__
        check_parameters(params, name)
        return FitOptions.from_params(params, name)

    def _warm(self) -> WarmStart | None:
        """The previous fit to continue from (``warm_start``), or None."""
        if not (self.warm_start and hasattr(self, "converged_")):
            return None
        return WarmStart(self._model(), float(self.lower_bound_))

    def _fit(self, X: Any, sample_weight: Any, *, want_labels: bool) -> Any:
        if array_api.dispatched(
            X, self.weights_init, self.means_init, self.precisions_init, sample_weight
        ):
            return array_api.fit(self, X, sample_weight, want_labels=want_labels)
        options = self._options()
        name = options.owner
        labels_of = None
        if self.nan_policy != "raise":
            if is_out_of_core(X):
                prepared = missing.prepare_out_of_core(
                    X, sample_weight, options, self.nan_policy
                )
            else:
                prepared = missing.prepare_fit(
                    self, X, sample_weight, options, self.nan_policy
                )
            source: Any = prepared.source
            options, labels_of = prepared.options, prepared.labels
        elif is_out_of_core(X):
            source = open_source(X, sample_weight, options)
        else:
            X = check_X(self, X, reset=True)
            n_samples = X.shape[0]
            weights = check_sample_weight(
                sample_weight, n_samples, self.n_components, name
            )
            if weights is None and n_samples < self.n_components:
                raise ValueError(
                    f"{name}: n_components={self.n_components} needs at least "
                    f"{self.n_components} samples, got n_samples = {n_samples}. "
                    "Reduce n_components or provide more data."
                )
            source = array_source(X, weights, options)
        result = fit_mixture(source, options, self._warm())
        self._set_out_of_core_features(X, result.n_features)
        self._set_fitted(result)
        if not want_labels:
            return None
        if labels_of is not None:
            return labels_of(result.model.params(), result.model.family)
        return source.labels(result.model.params(), result.model.family)

    def partial_fit(
        self, X: Any, y: Any = None, sample_weight: Any = None
    ) -> GaussianMixture:
        """Update the model with one mini-batch by stepwise (online) EM.

        The first call initialises the parameters from this batch with
        ``init_params`` (or ``weights_init``/``means_init``/``precisions_init``),
        unless the model was fitted before, in which case it continues from
        the fitted parameters. Every call then runs one E-step on the batch
        and blends its per-sample statistics into running statistics with the
        step ``gamma_t = (t + learning_offset)^-learning_decay`` (Cappe &
        Moulines 2009), followed by an M-step. On data from a fixed
        distribution the parameters converge to the batch EM solution as the
        steps shrink; on drifting data a smaller ``learning_decay`` follows
        the drift more closely.

        Parameters
        ----------
        {{X_partial_fit}}
        {{y_ignored}}
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights of the batch.

        Returns
        -------
        self : GaussianMixture
            The updated estimator. ``n_iter_`` counts the batches seen,
            ``lower_bound_`` is the batch's mean log-likelihood before the
            update and ``lower_bounds_`` their history; ``converged_`` is
            False (a stream has no end).

        Notes
        -----
        Calls from several threads are serialised (each update reads and
        replaces the running statistics): none is lost. Predictions from other
        threads meanwhile see the parameters before or after an update, never
        a mixture of both.
        """
        # One update at a time: each reads the running statistics and the
        # fitted attributes and replaces both (concurrent calls lost updates).
        with self._lock("_partial_fit_lock"):
            return self._partial_fit(X, sample_weight)

    def _partial_fit(self, X: Any, sample_weight: Any) -> GaussianMixture:
        options = self._options()
        fitted = hasattr(self, "weights_")
        if self.nan_policy != "raise":
            X, sample_weight = missing.partial_fit_rows(
                self, X, sample_weight, options.owner, reset=not fitted
            )
        marginalize = self.nan_policy == "marginalize"
        X = check_X(self, X, reset=not fitted, min_samples=1, allow_nan=marginalize)
        previous = None
        if fitted:
            state: OnlineState | None = getattr(self, "_online_state", None)
            previous = (self._model(), state, list(getattr(self, "lower_bounds_", [])))
        result = partial_fit_step(
            X, sample_weight, options, previous, missing=marginalize
        )
        if result is not None:
            self._set_fitted(result)
        return self

    # ------------------------------------------------------------ missing values
    def _predicted(self, X: Any, method: str) -> Any:
        if self.nan_policy == "marginalize" and not is_dask_array(X):
            return missing.predicted_with_nan(self, X, method)
        if self.nan_policy == "marginalize":
            return missing.dask_predicted(self, X, method)
        return super()._predicted(X, method)

    def impute(
        self, X: Any, n_imputations: int | None = None, random_state: Any = None
    ) -> Any:
        """Fill the missing (NaN) values of ``X`` from the fitted mixture.

        Without ``n_imputations``, each missing value becomes its conditional
        mean given the row's observed values, ``E[x_m | x_o] = sum_k
        r_k(x_o) (mu_km + S_k,mo S_k,oo^-1 (x_o - mu_ko))`` with ``r_k(x_o)``
        the responsibilities from the observed features. With
        ``n_imputations=m``, ``m`` draws from the conditional distribution (a
        mixture: a component drawn with probability ``r_k(x_o)``, then
        ``x_m`` from that component's conditional Gaussian), for multiple
        imputation. Observed values are kept; a row with nothing observed gets
        the mixture mean (draws: from the mixture). Works whatever
        ``nan_policy`` the model was fitted with (e.g. a model fitted on
        complete data).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with NaN for missing values (infinity is an error).
        n_imputations : int, default=None
            None for the conditional means; a positive integer for that many
            draws.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws.

        Returns
        -------
        ndarray of shape (n_samples, n_features), or (n_imputations, n_samples, n_features)
            The completed data (in the dtype of ``X``).
        """
        return missing.impute(self, X, n_imputations, random_state)

    # ------------------------------------------------------ fitted attributes
    def summary(self, X: Any) -> ModelSummary:
        """Summary of the fitted model on ``X``, as R's ``summary(Mclust(...))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data to summarise on, usually the data the model was fitted on.

        Returns
        -------
        ModelSummary
            The model and mclust's description of it, K, the log-likelihood of
            ``X``, n, df, BIC and ICL in mclust's sign (higher is better: they
            are ``-self.bic(X)`` and ``-self.icl(X)``), and the clustering table
            (the rows ``predict`` gives each component) with the mixing
            proportions. ``print`` it for text; a notebook shows it as HTML.

        See Also
        --------
        gaussmix.summary.model_summary : The same, as a function.
        gaussmix.summary.table_summary : The best models of a ``select`` table.
        """
        from gaussmix.summary import model_summary

        return model_summary(self, X)

    def _set_fitted(self, result: FitResult) -> None:
        """Write a fit's result to the fitted attributes (the only writer)."""
        with self._lock("_params_lock"):
            self._set_model(result.model, result.info)
            self._online_state: OnlineState | None = result.online_state
            self._set_prior(result.prior)

    # ---------------------------------------------- marginals, conditionals
    def marginal(self, features: Any) -> GaussianMixture:
        """The fitted mixture of some of the features, the others integrated out.

        Same weights, means ``mu_k[f]`` and covariances ``S_k[f, f]``
        (docs/conditional.md).

        Parameters
        ----------
        features : int, sequence of int, boolean mask or sequence of str
            The features to keep, in the order of the result's columns: indices
            (negative ones count from the end), a mask of length
            ``n_features_in_``, or names of ``feature_names_in_``.

        Returns
        -------
        GaussianMixture
            A fitted mixture over ``features``, whose ``covariance_type`` is the
            scikit-learn shape that stores this model's covariances (mclust's
            names map to theirs: 'VVV' to 'full', 'EEE' to 'tied', 'EEI' to
            'diag', 'EII' to 'spherical'). Parameters holding per-feature arrays
            (``means_init``, ``prior``, ...) are reset.
        """
        model, index = self._split_features(features, "marginal")
        name, weights, means, covariances = conditional.marginal(
            model.family, model.weights, model.means, model.covariances, index
        )
        return self._derived(name, weights, means, covariances, index, model)

    def condition(self, features: Any, values: Any) -> GaussianMixture:
        """The fitted mixture of the other features given values of ``features``.

        Weights ``w_k N(x_b | mu_kb, S_kbb) / p(x_b)`` (in log space), means
        ``mu_ka + S_kab S_kbb^-1 (x_b - mu_kb)`` and covariances the Schur
        complements, from Cholesky factors (docs/conditional.md). For many rows
        at once: :class:`gaussmix.GMRegressor`.

        Parameters
        ----------
        features : int, sequence of int, boolean mask or sequence of str
            The given features (as in :meth:`marginal`); one must be left.
        values : array-like of shape (len(features),)
            One row of values of the given features, in the order of
            ``features`` (for a mask: in column order).

        Returns
        -------
        GaussianMixture
            A fitted mixture over the other features, in their order, with the
            ``covariance_type`` of :meth:`marginal` ('tied' stays 'tied'; 'diag'
            and 'spherical' keep their variances, only the weights change).
        """
        model, index = self._split_features(features, "condition")
        row = conditional.check_values(values, index.size)
        cond = conditional.condition(
            model.family,
            model.weights,
            model.means,
            model.covariances,
            index,
            row[None],
        )
        rest = np.setdiff1d(np.arange(model.n_features), index)
        weights = np.exp(cond.log_weights[0])
        return self._derived(
            cond.covariance_type, weights, cond.means[0], cond.covariances, rest, model
        )

    def _split_features(self, features: Any, method: str) -> tuple[MixtureModel, Any]:
        """The fitted model and the validated indices of ``features``."""
        check_is_fitted(self)
        if hasattr(self, "noise_log_density_"):
            raise ValueError(
                f"{type(self).__name__}.{method}: not defined for a model with a noise "
                "component (its uniform density is not a Gaussian's); fit with "
                "noise=None."
            )
        model = self._model()
        names = getattr(self, "feature_names_in_", None)
        return model, conditional.check_features(
            features, model.n_features, method, names
        )

    def _derived(
        self, covariance_type: str, weights: Any, means: Any, covariances: Any,
        columns: Any, source: MixtureModel,
    ) -> GaussianMixture:  # fmt: skip
        """A fitted mixture of derived float64 arrays over ``columns`` of this one."""
        model = MixtureModel.from_covariances(
            covariance_type, weights, means, covariances, source.dtype
        )
        template = dict(self.get_params(deep=False), covariance_type=covariance_type)
        template.update(dict.fromkeys(_PER_FEATURE_PARAMS))
        names = getattr(self, "feature_names_in_", None)
        return build_fitted(
            template,
            model,
            FitInfo(converged=True, n_iter=0, lower_bound=-np.inf),
            feature_names=None if names is None else np.asarray(names)[columns],
        )


#: Parameters that hold per-feature or per-row arrays: reset in the mixtures
#: that :meth:`GaussianMixture.marginal` and ``condition`` return.
_PER_FEATURE_PARAMS: tuple[str, ...] = (
    "weights_init",
    "means_init",
    "precisions_init",
    "resp_init",
    "noise",
    "noise_init",
    "prior",
)

#: Constructor parameter names per estimator class (inspect.signature is slow).
_PARAM_NAMES: dict[type, tuple[str, ...]] = {}


def build_fitted(
    params: Mapping[str, Any],
    model: MixtureModel,
    info: FitInfo,
    *,
    feature_names: Any = None,
    prior: Mapping[str, Any] | None = None,
) -> GaussianMixture:
    """A fitted :class:`GaussianMixture` with these parameters and this model.

    The one way, besides ``fit``, to make a fitted estimator: model files
    (:func:`gaussmix.io.load`) and MAP adaptation
    (:func:`gaussmix.apps.speaker.map_adapt`) use it.

    Parameters
    ----------
    params : mapping
        Constructor parameters (``get_params(deep=False)`` of the template).
    model : MixtureModel
        The fitted arrays.
    info : FitInfo
        How the fit went (iterations, convergence, lower bounds).
    feature_names : array-like of str, default=None
        ``feature_names_in_``, when the model was fitted on named columns.
    prior : mapping, default=None
        ``prior_``, the resolved prior of a MAP fit.

    Returns
    -------
    GaussianMixture
    """
    estimator = GaussianMixture(**params)
    with estimator._lock("_params_lock"):
        estimator._set_model(model, info)
    estimator.n_features_in_ = model.n_features
    if feature_names is not None:
        estimator.feature_names_in_ = np.asarray(feature_names, dtype=object)
    if prior is not None:
        estimator.prior_ = dict(prior)
    return estimator
