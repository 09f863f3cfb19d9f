"""Missing values for :class:`gaussmix.GaussianMixture` (its ``nan_policy``).

``nan_policy="marginalize"`` fits by exact EM for data missing at random
(Ghahramani and Jordan 1994; the numerics are :mod:`gaussmix.core.missing`, the
statistics come from :class:`gaussmix.sources.missing.MissingSource`) and
predicts from each row's observed features; ``nan_policy="omit"`` drops the
rows with NaN at fit, with a warning that counts them. This module is the
estimator's side of both: validation, the fit's source, predictions and
imputation. docs/missing-values.md describes the method and its limits.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from gaussmix._threads import single_threaded_blas
from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import (
    check_dask_input,
    check_random_state_value,
    check_sample_weight,
    check_X,
    is_count,
    resolve_n_threads,
)
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.missing import group_patterns, impute_draws, impute_mean
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import rescale_weights
from gaussmix.fitting import FitOptions, array_source, open_source, outside_stacklevel
from gaussmix.sources import ChunkedSource, DataSource, is_dask_array, is_out_of_core
from gaussmix.sources.missing import MissingSource, log_prob_resp_with_nan
from gaussmix.sources.missing_blocks import MissingChunkedSource

__all__ = [
    "PreparedFit",
    "dask_predicted",
    "impute",
    "partial_fit_rows",
    "predicted_with_nan",
    "prepare_fit",
    "prepare_out_of_core",
    "unsupported_error",
]

LabelsFn = Callable[[GMMParams, CovarianceFamily], IntArray]


@dataclass(frozen=True, slots=True)
class PreparedFit:
    """The source of a fit under a ``nan_policy``, and how to label its rows.

    Parameters
    ----------
    source : DataSource
        What EM reads (an :class:`~gaussmix.sources.ArraySource` when no NaN
        is left, else a :class:`~gaussmix.sources.missing.MissingSource`).
    options : FitOptions
        The fit's options (``resp_init`` and ``noise_init`` cut to the kept rows).
    labels : callable
        ``labels(params, family)``: the label of every row of the given ``X``
        (``fit_predict``).
    """

    source: DataSource
    options: FitOptions
    labels: LabelsFn


def unsupported_error(owner: str, policy: str, what: str) -> ValueError:
    """The error of a way of fitting that a ``nan_policy`` does not support."""
    return ValueError(
        f"{owner}: nan_policy={policy!r} is supported for arrays, .npy paths, "
        f"memmaps, chunk factories and dask arrays, not for {what}. Pass the data "
        "in one of those forms, or remove the NaN values first and use "
        "nan_policy='raise'."
    )


def _omit_rows(options: FitOptions, keep: np.ndarray, n_samples: int) -> FitOptions:
    """``resp_init`` and ``noise_init`` of the kept rows (those given per row)."""
    changes: dict[str, Any] = {}
    for name in ("resp_init", "noise_init"):
        value = getattr(options, name)
        if value is not None and np.shape(value)[:1] == (n_samples,):
            changes[name] = np.asarray(value)[keep]
    return replace(options, **changes) if changes else options


def prepare_fit(
    estimator: Any, X: Any, sample_weight: Any, options: FitOptions, policy: str
) -> PreparedFit:
    """Validate ``X`` (NaN allowed) and build the source of a fit under ``policy``.

    Without NaN in ``X`` the source is the one of ``nan_policy="raise"``, so the
    fit is the same. ``"omit"`` drops the rows with NaN (warning with their
    count); ``"marginalize"`` drops rows with every value missing (they carry
    no information about the parameters; warning with their count) and fits
    the others by EM with missing values.

    Raises
    ------
    ValueError
        For infinity, a feature never observed, too few rows left, or options
        the policy does not support (a noise component or ``batch_size`` with
        ``"marginalize"``).
    """
    name = options.owner
    X = check_X(estimator, X, reset=True, allow_nan=True)
    n_samples = X.shape[0]
    n_components = options.n_components
    weights = check_sample_weight(sample_weight, n_samples, n_components, name)
    nan_rows = np.isnan(X).any(axis=1)
    n_nan = int(np.count_nonzero(nan_rows))
    if n_nan == 0:
        source = array_source(X, weights, options)
        return PreparedFit(source, options, source.labels)
    if policy == "omit":
        keep = ~nan_rows
        _check_rows_left(int(np.count_nonzero(keep)), n_components, name, "without NaN")
        warnings.warn(
            f"{name}: nan_policy='omit' left out {n_nan} of {n_samples} rows of X "
            "that contain NaN; they get the label -1 from fit_predict.",
            UserWarning,
            stacklevel=outside_stacklevel(),
        )
        X_kept = np.ascontiguousarray(X[keep])
        w_kept = None if weights is None else weights[keep]
        options = _omit_rows(options, keep, n_samples)
        source = array_source(X_kept, w_kept, options)

        def omit_labels(params: GMMParams, family: CovarianceFamily) -> IntArray:
            labels = np.full(n_samples, -1, dtype=np.intp)
            labels[keep] = source.labels(params, family)
            return labels

        return PreparedFit(source, options, omit_labels)
    if options.has_noise:
        raise ValueError(
            f"{name}: nan_policy='marginalize' does not support a noise component "
            "(its uniform density has no marginal over the observed features). Set "
            "noise=None, or nan_policy='omit'."
        )
    patterns = group_patterns(X)
    empty = patterns.empty
    if empty.size:
        _check_rows_left(n_samples - empty.size, n_components, name, "with a value")
        warnings.warn(
            f"{name}: {empty.size} of {n_samples} rows of X have every value missing "
            "(NaN); they carry no information about the parameters and were left "
            "out of the fit.",
            UserWarning,
            stacklevel=outside_stacklevel(),
        )
        keep = np.ones(n_samples, dtype=bool)
        keep[empty] = False
        options = _omit_rows(options, keep, n_samples)
        fit_X = np.ascontiguousarray(X[keep])
        fit_w = None if weights is None else weights[keep]
        fit_patterns = group_patterns(fit_X)
    else:
        fit_X, fit_w, fit_patterns = X, weights, patterns
    if fit_w is not None and options.prior is None:
        fit_w = rescale_weights(fit_w)
    n_threads = resolve_n_threads(options.n_jobs)
    try:
        missing_source = MissingSource(
            fit_X, fit_patterns, fit_w, n_threads, n_components
        )
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None

    def labels(params: GMMParams, family: CovarianceFamily) -> IntArray:
        with single_threaded_blas():
            return log_prob_resp_with_nan(X, patterns, params, family, n_threads)[2]

    return PreparedFit(missing_source, options, labels)


def _warn_user(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=outside_stacklevel())


def prepare_out_of_core(
    X: Any, sample_weight: Any, options: FitOptions, policy: str
) -> PreparedFit:
    """The source of an out-of-core fit under ``policy``.

    A ``.npy`` path, memmap or chunk factory is read by
    :class:`~gaussmix.sources.missing_blocks.MissingChunkedSource`, a dask
    array by :class:`~gaussmix.sources.dask.MissingDaskSource`: both leave
    rows out block by block (warning with their count after the first pass)
    and sum the statistics of the marginalising E-step over the blocks.

    Raises
    ------
    ValueError
        For a noise component with ``"marginalize"``, or a data source object
        of another kind (it has its own ``accumulate``).
    """
    name = options.owner
    if policy == "marginalize" and options.has_noise:
        raise ValueError(
            f"{name}: nan_policy='marginalize' does not support a noise component "
            "(its uniform density has no marginal over the observed features). Set "
            "noise=None, or nan_policy='omit'."
        )
    source = open_source(X, sample_weight, options)
    wrapped: DataSource
    if isinstance(source, ChunkedSource):
        wrapped = MissingChunkedSource(source, policy, options.n_components, _warn_user)
    elif is_dask_array(X):
        from gaussmix.sources.dask import DaskSource, MissingDaskSource

        assert isinstance(source, DaskSource)
        wrapped = MissingDaskSource(source, policy, options.n_components, _warn_user)
    else:
        raise unsupported_error(name, policy, f"a data source ({type(X).__name__})")
    return PreparedFit(wrapped, options, wrapped.labels)


def partial_fit_rows(
    estimator: Any, X: Any, sample_weight: Any, name: str, *, reset: bool
) -> tuple[Any, Any]:
    """The rows of a ``partial_fit`` batch under the estimator's ``nan_policy``.

    A batch without NaN is returned as given. ``"omit"`` drops the rows with
    NaN (warning with their count); ``"marginalize"`` keeps them (the update
    uses the marginalising E-step) and drops only rows with nothing observed
    (warning with their count).
    """
    if is_out_of_core(X):
        return X, sample_weight
    Xv = check_X(estimator, X, reset=reset, min_samples=1, allow_nan=True)
    nan_rows = np.isnan(Xv).any(axis=1)
    n_nan = int(np.count_nonzero(nan_rows))
    if n_nan == 0:
        return Xv, sample_weight
    policy = estimator.nan_policy
    weights = check_sample_weight(sample_weight, Xv.shape[0], None, name)
    if policy == "marginalize":
        keep = ~np.isnan(Xv).all(axis=1)
        n_empty = int(np.count_nonzero(~keep))
        if n_empty == 0:
            return Xv, weights
        if n_empty == Xv.shape[0]:
            raise ValueError(f"{name}: every row of the batch has every value NaN.")
        warnings.warn(
            f"{name}: {n_empty} of {Xv.shape[0]} rows of the batch have every value "
            "missing (NaN); they carry no information and were left out.",
            UserWarning,
            stacklevel=outside_stacklevel(),
        )
        return np.ascontiguousarray(Xv[keep]), None if weights is None else weights[
            keep
        ]
    warnings.warn(
        f"{name}: nan_policy='omit' left out {n_nan} of {Xv.shape[0]} rows of the "
        "batch that contain NaN.",
        UserWarning,
        stacklevel=outside_stacklevel(),
    )
    keep = ~nan_rows
    if not keep.any():
        raise ValueError(f"{name}: every row of the batch contains NaN.")
    return np.ascontiguousarray(Xv[keep]), None if weights is None else weights[keep]


def _check_rows_left(n_left: int, n_components: int, name: str, what: str) -> None:
    if n_left < max(n_components, 1):
        raise ValueError(
            f"{name}: n_components={n_components} needs at least {n_components} "
            f"rows {what}, got {n_left}. Provide more data or reduce n_components."
        )


def _prediction_input(estimator: Any, X: Any) -> FloatArray:
    """Validated prediction input of a fitted estimator, NaN allowed."""
    check_is_fitted(estimator)
    return check_X(estimator, X, reset=False, min_samples=1, allow_nan=True)


def predicted_with_nan(estimator: Any, X: Any, method: str) -> Any:
    """``score_samples``, ``predict`` or ``predict_proba`` of rows that may hold NaN.

    Rows without NaN get the ordinary predictions; the others those of the
    marginal mixture over their observed features (a row with nothing observed:
    ``log p = 0`` and the mixing weights).
    """
    X = _prediction_input(estimator, X)
    model = estimator.fitted_model()
    if not np.isnan(X).any():
        log_density, resp, labels = model.log_prob_resp(
            X,
            want_resp=method == "predict_proba",
            n_threads=resolve_n_threads(estimator.n_jobs),
        )
    else:
        if model.noise_log_density is not None:
            raise ValueError(
                f"{type(estimator).__name__}: a model with a noise component cannot "
                "predict rows with missing values."
            )
        with single_threaded_blas():
            log_density, resp, labels = log_prob_resp_with_nan(
                X, group_patterns(X), model.params(), model.family
            )
    outputs = {"score_samples": log_density, "predict": labels, "predict_proba": resp}
    return outputs[method]


def dask_predicted(estimator: Any, X: Any, method: str) -> Any:
    """``score_samples``, ``predict`` or ``predict_proba`` of a dask array with NaN.

    Lazy, block by block, like the ordinary dask predictions; rows with NaN
    get the predictions of the marginal mixture over their observed features.
    """
    check_dask_input(estimator, X)
    from gaussmix.sources import dask as dask_source

    model = estimator.fitted_model()
    policy = None if model.noise_log_density is not None else "marginalize"
    function = getattr(dask_source, method)
    return function(X, model.params(), model.family, owner=method, nan_policy=policy)


def impute(
    estimator: Any, X: Any, n_imputations: int | None, random_state: Any
) -> FloatArray:
    """Conditional means of the missing values of ``X``, or draws of them.

    See :meth:`gaussmix.GaussianMixture.impute`.
    """
    name = type(estimator).__name__
    if n_imputations is not None and not is_count(n_imputations, 1):
        raise ValueError(
            f"{name}: n_imputations must be None (conditional means) or an integer "
            f">= 1 (that many draws); got {n_imputations!r}."
        )
    check_random_state_value(random_state, name, "random_state")
    X = _prediction_input(estimator, X)
    model = estimator.fitted_model()
    if model.noise_log_density is not None:
        raise ValueError(
            f"{name}: impute needs a model without a noise component (noise=None)."
        )
    params, family = model.params(), model.family
    patterns = group_patterns(X)
    with single_threaded_blas():
        if n_imputations is None:
            out = impute_mean(X, patterns, params, family)
        else:
            rng = check_random_state(random_state)
            out = impute_draws(X, patterns, params, family, n_imputations, rng)
    return np.asarray(out, dtype=X.dtype)
