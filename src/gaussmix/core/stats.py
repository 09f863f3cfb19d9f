"""Additive sufficient statistics of one E-step pass (:class:`SuffStats`).

Every way of fitting (in memory, in chunks, on a cluster, online) produces these
statistics and hands them to the same M-step. They are centred on a shift
``c`` (one point of feature space, shared by all components):

* ``nk[k]   = sum_i w_i r_ik``
* ``sx[k]   = sum_i w_i r_ik (x_i - c)``
* ``sxx``   = the family-shaped second moment about ``c``: ``(K, D, D)`` full,
  ``(D, D)`` tied (summed over components), ``(K, D)`` diag, ``(K,)``
  spherical (sum of squared norms).

The M-step recovers covariances exactly with ``d_k = mean_k - c``. Centring keeps
the cancellation small (see ``docs/ARCHITECTURE.md``).

With mclust's noise component the statistics are those of the Gaussians, and
:class:`NoiseStats` carries the noise responsibility mass beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gaussmix._typing import FloatArray

if TYPE_CHECKING:
    from gaussmix.core.family import CovarianceFamily

__all__ = [
    "WEIGHT_EXPONENT_RANGE",
    "NoiseStats",
    "SuffStats",
    "rescale_weights",
    "weight_exponent",
]


@dataclass(frozen=True, slots=True)
class SuffStats:
    """Additive statistics of one E-step pass over (a part of) the data.

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        Weighted responsibility mass of each component.
    sx : ndarray of shape (n_components, n_features)
        Weighted first moments about ``shift``.
    sxx : ndarray
        Family-shaped weighted second moments about ``shift``.
    shift : ndarray of shape (n_features,)
        Centring point; statistics can only be added when it is identical.
    loglik : float
        ``sum_i w_i log p(x_i)`` under the parameters of the pass (0 when the
        statistics come from given responsibilities).
    weight : float
        ``sum_i w_i``.
    n_samples : int
        Number of rows seen (including zero-weight rows).
    """

    nk: FloatArray
    sx: FloatArray
    sxx: FloatArray
    shift: FloatArray
    loglik: float
    weight: float
    n_samples: int

    def __add__(self, other: SuffStats) -> SuffStats:
        if not isinstance(other, SuffStats):
            return NotImplemented
        if not np.array_equal(self.shift, other.shift):
            raise ValueError(
                "cannot add statistics with different shifts; recenter one of "
                "them first with SuffStats.recentered(shift, family)"
            )
        return SuffStats(
            nk=self.nk + other.nk,
            sx=self.sx + other.sx,
            sxx=self.sxx + other.sxx,
            shift=self.shift,
            loglik=self.loglik + other.loglik,
            weight=self.weight + other.weight,
            n_samples=self.n_samples + other.n_samples,
        )

    def scaled(self, a: float) -> SuffStats:
        """Return the statistics multiplied by ``a`` (for online blending)."""
        return SuffStats(
            nk=self.nk * a,
            sx=self.sx * a,
            sxx=self.sxx * a,
            shift=self.shift,
            loglik=self.loglik * a,
            weight=self.weight * a,
            n_samples=self.n_samples,
        )

    def recentered(self, shift: FloatArray, family: CovarianceFamily) -> SuffStats:
        """Return the same statistics expressed about another shift.

        With ``delta = old_shift - new_shift``, ``x - new = (x - old) + delta``,
        so ``sx' = sx + nk delta`` and the second moment gains
        ``sx delta^T + delta sx^T + nk delta delta^T`` (family-shaped).
        """
        shift = np.asarray(shift, dtype=np.float64)
        delta = self.shift - shift
        sxx = family.recenter_scatter(self.sxx, self.nk, self.sx, delta)
        return SuffStats(
            nk=self.nk,
            sx=self.sx + self.nk[:, None] * delta,
            sxx=sxx,
            shift=shift,
            loglik=self.loglik,
            weight=self.weight,
            n_samples=self.n_samples,
        )

    def with_noise(self, noise: float, noise_log_density: float) -> NoiseStats:
        """These statistics with a noise component's responsibility mass beside them."""
        fields = {name: getattr(self, name) for name in SuffStats.__slots__}
        return NoiseStats(
            **fields, noise=float(noise), noise_log_density=float(noise_log_density)
        )


