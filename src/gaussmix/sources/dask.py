"""EM on a Dask cluster: a :class:`dask.array.Array` as a source of statistics.

The EM loop (:func:`gaussmix.em.fit_em`) asks its source for the E-step
statistics of one pass per iteration. :class:`DaskSource` builds, per
iteration, one graph:

* the parameters and the covariance family under **one key**, so every worker
  fetches them once and shares them between its tasks (a broadcast);
* one exact NumPy E-step (:func:`gaussmix.core.estep.e_step`) per row block,
  scheduled where the block lives;
* a tree reduction of :class:`~gaussmix.core.stats.SuffStats` by ``+`` with
  fan-in ``split_every``, on the workers.

and computes it once, on the active :class:`distributed.Client` if there is
one (the dask default scheduler otherwise). Only the summed statistics (a few
kilobytes) reach the client; persisted blocks stay on the workers, and a block
lost with a worker is recomputed by Dask from its lineage.

Statistics are centred on ``params.center()``, which depends only on the
parameters, so block statistics add exactly as chunk statistics do in memory:
the fit equals the in-memory fit up to the order of floating-point sums.

The first pass (:meth:`DaskSource.summarize`) validates every block on the
workers and returns the :class:`~gaussmix.sources.base.DataSummary` that
:class:`~gaussmix.sources.base.SummaryBuilder` gives on the same rows: the moments
of each block are computed about the same shift (the first row) and summed on
the client in block order, and the reservoir keys of each block are the
numbers the client's ``random_state`` would draw for those rows (each task is
sent the generator's state at its first row, not the numbers).

:func:`predict`, :func:`predict_proba` and :func:`score_samples` map the exact
NumPy predictions over the blocks of a dask array, lazily (their public home is
:mod:`gaussmix.distributed.dask`).
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from types import NoneType
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from gaussmix._docs import fill_doc, register
from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import (
    check_2d,
    check_finite_rows,
    check_numeric_dtype,
    check_weight_values,
    weight_shape_error,
)
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step, estimate_log_prob_resp
from gaussmix.core.missing import group_patterns
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats
from gaussmix.sources.base import (
    ChunkMoments,
    DataSummary,
    Reservoir,
    SummaryBuilder,
    chunk_moments,
    merge_reservoirs,
    online_batches_error,
    top_rows,
)
from gaussmix.sources.missing import log_prob_resp_with_nan
from gaussmix.sources.missing_blocks import (
    MissingSummaryBuilder,
    PolicySource,
    block_labels,
    finish_summary,
    fold_missing,
    policy_e_step,
)

if TYPE_CHECKING:
    from dask.delayed import Delayed

__all__ = [
    "DaskSource",
    "MissingDaskSource",
    "import_dask",
    "predict",
    "predict_proba",
    "score_samples",
]


def import_dask() -> tuple[Any, Any]:
    """``dask.array`` and ``dask.delayed``, or an ImportError with the install hint."""
    try:
        import dask.array as dask_array
        from dask.delayed import delayed as dask_delayed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "fitting dask arrays needs dask: pip install 'gaussmix[dask]'"
        ) from None
    return dask_array, dask_delayed


# dask ships partial annotations; its calls are used through untyped names.
da, delayed = import_dask()

#: Default fan-in of the tree reductions (statistics per summing task).
SPLIT_EVERY: Final = 8
#: Default malloc thresholds set in nanny-started workers (see ``_tune_malloc``).
MALLOC_THRESHOLD: Final = 32 * 2**20
#: glibc's ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_malloc_tuned = False
#: Uniforms drawn at once while the client's generator is moved past a block.
_ADVANCE_ROWS: Final = 2**20

Model = tuple[GMMParams, CovarianceFamily]


# ----------------------------------------------------------------- client side
def _default_client() -> Any:
    """The active ``distributed.Client``, or None (no distributed, or no client)."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is part of the extra
        return None
    get_client: Any = default_client
    try:
        return get_client()
    except ValueError:
        return None


def _compute(root: Delayed) -> Any:
    """Compute ``root`` (one graph), on the active client if there is one."""
    client = _default_client()
    if client is not None:
        return client.gather(client.compute(root))
    return root.compute()  # type: ignore[no-untyped-call]


