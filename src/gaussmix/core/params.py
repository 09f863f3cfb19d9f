"""Mixture parameters as an immutable value (:class:`GMMParams`).

The core always holds parameters in float64; the estimator casts them to the
input's dtype only when it copies them to its fitted attributes.

A mixture may carry a *noise component* (R mclust's): a uniform density
``exp(noise_log_density)`` with mixing proportion ``noise_weight``. The
Gaussian ``weights`` then sum to ``1 - noise_weight``. Without noise
(``noise_log_density is None``) nothing changes.

Parameters found by an iterative M-step (mclust's VEI, VEV, VEE, EVE and VVE)
also carry the model's common terms that the iteration found, as an
:class:`InnerState`: the next M-step starts from them (the families themselves
keep no state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gaussmix._typing import FloatArray

__all__ = ["GMMParams", "InnerState"]


@dataclass(frozen=True, slots=True)
class InnerState:
    """Where the inner iteration of an M-step ended, and how it got there.

    The common terms of mclust's iterative models, which the next M-step of the
    same fit starts from (:func:`gaussmix.core.mstep.m_step`, ``previous=``).

    Parameters
    ----------
    shape : ndarray of shape (n_features,) or None
        The common shape ``A`` (determinant 1): VEI, VEV and VEE.
    orientation : ndarray of shape (n_features, n_features) or None
        The common orientation ``D`` (orthogonal columns): EVE and VVE, and
        VEE's eigenvectors of ``C = D A D^T``.
    n_iter : int, default=0
        Inner iterations run.
    converged : bool, default=True
        Whether the inner iteration met its tolerance (else it hit its cap).
    """

    shape: FloatArray | None = None
    orientation: FloatArray | None = None
    n_iter: int = 0
    converged: bool = True


@dataclass(frozen=True, slots=True)
class GMMParams:
    """Parameters of a Gaussian mixture, with scikit-learn's array shapes.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
        Mixing proportions; non-negative, summing to one.
    means : ndarray of shape (n_components, n_features)
        Component means.
    covariances : ndarray
        Family-shaped covariances: ``(K, D, D)`` full, ``(D, D)`` tied,
        ``(K, D)`` diag, ``(K,)`` spherical.
    precisions_cholesky : ndarray
        Cholesky factors of the precisions, same shape as ``covariances``; for
        full and tied the upper-triangular ``U`` with ``precision = U @ U.T``.
    noise_weight : float, default=0.0
        Mixing proportion of the noise component (0 without noise).
    noise_log_density : float or None, default=None
        Log of the noise component's uniform density, ``log(1 / V)`` for a
        hypervolume ``V``; None means no noise component.
    inner : InnerState or None, default=None
        The common terms found by an iterative M-step (the start of the next
        one); None for the other families and for parameters given by a user.
    """

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    precisions_cholesky: FloatArray
    noise_weight: float = 0.0
    noise_log_density: float | None = None
    inner: InnerState | None = None

    @property
    def n_components(self) -> int:
        """Number of mixture components."""
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features."""
        return int(self.means.shape[1])

    @property
    def has_noise(self) -> bool:
        """Whether the mixture has a noise component."""
        return self.noise_log_density is not None

    def noise_log_term(self) -> float:
        """``log(noise_weight) + noise_log_density`` (``-inf`` for a zero weight).

        Raises
        ------
        ValueError
            If the mixture has no noise component.
        """
        if self.noise_log_density is None:
            raise ValueError("this mixture has no noise component")
        if self.noise_weight <= 0.0:
            return -math.inf
        return math.log(self.noise_weight) + self.noise_log_density

    def center(self) -> FloatArray:
        """Mixture mean ``sum_k weights_k * means_k``: the shift used by the E-step.

        With a noise component, the mean of the Gaussian part (the weights
        renormalised to sum to one).
        """
        center = np.asarray(self.weights @ self.means, dtype=np.float64)
        if self.has_noise:
            total = float(np.sum(self.weights))
            if total > 0.0:
                center = center / total
        return center

    def is_finite(self) -> bool:
        """Whether every array (and the noise weight and density) is finite."""
        arrays_ok = all(
            bool(np.all(np.isfinite(a)))
            for a in (
                self.weights,
                self.means,
                self.covariances,
                self.precisions_cholesky,
            )
        )
        if not self.has_noise:
            return arrays_ok
        assert self.noise_log_density is not None
        return (
            arrays_ok
            and math.isfinite(self.noise_weight)
            and math.isfinite(self.noise_log_density)
        )
