"""The fit driver: from a data source and the estimator's options to a fitted model.

:func:`fit_mixture` is the one path of every ``fit``: it summarises the source,
checks the model against it, builds the starts (``init_params``, given arrays,
responsibilities, a noise component, mclust's prior), runs EM from ``n_init``
of them (in this process or in worker processes) or online EM over mini-batches,
keeps the best, and warns about repairs and convergence.
:func:`partial_fit_step` is one ``partial_fit`` update. Estimators call these;
they do not run EM themselves.

The layers below are :mod:`gaussmix.em` (the EM loops), :mod:`gaussmix.sources`
(where the statistics come from) and :mod:`gaussmix.core` (the numerics). The
result is a :class:`gaussmix.model.MixtureModel` with its :class:`FitInfo`.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
from sklearn.utils import check_random_state

from gaussmix._threads import single_threaded_blas
from gaussmix._typing import FloatArray
from gaussmix._validation import (
    AUTO,
    check_first_batch,
    check_init_arrays,
    check_model_size,
    check_n_features,
    check_resp_init,
    check_sample_weight,
    resolve_em_control,
    resolve_n_threads,
)
from gaussmix.core import kernels
from gaussmix.core.covariance import CovarianceFamily, get_family
from gaussmix.core.estep import e_step, stats_from_resp
from gaussmix.core.frozen import as_frozen, check_frozen_start
from gaussmix.core.init import initial_resp
from gaussmix.core.mstep import Repair, m_step, params_from_precisions
from gaussmix.core.noise import NoiseBox, hypervolume_box
from gaussmix.core.params import GMMParams
from gaussmix.core.prior import ConjugatePrior, resolve_prior
from gaussmix.core.stats import SuffStats, rescale_weights
from gaussmix.em import (
    EMResult,
    OnlineSettings,
    OnlineState,
    fit_em,
    fit_online,
    online_step,
)
from gaussmix.exceptions import ConvergenceWarning, DegenerateComponentWarning
from gaussmix.model import FitInfo, MixtureModel
from gaussmix.sources import (
    INIT_SAMPLE_SIZE,
    ArraySource,
    DataSource,
    DataSummary,
    as_source,
    is_dask_array,
)
from gaussmix.sources.base import online_batches_error
from gaussmix.sources.chunked import chunk_batches
from gaussmix.sources.missing import kpod_imputed, nan_e_step

__all__ = [
    "FIT_PROGRESS",
    "NOISE_INIT_WEIGHT",
    "FitOptions",
    "FitResult",
    "VerboseReporter",
    "array_source",
    "fit_mixture",
    "open_source",
    "partial_fit_step",
]

#: Initial proportion of the noise component when nothing else gives one (no
#: ``noise_init`` and no noise column in ``resp_init``): the Gaussians start from
#: ``init_params`` on all rows with their weights scaled by ``1 - 0.1``.
NOISE_INIT_WEIGHT: Final = 0.1

#: Called as ``callback(done, total)`` after each initialisation of a fit in this
#: context (the command-line tool draws a progress bar with it).
FIT_PROGRESS: ContextVar[Callable[[int, int], None] | None] = ContextVar(
    "gaussmix_fit_progress", default=None
)

#: Restarts run in worker processes only for arrays up to this size (they are
#: copied to the workers once per fit, by joblib's memory mapping) ...
PARALLEL_INIT_MAX_BYTES: Final = 256 * 2**20
#: ... and only when one E-step pass has at least this much work (rows times
#: statistics per row): below it, starting the processes costs more than it saves.
PARALLEL_INIT_MIN_WORK: Final = 2_000_000

#: With a prior, the weighted sums of squares must stay this far below float64's
#: largest number (about 1.8e308) ...
PRIOR_WEIGHTED_SCATTER_MAX: Final = 1e306
#: ... and the largest weight above this (weights near float64's subnormal range
#: leave the statistics no digits).
PRIOR_WEIGHT_MIN: Final = 1e-290

InitArrays = tuple[FloatArray | None, FloatArray | None, FloatArray | None]


# ------------------------------------------------------------------ options
@dataclass(frozen=True, slots=True)
class FitOptions:
    """What to fit and how: the estimator's parameters, already validated.

    The fields are the constructor parameters of
    :class:`gaussmix.GaussianMixture` of the same names, with ``"auto"``
    resolved; ``relative_tol`` says whether ``tol`` is mclust's relative rule
    (see :func:`gaussmix.em.fit_em`), and ``owner`` names the estimator in
    messages.
    """

    n_components: int = 1
    covariance_type: str = "full"
    tol: float = 1e-3
    reg_covar: float = 1e-6
    max_iter: int = 100
    n_init: int = 1
    init_params: str = "kmeans"
    weights_init: Any = None
    means_init: Any = None
    precisions_init: Any = None
    resp_init: Any = None
    equal_proportions: bool = False
    noise: Any = None
    noise_init: Any = None
    prior: Any = None
    random_state: Any = None
    batch_size: int | None = None
    learning_decay: float = 0.6
    learning_offset: float = 1.0
    verbose: int = 0
    verbose_interval: int = 10
    n_jobs: int | None = None
    frozen: frozenset[str] = frozenset()
    owner: str = "GaussianMixture"

    relative_tol: bool = False

    @classmethod
    def from_params(cls, params: dict[str, Any], owner: str) -> FitOptions:
        """The options of an estimator's ``get_params(deep=False)``.

        ``"auto"`` in ``tol``, ``reg_covar``, ``init_params`` and ``max_iter`` is
        resolved for the covariance type
        (:func:`gaussmix._validation.resolve_em_control`): scikit-learn's
        procedure for its names, mclust's for mclust's.
        """
        values = {k: v for k, v in params.items() if k in _OPTION_NAMES}
        control = resolve_em_control(
            values.get("covariance_type", "full"),
            values.get("tol", AUTO),
            values.get("reg_covar", AUTO),
            values.get("init_params", AUTO),
            values.get("max_iter", AUTO),
            online=values.get("batch_size") is not None,
            missing=params.get("nan_policy") == "marginalize",
        )
        values.update(
            tol=control.tol,
            reg_covar=control.reg_covar,
            init_params=control.init_params,
            max_iter=control.max_iter,
            relative_tol=control.relative,
        )
        if "frozen" in values:
            values["frozen"] = as_frozen(values["frozen"])
        return cls(owner=owner, **values)

    def online_settings(self, dtype: Any) -> OnlineSettings:
        """The settings of online EM on data of ``dtype``."""
        return OnlineSettings(
            learning_offset=self.learning_offset,
            learning_decay=self.learning_decay,
            reg_covar=self.reg_covar,
            dtype=dtype,
            equal_proportions=self.equal_proportions,
            frozen=self.frozen,
        )

    @property
    def has_noise(self) -> bool:
        """Whether a noise component is asked for."""
        return self.noise is not None and self.noise is not False


_OPTION_NAMES: Final = frozenset(f.name for f in fields(FitOptions)) - {
    "owner",
    "relative_tol",
}


@dataclass(frozen=True, slots=True)
class FitResult:
    """What a fit produced.

    Parameters
    ----------
    model : MixtureModel
        The fitted arrays.
    info : FitInfo
        Iterations, convergence and lower bounds of the kept run.
    prior : ConjugatePrior or None
        The prior resolved on the data (with ``prior``).
    online_state : OnlineState or None
        Running statistics of online EM, for later ``partial_fit`` calls.
    n_features : int
        Number of features of the data.
    """

    model: MixtureModel
    info: FitInfo
    prior: ConjugatePrior | None
    online_state: OnlineState | None
    n_features: int


# ------------------------------------------------------------------ sources
def array_source(
    X: FloatArray, weights: FloatArray | None, options: FitOptions
) -> ArraySource:
    """The source of a validated in-memory array and its validated weights.

    Without a prior, EM depends on the weights only up to scale, so extreme
    ones (all ``1e300``, all ``5e-324``) are brought near 1 exactly (a power of
    two); with a prior they count samples against its pseudo-counts and extreme
    scales are refused.
    """
    if options.prior is None:
        weights = rescale_weights(weights)
    elif weights is not None:
        _check_prior_weights(X, weights, options.owner)
    return ArraySource(X, weights, n_threads=resolve_n_threads(options.n_jobs))


def open_source(X: Any, sample_weight: Any, options: FitOptions) -> DataSource:
    """The source of data read pass by pass (a ``.npy`` path, memmap, factory, dask)."""
    name = options.owner
    for param in ("resp_init", "noise_init"):
        if getattr(options, param) is not None:
            raise ValueError(
                f"{name}: {param} gives the start of a fit on in-memory rows and "
                "cannot be used with out-of-core data (a .npy path, memmap, chunk "
                "factory or dask array). Use init_params, or weights_init, "
                "means_init and precisions_init."
            )
    if options.has_noise:
        raise ValueError(
            f"{name}: a noise component is not supported with out-of-core data "
            "(its hypervolume needs the data's principal axes). Fit an in-memory "
            "array, or set noise=None."
        )
    if options.prior is None:
        sample_weight = _rescaled_source_weights(sample_weight)
    return as_source(X, sample_weight, resolve_n_threads(options.n_jobs), name)


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
    advice = (
        "Give weights on the scale of sample counts (e.g. w * n_samples / "
        "w.sum()), or fit without a prior (then only their ratios matter)."
    )
    if not (math.isfinite(scatter) and scatter <= PRIOR_WEIGHTED_SCATTER_MAX):
        raise ValueError(
            f"{name}: with a prior, sample_weight counts samples against the "
            "prior's pseudo-counts, so its scale matters, and weights summing to "
            f"{total:.3g} make the weighted sums of squares of these data overflow "
            f"float64. {advice}"
        )
    if top < PRIOR_WEIGHT_MIN:
        raise ValueError(
            f"{name}: with a prior, sample_weight counts samples against the "
            f"prior's pseudo-counts, so its scale matters, and weights of at most "
            f"{top:.3g} leave the fit nothing but the prior (and float64 no digits "
            f"for the data). {advice}"
        )


# --------------------------------------------------------------- the driver
@dataclass(frozen=True, slots=True)
class WarmStart:
    """A fitted model to continue from (``warm_start=True``).

    ``model`` is the previous fit, and ``lower_bound`` its last lower bound, from
    which EM measures its first change.
    """

    model: MixtureModel
    lower_bound: float


def fit_mixture(
    source: DataSource, options: FitOptions, warm: WarmStart | None = None
) -> FitResult:
    """Fit a Gaussian mixture to the data of ``source``.

    Parameters
    ----------
    source : DataSource
        The data (:func:`array_source` or :func:`open_source`).
    options : FitOptions
        The estimator's parameters.
    warm : WarmStart, default=None
        Continue from this fit instead of ``n_init`` new starts.

    Returns
    -------
    FitResult
    """
    name = options.owner
    family = get_family(options.covariance_type)
    random_state = check_random_state(options.random_state)
    summary = summarize_source(source, family, options.n_components, random_state, name)
    n_features = summary.n_features
    if warm is not None:
        check_n_features(n_features, warm.model.n_features, name)
    n_threads = resolve_n_threads(options.n_jobs)
    if options.batch_size is not None:
        check_online_options(options)
        return _fit_online(source, summary, options, random_state, n_threads, warm)
    init_arrays = _init_arrays(options, family, n_features)
    _check_frozen(options, init_arrays, warm is not None)
    noise_box = _noise_box(summary.sample, summary.sample_weight, options)
    noise_log_density = None if noise_box is None else -noise_box.log_volume
    if options.resp_init is not None:
        resp_columns = options.n_components
        if (
            noise_box is not None
            and np.ndim(options.resp_init) == 2
            and np.shape(options.resp_init)[1] == options.n_components + 1
        ):
            resp_columns += 1  # the last column: the noise
        check_resp_init(
            options.resp_init, summary.n_samples, resp_columns, init_arrays, name
        )
    noise_mask = _noise_mask(
        summary.n_samples, summary.sample_weight, init_arrays, noise_box, options
    )
    prior = _resolve_prior(options, source, summary)

    # Reservoir sources: the initialisation runs on the sample (documented).
    start = _Start(
        summary.sample,
        summary.sample_weight,
        random_state,
        init_arrays,
        n_threads,
        options,
        noise_log_density,
        noise_mask,
        prior,
    )

    with single_threaded_blas():
        best = _best_of_inits(
            source,
            start,
            family,
            summary.dtype,
            prior,
            noise_log_density,
            options,
            warm,
        )
    model = MixtureModel.from_params(
        best.params, options.covariance_type, summary.dtype, noise_box
    )
    return FitResult(model, _info(best), prior, None, n_features)


def summarize_source(
    source: DataSource,
    family: CovarianceFamily,
    n_components: int,
    random_state: np.random.RandomState,
    name: str,
) -> DataSummary:
    """The summary of ``source``, refusing a model too large for memory or the data.

    Parameters
    ----------
    source : DataSource
        The data.
    family : CovarianceFamily
        The covariance family of the model.
    n_components : int
        The number of components.
    random_state : RandomState
        Draws the summary's sample.
    name : str
        The estimator, for the messages.

    Returns
    -------
    DataSummary
    """
    with single_threaded_blas():
        summary = source.summarize(INIT_SAMPLE_SIZE, random_state)
    check_model_size(family, n_components, summary.n_features, name)
    if summary.n_samples < n_components:
        raise ValueError(
            f"{name}: n_components={n_components} needs at least "
            f"{n_components} samples, got n_samples = {summary.n_samples}. "
            "Reduce n_components or provide more data."
        )
    return summary


def _info(result: EMResult) -> FitInfo:
    return FitInfo(
        converged=bool(result.converged),
        n_iter=int(result.n_iter),
        lower_bound=float(result.lower_bound),
        lower_bounds=[float(v) for v in result.lower_bounds],
    )


def _resolve_prior(
    options: FitOptions, source: DataSource, summary: Any
) -> ConjugatePrior | None:
    """The prior of mclust on the data: from the array itself, or from exact moments."""
    if options.prior is None:
        return None
    if isinstance(source, ArraySource):
        return resolve_prior(
            options.prior,
            summary.sample,
            summary.sample_weight,
            options.n_components,
            options.covariance_type,
            options.owner,
        )
    return resolve_prior(
        options.prior,
        summary.sample,
        None,
        options.n_components,
        options.covariance_type,
        options.owner,
        moments=(summary.weight, summary.mean, summary.covariance),
    )


def _init_arrays(
    options: FitOptions, family: CovarianceFamily, n_features: int
) -> InitArrays:
    """The validated ``weights_init``, ``means_init`` and ``precisions_init``."""
    return check_init_arrays(
        options.weights_init,
        options.means_init,
        options.precisions_init,
        family,
        options.n_components,
        n_features,
        options.owner,
    )


def _check_frozen(options: FitOptions, init_arrays: InitArrays, warm: bool) -> None:
    """Refuse frozen parameters without initial values (:mod:`gaussmix.core.frozen`)."""
    if options.frozen:
        check_frozen_start(
            options.frozen,
            means_given=warm or init_arrays[1] is not None,
            covariances_given=warm or init_arrays[2] is not None,
            equal_proportions=options.equal_proportions,
            owner=options.owner,
        )


def _best_of_inits(
    source: DataSource,
    start: Callable[[CovarianceFamily], tuple[GMMParams, list[Repair]]],
    family: CovarianceFamily,
    dtype: np.dtype[Any],
    prior: ConjugatePrior | None,
    noise_log_density: float | None,
    options: FitOptions,
    warm: WarmStart | None,
) -> EMResult:
    """Run EM from ``n_init`` starts (or the warm start); keep the best.

    With several starts, spare cores and an in-memory array of moderate size,
    the EM runs go to worker processes (:func:`_parallel_inits`). The starts
    are drawn first, in order, in this process, and EM draws no random numbers,
    so the result is the serial one, bit for bit. Each start gets its own
    family object (mclust's families keep warm-start state between M-steps),
    used for its first M-step and its EM run.
    """
    n_init = options.n_init if warm is None else 1
    reporter = VerboseReporter(options.verbose, options.verbose_interval)
    em_options: dict[str, Any] = {
        "tol": options.tol,
        "relative_tol": options.relative_tol,
        "max_iter": options.max_iter,
        "reg_covar": options.reg_covar,
        "dtype": dtype,
        "equal_proportions": options.equal_proportions,
        "prior": prior,
        "frozen": options.frozen,
    }
    workers = _parallel_inits(source, n_init, options)
    results: list[EMResult] = []
    progress = FIT_PROGRESS.get()
    if workers > 1:
        assert isinstance(source, ArraySource)
        families = [get_family(options.covariance_type) for _ in range(n_init)]
        starts = [start(f) for f in families]
        results = _em_in_processes(
            source, [p for p, _ in starts], families, em_options, workers
        )
        for init, ((_, init_repairs), result) in enumerate(
            zip(starts, results, strict=True)
        ):
            result.repairs[:0] = [(0, r) for r in init_repairs]
            if progress is not None:
                progress(init + 1, n_init)
    else:
        for init in range(n_init):
            reporter.init_begin(init)
            if warm is None:
                if init > 0:
                    family = get_family(options.covariance_type)
                params, init_repairs = start(family)
                lower_bound = -math.inf
            else:
                params = _with_noise(warm.model.params(), noise_log_density)
                init_repairs = []
                lower_bound = warm.lower_bound
            if options.max_iter == 0:
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
    warn_repairs(best.repairs)
    if not best.converged and options.max_iter > 0:
        warn_not_converged()
    return best


def _parallel_inits(source: DataSource, n_init: int, options: FitOptions) -> int:
    """Number of processes for the ``n_init`` EM runs (1: in this process)."""
    if (
        n_init < 2
        or options.max_iter == 0
        or options.verbose
        or not isinstance(source, ArraySource)
    ):
        return 1
    n_threads = resolve_n_threads(options.n_jobs)
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
    compiled: bool = False,
) -> EMResult:
    """One EM run in a worker process (single-threaded BLAS and chunks).

    ``compiled``: the parent runs the compiled kernels, so the worker loads them
    too (the same path, hence the same numbers, as a serial run).
    """
    if compiled:
        kernels.load()
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
            delayed(_em_run)(
                source.X, source.sample_weight, p, f, em_options, kernels.loaded()
            )
            for p, f in zip(starts, families, strict=True)
        )
    )


# --------------------------------------------------------------- the starts
@dataclass(frozen=True, slots=True)
class _Start:
    """What every start of one fit draws on; calling it with a family starts one.

    ``X`` and ``weights`` are the rows the start is made from (the data, a
    reservoir sample or a mini-batch), ``random_state`` the fit's generator,
    ``init_arrays`` the validated ``weights_init``/``means_init``/
    ``precisions_init``; the noise and prior fields are those of the fit.
    """

    X: FloatArray
    weights: FloatArray | None
    random_state: np.random.RandomState
    init_arrays: InitArrays
    n_threads: int
    options: FitOptions
    noise_log_density: float | None = None
    noise_mask: npt.NDArray[np.bool_] | None = None
    prior: ConjugatePrior | None = None

    def __call__(self, family: CovarianceFamily) -> tuple[GMMParams, list[Repair]]:
        """Initial parameters, with the noise component of the fit when it has one."""
        params, repairs = _initial_gaussians(self, family)
        if self.noise_log_density is not None and not params.has_noise:
            params = _with_noise(params, self.noise_log_density)
        return params, repairs


def start_stats(
    X: FloatArray,
    resp: Any,
    family: CovarianceFamily,
    n_components: int,
    weights: FloatArray | None,
    n_threads: int,
    noise_log_density: float | None = None,
) -> SuffStats:
    """Statistics of a start's responsibilities, centred on the weighted mean of ``X``.

    What the first M-step of every start reads (:func:`stats_from_resp`; ``resp``
    an array or ``resp(start, stop)``, with a last noise column when
    ``noise_log_density`` is given).
    """
    shift = np.average(X, axis=0, weights=weights).astype(np.float64)
    return stats_from_resp(
        X,
        resp,
        family,
        n_components,
        shift,
        weights,
        n_threads=n_threads,
        noise_log_density=noise_log_density,
    )


def _initial_gaussians(
    start: _Start, family: CovarianceFamily
) -> tuple[GMMParams, list[Repair]]:
    """Initial parameters; with noise, from a noise column when one is given.

    The first M-step uses the prior, as mclust's ``me`` does.
    """
    X, weights, random_state = start.X, start.weights, start.random_state
    n_threads, options, prior = start.n_threads, start.options, start.prior
    noise_log_density, noise_mask = start.noise_log_density, start.noise_mask
    weights_init, means_init, precisions_init = start.init_arrays
    n_components = options.n_components

    def first_m_step(resp: Any, n_threads: int, noise: float | None) -> Any:
        stats = start_stats(X, resp, family, n_components, weights, n_threads, noise)
        return m_step(
            stats,
            family,
            options.reg_covar,
            dtype=X.dtype,
            equal_proportions=options.equal_proportions,
            prior=prior,
            previous=None,  # an iterative family's documented start
        )

    if options.resp_init is not None or noise_mask is not None:
        # mclust's me(z=...): the fit starts with an M-step from these
        # responsibilities; with noise_init, the noise rows form the last column
        # and init_params labels the others.
        resp0: FloatArray
        if options.resp_init is not None:
            resp0 = np.asarray(options.resp_init, dtype=np.float64)
        else:
            assert noise_mask is not None
            resp0 = _noise_init_resp(X, weights, noise_mask, random_state, options)
        with_noise = resp0.shape[1] == n_components + 1
        return first_m_step(  # type: ignore[no-any-return]
            resp0, n_threads, noise_log_density if with_noise else None
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
        X, n_components, options.init_params, random_state, weights
    )
    params, repairs = first_m_step(resp, 1 if sequential else n_threads, None)
    if weights_init is None and means_init is None and precisions_init is None:
        return params, repairs
    if precisions_init is not None:
        given = params_from_precisions(
            params.weights, params.means, precisions_init, family
        )
        covariances, precisions_cholesky = given.covariances, given.precisions_cholesky
    else:
        covariances, precisions_cholesky = (
            params.covariances,
            params.precisions_cholesky,
        )
    params = replace(
        params,
        weights=params.weights if weights_init is None else weights_init,
        means=params.means if means_init is None else means_init,
        covariances=covariances,
        precisions_cholesky=precisions_cholesky,
    )
    return params, repairs


def _noise_init_resp(
    X: FloatArray,
    weights: FloatArray | None,
    noise_mask: npt.NDArray[np.bool_],
    random_state: np.random.RandomState,
    options: FitOptions,
) -> FloatArray:
    """``(n_samples, n_components + 1)`` start: init_params off the noise rows."""
    n_components = options.n_components
    keep = np.flatnonzero(~noise_mask)
    resp_fn, _ = initial_resp(
        X[keep],
        n_components,
        options.init_params,
        random_state,
        None if weights is None else weights[keep],
    )
    resp = np.zeros((X.shape[0], n_components + 1))
    resp[keep, :n_components] = resp_fn(0, keep.size)
    resp[noise_mask, n_components] = 1.0
    return resp


def _noise_box(
    X: FloatArray, weights: FloatArray | None, options: FitOptions
) -> NoiseBox | None:
    """The noise component's box (volume V), or None without noise."""
    noise = options.noise
    if not options.has_noise:
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
            f"{options.owner}: noise must be None, True or a positive hypervolume V "
            f"(a finite number > 0); got {noise!r}. True takes V from the data as "
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
    n_samples: int,
    weights: FloatArray | None,
    init_arrays: InitArrays,
    noise_box: NoiseBox | None,
    options: FitOptions,
) -> npt.NDArray[np.bool_] | None:
    """``noise_init`` validated as a boolean mask (None when not given)."""
    name = options.owner
    if options.noise_init is None:
        return None
    if noise_box is None:
        raise ValueError(
            f"{name}: noise_init gives the rows that start as noise, but there "
            "is no noise component; set noise=True (or noise=V)."
        )
    if options.resp_init is not None or any(a is not None for a in init_arrays):
        raise ValueError(
            f"{name}: give either noise_init or resp_init/weights_init/"
            "means_init/precisions_init, not both (a resp_init with "
            "n_components + 1 columns carries the noise column itself)."
        )
    mask = np.asarray(options.noise_init)
    if mask.dtype != np.bool_ or mask.shape != (n_samples,):
        raise ValueError(
            f"{name}: noise_init must be a boolean array with one value per row "
            f"of X, shape ({n_samples},); got dtype {mask.dtype} and shape "
            f"{mask.shape}."
        )
    live = np.ones(n_samples, dtype=bool) if weights is None else weights > 0
    n_noise = int(np.count_nonzero(mask & live))
    n_other = int(np.count_nonzero(~mask & live))
    if n_noise < 1 or n_other < options.n_components:
        raise ValueError(
            f"{name}: noise_init marks {n_noise} row(s) (with positive weight) as "
            f"noise and leaves {n_other}; it needs at least 1 noise row and "
            f"n_components = {options.n_components} other rows."
        )
    return mask


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
    return replace(
        params,
        weights=weights,
        noise_weight=noise_weight,
        noise_log_density=noise_log_density,
    )