def _as_matrix(X: Any, owner: str, *, known_rows: bool) -> Any:
    """A validated 2-D float dask array with a single block along the columns."""
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{owner}: expected a dask.array.Array, got {type(X).__name__}."
        )
    check_2d(X.shape, owner, "the dask array")
    check_numeric_dtype(X.dtype, owner, "the dask array")
    if math.isnan(X.shape[1]):
        raise ValueError(
            f"{owner}: the dask array has an unknown number of columns; call "
            "X.compute_chunk_sizes() first."
        )
    if known_rows and any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{owner}: the dask array has unknown chunk sizes (nan), as after "
            "boolean indexing; call X = X.compute_chunk_sizes() first."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _as_weights(sample_weight: Any, X: Any, owner: str) -> Any:
    """One float64 weight per row of ``X``, chunked like ``X``'s rows."""
    is_dask = isinstance(sample_weight, da.Array)
    w = sample_weight if is_dask else np.asarray(sample_weight)
    if w.ndim != 1 or (not math.isnan(w.shape[0]) and w.shape[0] != X.shape[0]):
        raise weight_shape_error(w.shape, X.shape[0], owner)
    check_numeric_dtype(w.dtype, owner, "sample_weight", note="")
    if isinstance(w, da.Array):
        if any(math.isnan(c) for c in w.chunks[0]):
            raise ValueError(
                f"{owner}: sample_weight has unknown chunk sizes (nan); call "
                "sample_weight.compute_chunk_sizes() first."
            )
        w = w.astype(np.float64)
        if w.chunks[0] != X.chunks[0]:
            w = w.rechunk((X.chunks[0],))
        return w
    return da.from_array(w.astype(np.float64), chunks=(X.chunks[0],))


# ---------------------------------------------------------------- worker side
def _check_block(
    X: FloatArray,
    w: FloatArray | None,
    block: int,
    start: int,
    owner: str,
    allow_nan: bool = False,
) -> None:
    """Raise a ValueError naming the block if it holds NaN, inf or bad weights."""
    subject = (
        f"block {block} of the dask array (rows {start} to {start + X.shape[0] - 1})"
    )
    fix = (
        "Remove or impute those rows, e.g. X[da.isfinite(X).all(axis=1)] followed "
        "by compute_chunk_sizes()."
    )
    check_finite_rows(X, owner, subject, fix, first_row=start, allow_nan=allow_nan)
    if w is not None:
        check_weight_values(
            w, owner, f"block {block} (rows {start} to {start + X.shape[0] - 1})"
        )


def _first_row(X: FloatArray) -> FloatArray:
    return np.asarray(X[0], dtype=np.float64).copy()


def _block_summary(
    X: FloatArray,
    w: FloatArray | None,
    shift: FloatArray,
    state: Any,
    start: int,
    sample_size: int,
    block: int,
    owner: str,
    policy: str | None = None,
) -> tuple[Any, Reservoir]:
    """Moments about ``shift`` and the block's best ``sample_size`` rows by key.

    The algebra is :func:`gaussmix.sources.base.chunk_moments`, as in
    :meth:`~gaussmix.sources.base.SummaryBuilder.add`, so the sums of these
    moments in block order are the builder's. With a ``nan_policy``, the block
    may hold NaN (see ``missing_blocks.fold_missing``): the moments are
    ``(ordinary, over observed values)`` and rows left out under ``policy``
    never enter the reservoir.
    """
    _check_block(X, w, block, start, owner, allow_nan=policy is not None)
    n = X.shape[0]
    generator = np.random.RandomState()
    generator.set_state(state)
    u = np.asarray(generator.random_sample(n))
    moments: Any
    if policy is None:
        moments, keys = chunk_moments(X, w, shift, u)
    else:
        plain, missing, keys = fold_missing(X, w, u, shift, policy)
        moments = (plain, missing)
    index = np.arange(start, start + n, dtype=np.int64)
    keep = np.isfinite(keys)
    reservoir = top_rows(keys[keep], index[keep], X[keep], sample_size)
    return moments, reservoir


def _moments_of(part: tuple[ChunkMoments, Reservoir]) -> ChunkMoments:
    return part[0]


def _reservoir_of(part: tuple[ChunkMoments, Reservoir]) -> Reservoir:
    return part[1]


