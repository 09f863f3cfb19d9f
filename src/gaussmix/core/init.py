"""Initial responsibilities: ``kmeans``, ``k-means++``, ``random``, ``random_from_data``, ``hc``.

Every method only produces responsibilities; the ordinary M-step turns them into
parameters (scikit-learn's seam). The random draws are made in the same order,
from the same ``RandomState``, as scikit-learn's ``GaussianMixture``, so a fit
with the same ``random_state`` starts from the same parameters. k-means uses
scikit-learn's ``KMeans`` and ``kmeans_plusplus`` (the well-tested
implementations; the one exception to "no scikit-learn in the core", recorded in
``docs/ARCHITECTURE.md``).

``hc`` is R mclust's default start (``Mclust``): the partition of its
model-based hierarchical clustering (``gaussmix.core.hc``) cut at
``n_components`` clusters. It draws from ``random_state`` only above
``hc.SUBSET_SIZE`` rows, to pick the subset the tree is built on; the rows
outside it get zero responsibilities, so the first M-step uses the subset only,
as mclust's ``mstep`` on the subset followed by ``estep`` on all rows.

Memory: ``random`` draws its ``(n_samples, n_components)`` uniforms chunk by
chunk; the one-hot methods keep only labels or ``n_components`` indices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np

from gaussmix._typing import FloatArray
from gaussmix.core.stats import rescale_weights

__all__ = [
    "INIT_METHODS",
    "initial_resp",
    "one_hot_labels",
    "random_from_data_indices",
]

INIT_METHODS: Final = ("kmeans", "k-means++", "random", "random_from_data", "hc")

RespFn = Callable[[int, int], FloatArray]


def one_hot_labels(labels: np.ndarray, n_components: int) -> RespFn:
    """One-hot responsibilities; a negative label gives a row of zeros."""

    def get(start: int, stop: int) -> FloatArray:
        part = labels[start:stop]
        resp = np.zeros((part.size, n_components))
        rows = np.flatnonzero(part >= 0)
        resp[rows, part[rows]] = 1.0
        return resp

    return get


def random_from_data_indices(
    n_samples: int,
    n_components: int,
    random_state: np.random.RandomState,
    sample_weight: FloatArray | None = None,
) -> np.ndarray:
    """The rows of ``init_params='random_from_data'``, drawn as scikit-learn does.

    ``n_components`` distinct rows, with probabilities proportional to the
    weights when there are weights.
    """
    if sample_weight is None:
        return random_state.choice(n_samples, size=n_components, replace=False)
    p = sample_weight / np.sum(sample_weight)
    return random_state.choice(n_samples, size=n_components, replace=False, p=p)


def _one_hot_indices(indices: np.ndarray, n_components: int) -> RespFn:
    order = np.argsort(indices, kind="stable")
    sorted_idx = indices[order]

    def get(start: int, stop: int) -> FloatArray:
        resp = np.zeros((stop - start, n_components))
        lo, hi = np.searchsorted(sorted_idx, [start, stop])
        resp[sorted_idx[lo:hi] - start, order[lo:hi]] = 1.0
        return resp

    return get


def _sequential_uniform(
    n_samples: int, n_components: int, random_state: np.random.RandomState
) -> RespFn:
    """Uniform responsibilities drawn chunk by chunk, in row order.

    Drawing ``(n1, K)`` then ``(n2, K)`` from a ``RandomState`` yields the same
    numbers as one ``(n1 + n2, K)`` draw, so this equals scikit-learn's init.
    """
    position = [0]

    def get(start: int, stop: int) -> FloatArray:
        if start != position[0]:
            raise RuntimeError("random responsibilities must be drawn in row order")
        position[0] = stop
        resp = random_state.uniform(size=(stop - start, n_components))
        resp /= resp.sum(axis=1)[:, None]
        return np.asarray(resp)

    return get


def initial_resp(
    X: FloatArray,
    n_components: int,
    method: str,
    random_state: np.random.RandomState,
    sample_weight: FloatArray | None = None,
) -> tuple[RespFn, bool]:
    """Initial responsibilities for ``method``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    n_components : int
        Number of components.
    method : {"kmeans", "k-means++", "random", "random_from_data", "hc"}
        Initialisation method.
    random_state : numpy.random.RandomState
        Source of randomness (consumed as scikit-learn does; ``hc`` draws only
        above ``SUBSET_SIZE`` rows).
    sample_weight : ndarray of shape (n_samples,), default=None
        Sample weights: k-means and k-means++ weight their points, and
        ``random_from_data`` draws rows with probability proportional to weight.
        Only their ratios matter (extreme scales are brought near 1 first,
        :func:`gaussmix.core.stats.rescale_weights`).
        ``hc`` builds its tree without them (as mclust, which has no weights).

    Returns
    -------
    resp : callable
        ``resp(start, stop)`` gives the responsibilities of rows ``start:stop``.
    sequential : bool
        Whether ``resp`` must be called in row order (then from one thread).
    """
    n_samples = X.shape[0]
    # k-means casts the weights to X's dtype (1e300 is infinite in float32) and
    # random_from_data divides by their sum: both only need them up to scale.
    sample_weight = rescale_weights(sample_weight)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        labels = (
            KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
            .fit(X, sample_weight=sample_weight)
            .labels_
        )
        return one_hot_labels(np.asarray(labels), n_components), False
    if method == "k-means++":
        from sklearn.cluster import kmeans_plusplus

        _, indices = kmeans_plusplus(
            X, n_components, random_state=random_state, sample_weight=sample_weight
        )
        return _one_hot_indices(np.asarray(indices), n_components), False
    if method == "random":
        return _sequential_uniform(n_samples, n_components, random_state), True
    if method == "random_from_data":
        indices = random_from_data_indices(
            n_samples, n_components, random_state, sample_weight
        )
        return _one_hot_indices(np.asarray(indices), n_components), False
    if method == "hc":
        from gaussmix.core.hc import mclust_initial_labels

        labels = mclust_initial_labels(X, n_components, random_state)
        return one_hot_labels(labels, n_components), False
    options = ", ".join(repr(m) for m in INIT_METHODS)
    raise ValueError(f"init_params must be one of {options}; got {method!r}.")