# ---------------------------------------------------------------- online EM
def check_online_options(options: FitOptions) -> None:
    """Refuse what online EM (``batch_size``, ``partial_fit``) does not support."""
    name = options.owner
    for param in ("resp_init", "noise_init", "prior"):
        if getattr(options, param) is not None:
            raise ValueError(
                f"{name}: {param} is not supported by online EM (batch_size or "
                "partial_fit). Fit by batch EM (batch_size=None) instead."
            )
    if options.has_noise:
        raise ValueError(
            f"{name}: a noise component is not supported by online EM "
            "(batch_size or partial_fit). Fit by batch EM (batch_size=None)."
        )


def _fit_online(
    source: DataSource,
    summary: Any,
    options: FitOptions,
    random_state: np.random.RandomState,
    n_threads: int,
    warm: WarmStart | None,
) -> FitResult:
    """``fit`` with ``batch_size``: epochs of online EM over the source's batches."""
    family = get_family(options.covariance_type)
    init_arrays = _init_arrays(options, family, summary.n_features)
    _check_frozen(options, init_arrays, warm is not None)
    assert options.batch_size is not None
    batch_size = int(options.batch_size)
    # A source without online batches (a dask array) refuses before the start.
    first = _epoch_batches(source, batch_size, random_state, options.owner)

    def batches(epoch: int) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        if epoch == 1:
            return first
        return _epoch_batches(source, batch_size, random_state, options.owner)

    with single_threaded_blas():
        if warm is not None:
            params = warm.model.params()
        else:
            params = _online_start(
                summary.sample,
                summary.sample_weight,
                family,
                random_state,
                init_arrays,
                n_threads,
                options,
            )
        reporter = VerboseReporter(options.verbose, options.verbose_interval)
        reporter.init_begin(0)
        result, state = fit_online(
            batches,
            params,
            family,
            options.online_settings(summary.dtype),
            tol=options.tol,
            relative_tol=options.relative_tol,
            max_iter=options.max_iter,
            n_threads=n_threads,
            callback=reporter.iteration,
            batch_stats=getattr(source, "batch_stats", None),
        )
        reporter.init_end(result.lower_bound, result.converged)
    warn_repairs(result.repairs)
    if not result.converged and options.max_iter > 0:
        warnings.warn(
            f"Online EM did not converge in max_iter={options.max_iter} epochs. "
            "Increase max_iter or tol, or the batch_size.",
            ConvergenceWarning,
            stacklevel=outside_stacklevel(),
        )
    model = MixtureModel.from_params(
        result.params, options.covariance_type, summary.dtype
    )
    return FitResult(model, _info(result), None, state, summary.n_features)


