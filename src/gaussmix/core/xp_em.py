"""EM for scikit-learn's four covariance shapes, written against the array API.

This is the engine of ``array_api_dispatch`` (docs/array-api.md): every function
takes the namespace ``xp`` of the data (array-api-strict, torch, CuPy, ...) and
computes with it only, so that arrays on a GPU stay there. The data are never
copied to the host; what crosses are scalars (the lower bound, k-means'
convergence test, the chosen k-means++ rows), the random numbers, which are
drawn on the host with NumPy's ``RandomState`` in scikit-learn's order (the
array API has no random numbers) and moved to the device, and the
``n_components``-sized parameters where a caller asks for them.

The shapes are the family's facts (``matrix``, ``shared``, ``per_feature``), as
scikit-learn stores them: ``(K, D, D)`` full, ``(D, D)`` tied, ``(K, D)`` diagonal
and ``(K,)`` spherical; precision Cholesky factors are upper triangular with
``precision = U @ U.T``.

Numerics. Rows are centred on the mixture mean ``c`` before any product (the
E-step: ``(x - c) U_k - (mu_k - c) U_k`` for the matrix shapes, the expanded
form of the centred rows for the others), so data far from the origin keep
their digits. The float64 M-step uses moments of the centred rows,
``S_k / n_k - (mu_k - c)(mu_k - c)^T`` (matrix products only); the float32
one sums differences to each mean, since there the expansion loses
``reg_covar`` of a component started from one row. The work runs
over blocks of rows with an ``n x K x D`` temporary of at most
:data:`BLOCK_ELEMENTS` elements. The array API has no triangular solve: the
inverse of a Cholesky factor is ``xp.linalg.solve(L, I)`` on the stack of
factors (as scikit-learn does), with the entries above the diagonal then set to
exact zeros.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from gaussmix.core.family import CovarianceFamily
from gaussmix.core.init import random_from_data_indices

__all__ = [
    "BLOCK_ELEMENTS",
    "KMEANS_MAX_ITER",
    "KMEANS_TOL",
    "SINGULAR_MESSAGE",
    "XPParams",
    "covariances_from_cholesky",
    "device_of",
    "estimate_parameters",
    "initial_resp",
    "kmeans_labels",
    "kmeans_plusplus_indices",
    "log_prob_norm_resp",
    "mean_log_likelihood",
    "precisions_cholesky",
    "precisions_cholesky_from_precisions",
    "precisions_from_cholesky",
    "weighted_log_prob",
    "widest_float",
]

#: Largest ``rows x n_components x n_features`` temporary of one block.
BLOCK_ELEMENTS: Final = 1 << 22
#: scikit-learn's ``KMeans`` defaults (``max_iter``, ``tol``), as the NumPy
#: engine's ``init_params='kmeans'`` runs it.
KMEANS_MAX_ITER: Final = 300
KMEANS_TOL: Final = 1e-4
#: scikit-learn's message when a covariance is not positive definite.
SINGULAR_MESSAGE: Final = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the "
    "input data."
)


@dataclass(frozen=True, slots=True)
class XPParams:
    """The parameters of one EM state, arrays of the data's namespace and device.

    ``covariances`` is None when the state was made from given precisions (it
    is computed when the fit ends).
    """

    weights: Any
    means: Any
    covariances: Any
    precisions_cholesky: Any


# ----------------------------------------------------------------- helpers
def device_of(x: Any) -> Any:
    """The device of the array ``x`` (``array_api_compat.device``)."""
    from array_api_compat import device

    return device(x)


def _blocks(n_rows: int, per_row: int) -> list[tuple[int, int]]:
    step = max(1, BLOCK_ELEMENTS // max(1, per_row))
    return [(start, min(n_rows, start + step)) for start in range(0, n_rows, step)]


def _eye(xp: Any, n: int, like: Any) -> Any:
    return xp.eye(n, dtype=like.dtype, device=device_of(like))


def _lower_mask(xp: Any, n: int, like: Any) -> Any:
    idx = xp.arange(n, device=device_of(like))
    return xp.astype(idx[:, None] >= idx[None, :], like.dtype)


def _flip(xp: Any, a: Any) -> Any:
    return xp.flip(xp.flip(a, axis=-1), axis=-2)


def _cholesky(xp: Any, a: Any, dtype_hint: Any) -> Any:
    """Lower Cholesky factor(s), or scikit-learn's ValueError if not positive definite."""
    message = SINGULAR_MESSAGE
    if dtype_hint == xp.float32:
        message += (
            " The numerical accuracy can also be improved by passing float64 data "
            "instead of float32."
        )
    try:
        factor = xp.linalg.cholesky(a)
    except Exception as exc:  # each library raises its own LinAlgError
        raise ValueError(message) from exc
    if not bool(xp.all(xp.isfinite(factor))):
        raise ValueError(message)
    return factor


