"""Plots of fitted mixtures (extra ``plot``: ``pip install 'gaussmix[plot]'``).

Every function draws on ``ax`` (a new figure when None) and returns a dict of
what it drew, so that callers can restyle or test the artists. matplotlib is
imported lazily; without it a one-line install hint is raised.

Functions
---------
- :func:`plot_clusters`: points coloured by label with covariance ellipses (2-D),
  or the pairs grid for more features.
- :func:`plot_pairs`: a D x D grid of pairwise cluster plots with marginal
  densities on the diagonal.
- :func:`plot_uncertainty`: classification uncertainty as point size.
- :func:`plot_density_1d`: histogram, mixture density and weighted components.
- :func:`plot_log_density`: filled contours of the log-density (2 features).
- :func:`plot_density_surface`: the density as a 3-D surface (2 features).
- :func:`plot_model_selection`: BIC/AIC/ICL against the number of components.
- :func:`plot_convergence`: the EM lower bound per iteration.

Covariances of every type are turned into dense matrices by the model's
covariance family (:func:`gaussmix.core.covariance.get_family`), so new families
are plotted without changes here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import numpy as np

from gaussmix._inputs import as_float64
from gaussmix._mpl import pyplot
from gaussmix._typing import FloatArray
from gaussmix.core.covariance import SKLEARN_GROUP, family_names, get_family

if TYPE_CHECKING:
    from gaussmix.mixture import GaussianMixture

__all__ = [
    "covariance_ellipses",
    "plot_clusters",
    "plot_convergence",
    "plot_density_1d",
    "plot_density_surface",
    "plot_log_density",
    "plot_model_selection",
    "plot_pairs",
    "plot_uncertainty",
]

#: ``plot_pairs`` (and ``plot_clusters`` on wider data) draws at most this many
#: features unless they are chosen explicitly with ``features=``.
MAX_PAIR_FEATURES = 12

#: Criteria that :func:`plot_model_selection` knows, with their axis names.
_CRITERIA = {"bic": "BIC", "aic": "AIC", "icl": "ICL"}

# Markers of the covariance types: scikit-learn's four in the registry's order,
# the others (mclust's models) by their order in the table; "*" is kept for the
# best fit.
_MARKER_CYCLE = ("o", "s", "^", "D", "v", "<", ">", "p", "h", "X", "P", "d", "H", "8")
_MARKERS = dict(zip(family_names(SKLEARN_GROUP), _MARKER_CYCLE, strict=False))
#: How :func:`plot_model_selection` marks the best fit of each panel.
_BEST_STYLE: Final = {
    "linestyle": "none",
    "marker": "*",
    "markersize": 17,
    "markerfacecolor": "gold",
    "markeredgecolor": "k",
    "zorder": 5,
}

#: Colour of the points a noise component takes (label -1), as mclust draws
#: them apart from every Gaussian's colour.
NOISE_COLOR = "0.55"

#: :func:`plot_model_selection` clips the y-axis above
#: ``median + CLIP_SPREAD * (median - best)`` of a panel's criterion values (when
#: at least ``CLIP_MIN_FITS`` fits are finite), so that a few very poor models
#: (mclust's EII and VII, or one component, say) do not squash the curves of the
#: good ones. The median keeps the rule working when up to half the fits are poor.
CLIP_SPREAD = 5.0
CLIP_MIN_FITS = 8

Dim: TypeAlias = int | str


# ---------------------------------------------------------------- helpers
def _check_fitted(model: Any) -> None:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)


def _n_features(model: Any) -> int:
    return int(np.asarray(model.means_).shape[1])


def _model_names(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _labels(model: Any, X: Any = None) -> list[str]:
    """Axis label of every feature: the model's names, else X's columns."""
    names = _model_names(model)
    if names is None and X is not None and hasattr(X, "columns"):
        names = [str(c) for c in X.columns]
    if names is None or len(names) != _n_features(model):
        return [f"feature {i}" for i in range(_n_features(model))]
    return names


def _require_features(model: Any, n: int, func: str, hint: str) -> None:
    d = _n_features(model)
    if d != n:
        raise ValueError(
            f"{func} needs a model fitted on {n} feature{'s' if n > 1 else ''}, but this "
            f"model has {d} (n_features_in_={d}). {hint}"
        )


def _resolve_dim(model: Any, dim: Any, func: str) -> int:
    d = _n_features(model)
    names = _model_names(model)
    if isinstance(dim, str):
        if names is None or dim not in names:
            known = (
                f"the model's features are {names}"
                if names
                else (
                    "the model was fitted without feature names; use integer positions"
                )
            )
            raise ValueError(f"{func}: unknown feature {dim!r}; {known}.")
        return names.index(dim)
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise ValueError(
            f"{func}: a feature must be an integer position or a feature name, "
            f"got {dim!r}."
        )
    if not -d <= int(dim) < d:
        raise ValueError(
            f"{func}: feature {int(dim)} is out of range for a model with {d} "
            f"features; use 0 to {d - 1}."
        )
    return int(dim) % d


def _resolve_dims(model: Any, dims: Any, func: str) -> tuple[int, int]:
    if _n_features(model) < 2:
        raise ValueError(
            f"{func} needs a model with at least 2 features, but this model has 1 "
            "(n_features_in_=1). Use plot_density_1d for one-feature models."
        )
    try:
        first, second = dims
    except (TypeError, ValueError):
        raise ValueError(
            f"{func}: dims must be a pair of features such as (0, 1), got {dims!r}."
        ) from None
    i, j = _resolve_dim(model, first, func), _resolve_dim(model, second, func)
    if i == j:
        raise ValueError(
            f"{func}: dims must name two different features, got {dims!r}."
        )
    return i, j


def _check_n_std(n_std: Any, func: str) -> tuple[float, ...]:
    values = np.atleast_1d(np.asarray(n_std, dtype=np.float64))
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"{func}: n_std must be positive numbers, got {n_std!r}.")
    if np.any(values <= 0):
        raise ValueError(f"{func}: n_std must be positive numbers, got {n_std!r}.")
    return tuple(float(v) for v in values)


def _as_points(model: Any, X: Any, func: str) -> FloatArray:
    """``X`` as a finite float64 ``(n, n_features)`` array in the model's column order."""
    names = _model_names(model)
    d = _n_features(model)
    if names is not None and hasattr(X, "columns"):
        columns = {str(c): c for c in X.columns}
        missing = [n for n in names if n not in columns]
        if missing:
            raise ValueError(
                f"{func}: X lacks the column(s) {missing} that the model was fitted on; "
                f"pass a frame with columns {names}."
            )
        X = X[[columns[n] for n in names]]
    arr = as_float64(
        X, func, "X", f"numeric, array-like of shape (n_samples, {d})", ValueError
    )
    if arr.ndim == 1 and d == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != d:
        raise ValueError(
            f"{func}: X has shape {arr.shape}, but the model was fitted on {d} "
            f"feature{'s' if d > 1 else ''}; pass X of shape (n_samples, {d}) with the "
            "columns used for fitting."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{func}: X has no rows; pass at least one sample.")
    bad = ~np.all(np.isfinite(arr), axis=1)
    if np.any(bad):
        raise ValueError(
            f"{func}: X has NaN or infinite values in {int(bad.sum())} row(s); drop or "
            "impute them before plotting."
        )
    return arr


def _model_input(model: Any, arr: FloatArray) -> Any:
    """``arr`` as the model expects it (a frame when it was fitted on one)."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return arr
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - names imply a frame library
        return arr
    return pd.DataFrame(arr, columns=list(names))


def _dense_covariances(model: Any) -> FloatArray:
    n_components, n_features = np.asarray(model.means_).shape
    return np.asarray(
        get_family(model.covariance_type).to_dense(
            np.asarray(model.covariances_, dtype=np.float64), n_components, n_features
        ),
        dtype=np.float64,
    )


def _colors(n: int) -> list[Any]:
    plt = pyplot()
    if n <= 10:
        cmap = plt.get_cmap("tab10")
        return [cmap(k) for k in range(n)]
    if n <= 20:
        cmap = plt.get_cmap("tab20")
        return [cmap(k) for k in range(n)]
    cmap = plt.get_cmap("turbo")
    return [cmap(v) for v in np.linspace(0.05, 0.95, n)]


def _has_noise(model: Any) -> bool:
    """Whether the model has a noise component (label -1, uniform density)."""
    return hasattr(model, "noise_log_density_")


def _point_colors(labels: Any, colors: list[Any]) -> list[Any]:
    """The colour of every label; noise (-1) gets :data:`NOISE_COLOR`, never a component's."""
    return [NOISE_COLOR if k < 0 else colors[k] for k in np.asarray(labels).tolist()]


def _noise_legend(
    target: Any, model: Any, labels: Any, colors: list[Any], **placement: Any
) -> Any:
    """The classification legend of mclust on ``target`` (an Axes or a Figure).

    One marker per component, then the noise with its count; None (and no
    legend) for a model without a noise component.
    """
    if not _has_noise(model):
        return None
    from matplotlib.lines import Line2D

    n_noise = int(np.sum(np.asarray(labels) < 0))
    entries = [(colors[k], f"component {k}") for k in range(int(model.n_components))]
    entries.append(
        (NOISE_COLOR, f"noise ({n_noise} point{'' if n_noise == 1 else 's'})")
    )
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=6,
            markerfacecolor=color,
            markeredgewidth=0,
            label=label,
        )
        for color, label in entries
    ]
    return target.legend(handles=handles, fontsize="small", **placement)


