"""One cell of a selection grid on small data, computed without an estimator.

A cell of :func:`gaussmix.select`'s grid is a fit from mclust's hierarchical
start followed by its criteria. On a few hundred rows the EM iterations run
compiled in microseconds each, and building a
:class:`~gaussmix.GaussianMixture` around them (validating parameters and data
again, the fit driver's bookkeeping, the fitted attributes) cost more than the
fit for most cells. :func:`grid_cell` computes a cell the way the estimator
does, in two tiers:

1. the whole fit in compiled code (:func:`gaussmix.core.fast_em.compiled_cell`):
   the first M-step from the hierarchical labels, EM, and the log-likelihood
   and entropy of the result; taken when no step needs a repair;
2. otherwise the estimator's own functions, in its order: the first M-step
   (:func:`gaussmix.core.mstep.m_step`), EM (:func:`gaussmix.em.fit_em`, which
   runs the compiled loop until a repair), the repairs' warnings
   (:func:`gaussmix.fitting.warn_repairs`) and the criteria
   (:meth:`gaussmix.model.MixtureModel.criteria`); a repaired fit gets the
   estimator's ``"degenerate: ..."`` record without criteria.

It returns None when the estimator must run the cell: options beyond the
default EM control, data beyond the compiled loop's size or dtype, or an error
(the estimator raises it again and records it). ``tests/test_cells.py`` checks
that the table equals the estimator's within 1e-10.

:func:`gaussmix.select` fits the selected cell again through the estimator, so
that the model it returns is an ordinary fitted ``GaussianMixture``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Final

import numpy as np
from sklearn.utils import check_random_state

from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import AUTO, resolve_em_control
from gaussmix.core.covariance import get_family
from gaussmix.core.estep import stats_from_resp
from gaussmix.core.fast_em import CellTerms, compiled_cell, eligible
from gaussmix.core.hc import SUBSET_SIZE, mclust_initial_labels
from gaussmix.core.init import one_hot_labels
from gaussmix.core.mstep import m_step
from gaussmix.em import fit_em
from gaussmix.exceptions import DegenerateComponentWarning
from gaussmix.fitting import warn_repairs
from gaussmix.model import MixtureModel
from gaussmix.sources import ArraySource

__all__ = ["QUICK_OPTIONS", "grid_cell"]

#: The estimator options a quick cell handles; any other option given to
#: select (a prior, noise, weights_init, verbose, ...) sends every cell to the
#: estimator. ``n_init`` must be 1.
QUICK_OPTIONS: Final = frozenset(
    {"tol", "reg_covar", "init_params", "max_iter", "random_state", "n_init"}
)


def grid_cell(
    X: FloatArray,
    n_components: int,
    covariance_type: str,
    options: dict[str, Any],
    labels_of: dict[int, IntArray] | None = None,
) -> dict[str, Any] | None:
    """The record of one cell of the grid, or None (run it through the estimator).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The validated data (float64 for a quick cell).
    n_components : int
        ``K`` of the cell.
    covariance_type : str
        The cell's covariance type.
    options : dict
        The estimator options of the cell (select's ``fit_kwargs``, with its
        seed).
    labels_of : dict, default=None
        The grid's hierarchical labels by ``K``, filled as cells compute them
        and shared by the cells of the same ``K``: up to ``SUBSET_SIZE`` rows
        they do not depend on the seed (the whole data set is clustered).

    Returns
    -------
    dict or None
        The record (:data:`gaussmix.selection.COLUMNS`), the one the estimator
        gives for this cell.
    """
    if not set(options) <= QUICK_OPTIONS or options.get("n_init", 1) != 1:
        return None
    control = resolve_em_control(
        covariance_type,
        options.get("tol", AUTO),
        options.get("reg_covar", AUTO),
        options.get("init_params", AUTO),
        options.get("max_iter", AUTO),
    )
    if control.init_params != "hc" or X.dtype != np.float64 or control.max_iter < 1:
        return None
    n_samples, _ = X.shape
    if n_components > n_samples:
        return None  # the estimator raises its error
    family = get_family(covariance_type)
    random_state = check_random_state(options.get("random_state"))
    # The estimator's steps: fitting._initial_gaussians, fit_em, warn_repairs.
    shared = labels_of is not None and n_samples <= SUBSET_SIZE
    labels = labels_of.get(n_components) if shared and labels_of else None
    if labels is None:
        labels = mclust_initial_labels(X, n_components, random_state)
        if shared and labels_of is not None:
            labels_of[n_components] = labels
    em_options: dict[str, Any] = {
        "tol": control.tol,
        "relative_tol": control.relative,
        "max_iter": control.max_iter,
        "reg_covar": control.reg_covar,
    }
    terms = compiled_cell(X, labels, n_components, family, **em_options)
    if terms is not None:
        # The whole fit ran compiled, without a repair.
        n_parameters = family.n_parameters(n_components, X.shape[1])
        criteria = _criteria(terms, n_parameters, X.shape[0])
        cell = (n_components, covariance_type)
        return _record(cell, criteria, n_parameters, terms.converged, terms.n_iter)
    resp = one_hot_labels(labels, n_components)
    shift = np.average(X, axis=0).astype(np.float64)
    stats = stats_from_resp(X, resp, family, n_components, shift)
    params, repairs = m_step(stats, family, control.reg_covar, dtype=X.dtype)
    if not eligible(X, params, family, prior=None, equal_proportions=False):
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fit_em(ArraySource(X), params, family, dtype=X.dtype, **em_options)
        except (ValueError, np.linalg.LinAlgError):
            return None  # the estimator raises it, and records the error
        warn_repairs([(0, r) for r in repairs] + result.repairs)
    model = MixtureModel.from_params(result.params, covariance_type, X.dtype)
    record = _record(
        (n_components, covariance_type),
        model.criteria(X),
        model.n_parameters(False),
        result.converged,
        result.n_iter,
    )
    degenerate = [
        w for w in caught if issubclass(w.category, DegenerateComponentWarning)
    ]
    if degenerate:
        # As gaussmix.selection._fit_one: no criteria for a repaired fit.
        record.update(aic=math.nan, bic=math.nan, icl=math.nan)
        record["error"] = f"degenerate: {degenerate[0].message}"[:200]
    return record


def _criteria(terms: CellTerms, n_parameters: int, n_samples: int) -> dict[str, float]:
    """``MixtureModel.criteria`` from a compiled fit's terms (no sample weights)."""
    loglik = terms.log_likelihood
    bic = -2.0 * loglik + n_parameters * math.log(n_samples)
    return {
        "log_likelihood": loglik,
        "aic": -2.0 * loglik + 2.0 * n_parameters,
        "bic": bic,
        "icl": bic - 2.0 * terms.entropy,
    }


def _record(
    cell: tuple[int, str],
    criteria: dict[str, float],
    n_parameters: int,
    converged: bool,
    n_iter: int,
) -> dict[str, Any]:
    """The record of ``cell`` (``(K, covariance_type)``), as ``selection._fit_one``'s."""
    return {
        "n_components": cell[0],
        "covariance_type": cell[1],
        **criteria,
        "n_parameters": n_parameters,
        "converged": bool(converged),
        "n_iter": int(n_iter),
        "error": "",
    }
