"""Newton's method on the rotation angle of one pair of axes (mclust's EVE and VVE).

The M-step of the common-orientation models (:mod:`gaussmix.core.mclust_models`)
rotates the shared orientation one pair of columns at a time (Jacobi sweeps);
each rotation's angle minimises a one-dimensional objective. The functions are
plain Python, run as they are on the NumPy path and compiled by numba in
:mod:`gaussmix.core._compiled`, so both paths take the same steps in the same
order from one definition.
"""

from __future__ import annotations

import math
from typing import Final

from gaussmix._typing import FloatArray

__all__ = [
    "MAX_STEP",
    "NEWTON_MAX_ITER",
    "NEWTON_STEP_TOL",
    "NEWTON_TRUSTED",
    "PairRows",
    "pair_angle",
    "pair_terms",
]

#: A pair's Newton iteration on the rotation angle stops after a step at most
#: this long (radians of ``2 theta``): convergence is quadratic, so the next
#: step would be below rounding.
NEWTON_STEP_TOL: Final = 1e-9
#: A Newton step (where ``f'' > 0``) at most this long is taken without
#: checking that the objective decreases.
NEWTON_TRUSTED: Final = 1e-3
#: Newton steps per pair at most (a pair takes 2-4).
NEWTON_MAX_ITER: Final = 50
#: The longest step in ``2 theta`` (a quarter turn of the period ``pi``).
MAX_STEP: Final = math.pi / 4.0

#: The rows ``m, x, y, a`` of a pair (each ``(K,)``): Python lists on the NumPy
#: path, a ``(4, K)`` float64 array in the compiled loop.
PairRows = list[list[float]] | FloatArray


def pair_terms(
    phi: float, pair: PairRows, floor: float, exponent: float
) -> tuple[float, float, float]:
    """The pair's objective at ``phi = 2 theta`` and its first two derivatives.

    ``pair`` holds the rows ``m, x, y, a``. The variances of the rotated pair
    are ``m_k +- h_k`` with ``h_k = x_k cos(phi) + y_k sin(phi)``, and enter
    through ``P_k = (m_k + h_k)(m_k - h_k)``: VVE (``exponent`` 0) sums ``a_k
    log P_k``, EVE sums ``a_k P_k^exponent``. The objective is infinite where
    a variance is at or below ``floor`` (outside the region the iteration may
    enter).

    Plain Python that numba also compiles (for ``_compiled.pair_angle``): with
    ``K`` of a few components, a loop over the floats of lists costs a tenth of
    NumPy calls on ``(K,)`` arrays (6 against 55 us at ``K = 5``).
    """
    c = math.cos(phi)
    sn = math.sin(phi)
    f = 0.0
    d1 = 0.0
    d2 = 0.0
    m, x, y, a = pair[0], pair[1], pair[2], pair[3]
    for k in range(len(m)):
        h = x[k] * c + y[k] * sn
        hp = y[k] * c - x[k] * sn
        if not (m[k] + h > floor and m[k] - h > floor):
            return math.inf, 0.0, 0.0
        p = (m[k] + h) * (m[k] - h)
        p1 = -2.0 * h * hp
        p2 = -2.0 * (hp * hp - h * h)
        if exponent == 0.0:
            f += a[k] * math.log(p)
            d1 += a[k] * p1 / p
            d2 += a[k] * (p2 / p - (p1 / p) * (p1 / p))
        else:
            pe = p**exponent
            f += a[k] * pe
            d1 += a[k] * exponent * pe * p1 / p
            d2 += a[k] * exponent * pe * (p2 / p + (exponent - 1.0) * (p1 / p) ** 2)
    return f, d1, d2


def pair_angle(pair: PairRows, floor: float, exponent: float) -> float:
    """The rotation ``phi = 2 theta`` of a pair that minimises its objective, from 0.

    Newton's method on :func:`pair_terms` from ``phi = 0`` (the current
    columns), a step of ``-f'/f''`` where ``f'' > 0`` and a quarter turn
    downhill elsewhere, at most :data:`MAX_STEP`, halved until the objective
    does not increase. It stops after a step of at most
    :data:`NEWTON_STEP_TOL`, when no step decreases it, or after
    :data:`NEWTON_MAX_ITER` steps. 0 when a variance of the pair is at the
    floor already.

    Plain Python, which numba compiles as ``_compiled.pair_angle`` (the same
    steps in the same order on both paths).
    """
    f0, d1, d2 = pair_terms(0.0, pair, floor, exponent)
    if not math.isfinite(f0):
        return 0.0
    phi = 0.0
    for _ in range(NEWTON_MAX_ITER):
        if d1 == 0.0:
            break
        step = -d1 / d2 if d2 > 0.0 else -math.copysign(MAX_STEP, d1)
        step = min(max(step, -MAX_STEP), MAX_STEP)
        accepted = False
        for _ in range(60):
            f1, e1, e2 = pair_terms(phi + step, pair, floor, exponent)
            # A short Newton step is taken as it is: there the change of the
            # objective is below its rounding, and comparing it would decide
            # by rounding (and differently on the two paths).
            if f1 <= f0 or (d2 > 0.0 and abs(step) <= NEWTON_TRUSTED and f1 < math.inf):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        phi += step
        f0, d1, d2 = f1, e1, e2
        if abs(step) <= NEWTON_STEP_TOL:
            break
    return phi
