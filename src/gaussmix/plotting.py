"""Plots of fitted mixtures (extra ``plot``: ``pip install 'gaussmix[plot]'``).

Every function draws on ``ax`` (a new figure when None) and returns what it
drew. matplotlib is imported lazily; without it a one-line install hint is raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gaussmix._typing import FloatArray
from gaussmix.core.covariance import get_family

if TYPE_CHECKING:
    from gaussmix.mixture import GaussianMixture

__all__ = ["covariance_ellipses", "plot_clusters"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib: pip install 'gaussmix[plot]'"
        ) from None
    return plt


def covariance_ellipses(
    model: GaussianMixture, dims: tuple[int, int] = (0, 1)
) -> list[tuple[FloatArray, float, float, float]]:
    """Centre, width, height and angle (degrees) of each component's 1-sigma ellipse.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture with at least two features.
    dims : tuple of int, default=(0, 1)
        The two features to project on.

    Returns
    -------
    list of (center, width, height, angle)
        One tuple per component; width and height are full axis lengths.
    """
    i, j = dims
    n_components, n_features = model.means_.shape
    dense = get_family(model.covariance_type).to_dense(
        np.asarray(model.covariances_, dtype=np.float64), n_components, n_features
    )
    out = []
    for k in range(n_components):
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
    dims: tuple[int, int] = (0, 1),
    n_std: tuple[float, ...] = (1.0, 2.0, 3.0),
) -> dict[str, Any]:
    """Scatter ``X`` coloured by predicted label, with covariance ellipses and means.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture.
    X : array-like of shape (n_samples, n_features)
        Points to draw.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    dims : tuple of int, default=(0, 1)
        Features on the x and y axes.
    n_std : tuple of float, default=(1, 2, 3)
        Ellipses at these multiples of the standard deviation.

    Returns
    -------
    dict
        ``{"ax", "scatter", "ellipses", "means"}``: the Axes, the PathCollection
        of points, the list of Ellipse patches and the means' marker artist.
    """
    plt = _pyplot()
    from matplotlib.patches import Ellipse

    X = np.asarray(X)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    labels = model.predict(X)
    cmap = plt.get_cmap("tab10" if model.n_components <= 10 else "tab20")
    i, j = dims
    scatter = ax.scatter(
        X[:, i],
        X[:, j],
        c=[cmap(k % cmap.N) for k in labels],
        s=12,
        alpha=0.8,
        linewidths=0,
    )
    ellipses = []
    for k, (center, width, height, angle) in enumerate(
        covariance_ellipses(model, dims)
    ):
        for s in n_std:
            patch = Ellipse(
                xy=(float(center[0]), float(center[1])),
                width=s * width,
                height=s * height,
                angle=angle,
                facecolor="none",
                edgecolor=cmap(k % cmap.N),
                linewidth=1.5,
                alpha=max(0.25, 1.0 - 0.25 * s),
            )
            ax.add_patch(patch)
            ellipses.append(patch)
    (means,) = ax.plot(
        model.means_[:, i],
        model.means_[:, j],
        "k+",
        markersize=12,
        mew=2,
        label="means",
    )
    names = getattr(model, "feature_names_in_", None)
    ax.set_xlabel(str(names[i]) if names is not None else f"feature {i}")
    ax.set_ylabel(str(names[j]) if names is not None else f"feature {j}")
    ax.set_title(
        f"{model.n_components}-component {model.covariance_type} Gaussian mixture"
    )
    return {"ax": ax, "scatter": scatter, "ellipses": ellipses, "means": means}