def _epoch_batches(
    source: DataSource, batch_size: int, random_state: Any, owner: str
) -> Iterator[tuple[FloatArray, FloatArray | None]]:
    """One epoch of mini-batches; sources of other libraries may lack ``batches``.

    Such a source with ``chunks()`` has its chunks cut in order, as before the
    protocol had ``batches``; without either, online EM is refused.
    """
    batches = getattr(source, "batches", None)
    if batches is not None:
        return cast(
            "Iterator[tuple[FloatArray, FloatArray | None]]",
            batches(batch_size, random_state),
        )
    chunks = getattr(source, "chunks", None)
    if chunks is None:
        raise online_batches_error(owner)
    return chunk_batches(chunks(), batch_size)


def online_start_sample(
    X: FloatArray, weights: FloatArray | None, random_state: np.random.RandomState
) -> tuple[FloatArray, FloatArray | None]:
    """The rows an online fit starts from: at most ``INIT_SAMPLE_SIZE``, drawn in order.

    ``X`` itself when it is no larger; otherwise rows drawn without replacement
    from ``random_state`` and kept in their order.
    """
    n_samples = X.shape[0]
    if n_samples > INIT_SAMPLE_SIZE:
        rows = np.sort(random_state.choice(n_samples, INIT_SAMPLE_SIZE, False))
        X = X[rows]
        weights = None if weights is None else weights[rows]
    return X, weights