def _new_axes(ax: Any, figsize: tuple[float, float] = (6.0, 5.0)) -> Any:
    if ax is not None:
        return ax
    plt = pyplot()
    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def _comparable(points: FloatArray) -> bool:
    span = points.max(axis=0) - points.min(axis=0)
    return bool(np.all(span > 0) and 1.0 / 3.0 <= span[0] / span[1] <= 3.0)


def _scatter_figsize(points: FloatArray) -> tuple[float, float]:
    """A figure about as wide as the data when x and y share a scale, else 6 x 5."""
    if not _comparable(points):
        return (6.0, 5.0)
    span = points.max(axis=0) - points.min(axis=0)
    width = 4.3 * float(span[0] / span[1]) + 1.2
    return (float(np.clip(width, 4.8, 9.0)), 5.0)


def _equal_aspect_if_comparable(ax: Any, points: FloatArray) -> None:
    """Equal x/y scales (round circles) when both spans are within a factor of 3.

    Only for figures this module made: a caller's Axes keep their aspect.
    """
    if _comparable(points):
        ax.set_aspect("equal", adjustable="datalim")


def _mixture_title(model: Any) -> str:
    k = int(model.n_components)
    return f"{k}-component {model.covariance_type} Gaussian mixture"


def _include_box(ax: Any, points: FloatArray, lo: FloatArray, hi: FloatArray) -> None:
    """Let autoscaling include ``[lo, hi]`` but no more than 25 % beyond the data."""
    dmin, dmax = points.min(axis=0), points.max(axis=0)
    span = np.maximum(dmax - dmin, 1e-12 * np.maximum(1.0, np.abs(dmax)))
    lo = np.maximum(lo, dmin - 0.25 * span)
    hi = np.minimum(hi, dmax + 0.25 * span)
    ax.update_datalim(np.array([lo, hi]))
    ax.autoscale_view()


