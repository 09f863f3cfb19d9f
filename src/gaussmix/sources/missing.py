"""The in-memory source of data with missing values (``nan_policy="marginalize"``).

Each pass runs the ordinary E-step (:func:`gaussmix.core.estep.e_step`, compiled
for small data) on the complete rows and the pattern-by-pattern E-step of
:mod:`gaussmix.core.missing` on the incomplete ones, and adds the two
statistics (both centred on the mixture mean of the pass): EM then runs
:func:`gaussmix.core.mstep.m_step` unchanged, so every covariance family is
fitted by exact EM for data missing at random.

The initialisation runs on the summary's sample, a completed copy of the data
(:func:`kpod_imputed`): each missing value is first replaced by the (weighted)
mean of its feature, then, for a few rounds, k-means with ``n_components``
clusters runs on the completed rows and each missing value is replaced by the
centre of its row's cluster (k-POD, Chi, Chi and Baraniuk 2016). k-means,
k-means++, random starts, ``hc`` and ``resp_init`` then see a complete array.
Mean imputation alone pulls incomplete rows towards the grand mean, which at
30% missing merged clusters in the starts (bench_missing.py: one of two seeds
at D = 5, K = 3 ended in a local maximum); the cluster-wise imputation keeps
them apart. The first M-step's covariances are somewhat too small (imputed
values have no spread), which EM corrects from its first iteration.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gaussmix._typing import FloatArray, IntArray
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step, estimate_log_prob_resp
from gaussmix.core.missing import (
    MissingPatterns,
    expected_stats,
    group_patterns,
    log_prob_resp_missing,
)
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats
from gaussmix.sources.base import DataSummary, shuffled_batches

__all__ = [
    "nan_e_step",
    "KPOD_ROUNDS",
    "MissingSource",
    "NanBatchStats",
    "kpod_imputed",
    "log_prob_resp_with_nan",
    "mean_imputed",
]


def mean_imputed(X: FloatArray, sample_weight: FloatArray | None) -> FloatArray:
    """``X`` with every NaN replaced by the weighted mean of its feature's values.

    Raises
    ------
    ValueError
        If a feature has no observed value of positive weight.
    """
    observed = ~np.isnan(X)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    totals = (observed * w[:, None]).sum(axis=0)
    if not np.all(totals > 0):
        cols = np.flatnonzero(~(totals > 0)).tolist()
        raise ValueError(
            f"feature(s) {cols} of X have no observed value (of positive weight): "
            "nothing can be estimated for them. Drop those columns."
        )
    sums = np.where(observed, X, 0.0).astype(np.float64).T @ w
    means = sums / totals
    out = np.where(observed, X, means.astype(X.dtype))
    return np.asarray(out, dtype=X.dtype)


#: Rounds of k-means and re-imputation that make the starts' sample.
KPOD_ROUNDS = 10


def kpod_imputed(
    X: FloatArray, sample_weight: FloatArray | None, n_clusters: int
) -> FloatArray:
    """``X`` completed by k-POD: k-means on the completed rows, cluster centres fill.

    Starts from :func:`mean_imputed`; at most :data:`KPOD_ROUNDS` rounds, each a
    k-means (scikit-learn's, seeded with 0 then with the previous centres) on
    the completed rows, after which every missing value takes its cluster
    centre's coordinate; it stops when the clusters no longer change. Observed
    values are never changed. Deterministic (it does not draw from the fit's
    ``random_state``).
    """
    from sklearn.cluster import KMeans

    Z = mean_imputed(X, sample_weight)
    missing = np.isnan(X)
    if n_clusters < 2 or not missing.any():
        return Z
    centres: FloatArray | None = None
    labels = None
    for _ in range(KPOD_ROUNDS):
        if centres is None:
            km = KMeans(n_clusters, n_init=1, random_state=0)
        else:
            km = KMeans(n_clusters, init=centres, n_init=1)
        km.fit(Z, sample_weight=sample_weight)
        centres = np.asarray(km.cluster_centers_, dtype=np.float64)
        Z = np.where(missing, centres[km.labels_].astype(Z.dtype), Z)
        if labels is not None and np.array_equal(labels, km.labels_):
            break  # the clusters no longer change: k-POD's stopping rule
        labels = km.labels_
    return Z


class NanBatchStats:
    """Online-EM batches that keep their NaN: their E-step is :func:`nan_e_step`."""

    def batch_stats(
        self,
        X: FloatArray,
        params: GMMParams,
        family: CovarianceFamily,
        sample_weight: FloatArray | None,
        n_threads: int,
    ) -> SuffStats:
        """Statistics of one online-EM batch: the marginalising E-step."""
        return nan_e_step(X, params, family, sample_weight, n_threads)


class MissingSource(NanBatchStats):
    """E-step statistics of an in-memory array with NaN for missing values.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Float32 or float64 data, NaN where a value is missing, no infinity,
        and no row with every value missing (the estimator drops those).
    patterns : MissingPatterns
        ``gaussmix.core.missing.group_patterns(X)``.
    sample_weight : ndarray of shape (n_samples,), default=None
        Validated sample weights.
    n_threads : int, default=1
        Threads over chunks of the complete rows' E-step.
    n_components : int, default=1
        Clusters of the k-POD completion the starts run on (:func:`kpod_imputed`;
        1 is mean imputation).
    """

    def __init__(
        self,
        X: FloatArray,
        patterns: MissingPatterns,
        sample_weight: FloatArray | None = None,
        n_threads: int = 1,
        n_components: int = 1,
    ) -> None:
        if patterns.empty.size:
            raise ValueError(
                "MissingSource: rows with every value missing must be dropped first"
            )
        self.X = X
        self.patterns = patterns
        self.sample_weight = sample_weight
        self.n_threads = n_threads
        complete = patterns.complete
        self.X_complete = np.ascontiguousarray(X[complete])
        self.w_complete = None if sample_weight is None else sample_weight[complete]
        self.imputed = kpod_imputed(X, sample_weight, n_components)

    def summarize(
        self, sample_size: int, random_state: np.random.RandomState
    ) -> DataSummary:
        """The summary of the completed array (the sample the starts use)."""
        return DataSummary.of_array(self.imputed, self.sample_weight)

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """One E-step pass: complete rows as usual, the others by pattern."""
        shift = params.center()
        stats = expected_stats(
            self.X, self.patterns, params, family, self.sample_weight, shift
        )
        if self.X_complete.shape[0]:
            complete = e_step(
                self.X_complete,
                params,
                family,
                self.w_complete,
                n_threads=self.n_threads,
            )
            if not np.array_equal(complete.shift, shift):
                complete = complete.recentered(shift, family)
            stats = complete + stats
        return stats

    def batches(
        self, batch_size: int, random_state: np.random.RandomState
    ) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        """One epoch of online EM: the rows in a random order, cut in batches.

        As :meth:`gaussmix.sources.ArraySource.batches`; the batches keep
        their NaN (:meth:`batch_stats` is their E-step).
        """
        return shuffled_batches(self.X, self.sample_weight, batch_size, random_state)

    def labels(self, params: GMMParams, family: CovarianceFamily) -> IntArray:
        """Most likely component of every row, from its observed features."""
        _, _, labels = log_prob_resp_with_nan(
            self.X, self.patterns, params, family, self.n_threads
        )
        return labels


def nan_e_step(
    X: FloatArray,
    params: GMMParams,
    family: CovarianceFamily,
    sample_weight: FloatArray | None = None,
    n_threads: int = 1,
) -> SuffStats:
    """E-step statistics of a block that may hold NaN (missing values).

    Complete rows go through :func:`gaussmix.core.estep.e_step`, the others
    through :func:`gaussmix.core.missing.expected_stats` (grouped by pattern
    within the block); rows with nothing observed contribute nothing. A block
    without NaN is :func:`~gaussmix.core.estep.e_step` itself.
    """
    if not np.isnan(X).any():
        return e_step(X, params, family, sample_weight, n_threads=n_threads)
    patterns = group_patterns(X)
    shift = params.center()
    stats = expected_stats(X, patterns, params, family, sample_weight, shift)
    complete = patterns.complete
    if complete.size:
        w = None if sample_weight is None else sample_weight[complete]
        part = e_step(
            np.ascontiguousarray(X[complete]), params, family, w, n_threads=n_threads
        )
        if not np.array_equal(part.shift, shift):
            part = part.recentered(shift, family)
        stats = part + stats
    return stats


def log_prob_resp_with_nan(
    X: FloatArray,
    patterns: MissingPatterns,
    params: GMMParams,
    family: CovarianceFamily,
    n_threads: int = 1,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """``log p(x_o)``, responsibilities and labels of rows with missing values.

    Complete rows take the ordinary prediction pass (the same numbers as
    without missing values); the others their marginal densities.
    """
    log_norm, resp = log_prob_resp_missing(X, patterns, params, family)
    complete = patterns.complete
    if complete.size:
        lp, r, _ = estimate_log_prob_resp(
            np.ascontiguousarray(X[complete]), params, family, n_threads=n_threads
        )
        assert r is not None
        log_norm[complete] = lp
        resp[complete] = r
    labels = np.argmax(resp, axis=1)
    return log_norm.astype(X.dtype), resp.astype(X.dtype), labels