@dataclass(frozen=True, slots=True)
class NoiseStats(SuffStats):
    """Statistics of the Gaussians plus the responsibility mass of the noise.

    The inherited fields are the Gaussians' statistics (as without noise);
    ``weight`` stays the total weight of the rows, so ``weight - sum(nk)`` is
    ``noise`` up to rounding.

    Parameters
    ----------
    noise : float, default=0.0
        ``sum_i w_i r_i0``, the weighted noise responsibility mass.
    noise_log_density : float, default=0.0
        ``log(1 / V)`` of the noise component the statistics were made with.
    """

    noise: float = 0.0
    noise_log_density: float = 0.0

    def __add__(self, other: SuffStats) -> NoiseStats:
        if not isinstance(other, NoiseStats):
            return NotImplemented
        base = SuffStats.__add__(self, other)
        return base.with_noise(self.noise + other.noise, self.noise_log_density)

    def scaled(self, a: float) -> NoiseStats:
        """Return the statistics (and the noise mass) multiplied by ``a``."""
        base = SuffStats.scaled(self, a)
        return base.with_noise(self.noise * a, self.noise_log_density)

    def recentered(self, shift: FloatArray, family: CovarianceFamily) -> NoiseStats:
        """Return the same statistics about another shift (noise mass unchanged)."""
        base = SuffStats.recentered(self, shift, family)
        return base.with_noise(self.noise, self.noise_log_density)


#: Weights whose largest lies in ``[2^-32, 2^32]`` are used as they are by
#: :func:`rescale_weights`: far from overflow and underflow for any data the
#: estimator accepts (values up to 1e100, squares up to 1e200).
WEIGHT_EXPONENT_RANGE = 32


def weight_exponent(weights: FloatArray | None) -> int:
    """The ``e`` by which :func:`rescale_weights` divides weights, as ``2^e``.

    0 when the largest weight lies in ``[2^-WEIGHT_EXPONENT_RANGE,
    2^WEIGHT_EXPONENT_RANGE]`` (weights used as they are), or for None, empty,
    non-finite or non-positive maxima (left to validation).
    """
    if weights is None or weights.size == 0:
        return 0
    top = float(np.max(weights))
    if not (math.isfinite(top) and top > 0.0):
        return 0
    exponent = math.frexp(top)[1]
    return 0 if abs(exponent) <= WEIGHT_EXPONENT_RANGE else exponent


def rescale_weights(weights: FloatArray | None) -> FloatArray | None:
    """Sample weights times the power of two that brings the largest into [0.5, 1).

    EM does not depend on the scale of the weights (every statistic and the
    per-sample log-likelihood are ratios), but its arithmetic does: weights of
    ``1e300`` overflow the weighted sums of squares, weights of ``5e-324``
    (subnormal) lose every digit in them. Weights whose largest is between
    ``2^-32`` and ``2^32`` are returned unchanged (the ordinary case, computed
    exactly as before); others are divided by ``2^e``, ``e`` from
    :func:`weight_exponent`. Multiplying by a power of two is exact for every
    weight that stays a normal number; a weight below ``2^-1022`` times the
    largest loses digits, and one below ``2^-1074`` times the largest becomes 0
    (its share of the fit was below float64's resolution anyway).

    Parameters
    ----------
    weights : ndarray of shape (n_samples,) or None
        Finite, non-negative weights with a positive maximum (validated).

    Returns
    -------
    ndarray of shape (n_samples,) or None
        The scaled weights (a new array, or ``weights`` itself when no scaling
        is needed); None for None.
    """
    exponent = weight_exponent(weights)
    if weights is None or exponent == 0:
        return weights
    return np.asarray(np.ldexp(weights, -exponent), dtype=np.float64)