def _tune_malloc(threshold: int | None) -> None:
    """Keep the E-step's temporaries off ``mmap`` in a Dask worker process (once).

    A distributed nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``,
    which also freezes glibc's mmap threshold at 128 KiB: every temporary of
    the E-step (a few MB per chunk) is then mapped, faulted in page by page and
    unmapped, which made the E-step 4.5x slower in a worker than in a plain
    process (measured, N=125,000, D=8, K=8, float32). Raising the mmap and trim
    thresholds to ``threshold`` bytes restores most of it (1.3x); freed memory
    beyond that is still returned to the system. Nothing is changed when the
    variable is not set (not a nanny worker), when the user chose a mmap
    threshold, or outside glibc.
    """
    global _malloc_tuned
    if _malloc_tuned or threshold is None:
        return
    _malloc_tuned = True
    if (
        not sys.platform.startswith("linux")
        or "MALLOC_TRIM_THRESHOLD_" not in os.environ
        or "MALLOC_MMAP_THRESHOLD_" in os.environ
    ):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    mallopt(_M_MMAP_THRESHOLD, int(threshold))
    mallopt(_M_TRIM_THRESHOLD, int(threshold))


def _block_stats(
    X: FloatArray,
    w: FloatArray | None,
    model: Model,
    malloc_threshold: int | None,
    policy: str | None = None,
) -> SuffStats:
    """The E-step task of one block (under a ``nan_policy``: ``policy_e_step``)."""
    _tune_malloc(malloc_threshold)
    params, family = model
    if policy is None:
        return e_step(X, params, family, w, n_threads=1)
    return policy_e_step(X, w, params, family, policy, n_threads=1)


def _sum_stats(*parts: SuffStats) -> SuffStats:
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


#: Outputs of estimate_log_prob_resp mapped over the blocks by the predictions.
_LOG_DENSITY, _RESP, _LABELS = 0, 1, 2


def _predict_block(
    X: FloatArray, model: Model, output: int, nan_policy: str | None = None
) -> FloatArray | IntArray:
    """One output of the exact NumPy prediction on one block (see :func:`_lazy`).

    With ``nan_policy``, rows with NaN are predicted from their observed
    values (labels under ``"omit"``: ``-1``).
    """
    params, family = model
    if nan_policy is not None and np.isnan(X).any():
        if output == _LABELS:
            return block_labels(X, params, family, nan_policy)
        with_nan = log_prob_resp_with_nan(X, group_patterns(X), params, family)
        return with_nan[output]
    result = estimate_log_prob_resp(
        X, params, family, want_resp=output == _RESP, n_threads=1
    )
    block = result[output]
    assert block is not None
    return block