def _draw_clusters(
    ax: Any,
    model: Any,
    points: FloatArray,
    labels: Any,
    dims: tuple[int, int],
    n_std: tuple[float, ...],
    colors: list[Any],
    *,
    size: float = 12.0,
    mean_size: float = 12.0,
) -> tuple[Any, list[Any], Any]:
    """Scatter, ellipses and means of one feature pair on ``ax``."""
    from matplotlib.patches import Ellipse

    i, j = dims
    scatter = ax.scatter(
        points[:, i],
        points[:, j],
        c=_point_colors(labels, colors),
        s=size,
        alpha=0.8,
        linewidths=0,
    )
    ellipses, lo, hi = _add_ellipses(ax, model, dims, n_std, colors, Ellipse)
    (means,) = ax.plot(
        model.means_[:, i],
        model.means_[:, j],
        "k+",
        markersize=mean_size,
        mew=2 if mean_size >= 10 else 1.5,
        label="means",
    )
    _include_box(ax, points[:, [i, j]], lo, hi)
    return scatter, ellipses, means


def _add_ellipses(
    ax: Any,
    model: Any,
    dims: tuple[int, int],
    n_std: tuple[float, ...],
    colors: list[Any],
    ellipse_cls: Any,
) -> tuple[list[Any], FloatArray, FloatArray]:
    """Add every component's ellipses; return them and their bounding box."""
    ellipses = []
    i, j = dims
    dense = _dense_covariances(model)
    biggest = max(n_std)
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for k, (center, width, height, angle) in enumerate(
        covariance_ellipses(model, dims)
    ):
        for s in n_std:
            patch = ellipse_cls(
                xy=(float(center[0]), float(center[1])),
                width=s * width,
                height=s * height,
                angle=angle,
                facecolor="none",
                edgecolor=colors[k],
                linewidth=1.5,
                alpha=max(0.25, 1.0 - 0.25 * s),
            )
            # add_artist: the view is set by _include_box, so that a very wide
            # component cannot squeeze the data into a corner.
            ax.add_artist(patch)
            ellipses.append(patch)
        half = biggest * np.sqrt(np.maximum(np.diag(dense[k])[[i, j]], 0.0))
        lo = np.minimum(lo, center - half)
        hi = np.maximum(hi, center + half)
    return ellipses, lo, hi


def _normal_pdf(x: FloatArray, mean: float, var: float) -> FloatArray:
    var = max(float(var), np.finfo(np.float64).tiny)
    return np.asarray(
        np.exp(-0.5 * (x - mean) ** 2 / var) / math.sqrt(2.0 * math.pi * var)
    )


def _marginal_components(model: Any, d: int, grid: FloatArray) -> FloatArray:
    """``weights_[k] * N(grid | mean_kd, Sigma_k[d, d])``, shape ``(K, len(grid))``."""
    dense = _dense_covariances(model)
    weights = np.asarray(model.weights_, dtype=np.float64)
    means = np.asarray(model.means_, dtype=np.float64)
    return np.stack(
        [
            weights[k] * _normal_pdf(grid, means[k, d], dense[k, d, d])
            for k in range(len(weights))
        ]
    )


def _box(
    model: Any, points: FloatArray | None, n_sd: float, pad: float
) -> tuple[FloatArray, FloatArray]:
    """A box around the means +- ``n_sd`` standard deviations and the data."""
    dense = _dense_covariances(model)
    means = np.asarray(model.means_, dtype=np.float64)
    sd = np.sqrt(np.maximum(np.diagonal(dense, axis1=1, axis2=2), 0.0))
    lo = np.min(means - n_sd * sd, axis=0)
    hi = np.max(means + n_sd * sd, axis=0)
    if points is not None:
        lo = np.minimum(lo, points.min(axis=0))
        hi = np.maximum(hi, points.max(axis=0))
    span = hi - lo
    span = np.where(span > 0, span, 1.0)
    return lo - pad * span, hi + pad * span


# ---------------------------------------------------------------- public
def covariance_ellipses(
    model: GaussianMixture, dims: tuple[Dim, Dim] = (0, 1)
) -> list[tuple[FloatArray, float, float, float]]:
    """Centre, width, height and angle (degrees) of each component's 1-sigma ellipse.

    The ellipse of component ``k`` is the set of ``x`` with Mahalanobis distance
    1 from ``means_[k]`` under the covariance projected on ``dims``.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture with at least two features.
    dims : tuple of (int or str), default=(0, 1)
        The two features to project on (positions, or names when the model
        was fitted on a DataFrame).

    Returns
    -------
    list of (center, width, height, angle)
        One tuple per component; width and height are full axis lengths.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        If ``dims`` does not name two different features of the model.
    """
    _check_fitted(model)
    i, j = _resolve_dims(model, dims, "covariance_ellipses")
    dense = _dense_covariances(model)
    out = []
    for k in range(dense.shape[0]):
        cov = dense[k][np.ix_([i, j], [i, j])]
        values, vectors = np.linalg.eigh(cov)
        values = np.maximum(values, 0.0)
        angle = float(np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1])))
        width, height = 2.0 * np.sqrt(values[1]), 2.0 * np.sqrt(values[0])
        out.append((model.means_[k, [i, j]], float(width), float(height), angle))
    return out