# ------------------------------------------------------- parameter shapes
def precisions_cholesky(xp: Any, covariances: Any, family: CovarianceFamily) -> Any:
    """Upper Cholesky factors of the precisions, from the covariances."""
    if family.matrix:
        n = covariances.shape[-1]
        lower = _cholesky(xp, covariances, covariances.dtype)
        eye = _eye(xp, n, covariances)
        if lower.ndim == 3:
            eye = xp.broadcast_to(eye, lower.shape)
        inverse = xp.linalg.solve(lower, eye) * _lower_mask(xp, n, covariances)
        return xp.matrix_transpose(inverse)
    if bool(xp.any(covariances <= 0.0)):
        raise ValueError(SINGULAR_MESSAGE)
    return 1.0 / xp.sqrt(covariances)


def precisions_cholesky_from_precisions(
    xp: Any, precisions: Any, family: CovarianceFamily
) -> Any:
    """Upper factors ``U`` with ``U @ U.T = precision`` (scikit-learn's flip, #26415)."""
    if family.matrix:
        return _flip(xp, _cholesky(xp, _flip(xp, precisions), precisions.dtype))
    return xp.sqrt(precisions)


def precisions_from_cholesky(xp: Any, prec_chol: Any, family: CovarianceFamily) -> Any:
    """``U @ U.T`` (matrix shapes) or ``U ** 2``."""
    if family.matrix:
        return prec_chol @ xp.matrix_transpose(prec_chol)
    return prec_chol**2


def covariances_from_cholesky(xp: Any, prec_chol: Any, family: CovarianceFamily) -> Any:
    """Covariances ``U^-T U^-1`` (matrix shapes) or ``1 / U ** 2``."""
    if not family.matrix:
        return 1.0 / prec_chol**2
    n = prec_chol.shape[-1]
    eye = _eye(xp, n, prec_chol)
    if prec_chol.ndim == 3:
        eye = xp.broadcast_to(eye, prec_chol.shape)
    inverse = xp.linalg.solve(prec_chol, eye)
    return xp.matrix_transpose(inverse) @ inverse


def _log_det_cholesky(xp: Any, prec_chol: Any, family: CovarianceFamily, d: int) -> Any:
    if family.matrix:
        return xp.sum(xp.log(xp.linalg.diagonal(prec_chol)), axis=-1)
    if family.per_feature:
        return xp.sum(xp.log(prec_chol), axis=1)
    return d * xp.log(prec_chol)


# ----------------------------------------------------------------- E-step
def weighted_log_prob(
    xp: Any, X: Any, params: XPParams, family: CovarianceFamily
) -> Any:
    """``log w_k + log N(x | mu_k, Sigma_k)``, shape ``(n_samples, n_components)``.

    Rows are centred on the mixture mean ``c`` first. Matrix shapes: one
    product ``[x - c, 1] @ [U; -(mu - c) U]`` gives every ``(x - mu_k) U_k``,
    whose squares are summed per component. Variance shapes: the expanded
    quadratic form of the centred rows, three products.
    """
    n_samples, d = X.shape
    means, prec_chol = params.means, params.precisions_cholesky
    k = means.shape[0]
    log_det = _log_det_cholesky(xp, prec_chol, family, d)
    constant = -0.5 * d * math.log(2.0 * math.pi)
    centre = params.weights @ means
    shifted_means = means - centre
    if family.matrix:
        if family.shared:
            factor = xp.concat([prec_chol] * k, axis=1)  # (D, K D)
            shifted = shifted_means @ prec_chol  # (K, D)
        else:
            factor = xp.reshape(xp.permute_dims(prec_chol, (1, 0, 2)), (d, k * d))
            shifted = xp.squeeze(
                xp.matmul(shifted_means[:, None, :], prec_chol), axis=1
            )
        # The last row subtracts (mu_k - c) U_k inside the product.
        factor = xp.concat([factor, -xp.reshape(shifted, (1, k * d))], axis=0)
        width = k * d
    else:
        precisions = prec_chol**2
        if not family.per_feature:
            precisions = xp.broadcast_to(precisions[:, None], (k, d))
        linear = xp.matrix_transpose(shifted_means * precisions)  # (D, K)
        square = xp.matrix_transpose(precisions)
        offset = xp.sum(shifted_means * shifted_means * precisions, axis=1)
        width = 2 * d
    parts = []
    for start, stop in _blocks(n_samples, width):
        rows = X[start:stop, ...] - centre
        if family.matrix:
            ones = xp.ones((stop - start, 1), dtype=X.dtype, device=device_of(X))
            y = xp.concat([rows, ones], axis=1) @ factor
            y = y * y
            quad = xp.sum(xp.reshape(y, (stop - start, k, d)), axis=2)
        else:
            quad = (rows * rows) @ square - 2.0 * (rows @ linear) + offset
            quad = xp.maximum(quad, xp.zeros_like(quad))
        parts.append(quad)
    quad = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    return constant - 0.5 * quad + log_det + xp.log(params.weights)


