"""Missing values block by block: out-of-core data, Dask blocks and mini-batches.

The statistics of the marginalising E-step (:mod:`gaussmix.core.missing`) are
sums over rows, so they add over blocks exactly as the ordinary E-step's do:

* :func:`nan_e_step` is the E-step of one block with NaN (complete rows by the
  ordinary, compiled E-step; the others grouped by pattern within the block),
  centred on the mixture mean of the parameters like every block's, so that
  the blocks' statistics add up to those of the whole array (up to the order
  of the sums);
* :func:`kept_rows` is the row filter of a ``nan_policy``: ``"omit"`` drops
  rows with a NaN, ``"marginalize"`` rows with nothing observed;
* :class:`MissingSummaryBuilder` is the first pass with NaN: it counts the
  missing values of every feature and the rows left out, sums moments over
  the observed values (pairwise: the mean and variance of a feature from the
  rows that observe it, a covariance from the rows that observe both), and
  keeps the reservoir sample of the kept rows (the keys are those of
  :class:`~gaussmix.sources.base.SummaryBuilder`, a left-out row never
  enters). :func:`finish_summary` then gives the starts a completed sample
  (k-POD on the reservoir, as the in-memory path does on the whole array);
* :class:`MissingChunkedSource` reads a
  :class:`~gaussmix.sources.chunked.ChunkedSource` (a ``.npy`` path, memmap or
  chunk factory) under a ``nan_policy``; the Dask counterpart is
  :class:`gaussmix.sources.dask.MissingDaskSource`.

Without any NaN in the data every function here gives the ordinary result
bit for bit (the same E-step on the same blocks, the same summary).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from gaussmix._docs import fill_doc, register
from gaussmix._typing import FloatArray, IntArray
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step, estimate_log_prob_resp
from gaussmix.core.missing import expected_stats, group_patterns
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats
from gaussmix.sources.base import (
    ChunkMoments,
    DataSummary,
    SummaryBuilder,
    chunk_moments,
)
from gaussmix.sources.chunked import ChunkedSource, chunk_batches, sum_chunk_stats
from gaussmix.sources.missing import (
    NanBatchStats,
    kpod_imputed,
    log_prob_resp_with_nan,
    nan_e_step,
)

__all__ = [
    "MissingChunkedSource",
    "MissingMoments",
    "MissingSummaryBuilder",
    "PolicySource",
    "block_labels",
    "finish_summary",
    "fold_missing",
    "kept_rows",
    "policy_e_step",
]

#: ``warn(message)``: how a source reports the rows it left out (the estimator's
#: layer gives one that points the warning at the user's code).
Warn = Callable[[str], None]

register(
    "missing_blocks_policy_params",
    """
    policy : {"marginalize", "omit"}
        The estimator's ``nan_policy``.
    n_components : int
        Clusters of the k-POD completion of the starts' sample.
    warn : callable, default=None
        Called with the message counting the rows left out.
    """,
)


# ------------------------------------------------------------------ rows
def kept_rows(X: FloatArray, policy: str) -> np.ndarray | None:
    """Rows a fit keeps under ``policy``, as a boolean mask; None: every row.

    ``"omit"`` keeps the rows without NaN, ``"marginalize"`` the rows with at
    least one observed value.
    """
    nan = np.isnan(X)
    drop = nan.any(axis=1) if policy == "omit" else nan.all(axis=1)
    if X.shape[1] == 0 or not drop.any():
        return None
    return np.asarray(~drop)


def policy_e_step(
    X: FloatArray,
    sample_weight: FloatArray | None,
    params: GMMParams,
    family: CovarianceFamily,
    policy: str,
    n_threads: int = 1,
) -> SuffStats:
    """Statistics of one block under ``policy`` (rows left out as :func:`kept_rows`).

    A block whose rows are all left out gives zero statistics of the family's
    shape.
    """
    keep = kept_rows(X, policy)
    if keep is not None:
        X = X[keep]
        sample_weight = None if sample_weight is None else sample_weight[keep]
    if X.shape[0] == 0:
        empty = group_patterns(X)
        return expected_stats(X, empty, params, family, None, params.center())
    if policy == "omit":
        return e_step(X, params, family, sample_weight, n_threads=n_threads)
    return nan_e_step(X, params, family, sample_weight, n_threads)


def block_labels(
    X: FloatArray,
    params: GMMParams,
    family: CovarianceFamily,
    policy: str,
    n_threads: int = 1,
) -> IntArray:
    """Labels of a block: from the observed values, or ``-1`` for rows ``"omit"`` left out."""
    if not np.isnan(X).any():
        return estimate_log_prob_resp(
            X, params, family, want_resp=False, n_threads=n_threads
        )[2]
    if policy == "omit":
        labels = np.full(X.shape[0], -1, dtype=np.intp)
        keep = ~np.isnan(X).any(axis=1)
        if keep.any():
            labels[keep] = estimate_log_prob_resp(
                np.ascontiguousarray(X[keep]),
                params,
                family,
                want_resp=False,
                n_threads=n_threads,
            )[2]
        return labels
    return log_prob_resp_with_nan(X, group_patterns(X), params, family, n_threads)[2]


# --------------------------------------------------------------- summary
@dataclass(frozen=True, slots=True)
class MissingMoments:
    """Sums of one block's kept rows over their observed values (about ``shift``).

    ``pair_weight[i, j]`` is the weight of the rows observing features ``i``
    and ``j``, ``pair_sum[i, j]`` the weighted sum of feature ``i`` over them
    and ``pair_product[i, j]`` that of the products; the diagonals are the
    per-feature sums. ``n_missing`` counts the NaN values of each feature in
    the kept rows; ``n_left_out`` the rows left out.
    """

    n_kept: int
    n_left_out: int
    n_missing: IntArray
    weight: float
    pair_weight: FloatArray
    pair_sum: FloatArray
    pair_product: FloatArray
    minimum: FloatArray
    maximum: FloatArray

    def __add__(self, other: MissingMoments) -> MissingMoments:
        return MissingMoments(
            self.n_kept + other.n_kept,
            self.n_left_out + other.n_left_out,
            self.n_missing + other.n_missing,
            self.weight + other.weight,
            self.pair_weight + other.pair_weight,
            self.pair_sum + other.pair_sum,
            self.pair_product + other.pair_product,
            np.fmin(self.minimum, other.minimum),
            np.fmax(self.maximum, other.maximum),
        )


def _missing_moments(
    X: FloatArray, w: FloatArray | None, keep: np.ndarray | None, shift: FloatArray
) -> MissingMoments:
    n_rows = X.shape[0]
    if keep is not None:
        X = X[keep]
        w = None if w is None else w[keep]
    observed = ~np.isnan(X)
    centred = np.where(observed, X.astype(np.float64) - shift, 0.0)
    counts = observed.astype(np.float64)
    weighted = centred if w is None else centred * w[:, None]
    weighted_counts = counts if w is None else counts * w[:, None]
    live = observed if w is None else observed & (w > 0)[:, None]
    values = X.astype(np.float64)
    return MissingMoments(
        n_kept=int(X.shape[0]),
        n_left_out=int(n_rows - X.shape[0]),
        n_missing=np.asarray((~observed).sum(axis=0), dtype=np.int64),
        weight=float(X.shape[0] if w is None else np.sum(w)),
        pair_weight=weighted_counts.T @ counts,
        pair_sum=weighted.T @ counts,
        pair_product=weighted.T @ centred,
        minimum=np.min(values, axis=0, where=live, initial=np.inf),
        maximum=np.max(values, axis=0, where=live, initial=-np.inf),
    )


def fold_missing(
    X: FloatArray,
    w: FloatArray | None,
    u: FloatArray,
    shift: FloatArray,
    policy: str,
) -> tuple[ChunkMoments, MissingMoments, FloatArray]:
    """One block's ordinary moments, its moments over observed values, and its keys.

    The ordinary moments (:func:`~gaussmix.sources.base.chunk_moments`) serve
    data without NaN (the summary is then the ordinary one, bit for bit); the
    keys are theirs, ``-inf`` for rows left out under ``policy`` (they never
    enter the sample). Shared by :class:`MissingSummaryBuilder` and the Dask
    blocks, so both give the same summary.
    """
    plain, keys = chunk_moments(X, w, shift, u)
    keep = kept_rows(X, policy)
    missing = _missing_moments(X, w, keep, np.where(np.isnan(shift), 0.0, shift))
    if keep is not None:
        keys = np.where(keep, keys, -np.inf)
    return plain, missing, keys


class MissingSummaryBuilder(SummaryBuilder):
    """:class:`~gaussmix.sources.base.SummaryBuilder` for data with NaN.

    Parameters
    ----------
    sample_size, random_state, owner
        As for :class:`~gaussmix.sources.base.SummaryBuilder`.
    policy : {"marginalize", "omit"}
        Which rows are left out (:func:`kept_rows`).
    """

    def __init__(
        self,
        sample_size: int,
        random_state: np.random.RandomState,
        owner: str,
        policy: str,
    ) -> None:
        super().__init__(sample_size, random_state, owner)
        self.policy = policy
        self.missing: MissingMoments | None = None

    def fold_chunk(
        self, X: FloatArray, w: FloatArray | None, u: FloatArray
    ) -> FloatArray:
        """Fold both kinds of moments; the keys leave the dropped rows out."""
        assert self.shift is not None
        plain, missing, keys = fold_missing(X, w, u, self.shift, self.policy)
        self.add_moments(*plain)
        self.add_missing(missing)
        return keys

    def add_block(self, moments: Any) -> None:
        """Fold a Dask block's ``(ordinary moments, MissingMoments)``."""
        plain, missing = moments
        self.add_moments(*plain)
        self.add_missing(missing)

    def add_missing(self, missing: MissingMoments) -> None:
        """Fold the moments over observed values of some rows."""
        self.missing = missing if self.missing is None else self.missing + missing

    @property
    def has_nan(self) -> bool:
        """Whether a NaN was seen (in a kept row or a row left out)."""
        m = self.missing
        return m is not None and (m.n_left_out > 0 or bool(m.n_missing.any()))

    def result(self) -> DataSummary:
        """The summary of the kept rows (``n_samples``: every row read).

        Without any NaN, the ordinary summary. Otherwise the moments are those
        of the observed values (pairwise) and the sample holds kept rows only.

        Raises
        ------
        ValueError
            If a feature has no observed value of positive weight in the kept
            rows, or if no row is kept.
        """
        if not self.has_nan:
            return super().result()
        m = self.missing
        assert m is not None
        assert self.shift is not None
        if m.n_kept == 0 or m.weight <= 0:
            raise ValueError(
                f"{self.owner}: no row of the data is left to fit under "
                f"nan_policy={self.policy!r} ({m.n_left_out} rows left out)."
            )
        n_obs = np.diagonal(m.pair_weight)
        if not np.all(n_obs > 0):
            cols = np.flatnonzero(~(n_obs > 0)).tolist()
            raise ValueError(
                f"{self.owner}: feature(s) {cols} of X have no observed value (of "
                "positive weight): nothing can be estimated for them. Drop those "
                "columns."
            )
        shift = np.where(np.isnan(self.shift), 0.0, self.shift)
        n_pair = m.pair_weight
        safe = np.where(n_pair > 0, n_pair, 1.0)
        mean = shift + np.diagonal(m.pair_sum) / n_obs
        scatter = m.pair_product - m.pair_sum * m.pair_sum.T / safe
        covariance = np.where(
            n_pair > 0, scatter / np.maximum(n_pair - 1.0, np.finfo(float).tiny), 0.0
        )
        return self.summary_of(m.weight, mean, covariance, m.minimum, m.maximum)


