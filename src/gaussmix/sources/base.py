"""What every data source gives the fit, and the summary code they share.

A source is anything that can (see :class:`DataSource`)

* **summarize** itself in one first pass: validation, counts, moments, a
  bounding box and a reservoir sample on which the initialisation runs
  (:class:`DataSummary`, built chunk by chunk by :class:`SummaryBuilder`);
* **accumulate** the E-step statistics of one pass under given parameters;
* cut one epoch of **batches** for online EM;
* give the **labels** of every row under fitted parameters.

The reservoir keeps the rows with the largest keys ``log(u) / w`` (``u``
uniform, one per row, drawn in row order; Efraimidis & Spirakis 2006), so the
sample does not depend on how rows are cut into chunks or blocks:
:func:`chunk_moments` gives a chunk's moments and keys, :func:`top_rows` and
:func:`merge_reservoirs` keep the best rows of several blocks (Dask).

Nothing here imports Dask: the Dask source (:mod:`gaussmix.sources.dask`)
imports this module, never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, Protocol

import numpy as np

from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import check_allocation
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats

__all__ = [
    "BLOCK_BYTES",
    "INIT_SAMPLE_SIZE",
    "MIN_ROW_BYTES",
    "MIN_SAMPLE_ROWS",
    "ChunkMoments",
    "DataSource",
    "DataSummary",
    "Reservoir",
    "StatsSource",
    "SummaryBuilder",
    "chunk_moments",
    "merge_reservoirs",
    "online_batches_error",
    "shuffled_batches",
    "top_rows",
]

#: Bytes of data per block read from a ``.npy`` file or a memmap.
BLOCK_BYTES: Final = 16 * 2**20
#: Rows of the reservoir sample on which out-of-core fits are initialised (at
#: most :data:`BLOCK_BYTES` of data, and never fewer than MIN_SAMPLE_ROWS rows).
INIT_SAMPLE_SIZE: Final = 100_000
MIN_SAMPLE_ROWS: Final = 2_000
#: Narrow rows count as this many bytes when sizing read blocks.
MIN_ROW_BYTES: Final = 64

#: ``(n_rows, weight, s1, s2, minimum, maximum)`` of a chunk (:func:`chunk_moments`).
ChunkMoments = tuple[int, float, FloatArray, FloatArray, FloatArray, FloatArray]
#: ``(keys, row indices, rows)`` of a reservoir sample.
Reservoir = tuple[FloatArray, IntArray, FloatArray]


class StatsSource(Protocol):
    """Anything that turns parameters into the statistics of one E-step pass."""

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """Statistics of one pass over the data under ``params``."""
        ...


class DataSource(StatsSource, Protocol):
    """A source of data for a fit: an array, chunks, a file, a dask array."""

    def summarize(
        self, sample_size: int, random_state: np.random.RandomState
    ) -> DataSummary:
        """The first pass: validation, counts, moments and a sample of rows."""
        ...

    def batches(
        self, batch_size: int, random_state: np.random.RandomState
    ) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        """One epoch of ``(X, sample_weight)`` mini-batches for online EM."""
        ...

    def labels(self, params: GMMParams, family: CovarianceFamily) -> Any:
        """Most likely component of every row, in order (an array or a dask array)."""
        ...


def shuffled_batches(
    X: FloatArray,
    sample_weight: FloatArray | None,
    batch_size: int,
    random_state: np.random.RandomState,
) -> Iterator[tuple[FloatArray, FloatArray | None]]:
    """One epoch of online EM over an array: the rows in a random order, in batches.

    The order is ``random_state.permutation(n_samples)`` (drawn when the
    iteration starts); the rows of each batch are taken in increasing order.
    """
    n_samples = X.shape[0]
    order = random_state.permutation(n_samples)
    for lo in range(0, n_samples, batch_size):
        rows = np.sort(order[lo : lo + batch_size])
        yield X[rows], None if sample_weight is None else sample_weight[rows]


def online_batches_error(owner: str) -> ValueError:
    """The error of a source that cannot be cut into mini-batches (a dask array)."""
    return ValueError(
        f"{owner}: batch_size (online EM) needs data read chunk by chunk "
        "(a .npy path, memmap or chunk factory); a dask array is fitted by "
        "batch EM with batch_size=None."
    )


class DataSummary:
    """What the first pass over a source learns.

    A pass over out-of-core data (:class:`SummaryBuilder`) gives every field.
    An in-memory array is summarised without a pass (:meth:`of_array`): its
    sample is the array itself, and ``weight``, ``mean`` and ``covariance``
    (and ``minimum`` and ``maximum``, and ``sample_index``) are computed from
    it when first read.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int
        Number of columns.
    dtype : numpy dtype
        float32 or float64, the dtype the fit computes in.
    sample : ndarray of shape (n_sample, n_features)
        The rows the initialisation runs on: for out-of-core data a uniform
        sample without replacement (with weights: rows drawn with probability
        proportional to weight, Efraimidis & Spirakis 2006), in the order of
        the data; for an array, the array.
    sample_weight : ndarray of shape (n_sample,), default=None
        Weights of the sample's rows: an array's own weights; None for a
        reservoir sample (the weights chose its rows).
    sample_index : ndarray of shape (n_sample,), default=None
        Row numbers of the sample; None: every row, in order.
    weight : float, default=None
        Sum of the sample weights (``n_samples`` without weights).
    mean : ndarray of shape (n_features,), default=None
        Weighted mean.
    covariance : ndarray of shape (n_features, n_features), default=None
        Weighted covariance with divisor ``weight - 1`` (as ``np.cov`` with
        frequency weights).
    minimum, maximum : ndarray of shape (n_features,), default=None
        Bounding box of the rows with a positive weight.

    Fields left None are computed from the sample when first read, which is
    allowed only when the sample holds every row.
    """

    n_samples: int
    n_features: int
    dtype: np.dtype[Any]
    sample: FloatArray
    sample_weight: FloatArray | None
    sample_index: IntArray
    weight: float
    mean: FloatArray
    covariance: FloatArray
    minimum: FloatArray
    maximum: FloatArray

    def __init__(
        self,
        *,
        n_samples: int,
        n_features: int,
        dtype: np.dtype[Any],
        sample: FloatArray,
        sample_weight: FloatArray | None = None,
        sample_index: IntArray | None = None,
        weight: float | None = None,
        mean: FloatArray | None = None,
        covariance: FloatArray | None = None,
        minimum: FloatArray | None = None,
        maximum: FloatArray | None = None,
    ) -> None:
        self.n_samples, self.n_features, self.dtype = n_samples, n_features, dtype
        self.sample, self.sample_weight = sample, sample_weight
        exact = (sample_index, weight, mean, covariance, minimum, maximum)
        given = {k: v for k, v in zip(_LAZY, exact, strict=True) if v is not None}
        if len(given) < len(_LAZY) and sample.shape[0] != n_samples:
            raise ValueError(
                "DataSummary: a field can be left out only when the sample holds "
                "every row."
            )
        self.__dict__.update(given)

    @classmethod
    def of_array(cls, X: FloatArray, sample_weight: FloatArray | None) -> DataSummary:
        """The summary of a validated array: no pass, the sample is ``X`` itself."""
        n_samples, n_features = X.shape
        return cls(
            n_samples=n_samples,
            n_features=n_features,
            dtype=X.dtype,
            sample=X,
            sample_weight=sample_weight,
        )

    def __getattr__(self, name: str) -> Any:
        # Only called for a field not set yet: computed from the sample (every row).
        if name not in _LAZY or "sample" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}"
            )
        X, w = self.sample, self.sample_weight
        if name in ("weight", "mean", "covariance"):
            self.weight, self.mean, self.covariance = _array_moments(X, w)
        elif name in ("minimum", "maximum"):
            self.minimum, self.maximum = _array_bounds(X, w)
        else:
            self.sample_index = np.arange(self.n_samples, dtype=np.int64)
        return self.__dict__[name]

    def __repr__(self) -> str:
        return (
            f"DataSummary(n_samples={self.n_samples}, n_features={self.n_features}, "
            f"dtype={self.dtype}, sample of {self.sample.shape[0]} rows)"
        )


#: The fields of a DataSummary that may be computed from the sample on first use.
_LAZY: Final = ("sample_index", "weight", "mean", "covariance", "minimum", "maximum")


def _array_moments(
    X: FloatArray, sample_weight: FloatArray | None
) -> tuple[float, FloatArray, FloatArray]:
    """Total weight, weighted mean and covariance (divisor ``total - 1``) of ``X``.

    The formula of :func:`gaussmix.core.prior.resolve_prior` for in-memory data,
    operation for operation, so that a prior from these moments is bit-identical.
    """
    X = np.asarray(X, dtype=np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    total = float(X.shape[0] if w is None else np.sum(w))
    mean: FloatArray = np.asarray(np.average(X, axis=0, weights=w), dtype=np.float64)
    centred = X - mean
    weighted = centred if w is None else centred * w[:, None]
    covariance: FloatArray = (weighted.T @ centred) / (total - 1.0)
    return total, mean, covariance


def _array_bounds(
    X: FloatArray, sample_weight: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Bounding box (float64) of the rows of ``X`` with a positive weight."""
    live = None if sample_weight is None else (sample_weight > 0)[:, None]
    low = np.min(X, axis=0, where=live if live is not None else True, initial=np.inf)
    high = np.max(X, axis=0, where=live if live is not None else True, initial=-np.inf)
    return np.asarray(low, np.float64), np.asarray(high, np.float64)


