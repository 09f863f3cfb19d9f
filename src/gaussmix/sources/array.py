"""Sources of sufficient statistics: where the E-step's data come from.

The EM loop only calls ``source.accumulate(params, family)``. An
:class:`ArraySource` walks an in-memory array (or memmap) in chunks.
"""

from __future__ import annotations

import time
from typing import Final, Protocol

from gaussmix._typing import FloatArray
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats

__all__ = ["ArraySource", "StatsSource", "ThreadTuner"]


class StatsSource(Protocol):
    """Anything that turns parameters into the statistics of one E-step pass."""

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """Statistics of one pass over the data under ``params``."""
        ...


class ThreadTuner:
    """Chooses, pass after pass, the faster of threaded and serial chunk processing.

    Threads over chunks pay when the other cores are free and can lose when they
    are busy with other work (measured: up to 30% slower on a 2-core machine
    with the other core spinning). Each option is timed on one pass, the faster
    one is kept, and the other is timed again every ``reprobe`` passes, so a
    change of load is followed. Results do not depend on the choice.

    Parameters
    ----------
    n_threads : int
        The threaded option; 1 means always serial.
    reprobe : int, default=10
        Passes between two timings of the option not in use.
    """

    REPROBE: Final = 10

    def __init__(self, n_threads: int, reprobe: int = REPROBE) -> None:
        self.options = [n_threads, 1] if n_threads > 1 else [1]
        self.reprobe = reprobe
        self.seconds: dict[int, float] = {}
        self.passes = 0

    def choose(self) -> int:
        """Number of threads for the next pass."""
        self.passes += 1
        if len(self.options) == 1:
            return self.options[0]
        for option in self.options:
            if option not in self.seconds:
                return option
        best = min(self.options, key=lambda o: self.seconds[o])
        if self.passes % self.reprobe == 0:
            return next(o for o in self.options if o != best)
        return best

    def record(self, option: int, seconds: float) -> None:
        """Remember how long a pass took with ``option`` threads."""
        self.seconds[option] = seconds


class ArraySource:
    """Statistics of an in-memory array, chunk by chunk (optionally threaded).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated float32 or float64 data.
    sample_weight : ndarray of shape (n_samples,), default=None
        Sample weights.
    n_threads : int, default=1
        Most threads over chunks; a :class:`ThreadTuner` decides, pass by pass,
        whether to use them. Results do not depend on it.
    """

    def __init__(
        self, X: FloatArray, sample_weight: FloatArray | None = None, n_threads: int = 1
    ) -> None:
        self.X = X
        self.sample_weight = sample_weight
        self.n_threads = n_threads
        self.tuner = ThreadTuner(n_threads)

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """Run the E-step over the whole array."""
        threads = self.tuner.choose()
        start = time.perf_counter()
        stats = e_step(self.X, params, family, self.sample_weight, n_threads=threads)
        self.tuner.record(threads, time.perf_counter() - start)
        return stats
