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
   runs the compiled loop until a repair) and the criteria
   (:meth:`gaussmix.model.MixtureModel.criteria`).

A fit that needs a repair (a collapsing or empty component) stops at its
first one, as mclust stops at a singular covariance and reports NA: its
record is "degenerate", without criteria, like the estimator's, and it is
never selected, so the rest of the fit would only be discarded. (On thyroid,
banknote and iris those few fits had taken a fifth to a third of the grid's
time: after a repair the compiled loop hands almost every iteration back to
NumPy.) The record's error is the estimator's text for the first repair
(:func:`gaussmix.fitting.warn_repairs`), and its log-likelihood is the one
at the stop (NaN for a repair of the first M-step).

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
from gaussmix.core.covariance import MCLUST_GROUP, family_names, get_family
from gaussmix.core.estep import stats_from_resp
from gaussmix.core.fast_em import CellTerms, CompiledRun, compiled_cell, eligible
from gaussmix.core.hc import SUBSET_SIZE, mclust_initial_labels
from gaussmix.core.init import one_hot_labels
from gaussmix.core.mstep import Repair, m_step
from gaussmix.em import fit_em
from gaussmix.exceptions import DegenerateComponentWarning
from gaussmix.fitting import warn_repairs
from gaussmix.model import MixtureModel
from gaussmix.sources import ArraySource

__all__ = ["QUICK_OPTIONS", "grid_cell", "load_repair_kernels"]

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
    # The estimator's steps: fitting._initial_gaussians, fit_em, warn_repairs.
    shared = labels_of is not None and n_samples <= SUBSET_SIZE
    labels = labels_of.get(n_components) if shared and labels_of else None
    if labels is None:
        # (Seeding a RandomState takes some 0.3 ms: only when labels are made.)
        random_state = check_random_state(options.get("random_state"))
        labels = mclust_initial_labels(X, n_components, random_state)
        if shared and labels_of is not None:
            labels_of[n_components] = labels
    em_options: dict[str, Any] = {
        "tol": control.tol,
        "relative_tol": control.relative,
        "max_iter": control.max_iter,
        "reg_covar": control.reg_covar,
    }
    found = compiled_cell(X, labels, n_components, family, **em_options)
    cell = (n_components, covariance_type)
    n_parameters = family.n_parameters(n_components, X.shape[1])
    if isinstance(found, CellTerms):
        # The whole fit ran compiled, without a repair.
        criteria = _criteria(found, n_parameters, X.shape[0])
        return _record(cell, criteria, n_parameters, found.converged, found.n_iter)
    if isinstance(found, CompiledRun):
        # An iteration may need a repair: fit_em runs it, from where the
        # compiled run stopped.
        params, done = found.params, found.n_iter
        bound, inner_final = found.lower_bound, found.inner_final
    else:
        resp = one_hot_labels(labels, n_components)
        shift = np.average(X, axis=0).astype(np.float64)
        stats = stats_from_resp(X, resp, family, n_components, shift)
        params, repairs = m_step(stats, family, control.reg_covar, dtype=X.dtype)
        if repairs:
            # Degenerate from the start: no EM (mclust reports NA without one).
            initial = [(0, r) for r in repairs]
            return _degenerate(cell, initial, n_parameters, 0, math.nan)
        if not eligible(X, params, family, prior=None, equal_proportions=False):
            return None
        done, bound, inner_final = 0, -math.inf, False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as the estimator's cell records none
            result = fit_em(
                ArraySource(X),
                params,
                family,
                dtype=X.dtype,
                tol=control.tol,
                relative_tol=control.relative,
                max_iter=control.max_iter - done,
                reg_covar=control.reg_covar,
                lower_bound=bound,
                inner_final=inner_final,
                stop_at_repair=True,
            )
    except (ValueError, np.linalg.LinAlgError):
        return None  # the estimator raises it, and records the error
    n_iter = done + result.n_iter
    if result.repairs:
        # Stopped at the first repair: the log-likelihood is that of the
        # iteration's E-step, under the last parameters before the repair.
        loglik = result.lower_bound * n_samples
        repaired = [(done + it, r) for it, r in result.repairs]
        return _degenerate(cell, repaired, n_parameters, n_iter, loglik)
    model = MixtureModel.from_params(result.params, covariance_type, X.dtype)
    return _record(cell, model.criteria(X), n_parameters, result.converged, n_iter)


def _degenerate(
    cell: tuple[int, str],
    repairs: list[tuple[int, Repair]],
    n_parameters: int,
    n_iter: int,
    log_likelihood: float,
) -> dict[str, Any]:
    """The record of a fit stopped at its first repair: no criteria (mclust's NA).

    The error is the estimator's ``"degenerate: ..."`` text of the first repair
    (:func:`gaussmix.fitting.warn_repairs`), up to the count of later ones.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_repairs(repairs)
    message = next(
        str(w.message)
        for w in caught
        if issubclass(w.category, DegenerateComponentWarning)
    )
    nan = math.nan
    criteria = {"log_likelihood": log_likelihood, "aic": nan, "bic": nan, "icl": nan}
    record = _record(cell, criteria, n_parameters, False, n_iter)
    record["error"] = f"degenerate: {message}"[:200]
    return record


#: Whether :func:`load_repair_kernels` has run in this process.
_repair_kernels_loaded = False


def load_repair_kernels() -> None:
    """Load the compiled kernels of the NumPy iteration that decides a repair.

    When the compiled loop meets an iteration that may need a repair, that
    iteration runs through :func:`gaussmix.core.estep.e_step` and
    :func:`gaussmix.core.mstep.m_step`, which call their own compiled kernels
    (the E-step of each storage shape, EVE and VVE's MM loop). numba loads a
    cached kernel on its first call, 20-30 ms each here. This runs each once
    on a tiny problem, once per process, so that a grid pays those loads
    with the kernels' (:func:`gaussmix.core.kernels.load`), up front, and not
    in the middle of its cells.
    """
    global _repair_kernels_loaded
    if _repair_kernels_loaded:
        return
    _repair_kernels_loaded = True
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2)) + np.repeat([[0.0, 0.0], [5.0, 1.0]], 6, axis=0)
    labels = np.repeat([0, 1], 6)
    resp = one_hot_labels(labels, 2)
    source = ArraySource(X)
    shift = np.average(X, axis=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for name in family_names(MCLUST_GROUP):  # every shape, and EVE/VVE's loop
            family = get_family(name)
            stats = stats_from_resp(X, resp, family, 2, shift)
            params, _ = m_step(stats, family, 0.0)
            source.accumulate(params, family)


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
