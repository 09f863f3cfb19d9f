"""Tests of gaussmix._inputs: float64 conversion with a message naming the caller."""

import numpy as np
import pytest

from gaussmix._inputs import as_float64


def test_converts_numbers_and_arrays():
    out = as_float64([1, 2.5], "f", "x", "numbers")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, 2.5])
    assert as_float64(3, "f", "x", "numbers").shape == ()


def test_message_names_caller_and_argument():
    with pytest.raises(
        TypeError, match=r"^cdf: x must be numbers; got list\.$"
    ) as info:
        as_float64([object()], "cdf", "x", "numbers; got list")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_error_type_is_the_callers():
    with pytest.raises(ValueError, match=r"^plot: X must be numeric\.$"):
        as_float64("abc", "plot", "X", "numeric", ValueError)
