"""Mixture parameters as an immutable value (:class:`GMMParams`).

The core always holds parameters in float64; the estimator casts them to the
input's dtype only when it copies them to its fitted attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaussmix._typing import FloatArray

__all__ = ["GMMParams"]


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
    """

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    precisions_cholesky: FloatArray

    @property
    def n_components(self) -> int:
        """Number of mixture components."""
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features."""
        return int(self.means.shape[1])

    def center(self) -> FloatArray:
        """Mixture mean ``sum_k weights_k * means_k``: the shift used by the E-step."""
        return np.asarray(self.weights @ self.means, dtype=np.float64)

    def is_finite(self) -> bool:
        """Whether every array holds only finite values."""
        return all(
            bool(np.all(np.isfinite(a)))
            for a in (
                self.weights,
                self.means,
                self.covariances,
                self.precisions_cholesky,
            )
        )