def chunk_moments(
    X: FloatArray, w: FloatArray | None, shift: FloatArray, u: FloatArray
) -> tuple[ChunkMoments, FloatArray]:
    """Moments of one chunk about ``shift`` and its rows' reservoir keys.

    Returns ``(n, weight, s1, s2, minimum, maximum)`` (the bounds over rows with
    a positive weight) and the keys ``log(u) / w`` (``-inf`` for zero weights),
    from the row uniforms ``u``. Shared by :class:`SummaryBuilder` and the Dask
    source's blocks, so that both give the same summary.
    """
    n, d = X.shape
    xc = X.astype(np.float64) - shift
    weight: float
    if w is None:
        weight = float(n)
        s1 = xc.sum(axis=0)
        s2 = xc.T @ xc
        live = X
        keys = np.log(u)
    else:
        weight = float(np.sum(w))
        s1 = w @ xc
        s2 = (xc * w[:, None]).T @ xc
        live = X[w > 0]
        with np.errstate(divide="ignore"):
            keys = np.where(w > 0, np.log(u) / np.where(w > 0, w, 1.0), -np.inf)
    if live.shape[0]:
        minimum, maximum = live.min(axis=0), live.max(axis=0)
    else:
        minimum, maximum = np.full(d, np.inf, X.dtype), np.full(d, -np.inf, X.dtype)
    return (n, weight, s1, s2, minimum, maximum), keys