def log_prob_norm_resp(
    xp: Any, X: Any, params: XPParams, family: CovarianceFamily
) -> tuple[Any, Any]:
    """``log p(x)`` and the log-responsibilities (a stable log-sum-exp)."""
    weighted = weighted_log_prob(xp, X, params, family)
    top = xp.max(weighted, axis=1, keepdims=True)
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    norm = xp.log(xp.sum(xp.exp(weighted - top), axis=1, keepdims=True)) + top
    return xp.squeeze(norm, axis=1), weighted - norm


def mean_log_likelihood(xp: Any, log_norm: Any, sample_weight: Any | None) -> float:
    """The (weighted) mean of ``log p(x)`` as a Python float."""
    if sample_weight is None:
        return float(xp.mean(log_norm))
    return float(xp.sum(log_norm * sample_weight) / xp.sum(sample_weight))


# ----------------------------------------------------------------- M-step
def estimate_parameters(
    xp: Any,
    X: Any,
    resp: Any,
    reg_covar: float,
    family: CovarianceFamily,
    sample_weight: Any | None = None,
) -> XPParams:
    """The M-step: weights, means, covariances and precision factors from ``resp``.

    scikit-learn's estimators (``nk + 10 eps`` as the divisor, ``reg_covar`` on
    the diagonal), from moments of the rows centred on their weighted mean,
    each row's responsibilities multiplied by its weight.
    """
    n_samples, d = X.shape
    if sample_weight is not None:
        resp = resp * sample_weight[:, None]
    nk = xp.sum(resp, axis=0) + 10 * xp.finfo(resp.dtype).eps
    if X.dtype != xp.float64:
        return _estimate_from_differences(xp, X, resp, nk, reg_covar, family)
    # float64: moments of the rows centred on the data's weighted mean c, then
    # S_k / n_k - (mu_k - c)(mu_k - c)^T: products only, no n x K x D diffs.
    centre = xp.sum(xp.matrix_transpose(resp) @ X, axis=0) / xp.sum(nk)
    k = resp.shape[1]
    first = xp.zeros((k, d), dtype=X.dtype, device=device_of(X))
    if family.matrix:
        second = xp.zeros((k, d, d), dtype=X.dtype, device=device_of(X))
    else:
        second = xp.zeros((k, d), dtype=X.dtype, device=device_of(X))
    for start, stop in _blocks(n_samples, k * d):
        rows = X[start:stop, ...] - centre
        r = resp[start:stop, ...]
        first = first + xp.matrix_transpose(r) @ rows
        if family.matrix:
            weighted = xp.matrix_transpose(r)[:, :, None] * rows[None, :, :]
            second = second + xp.matmul(xp.matrix_transpose(weighted), rows)
        else:
            second = second + xp.matrix_transpose(r) @ (rows * rows)
    shift = first / nk[:, None]  # mu_k - c
    means = shift + centre
    if family.matrix:
        eye = _eye(xp, d, X)
        outer = shift[:, :, None] * shift[:, None, :]
        if family.shared:
            scatter = xp.sum(second - nk[:, None, None] * outer, axis=0)
            covariances = scatter / xp.sum(nk) + reg_covar * eye
        else:
            covariances = second / nk[:, None, None] - outer + reg_covar * eye
    else:
        covariances = second / nk[:, None] - shift * shift + reg_covar
        if not family.per_feature:
            covariances = xp.mean(covariances, axis=1)
    weights = nk / xp.sum(nk)
    return XPParams(
        weights, means, covariances, precisions_cholesky(xp, covariances, family)
    )


