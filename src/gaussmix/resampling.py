"""Bootstrap inference on a fitted mixture, and the bootstrap LRT for K.

:func:`bootstrap` puts standard errors and confidence intervals on the weights,
means and covariances of a fitted :class:`~gaussmix.GaussianMixture` by refitting
it to resampled data, as R mclust's ``MclustBootstrap``; :func:`bootstrap_lrt` is
mclust's ``mclustBootstrapLRT``, the sequential bootstrap likelihood-ratio test of
``g`` against ``g + 1`` components.

How a refit runs (mclust's ``me``)
----------------------------------
mclust refits every replicate with ``me(data, modelName, z)``: an M-step from the
fitted model's responsibilities ``z`` of the replicate's rows, then EM with the
default ``emControl()`` (whatever the control of the original fit), stopping at
the first iteration ``t >= 2`` whose log-likelihood ``L_t`` satisfies
``|L_t - L_{t-1}| <= 1e-5 (1 + |L_t|)``, and returning the parameters ``P_t``
whose log-likelihood was last computed. Here the responsibilities are not
formed: EM is started from the fitted parameters themselves, whose E-step *is*
``z`` on the replicate's rows, so the first M-step is mclust's. The iterations
and the stopping rule are mclust's, and the returned parameters are ``P_t``
(not the parameters after one more M-step, which :class:`~gaussmix.GaussianMixture`
returns). This matters: a jackknife refit stops after about two iterations, and
one more M-step moves it by as much as the jackknife spread itself (faithful,
EEE with 3 components, from the same fitted model: the jackknife standard
errors then differ from mclust's by up to 13%; with ``P_t`` they agree within
3e-5).

The iterations run in the compiled small-data EM loop
(:mod:`gaussmix.core._compiled_em`), called directly (no estimator per
replicate), several iterations per call: the calls end about where the stopping
rule fires (:func:`_run_me`), so that ``P_t`` is at hand, and on faithful a
refit takes 2 to 3 calls and one or two iterations more than it keeps. Where the
loop cannot go (no numba, float32 data, large data, equal proportions) or hands
an iteration over because it may need a repair, the replicate runs through
:func:`gaussmix.em.fit_em`, the reference; both give the same numbers up to
rounding (``tests/test_bootstrap.py``). Each refit starts the model's inner
iterations (VEI, VEV, VEE, EVE, VVE) afresh and runs them at the family's own
tolerance, as mclust does, where a single fit loosens it early on.

A refit that needs a repair (a component collapsing or emptying) is a *non-fit*,
as mclust's singular covariance (``NA``): for "bs", "wlbs" and "pb" another
replicate is drawn in its place (at most ``10 n_boot`` non-fits, mclust's
``max.nonfit``), for "jk" its row is NaN and left out of the standard errors.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from gaussmix._threads import single_threaded_blas
from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import (
    AUTO,
    MCLUST_MAX_ITER,
    MCLUST_TOL,
    check_random_state_value,
    check_X,
    resolve_em_control,
    resolve_n_threads,
)
from gaussmix.base import MixtureEstimator
from gaussmix.core import fast_em, kernels
from gaussmix.core.covariance import (
    MCLUST_GROUP,
    SKLEARN_GROUP,
    family_names,
    get_family,
)
from gaussmix.core.mclust_models import MCLUST_MODELS
from gaussmix.core.params import GMMParams
from gaussmix.em import fit_em
from gaussmix.exceptions import DegenerateComponentWarning
from gaussmix.mixture import GaussianMixture
from gaussmix.model import MixtureModel
from gaussmix.selection import (
    can_fork,
    collect_child_results,
    fork_child,
    send_child_results,
)
from gaussmix.sources import ArraySource

__all__ = [
    "METHODS",
    "PARAMETERS",
    "BootstrapLRTResult",
    "BootstrapResult",
    "bootstrap",
    "bootstrap_lrt",
]

#: The resampling methods, with mclust's names (``MclustBootstrap(type=)``).
METHODS: Final = {
    "bs": "nonparametric bootstrap",
    "wlbs": "weighted likelihood bootstrap",
    "pb": "parametric bootstrap",
    "jk": "jackknife",
}
#: The bootstrapped parameters: the keys of ``se`` and ``ci``.
PARAMETERS: Final = ("weights", "means", "covariances")
#: Non-fits allowed per replicate asked for (mclust's ``max.nonfit = 10 * nboot``).
MAX_NONFIT_FACTOR: Final = 10
#: Refits run here before deciding on forked processes (their time decides).
PROCESS_PROBE: Final = 8
#: Forked processes are used when they are predicted to save this much time
#: (a fork costs some 20 ms here, and the estimate runs high).
PROCESS_MIN_SECONDS: Final = 0.1
#: mclust's default number of components tested by :func:`bootstrap_lrt` when
#: ``max_components`` is None (``G = 1:9``: tests of 1 vs 2 up to 8 vs 9).
LRT_DEFAULT_MAX_COMPONENTS: Final = 8
#: The first call of a refit's EM runs until EM's own rule fires with this many
#: times mclust's tolerance, about one iteration before mclust's stop (see
#: :func:`_run_me`). Measured on faithful (EEE, 3 components, 999 replicates of
#: each method): with 2, 2.0 to 2.8 calls per refit and 1.2 to 1.6 iterations
#: more than the refit keeps (one is needed: the E-step of the last
#: parameters); with 1.5, 2.0 to 2.5 calls and 1.7 to 2.5 more; with 4, 2.0
#: to 3.3 calls and 1.1 to 2.0 more.
LOOSEN: Final = 2.0


# ====================================================================== results
@dataclass(frozen=True)
class BootstrapResult:
    """Replicates of a mixture's parameters, their standard errors and intervals.

    Made by :func:`bootstrap`; the arrays of a replicate have the shapes of the
    model's ``weights_``, ``means_`` and ``covariances_`` (the covariances in the
    storage of the covariance type: ``(K,)`` for spherical models, ``(K, D)``
    diagonal, ``(D, D)`` for a common matrix, ``(K, D, D)`` full).

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    covariance_type : str
        The model's covariance type.
    level : float
        The default level of :meth:`ci`.
    estimate : dict of str to ndarray
        The model's own ``weights_``, ``means_`` and ``covariances_``.
    weights : ndarray of shape (n_boot, K)
        Replicates of ``weights_`` (rows of NaN: jackknife non-fits).
    means : ndarray of shape (n_boot, K, D)
        Replicates of ``means_``.
    covariances : ndarray of shape (n_boot, ...)
        Replicates of ``covariances_``.
    n_iter : ndarray of int of shape (n_boot,)
        EM iterations of each refit (-1 for a non-fit).
    n_nonfit : int
        Refits that needed a repair: redrawn for "bs", "wlbs" and "pb", NaN rows
        for "jk" (mclust's ``nonfit``).
    switched : ndarray of bool of shape (n_boot,)
        Replicates whose components came back in another order: matched to the
        model's components by their means (the assignment with the smallest sum
        of Mahalanobis distances under the model's covariances), the best match
        is not the identity. They are kept as fitted (see :func:`bootstrap`).

    Attributes
    ----------
    se : dict of str to ndarray
        Standard errors, keyed by :data:`PARAMETERS`, shaped like the model's
        attributes: the standard deviation of the replicates, and for the
        jackknife mclust's ``sd * (m - 1) / sqrt(m)`` over its ``m`` fits.
    """

    method: str
    covariance_type: str
    level: float
    estimate: dict[str, FloatArray]
    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    n_iter: IntArray
    n_nonfit: int
    switched: npt.NDArray[np.bool_]
    se: dict[str, FloatArray] = field(init=False)

    def __post_init__(self) -> None:
        se = {name: _standard_error(self.method, a) for name, a in self._arrays()}
        object.__setattr__(self, "se", se)

    def _arrays(self) -> list[tuple[str, FloatArray]]:
        return [(name, self.replicates[name]) for name in PARAMETERS]

    @property
    def replicates(self) -> dict[str, FloatArray]:
        """The replicates keyed by :data:`PARAMETERS` (a leading ``n_boot`` axis)."""
        return {
            "weights": self.weights,
            "means": self.means,
            "covariances": self.covariances,
        }

    @property
    def n_boot(self) -> int:
        """The number of replicates (``n_samples`` for the jackknife)."""
        return int(self.weights.shape[0])

    def ci(
        self, level: float | None = None
    ) -> dict[str, tuple[FloatArray, FloatArray]]:
        """Confidence intervals of every parameter.

        Percentile intervals of the replicates (numpy's and R's default
        quantiles), as mclust's ``summary(..., what = "ci")``; for the
        jackknife, whose leave-one-out fits cluster tightly around the
        estimate, mclust's normal interval ``mean +- z se`` around the mean of
        the jackknife fits.

        Parameters
        ----------
        level : float, default=None
            Coverage in (0, 1); None uses the result's ``level``.

        Returns
        -------
        dict of str to (ndarray, ndarray)
            ``(lower, upper)`` keyed by :data:`PARAMETERS`, each shaped like the
            model's attribute.
        """
        level = _check_level(self.level if level is None else level)
        if self.method == "jk":
            z = float(ndtri(0.5 + level / 2.0))
            out = {}
            for name, a in self._arrays():
                centre = np.nanmean(a, axis=0)
                out[name] = (centre - z * self.se[name], centre + z * self.se[name])
            return out
        probs = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
        out = {}
        for name, a in self._arrays():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                lower, upper = np.nanquantile(a, probs, axis=0)
            out[name] = (lower, upper)
        return out

    def to_frame(self, level: float | None = None) -> Any:
        """One row per parameter value: estimate, standard error and interval.

        Parameters
        ----------
        level : float, default=None
            Level of the interval; None uses the result's ``level``.

        Returns
        -------
        pandas.DataFrame
            Columns ``parameter``, ``component``, ``row``, ``column``
            (feature indices, -1 where they do not apply; ``component`` is -1
            for a covariance shared by all components), ``estimate``, ``se``,
            ``lower`` and ``upper``. Without pandas, a NumPy structured array
            with the same fields.
        """
        intervals = self.ci(level)
        records: list[tuple[Any, ...]] = []
        for name in PARAMETERS:
            estimate = np.asarray(self.estimate[name], dtype=np.float64)
            lower, upper = intervals[name]
            for index in np.ndindex(estimate.shape):
                component, row, column = _position(
                    name, self.covariance_type, estimate.ndim, index
                )
                records.append(
                    (
                        name,
                        component,
                        row,
                        column,
                        float(estimate[index]),
                        float(self.se[name][index]),
                        float(lower[index]),
                        float(upper[index]),
                    )
                )
        return _table(records, _FRAME_COLUMNS)

    def plot(self, parameter: str = "means", ax: Any = None) -> Any:
        """Histograms of the replicates, one per component (``plot.MclustBootstrap``).

        Each panel shows the histogram of one parameter's replicates, the
        model's estimate (dotted line) and the interval of :meth:`ci` with the
        replicates' mean (a segment and a square below the axis), as mclust
        draws them (each panel on its own scale; mclust shares one per
        feature, which leaves the histograms of well separated components a
        few pixels wide). Needs matplotlib.

        Parameters
        ----------
        parameter : {'weights', 'means', 'covariances'}, default='means'
            What to show: the weights (one row of panels), the means (a row per
            feature) or the variances, i.e. the diagonals of the covariances (a
            row per feature; one column for a covariance shared by all
            components). mclust's names 'pro', 'mean' and 'var' are accepted.
        ax : array-like of matplotlib Axes, default=None
            Panels to draw in, at least as many as needed (rows times
            components), filled row by row; None makes a new figure.

        Returns
        -------
        ndarray of matplotlib Axes
            The panels drawn, shaped (rows, columns).
        """
        name = _PLOT_ALIASES.get(parameter, parameter)
        if name not in PARAMETERS:
            raise ValueError(
                f"parameter must be one of {', '.join(repr(p) for p in PARAMETERS)} "
                f"(or mclust's 'pro', 'mean', 'var'); got {parameter!r}."
            )
        panels, lower, upper, estimate, titles = self._panels(name)
        n_rows, n_cols = panels.shape[1], panels.shape[2]
        import matplotlib.pyplot as plt

        if ax is None:
            _, axes = plt.subplots(
                n_rows,
                n_cols,
                figsize=(2.6 * n_cols, 2.1 * n_rows),
                layout="constrained",
                squeeze=False,
            )
        else:
            flat = np.ravel(np.asarray(ax, dtype=object))
            if flat.size < n_rows * n_cols:
                raise ValueError(
                    f"ax has {flat.size} Axes; plotting {name} needs "
                    f"{n_rows * n_cols} ({n_rows} rows x {n_cols} columns). "
                    "Pass ax=None for a new figure."
                )
            axes = flat[: n_rows * n_cols].reshape(n_rows, n_cols)
        for i in range(n_rows):
            for j in range(n_cols):
                a = axes[i, j]
                values = panels[:, i, j]
                values = values[np.isfinite(values)]
                a.hist(values, bins="sturges", color="0.75", edgecolor="0.85")
                a.axvline(estimate[i, j], color="forestgreen", linestyle=":", lw=2)
                top = a.get_ylim()[1]
                low = -0.06 * top
                a.plot(
                    [lower[i, j], upper[i, j]], [low, low], color="forestgreen", lw=2
                )
                a.plot(
                    [float(np.mean(values)) if values.size else np.nan],
                    [low],
                    marker="s",
                    color="forestgreen",
                )
                a.set_ylim(-0.12 * top, top)
                a.set_xlabel(titles[i][j], fontsize="small")
                a.tick_params(labelsize="x-small")
        return axes

    def _panels(
        self, name: str
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, list[list[str]]]:
        """Replicates ``(n_boot, rows, cols)`` of one parameter, with bounds and labels."""
        lower, upper = self.ci()[name]
        estimate = np.asarray(self.estimate[name], dtype=np.float64)
        reps = self.replicates[name]
        n_components = self.weights.shape[1]
        if name == "weights":
            titles = [[f"weight of comp. {k}" for k in range(n_components)]]
            return reps[:, None, :], lower[None], upper[None], estimate[None], titles
        if name == "means":
            return _by_feature(reps, lower, upper, estimate, "mean")
        shape = fast_em.storage_shape(get_family(self.covariance_type))
        comps = [str(k) for k in range(n_components)]
        if shape == fast_em.STORAGE_TIED:
            d = estimate.shape[0]
            idx = np.arange(d)
            titles = [[f"feature {j} variance, all comp."] for j in range(d)]
            return (
                reps[:, idx, idx][:, :, None],
                np.diagonal(lower)[:, None],
                np.diagonal(upper)[:, None],
                np.diagonal(estimate)[:, None],
                titles,
            )
        if shape == fast_em.STORAGE_SPHERICAL:
            titles = [[f"variance, comp. {k}" for k in comps]]
            return reps[:, None, :], lower[None], upper[None], estimate[None], titles
        if shape == fast_em.STORAGE_DIAG:
            return _by_feature(reps, lower, upper, estimate, "variance")
        idx = np.arange(estimate.shape[1])
        return _by_feature(
            reps[:, :, idx, idx],
            lower[:, idx, idx],
            upper[:, idx, idx],
            estimate[:, idx, idx],
            "variance",
        )


@dataclass(frozen=True)
class BootstrapLRTResult:
    """The sequential bootstrap likelihood-ratio test (``mclustBootstrapLRT``).

    Made by :func:`bootstrap_lrt`.

    Parameters
    ----------
    covariance_type : str
        The covariance type of every fit.
    n_boot : int
        Bootstrap replicates per test.
    level : float
        The level at which the sequence stops when ``max_components`` is None.
    table : pandas.DataFrame
        One row per test: ``n_components`` (row ``g`` tests ``g`` against
        ``g + 1`` components), ``statistic`` (the observed
        ``2 (L_{g+1} - L_g)``) and ``p_value`` (``(1 + #{replicates >=
        statistic}) / (n_boot + 1)``). Without pandas, a NumPy structured array.
    replicates : ndarray of shape (n_boot, n_tests)
        The statistic of each bootstrap sample under the null, one column per
        row of ``table``.
    """

    covariance_type: str
    n_boot: int
    level: float
    table: Any
    replicates: FloatArray

    def plot(self, n_components: int = 1, ax: Any = None) -> Any:
        """The bootstrap distribution of one test's statistic (``plot.mclustBootstrapLRT``).

        Parameters
        ----------
        n_components : int, default=1
            The test of ``n_components`` against ``n_components + 1``.
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        matplotlib Axes
        """
        tested = [int(g) for g in np.asarray(self.table["n_components"])]
        if n_components not in tested:
            raise ValueError(
                f"no test of {n_components} components; the table has "
                f"n_components = {tested}."
            )
        row = tested.index(n_components)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
        values = self.replicates[:, row]
        observed = float(np.asarray(self.table["statistic"])[row])
        p_value = float(np.asarray(self.table["p_value"])[row])
        ax.hist(values, bins="scott", density=True, color="0.75", edgecolor="0.85")
        ax.axvline(observed, color="forestgreen", linestyle=":", lw=2, label="observed")
        ax.set_xlabel("LRTS")
        ax.set_title(
            f"bootstrap LRT, {self.covariance_type}: {n_components} vs "
            f"{n_components + 1} components (p = {p_value:.3g})",
            fontsize="medium",
        )
        ax.legend(fontsize="small")
        return ax


_FRAME_COLUMNS: Final = (
    ("parameter", "U16"),
    ("component", "i8"),
    ("row", "i8"),
    ("column", "i8"),
    ("estimate", "f8"),
    ("se", "f8"),
    ("lower", "f8"),
    ("upper", "f8"),
)
_LRT_COLUMNS: Final = (
    ("n_components", "i8"),
    ("statistic", "f8"),
    ("p_value", "f8"),
)
_PLOT_ALIASES: Final = {"pro": "weights", "mean": "means", "var": "covariances"}


def _by_feature(
    reps: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    estimate: FloatArray,
    what: str,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, list[list[str]]]:
    """Panels of a ``(n_components, n_features)`` parameter: a row per feature."""
    n_components, d = estimate.shape
    titles = [
        [f"feature {j} {what}, comp. {k}" for k in range(n_components)]
        for j in range(d)
    ]
    return np.swapaxes(reps, 1, 2), lower.T, upper.T, estimate.T, titles


def _table(records: list[tuple[Any, ...]], columns: tuple[tuple[str, str], ...]) -> Any:
    """A DataFrame of the records (a structured array without pandas)."""
    try:
        import pandas as pd
    except ImportError:
        return np.array(records, dtype=list(columns))
    return pd.DataFrame.from_records(records, columns=[c for c, _ in columns])


def _position(
    name: str, covariance_type: str, ndim: int, index: tuple[int, ...]
) -> tuple[int, int, int]:
    """``(component, row, column)`` of one entry of a parameter (-1: not applicable)."""
    if name == "weights":
        return index[0], -1, -1
    if name == "means":
        return index[0], index[1], -1
    shape = fast_em.storage_shape(get_family(covariance_type))
    if shape == fast_em.STORAGE_TIED:
        return -1, index[0], index[1]
    if shape == fast_em.STORAGE_SPHERICAL:
        return index[0], -1, -1
    if shape == fast_em.STORAGE_DIAG:
        return index[0], index[1], index[1]
    return index[0], index[1], index[2]


def _standard_error(method: str, replicates: FloatArray) -> FloatArray:
    """The standard error of replicates, as mclust's (NaN rows left out).

    The standard deviation (``sd``, divisor ``m - 1``) of the ``m`` finite
    replicates; for the jackknife ``sqrt(sd^2 (m - 1)^2 / m)``, the jackknife's
    ``sqrt((m - 1) / m * sum (theta_i - mean)^2)``.
    """
    finite = np.isfinite(replicates).all(axis=tuple(range(1, replicates.ndim)))
    kept = replicates[finite]
    m = kept.shape[0]
    if m < 2:
        return np.full(replicates.shape[1:], np.nan)
    sd = np.std(kept, axis=0, ddof=1)
    if method == "jk":
        return np.asarray(sd * (m - 1) / math.sqrt(m))
    return np.asarray(sd)


# ================================================================== validation
def _check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(
        level, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"level must be a number in (0, 1); got {level!r}.")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}.")
    return float(level)


def _check_n_boot(n_boot: Any) -> int:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)):
        raise TypeError(f"n_boot must be an integer >= 2; got {n_boot!r}.")
    if n_boot < 2:
        raise ValueError(
            f"n_boot must be at least 2 (standard errors need two replicates); "
            f"got n_boot={n_boot}. mclust's default is 999."
        )
    return int(n_boot)


def _check_n_jobs(n_jobs: Any) -> int:
    """Processes for the refits: None is 1 (see :func:`bootstrap`), -1 every core."""
    if n_jobs is not None and (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, (int, np.integer))
        or n_jobs == 0
    ):
        raise ValueError(
            f"n_jobs must be None (one process), a positive integer or -1 (every "
            f"usable core); got {n_jobs!r}."
        )
    return 1 if n_jobs is None else resolve_n_threads(int(n_jobs))


def _fitted_estimator(model: Any) -> MixtureEstimator:
    """The fitted mixture of ``model`` (a GaussianMixtureIC gives its best one)."""
    best = getattr(model, "best_estimator_", None)
    if best is not None and not isinstance(model, MixtureEstimator):
        model = best
    if not isinstance(model, MixtureEstimator):
        raise TypeError(
            "model must be a fitted gaussmix.GaussianMixture (or a fitted "
            f"GaussianMixtureIC); got {type(model).__name__}."
        )
    check_is_fitted(model)
    if hasattr(model, "noise_log_density_"):
        raise ValueError(
            "bootstrap does not support a model with a noise component (noise=...): "
            "refit it without noise, or bootstrap the Gaussians of a model fitted "
            "to the rows its noise component does not take."
        )
    if getattr(model, "prior", None) is not None or hasattr(model, "prior_"):
        raise ValueError(
            "bootstrap does not support a model fitted with a prior (prior=...): "
            "mclust's MclustBootstrap refits such a model without its prior. "
            "Fit the model with prior=None to bootstrap it."
        )
    return model


# ============================================================ the refit engine
#: The compiled loop's model code of each family class (its model's place in
#: mclust's order; the univariate E and V are EII and VII).
_ORDER: Final = list(family_names(MCLUST_GROUP))
_MODEL_CODE: Final[dict[type, int]] = {
    cls: _ORDER.index(cls.multivariate_model or cls.model)
    for cls in MCLUST_MODELS.values()
}


@dataclass(frozen=True, slots=True)
class _Rule:
    """The stopping rule of a refit, on bounds ``b`` (weighted mean log-likelihoods).

    ``kind`` is ``"me"``: mclust's ``me``, ``|L - L_old| <= tol (1 + |L|)`` on
    the totals ``L = b * total``; or ``"weighted"``: mclust's ``me.weighted``
    (the weighted likelihood bootstrap), ``L - L_old <= tol``.
    """

    tol: float
    kind: str
    total: float

    def stops(self, new: float, old: float) -> bool:
        """Whether the bound ``new`` after ``old`` stops EM."""
        big, small = new * self.total, old * self.total
        if self.kind == "weighted":
            return big - small <= self.tol
        return abs(big - small) <= self.tol * (1.0 + abs(big))

    def threshold(self, bound: float) -> float:
        """The change of ``b`` below which the rule fires (for the forecast)."""
        if self.kind == "weighted":
            return self.tol / self.total
        return self.tol * (1.0 + abs(bound * self.total)) / self.total

    def loop_control(self) -> tuple[float, bool]:
        """``(tol, relative)`` of the compiled loop's own rule (an early exit only)."""
        if self.kind == "weighted":
            return self.tol / self.total, False
        return self.tol, True


