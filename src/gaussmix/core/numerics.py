"""Thresholds and errors shared by the numeric core (its bottom layer).

Every module of :mod:`gaussmix.core` may import this one; it imports none of
them, so that the core's imports point one way (``docs/ARCHITECTURE.md``).
"""

from __future__ import annotations

import math
from typing import Final

__all__ = [
    "COLLAPSE_RELATIVE",
    "INNER_TOL_FACTOR",
    "INNER_TOL_LOOSE",
    "LOG_2PI",
    "VARIANCE_ROUNDING",
    "StatisticsOverflowError",
    "overflow_error",
]

#: ``log(2 pi)``, the constant of every Gaussian log-density.
LOG_2PI: Final = math.log(2.0 * math.pi)

#: A covariance whose variance along a feature (given the previous features)
#: falls below this fraction of the data's variance of that feature has collapsed.
COLLAPSE_RELATIVE: Final = 1e-12

#: Relative rounding of a variance recovered as ``E[x^2] - E[x]^2`` from sums
#: (64 eps): a variance within it of the mean square is zero.
VARIANCE_ROUNDING: Final = 64 * 2.220446049250313e-16

#: Inner tolerance of the iterative M-steps while EM is far from converged
#: (:func:`gaussmix.em.fit_em`): this fraction of the relative change of the
#: outer objective ...
INNER_TOL_FACTOR: Final = 1e-3
#: ... and never looser than this.
INNER_TOL_LOOSE: Final = 1e-5


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