def _estimate_from_differences(
    xp: Any, X: Any, resp: Any, nk: Any, reg_covar: float, family: CovarianceFamily
) -> XPParams:
    """The M-step from differences to each mean (float32: no cancellation).

    Expanded moments lose ``reg_covar`` to rounding in float32 when a component
    starts from one row (k-means++, random_from_data); differences keep it.
    """
    n_samples, d = X.shape
    means = (xp.matrix_transpose(resp) @ X) / nk[:, None]
    k = means.shape[0]
    if family.matrix:
        scatter = xp.zeros((k, d, d), dtype=X.dtype, device=device_of(X))
    else:
        scatter = xp.zeros((k, d), dtype=X.dtype, device=device_of(X))
    for start, stop in _blocks(n_samples, k * d):
        diff = X[start:stop, None, :] - means[None, :, :]  # (n, K, D)
        weighted = diff * resp[start:stop, :, None]
        if family.matrix:
            scatter = scatter + xp.matmul(
                xp.permute_dims(weighted, (1, 2, 0)), xp.permute_dims(diff, (1, 0, 2))
            )
        else:
            scatter = scatter + xp.sum(weighted * diff, axis=0)
    if family.matrix:
        eye = _eye(xp, d, X)
        if family.shared:
            covariances = xp.sum(scatter, axis=0) / xp.sum(nk) + reg_covar * eye
        else:
            covariances = scatter / nk[:, None, None] + reg_covar * eye
    else:
        covariances = scatter / nk[:, None] + reg_covar
        if not family.per_feature:
            covariances = xp.mean(covariances, axis=1)
    weights = nk / xp.sum(nk)
    return XPParams(
        weights, means, covariances, precisions_cholesky(xp, covariances, family)
    )


# --------------------------------------------------------- initialisation
def _host_to(xp: Any, values: Any, like: Any, dtype: Any = None) -> Any:
    return xp.asarray(
        values, dtype=like.dtype if dtype is None else dtype, device=device_of(like)
    )


def widest_float(xp: Any, like: Any) -> Any:
    """float64 where the device of ``like`` has it, else float32.

    The dtype of k-means++'s cumulative sums, and of the array API estimator's
    data and parameters.
    """
    try:
        dtypes = xp.__array_namespace_info__().dtypes(
            kind="real floating", device=device_of(like)
        )
    except Exception:  # a namespace without the inspection API
        return xp.float64
    return xp.float64 if "float64" in dtypes else xp.float32


def _squared_distances(xp: Any, X: Any, x_sq: Any, centres: Any) -> Any:
    """``||x - c||^2`` of every row and centre, ``(n_centres, n_samples)``, >= 0."""
    c_sq = xp.sum(centres * centres, axis=1)
    dist = c_sq[:, None] - 2.0 * (centres @ xp.matrix_transpose(X)) + x_sq[None, :]
    return xp.maximum(dist, xp.zeros_like(dist))


def kmeans_plusplus_indices(
    xp: Any,
    X: Any,
    n_clusters: int,
    random_state: np.random.RandomState,
    sample_weight: Any | None = None,
) -> list[int]:
    """The rows chosen by scikit-learn's ``kmeans_plusplus``, computed in ``xp``.

    The same draws from ``random_state`` in the same order (the first row by
    ``choice`` with probabilities proportional to the weights, then
    ``2 + log(k)`` candidates per centre by inverse-CDF sampling of the
    weighted squared distances), so that on the same data the same rows are
    chosen up to rounding ties.
    """
    n_samples = X.shape[0]
    acc = widest_float(xp, X)
    w = (
        xp.ones(n_samples, dtype=X.dtype, device=device_of(X))
        if sample_weight is None
        else sample_weight
    )
    n_local_trials = 2 + int(np.log(n_clusters))
    x_sq = xp.sum(X * X, axis=1)
    # numpy's choice(n, p=p): one uniform, searched in the normalised CDF.
    cdf = xp.cumulative_sum(xp.astype(w, acc) / xp.astype(xp.sum(w), acc))
    cdf = cdf / cdf[-1]
    u = _host_to(xp, [random_state.random_sample()], cdf, acc)
    first = int(xp.searchsorted(cdf, u, side="right")[0])
    indices = [first]
    closest = _squared_distances(xp, X, x_sq, X[first : first + 1, :])[0, :]
    current_pot = float(xp.sum(closest * w))
    for _ in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        cumulative = xp.cumulative_sum(xp.astype(w * closest, acc))
        candidates = xp.searchsorted(cumulative, _host_to(xp, rand_vals, cumulative))
        candidates = xp.clip(candidates, max=n_samples - 1)
        dist = _squared_distances(xp, X, x_sq, xp.take(X, candidates, axis=0))
        dist = xp.minimum(closest[None, :], dist)
        pots = xp.sum(dist * w[None, :], axis=1)
        best = int(xp.argmin(pots))
        current_pot = float(pots[best])
        closest = dist[best, :]
        indices.append(int(candidates[best]))
    return indices