@dataclass(frozen=True, slots=True)
class _Fit:
    """One refit: its parameters (the family's storage) and iterations."""

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    n_iter: int


class _Refitter:
    """Runs mclust's ``me`` (and ``em``) from a fitted model on replicate data.

    Parameters
    ----------
    model : MixtureModel
        The fitted model (the start of every refit).
    equal_proportions : bool
        The model's constraint, kept in the refits.
    reg_covar : float
        The model's regularisation, kept in the refits.
    dtype : numpy dtype
        The data's dtype.
    n_rows : int
        Rows of the largest replicate (to decide on the compiled loop).
    """

    def __init__(
        self,
        model: MixtureModel,
        *,
        equal_proportions: bool,
        reg_covar: float,
        dtype: Any,
        n_rows: int,
    ) -> None:
        self.family = model.family
        self.code = fast_em.storage_shape(self.family)
        self.params = model.params()
        self.equal_proportions = equal_proportions
        self.reg_covar = float(reg_covar)
        self.dtype = np.dtype(dtype)
        # mclust's emControl() (tol 1e-5 relative, no practical iteration
        # limit), whatever the original fit's, for every covariance type.
        self.tol = MCLUST_TOL
        self.max_iter = MCLUST_MAX_ITER
        self.loop: Any = None
        k, d = self.params.means.shape
        probe = np.broadcast_to(np.zeros(1, dtype=self.dtype), (n_rows, d))
        if (
            type(self.family) in _MODEL_CODE
            and self.dtype == np.float64
            and fast_em.eligible(
                probe,
                self.params,
                self.family,
                prior=None,
                equal_proportions=equal_proportions,
            )
        ):
            import gaussmix.core._compiled_em as _compiled_em  # numba: loaded by now

            self.loop = _compiled_em
            carries = (
                _MODEL_CODE[type(self.family)] in _compiled_em.CARRIES_SHAPE
                or _MODEL_CODE[type(self.family)] in _compiled_em.CARRIES_ORIENTATION
            )
            self.inner = (
                (float(self.family.inner_tol), int(self.family.inner_max_iter))
                if carries
                else (0.0, 0)
            )
            self.start = (
                np.array(self.params.weights, dtype=np.float64),
                np.array(self.params.means, dtype=np.float64, order="C"),
                fast_em.to_layout(self.params.covariances, self.code, k, d),
                fast_em.to_layout(self.params.precisions_cholesky, self.code, k, d),
                np.ones(d),
                np.eye(d),
            )

    # ------------------------------------------------------------ me and em
    def rule(self, total: float, weighted: bool) -> _Rule:
        """The stopping rule for data of total weight ``total`` (``weighted``: wlbs)."""
        return _Rule(self.tol, "weighted" if weighted else "me", float(total))

    def me(self, X: FloatArray, w: FloatArray | None, rule: _Rule) -> _Fit | None:
        """The refit of ``X`` by mclust's ``me`` (see the module notes); None: a non-fit."""
        if self.loop is not None:
            found = _run_me(_CompiledSteps(self, X, w, rule), rule, self.max_iter)
            if found is not None:
                return found
        # A handed-off iteration (or no compiled loop): the replicate again,
        # through fit_em.
        return _run_me(_NumpySteps(self, X, w, rule), rule, self.max_iter)

    def em(self, X: FloatArray) -> float | None:
        """The final log-likelihood of mclust's ``em`` from the model's parameters.

        EM starts with the E-step of the parameters and stops at the first
        ``t >= 1`` that meets the rule; the log-likelihood is that of ``P_t``
        (the last E-step). None: a non-fit.
        """
        rule = self.rule(float(X.shape[0]), weighted=False)
        if self.loop is not None:
            steps = _CompiledSteps(self, X, None, rule)
            got = steps.advance(steps.initial(), self.max_iter, -math.inf)
            if got is not None:
                return float(got[1][-1]) * float(X.shape[0])
        numpy_steps = _NumpySteps(self, X, None, rule)
        got_numpy = numpy_steps.advance(numpy_steps.initial(), self.max_iter, -math.inf)
        if got_numpy is None:
            return None
        return float(got_numpy[1][-1]) * float(X.shape[0])