def plot_clusters(
    model: GaussianMixture,
    X: Any,
    *,
    ax: Any = None,
    dims: tuple[Dim, Dim] | None = None,
    features: Sequence[Dim] | None = None,
    n_std: Sequence[float] = (1.0, 2.0, 3.0),
) -> dict[str, Any]:
    """Scatter ``X`` coloured by predicted label, with covariance ellipses and means.

    With a noise component (``noise=True``), the points labelled noise (-1)
    are drawn in grey (:data:`NOISE_COLOR`) and a legend names the components
    and the noise, as mclust's classification plot does.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture with at least two features.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Points to draw.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None. For the pairs grid (more than two
        features, ``dims=None``) ``ax`` must be the only Axes of its figure; it
        is replaced by the grid.
    dims : tuple of (int or str), default=None
        Features on the x and y axes. None means ``(0, 1)`` for a two-feature
        model and the pairs grid of :func:`plot_pairs` for a wider one.
    features : sequence of (int or str), default=None
        Draw the pairs grid of these features (positions, or names when the
        model was fitted on a DataFrame), as :func:`plot_pairs` does; needed
        for models with more than :data:`MAX_PAIR_FEATURES` features.
        Exclusive with ``dims``.
    n_std : sequence of float, default=(1, 2, 3)
        Ellipses at these multiples of the standard deviation.

    Returns
    -------
    dict
        ``{"ax", "scatter", "ellipses", "means", "legend"}``: the Axes, the
        PathCollection of points, the list of Ellipse patches
        (``n_components * len(n_std)``), the means' Line2D and the Legend of
        the components and the noise (None without a noise component). For
        the pairs grid, the dict of :func:`plot_pairs`.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        For a one-feature model, bad ``dims``, ``features`` or ``n_std``, both
        ``dims`` and ``features``, or ``X`` whose number of features differs
        from the model's.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_blobs
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.plotting import plot_clusters
    >>> X, _ = make_blobs(200, centers=3, random_state=0)
    >>> drawn = plot_clusters(GaussianMixture(3, random_state=0).fit(X), X)
    >>> len(drawn["ellipses"])
    9
    """
    pyplot()
    _check_fitted(model)
    std = _check_n_std(n_std, "plot_clusters")
    if dims is not None and features is not None:
        raise ValueError(
            "plot_clusters: pass dims=(i, j) for one pair of features or "
            "features=[...] for the pairs grid, not both."
        )
    if dims is None:
        if _n_features(model) > 2 or features is not None:
            fig = None
            if ax is not None:
                fig = ax.figure
                if len(fig.axes) > 1:
                    raise ValueError(
                        "plot_clusters: a model with more than 2 features is drawn as "
                        "a pairs grid, which needs a figure of its own; pass dims=(i, j) "
                        "to draw one pair on ax, or ax=None."
                    )
                ax.remove()
            return _pairs(model, X, features, std, fig, "plot_clusters")
        dims = (0, 1)
    i, j = _resolve_dims(model, dims, "plot_clusters")
    points = _as_points(model, X, "plot_clusters")
    own = ax is None
    ax = _new_axes(ax, _scatter_figsize(points[:, [i, j]]))
    labels = model.predict(_model_input(model, points))
    colors = _colors(int(model.n_components))
    scatter, ellipses, means = _draw_clusters(
        ax, model, points, labels, (i, j), std, colors
    )
    if own:
        _equal_aspect_if_comparable(ax, points[:, [i, j]])
    legend = _noise_legend(ax, model, labels, colors, loc="best", framealpha=0.8)
    names = _labels(model, X)
    ax.set_xlabel(names[i])
    ax.set_ylabel(names[j])
    ax.set_title(_mixture_title(model))
    return {
        "ax": ax,
        "scatter": scatter,
        "ellipses": ellipses,
        "means": means,
        "legend": legend,
    }


def plot_pairs(
    model: GaussianMixture,
    X: Any,
    *,
    features: Sequence[Dim] | None = None,
    n_std: Sequence[float] = (1.0, 2.0, 3.0),
    fig: Any = None,
) -> dict[str, Any]:
    """A D x D grid: pairwise cluster plots, marginal densities on the diagonal.

    Panel ``(r, c)`` off the diagonal shows feature ``c`` (x) against feature
    ``r`` (y) as in :func:`plot_clusters`; panel ``(d, d)`` shows the histogram
    of feature ``d`` with the marginal mixture density
    ``sum_k weights_[k] N(x | means_[k, d], Sigma_k[d, d])`` (black) and its
    weighted components (coloured). Columns share x, rows share y.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Points to draw.
    features : sequence of (int or str), default=None
        Features to show, in order; None means all of them (at most
        ``MAX_PAIR_FEATURES``; choose a subset for wider data).
    n_std : sequence of float, default=(1, 2, 3)
        Ellipses at these multiples of the standard deviation.
    fig : matplotlib Figure or SubFigure, default=None
        An empty figure to draw in; a new one when None.

    Returns
    -------
    dict
        ``{"fig", "axes", "ellipses", "scatters", "legend"}``: the figure, a
        ``(D, D)`` object array of Axes, the Ellipse patches of every
        off-diagonal panel, their PathCollections (row by row) and the
        figure's Legend of the components and the noise (None without a
        noise component; noise points are grey, :data:`NOISE_COLOR`).

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        For unknown or repeated features, too many features, a non-empty
        ``fig``, or ``X`` whose number of features differs from the model's.
    """
    pyplot()
    _check_fitted(model)
    std = _check_n_std(n_std, "plot_pairs")
    return _pairs(model, X, features, std, fig, "plot_pairs")


