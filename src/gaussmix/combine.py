"""Merging the components of a fitted mixture into clusters (mclust's ``clustCombi``).

A Gaussian mixture chosen by BIC often uses several Gaussians for one cluster
that is not Gaussian (a banana, a skewed or heavy-tailed group): BIC counts
components of the *density*, not clusters. Baudry, Raftery, Celeux, Lo and
Gottardo (2010) keep the BIC solution's K components and merge them
hierarchically: at each step the two clusters whose union decreases the
entropy of the soft classification

    ``Ent(K) = -sum_i sum_k t_ik log t_ik``

the most are merged (their responsibilities added), down to one cluster. The
result is a hierarchy of clusterings for K = n_components, ..., 1, each with
its merged responsibilities, hard labels and entropy. A sharp bend (the
"elbow") in the entropy against the number of clusters suggests how many
clusters the data have: merging two components that share their points
decreases the entropy a lot, merging separate clusters hardly at all.

:func:`combine_components` takes a fitted :class:`gaussmix.GaussianMixture` and
its data; :func:`combine_responsibilities` takes the responsibilities of any
mixture. Both return a :class:`CombineResult`. The steps, their tie-breaking
and the order of the merged clusters are those of R mclust's ``clustCombi``
(mclust 6.0.0), so that the results equal R's on the same fit.

References
----------
Baudry, J.-P., Raftery, A. E., Celeux, G., Lo, K. and Gottardo, R. (2010).
Combining mixture components for clustering. *Journal of Computational and
Graphical Statistics* 19(2), 332-353. doi:10.1198/jcgs.2010.08111
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.special import xlogy

from gaussmix._docs import fill_doc, register
from gaussmix._typing import FloatArray, IntArray

__all__ = ["CombineResult", "combine_components", "combine_responsibilities"]

#: Largest ``|sum_k t_ik - 1|`` accepted by :func:`combine_responsibilities`.
ROW_SUM_TOL = 1e-6

register(
    "combine_n_clusters",
    """
    n_clusters : int
        Number of clusters, 1 to ``n_components``.
    """,
)


@fill_doc
@dataclass(frozen=True, eq=False)
class CombineResult:
    """The hierarchy of clusterings made by merging a mixture's components.

    Every mapping is keyed by the number of clusters ``K = 1 .. n_components``;
    arrays are read-only. Clusters of the ``K``-cluster solution are numbered
    ``0 .. K - 1`` in mclust's order: going from ``K`` to ``K - 1`` clusters,
    the pair ``(a, b)`` (``a < b``) merges into cluster ``a`` and the clusters
    after ``b`` move down by one. Labels are mclust's ``classification`` minus
    one.

    Parameters
    ----------
    n_components : int
        ``G``, the components of the mixture (the clusters before any merge).
    merges : tuple of (int, int)
        ``merges[s]`` is the pair of clusters of the ``G - s``-cluster solution
        merged to make the ``G - s - 1``-cluster one (``G - 1`` steps).
    entropy : mapping of int to float
        ``-sum_i sum_k t_ik log t_ik`` of the ``K``-cluster responsibilities
        (``0 log 0 = 0``); non-increasing as ``K`` decreases, 0 at ``K = 1``
        (up to rounding).
    labels : mapping of int to ndarray of shape (n_samples,)
        The most probable cluster of each row (the first one on ties); for
        ``K = n_components`` the mixture's ``predict``.
    combining_matrices : mapping of int to ndarray of shape (K, n_components)
        0/1 matrices: entry ``(k, j)`` is 1 when component ``j`` belongs to
        cluster ``k``, so that the ``K``-cluster responsibilities are
        ``component_responsibilities @ M.T`` (the product of mclust's
        ``combiM[[K]] ... combiM[[G - 1]]``; the identity for ``K = G``).
    component_responsibilities : ndarray of shape (n_samples, n_components)
        The mixture's responsibilities the merges started from (float64).

    See Also
    --------
    combine_components : Makes this result from a fitted mixture.
    """

    n_components: int
    merges: tuple[tuple[int, int], ...]
    entropy: Mapping[int, float]
    labels: Mapping[int, IntArray]
    combining_matrices: Mapping[int, IntArray]
    component_responsibilities: FloatArray

    def __repr__(self) -> str:
        entropy = ", ".join(f"{k}: {v:.6g}" for k, v in sorted(self.entropy.items()))
        return (
            f"CombineResult(n_components={self.n_components}, "
            f"n_samples={self.component_responsibilities.shape[0]}, "
            f"merges={list(self.merges)}, entropy={{{entropy}}})"
        )

    def _check_k(self, n_clusters: Any) -> int:
        if isinstance(n_clusters, bool) or not isinstance(
            n_clusters, (int, np.integer)
        ):
            raise TypeError(
                f"n_clusters must be an integer between 1 and {self.n_components}, "
                f"got {n_clusters!r}"
            )
        k = int(n_clusters)
        if not 1 <= k <= self.n_components:
            raise ValueError(
                f"n_clusters={k} is out of range: the hierarchy has 1 to "
                f"{self.n_components} clusters (the mixture's n_components)"
            )
        return k

    def responsibilities(self, n_clusters: int) -> FloatArray:
        """The merged responsibilities of the ``n_clusters``-cluster solution.

        Column ``k`` is the sum of the responsibilities of the components in
        cluster ``k``, added in the order of the merges (as the entropies and
        labels were computed, and as mclust does).

        Parameters
        ----------
        {{combine_n_clusters}}

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            Each row sums to one (up to rounding).
        """
        k = self._check_k(n_clusters)
        tau: FloatArray = np.array(self.component_responsibilities, dtype=np.float64)
        for a, b in self.merges[: self.n_components - k]:
            tau = _merge_columns(tau, a, b)
        return tau

    def clusters(self, n_clusters: int) -> tuple[tuple[int, ...], ...]:
        """The components in each cluster of the ``n_clusters``-cluster solution.

        Parameters
        ----------
        {{combine_n_clusters}}

        Returns
        -------
        tuple of tuple of int
            For clusters ``0 .. n_clusters - 1``, their components (sorted).
        """
        matrix = self.combining_matrices[self._check_k(n_clusters)]
        return tuple(tuple(int(j) for j in np.flatnonzero(row)) for row in matrix)

    def elbow(self) -> int:
        """The number of clusters at the bend of the entropy plot.

        mclust's ``clustCombiOptim`` (``reg = 2``): two straight lines are
        fitted by least squares to the entropy against ``K = 1 .. c`` and
        ``K = c .. n_components``, and the ``c`` with the smallest total
        residual sum of squares is returned (the first on ties). With at most
        two components, ``n_components``.

        Returns
        -------
        int
        """
        return _two_segment_fit(self._entropy_array())[0]

    def _entropy_array(self) -> FloatArray:
        return np.array(
            [self.entropy[k] for k in range(1, self.n_components + 1)], dtype=np.float64
        )

    def plot_entropy(
        self, ax: Any = None, *, difference: bool = False, show_elbow: bool = True
    ) -> Any:
        """Draw the entropy against the number of clusters (mclust's entropy plot).

        Needs matplotlib (``pip install 'gaussmix[plot]'``), imported here.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        difference : bool, default=False
            Draw the entropy decrease of each merge, ``Ent(K) - Ent(K - 1)``
            for ``K = 2 .. n_components`` (mclust's second panel), instead of
            the entropy.
        show_elbow : bool, default=True
            With the entropy, also draw the two fitted lines of :meth:`elbow`
            (dashed) and mark the elbow (from three components on).

        Returns
        -------
        matplotlib Axes
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError(
                "plotting needs matplotlib: pip install 'gaussmix[plot]'"
            ) from None
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
        g = self.n_components
        ks = np.arange(1, g + 1)
        ent = self._entropy_array()
        if difference:
            ax.bar(ks[1:], np.diff(ent), color="C0", width=0.6)
            ax.set_ylabel("Difference in entropy")
            ax.set_title("Entropy decrease of each merge")
        else:
            ax.plot(ks, ent, "o-", color="k", label="entropy")
            if show_elbow and g >= 3:
                c, (a1, b1), (a2, b2) = _two_segment_fit(ent)
                left = np.arange(1, c + 1)
                right = np.arange(c, g + 1)
                ax.plot(left, a1 * left + b1, "--", color="C3", label="fitted lines")
                ax.plot(right, a2 * right + b2, "--", color="C3")
                ax.plot(
                    [c],
                    [ent[c - 1]],
                    "o",
                    markersize=12,
                    markerfacecolor="none",
                    markeredgecolor="C3",
                    markeredgewidth=2,
                    label=f"elbow: {c} clusters",
                )
                ax.legend(loc="upper left", fontsize="small")
            ax.set_ylabel("Entropy")
            ax.set_title("Entropy of the combined solutions")
        ax.set_xlabel("Number of clusters")
        ax.set_xticks(ks[1:] if difference else ks)
        return ax


def combine_components(model: Any, X: Any) -> CombineResult:
    """Merge the components of a fitted mixture into clusters (mclust's ``clustCombi``).

    Starting from the model's responsibilities on ``X``, the two clusters whose
    union decreases the entropy ``-sum_i sum_k t_ik log t_ik`` the most are
    merged, step by step, down to one cluster (Baudry et al. 2010). Use it when
    BIC chose more components than there are clusters: a non-Gaussian cluster
    is then covered by several Gaussians, which this puts back together.

    Parameters
    ----------
    model : GaussianMixture
        A fitted :class:`gaussmix.GaussianMixture` (any covariance type), or
        another fitted mixture with ``predict_proba``; not one with a noise
        component.
    X : array-like of shape (n_samples, n_features)
        The data to cluster, normally those the model was fitted on.

    Returns
    -------
    CombineResult
        The merges, and per number of clusters the entropy, labels, combining
        matrix and merged responsibilities (:meth:`CombineResult.responsibilities`).

    Raises
    ------
    TypeError
        If ``model`` has no ``predict_proba``.
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted (a ValueError).
    ValueError
        If ``X`` is not 2-D or its width is not the model's, or the model has a
        noise component.

    See Also
    --------
    combine_responsibilities : The same from responsibilities.

    Notes
    -----
    One merge step compares every pair of clusters: the decrease of entropy of
    merging ``a`` and ``b`` is ``sum_i [f(t_ia + t_ib) - f(t_ia) - f(t_ib)]``
    with ``f(t) = t log t``, computed row by row (rows where one of the two is
    0 add exactly 0). Only the pairs with the new cluster are recomputed after
    a merge, so the whole hierarchy costs ``O(n G^2)`` for ``G`` components.

    As mclust, the pair is taken from the matrix of decreases (``G - 1`` rows,
    the pairs above the diagonal, zeros elsewhere) in R's column-major order;
    when several entries tie for the largest, mclust's
    ``which(dEnt == max(dEnt), arr.ind = TRUE)[1:2]`` takes the *rows* of the
    first two, which need not be a best pair (gains tied between the pairs
    (0, 1) and (2, 3) merge 0 and 2), and this does the same so that results
    equal ``clustCombi``'s. It matters only for exact ties, such as clusters
    whose responsibilities never overlap (every gain 0: clusters 0 and 1
    merge).

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.combine import combine_components
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))])
    >>> gm = GaussianMixture(3, covariance_type="VVV", random_state=0).fit(X)
    >>> result = combine_components(gm, X)
    >>> sorted(result.entropy)
    [1, 2, 3]
    >>> np.bincount(result.labels[2]).tolist()
    [100, 100]
    """
    if not callable(getattr(model, "predict_proba", None)):
        raise TypeError(
            "combine_components needs a fitted gaussmix.GaussianMixture (or another "
            f"mixture with predict_proba); got {type(model).__name__}"
        )
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(
        model,
        msg=(
            "This %(name)s instance is not fitted yet: call fit(X) on it before "
            "combine_components(model, X)."
        ),
    )
    if getattr(model, "noise_log_density_", None) is not None:
        raise ValueError(
            "combine_components: the model has a noise component; merging applies "
            "to the Gaussian components only. Fit it with noise=None."
        )
    shape = getattr(X, "shape", None)
    if shape is None:
        shape = np.shape(np.asarray(X, dtype=object))
    if len(shape) != 2:
        raise ValueError(
            f"combine_components: X must be 2-D (n_samples, n_features), got "
            f"{len(shape)} dimension(s); use X.reshape(-1, 1) for a single feature."
        )
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and shape[1] != expected:
        raise ValueError(
            f"combine_components: X has {shape[1]} columns but the model was fitted "
            f"on {expected} features; pass the data the model was fitted on."
        )
    resp = np.asarray(model.predict_proba(X), dtype=np.float64)
    return _combine(resp)


def combine_responsibilities(resp: Any) -> CombineResult:
    """Merge mixture components from their responsibilities (mclust's ``combi``).

    :func:`combine_components` computes the responsibilities of a fitted
    model and calls this; use it for responsibilities from elsewhere (another
    mixture, mclust's ``z``).

    Parameters
    ----------
    resp : array-like of shape (n_samples, n_components)
        Non-negative, finite, each row summing to 1 (within ``1e-6``).

    Returns
    -------
    CombineResult

    Raises
    ------
    ValueError
        If ``resp`` is not a non-empty 2-D array of such rows.
    """
    arr = np.asarray(resp, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            "resp must be a 2-D array (n_samples, n_components) with at least one "
            f"row and one column, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(
            "resp must hold finite non-negative responsibilities (NaN, infinite or "
            "negative values found)"
        )
    worst = float(np.max(np.abs(arr.sum(axis=1) - 1.0)))
    if worst > ROW_SUM_TOL:
        raise ValueError(
            f"every row of resp must sum to 1 (within {ROW_SUM_TOL:g}); the worst "
            f"row is off by {worst:.3g}. Pass responsibilities (predict_proba), not "
            "log-probabilities or densities."
        )
    return _combine(arr)


# ---------------------------------------------------------------- the steps
def _entropy(tau: FloatArray) -> float:
    """``-sum t log t`` with ``0 log 0 = 0``."""
    return -float(np.sum(xlogy(tau, tau)))


def _merge_columns(tau: FloatArray, a: int, b: int) -> FloatArray:
    """Columns ``a`` and ``b`` (``a < b``) added into ``a``; ``b`` removed."""
    merged = np.delete(tau, b, axis=1)
    merged[:, a] = tau[:, a] + tau[:, b]
    return merged


def _pair_gains(
    tau: FloatArray, f: FloatArray, cluster: int, others: IntArray
) -> FloatArray:
    """Entropy decrease of merging ``cluster`` with each of ``others``."""
    union = tau[:, [cluster]] + tau[:, others]
    terms = xlogy(union, union) - (f[:, [cluster]] + f[:, others])
    return np.asarray(terms.sum(axis=0), dtype=np.float64)


def _choose_pair(gain: FloatArray) -> tuple[int, int]:
    """The pair to merge, chosen from the ``K x K`` gains (upper part) as mclust does.

    R builds ``dEnt``, ``(K - 1) x K`` with the gains above the diagonal and
    zeros elsewhere, and takes ``l1, l2 = which(dEnt == max(dEnt), arr.ind =
    TRUE)[1:2]``: the row and column of the only maximum, or the rows of the
    first two maxima in column-major order. ``combMat`` then merges
    ``min(l1, l2)`` with ``max(l1, l2)``, or ``l1`` with ``l1 + 1`` when they
    are equal.
    """
    k = gain.shape[0]
    dent = np.triu(gain, 1)[: k - 1, :]
    best = dent.max()
    cols, rows = np.nonzero(best == dent.T)  # column-major order of dent
    l1 = int(rows[0])
    l2 = int(rows[1]) if rows.size > 1 else int(cols[0])
    a, b = min(l1, l2), max(l1, l2)
    return (a, a + 1) if a == b else (a, b)


def _combine(resp: FloatArray) -> CombineResult:
    """The merge hierarchy of validated float64 responsibilities."""
    _, g = resp.shape
    tau: FloatArray = np.array(resp, dtype=np.float64)
    f = xlogy(tau, tau)
    matrix = np.eye(g, dtype=np.int64)
    entropy = {g: -float(np.sum(f))}
    labels = {g: np.argmax(tau, axis=1)}
    matrices = {g: matrix}
    merges: list[tuple[int, int]] = []
    gain = np.zeros((g, g))
    for i in range(g - 1):
        gain[i, i + 1 :] = _pair_gains(tau, f, i, np.arange(i + 1, g))
    for k in range(g, 1, -1):
        a, b = _choose_pair(gain)
        merges.append((a, b))
        tau = _merge_columns(tau, a, b)
        f = np.delete(f, b, axis=1)
        f[:, a] = xlogy(tau[:, a], tau[:, a])
        gain = np.delete(np.delete(gain, b, axis=0), b, axis=1)
        others = np.delete(np.arange(k - 1), a)
        if others.size:
            new = _pair_gains(tau, f, a, others)
            below = others < a
            gain[others[below], a] = new[below]
            gain[a, others[~below]] = new[~below]
        matrix = np.delete(matrix, b, axis=0)
        matrix[a] = matrices[k][a] + matrices[k][b]
        entropy[k - 1] = -float(np.sum(f))
        labels[k - 1] = np.argmax(tau, axis=1)
        matrices[k - 1] = matrix
    for array in (*labels.values(), *matrices.values()):
        array.setflags(write=False)
    component = np.array(resp, dtype=np.float64)
    component.setflags(write=False)
    return CombineResult(
        n_components=g,
        merges=tuple(merges),
        entropy=MappingProxyType(dict(sorted(entropy.items()))),
        labels=MappingProxyType(dict(sorted(labels.items()))),
        combining_matrices=MappingProxyType(dict(sorted(matrices.items()))),
        component_responsibilities=component,
    )


def _two_segment_fit(
    entropy: FloatArray,
) -> tuple[int, tuple[float, float], tuple[float, float]]:
    """The bend and both lines of mclust's ``pcws2_reg`` on ``(1 .. G, entropy)``.

    Returns ``(c, (slope1, intercept1), (slope2, intercept2))``; for ``G <= 2``
    ``(G, (nan, nan), (nan, nan))`` (mclust takes ``K = G`` there).
    """
    g = entropy.shape[0]
    nan = (float("nan"), float("nan"))
    if g <= 2:
        return g, nan, nan
    x = np.arange(1, g + 1, dtype=np.float64)
    best: tuple[float, int, tuple[float, float], tuple[float, float]] | None = None
    for c in range(2, g):
        fits = []
        ss = 0.0
        for xs, ys in ((x[:c], entropy[:c]), (x[c - 1 :], entropy[c - 1 :])):
            xm, ym = xs.mean(), ys.mean()
            slope = float(np.sum((xs - xm) * (ys - ym)) / np.sum((xs - xm) ** 2))
            intercept = float(ym - slope * xm)
            ss += float(np.sum((slope * xs + intercept - ys) ** 2))
            fits.append((slope, intercept))
        if best is None or ss < best[0]:
            best = (ss, c, fits[0], fits[1])
    assert best is not None
    return best[1], best[2], best[3]