def _online_start(
    X: FloatArray,
    weights: FloatArray | None,
    family: CovarianceFamily,
    random_state: np.random.RandomState,
    init_arrays: InitArrays,
    n_threads: int,
    options: FitOptions,
) -> GMMParams:
    """Start of online EM: ``init_params`` on a random sample of the data."""
    X, weights = online_start_sample(X, weights, random_state)
    start = _Start(X, weights, random_state, init_arrays, n_threads, options)
    params, repairs = start(family)
    warn_repairs([(0, r) for r in repairs])
    return params


def partial_fit_step(
    X: FloatArray,
    sample_weight: Any,
    options: FitOptions,
    previous: tuple[MixtureModel, OnlineState | None, list[float]] | None,
    missing: bool = False,
) -> FitResult | None:
    """One ``partial_fit`` update: stepwise EM on the mini-batch ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The validated batch.
    sample_weight : array-like or None
        Its weights (validated here).
    options : FitOptions
        The estimator's parameters.
    previous : (model, state, lower bounds) or None
        The model so far, its running statistics and lower-bound history; None
        before the first batch, which initialises the model from ``init_params``.
    missing : bool, default=False
        NaN in ``X`` are missing values (``nan_policy="marginalize"``): the
        batch's statistics are those of the marginalising E-step, and a first
        batch initialises on its k-POD completion. A batch without NaN is
        processed as without ``missing``.

    Returns
    -------
    FitResult or None
        None when the batch has no weight (nothing to learn).
    """
    name = options.owner
    check_online_options(options)
    family = get_family(options.covariance_type)
    n_samples, n_features = X.shape
    if previous is None:
        check_model_size(family, options.n_components, n_features, name)
    weights = rescale_weights(check_sample_weight(sample_weight, n_samples, None, name))
    n_threads = resolve_n_threads(options.n_jobs)
    has_nan = missing and bool(np.isnan(X).any())
    with single_threaded_blas():
        if previous is not None:
            model, state, history = previous
            params = model.params()
            history = list(history)
        else:
            check_first_batch(n_samples, options.n_components, name)
            init_arrays = _init_arrays(options, family, n_features)
            _check_frozen(options, init_arrays, False)
            random_state = check_random_state(options.random_state)
            X_start = kpod_imputed(X, weights, options.n_components) if has_nan else X
            start = _Start(
                X_start, weights, random_state, init_arrays, n_threads, options
            )
            params, repairs = start(family)
            warn_repairs([(0, r) for r in repairs])
            state, history = None, []
        if has_nan:
            batch = nan_e_step(X, params, family, weights, n_threads)
        else:
            batch = e_step(X, params, family, weights, n_threads=n_threads)
        if batch.weight <= 0:
            return None  # nothing to learn from an all-zero-weight batch
        settings = options.online_settings(X.dtype)
        state, params, repairs = online_step(
            state, batch, family, settings, previous=params
        )
    warn_repairs([(state.n_steps, r) for r in repairs])
    lower_bound = batch.loglik / batch.weight
    history.append(lower_bound)
    model = MixtureModel.from_params(params, options.covariance_type, X.dtype)
    info = FitInfo(False, state.n_steps, lower_bound, history)
    return FitResult(model, info, None, state, n_features)