def _pairs(
    model: Any,
    X: Any,
    features: Sequence[Dim] | None,
    std: tuple[float, ...],
    fig: Any,
    func: str,
) -> dict[str, Any]:
    """The pairs grid of :func:`plot_pairs`; ``func`` names the caller in errors."""
    plt = pyplot()
    d_model = _n_features(model)
    if features is None:
        if d_model > MAX_PAIR_FEATURES:
            raise ValueError(
                f"{func}: the model has {d_model} features, a grid of "
                f"{d_model * d_model} panels; choose at most {MAX_PAIR_FEATURES} with "
                f"{func}(model, X, features=[...]) (any number may be chosen "
                "explicitly)."
            )
        chosen = list(range(d_model))
    else:
        if isinstance(features, (str, int, np.integer)):
            features = [features]
        chosen = [_resolve_dim(model, f, func) for f in features]
        if not chosen or len(set(chosen)) != len(chosen):
            raise ValueError(
                f"{func}: features must name distinct features, got {features!r}."
            )
    points = _as_points(model, X, func)
    labels = model.predict(_model_input(model, points))
    colors = _colors(int(model.n_components))
    names = _labels(model, X)
    n = len(chosen)
    if fig is None:
        side = min(max(2.3 * n, 4.5), 18.0)
        fig = plt.figure(figsize=(side, side), layout="constrained")
    elif fig.axes:
        raise ValueError(
            f"{func}: fig must be empty (it gets a grid of its own); pass "
            "fig=plt.figure() or fig=None."
        )
    axes = fig.subplots(n, n, sharex="col", squeeze=False)
    small = n > 2
    ellipses: list[Any] = []
    scatters: list[Any] = []
    for r, dr in enumerate(chosen):
        row_ref = axes[r, 1] if (r == 0 and n > 1) else axes[r, 0]
        for c, dc in enumerate(chosen):
            ax = axes[r, c]
            if ax is not row_ref:
                ax.sharey(row_ref)
            if r == c:
                _draw_marginal(ax, model, points, dc, colors)
                continue
            scatter, drawn, _ = _draw_clusters(
                ax,
                model,
                points,
                labels,
                (dc, dr),
                std,
                colors,
                size=5.0 if small else 9.0,
                mean_size=8.0 if small else 11.0,
            )
            for patch in drawn:
                patch.set_linewidth(1.0 if small else 1.3)
            ellipses.extend(drawn)
            scatters.append(scatter)
    for r in range(n):
        for c in range(n):
            ax = axes[r, c]
            if c > 0:
                ax.tick_params(labelleft=False)
            if r == n - 1:
                ax.set_xlabel(names[chosen[c]])
            if c == 0 and n > 1:
                ax.set_ylabel(names[chosen[r]])
    if n == 1:
        axes[0, 0].tick_params(labelleft=False, left=False)
    legend = _noise_legend(fig, model, labels, colors, loc="outside right center")
    fig.suptitle(_mixture_title(model))
    fig.align_labels()
    return {
        "fig": fig,
        "axes": axes,
        "ellipses": ellipses,
        "scatters": scatters,
        "legend": legend,
    }


def _draw_marginal(
    ax: Any,
    model: Any,
    points: FloatArray,
    d: int,
    colors: list[Any],
) -> None:
    """Histogram of feature ``d`` and its marginal mixture density on a twin axis."""
    twin = ax.twinx()
    values = points[:, d]
    n_auto = len(np.histogram_bin_edges(values, bins="auto")) - 1
    twin.hist(
        values,
        bins=min(max(n_auto, 20), 60),
        density=True,
        color="0.82",
        edgecolor="0.65",
        linewidth=0.5,
    )
    lo, hi = values.min(), values.max()
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    grid = np.linspace(lo - pad, hi + pad, 400)
    components = _marginal_components(model, d, grid)
    for k, curve in enumerate(components):
        twin.plot(grid, curve, color=colors[k], linewidth=1.0)
    twin.plot(grid, components.sum(axis=0), color="k", linewidth=1.5)
    twin.set_ylim(bottom=0.0)
    twin.set_yticks([])


def plot_uncertainty(
    model: GaussianMixture,
    X: Any,
    *,
    ax: Any = None,
    dims: tuple[Dim, Dim] = (0, 1),
    n_std: Sequence[float] = (1.0, 2.0),
) -> dict[str, Any]:
    """Classification uncertainty ``1 - max_k p(k | x)`` shown as point size.

    Points are coloured by their predicted component (noise points, with a
    noise component, in grey); the less certain the classification, the bigger
    the point. Points near the boundary between components stand out.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture with at least two features.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Points whose classification uncertainty is drawn.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    dims : tuple of (int or str), default=(0, 1)
        Features on the x and y axes.
    n_std : sequence of float, default=(1, 2)
        Ellipses at these multiples of the standard deviation.

    Returns
    -------
    dict
        ``{"ax", "scatter", "ellipses", "uncertainty"}``: the Axes, the
        PathCollection of points (in the order of ``X``), the Ellipse patches and
        the uncertainty of every row, an array of shape ``(n_samples,)`` in
        ``[0, 1 - 1/n_classes]`` (the classes are the components and, with a
        noise component, the noise).

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        For a one-feature model, bad ``dims`` or ``n_std``, or ``X`` whose
        number of features differs from the model's.
    """
    pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse

    _check_fitted(model)
    std = _check_n_std(n_std, "plot_uncertainty")
    i, j = _resolve_dims(model, dims, "plot_uncertainty")
    points = _as_points(model, X, "plot_uncertainty")
    own = ax is None
    ax = _new_axes(ax, _scatter_figsize(points[:, [i, j]]))
    proba = np.asarray(model.predict_proba(_model_input(model, points)))
    k = int(model.n_components)
    labels = np.argmax(proba, axis=1)
    # With a noise component the last column is the noise: label -1.
    labels = np.where(labels >= k, -1, labels)
    uncertainty = np.clip(1.0 - proba.max(axis=1), 0.0, 1.0)
    n_classes = proba.shape[1]
    top = 1.0 - 1.0 / n_classes if n_classes > 1 else 1.0
    colors = _colors(k)

    def size(u: Any) -> Any:
        return 8.0 + 220.0 * np.asarray(u) / top

    scatter = ax.scatter(
        points[:, i],
        points[:, j],
        s=size(uncertainty),
        c=_point_colors(labels, colors),
        alpha=0.65,
        linewidths=0,
    )
    ellipses, lo, hi = _add_ellipses(ax, model, (i, j), std, colors, Ellipse)
    ax.plot(model.means_[:, i], model.means_[:, j], "k+", markersize=10, mew=1.5)
    _include_box(ax, points[:, [i, j]], lo, hi)
    shown = [u for u in (0.05, 0.2, 0.5) if u <= top]
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=math.sqrt(float(size(u))),
            markerfacecolor="0.6",
            markeredgewidth=0,
            label=f"{u:g}",
        )
        for u in shown
    ]
    if handles:
        legend = ax.legend(
            handles=handles,
            title="uncertainty",
            loc="best",
            framealpha=0.8,
            fontsize="small",
            title_fontsize="small",
            labelspacing=1.0,
            borderpad=0.8,
        )
        if _has_noise(model):
            ax.add_artist(legend)
    _noise_legend(ax, model, labels, colors, loc="lower right", framealpha=0.8)
    if own:
        _equal_aspect_if_comparable(ax, points[:, [i, j]])
    names = _labels(model, X)
    ax.set_xlabel(names[i])
    ax.set_ylabel(names[j])
    ax.set_title("classification uncertainty (1 - max responsibility)")
    return {
        "ax": ax,
        "scatter": scatter,
        "ellipses": ellipses,
        "uncertainty": uncertainty,
    }


