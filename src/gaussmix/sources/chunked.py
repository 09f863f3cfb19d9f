"""Data read chunk by chunk: chunk factories, ``.npy`` files, memmaps.

:class:`ChunkedSource` reads

* a **chunk factory**: a callable that returns a fresh iterator over 2-D arrays
  (or ``(X_chunk, weight_chunk)`` pairs), called once per pass over the data;
* a **path** to a ``.npy`` file, read block by block with ordinary file reads
  (no memory map, so the file may be larger than the address space allowed);
* a :class:`numpy.memmap`, read block by block.

Its first pass (:meth:`ChunkedSource.summarize`) validates every chunk and
builds the :class:`~gaussmix.sources.base.DataSummary` (counts, moments, a
reservoir sample); each later pass sums the E-step statistics of the chunks.
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
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gaussmix._typing import FloatArray, IntArray
from gaussmix._validation import (
    FLOAT_OR_INTEGERS,
    as_float_block,
    check_2d,
    check_finite_rows,
    check_numeric_dtype,
    check_weight_values,
    weight_shape_error,
)
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step, estimate_log_prob_resp
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats
from gaussmix.sources.base import (
    BLOCK_BYTES,
    MIN_ROW_BYTES,
    DataSummary,
    SummaryBuilder,
)

__all__ = [
    "Chunk",
    "ChunkFactory",
    "ChunkedSource",
    "chunk_batches",
    "sum_chunk_stats",
    "validate_chunk",
]

Chunk = npt.NDArray[Any] | tuple[npt.NDArray[Any], npt.NDArray[Any] | None]
ChunkFactory = Callable[[], Iterable[Chunk]]


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
    allow_nan: bool = False,
) -> tuple[FloatArray, FloatArray | None]:
    """A factory's item as a float array and optional weights, or a clear error.

    The values are summed (NaN or infinity make the sum non-finite; only then,
    or when the sum overflows, are they scanned). ``check_values=False`` skips
    the scan of the weights (read again from a file or an array that the first
    pass validated).
    ``changed`` (for passes after the first) ends the message of values that
    the first pass did not see: it says that the data changed. With
    ``allow_nan`` NaN values (missing values) pass; infinity never does.
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
    subject = f"chunk {chunk}"
    check_2d(X.shape, owner, subject)
    check_numeric_dtype(X.dtype, owner, subject)
    X = as_float_block(X)
    fix = changed or "Remove or impute those rows in the chunk factory."
    check_finite_rows(
        X, owner, subject, fix, where=" of the chunk", allow_nan=allow_nan
    )
    weights: FloatArray | None = None
    if w is not None:
        weights = np.asarray(w, dtype=np.float64)
        if weights.shape != (X.shape[0],):
            raise weight_shape_error(
                weights.shape,
                X.shape[0],
                owner,
                f"the weight chunk of {subject}",
                "the chunk",
            )
        if check_values:
            check_weight_values(
                weights, owner, subject, f" {changed}" if changed else ""
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
        #: NaN values pass the validation (set by the sources of missing values).
        self.allow_nan = False
        self._first_header: tuple[tuple[int, ...], np.dtype[Any]] | None = None
        self.sample_weight: FloatArray | None = None
        if sample_weight is not None:
            self.sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if isinstance(data, np.memmap):
            self.memmap = data
            check_2d(data.shape, owner, "the memmap")
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
                raise weight_shape_error(
                    self.sample_weight.shape, n_rows, owner, data="the data"
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
        check_2d(shape, self.owner, repr(str(self.path)))
        check_numeric_dtype(
            dtype,
            self.owner,
            repr(str(self.path)),
            FLOAT_OR_INTEGERS
            + "; object arrays are never loaded: that would need pickle",
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
            X, w = validate_chunk(
                item, i, self.owner, check_values, changed, self.allow_nan
            )
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
        self,
        sample_size: int,
        random_state: np.random.RandomState,
        builder: SummaryBuilder | None = None,
    ) -> DataSummary:
        """First pass: validation, counts, moments and the reservoir sample.

        ``builder`` replaces the ordinary summary builder (missing values).
        """
        self.n_samples = None
        self._first_header = None
        if builder is None:
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
        return sum_chunk_stats(
            self.chunks(),
            lambda X, w: e_step(X, params, family, w, n_threads=self.n_threads),
            self.owner,
        )

    def batches(
        self, batch_size: int, random_state: np.random.RandomState
    ) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        """One epoch of online EM: each chunk of a pass, in order, cut in batches.

        ``random_state`` is not used (the rows keep the order of the data).
        """
        return chunk_batches(self.chunks(), batch_size)

    def labels(self, params: GMMParams, family: CovarianceFamily) -> IntArray:
        """Most likely component of every row, in order (one pass)."""
        parts = []
        for X, _ in self.chunks():
            _, _, lab = estimate_log_prob_resp(
                X, params, family, want_resp=False, n_threads=self.n_threads
            )
            parts.append(lab)
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)


def sum_chunk_stats(
    chunks: Iterable[tuple[FloatArray, FloatArray | None]],
    chunk_stats: Callable[[FloatArray, FloatArray | None], SuffStats],
    owner: str,
) -> SuffStats:
    """The sum of ``chunk_stats(X, sample_weight)`` over the non-empty chunks, in order.

    Raises
    ------
    ValueError
        If no chunk has a row.
    """
    total: SuffStats | None = None
    for X, w in chunks:
        if X.shape[0] == 0:
            continue
        stats = chunk_stats(X, w)
        total = stats if total is None else total + stats
    if total is None:
        raise ValueError(f"{owner}: the data source gave no rows.")
    return total


def chunk_batches(
    chunks: Iterable[tuple[FloatArray, FloatArray | None]], batch_size: int
) -> Iterator[tuple[FloatArray, FloatArray | None]]:
    """``(X, sample_weight)`` chunks cut in batches of at most ``batch_size`` rows."""
    for X, w in chunks:
        for lo in range(0, X.shape[0], batch_size):
            yield (
                X[lo : lo + batch_size],
                None if w is None else w[lo : lo + batch_size],
            )
