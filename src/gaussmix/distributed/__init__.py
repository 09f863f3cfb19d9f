"""Fitting on a Dask cluster (extra ``dask``: ``pip install 'gaussmix[dask]'``).

:class:`DaskSource` gives the EM loop (:func:`gaussmix.em.fit_em`) the E-step
statistics of a :class:`dask.array.Array`, computed block by block on the
workers and summed there by a tree reduction; only the statistics (a few
kilobytes) reach the client. :func:`predict`, :func:`predict_proba` and
:func:`score_samples` return lazy dask arrays.

Dask is imported lazily, when one of these names is first used; without it a
one-line install hint is raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gaussmix.distributed.dask import (
        DaskSource,
        predict,
        predict_proba,
        score_samples,
    )

__all__ = ["DaskSource", "predict", "predict_proba", "score_samples"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gaussmix.distributed import dask as _dask

        return getattr(_dask, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
