"""Tail probabilities of a fitted mixture: how unusual is a point.

The tail probability of ``x`` is the share of the model's probability mass that
lies where the density is at most the density at ``x``:
``P(p(Y) <= p(x))`` for ``Y`` drawn from the model. It is 1 at the most likely
point, tends to 0 far out, and is uniformly distributed on data drawn from the
model, which makes it a calibrated anomaly score (a tail probability of 0.01 is
exceeded by 99% of the model's draws).

It is computed exactly where that is possible, otherwise by Monte Carlo:

* one component: ``p(y) <= p(x)`` iff the Mahalanobis distance of ``y`` is at
  least that of ``x``, and the squared distance is chi-square with ``D`` degrees
  of freedom, so the answer is ``chi2.sf(d2(x), D)``;
* one feature: the set ``{y : p(y) <= p(x)}`` is a union of intervals whose
  ends are found by root finding on the density, and its mass is a sum of
  normal CDF differences (exact to the root finder's tolerance, 1e-12 relative);
* otherwise the fraction of ``n_samples`` draws from the model whose log-density
  is at most that of ``x``, with standard error ``sqrt(q (1 - q) / n_samples)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, special, stats
from sklearn.utils import check_random_state

from gaussmix._typing import FloatArray
from gaussmix._validation import is_count
from gaussmix.model import MixtureModel

__all__ = ["tail_probability"]

# Points per component on each side of its mean, and the span in standard
# deviations, of the grid that brackets the level crossings in one dimension.
_GRID_POINTS = 600
_GRID_SPAN = 40.0


def _log_density(model: MixtureModel, X: FloatArray, n_threads: int) -> FloatArray:
    log_density, _, _ = model.log_prob_resp(X, want_resp=False, n_threads=n_threads)
    return log_density


def _one_component(model: MixtureModel, X: FloatArray, n_threads: int) -> FloatArray:
    d2 = -2.0 * (_log_density(model, X, n_threads).astype(np.float64))
    # log p(x) = -0.5 d2 - 0.5 log det(2 pi Sigma): remove the constant.
    mean = np.asarray(model.means[0:1], dtype=model.means.dtype)
    d2_mean = -2.0 * float(_log_density(model, mean, n_threads)[0])
    maha = np.maximum(d2 - d2_mean, 0.0)
    return np.asarray(stats.chi2.sf(maha, df=model.n_features), dtype=np.float64)


def _one_feature(model: MixtureModel, X: FloatArray) -> FloatArray:
    means = np.asarray(model.means, dtype=np.float64).ravel()
    sds = np.sqrt(
        np.asarray(model.covariances, dtype=np.float64).reshape(-1)
        * np.ones_like(means)
    )
    weights = np.asarray(model.weights, dtype=np.float64)
    log_w = np.log(weights)

    def logpdf(y: FloatArray) -> FloatArray:
        z = (y[:, None] - means) / sds
        return np.asarray(
            special.logsumexp(
                log_w - 0.5 * z * z - np.log(sds * np.sqrt(2 * np.pi)), axis=1
            )
        )

    def cdf(y: float) -> float:
        return float(weights @ special.ndtr((y - means) / sds))

    # A grid dense around every component, so no crossing between two grid
    # points is missed (the density is unimodal on a scale of its narrowest
    # component's standard deviation near it).
    offsets = np.linspace(-_GRID_SPAN, _GRID_SPAN, 2 * _GRID_POINTS + 1)
    grid = np.unique((means[:, None] + sds[:, None] * offsets).ravel())
    on_grid = logpdf(grid)
    # Add every mode of the density: a level just below a peak has an "above"
    # region narrower than the grid spacing, which only the peak itself brackets.
    peaks = np.nonzero(
        (on_grid[1:-1] >= on_grid[:-2]) & (on_grid[1:-1] >= on_grid[2:])
    )[0]
    modes = []
    for i in peaks + 1:
        found = optimize.minimize_scalar(
            lambda y: -float(logpdf(np.array([y]))[0]),
            bounds=(float(grid[i - 1]), float(grid[i + 1])),
            method="bounded",
            options={"xatol": 1e-14 * max(1.0, abs(float(grid[i])))},
        )
        modes.append(float(found.x))
    if modes:
        grid = np.unique(np.concatenate([grid, modes]))
        on_grid = logpdf(grid)
    out = np.empty(X.shape[0])
    for n, x in enumerate(np.asarray(X, dtype=np.float64).ravel()):
        level = float(logpdf(np.array([x]))[0])
        above = on_grid > level
        if not above.any():
            out[n] = 1.0
            continue
        flips = np.nonzero(above[1:] != above[:-1])[0]
        ends = []
        for i in flips:
            a, b = float(grid[i]), float(grid[i + 1])
            root = optimize.brentq(
                lambda y, lv=level: float(logpdf(np.array([y]))[0]) - lv,
                a,
                b,
                xtol=1e-14 * max(1.0, abs(a)),
                rtol=1e-12,
            )
            ends.append(root)
        # Mass where the density is above the level: between consecutive ends
        # that open and close an "above" run.
        mass_above = 0.0
        edges = [-np.inf, *ends, np.inf]
        states = [bool(above[0])] + [not above[i] for i in flips]
        for k, state in enumerate(states):
            if state:
                mass_above += cdf(edges[k + 1]) - cdf(edges[k])
        out[n] = min(1.0, max(0.0, 1.0 - mass_above))
    return out


def tail_probability(
    model: MixtureModel,
    X: FloatArray,
    *,
    n_samples: int,
    random_state: Any,
    method: str,
    n_threads: int = 1,
) -> tuple[FloatArray, FloatArray]:
    """Tail probability of each row of validated ``X`` and its standard error.

    The error is 0 where the value is exact. See
    :meth:`gaussmix.GaussianMixture.tail_probability`.
    """
    if method not in ("auto", "exact", "monte-carlo"):
        raise ValueError(
            f"Invalid value for 'method': {method!r}. Use 'auto', 'exact' or "
            "'monte-carlo'."
        )
    if not is_count(n_samples, 100):
        raise ValueError(
            f"Invalid value for 'n_samples': {n_samples!r}. Use an integer >= 100 "
            "(the Monte Carlo standard error is about 0.5 / sqrt(n_samples))."
        )
    log_density = _log_density(model, X, n_threads).astype(np.float64)
    n_components, n_features = model.means.shape
    exact_possible = n_components == 1 or n_features == 1
    if method == "exact" and not exact_possible:
        raise ValueError(
            "An exact tail probability needs one component or one feature; this "
            f"model has {n_components} components and {n_features} features. Use "
            "method='monte-carlo' (or 'auto')."
        )
    if method != "monte-carlo" and exact_possible:
        q = (
            _one_component(model, X, n_threads)
            if n_components == 1
            else _one_feature(model, X)
        )
        return q, np.zeros_like(q)
    draws, _ = model.sample(int(n_samples), check_random_state(random_state))
    reference = np.sort(_log_density(model, draws, n_threads).astype(np.float64))
    q = np.searchsorted(reference, log_density, side="right") / reference.shape[0]
    # At 0 or 1 the binomial error would read 0; clip to one draw's worth so
    # the error says "resolution 1 / n_samples" instead.
    n = reference.shape[0]
    q_safe = np.clip(q, 1.0 / n, 1.0 - 1.0 / n)
    std = np.sqrt(q_safe * (1.0 - q_safe) / n)
    return q, std
