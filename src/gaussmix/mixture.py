"""``GaussianMixture``: the scikit-learn estimator over the numeric core.

The estimator validates input, picks the covariance family from the registry,
initialises, runs :func:`gaussmix.em.fit_em` ``n_init`` times and copies the
best result to scikit-learn's fitted attributes. Prediction methods are one
chunked pass of :mod:`gaussmix.core.estep` each.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from gaussmix._threads import single_threaded_blas
from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import (
    check_init_arrays,
    check_model_size,
    check_parameters,
    check_random_state_value,
    check_resp_init,
    check_sample_weight,
    check_X,
    resolve_n_threads,
)
from gaussmix.core.covariance import CovarianceFamily, get_family
from gaussmix.core.estep import (
    e_step,
    estimate_log_prob,
    estimate_log_prob_resp,
    stats_from_resp,
)
from gaussmix.core.init import initial_resp
from gaussmix.core.mstep import Repair, m_step, params_from_precisions
from gaussmix.core.noise import NoiseBox, hypervolume_box
from gaussmix.core.params import GMMParams
from gaussmix.core.prior import ConjugatePrior, resolve_prior
from gaussmix.core.stats import SuffStats, rescale_weights, weight_exponent
from gaussmix.em import EMResult, OnlineState, fit_em, online_step
from gaussmix.exceptions import ConvergenceWarning, DegenerateComponentWarning
from gaussmix.outofcore import (
    INIT_SAMPLE_SIZE,
    OutOfCoreSource,
    as_source,
    is_dask_array,
    is_out_of_core,
)
from gaussmix.sources import ArraySource, StatsSource

__all__ = ["NOISE_INIT_WEIGHT", "GaussianMixture"]

#: Initial proportion of the noise component when nothing else gives one (no
#: ``noise_init`` and no noise column in ``resp_init``): the Gaussians start from
#: ``init_params`` on all rows with their weights scaled by ``1 - 0.1``.
NOISE_INIT_WEIGHT: Final = 0.1

#: Called as ``callback(done, total)`` after each initialisation of a fit in this
#: context (the command-line tool draws a progress bar with it).
FIT_PROGRESS: ContextVar[Callable[[int, int], None] | None] = ContextVar(
    "gaussmix_fit_progress", default=None
)


class _VerboseReporter:
    """Progress messages in scikit-learn's format (``verbose`` asks for them)."""

    def __init__(self, verbose: int, interval: int) -> None:
        self.verbose = int(verbose)
        self.interval = interval
        self.t_init = self.t_iter = 0.0

    def init_begin(self, n: int) -> None:
        if self.verbose >= 1:
            print(f"Initialization {n}")
            self.t_init = self.t_iter = time.time()

    def iteration(self, n_iter: int, lower_bound: float, change: float) -> None:
        if self.verbose >= 1 and n_iter % self.interval == 0:
            if self.verbose == 1:
                print(f"  Iteration {n_iter}")
            else:
                now = time.time()
                print(
                    f"  Iteration {n_iter}\t time lapse {now - self.t_iter:.5f}s\t "
                    f"ll change {change:.5f}"
                )
                self.t_iter = now

    def init_end(self, lower_bound: float, converged: bool) -> None:
        status = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {status}.")
        elif self.verbose >= 2:
            lapse = time.time() - self.t_init
            print(
                f"Initialization {status}. time lapse {lapse:.5f}s\t "
                f"lower bound {lower_bound:.5f}."
            )


