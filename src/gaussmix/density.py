"""Density regions of a fitted mixture: CDF, quantiles and highest-density regions.

R mclust's ``cdfMclust``, ``quantileMclust`` and ``hdrlevels`` for gaussmix's
models, and a plot of the regions:

* :func:`cdf`: the mixture's cumulative distribution function for one feature,
  ``F(x) = sum_k w_k Phi((x - mu_k) / sigma_k)``;
* :func:`quantile`: its inverse, by root finding between the components'
  quantiles (the mixture's quantile always lies between the smallest and the
  largest of them);
* :func:`hdr_levels`: the density levels of the highest-density regions that
  hold given shares of the data (mclust's ``hdrlevels``), in any dimension;
* :func:`plot_hdr`: those regions drawn in one dimension (the density curve,
  shaded) or two (filled contours), labelled by the probability they enclose.

A density value is not a probability: it depends on the units of ``X`` and can
exceed 1. A highest-density region is the set ``{x : p(x) >= c}``; its *level*
``c`` is a density, and the *probability* it encloses is the model's mass in
that set. :func:`hdr_levels` returns levels; the plots label every region by
its probability and the density axis as a density.

Every function takes a fitted estimator (any gaussmix mixture estimator,
``GaussianMixture`` among them) or a :class:`gaussmix.model.MixtureModel`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from scipy import optimize, special

from gaussmix._docs import fill_doc
from gaussmix._inputs import as_float64
from gaussmix._mpl import pyplot
from gaussmix._typing import FloatArray
from gaussmix.model import MixtureModel

__all__ = ["cdf", "hdr_levels", "plot_hdr", "quantile"]

#: Draws of the model from which :func:`plot_hdr` estimates the levels when no
#: data are given (Monte Carlo standard error of the enclosed probability about
#: ``sqrt(p (1 - p) / n)``, at most 0.005), and their fixed seed.
PLOT_DRAWS: Final = 10_000
PLOT_SEED: Final = 0

#: Grid points per axis of :func:`plot_hdr` (1-D: points of the curve).
_GRID_1D: Final = 1000
_GRID_2D: Final = 200
#: Values per block of :func:`cdf` (a few MB of temporaries per component).
_CDF_BLOCK: Final = 1 << 16


# ---------------------------------------------------------------- the model
def _resolve(model: Any, func: str) -> MixtureModel:
    """The fitted :class:`MixtureModel` of an estimator (or the model itself)."""
    if isinstance(model, MixtureModel):
        return model
    fitted = getattr(model, "fitted_model", None)
    if not callable(fitted):
        raise TypeError(
            f"{func}: model must be a fitted gaussmix mixture (a GaussianMixture, "
            f"say) or a gaussmix.model.MixtureModel; got {type(model).__name__}."
        )
    resolved = fitted()  # raises NotFittedError, naming the estimator, if unfitted
    if not isinstance(resolved, MixtureModel):
        raise TypeError(
            f"{func}: {type(model).__name__}.fitted_model() returned "
            f"{type(resolved).__name__}, not a gaussmix.model.MixtureModel."
        )
    return resolved


def _one_feature(model: MixtureModel, func: str) -> tuple[FloatArray, ...]:
    """Weights (summing to 1), means and standard deviations of a 1-feature model.

    With a noise component the Gaussian weights are rescaled to sum to 1, as
    mclust's ``cdfMclust`` does: the noise term, the same density everywhere,
    has no distribution function.
    """
    if model.n_features != 1:
        raise ValueError(
            f"{func} is defined for one feature; this model has {model.n_features}. "
            "Fit a model on one column (X[:, [j]]) for the distribution of that "
            "feature."
        )
    k = model.n_components
    weights = np.asarray(model.weights, dtype=np.float64)
    if model.noise_log_density is not None:
        weights = weights / weights.sum()
    means = np.asarray(model.means, dtype=np.float64).reshape(k)
    variances = model.family.to_dense(
        np.asarray(model.covariances, dtype=np.float64), k, 1
    ).reshape(k)
    return weights, means, np.sqrt(variances)


# ------------------------------------------------------------------ inputs
def _values(x: Any, func: str, what: str) -> tuple[FloatArray, tuple[int, ...]]:
    """``x`` as a flat float64 array, and the shape of the result.

    A number, a 1-D array or a one-column 2-D array; the result has the shape of
    ``x`` (``(n,)`` for an ``(n, 1)`` column).
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{func}: {what} must be numeric; got a string {x!r}.")
    arr = as_float64(
        x, func, what, f"a number or an array of numbers; got {type(x).__name__}"
    )
    if arr.ndim == 2 and arr.shape[1] == 1:
        shape: tuple[int, ...] = (arr.shape[0],)
    elif arr.ndim <= 1:
        shape = arr.shape
    else:
        raise ValueError(
            f"{func}: {what} has shape {arr.shape}; pass a number, a 1-D array or "
            "an array of shape (n_samples, 1) (the model has one feature)."
        )
    flat = arr.reshape(-1)
    if np.isnan(flat).any():
        raise ValueError(
            f"{func}: {what} has {int(np.isnan(flat).sum())} NaN value(s); drop "
            "or impute them first."
        )
    return flat, shape


