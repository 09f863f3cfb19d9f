"""Sources of sufficient statistics: where the E-step's data come from.

The EM loop only calls ``source.accumulate(params, family)``. An
:class:`ArraySource` walks an in-memory array (or memmap) in chunks.
"""

from __future__ import annotations

from typing import Protocol

from gaussmix._typing import FloatArray
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats

__all__ = ["ArraySource", "StatsSource"]


class StatsSource(Protocol):
    """Anything that turns parameters into the statistics of one E-step pass."""

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """Statistics of one pass over the data under ``params``."""
        ...


class ArraySource:
    """Statistics of an in-memory array, chunk by chunk (optionally threaded).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated float32 or float64 data.
    sample_weight : ndarray of shape (n_samples,), default=None
        Sample weights.
    n_threads : int, default=1
        Threads over chunks; results do not depend on it.
    """

    def __init__(
        self, X: FloatArray, sample_weight: FloatArray | None = None, n_threads: int = 1
    ) -> None:
        self.X = X
        self.sample_weight = sample_weight
        self.n_threads = n_threads

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """Run the E-step over the whole array."""
        return e_step(
            self.X, params, family, self.sample_weight, n_threads=self.n_threads
        )