def top_rows(keys: FloatArray, index: IntArray, rows: FloatArray, k: int) -> Reservoir:
    """The ``k`` entries with the largest keys (all when there are fewer)."""
    if keys.size <= k:
        return keys, index, rows
    if k <= 0:
        return keys[:0], index[:0], rows[:0]
    top = np.argpartition(keys, keys.size - k)[keys.size - k :]
    return keys[top], index[top], rows[top]


def merge_reservoirs(sample_size: int, *parts: Reservoir) -> Reservoir:
    """The ``sample_size`` entries with the largest keys among ``parts``."""
    keys = np.concatenate([p[0] for p in parts])
    index = np.concatenate([p[1] for p in parts])
    rows = np.concatenate([p[2] for p in parts])
    return top_rows(keys, index, rows, sample_size)


class SummaryBuilder:
    """Accumulates a :class:`DataSummary` chunk by chunk (also used by Dask).

    The reservoir keeps the ``sample_size`` rows with the largest keys
    ``log(u) / w`` (``u`` uniform, one per row, drawn in row order), so the
    sample does not depend on how the rows are split into chunks. Its buffer
    is allocated once and replaced in place.

    Parameters
    ----------
    sample_size : int
        Rows kept for the initialisation.
    random_state : numpy.random.RandomState
        Source of the keys.
    owner : str
        Name used in error messages.
    """

    def __init__(
        self, sample_size: int, random_state: np.random.RandomState, owner: str
    ) -> None:
        self.sample_size = sample_size
        self.random_state = random_state
        self.owner = owner
        self.n_samples = 0
        self.n_features: int | None = None
        self.dtype: np.dtype[Any] | None = None
        self.weight = 0.0
        self.shift: FloatArray | None = None
        self.s1: FloatArray | None = None
        self.s2: FloatArray | None = None
        self.minimum: FloatArray | None = None
        self.maximum: FloatArray | None = None
        self.filled = 0
        self.keys = np.empty(0)
        self.rows: FloatArray | None = None
        self.index = np.empty(0, dtype=np.int64)

    def _start(self, X: FloatArray) -> None:
        """Set up the sums and the sample buffer from the first chunk."""
        n, d = X.shape
        # The sample takes at most BLOCK_BYTES (fewer rows for wide data).
        row_bytes = max(1, d * X.dtype.itemsize)
        self.sample_size = min(
            self.sample_size, max(MIN_SAMPLE_ROWS, BLOCK_BYTES // row_bytes)
        )
        check_allocation(
            8 * d * d + self.sample_size * row_bytes,
            f"the first pass over data with {d} features (their {d} x {d} "
            "covariance and a sample of rows)",
            self.owner,
            "Use fewer features (e.g. sklearn.decomposition.PCA), or fit an "
            "in-memory array with covariance_type='diag'.",
        )
        self.n_features = d
        self.dtype = X.dtype
        self.shift = X[0].astype(np.float64) if n else np.zeros(d)
        self.s1 = np.zeros(d)
        self.s2 = np.zeros((d, d))
        self.minimum = np.full(d, np.inf)
        self.maximum = np.full(d, -np.inf)
        self.rows = np.empty((self.sample_size, d), dtype=X.dtype)
        self.keys = np.empty(self.sample_size)
        self.index = np.empty(self.sample_size, dtype=np.int64)

    def add(self, X: FloatArray, w: FloatArray | None, chunk: int) -> None:
        """Fold one validated chunk into the summary."""
        n, d = X.shape
        if self.n_features is None:
            self._start(X)
        elif d != self.n_features:
            raise ValueError(
                f"{self.owner}: chunk {chunk} has {d} features but the first chunk "
                f"had {self.n_features}; every chunk needs the same columns."
            )
        elif X.dtype != self.dtype:
            raise ValueError(
                f"{self.owner}: chunk {chunk} has dtype {X.dtype} but the first "
                f"chunk had {self.dtype}; give every chunk the same dtype."
            )
        assert self.shift is not None
        assert self.rows is not None
        if n == 0:
            return
        u = np.asarray(self.random_state.random_sample(n))
        index = np.arange(self.n_samples, self.n_samples + n, dtype=np.int64)
        keys = self.fold_chunk(X, w, u)
        keep = np.isfinite(keys)
        m = self.sample_size
        if self.filled == m:
            keep &= keys > self.keys.min()  # cannot enter the full reservoir
        keep_rows = np.flatnonzero(keep)
        # Fill the free slots first, in row order.
        take = keep_rows[: m - self.filled]
        if take.size:
            slots = slice(self.filled, self.filled + take.size)
            self.rows[slots] = X[take]
            self.keys[slots] = keys[take]
            self.index[slots] = index[take]
            self.filled += take.size
        rest = keep_rows[take.size :]
        if rest.size:
            # Keep the m largest keys: the newcomers that beat them evict the smallest.
            all_keys = np.concatenate([self.keys, keys[rest]])
            top = np.argpartition(all_keys, rest.size)[rest.size :]
            enter = top[top >= m] - m
            stays = np.zeros(m, dtype=bool)
            stays[top[top < m]] = True
            evict = np.flatnonzero(~stays)
            self.rows[evict] = X[rest[enter]]
            self.keys[evict] = keys[rest[enter]]
            self.index[evict] = index[rest[enter]]

    def fold_chunk(
        self, X: FloatArray, w: FloatArray | None, u: FloatArray
    ) -> FloatArray:
        """Fold one chunk's moments into the sums; return its rows' reservoir keys.

        A subclass may change what is summed and which rows may enter the
        sample (a key of ``-inf`` keeps a row out).
        """
        assert self.shift is not None
        moments, keys = chunk_moments(X, w, self.shift, u)
        self.add_moments(*moments)
        return keys

    def add_block(self, moments: Any) -> None:
        """Fold what a Dask block's summary task returned (its moments)."""
        self.add_moments(*moments)

    def add_moments(
        self,
        n: int,
        weight: float,
        s1: FloatArray,
        s2: FloatArray,
        minimum: FloatArray,
        maximum: FloatArray,
    ) -> None:
        """Fold the moments of ``n`` rows (:func:`chunk_moments`) into the sums."""
        assert self.s1 is not None
        assert self.s2 is not None
        assert self.minimum is not None
        assert self.maximum is not None
        self.n_samples += n
        self.weight += weight
        self.s1 += s1
        self.s2 += s2
        np.minimum(self.minimum, minimum, out=self.minimum)
        np.maximum(self.maximum, maximum, out=self.maximum)

    def set_reservoir(
        self, keys: FloatArray, index: IntArray, rows: FloatArray
    ) -> None:
        """Replace the sample by one drawn elsewhere (at most ``sample_size`` rows)."""
        assert self.rows is not None
        filled = int(keys.size)
        self.keys[:filled], self.index[:filled] = keys, index
        self.rows[:filled] = rows
        self.filled = filled

    def result(self) -> DataSummary:
        """The summary of every chunk added."""
        if self.n_features is None or self.n_samples == 0:
            raise ValueError(
                f"{self.owner}: the data source gave no rows. A chunk factory must "
                "return a new iterator over the same non-empty data on every call."
            )
        assert self.shift is not None
        assert self.s1 is not None
        assert self.s2 is not None
        assert self.minimum is not None
        assert self.maximum is not None
        if self.weight <= 0:
            raise ValueError(
                f"{self.owner}: the sample weights sum to {self.weight}; at least one "
                "row needs a positive weight."
            )
        d = self.s1 / self.weight
        mean = self.shift + d
        scatter = self.s2 - self.weight * np.outer(d, d)
        covariance = scatter / max(self.weight - 1.0, np.finfo(float).tiny)
        return self.summary_of(
            self.weight, mean, covariance, self.minimum, self.maximum
        )

    def summary_of(
        self,
        weight: float,
        mean: FloatArray,
        covariance: FloatArray,
        minimum: FloatArray,
        maximum: FloatArray,
    ) -> DataSummary:
        """The summary of these moments, with the reservoir's rows in data order.

        ``covariance`` is symmetrised; ``minimum`` and ``maximum`` are copied.
        """
        assert self.rows is not None
        assert self.dtype is not None
        assert self.n_features is not None
        order = np.argsort(self.index[: self.filled])
        return DataSummary(
            n_samples=self.n_samples,
            n_features=self.n_features,
            dtype=self.dtype,
            weight=weight,
            mean=mean,
            covariance=(covariance + covariance.T) / 2,
            minimum=minimum.copy(),
            maximum=maximum.copy(),
            sample=np.ascontiguousarray(self.rows[order]),
            sample_index=self.index[order],
        )