def _probabilities(p: Any, func: str) -> tuple[FloatArray, tuple[int, ...]]:
    """Probabilities as a flat float64 array in [0, 1], and their shape."""
    if isinstance(p, (str, bytes)):
        raise TypeError(f"{func}: the probabilities must be numeric; got {p!r}.")
    arr = as_float64(
        p,
        func,
        "the probabilities",
        f"a number or an array of numbers; got {type(p).__name__}",
    )
    flat = arr.reshape(-1)
    bad = ~((flat >= 0.0) & (flat <= 1.0))  # NaN is bad too
    if bad.any():
        shown = ", ".join(f"{v:g}" for v in flat[bad][:5])
        raise ValueError(
            f"{func}: probabilities must lie in [0, 1]; got {shown}. A probability "
            "is a share of the model's mass (0.9 for 90%), not a density value."
        )
    return flat, arr.shape


def _log_sum_exp(a: FloatArray) -> float:
    """``log sum exp(a)`` of a short vector (scipy's logsumexp took 0.6 ms a call)."""
    top = float(a.max())
    if not math.isfinite(top):
        return top
    return top + math.log(float(np.exp(a - top).sum()))


def _log_cdf(x: float, log_w: FloatArray, means: FloatArray, sds: FloatArray) -> float:
    """``log F(x)``, accurate in the lower tail (``log_ndtr``, log-sum-exp)."""
    return _log_sum_exp(log_w + special.log_ndtr((x - means) / sds))


def _log_sf(x: float, log_w: FloatArray, means: FloatArray, sds: FloatArray) -> float:
    """``log(1 - F(x))``, accurate in the upper tail."""
    return _log_sum_exp(log_w + special.log_ndtr((means - x) / sds))