def plot_density_1d(
    model: GaussianMixture,
    X: Any = None,
    *,
    ax: Any = None,
    bins: Any = "auto",
    n_points: int = 1000,
) -> dict[str, Any]:
    """Histogram, mixture density and weighted components of a one-feature mixture.

    The mixture curve is ``exp(score_samples)``; the component curves are
    ``weights_[k] * N(x | means_[k], var_k)``, which sum to it (with a noise
    component, together with the noise's constant ``noise_weight_ / V``, drawn
    dotted). The mixture is drawn wide and half-transparent below the
    components, so that a component that makes the whole density stays visible.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture with one feature.
    X : array-like of shape (n_samples,) or (n_samples, 1), default=None
        Data for a density-normalised histogram; none is drawn when None.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    bins : int, sequence or str, default="auto"
        Histogram bins, as in :func:`numpy.histogram`.
    n_points : int, default=1000
        Number of grid points of the curves.

    Returns
    -------
    dict
        ``{"ax", "hist", "mixture", "components", "noise", "grid",
        "mixture_density", "component_densities"}``: the Axes, the histogram's
        BarContainer (None without ``X``), the mixture's Line2D, one Line2D per
        component, the noise's Line2D (None without a noise component), the
        grid (``(n_points,)``), the mixture density on it (``(n_points,)``) and
        the weighted component densities (``(n_components, n_points)``).

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        For a model with more than one feature, ``n_points < 2``, or bad ``X``.
    """
    pyplot()
    _check_fitted(model)
    _require_features(
        model,
        1,
        "plot_density_1d",
        "Use plot_pairs for the marginal densities of a wider model.",
    )
    if isinstance(n_points, (bool, np.bool_)) or not isinstance(
        n_points, (int, np.integer)
    ):
        raise ValueError(
            f"plot_density_1d: n_points must be an integer, got {n_points!r}."
        )
    if n_points < 2:
        raise ValueError(
            f"plot_density_1d: n_points must be at least 2, got {n_points}."
        )
    points = None if X is None else _as_points(model, X, "plot_density_1d")
    ax = _new_axes(ax, (6.5, 4.2))
    lo, hi = _box(model, points, 4.0, 0.0)
    grid = np.linspace(lo[0], hi[0], int(n_points))
    mixture_density = np.exp(
        np.asarray(model.score_samples(_model_input(model, grid[:, None])))
    )
    components = _marginal_components(model, 0, grid)
    hist = None
    if points is not None:
        _, _, hist = ax.hist(
            points[:, 0],
            bins=bins,
            density=True,
            color="0.85",
            edgecolor="0.65",
            label="data",
        )
    colors = _colors(int(model.n_components))
    # The mixture is drawn first and below (wide, half-transparent black), the
    # components on top of it: where one component makes the whole density its
    # line stays visible instead of being hidden under the mixture's.
    (mixture,) = ax.plot(
        grid,
        mixture_density,
        color="k",
        alpha=0.45,
        linewidth=3.0,
        zorder=2,
        label="mixture",
    )
    lines = []
    for k, curve in enumerate(components):
        (line,) = ax.plot(
            grid,
            curve,
            color=colors[k],
            linewidth=1.6,
            zorder=3,
            label=f"component {k} (weight {float(model.weights_[k]):.2f})",
        )
        lines.append(line)
    noise = None
    if _has_noise(model):
        level = float(model.noise_weight_) * math.exp(float(model.noise_log_density_))
        (noise,) = ax.plot(
            grid,
            np.full_like(grid, level),
            color=NOISE_COLOR,
            linestyle=":",
            linewidth=1.6,
            zorder=3,
            label=f"noise (weight {float(model.noise_weight_):.2f})",
        )
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(bottom=0.0)
    ax.margins(y=0.15)
    ax.set_xlabel(_labels(model, X)[0])
    ax.set_ylabel("density")
    ax.set_title(_mixture_title(model))
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return {
        "ax": ax,
        "hist": hist,
        "mixture": mixture,
        "components": lines,
        "noise": noise,
        "grid": grid,
        "mixture_density": mixture_density,
        "component_densities": components,
    }