def finish_summary(
    summary: DataSummary,
    builder: MissingSummaryBuilder,
    n_components: int,
    warn: Warn | None,
) -> DataSummary:
    """The summary the starts use: kept rows counted, a completed sample.

    Reports the rows left out through ``warn``; under ``"marginalize"`` the
    reservoir's missing values are completed by k-POD
    (:func:`gaussmix.sources.missing.kpod_imputed`), as the in-memory path
    completes the whole array.
    """
    if not builder.has_nan:
        return summary
    m = builder.missing
    assert m is not None
    if m.n_left_out and warn is not None:
        total = m.n_kept + m.n_left_out
        if builder.policy == "omit":
            warn(
                f"{builder.owner}: nan_policy='omit' left out {m.n_left_out} of "
                f"{total} rows of X that contain NaN; they get the label -1 from "
                "fit_predict."
            )
        else:
            warn(
                f"{builder.owner}: {m.n_left_out} of {total} rows of X have every "
                "value missing (NaN); they carry no information about the "
                "parameters and were left out of the fit."
            )
    summary.n_samples = m.n_kept
    if builder.policy == "marginalize":
        summary.sample = kpod_imputed(summary.sample, None, n_components)
    return summary


# ---------------------------------------------------------------- source
SourceT = TypeVar("SourceT")


