"""Where a fit's data come from: one protocol for every kind of input.

Every source (:class:`~gaussmix.sources.base.DataSource`) gives a first pass
that validates and summarises (:meth:`summarize`: counts, moments, a sample of
rows for the initialisation), the E-step statistics of one pass
(:meth:`accumulate`), the mini-batches of one online-EM epoch
(:meth:`batches`) and the labels of every row (:meth:`labels`).

* :class:`ArraySource` (``array.py``): an in-memory array. Its summary's
  sample is the array itself, so no pass is paid and the initialisation is
  that of the array.
* :class:`ChunkedSource` (``chunked.py``): chunk factories, ``.npy`` files and
  memmaps, read chunk by chunk with a reservoir sample.
* :class:`~gaussmix.sources.dask.DaskSource` (``dask.py``): a dask array,
  summarised and summed on the workers. :func:`as_source` imports it only
  for a dask array, so importing this package never imports Dask.

The summary code they share (:class:`DataSummary`, :class:`SummaryBuilder`,
:func:`chunk_moments`) is in ``base.py``; the validation messages of a 2-D
block are in :mod:`gaussmix._validation`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gaussmix.sources.array import ArraySource, ThreadTuner
from gaussmix.sources.base import (
    BLOCK_BYTES,
    INIT_SAMPLE_SIZE,
    DataSource,
    DataSummary,
    StatsSource,
    SummaryBuilder,
    chunk_moments,
)
from gaussmix.sources.chunked import ChunkedSource

__all__ = [
    "BLOCK_BYTES",
    "INIT_SAMPLE_SIZE",
    "ArraySource",
    "ChunkedSource",
    "DataSource",
    "DataSummary",
    "StatsSource",
    "SummaryBuilder",
    "ThreadTuner",
    "as_source",
    "chunk_moments",
    "is_dask_array",
    "is_out_of_core",
]


def _is_source(X: Any) -> bool:
    """A source object (this package's, or anyone's with the same methods)."""
    return hasattr(X, "summarize") and hasattr(X, "accumulate")


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (without importing dask)."""
    module = type(X).__module__
    return module.startswith("dask.") and type(X).__name__ == "Array"


def is_out_of_core(X: Any) -> bool:
    """Whether ``fit`` reads ``X`` through a source rather than as one array."""
    if isinstance(X, (ChunkedSource, np.memmap, str, os.PathLike)):
        return True
    if callable(X) and not hasattr(X, "__array__"):
        return True
    return is_dask_array(X) or _is_source(X)


def as_source(X: Any, sample_weight: Any, n_threads: int, owner: str) -> DataSource:
    """The source that reads out-of-core ``X`` (see :func:`is_out_of_core`).

    ``sample_weight`` may be an array of one weight per row for a ``.npy`` path
    or a memmap, a dask array for a dask array, and must be None for a chunk
    factory (whose chunks carry their weights) or a source object. An
    in-memory array is wrapped by :class:`ArraySource` by its caller, after
    validation.
    """
    if is_dask_array(X):
        from gaussmix.sources.dask import DaskSource

        return DaskSource(X, sample_weight, owner=owner)
    if _is_source(X):
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