def _tree(
    parts: Sequence[Delayed], combine: Any, split_every: int, name: str, *args: Any
) -> Delayed:
    """Reduce ``parts`` in order by ``combine(*args, *group)`` with fan-in ``split_every``."""
    level = list(parts)
    depth = 0
    while len(level) > 1:
        level = [
            delayed(combine, pure=False)(
                *args,
                *level[i : i + split_every],
                dask_key_name=(f"{name}-{depth}", i // split_every),
            )
            for i in range(0, len(level), split_every)
        ]
        depth += 1
    return level[0]


def _model_key(params: GMMParams, family: CovarianceFamily, token: str) -> Delayed:
    """The parameters and family as one graph key (each worker fetches it once)."""
    key: Delayed = delayed(
        (params, family), traverse=False, name=f"gaussmix-params-{token}"
    )
    return key


def _check_model(params: GMMParams, n_features: int, owner: str) -> None:
    if params.n_features != n_features:
        raise ValueError(
            f"{owner}: X has {n_features} features but the model has "
            f"{params.n_features}."
        )


# ---------------------------------------------------------------- the source
class DaskSource:
    """E-step statistics of a dask array, computed and summed on the workers.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        The data: float32 or float64 (integers are converted to float64), with
        known chunk sizes. Blocks are split along rows only (``X`` is
        rechunked to one block of columns if needed). Persist ``X`` on the
        cluster (``X = X.persist()``) so that iterations do not recompute it.
    sample_weight : dask.array.Array or array-like of shape (n_samples,), default=None
        One non-negative weight per row; rechunked to ``X``'s row blocks.
        In-memory weights are persisted on the active client's cluster.
    owner : str, default="GaussianMixture"
        Name used in error messages.
    split_every : int, default=8
        Fan-in of the tree reductions: statistics summed per task.
    malloc_threshold : int or None, default=32 MiB
        In workers started by a distributed nanny (which sets
        ``MALLOC_TRIM_THRESHOLD_=65536``), glibc's mmap and trim thresholds
        are raised to this many bytes on the first E-step task, so that the
        E-step's temporaries are not mapped and unmapped on every chunk (4.5x
        slower, measured). None leaves the workers' allocator alone.

    Attributes
    ----------
    X : dask.array.Array
        The validated data.
    sample_weight : dask.array.Array or None
        The weights, chunked like ``X``'s rows.
    n_samples, n_features : int
        Shape of ``X``.
    dtype : numpy dtype
        float32 or float64, the dtype the fit computes in.

    Notes
    -----
    Each call of :meth:`accumulate` computes one graph: the parameters under a
    single key, one E-step task per non-empty block and a tree of sums with
    fan-in ``split_every``. With an active :class:`distributed.Client` it is
    computed there, otherwise on dask's default scheduler. The data are never
    gathered to the client.
    """

    def __init__(
        self,
        X: Any,
        sample_weight: Any = None,
        *,
        owner: str = "GaussianMixture",
        split_every: int = SPLIT_EVERY,
        malloc_threshold: int | None = MALLOC_THRESHOLD,
    ) -> None:
        if int(split_every) != split_every or split_every < 2:
            raise ValueError(
                f"{owner}: split_every must be an integer >= 2, got {split_every!r}."
            )
        self.owner = owner
        self.split_every = int(split_every)
        self.malloc_threshold = malloc_threshold
        self.X = _as_matrix(X, owner, known_rows=True)
        self.sample_weight = (
            None if sample_weight is None else _as_weights(sample_weight, self.X, owner)
        )
        client = _default_client()
        if client is not None and not isinstance(sample_weight, (da.Array, NoneType)):
            # In-memory weights: sent to the cluster once, not in every pass's graph.
            self.sample_weight = client.persist(self.sample_weight)
        self.n_samples = int(self.X.shape[0])
        self.n_features = int(self.X.shape[1])
        self.dtype: np.dtype[Any] = np.dtype(self.X.dtype)
        self._rows: tuple[int, ...] = tuple(int(c) for c in self.X.chunks[0])
        self._starts = np.concatenate([[0], np.cumsum(self._rows)[:-1]]).astype(int)
        self._blocks: list[Delayed] = list(self.X.to_delayed().ravel())
        self._weights: list[Delayed | None] = (
            [None] * len(self._blocks)
            if self.sample_weight is None
            else list(self.sample_weight.to_delayed().ravel())
        )

    def _nonempty(self) -> list[int]:
        return [i for i, n in enumerate(self._rows) if n > 0]

    # ------------------------------------------------------------ first pass
    def summarize(
        self,
        sample_size: int,
        random_state: np.random.RandomState,
        builder: SummaryBuilder | None = None,
        block_summary: Callable[..., Any] = _block_summary,
    ) -> DataSummary:
        """One validating pass: counts, moments and a reservoir sample.

        Parameters
        ----------
        sample_size : int
            Rows kept in the sample for the initialisation.
        random_state : numpy.random.RandomState
            Source of the reservoir keys; advanced by one uniform per row, as
            :class:`~gaussmix.sources.base.SummaryBuilder` does.
        builder : SummaryBuilder, default=None
            The builder the blocks' moments are folded into (missing values);
            None: an ordinary one.
        block_summary : callable, default=the ordinary one
            The task of one block: its moments (what ``builder.add_block``
            folds) and its reservoir.

        Returns
        -------
        DataSummary
            The summary :class:`~gaussmix.sources.base.SummaryBuilder` gives on the
            same rows in the same order (moments up to rounding of the block
            products; sample, index, bounds identical).

        Raises
        ------
        ValueError
            If a block holds NaN or infinity or bad weights (the message names
            the block), if the weights sum to zero, or if there are no rows.
        """
        blocks = self._nonempty()
        if not blocks:
            raise ValueError(f"{self.owner}: the dask array has no rows.")
        # An empty first chunk sets the builder up (its sample size cap, its
        # buffers) without drawing; the workers' sums are folded in below.
        if builder is None:
            builder = SummaryBuilder(sample_size, random_state, self.owner)
        builder.add(np.empty((0, self.n_features), self.dtype), None, 0)
        sample_size = builder.sample_size
        token = uuid.uuid4().hex[:12]
        first = self._blocks[0]
        shift: Any = (
            delayed(_first_row)(first, dask_key_name=f"gaussmix-shift-{token}")
            if self._rows[0] > 0
            else np.zeros(self.n_features)
        )
        parts = []
        for i in blocks:
            state = random_state.get_state()
            for done in range(0, self._rows[i], _ADVANCE_ROWS):
                random_state.random_sample(min(_ADVANCE_ROWS, self._rows[i] - done))
            parts.append(
                delayed(block_summary, pure=False)(
                    self._blocks[i],
                    self._weights[i],
                    shift,
                    state,
                    int(self._starts[i]),
                    int(sample_size),
                    i,
                    self.owner,
                    dask_key_name=(f"gaussmix-summary-{token}", i),
                )
            )
        moments = [
            delayed(_moments_of)(p, dask_key_name=(f"gaussmix-moments-{token}", i))
            for i, p in zip(blocks, parts, strict=True)
        ]
        reservoirs = [
            delayed(_reservoir_of)(p, dask_key_name=(f"gaussmix-reservoir-{token}", i))
            for i, p in zip(blocks, parts, strict=True)
        ]
        sample = _tree(
            reservoirs,
            merge_reservoirs,
            self.split_every,
            f"gaussmix-sample-{token}",
            int(sample_size),
        )
        root = delayed(tuple, pure=False)(
            [shift, moments, sample], dask_key_name=f"gaussmix-summary-result-{token}"
        )
        shift_value, all_moments, (keys, index, rows) = _compute(root)
        builder.shift = np.asarray(shift_value, dtype=np.float64)
        for moments in all_moments:
            builder.add_block(moments)
        builder.set_reservoir(keys, index, rows)
        return builder.result()

    # ------------------------------------------------------------ E-step pass
    def accumulate(
        self,
        params: GMMParams,
        family: CovarianceFamily,
        block_stats: Callable[..., SuffStats] = _block_stats,
    ) -> SuffStats:
        """E-step statistics of one pass, computed and summed on the workers.

        The data are assumed validated by :meth:`summarize` (the first pass of
        a fit); a block with NaN gives NaN statistics here.

        Parameters
        ----------
        params : GMMParams
            Current parameters.
        family : CovarianceFamily
            Covariance family of ``params``.
        block_stats : callable, default=the ordinary E-step task
            The task of one block, ``block_stats(X, w, (params, family),
            malloc_threshold)``.

        Returns
        -------
        SuffStats
            The statistics of every row, as :func:`gaussmix.core.estep.e_step`
            on the whole array gives (up to the order of the sums).
        """
        _check_model(params, self.n_features, self.owner)
        blocks = self._nonempty()
        if not blocks:
            raise ValueError(f"{self.owner}: the dask array has no rows.")
        token = uuid.uuid4().hex[:12]
        model = _model_key(params, family, token)
        parts = [
            delayed(block_stats, pure=False)(
                self._blocks[i],
                self._weights[i],
                model,
                self.malloc_threshold,
                dask_key_name=(f"gaussmix-estep-{token}", i),
            )
            for i in blocks
        ]
        root = _tree(parts, _sum_stats, self.split_every, f"gaussmix-sum-{token}")
        stats: SuffStats = _compute(root)
        return stats

    def batches(
        self, batch_size: int, random_state: np.random.RandomState
    ) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        """Online EM is not run on dask arrays: raises the ValueError at once.

        Raises
        ------
        ValueError
            Always: a dask array is fitted by batch EM (``batch_size=None``).
        """
        raise online_batches_error(self.owner)

    def labels(self, params: GMMParams, family: CovarianceFamily) -> Any:
        """Most likely component of every row, as a lazy dask array.

        Returns
        -------
        dask.array.Array of shape (n_samples,)
            Component labels (``-1`` for rows most likely noise).
        """
        return predict(self.X, params, family, owner=self.owner)


@fill_doc
@dataclass(eq=False)
class MissingDaskSource(PolicySource[DaskSource]):
    """A dask array with NaN under a ``nan_policy``, summed on the workers.

    The first pass (:meth:`DaskSource.summarize` with the tasks of
    :func:`gaussmix.sources.missing_blocks.fold_missing`) counts the missing
    values and the rows left out, sums moments over the observed values and
    draws the reservoir of the kept rows; every E-step is one task per block
    (:func:`gaussmix.sources.missing_blocks.policy_e_step`: rows left out,
    the marginalising E-step grouped by pattern within the block) and a tree
    of sums on the workers. The fit equals the in-memory one up to the order
    of the sums.

    Parameters
    ----------
    source : DaskSource
        The data.
    {{missing_blocks_policy_params}}
    """

    def summarize(
        self, sample_size: int, random_state: np.random.RandomState
    ) -> DataSummary:
        """The validating first pass (NaN allowed, infinity refused)."""
        builder = MissingSummaryBuilder(
            sample_size, random_state, self.source.owner, self.policy
        )
        summary = self.source.summarize(
            sample_size,
            random_state,
            builder,
            partial(_block_summary, policy=self.policy),
        )
        return finish_summary(summary, builder, self.n_components, self.warn)

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """Statistics of one pass: a task per block, summed in a tree."""
        return self.source.accumulate(
            params, family, partial(_block_stats, policy=self.policy)
        )

    def batches(
        self, batch_size: int, random_state: np.random.RandomState
    ) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        """Online EM is not run on dask arrays: raises the ValueError at once."""
        raise online_batches_error(self.source.owner)

    def labels(self, params: GMMParams, family: CovarianceFamily) -> Any:
        """Label of every row, lazily (``-1``: a row ``"omit"`` left out)."""
        return predict(
            self.source.X,
            params,
            family,
            owner=self.source.owner,
            nan_policy=self.policy,
        )


# ------------------------------------------------------- lazy predictions
register(
    "dask_prediction_parameters",
    """
    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Points to evaluate (unknown row chunk sizes are allowed).
    params : GMMParams
        Fitted parameters.
    family : CovarianceFamily
        Their covariance family.
    owner : str, default=the function's name
        Name used in error messages.
    nan_policy : {"marginalize", "omit"}, default=None
        Rows with NaN: predicted from their observed values (labels under
        "omit": ``-1``); None: NaN is not expected.
    """,
)


#: The graph-key name of each output.
_GRAPH_NAMES: Final = {_LABELS: "predict", _RESP: "proba", _LOG_DENSITY: "score"}


def _lazy(
    X: Any,
    params: GMMParams,
    family: CovarianceFamily,
    owner: str,
    output: int,
    dtype: Any,
    nan_policy: str | None,
) -> Any:
    """``output`` of :func:`_predict_block` on every block of ``X``, as a lazy dask array.

    In ``dtype`` (None: ``X``'s); the responsibilities have one column per
    component and one for the noise. Graph keys are ``gaussmix-<name>-<token>``.
    """
    X = _as_matrix(X, owner, known_rows=False)
    _check_model(params, int(X.shape[1]), owner)
    token = uuid.uuid4().hex[:12]
    model = _model_key(params, family, token)
    out_dtype = X.dtype if dtype is None else np.dtype(dtype)
    shape: dict[str, Any]
    if output == _RESP:
        columns = params.n_components + int(params.has_noise)
        shape = {
            "chunks": (X.chunks[0], (columns,)),
            "meta": np.empty((0, 0), dtype=out_dtype),
        }
    else:
        shape = {"drop_axis": 1, "meta": np.empty((0,), out_dtype)}
    return X.map_blocks(
        _predict_block,
        model,
        output,
        nan_policy,
        dtype=out_dtype,
        name=f"gaussmix-{_GRAPH_NAMES[output]}-{token}",
        **shape,
    )


@fill_doc
def predict(
    X: Any,
    params: GMMParams,
    family: CovarianceFamily,
    *,
    owner: str = "predict",
    nan_policy: str | None = None,
) -> Any:
    """Most likely component of each row of a dask array (lazy).

    {{dask_prediction_parameters}}

    Returns
    -------
    dask.array.Array of shape (n_samples,)
        Component labels (``-1`` for rows most likely noise), chunked like
        ``X``'s rows.
    """
    return _lazy(X, params, family, owner, _LABELS, np.intp, nan_policy)


@fill_doc
def predict_proba(
    X: Any,
    params: GMMParams,
    family: CovarianceFamily,
    *,
    owner: str = "predict_proba",
    nan_policy: str | None = None,
) -> Any:
    """Posterior probability of each component for each row (lazy).

    {{dask_prediction_parameters}}

    Returns
    -------
    dask.array.Array of shape (n_samples, n_components [+ 1])
        Responsibilities in ``X``'s dtype; with a noise component the last
        column is the noise (as :meth:`gaussmix.GaussianMixture.predict_proba`).
    """
    return _lazy(X, params, family, owner, _RESP, None, nan_policy)


@fill_doc
def score_samples(
    X: Any,
    params: GMMParams,
    family: CovarianceFamily,
    *,
    owner: str = "score_samples",
    nan_policy: str | None = None,
) -> Any:
    """Log of the mixture's density at each row (lazy).

    {{dask_prediction_parameters}}

    Returns
    -------
    dask.array.Array of shape (n_samples,)
        ``log p(x)`` in ``X``'s dtype (with a noise component, ``p`` includes
        its uniform density).
    """
    return _lazy(X, params, family, owner, _LOG_DENSITY, None, nan_policy)