# -------------------------------------------------------------- CDF, quantile
def cdf(model: Any, x: Any) -> FloatArray:
    """Cumulative distribution function of a one-feature mixture.

    ``F(x) = P(X <= x) = sum_k w_k Phi((x - mu_k) / sigma_k)`` (R mclust's
    ``cdfMclust``), for any covariance type with one feature (scikit-learn's
    four, mclust's ``E`` and ``V`` and the multivariate names).

    Parameters
    ----------
    model : fitted mixture estimator or MixtureModel
        A fitted ``GaussianMixture`` (or other gaussmix mixture) with one feature.
    x : float or array-like of shape (n,) or (n, 1)
        Values at which to evaluate; ``-inf`` and ``inf`` give 0 and 1.

    Returns
    -------
    ndarray
        ``F(x)`` in [0, 1], shaped as ``x`` (``(n,)`` for an ``(n, 1)`` column;
        a 0-d array for a number).

    Raises
    ------
    ValueError
        If the model has more than one feature, or ``x`` has NaN values or
        more than one column.
    TypeError
        If ``model`` is not a gaussmix mixture or ``x`` is not numeric.

    Notes
    -----
    With a noise component, this is the distribution of the Gaussian part
    (its weights rescaled to sum to 1), as ``cdfMclust`` computes it. Unlike
    ``cdfMclust``, which returns the values sorted, the result keeps the order
    of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.density import cdf
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, 300), rng.normal(6, 1, 300)][:, None]
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> cdf(gm, [-10.0, 3.0, 20.0]).round(2)
    array([0. , 0.5, 1. ])
    """
    resolved = _resolve(model, "cdf")
    weights, means, sds = _one_feature(resolved, "cdf")
    values, shape = _values(x, "cdf", "x")
    # sum_k w_k Phi(z_k): the lower tail keeps its relative accuracy (ndtr is
    # accurate there, and the terms are positive); near 1 the value is 1 - sf
    # rounded either way.
    out = np.empty_like(values)
    for start in range(0, values.size, _CDF_BLOCK):  # bounded (block, K) temporaries
        block = values[start : start + _CDF_BLOCK]
        out[start : start + block.size] = (
            special.ndtr((block[:, None] - means) / sds) @ weights
        )
    np.clip(out, 0.0, 1.0, out=out)
    # The weights sum to 1 only to rounding; the ends are exact.
    out[values == np.inf] = 1.0
    out[values == -np.inf] = 0.0
    return np.asarray(out.reshape(shape), dtype=np.float64)


@fill_doc
def quantile(model: Any, p: Any) -> FloatArray:
    """Quantile function of a one-feature mixture: the inverse of :func:`cdf`.

    For each probability ``p`` the value ``x`` with ``F(x) = p`` (R mclust's
    ``quantileMclust``), found by Brent's method between the smallest and the
    largest of the components' own ``p``-quantiles, where ``F - p`` changes
    sign. The equation is solved on ``log F`` for ``p <= 1/2`` and on
    ``log(1 - F)`` above, so probabilities near 0 or 1 (``1e-300``,
    ``1 - 1e-15``) keep their accuracy.

    Parameters
    ----------
    model : fitted mixture estimator or MixtureModel
        A fitted ``GaussianMixture`` (or other gaussmix mixture) with one feature.
    {{quantile_p}}

    Returns
    -------
    {{quantile_returns}}

    Raises
    ------
    ValueError
        If a probability is outside [0, 1] or NaN, or the model has more than
        one feature.
    TypeError
        If ``model`` is not a gaussmix mixture or ``p`` is not numeric.

    Notes
    -----
    The root is found to a few units in the last place of ``x``
    (``quantileMclust`` stops R's ``uniroot`` at an absolute tolerance of
    ``sqrt(eps) = 1.5e-8``, so the two agree within that). With a noise
    component, the quantile of the Gaussian part, as in :func:`cdf`.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.density import cdf, quantile
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, 300), rng.normal(6, 1, 300)][:, None]
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> q = quantile(gm, [0.1, 0.5, 0.9])
    >>> np.allclose(cdf(gm, q), [0.1, 0.5, 0.9])
    True
    """
    resolved = _resolve(model, "quantile")
    weights, means, sds = _one_feature(resolved, "quantile")
    probs, shape = _probabilities(p, "quantile")
    log_w = np.log(weights, where=weights > 0, out=np.full_like(weights, -np.inf))
    out = np.empty_like(probs)
    # Resolution of x: far below any component's width, and never 0.
    xtol = max(4.0 * np.finfo(np.float64).eps * float(sds.min()), 1e-300)
    for i, prob in enumerate(probs.tolist()):
        if prob <= 0.0:
            out[i] = -np.inf
            continue
        if prob >= 1.0:
            out[i] = np.inf
            continue
        # Each component's p-quantile brackets the mixture's (F is their
        # weighted average), as in quantileMclust.
        own = means + sds * special.ndtri(prob)
        lo, hi = float(own.min()), float(own.max())
        if lo == hi:
            out[i] = lo
            continue
        out[i] = _root(prob, lo, hi, log_w, means, sds, xtol)
    return np.asarray(out.reshape(shape), dtype=np.float64)