def kmeans_labels(
    xp: Any,
    X: Any,
    n_clusters: int,
    random_state: np.random.RandomState,
    sample_weight: Any | None = None,
) -> Any:
    """Labels of Lloyd's k-means from k-means++ seeds, computed in ``xp``.

    scikit-learn's ``KMeans(n_init=1)`` as ``init_params='kmeans'`` runs it: the
    same seeds, at most :data:`KMEANS_MAX_ITER` iterations, stopping when the
    labels repeat or the centres move (squared, summed) by at most
    ``KMEANS_TOL`` times the mean variance of the features; an empty cluster
    takes the row farthest from its centre. Returns integer labels on the
    data's device.
    """
    n_samples = X.shape[0]
    # KMeans centres the data first; distances are unchanged, rounding less.
    Xc = X - xp.mean(X, axis=0)
    indices = kmeans_plusplus_indices(xp, Xc, n_clusters, random_state, sample_weight)
    tol = float(xp.mean(xp.var(Xc, axis=0))) * KMEANS_TOL
    w = (
        xp.ones(n_samples, dtype=X.dtype, device=device_of(X))
        if sample_weight is None
        else sample_weight
    )
    x_sq = xp.sum(Xc * Xc, axis=1)
    centres = xp.take(Xc, _host_to(xp, indices, X, xp.int64), axis=0)
    components = xp.arange(n_clusters, device=device_of(X))
    previous = None
    strict = False
    for _ in range(KMEANS_MAX_ITER):
        dist = _squared_distances(xp, Xc, x_sq, centres)  # (K, n)
        labels = xp.argmin(dist, axis=0)
        one_hot = xp.astype(labels[:, None] == components[None, :], X.dtype)
        weighted = one_hot * w[:, None]
        counts = xp.sum(weighted, axis=0)
        new = (xp.matrix_transpose(weighted) @ Xc) / xp.where(
            counts > 0, counts, xp.ones_like(counts)
        )[:, None]
        empty = counts <= 0
        if bool(xp.any(empty)):
            own = xp.min(dist, axis=0)
            order = xp.argsort(own, descending=True)
            for j, cluster in enumerate(np.flatnonzero(_to_host_bool(xp, empty))):
                row = int(order[j])
                new = xp.where(
                    (components == int(cluster))[:, None], Xc[row : row + 1, :], new
                )
        shift = float(xp.sum((new - centres) ** 2))
        centres = new
        if previous is not None and bool(xp.all(labels == previous)):
            strict = True
            break
        if shift <= tol:
            break
        previous = labels
    if not strict:
        labels = xp.argmin(_squared_distances(xp, Xc, x_sq, centres), axis=0)
    return labels


def _to_host_bool(xp: Any, mask: Any) -> Any:
    """A small boolean array (``n_components`` values) on the host."""
    return np.asarray([bool(mask[i]) for i in range(mask.shape[0])])


def initial_resp(
    xp: Any,
    X: Any,
    n_components: int,
    method: str,
    random_state: np.random.RandomState,
    sample_weight: Any | None = None,
    host_weights: Any | None = None,
) -> Any:
    """Initial responsibilities ``(n_samples, n_components)`` on the data's device.

    ``random`` draws scikit-learn's uniforms on the host; ``random_from_data``
    chooses rows as the NumPy engine does (with ``host_weights``, the sample
    weights on the host, as probabilities); ``k-means++`` and ``kmeans`` run
    in ``xp`` (:func:`kmeans_plusplus_indices`, :func:`kmeans_labels`).
    """
    n_samples = X.shape[0]
    components = xp.arange(n_components, device=device_of(X))
    if method == "random":
        resp = _host_to(xp, random_state.uniform(size=(n_samples, n_components)), X)
        return resp / xp.sum(resp, axis=1, keepdims=True)
    if method == "kmeans":
        labels = kmeans_labels(xp, X, n_components, random_state, sample_weight)
        return xp.astype(labels[:, None] == components[None, :], X.dtype)
    indices: Any
    if method == "k-means++":
        indices = kmeans_plusplus_indices(
            xp, X, n_components, random_state, sample_weight
        )
    elif method == "random_from_data":
        indices = random_from_data_indices(
            n_samples, n_components, random_state, host_weights
        )
    else:
        raise ValueError(f"init_params={method!r} has no array API start.")
    rows = _host_to(xp, np.asarray(indices), X, xp.int64)
    row_ids = xp.arange(n_samples, device=device_of(X))
    return xp.astype(row_ids[:, None] == rows[None, :], X.dtype)
