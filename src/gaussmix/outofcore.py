"""Data that are not one in-memory array: chunk factories, ``.npy`` files, memmaps.

:meth:`gaussmix.GaussianMixture.fit` accepts, besides arrays,

* a **chunk factory**: a callable that returns a fresh iterator over 2-D arrays
  (or ``(X_chunk, weight_chunk)`` pairs), called once per pass over the data;
* a **path** to a ``.npy`` file, read block by block with ordinary file reads
  (no memory map, so the file may be larger than the address space allowed);
* a :class:`numpy.memmap`, read block by block;
* a :class:`ChunkedSource` built from any of these, to choose the block size.

Every source gives two things to the estimator: a :class:`DataSummary` from one
first pass (row count, validated shape and dtype, weighted mean and
covariance, bounding box, and a uniform *reservoir sample* on which the
initialisation runs), and the E-step statistics of one pass under given
parameters (:meth:`ChunkedSource.accumulate`), which are summed over chunks.
Because the statistics are additive and centred on a point that depends only
on the parameters, the EM iterations are those of an in-memory fit up to the
order of floating-point sums (relative 1e-12 after 100 iterations, tested).

At most ``prefetch + 2`` chunks are alive at once: the one being processed,
the ones read ahead by a background thread (reading overlaps computing), and
the one the factory is building.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import check_allocation
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step, estimate_log_prob_resp
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats

__all__ = [
    "BLOCK_BYTES",
    "INIT_SAMPLE_SIZE",
    "ChunkedSource",
    "DataSummary",
    "OutOfCoreSource",
    "SummaryBuilder",
    "as_source",
    "chunk_moments",
    "is_dask_array",
    "is_out_of_core",
]

#: Bytes of data per block read from a ``.npy`` file or a memmap.
BLOCK_BYTES: Final = 16 * 2**20
#: Rows of the reservoir sample on which out-of-core fits are initialised (at
#: most :data:`BLOCK_BYTES` of data, and never fewer than MIN_SAMPLE_ROWS rows).
INIT_SAMPLE_SIZE: Final = 100_000
MIN_SAMPLE_ROWS: Final = 2_000
#: Narrow rows count as this many bytes when sizing read blocks.
MIN_ROW_BYTES: Final = 64

Chunk = npt.NDArray[Any] | tuple[npt.NDArray[Any], npt.NDArray[Any] | None]
ChunkFactory = Callable[[], Iterable[Chunk]]


@dataclass(frozen=True)
class DataSummary:
    """What one first pass over out-of-core data learns.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int
        Number of columns.
    dtype : numpy dtype
        float32 or float64, the dtype the fit computes in.
    weight : float
        Sum of the sample weights (``n_samples`` without weights).
    mean : ndarray of shape (n_features,)
        Weighted mean.
    covariance : ndarray of shape (n_features, n_features)
        Weighted covariance with divisor ``weight - 1`` (as ``np.cov`` with
        frequency weights).
    minimum, maximum : ndarray of shape (n_features,)
        Bounding box of the rows with a positive weight.
    sample : ndarray of shape (n_sample, n_features)
        Uniform sample without replacement of the rows (with weights: rows drawn
        with probability proportional to weight, Efraimidis & Spirakis 2006),
        in the order of the data; the initialisation runs on it.
    sample_index : ndarray of shape (n_sample,)
        Row numbers of the sample.
    """

    n_samples: int
    n_features: int
    dtype: np.dtype[Any]
    weight: float
    mean: FloatArray
    covariance: FloatArray
    minimum: FloatArray
    maximum: FloatArray
    sample: FloatArray
    sample_index: IntArray


class OutOfCoreSource(Protocol):
    """What the estimator needs from data it does not hold in memory."""

    def summarize(
        self, sample_size: int, random_state: np.random.RandomState
    ) -> DataSummary:
        """One validating pass: counts, moments and a reservoir sample."""
        ...

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """E-step statistics of one pass under ``params``."""
        ...

    def labels(self, params: GMMParams, family: CovarianceFamily) -> Any:
        """Most likely component of every row, in order (an array or a dask array)."""
        ...


class SummaryBuilder:
    """Accumulates a :class:`DataSummary` chunk by chunk (also used by Dask).

    The reservoir keeps the ``sample_size`` rows with the largest keys
    ``log(u) / w`` (``u`` uniform, one per row, drawn in row order), so the
    sample does not depend on how the rows are split into chunks.

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

    def add(self, X: FloatArray, w: FloatArray | None, chunk: int) -> None:
        """Fold one validated chunk into the summary."""
        n, d = X.shape
        if self.n_features is None:
            row_bytes = max(1, d * X.dtype.itemsize)
            sample_rows = min(
                self.sample_size, max(MIN_SAMPLE_ROWS, BLOCK_BYTES // row_bytes)
            )
            check_allocation(
                8 * d * d + sample_rows * row_bytes,
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
            # The sample takes at most BLOCK_BYTES (fewer rows for wide data).
            row_bytes = max(1, d * X.dtype.itemsize)
            self.sample_size = min(
                self.sample_size, max(MIN_SAMPLE_ROWS, BLOCK_BYTES // row_bytes)
            )
            self.rows = np.empty((self.sample_size, d), dtype=X.dtype)
            self.keys = np.empty(self.sample_size)
            self.index = np.empty(self.sample_size, dtype=np.int64)
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
        moments, keys = chunk_moments(X, w, self.shift, u)
        index = np.arange(self.n_samples, self.n_samples + n, dtype=np.int64)
        self.add_moments(*moments)
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
        assert self.rows is not None
        assert self.dtype is not None
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
        order = np.argsort(self.index[: self.filled])
        return DataSummary(
            n_samples=self.n_samples,
            n_features=self.n_features,
            dtype=self.dtype,
            weight=self.weight,
            mean=mean,
            covariance=(covariance + covariance.T) / 2,
            minimum=self.minimum.copy(),
            maximum=self.maximum.copy(),
            sample=np.ascontiguousarray(self.rows[order]),
            sample_index=self.index[order],
        )


def chunk_moments(
    X: FloatArray, w: FloatArray | None, shift: FloatArray, u: FloatArray
) -> tuple[
    tuple[int, float, FloatArray, FloatArray, FloatArray, FloatArray], FloatArray
]:
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


def _all_finite(X: npt.NDArray[Any]) -> bool:
    """Whether every value is finite: one sum, then a full scan only if needed.

    A sum is finite whenever its terms are, unless it overflows; only then (or
    when a value really is NaN or infinite) are the values scanned one by one.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.add.reduce(X, axis=None))):
            return True
    return bool(np.isfinite(X).all())


def _is_sparse(item: Any) -> bool:
    module = type(item).__module__
    return module.startswith("scipy.sparse") or (
        hasattr(item, "toarray") and hasattr(item, "nnz")
    )


def validate_chunk(
    item: Any,
    chunk: int,
    owner: str,
    check_values: bool = True,
    changed: str = "",
) -> tuple[FloatArray, FloatArray | None]:
    """A factory's item as a float array and optional weights, or a clear error.

    The values are summed (NaN or infinity make the sum non-finite; only then,
    or when the sum overflows, are they scanned). ``check_values=False`` skips
    the scan of the weights (read again from a file or an array that the first
    pass validated).
    ``changed`` (for passes after the first) ends the message of values that
    the first pass did not see: it says that the data changed.
    """
    w: Any = None
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ValueError(
                f"{owner}: chunk {chunk} is a tuple of {len(item)} items; a chunk is "
                "a 2-D array or an (X_chunk, sample_weight_chunk) pair."
            )
        item, w = item
    if _is_sparse(item):
        raise TypeError(
            f"{owner}: chunk {chunk} is a sparse matrix ({type(item).__name__}); "
            "sparse chunks are not supported. Convert each chunk to a dense array "
            "in the chunk factory, e.g. yield chunk.toarray()."
        )
    X = np.asarray(item)
    if X.ndim != 2:
        hint = " Use x.reshape(-1, 1) for a single feature." if X.ndim == 1 else ""
        raise ValueError(
            f"{owner}: chunk {chunk} has shape {X.shape}; every chunk must be a 2-D "
            f"array of shape (n_rows, n_features).{hint}"
        )
    if X.dtype.kind not in "fiub":
        raise ValueError(
            f"{owner}: chunk {chunk} has dtype {X.dtype}; chunks must hold numbers "
            "(float32 or float64, or integers, which are converted to float64)."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    if not _all_finite(X):
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
        fix = changed or "Remove or impute those rows in the chunk factory."
        raise ValueError(
            f"{owner}: chunk {chunk} contains NaN or infinity in {bad.size} rows "
            f"(first: row {int(bad[0])} of the chunk). {fix}"
        )
    weights: FloatArray | None = None
    if w is not None:
        weights = np.asarray(w, dtype=np.float64)
        if weights.shape != (X.shape[0],):
            raise ValueError(
                f"{owner}: chunk {chunk} has {X.shape[0]} rows but its sample weights "
                f"have shape {weights.shape}; give one weight per row."
            )
        if check_values and (not np.isfinite(weights).all() or (weights < 0).any()):
            raise ValueError(
                f"{owner}: the sample weights of chunk {chunk} must be finite and "
                "non-negative." + (f" {changed}" if changed else "")
            )
    return X, weights


class _Prefetch:
    """Iterate ``items`` with a background thread reading up to ``depth`` ahead."""

    _DONE: Final = object()

    def __init__(self, items: Iterable[Any], depth: int) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(items,), daemon=True)
        self.thread.start()

    def _run(self, items: Iterable[Any]) -> None:
        try:
            for item in items:
                while not self.stop.is_set():
                    try:
                        self.queue.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    return
            self.queue.put((True, self._DONE))
        except BaseException as exc:  # handed to the consumer
            self.queue.put((False, exc))

    def __iter__(self) -> Iterator[Any]:
        try:
            while True:
                ok, item = self.queue.get()
                if not ok:
                    raise item
                if item is self._DONE:
                    return
                yield item
        finally:
            self.stop.set()
            while self.thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    self.queue.get(timeout=0.05)


class ChunkedSource:
    """Out-of-core data: one pass over chunks per EM iteration.

    Parameters
    ----------
    data : callable, str, os.PathLike or numpy.memmap
        A chunk factory (a callable returning a new iterator over 2-D arrays or
        ``(X_chunk, sample_weight_chunk)`` pairs, the same data on every call),
        the path of a ``.npy`` file, or a memmap.
    block_rows : int, default=None
        Rows per block read from a file or memmap; None reads about
        :data:`BLOCK_BYTES` per block. Ignored for a factory (its chunks are
        used as they come).
    prefetch : int, default=1
        Chunks read ahead by a background thread (0: none).
    n_threads : int, default=1
        Threads over the rows of each chunk in the E-step.
    sample_weight : array-like of shape (n_samples,), default=None
        One weight per row, for a ``.npy`` path or a memmap (a chunk factory
        gives ``(X_chunk, weight_chunk)`` pairs instead).
    owner : str, default="GaussianMixture"
        Name used in error messages.
    """

    def __init__(
        self,
        data: Any,
        *,
        sample_weight: Any = None,
        block_rows: int | None = None,
        prefetch: int = 1,
        n_threads: int = 1,
        owner: str = "GaussianMixture",
    ) -> None:
        self.owner = owner
        self.block_rows = block_rows
        self.prefetch = prefetch
        self.n_threads = n_threads
        self.path: Path | None = None
        self.memmap: np.memmap[Any, Any] | None = None
        self.factory: ChunkFactory | None = None
        self.n_samples: int | None = None
        self.n_features: int | None = None
        self.dtype: np.dtype[Any] | None = None
        self.passes = 0
        self._first_header: tuple[tuple[int, ...], np.dtype[Any]] | None = None
        self.sample_weight: FloatArray | None = None
        if sample_weight is not None:
            self.sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if isinstance(data, np.memmap):
            self.memmap = data
            if data.ndim != 2:
                raise ValueError(
                    f"{owner}: the memmap has shape {data.shape}; it must be 2-D "
                    "(n_samples, n_features)."
                )
        elif isinstance(data, (str, os.PathLike)):
            self.path = Path(data)
            self._header()  # validates early
        elif callable(data):
            self.factory = data
            if sample_weight is not None:
                raise ValueError(
                    f"{owner}: sample_weight cannot be given with a chunk factory; "
                    "let the factory yield (X_chunk, weight_chunk) pairs."
                )
        elif isinstance(data, Iterator):
            raise TypeError(
                f"{owner}: got a {type(data).__name__} (an iterator), which can be "
                "read only once, but EM reads the data once per iteration. Pass the "
                "function that creates it (the chunk factory): "
                "ChunkedSource(chunks), not ChunkedSource(chunks())."
            )
        else:
            raise TypeError(
                f"{owner}: cannot read data of type {type(data).__name__} in chunks; "
                "give a chunk factory, a .npy path or a numpy.memmap."
            )
        if self.sample_weight is not None:
            n_rows = (
                self.memmap.shape[0]
                if self.memmap is not None
                else self._header()[0][0]
            )
            if self.sample_weight.shape != (n_rows,):
                raise ValueError(
                    f"{owner}: sample_weight has shape {self.sample_weight.shape} but "
                    f"the data have {n_rows} rows; give one weight per row."
                )

    # ---------------------------------------------------------------- reading
    def _header(self) -> tuple[tuple[int, ...], np.dtype[Any], bool, int]:
        assert self.path is not None
        if self.path.suffix != ".npy":
            raise ValueError(
                f"{self.owner}: {str(self.path)!r} is not a .npy file. Give the path "
                "of a file written by numpy.save, or a chunk factory for other "
                "formats (CSV, Parquet)."
            )
        try:
            with open(self.path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(f, max_header_size=100_000)
                offset = f.tell()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{self.owner}: no such file: {str(self.path)!r}"
            ) from None
        except ValueError as exc:
            raise ValueError(
                f"{self.owner}: {str(self.path)!r} is not a valid .npy file ({exc})."
            ) from None
        if len(shape) != 2:
            raise ValueError(
                f"{self.owner}: {str(self.path)!r} holds an array of shape {shape}; "
                "it must be 2-D (n_samples, n_features)."
            )
        if dtype.hasobject or dtype.kind not in "fiub":
            raise ValueError(
                f"{self.owner}: {str(self.path)!r} holds dtype {dtype}; it must hold "
                "numbers (object arrays are never loaded: that would need pickle)."
            )
        # The header is untrusted: a claimed shape of 1e12 rows or columns must
        # not become an allocation. The data must be in the file.
        needed = offset + math.prod(shape) * dtype.itemsize
        try:
            size = os.path.getsize(self.path)
        except OSError as exc:  # pragma: no cover - removed since it was opened
            raise FileNotFoundError(
                f"{self.owner}: cannot read {str(self.path)!r} ({exc.strerror})."
            ) from None
        if size < needed:
            raise ValueError(
                f"{self.owner}: {str(self.path)!r} is truncated or damaged: its header "
                f"declares an array of shape {shape} and dtype {dtype} "
                f"({needed - offset} bytes of data), but the file holds "
                f"{max(size - offset, 0)} bytes of data."
            )
        return shape, dtype, fortran, offset

    def _rows_per_block(self, n_features: int, itemsize: int) -> int:
        if self.block_rows is not None:
            return max(1, int(self.block_rows))
        # Per-row work arrays (keys, indices, log-densities) take about 64 bytes
        # whatever the width: narrow rows are counted as that much.
        return max(1, BLOCK_BYTES // max(MIN_ROW_BYTES, n_features * itemsize))

    def _weighted(self, block: npt.NDArray[Any], start: int) -> Chunk:
        if self.sample_weight is None:
            return block
        return block, self.sample_weight[start : start + block.shape[0]]

    def _file_blocks(self) -> Iterator[Chunk]:
        shape, dtype, fortran, offset = self._header()
        first = self._first_header
        if first is None:
            self._first_header = (shape, dtype)
        elif (shape, dtype) != first:
            raise ValueError(
                f"{self.owner}: {str(self.path)!r} changed during the fit: in pass "
                f"{self.passes} it holds an array of shape {shape} and dtype {dtype}, "
                f"in the first pass it held shape {first[0]} and dtype {first[1]}. "
                "Do not replace or modify the file while a fit reads it."
            )
        if fortran:
            raise ValueError(
                f"{self.owner}: {str(self.path)!r} is stored in Fortran order, which "
                "cannot be read by rows; save it with np.save(path, "
                "np.ascontiguousarray(X))."
            )
        n, d = shape
        rows = self._rows_per_block(d, dtype.itemsize)
        assert self.path is not None
        with open(self.path, "rb") as f:
            f.seek(offset)
            for start in range(0, n, rows):
                count = min(rows, n - start)
                block = np.fromfile(f, dtype=dtype, count=count * d)
                if block.size != count * d:
                    raise ValueError(
                        f"{self.owner}: {str(self.path)!r} is truncated: expected "
                        f"{n} rows, the file ends at row {start + block.size // d}"
                        + (
                            f" in pass {self.passes} (it changed during the fit)."
                            if self.passes > 1
                            else "."
                        )
                    )
                yield self._weighted(block.reshape(count, d), start)

    def _memmap_blocks(self) -> Iterator[Chunk]:
        assert self.memmap is not None
        n, d = self.memmap.shape
        rows = self._rows_per_block(d, self.memmap.dtype.itemsize)
        for start in range(0, n, rows):
            yield self._weighted(np.array(self.memmap[start : start + rows]), start)

    def _items(self) -> Iterable[Any]:
        if self.path is not None:
            return self._file_blocks()
        if self.memmap is not None:
            return self._memmap_blocks()
        assert self.factory is not None
        items = self.factory()
        if not isinstance(items, Iterable):
            raise TypeError(
                f"{self.owner}: the chunk factory returned {type(items).__name__}, "
                "not an iterable; it must return a new iterator over chunks each "
                "time it is called."
            )
        return items

    def _what(self) -> str:
        if self.path is not None:
            return repr(str(self.path))
        return "the memmap" if self.memmap is not None else "the chunk factory"

    def chunks(self) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        """Validated ``(X, sample_weight)`` chunks of one pass.

        Every pass checks each chunk's width and dtype against the first pass,
        and its values for NaN and infinity (a sum per chunk, see
        :func:`validate_chunk`): data that change between passes get an error
        that says so, not a failure deep in the E-step.
        """
        # The weights of a file or memmap are the array the first pass
        # validated; a factory's may change, so they are scanned on every pass.
        check_values = self.factory is not None or self.n_samples is None
        first_pass = self.n_samples is None
        self.passes = 1 if first_pass else self.passes + 1
        changed = (
            ""
            if first_pass
            else (
                f"It was not there in the first pass: {self._what()} changed "
                f"between passes (this is pass {self.passes}). "
                + (
                    "A chunk factory must return the same data on every call."
                    if self.factory is not None
                    else "Do not modify the file while a fit reads it."
                )
            )
        )
        items = self._items()
        if self.prefetch > 0:
            items = _Prefetch(items, self.prefetch)
        count = 0
        for i, item in enumerate(items):
            X, w = validate_chunk(item, i, self.owner, check_values, changed)
            if not first_pass and (
                X.shape[1] != self.n_features or X.dtype != self.dtype
            ):
                raise ValueError(
                    f"{self.owner}: chunk {i} of pass {self.passes} has "
                    f"{X.shape[1]} features and dtype {X.dtype}, but the first pass "
                    f"had {self.n_features} features and dtype {self.dtype}: "
                    f"{self._what()} changed between passes. "
                    + (
                        "A chunk factory must return the same data on every call."
                        if self.factory is not None
                        else "Do not modify the file while a fit reads it."
                    )
                )
            count += X.shape[0]
            yield X, w
        if self.n_samples is not None and count != self.n_samples:
            raise ValueError(
                f"{self.owner}: the data source gave {count} rows in this pass but "
                f"{self.n_samples} in the first; a chunk factory must return the "
                "same data on every call."
            )

    # ---------------------------------------------------------------- passes
    def summarize(
        self, sample_size: int, random_state: np.random.RandomState
    ) -> DataSummary:
        """First pass: validation, counts, moments and the reservoir sample."""
        self.n_samples = None
        self._first_header = None
        builder = SummaryBuilder(sample_size, random_state, self.owner)
        for i, (X, w) in enumerate(self.chunks()):
            builder.add(X, w, i)
        summary = builder.result()
        self.n_samples = summary.n_samples
        self.n_features = summary.n_features
        self.dtype = summary.dtype
        return summary

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """E-step statistics of one pass, summed over chunks."""
        total: SuffStats | None = None
        for X, w in self.chunks():
            if X.shape[0] == 0:
                continue
            stats = e_step(X, params, family, w, n_threads=self.n_threads)
            total = stats if total is None else total + stats
        if total is None:
            raise ValueError(f"{self.owner}: the data source gave no rows.")
        return total

    def labels(self, params: GMMParams, family: CovarianceFamily) -> IntArray:
        """Most likely component of every row, in order (one pass)."""
        parts = []
        for X, _ in self.chunks():
            _, _, lab = estimate_log_prob_resp(
                X, params, family, want_resp=False, n_threads=self.n_threads
            )
            parts.append(lab)
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)


def is_out_of_core(X: Any) -> bool:
    """Whether ``fit`` reads ``X`` through a source rather than as one array."""
    if isinstance(X, (ChunkedSource, np.memmap, str, os.PathLike)):
        return True
    if callable(X) and not hasattr(X, "__array__"):
        return True
    return is_dask_array(X) or (hasattr(X, "summarize") and hasattr(X, "accumulate"))


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (without importing dask)."""
    module = type(X).__module__
    return module.startswith("dask.") and type(X).__name__ == "Array"


def as_source(
    X: Any, sample_weight: Any, n_threads: int, owner: str
) -> OutOfCoreSource:
    """The source that reads ``X`` (see :func:`is_out_of_core`).

    ``sample_weight`` may be an array of one weight per row for a ``.npy`` path
    or a memmap, a dask array for a dask array, and must be None for a chunk
    factory (whose chunks carry their weights).
    """
    if is_dask_array(X):
        from gaussmix.distributed.dask import DaskSource

        return DaskSource(X, sample_weight, owner=owner)
    if isinstance(X, ChunkedSource) or (
        hasattr(X, "summarize") and hasattr(X, "accumulate")
    ):
        if sample_weight is not None:
            raise ValueError(
                f"{owner}: sample_weight cannot be given with a data source; "
                "let its chunks carry their weights as (X_chunk, weight_chunk) pairs."
            )
        if isinstance(X, ChunkedSource):
            X.n_threads = n_threads
        return X  # type: ignore[no-any-return]
    return ChunkedSource(
        X, sample_weight=sample_weight, n_threads=n_threads, owner=owner
    )