class _Steps(Protocol):
    """EM iterations on one replicate, run ``m`` at a time."""

    def initial(self) -> Any:
        """The state of the fitted model (the start of every refit)."""
        ...

    def copy(self, state: Any) -> Any:
        """A copy of ``state`` that :meth:`advance` leaves alone."""
        ...

    def advance(
        self, state: Any, m: int, lower: float, loosen: float = 1.0
    ) -> tuple[Any, Sequence[float]] | None:
        """Up to ``m`` iterations from ``state``: the new state and their bounds.

        Fewer when EM's own rule (:meth:`_Rule.loop_control`, its tolerance
        times ``loosen``) fires, which is only an early exit; None when an
        iteration needs a repair. ``state`` may be changed in place.
        """
        ...

    def result(self, state: Any, n_iter: int) -> _Fit:
        """The refit of ``state``, after ``n_iter`` M-steps."""
        ...


class _CompiledSteps:
    """Iterations by the compiled loop (``_compiled_em.em_loop``), state in its layout."""

    def __init__(
        self, refitter: _Refitter, X: FloatArray, w: FloatArray | None, rule: _Rule
    ) -> None:
        self.r = refitter
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.w = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
        tol, relative = rule.loop_control()
        self.control = (tol, relative, refitter.reg_covar, *refitter.inner)
        self.model = _MODEL_CODE[type(refitter.family)]

    def initial(self) -> Any:
        return tuple(a.copy() for a in self.r.start)

    def copy(self, state: Any) -> Any:
        return tuple(a.copy() for a in state)

    def advance(
        self, state: Any, m: int, lower: float, loosen: float = 1.0
    ) -> tuple[Any, Sequence[float]] | None:
        tol, relative, reg, inner_tol, inner_max = self.control
        status, _, bounds, _, _, _, _ = self.r.loop.em_loop(
            self.model,
            self.r.code,
            self.X,
            self.w,
            state,
            (tol * loosen, relative, int(m), reg, inner_tol, inner_max),
            float(lower),
            True,  # the family's own inner tolerance at every M-step, as mclust
        )
        if status == self.r.loop.HANDOFF:
            return None  # this replicate runs through fit_em
        return state, bounds

    def result(self, state: Any, n_iter: int) -> _Fit:
        weights, means, cov = state[0], state[1], state[2]
        return _Fit(
            weights.copy(), means.copy(), fast_em.from_layout(self.r.code, cov), n_iter
        )


