"""Tests for ``gaussmix.sources``: the array source and its thread tuner."""

import numpy as np
import pytest

from gaussmix.core import get_family
from gaussmix.core.mstep import params_from_precisions
from gaussmix.sources import ArraySource, ThreadTuner


class TestThreadTuner:
    """Tests for ``ThreadTuner``."""

    def test_times_both_options_then_keeps_the_faster(self):
        """Each option is timed once, then the faster one is used."""
        tuner = ThreadTuner(2, reprobe=10)
        first = tuner.choose()
        tuner.record(first, 2.0)
        second = tuner.choose()
        tuner.record(second, 1.0)
        assert {first, second} == {1, 2}
        assert [tuner.choose() for _ in range(5)] == [second] * 5

    def test_reprobes_the_other_option(self):
        """Every ``reprobe`` passes the slower option is timed again and can win."""
        tuner = ThreadTuner(2, reprobe=4)
        tuner.record(tuner.choose(), 1.0)  # 2 threads: 1 s
        tuner.record(tuner.choose(), 3.0)  # serial: 3 s
        assert tuner.choose() == 2  # third pass: the faster option
        assert tuner.choose() == 1  # fourth pass: the re-probe
        tuner.record(1, 0.5)  # the other core became free for serial work
        assert tuner.choose() == 1

    def test_single_thread_is_always_serial(self):
        """With one thread there is nothing to choose."""
        tuner = ThreadTuner(1, reprobe=3)
        chosen = []
        for _ in range(12):
            chosen.append(tuner.choose())
            tuner.record(chosen[-1], 1.0)
        assert chosen == [1] * 12


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_array_source_result_does_not_depend_on_threads(covariance_type):
    """Statistics of an ArraySource are identical for 1 and 2 threads, pass after pass."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60_000, 6))
    family = get_family(covariance_type)
    k = 3
    precisions = {
        "full": np.tile(np.eye(6), (k, 1, 1)),
        "tied": np.eye(6),
        "diag": np.ones((k, 6)),
        "spherical": np.ones(k),
    }[covariance_type]
    params = params_from_precisions(np.full(k, 1 / k), X[:k], precisions, family)
    serial, threaded = ArraySource(X, n_threads=1), ArraySource(X, n_threads=2)
    for _ in range(3):
        a = serial.accumulate(params, family)
        b = threaded.accumulate(params, family)
        np.testing.assert_array_equal(a.sxx, b.sxx)
        np.testing.assert_array_equal(a.sx, b.sx)
        assert a.loglik == b.loglik
