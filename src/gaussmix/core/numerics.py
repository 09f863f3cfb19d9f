"""Thresholds and errors shared by the numeric core (its bottom layer).

Every module of :mod:`gaussmix.core` may import this one; it imports none of
them, so that the core's imports point one way (``docs/ARCHITECTURE.md``).
"""

from __future__ import annotations

import math
from typing import Final

__all__ = [
    "COLLAPSE_RELATIVE",
    "LOG_2PI",
    "StatisticsOverflowError",
    "overflow_error",
]

#: ``log(2 pi)``, the constant of every Gaussian log-density.
LOG_2PI: Final = math.log(2.0 * math.pi)

#: A covariance whose variance along a feature (given the previous features)
#: falls below this fraction of the data's variance of that feature has collapsed.
COLLAPSE_RELATIVE: Final = 1e-12


class StatisticsOverflowError(FloatingPointError, ValueError):
    """The M-step met numbers that float64 cannot hold (infinity or NaN).

    Raised instead of handing such numbers to LAPACK, which may not return on
    them. A ``ValueError`` (the data are unusable as given) and a
    ``FloatingPointError`` (what went wrong numerically).
    """


def overflow_error(where: str) -> StatisticsOverflowError:
    """The error for non-finite numbers met in ``where`` (a short description)."""
    return StatisticsOverflowError(
        f"{where} met numbers that float64 cannot hold (infinity or NaN). The "
        "data (or the sample weights) are too large, too small, or too far from "
        "the origin for their spread; scale them (e.g. "
        "sklearn.preprocessing.StandardScaler)."
    )