class GaussianMixture(DensityMixin, BaseEstimator):  # type: ignore[misc]
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
    tol : float, default=1e-3
        EM stops when the change of the per-sample mean log-likelihood is
        below this.
    reg_covar : float, default=1e-6
        Non-negative amount added to the diagonal of every covariance, which
        keeps them positive definite.
    max_iter : int, default=100
        Maximum number of EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the best (highest log-likelihood, or
        log-posterior with a ``prior``) is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'}, \
default='kmeans'
        How the initial responsibilities are made: from k-means labels, from
        k-means++ seeds, uniformly at random, from randomly chosen rows, or
        from R mclust's model-based hierarchical clustering cut at
        ``n_components`` (``'hc'``, mclust's default start; docs/hc-init.md).
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
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
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
        batch_size: int | None = None,
        learning_decay: float = 0.6,
        learning_offset: float = 1.0,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_jobs: int | None = None,
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
        self.batch_size = batch_size
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_jobs = n_jobs

    # ---------------------------------------------------------------- locks
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

    # ------------------------------------------------------------------ fit
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
        y : Ignored
            Present for API consistency.
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

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> IntArray:
        """Fit, then return the most likely component of every row of ``X``.

        The labels are those of ``fit(X).predict(X)`` whatever ``max_iter`` and
        ``tol`` (a final E-step is run after the last M-step).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, as in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels (a lazy dask array when ``X`` is a dask array).
        """
        labels = self._fit(X, sample_weight, want_labels=True)
        assert labels is not None
        return cast("IntArray", labels)

    def _own_params(self) -> dict[str, Any]:
        """``get_params(deep=False)`` with the parameter names cached per class."""
        names = _PARAM_NAMES.get(type(self))
        if names is None:
            names = _PARAM_NAMES.setdefault(type(self), tuple(self._get_param_names()))
        return {n: getattr(self, n) for n in names}

    def _fit(self, X: Any, sample_weight: Any, *, want_labels: bool) -> Any:
        name = type(self).__name__
        check_parameters(self._own_params(), name)
        if is_out_of_core(X):
            return self._fit_source(X, sample_weight, want_labels=want_labels)
        family = get_family(self.covariance_type)
        X = check_X(self, X, reset=True)
        n_samples, n_features = X.shape
        check_model_size(family, self.n_components, n_features, name)
        weights = check_sample_weight(sample_weight, n_samples, self.n_components, name)
        if self.prior is None:
            # EM depends on the weights only up to scale (a prior's pseudo-counts
            # do not): weights of 1e300 or 5e-324 are fitted as their ratios.
            weights = rescale_weights(weights)
        elif weights is not None:
            _check_prior_weights(X, weights, name)
        if weights is None and n_samples < self.n_components:
            raise ValueError(
                f"{name}: n_components={self.n_components} needs at least "
                f"{self.n_components} samples, got n_samples = {n_samples}. Reduce "
                "n_components or provide more data."
            )
        if self.batch_size is not None:
            self._check_online_options(name)
            return self._fit_online(X, weights, family, want_labels=want_labels)
        init_arrays = self._init_arrays(family, n_features, name)
        noise_box = self._noise_box(X, weights, name)
        noise_log_density = None if noise_box is None else -noise_box.log_volume
        if self.resp_init is not None:
            resp_columns = self.n_components
            if (
                noise_box is not None
                and np.ndim(self.resp_init) == 2
                and np.shape(self.resp_init)[1] == self.n_components + 1
            ):
                resp_columns += 1  # the last column: the noise
            check_resp_init(self.resp_init, n_samples, resp_columns, init_arrays, name)
        noise_mask = self._noise_mask(n_samples, weights, init_arrays, noise_box, name)
        prior = resolve_prior(
            self.prior, X, weights, self.n_components, self.covariance_type, name
        )
        random_state = check_random_state(self.random_state)
        n_threads = resolve_n_threads(self.n_jobs)
        source = ArraySource(X, weights, n_threads=n_threads)

        def start(family: CovarianceFamily) -> tuple[GMMParams, list[Repair]]:
            return self._initial_params(
                X,
                weights,
                family,
                random_state,
                init_arrays,
                n_threads,
                noise_log_density,
                noise_mask,
                prior,
            )

        with single_threaded_blas():
            best = self._best_of_inits(
                source, start, family, X.dtype, prior, noise_log_density
            )
            self._set_fitted(best, family, X.dtype, noise_box)
            self._set_prior(prior)
            if not want_labels:
                return None
            return self._prediction_pass(X, False, n_threads)[2]

    def _init_arrays(
        self, family: CovarianceFamily, n_features: int, name: str
    ) -> tuple[FloatArray | None, FloatArray | None, FloatArray | None]:
        """The validated ``weights_init``, ``means_init`` and ``precisions_init``."""
        return check_init_arrays(
            self.weights_init,
            self.means_init,
            self.precisions_init,
            family,
            self.n_components,
            n_features,
            name,
        )

    def _prediction_pass(
        self, X: FloatArray, want_resp: bool, n_threads: int | None = None
    ) -> tuple[FloatArray, FloatArray | None, IntArray]:
        """One pass over validated ``X`` under the fitted parameters.

        Returns ``log p(x)``, the responsibilities (with ``want_resp``) and the
        labels: what every prediction method and the criteria read.
        """
        with single_threaded_blas():
            return estimate_log_prob_resp(
                X,
                self._fitted_params(),
                self._family(),
                want_resp=want_resp,
                n_threads=self._n_threads() if n_threads is None else n_threads,
            )

    def _set_prior(self, prior: ConjugatePrior | None) -> None:
        """``prior_`` after a fit: the resolved prior, or no attribute."""
        if prior is not None:
            self.prior_: dict[str, Any] = prior.as_dict()
        elif hasattr(self, "prior_"):
            delattr(self, "prior_")

    def _best_of_inits(
        self,
        source: StatsSource,
        start: Callable[[CovarianceFamily], tuple[GMMParams, list[Repair]]],
        family: CovarianceFamily,
        dtype: np.dtype[Any],
        prior: ConjugatePrior | None,
        noise_log_density: float | None = None,
    ) -> EMResult:
        """Run EM from ``n_init`` starts (or the warm start); keep the best.

        With several starts, spare cores and an in-memory array of moderate
        size, the EM runs go to worker processes (:func:`_parallel_inits`). The
        starts are drawn first, in order, in this process, and EM draws no
        random numbers, so the result is the serial one, bit for bit. Each
        start gets its own family object (mclust's families keep warm-start
        state between M-steps), used for its first M-step and its EM run.
        """
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        reporter = _VerboseReporter(self.verbose, self.verbose_interval)
        em_options: dict[str, Any] = {
            "tol": self.tol,
            "max_iter": self.max_iter,
            "reg_covar": self.reg_covar,
            "dtype": dtype,
            "equal_proportions": self.equal_proportions,
            "prior": prior,
        }
        workers = _parallel_inits(
            source, n_init if do_init else 1, self.max_iter, self.verbose, self.n_jobs
        )
        results: list[EMResult] = []
        if workers > 1:
            assert isinstance(source, ArraySource)
            families = [get_family(self.covariance_type) for _ in range(n_init)]
            starts = [start(f) for f in families]
            results = _em_in_processes(
                source, [p for p, _ in starts], families, em_options, workers
            )
            for init, ((_, init_repairs), result) in enumerate(
                zip(starts, results, strict=True)
            ):
                result.repairs[:0] = [(0, r) for r in init_repairs]
                progress = FIT_PROGRESS.get()
                if progress is not None:
                    progress(init + 1, n_init)
        else:
            for init in range(n_init):
                reporter.init_begin(init)
                if do_init:
                    if init > 0:
                        family = get_family(self.covariance_type)
                    params, init_repairs = start(family)
                    lower_bound = -math.inf
                else:
                    params = _with_noise(self._fitted_params(), noise_log_density)
                    init_repairs = []
                    lower_bound = self.lower_bound_
                if self.max_iter == 0:
                    result = EMResult(params, 0, -math.inf, [], False)
                else:
                    result = fit_em(
                        source,
                        params,
                        family,
                        lower_bound=lower_bound,
                        callback=reporter.iteration,
                        **em_options,
                    )
                    reporter.init_end(result.lower_bound, result.converged)
                result.repairs[:0] = [(0, r) for r in init_repairs]
                results.append(result)
                progress = FIT_PROGRESS.get()
                if progress is not None:
                    progress(init + 1, n_init)
        best: EMResult | None = None
        for result in results:
            if (
                best is None
                or result.objective > best.objective
                or best.objective == -math.inf
            ):
                best = result
        assert best is not None
        _warn_repairs(best.repairs)
        if not best.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different "
                "init parameters, or increase max_iter, tol, or check for "
                "degenerate data.",
                ConvergenceWarning,
                stacklevel=_outside_stacklevel(),
            )
        return best

    # ----------------------------------------------------------- out of core
    def _fit_source(self, X: Any, sample_weight: Any, *, want_labels: bool) -> Any:
        """Fit on data read pass by pass (a .npy path, memmap, factory, dask array)."""
        name = type(self).__name__
        family = get_family(self.covariance_type)
        for param in ("resp_init", "noise_init"):
            if getattr(self, param) is not None:
                raise ValueError(
                    f"{name}: {param} gives the start of a fit on in-memory rows and "
                    "cannot be used with out-of-core data (a .npy path, memmap, chunk "
                    "factory or dask array). Use init_params, or weights_init, "
                    "means_init and precisions_init."
                )
        if self.noise is not None and self.noise is not False:
            raise ValueError(
                f"{name}: a noise component is not supported with out-of-core data "
                "(its hypervolume needs the data's principal axes). Fit an in-memory "
                "array, or set noise=None."
            )
        n_threads = resolve_n_threads(self.n_jobs)
        if self.prior is None:
            sample_weight = _rescaled_source_weights(sample_weight)
        source = as_source(X, sample_weight, n_threads, name)
        random_state = check_random_state(self.random_state)
        with single_threaded_blas():
            summary = source.summarize(INIT_SAMPLE_SIZE, random_state)
        n_features = summary.n_features
        check_model_size(family, self.n_components, n_features, name)
        if summary.n_samples < self.n_components:
            raise ValueError(
                f"{name}: n_components={self.n_components} needs at least "
                f"{self.n_components} samples, got n_samples = {summary.n_samples}. "
                "Reduce n_components or provide more data."
            )
        seen = getattr(self, "n_features_in_", None)
        if self.warm_start and seen is not None and seen != n_features:
            raise ValueError(
                f"X has {n_features} features, but {name} is expecting "
                f"{seen} features as input."
            )
        self.n_features_in_ = n_features
        if hasattr(self, "feature_names_in_"):
            delattr(self, "feature_names_in_")
        if self.batch_size is not None:
            self._check_online_options(name)
            return self._fit_online_source(
                source, summary, family, random_state, want_labels=want_labels
            )
        init_arrays = self._init_arrays(family, n_features, name)
        prior = self._source_prior(summary, name)

        def start(family: CovarianceFamily) -> tuple[GMMParams, list[Repair]]:
            # The initialisation runs on the reservoir sample (documented).
            return self._initial_params(
                summary.sample,
                None,
                family,
                random_state,
                init_arrays,
                n_threads,
                prior=prior,
            )

        with single_threaded_blas():
            best = self._best_of_inits(source, start, family, summary.dtype, prior)
            self._set_fitted(best, family, summary.dtype)
            self._set_prior(prior)
            if not want_labels:
                return None
            return source.labels(self._fitted_params(), family)

    def _source_prior(self, summary: Any, name: str) -> ConjugatePrior | None:
        """Mclust's default prior from the summary's exact moments."""
        if self.prior is None:
            return None
        return resolve_prior(
            self.prior,
            summary.sample,
            None,
            self.n_components,
            self.covariance_type,
            name,
            moments=(summary.weight, summary.mean, summary.covariance),
        )

    # ------------------------------------------------------------- online EM
    def _check_online_options(self, name: str) -> None:
        for param in ("resp_init", "noise_init", "prior"):
            if getattr(self, param) is not None:
                raise ValueError(
                    f"{name}: {param} is not supported by online EM (batch_size or "
                    "partial_fit). Fit by batch EM (batch_size=None) instead."
                )
        if self.noise is not None and self.noise is not False:
            raise ValueError(
                f"{name}: a noise component is not supported by online EM "
                "(batch_size or partial_fit). Fit by batch EM (batch_size=None)."
            )

    def _online_update(
        self,
        state: OnlineState | None,
        batch: SuffStats,
        family: CovarianceFamily,
        dtype: np.dtype[Any],
    ) -> tuple[OnlineState, GMMParams, list[Repair]]:
        """One stepwise-EM update with this estimator's settings."""
        return online_step(
            state,
            batch,
            family,
            learning_offset=self.learning_offset,
            learning_decay=self.learning_decay,
            reg_covar=self.reg_covar,
            dtype=dtype,
            equal_proportions=self.equal_proportions,
        )

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
        X : array-like of shape (n_samples, n_features)
            One mini-batch (the first needs at least ``n_components`` rows).
        y : Ignored
            Present for API consistency.
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
        name = type(self).__name__
        check_parameters(self.get_params(deep=False), name)
        self._check_online_options(name)
        family = get_family(self.covariance_type)
        state: OnlineState | None = getattr(self, "_online_state", None)
        fitted = hasattr(self, "weights_")
        X = check_X(self, X, reset=not fitted, min_samples=1)
        n_samples, n_features = X.shape
        if not fitted:
            check_model_size(family, self.n_components, n_features, name)
        weights = rescale_weights(
            check_sample_weight(sample_weight, n_samples, None, name)
        )
        n_threads = resolve_n_threads(self.n_jobs)
        with single_threaded_blas():
            if fitted:
                params = self._fitted_params()
                history = list(getattr(self, "lower_bounds_", []))
            else:
                if n_samples < self.n_components:
                    raise ValueError(
                        f"{name}: the first batch of partial_fit initialises the "
                        f"model and needs at least n_components = {self.n_components} "
                        f"rows, got {n_samples}."
                    )
                init_arrays = self._init_arrays(family, n_features, name)
                random_state = check_random_state(self.random_state)
                params, repairs = self._initial_params(
                    X, weights, family, random_state, init_arrays, n_threads
                )
                _warn_repairs([(0, r) for r in repairs])
                history = []
            batch = e_step(X, params, family, weights, n_threads=n_threads)
            if batch.weight <= 0:
                return self  # nothing to learn from an all-zero-weight batch
            state, params, repairs = self._online_update(state, batch, family, X.dtype)
        _warn_repairs([(state.n_steps, r) for r in repairs])
        lower_bound = batch.loglik / batch.weight
        history.append(lower_bound)
        result = EMResult(params, state.n_steps, lower_bound, history, False)
        self._set_fitted(result, family, X.dtype)
        self._online_state: OnlineState | None = state
        return self

    def _online_epochs(
        self,
        batches: Callable[[int], Any],
        params: GMMParams,
        family: CovarianceFamily,
        dtype: np.dtype[Any],
        n_threads: int,
    ) -> EMResult:
        """Epochs of online EM; ``batches(epoch)`` yields ``(X, w)`` mini-batches."""
        reporter = _VerboseReporter(self.verbose, self.verbose_interval)
        reporter.init_begin(0)
        state: OnlineState | None = None
        lower_bounds: list[float] = []
        repairs: list[tuple[int, Repair]] = []
        previous = -math.inf
        converged = False
        epoch = 0
        for epoch in range(1, self.max_iter + 1):
            loglik = weight = 0.0
            for Xb, wb in batches(epoch):
                batch = e_step(Xb, params, family, wb, n_threads=n_threads)
                if batch.weight <= 0:
                    continue
                loglik += batch.loglik
                weight += batch.weight
                state, params, step_repairs = self._online_update(
                    state, batch, family, dtype
                )
                repairs.extend((epoch, r) for r in step_repairs)
            lower_bound = loglik / weight if weight > 0 else -math.inf
            lower_bounds.append(lower_bound)
            change = lower_bound - previous
            reporter.iteration(epoch, lower_bound, change)
            previous = lower_bound
            if abs(change) < self.tol:
                converged = True
                break
        reporter.init_end(previous, converged)
        self._online_state = state
        return EMResult(params, epoch, previous, lower_bounds, converged, repairs)

    def _fit_online(
        self,
        X: FloatArray,
        weights: FloatArray | None,
        family: CovarianceFamily,
        *,
        want_labels: bool,
    ) -> IntArray | None:
        """``fit`` with ``batch_size``: epochs of online EM over an array."""
        name = type(self).__name__
        n_samples, n_features = X.shape
        init_arrays = self._init_arrays(family, n_features, name)
        random_state = check_random_state(self.random_state)
        n_threads = resolve_n_threads(self.n_jobs)
        assert self.batch_size is not None
        batch_size = int(self.batch_size)
        with single_threaded_blas():
            params = self._online_start(
                X, weights, family, random_state, init_arrays, n_threads
            )

            def batches(epoch: int) -> Any:
                order = random_state.permutation(n_samples)
                for lo in range(0, n_samples, batch_size):
                    rows = np.sort(order[lo : lo + batch_size])
                    yield X[rows], None if weights is None else weights[rows]

            result = self._online_epochs(batches, params, family, X.dtype, n_threads)
            self._finish_online(result, family, X.dtype)
            if not want_labels:
                return None
            return self._prediction_pass(X, False, n_threads)[2]

    def _online_start(
        self,
        X: FloatArray,
        weights: FloatArray | None,
        family: CovarianceFamily,
        random_state: np.random.RandomState,
        init_arrays: Any,
        n_threads: int,
    ) -> GMMParams:
        """Start of online EM: warm start, or init_params on a random sample."""
        if self.warm_start and hasattr(self, "weights_"):
            return self._fitted_params()
        n_samples = X.shape[0]
        if n_samples > INIT_SAMPLE_SIZE:
            rows = np.sort(random_state.choice(n_samples, INIT_SAMPLE_SIZE, False))
            X = X[rows]
            weights = None if weights is None else weights[rows]
        params, repairs = self._initial_params(
            X, weights, family, random_state, init_arrays, n_threads
        )
        _warn_repairs([(0, r) for r in repairs])
        return params

    def _finish_online(
        self, result: EMResult, family: CovarianceFamily, dtype: np.dtype[Any]
    ) -> None:
        _warn_repairs(result.repairs)
        if not result.converged and self.max_iter > 0:
            warnings.warn(
                f"Online EM did not converge in max_iter={self.max_iter} epochs. "
                "Increase max_iter or tol, or the batch_size.",
                ConvergenceWarning,
                stacklevel=_outside_stacklevel(),
            )
        self._set_fitted(result, family, dtype)

    def _fit_online_source(
        self,
        source: OutOfCoreSource,
        summary: Any,
        family: CovarianceFamily,
        random_state: np.random.RandomState,
        *,
        want_labels: bool,
    ) -> Any:
        """``fit`` with ``batch_size`` on out-of-core data: chunks cut in batches."""
        name = type(self).__name__
        init_arrays = self._init_arrays(family, summary.n_features, name)
        n_threads = resolve_n_threads(self.n_jobs)
        chunks = getattr(source, "chunks", None)
        if chunks is None:
            raise ValueError(
                f"{name}: batch_size (online EM) needs data read chunk by chunk "
                "(a .npy path, memmap or chunk factory); a dask array is fitted by "
                "batch EM with batch_size=None."
            )
        assert self.batch_size is not None
        batch_size = int(self.batch_size)
        with single_threaded_blas():
            params = self._online_start(
                summary.sample, None, family, random_state, init_arrays, n_threads
            )

            def batches(epoch: int) -> Any:
                for Xc, wc in chunks():
                    for lo in range(0, Xc.shape[0], batch_size):
                        yield (
                            Xc[lo : lo + batch_size],
                            None if wc is None else wc[lo : lo + batch_size],
                        )

            result = self._online_epochs(
                batches, params, family, summary.dtype, n_threads
            )
            self._finish_online(result, family, summary.dtype)
            if not want_labels:
                return None
            return source.labels(self._fitted_params(), family)

    def _initial_params(
        self,
        X: FloatArray,
        weights: FloatArray | None,
        family: CovarianceFamily,
        random_state: np.random.RandomState,
        init_arrays: tuple[FloatArray | None, FloatArray | None, FloatArray | None],
        n_threads: int,
        noise_log_density: float | None = None,
        noise_mask: npt.NDArray[np.bool_] | None = None,
        prior: ConjugatePrior | None = None,
    ) -> tuple[GMMParams, list[Repair]]:
        params, repairs = self._initial_gaussians(
            X,
            weights,
            family,
            random_state,
            init_arrays,
            n_threads,
            noise_log_density,
            noise_mask,
            prior,
        )
        if noise_log_density is not None and not params.has_noise:
            params = _with_noise(params, noise_log_density)
        return params, repairs

    def _initial_gaussians(
        self,
        X: FloatArray,
        weights: FloatArray | None,
        family: CovarianceFamily,
        random_state: np.random.RandomState,
        init_arrays: tuple[FloatArray | None, FloatArray | None, FloatArray | None],
        n_threads: int,
        noise_log_density: float | None,
        noise_mask: npt.NDArray[np.bool_] | None,
        prior: ConjugatePrior | None,
    ) -> tuple[GMMParams, list[Repair]]:
        """Initial parameters; with noise, from a noise column when one is given.

        The first M-step uses the prior, as mclust's ``me`` does.
        """
        weights_init, means_init, precisions_init = init_arrays
        if self.resp_init is not None or noise_mask is not None:
            # mclust's me(z=...): the fit starts with an M-step from these
            # responsibilities (validated in _fit); with noise_init, the noise
            # rows form the last column and init_params labels the others.
            resp0: FloatArray
            if self.resp_init is not None:
                resp0 = np.asarray(self.resp_init, dtype=np.float64)
            else:
                assert noise_mask is not None
                resp0 = self._noise_init_resp(X, weights, noise_mask, random_state)
            with_noise = resp0.shape[1] == self.n_components + 1
            shift = np.average(X, axis=0, weights=weights).astype(np.float64)
            stats = stats_from_resp(
                X,
                resp0,
                family,
                self.n_components,
                shift,
                weights,
                n_threads=n_threads,
                noise_log_density=noise_log_density if with_noise else None,
            )
            return m_step(
                stats,
                family,
                self.reg_covar,
                dtype=X.dtype,
                equal_proportions=self.equal_proportions,
                prior=prior,
            )
        if (
            weights_init is not None
            and means_init is not None
            and precisions_init is not None
        ):
            return params_from_precisions(
                weights_init, means_init, precisions_init, family
            ), []
        resp, sequential = initial_resp(
            X, self.n_components, self.init_params, random_state, weights
        )
        shift = np.average(X, axis=0, weights=weights).astype(np.float64)
        stats = stats_from_resp(
            X,
            resp,
            family,
            self.n_components,
            shift,
            weights,
            n_threads=1 if sequential else n_threads,
        )
        params, repairs = m_step(
            stats,
            family,
            self.reg_covar,
            dtype=X.dtype,
            equal_proportions=self.equal_proportions,
            prior=prior,
        )
        if weights_init is None and means_init is None and precisions_init is None:
            return params, repairs
        if precisions_init is not None:
            given = params_from_precisions(
                params.weights, params.means, precisions_init, family
            )
            covariances, precisions_cholesky = (
                given.covariances,
                given.precisions_cholesky,
            )
        else:
            covariances, precisions_cholesky = (
                params.covariances,
                params.precisions_cholesky,
            )
        params = GMMParams(
            weights=params.weights if weights_init is None else weights_init,
            means=params.means if means_init is None else means_init,
            covariances=covariances,
            precisions_cholesky=precisions_cholesky,
        )
        return params, repairs

    def _noise_init_resp(
        self,
        X: FloatArray,
        weights: FloatArray | None,
        noise_mask: npt.NDArray[np.bool_],
        random_state: np.random.RandomState,
    ) -> FloatArray:
        """``(n_samples, n_components + 1)`` start: init_params off the noise rows."""
        keep = np.flatnonzero(~noise_mask)
        resp_fn, _ = initial_resp(
            X[keep],
            self.n_components,
            self.init_params,
            random_state,
            None if weights is None else weights[keep],
        )
        resp = np.zeros((X.shape[0], self.n_components + 1))
        resp[keep, : self.n_components] = resp_fn(0, keep.size)
        resp[noise_mask, self.n_components] = 1.0
        return resp

    def _noise_box(
        self, X: FloatArray, weights: FloatArray | None, name: str
    ) -> NoiseBox | None:
        """The noise component's box (volume V), or None without noise."""
        noise = self.noise
        if noise is None or noise is False:
            return None
        if noise is True:
            return hypervolume_box(X, weights)
        if not (
            isinstance(noise, numbers.Real)
            and not isinstance(noise, (bool, np.bool_))
            and math.isfinite(float(noise))
            and float(noise) > 0.0
        ):
            raise ValueError(
                f"{name}: noise must be None, True or a positive hypervolume V (a "
                f"finite number > 0); got {noise!r}. True takes V from the data as "
                "mclust's hypvol does."
            )
        log_volume = math.log(float(noise))
        try:
            box = hypervolume_box(X, weights)
        except ValueError:
            # Flat data: a cube of volume V about the centre of the bounding box.
            lo = X.min(axis=0).astype(np.float64)
            hi = X.max(axis=0).astype(np.float64)
            half = 0.5 * math.exp(log_volume / X.shape[1])
            centre = 0.5 * (lo + hi)
            return NoiseBox(np.eye(X.shape[1]), centre - half, centre + half)
        return box.scaled_to(log_volume)

    def _noise_mask(
        self,
        n_samples: int,
        weights: FloatArray | None,
        init_arrays: tuple[Any, Any, Any],
        noise_box: NoiseBox | None,
        name: str,
    ) -> npt.NDArray[np.bool_] | None:
        """``noise_init`` validated as a boolean mask (None when not given)."""
        if self.noise_init is None:
            return None
        if noise_box is None:
            raise ValueError(
                f"{name}: noise_init gives the rows that start as noise, but there "
                "is no noise component; set noise=True (or noise=V)."
            )
        if self.resp_init is not None or any(a is not None for a in init_arrays):
            raise ValueError(
                f"{name}: give either noise_init or resp_init/weights_init/"
                "means_init/precisions_init, not both (a resp_init with "
                "n_components + 1 columns carries the noise column itself)."
            )
        mask = np.asarray(self.noise_init)
        if mask.dtype != np.bool_ or mask.shape != (n_samples,):
            raise ValueError(
                f"{name}: noise_init must be a boolean array with one value per row "
                f"of X, shape ({n_samples},); got dtype {mask.dtype} and shape "
                f"{mask.shape}."
            )
        live = np.ones(n_samples, dtype=bool) if weights is None else weights > 0
        n_noise = int(np.count_nonzero(mask & live))
        n_other = int(np.count_nonzero(~mask & live))
        if n_noise < 1 or n_other < self.n_components:
            raise ValueError(
                f"{name}: noise_init marks {n_noise} row(s) (with positive weight) as "
                f"noise and leaves {n_other}; it needs at least 1 noise row and "
                f"n_components = {self.n_components} other rows."
            )
        return mask

    def _set_fitted(
        self,
        result: EMResult,
        family: CovarianceFamily,
        dtype: Any,
        noise_box: NoiseBox | None = None,
    ) -> None:
        with self._lock("_params_lock"):
            self._set_fitted_unlocked(result, family, dtype, noise_box)

    def _set_fitted_unlocked(
        self,
        result: EMResult,
        family: CovarianceFamily,
        dtype: Any,
        noise_box: NoiseBox | None,
    ) -> None:
        p = result.params
        if p.has_noise and noise_box is not None:
            assert p.noise_log_density is not None
            self.noise_weight_ = float(p.noise_weight)
            self.noise_log_density_ = float(p.noise_log_density)
            self.noise_box_axes_ = np.asarray(noise_box.axes, dtype=np.float64)
            self.noise_box_bounds_ = np.vstack([noise_box.lower, noise_box.upper])
        else:
            for attr in _NOISE_ATTRIBUTES:
                if hasattr(self, attr):
                    delattr(self, attr)
        self.weights_ = p.weights.astype(dtype)
        self.means_ = p.means.astype(dtype)
        self.covariances_ = p.covariances.astype(dtype)
        self.precisions_cholesky_ = p.precisions_cholesky.astype(dtype)
        self.precisions_ = family.precisions(p.precisions_cholesky).astype(dtype)
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = float(result.lower_bound)
        self.lower_bounds_ = [float(v) for v in result.lower_bounds]

    def _fitted_params(self) -> GMMParams:
        """The fitted parameters, read together (a partial_fit may be replacing them)."""
        with self._lock("_params_lock"):
            return self._fitted_params_unlocked()

    def _fitted_params_unlocked(self) -> GMMParams:
        params = GMMParams(
            weights=np.asarray(self.weights_, dtype=np.float64),
            means=np.asarray(self.means_, dtype=np.float64),
            covariances=np.asarray(self.covariances_, dtype=np.float64),
            precisions_cholesky=np.asarray(self.precisions_cholesky_, dtype=np.float64),
        )
        if not hasattr(self, "noise_log_density_"):
            return params
        return GMMParams(
            weights=params.weights,
            means=params.means,
            covariances=params.covariances,
            precisions_cholesky=params.precisions_cholesky,
            noise_weight=float(self.noise_weight_),
            noise_log_density=float(self.noise_log_density_),
        )

    def _noise_box_fitted(self) -> NoiseBox | None:
        if not hasattr(self, "noise_box_axes_"):
            return None
        bounds = np.asarray(self.noise_box_bounds_, dtype=np.float64)
        return NoiseBox(
            np.asarray(self.noise_box_axes_, dtype=np.float64), bounds[0], bounds[1]
        )

    # ------------------------------------------------------------ prediction
    def _predict_input(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        return check_X(self, X, reset=False, min_samples=1)

    def _dask_predict(self, method: str, X: Any) -> Any:
        """``method`` on a dask array: lazy, block by block (gaussmix.distributed)."""
        check_is_fitted(self)
        from gaussmix.distributed import dask as gm_dask

        if X.ndim == 2 and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        function = getattr(gm_dask, method)
        return function(X, self._fitted_params(), self._family(), owner=method)

    def _family(self) -> CovarianceFamily:
        return get_family(self.covariance_type)

    def _n_threads(self) -> int:
        return resolve_n_threads(self.n_jobs)

    def score_samples(self, X: Any) -> FloatArray:
        """Log of the mixture's probability density at each row of ``X``.

        This is a log-*density*, not the log of a probability: it can be
        positive, and its value depends on the units of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            ``log p(x)`` of every row (with a noise component, ``p`` includes
            its density ``noise_weight_ / V``). For a dask array, a lazy dask
            array computed block by block on the workers.
        """
        if is_dask_array(X):
            return cast("FloatArray", self._dask_predict("score_samples", X))
        X = self._predict_input(X)
        log_norm, _, _ = self._prediction_pass(X, False)
        return log_norm

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Weighted mean log-density of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.
        y : Ignored
            Present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels; ``-1`` for rows most likely noise (with a noise
            component). For a dask array, a lazy dask array.
        """
        if is_dask_array(X):
            return cast("IntArray", self._dask_predict("predict", X))
        X = self._predict_input(X)
        _, _, labels = self._prediction_pass(X, False)
        return labels

    def predict_proba(self, X: Any) -> FloatArray:
        """Posterior probability of each component for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components) or (n_samples, n_components + 1)
            Responsibilities; each row sums to one. With a noise component the
            last column is the noise. For a dask array, a lazy dask array.
        """
        if is_dask_array(X):
            return cast("FloatArray", self._dask_predict("predict_proba", X))
        X = self._predict_input(X)
        _, resp, _ = self._prediction_pass(X, True)
        assert resp is not None
        return resp

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
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.
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
        q, std = tail_probability(
            self, X, n_samples=n_samples, random_state=random_state, method=method
        )
        return (q, std) if return_std else q

    def _estimate_weighted_log_prob(self, X: Any) -> FloatArray:
        """``log(weights_k) + log N(x | mean_k, cov_k)``, shape (n_samples, n_components)."""
        X = self._predict_input(X)
        with single_threaded_blas():
            return estimate_log_prob(
                X,
                self._fitted_params(),
                self._family(),
                weighted=True,
                n_threads=self._n_threads(),
            )

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
        if not (
            isinstance(n_samples, (int, np.integer))
            and not isinstance(n_samples, bool)
            and n_samples >= 1
        ):
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires "
                "at least one sample (an integer >= 1)."
            )
        name = type(self).__name__
        if random_state is None:
            check_random_state_value(self.random_state, name, "random_state")
        else:
            check_random_state_value(random_state, f"{name}.sample", "random_state")
        rng = check_random_state(
            self.random_state if random_state is None else random_state
        )
        weights = np.asarray(self.weights_, dtype=np.float64)
        box = self._noise_box_fitted()
        if box is not None:
            probs = np.append(weights, float(self.noise_weight_))
            counts = rng.multinomial(int(n_samples), probs / probs.sum())
            X = self._family().sample(rng, self.means_, self.covariances_, counts[:-1])
            X = np.vstack([X, box.sample(rng, int(counts[-1]))])
            labels = [*range(self.n_components), -1]
            y = np.concatenate(
                [
                    np.full(int(n), j, dtype=int)
                    for j, n in zip(labels, counts, strict=True)
                ]
            )
            return X, y
        counts = rng.multinomial(int(n_samples), weights / weights.sum())
        X = self._family().sample(rng, self.means_, self.covariances_, counts)
        y = np.concatenate(
            [np.full(int(n), j, dtype=int) for j, n in enumerate(counts)]
        )
        return X, y

    # -------------------------------------------------------- model selection
    def _n_parameters(self) -> int:
        """Number of free parameters of the fitted model."""
        n_features = self.means_.shape[1]
        n = self._family().n_parameters(self.n_components, n_features)
        if self.equal_proportions:
            n -= self.n_components - 1
        if hasattr(self, "noise_log_density_"):
            # mclust's nMclustParams(noise = TRUE) adds 2: the noise proportion
            # and the hypervolume.
            n += 2
        return n

    def _total_loglik(self, X: Any, sample_weight: Any) -> tuple[float, float]:
        loglik, _, log_total = self._weighted_sum(self.score_samples(X), sample_weight)
        return loglik, log_total

    def _weighted_sum(
        self, values: FloatArray, sample_weight: Any
    ) -> tuple[float, float, float]:
        """``(sum_i w_i values_i, sum_i w_i, log sum_i w_i)``; weights 1 when None.

        The weights count rows (an integer weight is that many repeated rows),
        so the sums scale with them. They are computed on the weights scaled
        by a power of two ``2^e`` near 1 and multiplied back as Python floats:
        a sum beyond float64's range is then +-inf without a RuntimeWarning,
        and the log of the total, ``log(sum) + e log 2``, stays finite.
        """
        values = values.astype(np.float64)
        weights = check_sample_weight(
            sample_weight, values.shape[0], None, type(self).__name__
        )
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

    def _criteria(
        self, X: Any, sample_weight: Any = None, *, validated: bool = False
    ) -> dict[str, float]:
        """Log-likelihood, AIC, BIC and ICL from one pass over ``X``.

        The same numbers as :meth:`score_samples`, :meth:`aic`, :meth:`bic`
        and :meth:`icl`, which would take four passes (model selection).
        ``validated`` says that ``X`` is the array this model was just fitted
        on, already validated (model selection).
        """
        if not validated:
            X = self._predict_input(X)
        log_density, resp, _ = self._prediction_pass(X, True)
        assert resp is not None
        loglik, _, log_total = self._weighted_sum(log_density, sample_weight)
        entropy, _, _ = self._weighted_sum(_log_max_resp(resp), sample_weight)
        n_parameters = self._n_parameters()
        bic = -2.0 * loglik + n_parameters * log_total
        return {
            "log_likelihood": loglik,
            "aic": -2.0 * loglik + 2.0 * n_parameters,
            "bic": bic,
            "icl": bic - 2.0 * entropy,
        }

    def bic(self, X: Any, sample_weight: Any = None) -> float:
        """Bayesian information criterion on ``X`` (lower is better).

        ``-2 log L + n_parameters * log(n)``, with ``n`` the total weight.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights; integer weights equal repeated rows.

        Returns
        -------
        float
        """
        loglik, log_total = self._total_loglik(X, sample_weight)
        return -2.0 * loglik + self._n_parameters() * log_total

    def aic(self, X: Any, sample_weight: Any = None) -> float:
        """Akaike information criterion on ``X`` (lower is better).

        ``-2 log L + 2 n_parameters``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to evaluate.

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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        float
        """
        entropy, _, _ = self._weighted_sum(
            _log_max_resp(self.predict_proba(X)), sample_weight
        )
        return self.bic(X, sample_weight) - 2.0 * entropy


#: Guards the lazy creation of the per-estimator locks.
_LOCK_CREATION: Final = threading.Lock()
#: Attribute names of the per-estimator locks (see GaussianMixture._lock).
_LOCK_NAMES: Final = ("_partial_fit_lock", "_params_lock")


def _rescaled_source_weights(sample_weight: Any) -> Any:
    """Per-row weights of a ``.npy`` path or memmap, brought near 1 when extreme.

    Only a plain array of valid weights is scaled (see
    :func:`gaussmix.core.stats.rescale_weights`); anything else is passed on
    unchanged, for the source to validate (or, for dask arrays, to use as is).
    """
    if sample_weight is None or is_dask_array(sample_weight):
        return sample_weight
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return sample_weight
    if w.ndim != 1 or w.size == 0 or not np.isfinite(w).all() or (w < 0).any():
        return sample_weight
    return rescale_weights(w)


#: With a prior, the weighted sums of squares must stay this far below float64's
#: largest number (about 1.8e308) ...
PRIOR_WEIGHTED_SCATTER_MAX: Final = 1e306
#: ... and the largest weight above this (weights near float64's subnormal range
#: leave the statistics no digits).
PRIOR_WEIGHT_MIN: Final = 1e-290


def _check_prior_weights(X: FloatArray, weights: FloatArray, name: str) -> None:
    """Weights a MAP fit can use: their scale matters against the prior's counts.

    Without a prior the weights are rescaled (only their ratios matter); with
    one they count samples against the prior's pseudo-counts, so extreme
    scales are refused with a message about the weights, not the data.
    """
    top = float(np.max(weights))
    total = float(np.sum(weights))
    with np.errstate(over="ignore", invalid="ignore"):
        spread = float(np.max(X.max(axis=0).astype(np.float64) - X.min(axis=0)))
        scatter = total * max(spread * spread, 1.0)
    if not (math.isfinite(scatter) and scatter <= PRIOR_WEIGHTED_SCATTER_MAX):
        raise ValueError(
            f"{name}: with a prior, sample_weight counts samples against the "
            "prior's pseudo-counts, so its scale matters, and weights summing to "
            f"{total:.3g} make the weighted sums of squares of these data overflow "
            "float64. Give weights on the scale of sample counts (e.g. "
            "w * n_samples / w.sum()), or fit without a prior (then only their "
            "ratios matter)."
        )
    if top < PRIOR_WEIGHT_MIN:
        raise ValueError(
            f"{name}: with a prior, sample_weight counts samples against the "
            f"prior's pseudo-counts, so its scale matters, and weights of at most "
            f"{top:.3g} leave the fit nothing but the prior (and float64 no digits "
            "for the data). Give weights on the scale of sample counts (e.g. "
            "w * n_samples / w.sum()), or fit without a prior (then only their "
            "ratios matter)."
        )


_NOISE_ATTRIBUTES: Final = (
    "noise_weight_",
    "noise_log_density_",
    "noise_box_axes_",
    "noise_box_bounds_",
)


#: Constructor parameter names per estimator class (inspect.signature is slow).
_PARAM_NAMES: dict[type, tuple[str, ...]] = {}

#: Restarts run in worker processes only for arrays up to this size (they are
#: copied to the workers once per fit, by joblib's memory mapping) ...
PARALLEL_INIT_MAX_BYTES: Final = 256 * 2**20
#: ... and only when one E-step pass has at least this much work (rows times
#: statistics per row): below it, starting the processes costs more than it saves.
PARALLEL_INIT_MIN_WORK: Final = 2_000_000


def _parallel_inits(
    source: Any, n_init: int, max_iter: int, verbose: int, n_jobs: int | None
) -> int:
    """Number of processes for the ``n_init`` EM runs (1: in this process)."""
    if n_init < 2 or max_iter == 0 or verbose or not isinstance(source, ArraySource):
        return 1
    n_threads = resolve_n_threads(n_jobs)
    if n_threads < 2:
        return 1
    X = source.X
    if X.nbytes > PARALLEL_INIT_MAX_BYTES:
        return 1  # big data: the E-step's threads already use every core
    if X.shape[0] * X.shape[1] * X.shape[1] < PARALLEL_INIT_MIN_WORK:
        return 1
    return min(n_threads, n_init)


def _em_run(
    X: FloatArray,
    sample_weight: FloatArray | None,
    params: GMMParams,
    family: CovarianceFamily,
    em_options: dict[str, Any],
) -> EMResult:
    """One EM run in a worker process (single-threaded BLAS and chunks)."""
    with single_threaded_blas():
        return fit_em(
            ArraySource(X, sample_weight, n_threads=1), params, family, **em_options
        )


def _em_in_processes(
    source: ArraySource,
    starts: list[GMMParams],
    families: list[CovarianceFamily],
    em_options: dict[str, Any],
    workers: int,
) -> list[EMResult]:
    """EM from every start, in ``workers`` joblib (loky) processes, in order."""
    from joblib import Parallel, delayed

    return list(
        Parallel(n_jobs=workers, backend="loky")(
            delayed(_em_run)(source.X, source.sample_weight, p, f, em_options)
            for p, f in zip(starts, families, strict=True)
        )
    )


def _with_noise(params: GMMParams, noise_log_density: float | None) -> GMMParams:
    """``params`` with (or without) the noise component of the current fit.

    A mixture without noise gains one at :data:`NOISE_INIT_WEIGHT` (its weights
    scaled by ``1 - NOISE_INIT_WEIGHT``); one with noise keeps its proportion
    and takes ``noise_log_density``; None removes the noise and renormalises.
    """
    if noise_log_density is None:
        if not params.has_noise:
            return params
        weights = params.weights / params.weights.sum()
        noise_weight = 0.0
    elif params.has_noise:
        weights, noise_weight = params.weights, params.noise_weight
    else:
        weights = params.weights * (1.0 - NOISE_INIT_WEIGHT)
        noise_weight = NOISE_INIT_WEIGHT
    return GMMParams(
        weights=weights,
        means=params.means,
        covariances=params.covariances,
        precisions_cholesky=params.precisions_cholesky,
        noise_weight=noise_weight,
        noise_log_density=noise_log_density,
    )


def _log_max_resp(resp: FloatArray) -> FloatArray:
    """``log max_k resp_ik`` of every row (ICL's classification entropy term)."""
    best = resp.astype(np.float64).max(axis=1)
    return np.asarray(np.log(np.maximum(best, np.finfo(np.float64).tiny)))


_PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__))


def _outside_stacklevel() -> int:
    """``stacklevel`` of the first frame outside gaussmix, for the caller of warn."""
    frame = sys._getframe(1)  # the function that calls warnings.warn
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(
        _PACKAGE_DIR
    ):
        frame = frame.f_back
        level += 1
    return level


def _warn_repairs(repairs: list[tuple[int, Repair]]) -> None:
    """One DegenerateComponentWarning per (kind, component), with a count."""
    grouped: dict[tuple[str, int], list[tuple[int, Repair]]] = defaultdict(list)
    for it, r in repairs:
        grouped[(r.kind, r.component)].append((it, r))
    for items in grouped.values():
        first_iter, first = items[0]
        when = "at initialisation" if first_iter == 0 else f"at iteration {first_iter}"
        again = f" (and {len(items) - 1} more time(s))" if len(items) > 1 else ""
        warnings.warn(
            f"{first.detail} {when}{again}. {first.advice}.",
            DegenerateComponentWarning,
            stacklevel=_outside_stacklevel(),
        )