@fill_doc
@dataclass(eq=False)
class PolicySource(Generic[SourceT]):
    """Data with NaN read under a ``nan_policy``: the fields every such source has.

    :class:`MissingChunkedSource` and
    :class:`gaussmix.sources.dask.MissingDaskSource` wrap their data so.

    Parameters
    ----------
    source : ChunkedSource or DaskSource
        The data.
    {{missing_blocks_policy_params}}
    """

    source: SourceT
    policy: str
    n_components: int
    warn: Warn | None = None


@fill_doc
@dataclass(eq=False)
class MissingChunkedSource(PolicySource[ChunkedSource], NanBatchStats):
    """A ``.npy`` path, memmap or chunk factory with NaN, under a ``nan_policy``.

    Every pass reads the chunks of the wrapped source (validated, NaN
    allowed, infinity refused), leaves out rows as :func:`kept_rows` says, and
    sums the statistics of :func:`policy_e_step` chunk by chunk: memory is
    bounded by the chunks, as for complete data.

    Parameters
    ----------
    source : ChunkedSource
        The data (its NaN check is switched off here).
    {{missing_blocks_policy_params}}
    """

    def __post_init__(self) -> None:
        self.source.allow_nan = True

    def _kept(self) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        for X, w in self.source.chunks():
            keep = kept_rows(X, self.policy)
            if keep is None:
                yield X, w
            elif keep.any():
                yield X[keep], None if w is None else w[keep]

    def summarize(
        self, sample_size: int, random_state: np.random.RandomState
    ) -> DataSummary:
        """First pass: validation, NaN counts, observed moments, the sample."""
        builder = MissingSummaryBuilder(
            sample_size, random_state, self.source.owner, self.policy
        )
        summary = self.source.summarize(sample_size, random_state, builder)
        return finish_summary(summary, builder, self.n_components, self.warn)

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """E-step statistics of one pass, summed over the chunks' kept rows."""
        threads = self.source.n_threads

        def chunk_stats(X: FloatArray, w: FloatArray | None) -> SuffStats:
            if self.policy == "omit":
                return e_step(X, params, family, w, n_threads=threads)
            return nan_e_step(X, params, family, w, threads)

        return sum_chunk_stats(self._kept(), chunk_stats, self.source.owner)

    def batches(
        self, batch_size: int, random_state: np.random.RandomState
    ) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        """One epoch of online EM: the kept rows of each chunk, in order, in batches."""
        return chunk_batches(self._kept(), batch_size)

    def labels(self, params: GMMParams, family: CovarianceFamily) -> IntArray:
        """Label of every row, in order (``-1``: a row ``"omit"`` left out)."""
        parts = [
            block_labels(X, params, family, self.policy, self.source.n_threads)
            for X, _ in self.source.chunks()
        ]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
