"""Marginal and conditional mixtures of Gaussians, as arrays.

A Gaussian mixture ``p(x) = sum_k w_k N(x | mu_k, S_k)`` split into the
features ``b`` that are given and the others ``a`` has

* a **marginal** over any subset ``f`` of its features: the same weights, the
  means ``mu_k[f]`` and the covariances ``S_k[f, f]`` (integrating a Gaussian
  over some features keeps the others' block);
* a **conditional** on ``x_b``: again a mixture over ``a``, with

  - weights ``w_k N(x_b | mu_kb, S_kbb) / p(x_b)`` (each component's marginal
    likelihood of the given values, normalised in log space),
  - means ``mu_ka + S_kab S_kbb^-1 (x_b - mu_kb)``,
  - covariances the Schur complement ``S_kaa - S_kab S_kbb^-1 S_kba``, which
    does not depend on ``x_b``.

Everything is computed from one Cholesky factor per component of the
covariance with its features ordered ``(b, a)``: ``L = [[L_bb, 0], [L_ab,
L_aa]]``. Then ``S_kbb = L_bb L_bb^T``, ``S_kab S_kbb^-1 (x_b - mu_kb) = L_ab
z`` with ``z = L_bb^-1 (x_b - mu_kb)`` (whose squared norm is the Mahalanobis
distance of the marginal likelihood) and the Schur complement is ``L_aa
L_aa^T``: no inverse of ``S_kbb`` is formed. The work is vectorised over
components and over many conditioning rows at once (batched matrix products on
blocks of rows).

**Which covariance shape holds the result.** The arrays keep the storage shape
of the family (its flags ``matrix``, ``shared`` and ``per_feature``), and the
result is returned under the scikit-learn name of that shape
(:func:`storage_type`): a full stack stays full, a shared matrix stays shared
(the Schur complement is the same for every component), diagonal and spherical
covariances have no cross-covariances, so their conditionals keep the means
and variances of the other features (only the weights change). mclust's model
names map to the scikit-learn shape that stores them (``VVV``, ``EEV``, ...
give ``full``; ``EEE`` gives ``tied``; ``EEI``, ``VEI``, ... give ``diag``;
``EII``, ``VII``, ``E``, ``V`` give ``spherical``): the constraints between
components (equal volume, shape or orientation) are not all kept by a
conditional, and the scikit-learn shape holds the result exactly.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from gaussmix._typing import FloatArray, IntArray
from gaussmix.core.covariance import (
    REGISTRY,
    SKLEARN_GROUP,
    CovarianceFamily,
    get_family,
)

__all__ = [
    "Conditional",
    "check_features",
    "component_variances",
    "condition",
    "marginal",
    "mixture_moments",
    "storage_type",
]

_LOG_2PI: Final = math.log(2.0 * math.pi)
#: Elements of the largest ``(K, D, rows)`` temporary of one block of rows.
_BLOCK_ELEMENTS: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Conditional:
    """Mixtures over the features ``a`` given rows of values of the features ``b``.

    Row ``i`` is the mixture ``sum_k exp(log_weights[i, k]) N(. | means[i, k],
    S_k)``; the covariances ``S_k`` are the same for every row.

    Parameters
    ----------
    log_weights : ndarray of shape (n_rows, n_components)
        Log of the conditional weights; ``logsumexp`` of each row is 0.
    means : ndarray of shape (n_rows, n_components, n_free)
        Conditional means of the components.
    covariances : ndarray
        The Schur complements in the shape of ``covariance_type`` over the
        ``n_free`` features (``(K, n, n)``, ``(n, n)``, ``(K, n)`` or ``(K,)``).
    covariance_type : str
        The scikit-learn name of that shape (:func:`storage_type`).
    log_evidence : ndarray of shape (n_rows,)
        ``log p(x_b)``, the marginal log-density of each conditioning row.
    """

    log_weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    covariance_type: str
    log_evidence: FloatArray


def storage_type(family: CovarianceFamily) -> str:
    """The scikit-learn covariance_type that stores ``family``'s covariances.

    The family's storage flags (``matrix``, ``shared``, ``per_feature``) decide:
    every registered family stores its covariances in one of scikit-learn's
    four shapes, which also holds its marginals and conditionals exactly.

    Parameters
    ----------
    family : CovarianceFamily

    Returns
    -------
    str
        ``'full'``, ``'tied'``, ``'diag'`` or ``'spherical'``.
    """
    key = (family.matrix, family.shared, family.per_feature)
    for name, candidate in REGISTRY.items():
        if candidate.group == SKLEARN_GROUP and key == (
            candidate.matrix,
            candidate.shared,
            candidate.per_feature,
        ):
            return name
    raise ValueError(  # pragma: no cover - every registered family has a shape
        f"no scikit-learn covariance shape stores {family.name!r}"
    )


def check_features(
    features: Any, n_features: int, what: str = "features", names: Any = None
) -> IntArray:
    """Validated feature indices, in the order given.

    Parameters
    ----------
    features : int, sequence of int or boolean mask
        Column indices (negative ones count from the end, as in NumPy), or a
        boolean mask of length ``n_features``.
    n_features : int
        The model's number of features.
    what : str, default="features"
        The argument's name in error messages.
    names : array-like of str, default=None
        The model's feature names (``feature_names_in_``): ``features`` may
        then be names.

    Returns
    -------
    ndarray of int
        Indices in ``[0, n_features)``, distinct, at least one.

    Raises
    ------
    ValueError
        If an index is not an integer or out of range, an index repeats, the
        mask has the wrong length, or no feature is selected.
    """
    if isinstance(features, str) or (
        isinstance(features, numbers.Number) and not isinstance(features, bool)
    ):
        features = [features]
    if names is not None and all(isinstance(f, str) for f in np.ravel(features)):
        lookup = {str(n): i for i, n in enumerate(names)}
        unknown = [str(f) for f in np.ravel(features) if str(f) not in lookup]
        if unknown:
            raise ValueError(
                f"{what}: unknown feature name {unknown[0]!r}; the model's features "
                f"are {list(lookup)}."
            )
        features = [lookup[str(f)] for f in np.ravel(features)]
    arr = np.asarray(features)
    if arr.dtype == np.bool_:
        if arr.shape != (n_features,):
            raise ValueError(
                f"{what}: a boolean mask needs one entry per feature "
                f"({n_features}), got shape {arr.shape}."
            )
        index = np.flatnonzero(arr)
    else:
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(
                f"{what} must be integer column indices, a boolean mask of length "
                f"{n_features} or (for a model fitted on named columns) column "
                f"names; got {features!r}."
            )
        index = arr.astype(np.intp)
        bad = (index < -n_features) | (index >= n_features)
        if np.any(bad):
            raise ValueError(
                f"{what}: index {int(index[bad][0])} is out of range for a model of "
                f"{n_features} features (valid: 0 to {n_features - 1}, or negative "
                "from the end)."
            )
        index = np.where(index < 0, index + n_features, index)
        unique, counts = np.unique(index, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(
                f"{what}: feature {int(unique[counts > 1][0])} is selected more than "
                "once; give each feature once."
            )
    if index.size == 0:
        raise ValueError(f"{what}: select at least one feature; got none.")
    return np.asarray(index, dtype=np.intp)


def check_values(values: Any, n_given: int) -> FloatArray:
    """One finite row of ``n_given`` conditioning values, as float64.

    A number is accepted for one feature, and a ``(1, n_given)`` array for one row.
    """
    row = np.asarray(values, dtype=np.float64)
    if row.ndim == 2 and row.shape[0] == 1:
        row = row[0]
    row = row.reshape(-1) if row.ndim == 0 else row
    if row.shape != (n_given,):
        raise ValueError(
            f"condition: values must be one row of {n_given} numbers (one per given "
            f"feature), got shape {np.shape(values)}."
        )
    if not np.all(np.isfinite(row)):
        raise ValueError(f"condition: values must be finite, got {row}.")
    return row


def marginal(
    family: CovarianceFamily,
    weights: FloatArray,
    means: FloatArray,
    covariances: FloatArray,
    features: IntArray,
) -> tuple[str, FloatArray, FloatArray, FloatArray]:
    """The marginal mixture over ``features`` (validated indices, in that order).

    Returns
    -------
    covariance_type : str
        The scikit-learn shape of the result (:func:`storage_type`).
    weights, means, covariances : ndarray
        Float64 arrays of the marginal; the weights are unchanged.
    """
    name = storage_type(family)
    cov = np.asarray(covariances, dtype=np.float64)
    f = np.asarray(features, dtype=np.intp)
    if family.matrix and family.shared:
        out = cov[np.ix_(f, f)]
    elif family.matrix:
        out = cov[:, f][:, :, f]
    elif family.per_feature:
        out = cov[:, f]
    else:
        out = cov.copy()
    return (
        name,
        np.array(weights, dtype=np.float64),
        np.asarray(means, dtype=np.float64)[:, f],
        np.ascontiguousarray(out),
    )


def condition(
    family: CovarianceFamily,
    weights: FloatArray,
    means: FloatArray,
    covariances: FloatArray,
    given: IntArray,
    values: FloatArray,
) -> Conditional:
    """The mixtures over the other features given each row of ``values``.

    Parameters
    ----------
    family : CovarianceFamily
        The family of ``covariances``.
    weights, means, covariances : ndarray
        The joint mixture.
    given : ndarray of int
        Validated indices of the given features ``b`` (the columns of
        ``values``, in this order); at least one feature must remain.
    values : ndarray of shape (n_rows, len(given))
        Finite values of the given features.

    Returns
    -------
    Conditional
        Over the remaining features in their original order.
    """
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n_components, n_features = means.shape
    b = np.asarray(given, dtype=np.intp)
    a = np.setdiff1d(np.arange(n_features), b)
    if a.size == 0:
        raise ValueError(
            "condition: every feature is given, so nothing is left to condition "
            "on; leave at least one feature out of the given ones."
        )
    if values.ndim != 2 or values.shape[1] != b.size:
        raise ValueError(
            f"condition: values need {b.size} columns (one per given feature), "
            f"got shape {values.shape}."
        )
    name = storage_type(family)
    n_rows = values.shape[0]
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    mu_b, mu_a = means[:, b], means[:, a]
    if family.matrix:
        stack = cov[None] if family.shared else cov
        perm = np.concatenate([b, a])
        try:
            chol = np.linalg.cholesky(stack[:, perm][:, :, perm])
        except np.linalg.LinAlgError:
            raise ValueError(
                "condition: a covariance is not positive definite; refit with a "
                "larger reg_covar."
            ) from None
        nb = b.size
        l_bb, l_ab, l_aa = chol[:, :nb, :nb], chol[:, nb:, :nb], chol[:, nb:, nb:]
        # L_bb^-1 by a triangular solve of the identity (K small matrices).
        inv_bb = np.linalg.solve(l_bb, np.broadcast_to(np.eye(nb), l_bb.shape))
        log_det = np.log(np.diagonal(l_bb, axis1=1, axis2=2)).sum(axis=1)
        schur = l_aa @ np.swapaxes(l_aa, 1, 2)
        cond_cov = schur[0] if family.shared else schur
    else:
        var = cov[:, b] if family.per_feature else cov[:, None]
        log_det = 0.5 * np.log(np.broadcast_to(var, (n_components, b.size))).sum(1)
        cond_cov = cov[:, a] if family.per_feature else cov.copy()
    log_weights = np.empty((n_rows, n_components))
    cond_means = np.empty((n_rows, n_components, a.size))
    step = max(1, _BLOCK_ELEMENTS // max(1, n_components * n_features))
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        # Residuals component-major: (K, n_b, rows).
        resid = values[rows].T[None] - mu_b[:, :, None]
        if family.matrix:
            z = inv_bb @ resid
            cond_means[rows] = np.transpose(mu_a[:, :, None] + l_ab @ z, (2, 0, 1))
        else:
            z = resid / np.sqrt(var)[:, :, None]
            cond_means[rows] = mu_a[None]
        log_lik = (
            -0.5 * np.einsum("kir,kir->kr", z, z)
            - log_det[:, None]
            - 0.5 * b.size * _LOG_2PI
        )
        log_weights[rows] = (log_w[:, None] + log_lik).T
    top = np.max(log_weights, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    log_evidence = top[:, 0] + np.log(np.sum(np.exp(log_weights - top), axis=1))
    return Conditional(
        log_weights=log_weights - log_evidence[:, None],
        means=cond_means,
        covariances=np.ascontiguousarray(cond_cov),
        covariance_type=name,
        log_evidence=log_evidence,
    )


def component_variances(
    family: CovarianceFamily, covariances: FloatArray, n_components: int
) -> FloatArray:
    """The diagonal of every component's covariance, shape ``(K, D)``.

    ``covariances`` are in the storage shape of ``family``'s flags.
    """
    cov = np.asarray(covariances, dtype=np.float64)
    if family.matrix:
        diag = np.diagonal(cov, axis1=-2, axis2=-1)
        n_features = diag.shape[-1]
    elif family.per_feature:
        return cov
    else:
        return cov[:, None]
    return np.asarray(np.broadcast_to(diag, (n_components, n_features)))


def mixture_moments(cond: Conditional) -> tuple[FloatArray, FloatArray]:
    """Mean and per-feature variance of each row's conditional mixture.

    The variance is the mixture's total variance, ``sum_k w_k (S_k,jj +
    (m_kj - m_j)^2)``: the components' own spread plus the spread of their
    means (law of total variance).

    Returns
    -------
    mean, variance : ndarray of shape (n_rows, n_free)
    """
    w = np.exp(cond.log_weights)
    mean = np.einsum("nk,nkj->nj", w, cond.means)
    var_k = component_variances(
        get_family(cond.covariance_type), cond.covariances, cond.means.shape[1]
    )
    spread = np.einsum("nk,nkj->nj", w, (cond.means - mean[:, None, :]) ** 2)
    return mean, w @ var_k + spread