class _NumpySteps:
    """Iterations by :func:`gaussmix.em.fit_em` (the reference), state a GMMParams."""

    def __init__(
        self, refitter: _Refitter, X: FloatArray, w: FloatArray | None, rule: _Rule
    ) -> None:
        self.r = refitter
        self.source = ArraySource(X, w)
        self.tol, self.relative = rule.loop_control()

    def initial(self) -> Any:
        return self.r.params

    def copy(self, state: Any) -> Any:
        return state  # immutable

    def advance(
        self, state: Any, m: int, lower: float, loosen: float = 1.0
    ) -> tuple[Any, Sequence[float]] | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fit_em(
                    self.source,
                    state,
                    self.r.family,
                    tol=self.tol * loosen,
                    relative_tol=self.relative,
                    max_iter=int(m),
                    reg_covar=self.r.reg_covar,
                    dtype=self.r.dtype,
                    lower_bound=lower,
                    equal_proportions=self.r.equal_proportions,
                    stop_at_repair=True,
                    inner_final=True,
                )
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            return None
        if result.repairs or not result.params.is_finite():
            return None
        return result.params, result.lower_bounds

    def result(self, state: Any, n_iter: int) -> _Fit:
        params: GMMParams = state
        return _Fit(
            np.array(params.weights, dtype=np.float64),
            np.array(params.means, dtype=np.float64),
            np.array(params.covariances, dtype=np.float64),
            n_iter,
        )


