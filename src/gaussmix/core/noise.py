"""The noise component's region: R mclust's ``hypvol`` and its box.

mclust's noise component is a uniform density ``1 / V`` where ``V`` is the
hypervolume of the data (``hypvol``): the smaller of the volume of the
axis-aligned bounding box and the volume of the bounding box in the principal
component axes (``princomp`` scores). For one feature it is the range.

:func:`hypervolume_box` returns that box (whichever of the two is smaller) as a
:class:`NoiseBox`: orthonormal ``axes`` (columns) and the ``lower``/``upper``
bounds of the data's coordinates ``X @ axes``. The box is also where
:meth:`gaussmix.GaussianMixture.sample` draws noise points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gaussmix._typing import FloatArray

__all__ = ["NoiseBox", "hypervolume_box"]


@dataclass(frozen=True, slots=True)
class NoiseBox:
    """A box ``{x : lower <= x @ axes <= upper}`` in feature space.

    Parameters
    ----------
    axes : ndarray of shape (n_features, n_features)
        Orthonormal directions of the box's edges (columns).
    lower, upper : ndarray of shape (n_features,)
        Bounds of the coordinates ``x @ axes``; ``upper > lower``.
    """

    axes: FloatArray
    lower: FloatArray
    upper: FloatArray

    @property
    def log_volume(self) -> float:
        """``log V``: the sum of the logs of the edge lengths."""
        return float(np.sum(np.log(self.upper - self.lower)))

    def scaled_to(self, log_volume: float) -> NoiseBox:
        """The same box scaled about its centre to volume ``exp(log_volume)``.

        Every edge is multiplied by ``exp((log_volume - log V) / n_features)``.
        """
        factor = math.exp((log_volume - self.log_volume) / self.lower.size)
        centre = 0.5 * (self.lower + self.upper)
        half = 0.5 * (self.upper - self.lower) * factor
        return NoiseBox(self.axes, centre - half, centre + half)

    def sample(self, random_state: np.random.RandomState, n: int) -> FloatArray:
        """``n`` points drawn uniformly in the box, shape ``(n, n_features)``."""
        u = random_state.uniform(size=(n, self.lower.size))
        coords = self.lower + u * (self.upper - self.lower)
        return np.asarray(coords @ self.axes.T)


def hypervolume_box(X: FloatArray, sample_weight: FloatArray | None = None) -> NoiseBox:
    """The box of R mclust's ``hypvol``: the smaller of two bounding boxes.

    The axis-aligned bounding box and the bounding box of the principal
    component scores (the eigenvectors of the covariance, as R's ``princomp``)
    are compared by volume; the smaller is returned (the axis-aligned one on a
    tie). ``exp(-box.log_volume)`` is ``hypvol(X, reciprocal=TRUE)``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    sample_weight : ndarray of shape (n_samples,), default=None
        Rows with zero weight are left out; the weights also weight the
        covariance whose eigenvectors give the principal axes (integer weights
        give the box of the repeated rows).

    Returns
    -------
    NoiseBox

    Raises
    ------
    ValueError
        If the box has no volume (a constant feature, or the data lie on a
        hyperplane).
    """
    X = np.asarray(X, dtype=np.float64)
    w = None
    if sample_weight is not None:
        keep = np.asarray(sample_weight) > 0
        X = X[keep]
        w = np.asarray(sample_weight, dtype=np.float64)[keep]
    n_features = X.shape[1]
    eye = np.eye(n_features)
    boxes = [_bounds(X, eye)]
    if n_features > 1 and X.shape[0] > 1:
        centred = X - np.average(X, axis=0, weights=w)
        weighted = centred if w is None else centred * w[:, None]
        cov = weighted.T @ centred
        _, vectors = np.linalg.eigh(0.5 * (cov + cov.T))
        boxes.append(_bounds(X, vectors[:, ::-1]))
    with np.errstate(divide="ignore"):
        volumes = [b.log_volume for b in boxes]
    best = int(np.argmin(volumes))
    if not math.isfinite(volumes[best]):
        raise ValueError(
            "noise=True needs data that fill a region of positive volume, but the "
            "bounding box of X is flat (a constant feature, or rows on a "
            "hyperplane). Drop constant or redundant features, or give the "
            "hypervolume as noise=V (a positive number)."
        )
    return boxes[best]


def _bounds(X: FloatArray, axes: FloatArray) -> NoiseBox:
    coords = X @ axes
    return NoiseBox(np.ascontiguousarray(axes), coords.min(axis=0), coords.max(axis=0))
