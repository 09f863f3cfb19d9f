"""Conversion of user input to float64 arrays, with an error that names the caller.

Shared by :mod:`gaussmix.density` and :mod:`gaussmix.plotting`, whose public
functions take numbers or arrays of numbers and say, when given something
else, which function and which argument refused it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaussmix._typing import FloatArray

__all__ = ["as_float64"]


def as_float64(
    value: Any,
    func: str,
    what: str,
    expected: str,
    error: type[Exception] = TypeError,
) -> FloatArray:
    """``value`` as a float64 array, or a clear error if it is not numeric.

    Parameters
    ----------
    value : object
        A number or an array-like of numbers.
    func : str
        The public function that was called, named first in the message.
    what : str
        The argument being converted (``"x"``, ``"the probabilities"``).
    expected : str
        What it must be; the message reads ``"{func}: {what} must be {expected}."``.
    error : type of Exception, default=TypeError
        The exception to raise.

    Returns
    -------
    ndarray
        ``np.asarray(value, dtype=np.float64)``.

    Raises
    ------
    error
        If NumPy cannot convert ``value`` to float64 (its own ``TypeError`` or
        ``ValueError`` is not chained: the message says what to pass).
    """
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise error(f"{func}: {what} must be {expected}.") from None