def _run_me(steps: _Steps, rule: _Rule, max_iter: int) -> _Fit | None:
    """Run mclust's ``me``: stop at the first ``t >= 2`` meeting ``rule``, give ``P_t``.

    ``P_k`` is the state after ``k`` M-steps from the model (``P_1`` is the
    M-step from its responsibilities) and ``b_k`` its bound. The iterations run
    in calls of several steps; a call computes ``b_k ... b_{k+m-1}`` and ends at
    ``P_{k+m}`` (or earlier, where EM's own rule fires). ``P_t`` is at hand when
    a call ends there, before computing ``b_t``: the next call, whose start is
    kept, then finds the rule met. So the first call runs until EM's own rule
    fires at :data:`LOOSEN` times the tolerance, which it does about one
    iteration before mclust's rule would, and the later calls end where EM's
    geometric rate of progress puts ``t`` (:func:`_forecast`). A call that goes
    past ``t`` is run again from its start, ``t - k`` steps: the same code on
    the same state gives the same numbers, so where the calls end never changes
    the result.
    """
    state = steps.initial()
    bounds: list[float] = []
    k = 0
    while k < max_iter:
        if bounds:
            m, loosen = _forecast(bounds, rule), 1.0
        else:
            m, loosen = max_iter, LOOSEN
        m = max(1, min(m, max_iter - k))
        start = k
        kept = steps.copy(state)
        lower = bounds[-1] if bounds else -math.inf
        got = steps.advance(state, m, lower, loosen)
        if got is None:
            return None
        state, new = got
        bounds.extend(new.tolist() if isinstance(new, np.ndarray) else new)
        k += len(new)
        for t in range(max(2, start), k):
            if rule.stops(bounds[t], bounds[t - 1]):
                if t > start:  # went past P_t: again from the call's start
                    again = steps.advance(kept, t - start, lower, loosen)
                    if again is None or len(again[1]) != t - start:
                        return None
                    kept = again[0]
                return steps.result(kept, t)
        if len(new) == 0:
            return None
    return steps.result(state, k)  # max_iter without meeting the rule


def _forecast(bounds: list[float], rule: _Rule) -> int:
    """Steps to take so that the call ends at the predicted ``P_t``.

    EM's progress ``delta_j = b_j - b_{j-1}`` shrinks about geometrically: from
    the last ratio, the first ``j`` with ``delta_j`` below the rule's threshold
    is forecast (one step at a time where the ratio says nothing).
    """
    k = len(bounds)
    if k < 3:
        return 1
    last, before = bounds[-1] - bounds[-2], bounds[-2] - bounds[-3]
    if not (last > 0.0 and before > 0.0 and last < before):
        return 1
    threshold = rule.threshold(bounds[-1])
    if last <= threshold:
        return 1
    ratio = last / before
    more = math.ceil(math.log(threshold / last) / math.log(ratio))
    # The call computes b_k ... and ends at P_t: t - k steps, t = k - 1 + more.
    return max(1, min(more - 1, 1000))


# ==================================================================== drawing
@dataclass(frozen=True, slots=True)
class _Replicate:
    """The data of one replicate: rows and weights (None: unweighted)."""

    X: FloatArray
    w: FloatArray | None
    total: float


class _Sampler:
    """Draws from a fitted mixture (mclust's ``sim``): counts, then normal rows.

    The component counts are multinomial, then each component's rows are
    ``mu_k + L_k z`` with ``L_k`` the Cholesky factor of its covariance and
    standard normal ``z`` (:meth:`MixtureModel.sample` draws through
    ``multivariate_normal``, an SVD and checks per call: 2 ms a sample here).
    """

    def __init__(self, model: MixtureModel) -> None:
        k, d = np.shape(model.means)
        weights = np.asarray(model.weights, dtype=np.float64)
        self.weights = weights / weights.sum()
        self.means = np.asarray(model.means, dtype=np.float64)
        cov = fast_em.to_layout(
            model.covariances, fast_em.storage_shape(model.family), k, d
        )
        self.factors = np.linalg.cholesky(cov)

    def draw(
        self, n: int, random_state: np.random.Generator | np.random.RandomState
    ) -> FloatArray:
        """``n`` rows, grouped by component."""
        counts = random_state.multinomial(n, self.weights)
        z = random_state.standard_normal((n, self.means.shape[1]))
        out = np.empty_like(z)
        start = 0
        for mean, factor, count in zip(self.means, self.factors, counts, strict=True):
            stop = start + int(count)
            out[start:stop] = mean + z[start:stop] @ factor.T
            start = stop
        return out