# ---------------------------------------------------------- what users see
class VerboseReporter:
    """Progress messages in scikit-learn's format (``verbose`` asks for them)."""

    def __init__(self, verbose: int, interval: int) -> None:
        self.verbose = int(verbose)
        self.interval = interval
        self.t_init = self.t_iter = 0.0

    def init_begin(self, n: int) -> None:
        """Announce initialisation ``n``."""
        if self.verbose >= 1:
            print(f"Initialization {n}")
            self.t_init = self.t_iter = time.time()

    def iteration(self, n_iter: int, lower_bound: float, change: float) -> None:
        """Report iteration ``n_iter`` (every ``interval``-th) and its change."""
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
        """Report how the initialisation ended, with its bound."""
        status = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {status}.")
        elif self.verbose >= 2:
            lapse = time.time() - self.t_init
            print(
                f"Initialization {status}. time lapse {lapse:.5f}s\t "
                f"lower bound {lower_bound:.5f}."
            )


_PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__))


def outside_stacklevel() -> int:
    """``stacklevel`` of the first frame outside gaussmix, for the caller of warn."""
    here = inspect.currentframe()
    frame = here.f_back if here is not None else None  # the caller of warnings.warn
    if frame is None:  # an interpreter without frame objects
        return 2
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(
        _PACKAGE_DIR
    ):
        frame = frame.f_back
        level += 1
    return level


def warn_not_converged() -> None:
    """The ConvergenceWarning of a fit whose best start did not converge."""
    warnings.warn(
        "Best performing initialization did not converge. Try different "
        "init parameters, or increase max_iter, tol, or check for "
        "degenerate data.",
        ConvergenceWarning,
        stacklevel=outside_stacklevel(),
    )


def warn_repairs(repairs: list[tuple[int, Repair]]) -> None:
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
            stacklevel=outside_stacklevel(),
        )
