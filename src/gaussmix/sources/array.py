"""The in-memory source: an array (or memmap) the estimator has validated.

Its summary costs nothing: the sample is the array itself (the same object,
no copy) with its own weights, so the initialisation and the scikit-learn
parity are those of a fit on the array; the moments are computed from it only
if something asks for them (``prior="default"``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Final

import numpy as np

from gaussmix._typing import FloatArray, IntArray
from gaussmix.core.covariance import CovarianceFamily
from gaussmix.core.estep import e_step, estimate_log_prob_resp
from gaussmix.core.params import GMMParams
from gaussmix.core.stats import SuffStats
from gaussmix.sources.base import DataSummary, StatsSource, shuffled_batches

__all__ = ["ArraySource", "StatsSource", "ThreadTuner"]


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
        Validated float32 or float64 data (``_validation.check_X``).
    sample_weight : ndarray of shape (n_samples,), default=None
        Validated sample weights (``_validation.check_sample_weight``).
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

    def summarize(
        self, sample_size: int, random_state: np.random.RandomState
    ) -> DataSummary:
        """The summary of the array, without a pass over it.

        The sample is ``X`` itself and its weights ``sample_weight`` (whatever
        ``sample_size``); ``random_state`` is not used. Weight, mean and
        covariance are computed on first access (the formula of
        :func:`gaussmix.core.prior.resolve_prior` for arrays).
        """
        return DataSummary.of_array(self.X, self.sample_weight)

    def accumulate(self, params: GMMParams, family: CovarianceFamily) -> SuffStats:
        """Run the E-step over the whole array."""
        threads = self.tuner.choose()
        start = time.perf_counter()
        stats = e_step(self.X, params, family, self.sample_weight, n_threads=threads)
        self.tuner.record(threads, time.perf_counter() - start)
        return stats

    def batches(
        self, batch_size: int, random_state: np.random.RandomState
    ) -> Iterator[tuple[FloatArray, FloatArray | None]]:
        """One epoch of online EM: the rows in a random order, cut in batches.

        The order is ``random_state.permutation(n_samples)`` (drawn when the
        iteration starts); the rows of each batch are taken in increasing order.
        """
        return shuffled_batches(self.X, self.sample_weight, batch_size, random_state)

    def labels(self, params: GMMParams, family: CovarianceFamily) -> IntArray:
        """Most likely component of every row (``-1``: most likely noise)."""
        _, _, labels = estimate_log_prob_resp(
            self.X, params, family, want_resp=False, n_threads=self.n_threads
        )
        return labels