def _draw(
    method: str, X: FloatArray, sampler: _Sampler, rng: np.random.Generator
) -> _Replicate:
    """One replicate of "bs", "wlbs" or "pb", as MclustBootstrap draws it."""
    n = X.shape[0]
    if method == "bs":
        # sample(n, replace = TRUE): the distinct rows with their counts as
        # weights (the same fit as the repeated rows, on fewer rows).
        counts = np.bincount(rng.integers(0, n, size=n), minlength=n)
        kept = counts > 0
        return _Replicate(X[kept], counts[kept].astype(np.float64), float(n))
    if method == "wlbs":
        # w <- rexp(n); w <- w / max(w): Dirichlet weights up to scale.
        w = np.asarray(rng.exponential(size=n), dtype=np.float64)
        w /= w.max()
        return _Replicate(X, w, float(w.sum()))
    # "pb": n draws from the fitted mixture (mclust's sim).
    return _Replicate(sampler.draw(n, rng).astype(X.dtype, copy=False), None, float(n))


# =================================================================== bootstrap
def bootstrap(
    model: Any,
    X: Any,
    n_boot: int = 999,
    method: str = "bs",
    level: float = 0.95,
    random_state: Any = None,
    n_jobs: int | None = None,
) -> BootstrapResult:
    """Standard errors and intervals of a fitted mixture by resampling (``MclustBootstrap``).

    Every replicate refits the model by mclust's ``me`` (see the module notes):
    an M-step from the fitted model's responsibilities of the replicate's rows,
    then EM with mclust's default control (also for scikit-learn's four
    covariance types, whose own tolerance stops a refit after two
    iterations), keeping the covariance type and the model's ``reg_covar`` and
    ``equal_proportions``.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture (a fitted GaussianMixtureIC gives its best model),
        without a noise component or a prior.
    X : array-like of shape (n_samples, n_features)
        The data the model was fitted to.
    n_boot : int, default=999
        Number of replicates, at least 2 (ignored by the jackknife, which has
        one per row).
    method : {'bs', 'wlbs', 'pb', 'jk'}, default='bs'
        ``'bs'``: the nonparametric bootstrap (``n`` rows drawn with
        replacement); ``'wlbs'``: the weighted likelihood bootstrap (every row
        weighted by an exponential draw, scaled to a largest weight of 1, i.e.
        Dirichlet weights; EM stops as mclust's ``me.weighted``, when the
        weighted log-likelihood grows by at most ``1e-5``); ``'pb'``: the
        parametric bootstrap (``n`` rows drawn from the model); ``'jk'``: the
        jackknife (each row left out once; deterministic).
    level : float, default=0.95
        The default level of :meth:`BootstrapResult.ci`.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws; the results depend on it only (not on ``n_jobs``).
    n_jobs : int or None, default=None
        Processes refitting replicates: None runs them here, serially; -1 uses
        every usable core. With more than one, the replicates are shared with
        forked processes (where ``fork`` is available and no other thread
        runs) when the first ones predict a saving of at least 0.1 s. The
        default is serial because that did not pay on the 2 shared cores it
        was measured on (faithful, 999 "bs" replicates with the other core
        busy: 0.97 s with two processes against 0.49 s serially;
        ``benchmarks/bench_bootstrap.py``). The results do not depend on it.

    Returns
    -------
    BootstrapResult
        The replicates, ``se``, ``ci(level)`` and ``plot``.

    Raises
    ------
    ValueError
        For ``n_boot < 2``, an unknown ``method``, a ``level`` outside (0, 1),
        ``X`` of another width than the model's, an unfitted model (scikit-learn's
        ``NotFittedError``) or a model with noise or a prior.
    TypeError
        For a ``model`` that is not a gaussmix mixture.

    Notes
    -----
    **Label switching.** Each refit starts from the model's own
    responsibilities, so its components keep the model's labels: a component's
    replicates are those of the same cluster. Where components overlap
    strongly, EM may still carry one off to another's place; such replicates
    are kept as fitted, as mclust does (so the standard errors include that
    variability), and flagged in ``result.switched`` (matched by their means to
    the model's components, the best assignment is not the identity). To leave
    them out, index the replicates with ``~result.switched``.

    The random methods take the draws of NumPy's RandomState, not R's, so they
    agree with mclust within Monte Carlo error; the jackknife agrees with mclust
    within rounding, given the same fitted model.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.resampling import bootstrap
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
    >>> gm = GaussianMixture(2, covariance_type="VVV").fit(X)
    >>> result = bootstrap(gm, X, n_boot=50, random_state=0)
    >>> result.se["means"].shape
    (2, 2)
    >>> lower, upper = result.ci()["weights"]
    >>> bool(np.all(lower <= upper))
    True
    """
    n_boot = _check_n_boot(n_boot)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(
            f"method must be one of {', '.join(repr(m) for m in METHODS)} "
            f"({'; '.join(f'{k}: {v}' for k, v in METHODS.items())}); got {method!r}."
        )
    level = _check_level(level)
    check_random_state_value(random_state, "bootstrap", "random_state")
    n_workers = _check_n_jobs(n_jobs)
    estimator = _fitted_estimator(model)
    Xv = check_X(estimator, X, reset=False, min_samples=2)
    fitted = estimator.fitted_model()
    n = Xv.shape[0]
    n_refits = n if method == "jk" else n_boot
    if n_refits >= kernels.SELECT_MIN_FITS:
        kernels.load()  # many small fits: the compiled loop pays for its load
    refitter = _Refitter(
        fitted,
        equal_proportions=bool(getattr(estimator, "equal_proportions", False)),
        reg_covar=_reg_covar(estimator),
        dtype=Xv.dtype,
        n_rows=n,
    )
    random = check_random_state(random_state)
    with single_threaded_blas():
        if method == "jk":
            fits, n_nonfit = _jackknife(refitter, Xv, n_workers)
        else:
            fits, n_nonfit = _resampled(
                refitter, Xv, fitted, method, n_boot, random, n_workers
            )
    return _result(fits, n_nonfit, method, level, fitted)


def _reg_covar(estimator: MixtureEstimator) -> float:
    """The model's regularisation (kept in the refits), ``'auto'`` resolved."""
    if isinstance(estimator, GaussianMixture):
        return float(estimator.em_control().reg_covar)
    control = resolve_em_control(
        estimator.covariance_type, reg_covar=getattr(estimator, "reg_covar", AUTO)
    )
    return float(control.reg_covar)


