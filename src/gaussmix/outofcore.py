"""The documented names of out-of-core fitting, kept at their first address.

:meth:`gaussmix.GaussianMixture.fit` accepts, besides arrays, a chunk factory,
the path of a ``.npy`` file, a :class:`numpy.memmap`, a dask array, or a
:class:`ChunkedSource` built from any of the first three to choose the block
size. The code lives in :mod:`gaussmix.sources` (``chunked.py`` for chunks,
files and memmaps, ``base.py`` for the summary and the reservoir sample); this
module re-exports the names that ``docs/scale.md``, the changelog and earlier
releases give (``gaussmix.outofcore.ChunkedSource``,
``gaussmix.outofcore.INIT_SAMPLE_SIZE``, ...). New code imports them from
:mod:`gaussmix.sources`.
"""

from __future__ import annotations

from gaussmix.sources import (
    BLOCK_BYTES,
    INIT_SAMPLE_SIZE,
    ChunkedSource,
    DataSummary,
    SummaryBuilder,
    as_source,
    chunk_moments,
    is_dask_array,
    is_out_of_core,
)
from gaussmix.sources import DataSource as OutOfCoreSource

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