def _root(
    prob: float,
    lo: float,
    hi: float,
    log_w: FloatArray,
    means: FloatArray,
    sds: FloatArray,
    xtol: float,
) -> float:
    """The ``x`` in ``[lo, hi]`` with ``F(x) = prob``, solved in log space."""
    if prob <= 0.5:
        target = math.log(prob)

        def gap(x: float) -> float:
            return _log_cdf(x, log_w, means, sds) - target

    else:
        target = math.log1p(-prob)

        def gap(x: float) -> float:  # decreasing in x: negate to keep F's sign
            return target - _log_sf(x, log_w, means, sds)

    g_lo, g_hi = gap(lo), gap(hi)
    if g_lo == 0.0:
        return lo
    if g_hi == 0.0:
        return hi
    if g_lo > 0.0 or g_hi < 0.0:
        # Mathematically F(lo) <= p <= F(hi); rounding can move a bracket end
        # that lies within an ulp of the root to the wrong side.
        return lo if abs(g_lo) <= abs(g_hi) else hi
    root = optimize.brentq(
        gap, lo, hi, xtol=xtol, rtol=4.0 * np.finfo(np.float64).eps, maxiter=500
    )
    return float(root)


# -------------------------------------------------------------------- levels
def _log_density(model: Any, resolved: MixtureModel, X: Any, func: str) -> FloatArray:
    """``log p(x)`` of every row of ``X``, validated as the estimator validates."""
    score = getattr(model, "score_samples", None)
    if not isinstance(model, MixtureModel) and callable(score):
        return np.asarray(score(X), dtype=np.float64)
    d = resolved.n_features
    arr = as_float64(X, func, "X", f"numeric, array-like of shape (n_samples, {d})")
    if arr.ndim == 1 and d == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != d or arr.shape[0] == 0:
        raise ValueError(
            f"{func}: X has shape {arr.shape}; the model takes rows of {d} "
            f"feature{'s' if d > 1 else ''}: pass X of shape (n_samples, {d}), "
            "n_samples >= 1."
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{func}: X has NaN or infinite values; drop or impute them.")
    log_density, _, _ = resolved.log_prob_resp(
        arr.astype(resolved.dtype, copy=False), want_resp=False
    )
    return np.asarray(log_density, dtype=np.float64)


def hdr_levels(model: Any, X: Any, prob: Any) -> FloatArray:
    """Density levels of the highest-density regions that hold ``prob`` of the data.

    R mclust's ``hdrlevels(density, prob)`` with ``density`` the model's density
    at the rows of ``X``: the level for ``prob`` is the ``1 - prob`` sample
    quantile of those densities (R's default quantile, type 7, which is
    NumPy's ``"linear"``), so that a share ``prob`` of the rows has a density
    at least that level. The region ``{x : p(x) >= level}`` is the
    highest-density region that encloses about ``prob`` of the probability;
    on data drawn from the model, exactly that in the limit.

    Parameters
    ----------
    model : fitted mixture estimator or MixtureModel
        A fitted gaussmix mixture, any number of features.
    X : array-like of shape (n_samples, n_features)
        The data (usually the training data, as mclust uses ``object$density``).
    prob : float or array-like of shape (n_levels,)
        Probabilities in [0, 1] that the regions enclose.

    Returns
    -------
    levels : ndarray of shape (n_levels,)
        Density levels, one per probability, in the order of ``prob``: a larger
        probability gives a lower level (a larger region). They are density
        values (units of ``1 / X`` per feature), not probabilities.

    Raises
    ------
    ValueError
        If a probability is outside [0, 1] or NaN (``hdrlevels`` clips it
        silently), or ``X`` does not fit the model.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.density import hdr_levels
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> gm = GaussianMixture(1, random_state=0).fit(X)
    >>> levels = hdr_levels(gm, X, [0.5, 0.9])
    >>> bool(levels[0] > levels[1])
    True
    """
    resolved = _resolve(model, "hdr_levels")
    probs, _ = _probabilities(prob, "hdr_levels")
    density = np.exp(_log_density(model, resolved, X, "hdr_levels"))
    alpha = 1.0 - probs
    return np.asarray(np.quantile(density, alpha, method="linear"), dtype=np.float64)


# ---------------------------------------------------------------------- plot
def _feature_names(model: Any, d: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == d:
        return [str(n) for n in names]
    return [f"feature {i}" for i in range(d)]


def _percent(p: float) -> str:
    """``0.5 -> '50%'``, ``0.025 -> '2.5%'``."""
    return f"{100.0 * p:.4g}%"


def _plot_points(X: Any, d: int) -> FloatArray:
    arr = np.asarray(X, dtype=np.float64)
    return arr.reshape(-1, 1) if arr.ndim == 1 and d == 1 else arr


def plot_hdr(
    model: Any,
    X: Any = None,
    prob: Sequence[float] | float = (0.25, 0.5, 0.75),
    ax: Any = None,
) -> dict[str, Any]:
    """Draw the highest-density regions of a mixture with one or two features.

    The region of probability ``p`` is ``{x : p(x) >= c_p}``, with the level
    ``c_p`` from :func:`hdr_levels`: on the data ``X`` when given (mclust's
    way), else on :data:`PLOT_DRAWS` draws of the model (seed
    :data:`PLOT_SEED`, so the figure is reproducible). In one dimension the
    density curve is drawn with each region shaded under it and its level as a
    dotted line; in two, filled contours at the levels. Regions are labelled by
    the probability they enclose; the density axis (1-D) is labelled as a
    density, and a level is never called a probability.

    Parameters
    ----------
    model : fitted mixture estimator or MixtureModel
        A fitted gaussmix mixture with one or two features.
    X : array-like of shape (n_samples, n_features), default=None
        Data: the levels are computed on them, and they are drawn (a rug in
        1-D, points in 2-D).
    prob : float or sequence of float, default=(0.25, 0.5, 0.75)
        Probabilities in (0, 1] enclosed by the regions.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    dict
        ``ax``; ``prob`` and ``levels`` (sorted by decreasing probability, so
        by increasing level); ``grid`` and ``density`` (the curve, 1-D; for 2-D
        ``grid`` is the pair of mesh arrays and ``density`` the mesh values);
        ``regions`` (1-D: one filled artist per probability; 2-D: the filled
        contour set), ``legend`` and ``points`` (the data's artist or None).

    Raises
    ------
    ValueError
        If the model has more than two features or a probability is outside
        (0, 1].
    ImportError
        If matplotlib is not installed.
    """
    resolved = _resolve(model, "plot_hdr")
    d = resolved.n_features
    if d not in (1, 2):
        raise ValueError(
            f"plot_hdr draws one or two features; this model has {d}. Fit a model "
            "on the two columns to show (or use hdr_levels, which takes any "
            "number of features)."
        )
    probs, _ = _probabilities(prob, "plot_hdr")
    if probs.size == 0 or np.any(probs <= 0.0):
        raise ValueError(
            "plot_hdr: give at least one probability, each in (0, 1]; a region "
            "that encloses probability 0 is empty."
        )
    probs = np.unique(probs)[::-1]  # largest region first: drawn underneath
    if X is None:
        draws, _ = resolved.sample(PLOT_DRAWS, np.random.RandomState(PLOT_SEED))
        levels = hdr_levels(resolved, draws, probs)
        points = None
    else:
        levels = hdr_levels(model, X, probs)
        points = _plot_points(X, d)

    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(
            figsize=(7.0, 4.5) if d == 1 else (6.5, 5.5), layout="constrained"
        )
    names = _feature_names(model, d)
    cmap = plt.get_cmap("Blues")
    # Lightest for the largest region; darker inside.
    shades = [cmap(v) for v in np.linspace(0.3, 0.8, probs.size)]
    drawn: dict[str, Any] = {"ax": ax, "prob": probs, "levels": levels}
    if d == 1:
        drawn.update(_draw_1d(ax, resolved, points, probs, levels, shades, names[0]))
    else:
        drawn.update(_draw_2d(ax, resolved, points, probs, levels, shades, names))
    return drawn


def _span(
    resolved: MixtureModel, points: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Per feature, a range that holds the data and every component to 4 sd."""
    k, d = resolved.n_components, resolved.n_features
    means = np.asarray(resolved.means, dtype=np.float64)
    dense = resolved.family.to_dense(
        np.asarray(resolved.covariances, dtype=np.float64), k, d
    )
    sds = np.sqrt(np.diagonal(dense, axis1=1, axis2=2))
    lo = (means - 4.0 * sds).min(axis=0)
    hi = (means + 4.0 * sds).max(axis=0)
    if points is not None:
        lo = np.minimum(lo, points.min(axis=0))
        hi = np.maximum(hi, points.max(axis=0))
    return lo, hi


def _draw_1d(
    ax: Any,
    resolved: MixtureModel,
    points: FloatArray | None,
    probs: FloatArray,
    levels: FloatArray,
    shades: list[Any],
    name: str,
) -> dict[str, Any]:
    lo, hi = _span(resolved, points)
    grid = np.linspace(lo[0], hi[0], _GRID_1D)
    density = np.exp(_log_density(resolved, resolved, grid[:, None], "plot_hdr"))
    regions = []
    for p, level, shade in zip(probs, levels, shades, strict=True):
        regions.append(
            ax.fill_between(
                grid,
                0.0,
                density,
                where=density >= level,
                color=shade,
                linewidth=0,
                label=f"{_percent(p)} highest-density region",
            )
        )
        ax.axhline(level, color=shade, linestyle=":", linewidth=1)
    ax.plot(grid, density, color="k", linewidth=1.5, label="mixture density")
    drawn_points = None
    if points is not None:
        (drawn_points,) = ax.plot(
            points[:, 0],
            np.zeros(points.shape[0]),
            linestyle="none",
            marker="|",
            markersize=8,
            color="0.3",
            alpha=0.5,
            label="data",
        )
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel(name)
    ax.set_ylabel("density")
    ax.set_title("highest-density regions, by the probability they enclose")
    legend = ax.legend(loc="upper right", fontsize="small")
    return {
        "grid": grid,
        "density": density,
        "regions": regions,
        "legend": legend,
        "points": drawn_points,
    }


def _draw_2d(
    ax: Any,
    resolved: MixtureModel,
    points: FloatArray | None,
    probs: FloatArray,
    levels: FloatArray,
    shades: list[Any],
    names: list[str],
) -> dict[str, Any]:
    from matplotlib.patches import Patch

    lo, hi = _span(resolved, points)
    pad = 0.05 * (hi - lo)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], _GRID_2D)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], _GRID_2D)
    mx, my = np.meshgrid(gx, gy)
    mesh = np.column_stack([mx.ravel(), my.ravel()])
    density = np.exp(_log_density(resolved, resolved, mesh, "plot_hdr")).reshape(
        mx.shape
    )
    # Levels increase as the probability falls; contourf needs them strictly
    # increasing (tied densities can give equal levels) and a top bound above
    # every value of the mesh.
    bounds = levels.astype(np.float64).copy()
    for i in range(1, bounds.size):
        if bounds[i] <= bounds[i - 1]:
            bounds[i] = np.nextafter(bounds[i - 1], np.inf)
    top = np.nextafter(max(float(density.max()), float(bounds[-1])), np.inf)
    bounds = np.append(bounds, top)
    regions = ax.contourf(mx, my, density, levels=bounds, colors=shades)
    ax.contour(mx, my, density, levels=bounds[:-1], colors="k", linewidths=0.6)
    drawn_points = None
    if points is not None:
        drawn_points = ax.scatter(
            points[:, 0], points[:, 1], s=6, color="0.2", alpha=0.6
        )
    handles = [
        Patch(
            facecolor=shade,
            edgecolor="k",
            linewidth=0.6,
            label=f"{_percent(p)} highest-density region",
        )
        for p, shade in zip(probs, shades, strict=True)
    ]
    legend = ax.legend(handles=handles[::-1], loc="upper left", fontsize="small")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title("highest-density regions, by the probability they enclose")
    return {
        "grid": (mx, my),
        "density": density,
        "regions": regions,
        "legend": legend,
        "points": drawn_points,
    }