def _map(work: Callable[[int], Any], n: int, n_workers: int) -> list[Any]:
    """``work(i)`` for ``i < n`` in order, here and in forked processes.

    The first :data:`PROCESS_PROBE` calls run here; the rest are shared with
    ``n_workers - 1`` forked children only when their time predicts a saving
    of at least :data:`PROCESS_MIN_SECONDS` (a fork costs some 20 ms here).
    Every call is the same computation wherever it runs, so the results do
    not depend on ``n_workers``.
    """
    start = time.perf_counter()
    probe = min(n, PROCESS_PROBE)
    results = [work(i) for i in range(probe)]
    rest = n - probe
    if rest == 0 or n_workers <= 1:
        return results + [work(i) for i in range(probe, n)]
    per_call = (time.perf_counter() - start) / probe
    saving = per_call * rest * (1.0 - 1.0 / n_workers)
    if saving < PROCESS_MIN_SECONDS or not can_fork():
        return results + [work(i) for i in range(probe, n)]
    return results + _forked(work, list(range(probe, n)), n_workers)


def _forked(work: Callable[[int], Any], todo: list[int], n_workers: int) -> list[Any]:
    """``work(i)`` for ``i`` in ``todo``, shared with ``n_workers - 1`` children.

    Child ``j`` takes every ``n_workers``-th item from the ``j``-th and sends its
    results back, pickled, through a pipe; this process takes the others. An
    item a child could not finish or send (it failed, or died) is run here
    afterwards, so an error of the work itself is raised here.
    """
    shares = [todo[j::n_workers] for j in range(n_workers)]
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    done: dict[int, Any] = {}
    complete = False
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        for share in shares[1:]:
            children.append(fork_child(partial(_child, work, share)))
        for i in shares[0]:
            done[i] = work(i)
        for _, read_end in children:
            done.update(collect_child_results(read_end))
        complete = True
    finally:
        for pid, read_end in children:
            with contextlib.suppress(OSError):
                os.close(read_end)
            with contextlib.suppress(ChildProcessError, ProcessLookupError):
                if not complete:
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    return [done[i] if i in done else work(i) for i in todo]


def _child(
    work: Callable[[int], Any], share: list[int], out: int
) -> None:  # pragma: no cover - runs in the forked child
    """A forked worker: run its share, send the results, exit (never return)."""
    code = 0
    try:
        results: dict[int, Any] = {}
        for i in share:
            try:
                results[i] = work(i)
            except Exception:  # the parent runs it again and raises
                break
        send_child_results(results, out)
    except BaseException:  # never return into the parent's code
        code = 1
    finally:
        os._exit(code)


def _jackknife(
    refitter: _Refitter, X: FloatArray, n_workers: int
) -> tuple[list[_Fit | None], int]:
    """Leave each row out once (mclust's ``jk``); a non-fit stays a NaN row."""
    n = X.shape[0]
    rule = refitter.rule(float(n - 1), weighted=False)

    def work(i: int) -> _Fit | None:
        return refitter.me(np.delete(X, i, axis=0), None, rule)

    fits = _map(work, n, n_workers)
    return fits, sum(f is None for f in fits)


def _resampled(
    refitter: _Refitter,
    X: FloatArray,
    model: MixtureModel,
    method: str,
    n_boot: int,
    random: np.random.RandomState,
    n_workers: int,
) -> tuple[list[_Fit | None], int]:
    """``n_boot`` refits of drawn replicates; a non-fit is replaced by a new draw.

    Draw ``a`` of replicate ``i`` comes from its own stream (seeded by ``i``,
    ``a`` and a seed drawn from ``random``), so the results depend on the seed
    only, wherever and in whatever order the replicates run. The replicates
    that were non-fits are drawn again in rounds, until every one is fitted or
    the non-fits reach ``10 n_boot`` (mclust's ``max.nonfit``); the rest are
    NaN.
    """
    weighted = method == "wlbs"
    sampler = _Sampler(model)
    seed = [int(v) for v in random.randint(0, 2**31 - 1, size=4)]
    limit = MAX_NONFIT_FACTOR * n_boot
    fits: list[_Fit | None] = [None] * n_boot
    pending = list(range(n_boot))
    n_nonfit = 0
    attempt = 0
    while pending and n_nonfit < limit:

        def work(j: int, attempt: int = attempt, pending: list[int] = pending) -> Any:
            i = pending[j]
            rep = _draw(method, X, sampler, np.random.default_rng([*seed, i, attempt]))
            return refitter.me(rep.X, rep.w, refitter.rule(rep.total, weighted))

        found = _map(work, len(pending), n_workers)
        for i, fit in zip(pending, found, strict=True):
            fits[i] = fit
        pending = [i for i, fit in zip(pending, found, strict=True) if fit is None]
        n_nonfit += len(pending)
        attempt += 1
    if pending:
        warnings.warn(
            f"bootstrap: {n_nonfit} refits needed a repair (a collapsing or empty "
            f"component), mclust's limit of {limit}; {len(pending)} of the {n_boot} "
            "replicates are NaN. The model may have too many components for "
            "these data.",
            DegenerateComponentWarning,
            stacklevel=3,
        )
    return fits, n_nonfit


def _result(
    fits: list[_Fit | None],
    n_nonfit: int,
    method: str,
    level: float,
    model: MixtureModel,
) -> BootstrapResult:
    """The result of the refits (NaN rows for the non-fits)."""
    n = len(fits)
    weights = np.full((n, *np.shape(model.weights)), np.nan)
    means = np.full((n, *np.shape(model.means)), np.nan)
    covariances = np.full((n, *np.shape(model.covariances)), np.nan)
    n_iter = np.full(n, -1, dtype=np.int64)
    for i, fit in enumerate(fits):
        if fit is None:
            continue
        weights[i] = fit.weights
        means[i] = fit.means
        covariances[i] = fit.covariances
        n_iter[i] = fit.n_iter
    estimate: dict[str, FloatArray] = {
        "weights": np.array(model.weights, dtype=np.float64),
        "means": np.array(model.means, dtype=np.float64),
        "covariances": np.array(model.covariances, dtype=np.float64),
    }
    return BootstrapResult(
        method=method,
        covariance_type=model.covariance_type,
        level=level,
        estimate=estimate,
        weights=weights,
        means=means,
        covariances=covariances,
        n_iter=n_iter,
        n_nonfit=int(n_nonfit),
        switched=_switched(means, model),
    )


def _switched(means: FloatArray, model: MixtureModel) -> Any:
    """Replicates whose best match of components to the model's is not the identity.

    The cost of matching replicate component ``j`` to model component ``k`` is
    the squared Mahalanobis distance of their means under component ``k``'s
    covariance. If every ``j`` is nearest to its own ``k = j``, the identity is
    the best assignment (it reaches the sum of the row minima); otherwise the
    Hungarian assignment decides.
    """
    k, d = np.shape(model.means)
    precisions = fast_em.to_layout(
        np.asarray(model.precisions, dtype=np.float64),
        fast_em.storage_shape(model.family),
        k,
        d,
    )
    diff = means[:, :, None, :] - np.asarray(model.means, dtype=np.float64)[None, None]
    cost = np.einsum("bjkd,kde,bjke->bjk", diff, precisions, diff)
    switched = np.zeros(means.shape[0], dtype=bool)
    finite = np.isfinite(cost).all(axis=(1, 2))
    own = np.argmin(np.where(np.isfinite(cost), cost, np.inf), axis=2)
    doubt = finite & (own != np.arange(k)).any(axis=1)
    if not doubt.any():
        return switched
    from scipy.optimize import linear_sum_assignment  # (0.5 s to import)

    for b in np.flatnonzero(doubt):
        rows, cols = linear_sum_assignment(cost[b])
        switched[b] = bool((cols[np.argsort(rows)] != np.arange(k)).any())
    return switched


