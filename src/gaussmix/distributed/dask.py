"""EM on a Dask cluster: the documented home of the Dask names.

:class:`DaskSource` (a :class:`dask.array.Array` as a source of E-step
statistics) and the lazy predictions :func:`predict`, :func:`predict_proba`
and :func:`score_samples` live in :mod:`gaussmix.sources.dask`, with the other
data sources; this module gives them their public names. Without dask,
importing it raises a one-line install hint.
"""

from __future__ import annotations

from gaussmix.sources.dask import (
    DaskSource,
    import_dask,
    predict,
    predict_proba,
    score_samples,
)

# The hint also when gaussmix.sources.dask was imported while dask was there.
import_dask()

__all__ = ["DaskSource", "predict", "predict_proba", "score_samples"]