def _grid_2d(
    model: Any, lo: FloatArray, hi: FloatArray, n: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mesh over the box and the model's log-density on it."""
    xs = np.linspace(lo[0], hi[0], n)
    ys = np.linspace(lo[1], hi[1], n)
    xx, yy = np.meshgrid(xs, ys)
    flat = np.column_stack([xx.ravel(), yy.ravel()])
    zz = np.asarray(model.score_samples(_model_input(model, flat))).reshape(xx.shape)
    return xx, yy, zz


def _check_grid(grid: Any, func: str, minimum: int = 2) -> int:
    if isinstance(grid, (bool, np.bool_)) or not isinstance(grid, (int, np.integer)):
        raise ValueError(f"{func}: grid must be an integer, got {grid!r}.")
    if grid < minimum:
        raise ValueError(f"{func}: grid must be at least {minimum}, got {grid}.")
    return int(grid)


def plot_log_density(
    model: GaussianMixture,
    X: Any = None,
    *,
    ax: Any = None,
    grid: int = 200,
    levels: Any = 20,
) -> dict[str, Any]:
    """Filled contours of the log-density ``score_samples`` of a two-feature mixture.

    The box spans the data (when given) and every mean +- 3 standard deviations.
    With an integer ``levels`` the colour scale covers the top 25 units of
    log-density (``exp(-25)`` is invisible on any density scale); lower values
    share the darkest colour.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture with two features.
    X : array-like or DataFrame of shape (n_samples, 2), default=None
        Points drawn over the contours; none when None.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    grid : int, default=200
        Grid points per axis.
    levels : int or sequence of float, default=20
        Number of contour intervals, or their boundaries.

    Returns
    -------
    dict
        ``{"ax", "contourf", "colorbar", "scatter"}``: the Axes, the
        QuadContourSet, the Colorbar and the PathCollection of ``X`` (None
        without ``X``).

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        For a model without exactly two features, a bad ``grid``, or bad ``X``.
    """
    pyplot()
    from matplotlib.ticker import MaxNLocator

    _check_fitted(model)
    _require_features(
        model,
        2,
        "plot_log_density",
        "Fit a model on two features, or use plot_pairs for wider models.",
    )
    n = _check_grid(grid, "plot_log_density")
    points = None if X is None else _as_points(model, X, "plot_log_density")
    ax = _new_axes(ax, (6.5, 5.0))
    lo, hi = _box(model, points, 3.0, 0.05)
    xx, yy, zz = _grid_2d(model, lo, hi, n)
    top = float(zz.max())
    extend = "neither"
    if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
        if levels < 1:
            raise ValueError(f"plot_log_density: levels must be >= 1, got {levels}.")
        bottom = max(float(zz.min()), top - 25.0)
        if bottom > float(zz.min()):
            extend = "min"
        levels = MaxNLocator(int(levels) + 1).tick_values(bottom, top)
    contourf = ax.contourf(xx, yy, zz, levels=levels, cmap="viridis", extend=extend)
    colorbar = ax.figure.colorbar(contourf, ax=ax, label="log density")
    scatter = None
    if points is not None:
        scatter = ax.scatter(
            points[:, 0],
            points[:, 1],
            s=6,
            c="white",
            edgecolors="k",
            linewidths=0.3,
            alpha=0.7,
        )
    names = _labels(model, X)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(f"log density, {_mixture_title(model)}")
    return {"ax": ax, "contourf": contourf, "colorbar": colorbar, "scatter": scatter}


def plot_density_surface(
    model: GaussianMixture,
    *,
    ax: Any = None,
    grid: int = 80,
) -> dict[str, Any]:
    """The density ``exp(score_samples)`` of a two-feature mixture as a 3-D surface.

    The box spans every mean +- 3 standard deviations.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture with two features.
    ax : matplotlib 3-D Axes, default=None
        Where to draw (``fig.add_subplot(projection="3d")``); a new figure
        when None.
    grid : int, default=80
        Grid points per axis.

    Returns
    -------
    dict
        ``{"ax", "surface"}``: the 3-D Axes and the Poly3DCollection.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        For a model without exactly two features, a bad ``grid``, or an ``ax``
        that is not 3-D.
    """
    plt = pyplot()
    _check_fitted(model)
    _require_features(
        model,
        2,
        "plot_density_surface",
        "Fit a model on two features, or use plot_pairs for wider models.",
    )
    n = _check_grid(grid, "plot_density_surface")
    if ax is None:
        fig = plt.figure(figsize=(7.0, 5.5), layout="constrained")
        ax = fig.add_subplot(projection="3d")
    elif getattr(ax, "name", None) != "3d":
        raise ValueError(
            "plot_density_surface: ax must be a 3-D Axes; create it with "
            "fig.add_subplot(projection='3d'), or pass ax=None."
        )
    lo, hi = _box(model, None, 3.0, 0.0)
    xx, yy, zz = _grid_2d(model, lo, hi, n)
    density = np.exp(zz)
    surface = ax.plot_surface(
        xx,
        yy,
        density,
        cmap="viridis",
        rcount=n,
        ccount=n,
        linewidth=0,
        antialiased=False,
    )
    names = _labels(model)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_zlabel("density")
    ax.set_title(f"density, {_mixture_title(model)}")
    return {"ax": ax, "surface": surface}


def _column(table: Any, name: str) -> Any:
    try:
        return table[name]
    except (KeyError, ValueError, IndexError):
        raise ValueError(
            f"plot_model_selection: the table has no column {name!r}; pass the table "
            "returned by gaussmix.select."
        ) from None


def plot_model_selection(
    table: Any,
    *,
    criteria: Sequence[str] | str = ("bic", "aic"),
    fig: Any = None,
) -> dict[str, Any]:
    """Information criteria against the number of components, per covariance type.

    One panel per criterion, one line per covariance type, the lowest (best)
    value of the table starred. Failed fits (NaN) are left out. The legend is
    outside the axes, to the right of the last panel. When some fits are far
    worse than the rest (above ``median + CLIP_SPREAD * (median - best)`` of a
    panel's values, as EII and VII often are in mclust's 14-model grid), the
    y-axis stops above the others so that the good models are readable, and
    the panel's title says how many fits are above it.

    Parameters
    ----------
    table : DataFrame or numpy structured array
        The table returned by :func:`gaussmix.select` (columns
        ``n_components``, ``covariance_type`` and the criteria).
    criteria : sequence of {'bic', 'aic', 'icl'}, default=('bic', 'aic')
        Criteria to plot, one panel each (lower is better for all).
    fig : matplotlib Figure or SubFigure, default=None
        An empty figure to draw in; a new one when None.

    Returns
    -------
    dict
        ``{"fig", "axes", "lines", "best", "clipped", "legend"}``: the figure,
        a list of Axes (one per criterion), ``lines[criterion][covariance_type]``
        (Line2D), ``best[criterion]`` (the Line2D of the star),
        ``clipped[criterion]`` (how many fits are above the y-axis' top) and
        the Legend.

    Raises
    ------
    ValueError
        For an unknown criterion, a table without the needed columns, an empty
        table, a criterion for which every fit failed, or a non-empty ``fig``.
    """
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    if isinstance(criteria, str):
        criteria = (criteria,)
    criteria = [str(c).lower() for c in criteria]
    unknown = [c for c in criteria if c not in _CRITERIA]
    if unknown or not criteria:
        raise ValueError(
            f"plot_model_selection: criteria must be some of {tuple(_CRITERIA)}, "
            f"got {unknown or criteria!r}."
        )
    ks = np.asarray(_column(table, "n_components"), dtype=np.float64)
    types = np.asarray(_column(table, "covariance_type")).astype(str)
    if ks.size == 0:
        raise ValueError("plot_model_selection: the table is empty.")
    values = {c: np.asarray(_column(table, c), dtype=np.float64) for c in criteria}
    for c, v in values.items():
        if not np.any(np.isfinite(v)):
            raise ValueError(
                f"plot_model_selection: every fit failed ({c!r} is NaN in every row); "
                "see the table's 'error' column."
            )
    if fig is None:
        fig = plt.figure(figsize=(5.2 * len(criteria) + 1.6, 4.2), layout="constrained")
    elif fig.axes:
        raise ValueError(
            "plot_model_selection: fig must be empty; pass fig=plt.figure() or None."
        )
    axes = list(fig.subplots(1, len(criteria), squeeze=False)[0])
    order = list(dict.fromkeys(types.tolist()))
    palette = _colors(max(len(order), 1))
    lines: dict[str, dict[str, Any]] = {}
    best: dict[str, Any] = {}
    clipped: dict[str, int] = {}
    legend = None
    for ax, c in zip(axes, criteria, strict=True):
        v = values[c]
        lines[c] = {}
        for t_index, t in enumerate(order):
            rows = np.flatnonzero((types == t) & np.isfinite(v) & np.isfinite(ks))
            rows = rows[np.argsort(ks[rows], kind="stable")]
            label = t if rows.size else f"{t} (every fit failed)"
            (line,) = ax.plot(
                ks[rows],
                v[rows],
                marker=_MARKERS.get(t, _MARKER_CYCLE[t_index % len(_MARKER_CYCLE)]),
                markersize=5,
                color=palette[t_index],
                label=label,
            )
            lines[c][t] = line
        b = int(np.nanargmin(v))
        label = f"best: {int(ks[b])} components, {types[b]}"
        (star,) = ax.plot([ks[b]], [v[b]], label=label, **_BEST_STYLE)
        best[c] = star
        clipped[c] = _clip_poor_fits(ax, v, types)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("number of components")
        ax.set_ylabel(f"{_CRITERIA[c]} (lower is better)")
        ax.grid(True, alpha=0.3)
        if ax is axes[-1]:
            legend = ax.legend(
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                borderaxespad=0.0,
                fontsize="small",
                ncols=2 if len(order) > 16 else 1,
            )
    fig.suptitle("model selection")
    return {
        "fig": fig,
        "axes": axes,
        "lines": lines,
        "best": best,
        "clipped": clipped,
        "legend": legend,
    }


def _clip_poor_fits(ax: Any, values: FloatArray, types: Any) -> int:
    """Stop the y-axis above the bulk of ``values``; returns how many are above it.

    Values above ``median + CLIP_SPREAD * (median - best)`` of the finite values
    are left above the axis (only with at least ``CLIP_MIN_FITS`` of them); the
    title names the covariance types of those fits.
    """
    finite = np.isfinite(values)
    v = values[finite]
    if v.size < CLIP_MIN_FITS:
        return 0
    median = float(np.median(v))
    top = median + CLIP_SPREAD * (median - float(v.min()))
    above = v > top
    if not (median > v.min() and np.any(above)):
        return 0
    kept = v[~above]
    low = float(v.min())
    high = float(max(kept.max(), low))
    pad = 0.05 * (high - low if high > low else max(abs(low), 1.0))
    ax.set_ylim(low - pad, high + pad)
    n = int(above.sum())
    names = list(dict.fromkeys(np.asarray(types)[finite][above].tolist()))
    shown = ", ".join(names[:4]) + (
        f" and {len(names) - 4} more" if len(names) > 4 else ""
    )
    ax.set_title(
        f"y-axis clipped: {n} poorer fit{'' if n == 1 else 's'} above the top "
        f"({shown})",
        fontsize="small",
    )
    return n


def plot_convergence(model: GaussianMixture, *, ax: Any = None) -> dict[str, Any]:
    """The mean log-likelihood ``lower_bounds_`` against the EM iteration.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture (its best initialisation's trace is drawn).

    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    dict
        ``{"ax", "line"}``: the Axes and the Line2D of the trace.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        If the model has no ``lower_bounds_`` trace.
    """
    pyplot()
    from matplotlib.ticker import MaxNLocator

    _check_fitted(model)
    trace = np.asarray(getattr(model, "lower_bounds_", []), dtype=np.float64)
    if trace.size == 0:
        raise ValueError(
            "plot_convergence: the model has no lower_bounds_ trace; fit a "
            "gaussmix.GaussianMixture first."
        )
    ax = _new_axes(ax, (6.0, 4.0))
    iterations = np.arange(1, trace.size + 1)
    (line,) = ax.plot(iterations, trace, marker="o", markersize=3, color="C0")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("mean log-likelihood")
    n_iter = int(getattr(model, "n_iter_", trace.size))
    iterations_text = f"{n_iter} iteration{'' if n_iter == 1 else 's'}"
    if bool(getattr(model, "converged_", False)):
        status = f"converged after {iterations_text}"
    else:
        status = (
            f"NOT converged after {iterations_text} "
            f"(max_iter={getattr(model, 'max_iter', '?')})"
        )
    ax.set_title(f"EM {status}")
    ax.grid(True, alpha=0.3)
    return {"ax": ax, "line": line}