# =============================================================== bootstrap LRT
def bootstrap_lrt(
    X: Any,
    covariance_type: str,
    max_components: int | None = None,
    n_boot: int = 999,
    level: float = 0.05,
    random_state: Any = None,
) -> BootstrapLRTResult:
    """The sequential bootstrap likelihood-ratio test for K (``mclustBootstrapLRT``).

    For ``g = 1, 2, ...``: fit ``g`` and ``g + 1`` components (mclust's
    hierarchical start and EM control), take the observed statistic
    ``2 (L_{g+1} - L_g)``, draw ``n_boot`` samples of ``n`` rows from the
    ``g``-component fit (the null), fit both models to each by EM started from
    the two fits' parameters (mclust's ``em``), and report the share of
    bootstrap statistics at least the observed one,
    ``(1 + #{LRTS_b >= LRTS}) / (n_boot + 1)``. A draw whose fit needs a repair
    is drawn again (mclust's ``NA`` statistic).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data.
    covariance_type : str
        The covariance type of every fit: one of mclust's model names, or
        scikit-learn's four names, which are tested as the same models under
        mclust's names ('full' as VVV, 'tied' EEE, 'diag' VVI, 'spherical'
        VII) and so with mclust's EM control.
    max_components : int or None, default=None
        mclust's ``maxG``: test ``g`` against ``g + 1`` for every
        ``g = 1 .. max_components`` (so fits of up to ``max_components + 1``
        components). None: mclust's sequence, which tests ``g = 1, 2, ...``
        up to 8 and stops after the first p-value above ``level``.
    n_boot : int, default=999
        Bootstrap samples per test, at least 2.
    level : float, default=0.05
        Where the sequence stops (only with ``max_components=None``).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.

    Returns
    -------
    BootstrapLRTResult
        ``table`` (``n_components``, ``statistic``, ``p_value``), the bootstrap
        ``replicates`` per row, and ``plot``.

    Notes
    -----
    The log-likelihoods are those mclust reports: of the parameters of the
    last E-step of each fit (``lower_bound_ * n_samples``), so the observed
    statistics equal mclust's within rounding on the same data.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix.resampling import bootstrap_lrt
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(6, 1, (100, 2))])
    >>> result = bootstrap_lrt(X, "EII", max_components=2, n_boot=19, random_state=0)
    >>> result.table["n_components"].tolist()
    [1, 2]
    >>> float(result.table["p_value"][0])  # 2 components beat 1 every time
    0.05
    """
    n_boot = _check_n_boot(n_boot)
    level = _check_level(level)
    model_name = _mclust_name(covariance_type)
    if max_components is not None and (
        isinstance(max_components, bool)
        or not isinstance(max_components, (int, np.integer))
        or max_components < 1
    ):
        raise ValueError(
            "max_components must be None (mclust's sequence up to 8) or an integer "
            f">= 1, the largest g tested against g + 1; got {max_components!r}."
        )
    check_random_state_value(random_state, "bootstrap_lrt", "random_state")
    Xv = check_X(GaussianMixture(), X, reset=True, min_samples=2)
    n = Xv.shape[0]
    top = LRT_DEFAULT_MAX_COMPONENTS if max_components is None else int(max_components)
    if top + 1 > n:
        raise ValueError(
            f"bootstrap_lrt: testing up to {top} against {top + 1} components needs "
            f"at least {top + 1} rows; X has {n}. Lower max_components."
        )
    kernels.load()  # n_boot x 2 small fits per test
    random = check_random_state(random_state)
    fits: dict[int, tuple[MixtureModel, float]] = {}
    records: list[tuple[int, float, float]] = []
    columns: list[FloatArray] = []
    with single_threaded_blas():
        for g in range(1, top + 1):
            for k in (g, g + 1):
                if k not in fits:
                    fits[k] = _lrt_fit(Xv, model_name, k, random)
            null, loglik0 = fits[g]
            alternative, loglik1 = fits[g + 1]
            observed = 2.0 * (loglik1 - loglik0)
            sampler = _Sampler(null)
            refit0 = _lrt_refitter(null, Xv)
            refit1 = _lrt_refitter(alternative, Xv)
            stats = np.empty(n_boot)
            b = nonfit = 0
            while b < n_boot:
                Xb = sampler.draw(n, random).astype(Xv.dtype, copy=False)
                l0 = refit0.em(Xb)
                l1 = refit1.em(Xb) if l0 is not None else None
                if l0 is None or l1 is None:
                    # mclust draws again after an NA statistic (without a limit).
                    nonfit += 1
                    if nonfit >= MAX_NONFIT_FACTOR * n_boot:
                        raise ValueError(
                            f"bootstrap_lrt: {nonfit} bootstrap fits of {g} or "
                            f"{g + 1} components needed a repair (a collapsing or "
                            "empty component). Lower max_components or choose "
                            "another covariance_type."
                        )
                    continue
                stats[b] = 2.0 * (l1 - l0)
                b += 1
            p_value = (1.0 + float(np.sum(stats >= observed))) / (n_boot + 1.0)
            records.append((g, observed, p_value))
            columns.append(stats)
            if max_components is None and p_value > level:
                break
    return BootstrapLRTResult(
        covariance_type=model_name,
        n_boot=n_boot,
        level=level,
        table=_table(records, _LRT_COLUMNS),
        replicates=np.column_stack(columns),
    )


def _lrt_fit(
    X: FloatArray, covariance_type: str, k: int, random: np.random.RandomState
) -> tuple[MixtureModel, float]:
    """The ``k``-component fit of the test and mclust's log-likelihood of it.

    mclust's hierarchical start for every covariance type (``mclustBIC``).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegenerateComponentWarning)
        gm = GaussianMixture(
            k, covariance_type=covariance_type, init_params="hc", random_state=random
        ).fit(X)
    if any(issubclass(w.category, DegenerateComponentWarning) for w in caught):
        raise ValueError(
            f"bootstrap_lrt: the {k}-component {covariance_type} fit is degenerate "
            "(a component collapsed; mclust reports its BIC as NA). Lower "
            "max_components or choose another covariance_type."
        )
    return gm.fitted_model(), float(gm.lower_bound_) * X.shape[0]


def _lrt_refitter(model: MixtureModel, X: FloatArray) -> _Refitter:
    """The refits of a test's bootstrap samples from ``model`` (mclust's ``em``)."""
    control = resolve_em_control(model.covariance_type)
    return _Refitter(
        model,
        equal_proportions=False,
        reg_covar=control.reg_covar,
        dtype=X.dtype,
        n_rows=X.shape[0],
    )


def _mclust_name(covariance_type: str) -> str:
    """The name in mclust of a covariance type (scikit-learn's four have one each)."""
    family = get_family(covariance_type)  # the registry's error for unknown names
    if family.group != SKLEARN_GROUP:
        return covariance_type
    return next(
        name
        for name in family_names(MCLUST_GROUP)
        if type(get_family(name)) is type(family)
    )
