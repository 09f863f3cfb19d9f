"""Model-based agglomerative hierarchical clustering, as R's mclust ``hc``.

``Mclust`` starts EM from a cut of a hierarchical tree: every point starts as its
own cluster and the pair whose merge costs the least classification likelihood
is merged, until one cluster is left (Fraley 1998, "Algorithms for model-based
Gaussian hierarchical clustering", SIAM J. Sci. Comput. 20(1)). This module
reproduces mclust 6's ``hc(data, modelName, use)``, ``hclass(hcPairs, G)`` and the
one-feature ``qclass``, so that ``GaussianMixture(init_params="hc")`` starts
from the partition ``Mclust`` starts from. ``docs/hc-init.md`` describes the
method, its cost and the differences from mclust.

Merge costs (``d(i, j)``, smaller merges first):

* ``"EII"``: Ward's criterion ``n_i n_j / (n_i + n_j) ||m_i - m_j||^2``, updated
  after each merge by the Lance-Williams formula, as mclust's ``hceii``.
* ``"VVV"``: ``t(i u j) - t(i) - t(j)`` with the cluster term
  ``t = n log(det(W / n) + beta (tr W + alpha) / n)`` (``W`` the scatter matrix,
  ``n`` the size; the determinant is 0 while ``n <= p``), ``alpha`` = ``alpha``
  times the mean per-feature variance of the data, as mclust's ``hcvvv``.
  mclust 6 keeps only the first row of each stored cluster's triangular factor
  (see :class:`_VVV`), so for clusters of more than ``p + 1`` points its ``W``
  is not the scatter matrix; this module reproduces that, because the aim is
  mclust's partition.

The order of merges follows mclust exactly, ties included: clusters live in
numbered slots (the merged cluster takes the lower slot of the pair, the last
slot moves into the freed one) and among equal costs the pair that comes last
in mclust's packed order (by upper slot, then lower slot) wins. Traces, the
between-cluster vectors and the costs of clusters with at most ``p`` points use
mclust's own operations and rounding order; determinants use a Cholesky
factorisation where mclust uses Givens rotations (last-bit differences).

The merge loop runs compiled (:mod:`gaussmix.core._compiled_hc`, numba) when
numba can be imported, unless ``GAUSSMIX_NO_COMPILED=1`` (or
:data:`USE_COMPILED` set to False): about 8 times faster than NumPy's loop here
and with half its memory (a packed triangle of pair costs instead of an
``N x N`` matrix). It repeats the NumPy loop's arithmetic operation by
operation (the Cholesky factorisation is written out here rather than taken
from LAPACK for that reason), so both give the same costs to the last bit and
the same merges, ties included; that module's docstring states the one
platform caveat.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gaussmix._typing import FloatArray, IntArray
from gaussmix.core import kernels

__all__ = [
    "HC_MODELS",
    "HC_TRANSFORMS",
    "SUBSET_SIZE",
    "HCTree",
    "hc",
    "hc_transform",
    "hclass",
    "mclust_initial_labels",
    "qclass",
]

#: Criteria implemented (mclust's ``modelName`` of ``hc``).
HC_MODELS: Final = ("VVV", "EII")
#: Data transformations before the tree is built (mclust's ``use``).
HC_TRANSFORMS: Final = ("VARS", "STD", "PCR", "PCS", "SPH", "SVD")
#: ``mclust.options("subset")``: above this many rows the tree is built on a random
#: subset of this many rows.
SUBSET_SIZE: Final = 2000
#: Trees kept by :func:`_full_tree` (a selection grid asks for the same tree
#: once per number of components and model: it is built once).
TREE_CACHE_SIZE: Final = 4
_TREES: OrderedDict[tuple[str, str], HCTree] = OrderedDict()
_TREES_LOCK = threading.Lock()
#: Cuts of cached trees, by (digest, model, n_clusters): a grid of 14 models cuts
#: the same tree at the same G 14 times (``hclass`` is a Python loop over merges).
_CUTS: OrderedDict[tuple[str, str, int], IntArray] = OrderedDict()
CUT_CACHE_SIZE: Final = 64

#: Whether the merges run compiled (``gaussmix.core._compiled_hc``) when numba
#: is installed; ``GAUSSMIX_NO_COMPILED=1`` in the environment (or setting this
#: to False) forces the NumPy path. Both give the same merges (see that module).
USE_COMPILED: bool = os.environ.get("GAUSSMIX_NO_COMPILED", "").strip() in ("", "0")

_FLMAX: Final = float(np.finfo(np.float64).max)
_EPS: Final = float(np.finfo(np.float64).eps)
_RTHALF: Final = 0.7071067811865476  # mclust's constant, equal to sqrt(0.5)
_BLOCK_CELLS: Final = 1 << 19  # temporaries of the initial cost matrix, in doubles

#: The cost rows of the two merged slots, ``(D[i], D[j])``.
Rows = tuple[FloatArray, FloatArray]
Merger = Callable[[int, int, int, float, Rows], FloatArray]


@dataclass(frozen=True, slots=True)
class HCTree:
    """A merge sequence, the equivalent of mclust's ``hcPairs``.

    Parameters
    ----------
    merges : ndarray of shape (n_merges, 2)
        Merge ``k`` joins the clusters labelled ``merges[k, 0] < merges[k, 1]``;
        the result keeps the smaller label. A cluster's label is the smallest
        row index in it (mclust's ``t(hcPairs) - 1``).
    n_samples : int
        Number of rows clustered (each starts as its own cluster).
    model : str
        Criterion, one of ``HC_MODELS``.
    use : str
        Transformation, one of ``HC_TRANSFORMS``.
    """

    merges: IntArray
    n_samples: int
    model: str
    use: str


# --------------------------------------------------------------------------- data


def _as_data(X: npt.ArrayLike, name: str = "X") -> FloatArray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features).")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must have at least 2 rows and 1 column; got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; remove them first.")
    return arr


def _first_appearance(labels: npt.ArrayLike) -> IntArray:
    """Relabel to ``0, 1, ...`` in order of first appearance (mclust's ``partconv``)."""
    arr = np.asarray(labels).ravel()
    _, first, inverse = np.unique(arr, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return np.asarray(rank[inverse.ravel()], dtype=np.intp)


def _standardise(X: FloatArray) -> FloatArray:
    """R's ``scale(X)`` followed by dropping non-finite columns (constant ones)."""
    centred = X - X.mean(axis=0)
    sd = np.sqrt(np.sum(centred * centred, axis=0) / max(1, X.shape[0] - 1))
    keep = sd > 0
    return np.asarray(centred[:, keep] / sd[keep])


def _right_singular(
    A: FloatArray, drop_null: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Singular values and right singular vectors (null directions dropped or not)."""
    _, d, vt = np.linalg.svd(A, full_matrices=False)
    if not drop_null:
        return np.asarray(d), np.asarray(vt.T)
    keep = d > (d[0] if d.size else 0.0) * max(A.shape) * _EPS
    if not np.any(keep):
        raise ValueError(
            "the data have no variation; hierarchical clustering needs it."
        )
    return np.asarray(d[keep]), np.asarray(vt[keep].T)


def hc_transform(X: npt.ArrayLike, use: str = "SVD") -> FloatArray:
    """The data ``hc`` builds its tree on (mclust's ``use`` argument).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data.
    use : {"VARS", "STD", "PCR", "PCS", "SPH", "SVD"}, default="SVD"
        ``"VARS"`` the data as they are; ``"STD"`` centred and divided by the
        standard deviations (``n - 1``); ``"PCR"`` standardised, then rotated to
        principal components; ``"PCS"`` centred and rotated to principal
        components; ``"SPH"`` centred and sphered (covariance with ``n`` the
        identity); ``"SVD"`` (mclust's default for ``Mclust``) standardised
        ``Xs = U D V'``, then ``Xs V D^(-1/2) = U D^(1/2)``.

    Returns
    -------
    ndarray of shape (n_samples, n_columns)
        Transformed data. Constant columns are dropped (as mclust does), and so
        are null directions of the SVD (where mclust divides by a zero or
        rounding-level singular value).
    """
    X = _as_data(X)
    key = str(use).upper()
    if key not in HC_TRANSFORMS:
        options = ", ".join(repr(u) for u in HC_TRANSFORMS)
        raise ValueError(f"use must be one of {options}; got {use!r}.")
    if key == "VARS":
        return X.copy()
    n = X.shape[0]
    if key == "PCS":
        centred = X - X.mean(axis=0)
        _, v = _right_singular(centred)
        return np.asarray(centred @ v)
    if key == "SPH":
        centred = X - X.mean(axis=0)
        sigma = centred.T @ centred / n
        d, v = _right_singular(sigma, drop_null=True)
        return np.asarray(centred @ v / np.sqrt(d))
    Xs = _standardise(X)
    if Xs.shape[1] == 0:
        raise ValueError(
            "every column of X is constant; hierarchical clustering needs variation."
        )
    if key == "STD":
        return Xs
    if key == "PCR":
        return np.asarray(Xs @ _right_singular(Xs)[1])
    d, v = _right_singular(Xs, drop_null=True)
    return np.asarray((Xs @ v) / np.sqrt(d))


# ------------------------------------------------------------------ merge engine


def _sumsq_rows(V: FloatArray) -> FloatArray:
    """``sum_k V[..., k]**2`` added left to right (reference BLAS ``ddot`` order)."""
    out = V[..., 0] * V[..., 0]
    for k in range(1, V.shape[-1]):
        out = out + V[..., k] * V[..., k]
    return np.asarray(out)


def _row_blocks(g: int, cells_per_row: int, start: int = 0) -> list[IntArray]:
    """Consecutive row indices ``start .. g - 1`` in blocks of bounded size."""
    step = max(1, min(g, _BLOCK_CELLS // max(1, cells_per_row)))
    return [np.arange(a, min(g, a + step)) for a in range(start, g, step)]


def _lower_minima(D: FloatArray, rows: IntArray) -> tuple[FloatArray, IntArray]:
    """For each row ``j``: min of ``D[j, :j]`` and the last column attaining it."""
    if rows.size == 0:
        return np.empty(0), np.empty(0, dtype=np.intp)
    width = int(rows.max())
    sub = D[rows, :width]
    sub = np.where(np.arange(width)[None, :] < rows[:, None], sub, np.inf)
    last = width - 1 - np.argmin(sub[:, ::-1], axis=1)
    return np.asarray(sub[np.arange(rows.size), last]), np.asarray(last, np.intp)


def _agglomerate(
    D: FloatArray, n_merges: int, merge: Merger
) -> tuple[IntArray, FloatArray]:
    """Greedy merges in mclust's order; returns the label pairs and their costs.

    ``D`` (modified in place) holds the cost of every pair of slots. After each
    merge of slots ``i < j``, ``merge(i, j, last, cost, (D[i], D[j]))`` updates
    the caller's per-slot state (merged cluster into slot ``i``, the cluster of
    slot ``last`` into slot ``j``) and returns the merged cluster's costs
    against the remaining slots.
    """
    g = D.shape[0]
    np.fill_diagonal(D, np.inf)
    labels = np.arange(g)
    colmin = np.full(g, np.inf)
    colarg = np.zeros(g, dtype=np.intp)
    for rows in _row_blocks(g, g, start=1):
        colmin[rows], colarg[rows] = _lower_minima(D, rows)
    merges = np.empty((n_merges, 2), dtype=np.intp)
    dopts = np.empty(n_merges)
    lg = g
    for step in range(n_merges):
        # The last minimum in packed order: largest upper slot, then largest lower.
        jopt = lg - 1 - int(np.argmin(colmin[lg - 1 : 0 : -1]))
        iopt = int(colarg[jopt])
        dopt = float(colmin[jopt])
        li, lj = int(labels[iopt]), int(labels[jopt])
        merges[step] = (min(li, lj), max(li, lj))
        dopts[step] = dopt
        last = lg - 1
        costs = merge(
            iopt, jopt, last, dopt, (D[iopt, :lg].copy(), D[jopt, :lg].copy())
        )
        moved = jopt != last
        if moved:
            D[jopt, :lg] = D[last, :lg]
            D[:lg, jopt] = D[:lg, last]
            D[jopt, jopt] = np.inf
            labels[jopt] = labels[last]
        labels[iopt] = min(li, lj)
        lg -= 1
        D[iopt, :lg] = costs
        D[:lg, iopt] = costs
        D[iopt, iopt] = np.inf
        D[last, :] = np.inf
        D[:, last] = np.inf
        # Column minima: rows whose entries changed.
        full = [r for r in (iopt, jopt) if 1 <= r < lg]
        others = np.arange(iopt + 1, lg)
        if moved:
            others = others[others != jopt]
        if others.size:
            ca = colarg[others]
            redo = ca == iopt
            if moved:
                redo |= (ca == jopt) & (others > jopt)
            full.extend(int(r) for r in others[redo])
            keep = others[~redo]
            cm = colmin[keep]
            ca = colarg[keep]
            for r, mask in ((iopt, np.ones(keep.size, bool)), (jopt, keep > jopt)):
                if r == jopt and not moved:
                    continue
                val = D[keep, r]
                better = mask & ((val < cm) | ((val == cm) & (r > ca)))
                cm = np.where(better, val, cm)
                ca = np.where(better, r, ca)
            colmin[keep] = cm
            colarg[keep] = ca
        if full:
            rows = np.asarray(sorted(set(full)), dtype=np.intp)
            colmin[rows], colarg[rows] = _lower_minima(D, rows)
        colmin[lg:] = np.inf
    return merges, dopts


# ----------------------------------------------------------------------- criteria


def _trace_w(Z: FloatArray) -> float:
    """The ``traceW(Z / sqrt(n p))`` of mclust (``mcltrw``), in its summation order."""
    n, p = Z.shape
    y = Z / math.sqrt(n * p)
    fac = 1.0 / math.sqrt(n)
    u = np.cumsum(fac * y, axis=0)[-1]
    y = y + (-fac) * u
    col = np.cumsum(y * y, axis=0)[-1]
    total = 0.0
    for value in col:
        total = total + float(value)
    return total


def _rotate(f: FloatArray, x: FloatArray) -> FloatArray:
    """First row of a triangular factor after a Givens update with row ``x``.

    BLAS ``drotg`` on ``(f[0], x[0])`` then ``drot`` on the rest of the rows, as
    mclust's ``mclrup`` does to the first row.
    """
    a, b = float(f[0]), float(x[0])
    if b == 0.0:
        return f.copy()
    if a == 0.0:
        return x.copy()
    scale = max(abs(a), abs(b))
    sigma = math.copysign(1.0, a if abs(a) > abs(b) else b)
    sa, sb = a / scale, b / scale  # squared as x * x, as gfortran compiles x**2
    r = sigma * (scale * math.sqrt(sa * sa + sb * sb))
    out = (a / r) * f + (b / r) * x
    out[0] = r
    return np.asarray(out)


class _VVV:
    """Slot state and costs of mclust's ``hcvvv`` criterion.

    mclust keeps each cluster's scatter as a triangular factor ``R`` (``R'R``
    the scatter). The factor of the cluster formed last is exact in memory
    (``G`` below), but mclust 6 stores ``min(n - 1, p)`` copies of its *first
    row* ``f`` (row ``k`` read from column ``k``), so a stored cluster enters
    later merges with the Gram matrix ``H = sum_k t_k t_k'`` of those rows,
    ``t_k = f`` with entries before ``k`` zeroed. The merge costs use
    ``G_new = G_last + H_other + v v'`` (pairs with the cluster formed last) or
    ``H_i + H_j + v v'`` (other pairs); the traces are exact. This reproduces
    mclust's merge order; the criterion differs from the textbook one once a
    cluster has more than ``p + 1`` points.
    """

    def __init__(self, Z: FloatArray, alpha: float, beta: float) -> None:
        n, p = Z.shape
        self.p = p
        self.beta = beta
        self.alpha = max(alpha * _trace_w(Z), _EPS)
        self.ablog = math.log(self.beta * self.alpha)
        self.size = np.ones(n)
        self.xs = Z.copy()  # sqrt(size) * mean, as mclust keeps it
        self.tr = np.zeros(n)
        self.term = np.full(n, self.ablog)
        self.first = np.zeros((n, p))  # first row of each stored factor
        self.H = np.zeros((n, p, p))  # Gram of each stored factor
        self.iold = -1  # slot of the cluster formed last
        self.G_last = np.zeros((p, p))  # its exact (in-memory) Gram
        self.row_terms: FloatArray = np.empty(0)
        self.row_tr: FloatArray = np.empty(0)

    def _terms(self, n: FloatArray, tr: FloatArray, W: FloatArray | None) -> FloatArray:
        """Cluster terms ``n log(det(W / n) + beta (tr + alpha) / n)`` (``vvvtij``)."""
        t = self.beta * (tr + self.alpha) / n
        out = n * np.log(t)
        big = np.flatnonzero((n > self.p) & (tr != 0.0))
        zero = (n > self.p) & (tr == 0.0)
        if np.any(zero):
            out[zero] = n[zero] * np.log(self.alpha * self.beta / n[zero])
        if big.size and W is not None:
            Wb = W if big.size == n.size else W[big]
            detlog = self._det2(Wb, np.sqrt(1.0 / n[big]))
            tb = t[big]
            with np.errstate(over="ignore", under="ignore"):
                low = np.log(np.exp(detlog) + tb)
                high = np.log(1.0 + np.exp(-np.maximum(detlog, 0.0)) * tb) + detlog
            val = np.where(detlog <= 0.0, low, high)
            val = np.where(detlog == -_FLMAX, np.log(tb), val)
            out[big] = n[big] * val
        return np.asarray(out)

    def _det2(self, W: FloatArray, s: FloatArray) -> FloatArray:
        """``2 sum_k log|r_kk s|`` for ``W = R'R`` (``det2mc``); -FLMAX if singular.

        An unpivoted Cholesky factorisation written out (not LAPACK's, whose
        summation order depends on the BLAS build), so that the compiled path
        (:mod:`gaussmix.core._compiled_hc`) repeats it to the last bit.
        """
        p = self.p
        A = W.copy()
        total = np.zeros(A.shape[0])
        singular = np.zeros(A.shape[0], dtype=bool)
        for k in range(p):
            piv = A[:, k, k]
            bad = ~(piv > 0.0)
            singular |= bad
            r = np.sqrt(np.where(bad, 1.0, piv))
            q = r * s
            singular |= q == 0.0
            total = total + np.log(np.where(q > 0.0, q, 1.0))
            if k + 1 < p:
                col = A[:, k + 1 :, k] / r[:, None]
                A[:, k + 1 :, k + 1 :] -= col[:, :, None] * col[:, None, :]
        return np.where(singular, -_FLMAX, 2.0 * total)

    def _stored_gram(self, f: FloatArray, n: float) -> FloatArray:
        """Gram of ``min(n - 1, p)`` stored copies of the first row ``f``."""
        idx = np.arange(self.p)
        count = np.minimum(np.minimum.outer(idx, idx) + 1, min(int(n) - 1, self.p))
        return np.asarray(np.outer(f, f) * count)

    def initial_costs(self) -> FloatArray:
        g = self.size.size
        D = np.empty((g, g))
        twice = self.ablog + self.ablog
        for rows in _row_blocks(g, g * self.p):
            diff = (self.xs[rows, None, :] - self.xs[None, :, :]) * _RTHALF
            tr = _sumsq_rows(diff)
            D[rows] = 2.0 * np.log(self.beta * (tr + self.alpha) / 2.0) - twice
        return D

    def _between(self, i: int, others: IntArray) -> tuple[FloatArray, FloatArray]:
        """Between-cluster vectors ``v`` (as mclust forms them) and merged sizes."""
        ni = self.size[i]
        nk = self.size[others]
        n = ni + nk
        q = 1.0 / n
        v = (
            np.sqrt(ni * q)[:, None] * self.xs[others]
            - np.sqrt(nk * q)[:, None] * (self.xs[i][None, :])
        )
        both = (nk == 1.0) & (ni == 1.0)
        if np.any(both):
            v[both] = (self.xs[others[both]] - self.xs[i]) * _RTHALF
        return np.asarray(v), np.asarray(n)

    def merge(self, i: int, j: int, last: int, dopt: float, rows: Rows) -> FloatArray:
        ni, nj = float(self.size[i]), float(self.size[j])
        v2, n2 = self._between(i, np.array([j]))
        v, n = v2[0], float(n2[0])
        if self.iold in (i, j):
            # Chosen among the pairs of the cluster formed last (exact factor).
            other = j if self.iold == i else i
            tr = float(self.row_tr[other])
            term = float(self.row_terms[other])
            G = self.G_last + self.H[other] + np.outer(v, v)
            f = self.first[self.iold]
            if self.size[other] > 1.0:
                f = _rotate(f, self.first[other])
            f = _rotate(f, v)
        else:
            tr = (float(self.tr[i]) + float(self.tr[j])) + float(_sumsq_rows(v2)[0])
            if self.iold < 0:  # first merge: two singletons, the scan's term
                term = float(2.0 * np.log(self.beta * (tr + self.alpha) / 2.0))
            else:
                term = dopt + (float(self.term[i]) + float(self.term[j]))
            G = self.H[i] + self.H[j] + np.outer(v, v)
            if ni > 1.0 and nj > 1.0:
                f = _rotate(_rotate(self.first[j], self.first[i]), v)
            elif ni > 1.0:
                f = _rotate(self.first[i], v)
            elif nj > 1.0:
                f = _rotate(self.first[j], v)
            else:
                f = v.copy()
        q = 1.0 / n
        xs = math.sqrt(ni * q) * self.xs[i] + math.sqrt(nj * q) * self.xs[j]
        if j != last:
            for arr in (self.size, self.xs, self.tr, self.term, self.first, self.H):
                arr[j] = arr[last]
        self.size[i], self.xs[i], self.tr[i], self.term[i] = n, xs, tr, term
        self.first[i] = f
        self.H[i] = self._stored_gram(f, n)
        self.iold = i
        self.G_last = G
        # Costs of the new cluster against every slot (its own entry is unused).
        nk = self.size[:last]
        n_all = n + nk
        q_all = 1.0 / n_all
        v_all = (
            np.sqrt(n * q_all)[:, None] * self.xs[:last]
            - np.sqrt(nk * q_all)[:, None] * xs[None, :]
        )
        tr_all = (tr + self.tr[:last]) + _sumsq_rows(v_all)
        W: FloatArray | None = None
        if np.any(n_all > self.p):
            W = G + self.H[:last] + v_all[:, :, None] * v_all[:, None, :]
            W[i] = np.eye(self.p)
        terms = self._terms(n_all, tr_all, W)
        self.row_terms, self.row_tr = terms, np.asarray(tr_all)
        costs = terms - (term + self.term[:last])
        costs[i] = np.inf
        return np.asarray(costs)


class _EII:
    """Slot state and costs of mclust's ``hceii`` (Ward) criterion."""

    def __init__(self, Z: FloatArray) -> None:
        self.size = np.ones(Z.shape[0])
        self.xs = Z.copy()

    def initial_costs(self) -> FloatArray:
        g = self.size.size
        D = np.empty((g, g))
        for rows in _row_blocks(g, g * self.xs.shape[1]):
            ni = self.size[rows, None]
            nj = self.size[None, :]
            nij = ni + nj
            si = np.sqrt(ni / nij)[:, :, None]
            sj = np.sqrt(nj / nij)[:, :, None]
            v = sj * self.xs[rows, None, :] - si * self.xs[None, :, :]
            D[rows] = _sumsq_rows(v)
        return D

    def merge(self, i: int, j: int, last: int, dopt: float, rows: Rows) -> FloatArray:
        row_i, row_j = rows
        si, sj = self.size[i], self.size[j]
        sij = si + sj
        if j != last:
            self.size[j] = self.size[last]
            row_i[j], row_j[j] = row_i[last], row_j[last]
        self.size[i] = sij
        rk = self.size[:last]
        with np.errstate(invalid="ignore"):
            costs = (rk + si) * row_i[:last] + (rk + sj) * row_j[:last]
            costs = (costs - rk * dopt) / (rk + sij)
        costs[i] = np.inf
        return np.asarray(costs)


def _import_tree() -> SimpleNamespace:
    from gaussmix.core._compiled_hc import MODEL_EII, MODEL_VVV, OK, tree

    return SimpleNamespace(EII=MODEL_EII, OK=OK, VVV=MODEL_VVV, tree=tree)


#: The compiled module's names once imported (see :func:`_compiled_module`).
_compiled_hc: Final = kernels.LazyKernels(_import_tree)


def _compiled_module() -> Any:
    """:mod:`gaussmix.core._compiled_hc`, or None (NumPy path).

    numba is imported on first use only (it takes a fraction of a second), and
    a missing or broken numba leaves the NumPy path.
    """
    return _compiled_hc.get(USE_COMPILED)


def _merge_sequence(
    Z: FloatArray,
    model: str,
    n_merges: int,
    alpha: float = 1.0,
    beta: float = 1.0,
    compiled: bool | None = None,
) -> tuple[IntArray, FloatArray]:
    """The merges of ``hc`` on transformed data ``Z`` and their costs.

    ``compiled`` None runs the compiled loop when it is available
    (:data:`USE_COMPILED` and numba), True requires it, False runs NumPy's.
    """
    if n_merges <= 0:
        return np.empty((0, 2), dtype=np.intp), np.empty(0)
    if compiled is None and Z.shape[0] >= kernels.HC_MIN_ROWS:
        kernels.load()  # one tree this size pays for numba's load
    module = _compiled_module() if compiled is None else None
    if compiled:
        module = _import_tree()
    if module is not None and Z.dtype == np.float64:
        code = module.VVV if model == "VVV" else module.EII
        scaled = max(alpha * _trace_w(Z), _EPS) if model == "VVV" else 1.0
        merges, costs, status = module.tree(
            np.ascontiguousarray(Z), code, float(scaled), float(beta), int(n_merges)
        )
        if status == module.OK:
            return np.asarray(merges, dtype=np.intp), np.asarray(costs)
    state: _VVV | _EII = _VVV(Z, alpha, beta) if model == "VVV" else _EII(Z)
    return _agglomerate(state.initial_costs(), n_merges, state.merge)


def hc(
    X: npt.ArrayLike,
    model: str = "VVV",
    use: str = "SVD",
    *,
    min_clusters: int = 1,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> HCTree:
    """Model-based agglomerative hierarchical clustering (mclust's ``hc``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data.
    model : {"VVV", "EII"}, default="VVV"
        Merge criterion: ``"VVV"`` (unconstrained covariances, mclust's
        ``hcModelName``) or ``"EII"`` (spherical, equal volumes: Ward's method).
    use : {"VARS", "STD", "PCR", "PCS", "SPH", "SVD"}, default="SVD"
        Transformation of the data first (see :func:`hc_transform`); ``"SVD"`` is
        mclust's ``hcUse``. Note that mclust's ``hc`` itself defaults to
        ``"VARS"``; ``Mclust`` passes ``"SVD"``.
    min_clusters : int, default=1
        Stop when this many clusters are left (mclust's ``minclus``).
    alpha, beta : float, default=1.0
        ``"VVV"`` only: mclust's regularisation terms.

    Returns
    -------
    HCTree
        The merges, in order.
    """
    if model not in HC_MODELS:
        options = ", ".join(repr(m) for m in HC_MODELS)
        raise ValueError(f"model must be one of {options}; got {model!r}.")
    X = _as_data(X)
    Z = hc_transform(X, use)
    g = Z.shape[0]
    if not 1 <= min_clusters <= g:
        raise ValueError(
            f"min_clusters must be between 1 and the number of rows ({g}); "
            f"got {min_clusters}."
        )
    if not (alpha > 0 and beta > 0 and math.isfinite(alpha) and math.isfinite(beta)):
        raise ValueError(f"alpha and beta must be positive; got {alpha}, {beta}.")
    merges = _merge_sequence(Z, model, g - min_clusters, alpha, beta)[0]
    return HCTree(merges=merges, n_samples=g, model=model, use=str(use).upper())


def hclass(tree: HCTree, n_clusters: int) -> IntArray:
    """Cut a tree at ``n_clusters`` clusters (mclust's ``hclass``).

    Parameters
    ----------
    tree : HCTree
        Result of :func:`hc`.
    n_clusters : int
        Number of clusters.

    Returns
    -------
    ndarray of shape (n_samples,)
        Labels ``0 .. n_clusters - 1`` in order of first appearance.
    """
    g = tree.n_samples
    lowest = g - tree.merges.shape[0]
    if not lowest <= n_clusters <= g:
        raise ValueError(
            f"this tree has partitions with {lowest} to {g} clusters; "
            f"got n_clusters={n_clusters}."
        )
    # Merge (a, b) relabels cluster b as a: each row's label is the end of its
    # chain of merges, found by pointer jumping (log of the chain's length
    # vectorised passes) instead of one pass over the rows per merge.
    parent = np.arange(g)
    merges = tree.merges[: g - n_clusters]
    if merges.shape[0]:
        parent[merges[:, 1]] = merges[:, 0]
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return _first_appearance(parent)


def qclass(x: npt.ArrayLike, n_clusters: int) -> IntArray:
    """Quantile classes of one feature (mclust's ``qclass``, ``Mclust``'s 1-D start).

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, 1)
        One feature.
    n_clusters : int
        Number of classes.

    Returns
    -------
    ndarray of shape (n_samples,)
        Labels ``0 .. n_clusters - 1``, increasing with ``x``.
    """
    arr = _as_data(x, "x")
    if arr.shape[1] != 1:
        raise ValueError(f"qclass needs one feature; got {arr.shape[1]}.")
    v = arr[:, 0]
    distinct = np.unique(v).size
    if not 1 <= n_clusters <= distinct:
        raise ValueError(
            f"n_clusters must be between 1 and the number of distinct values "
            f"({distinct}); got {n_clusters}."
        )
    xs = np.sort(v)
    size = xs.size
    k = n_clusters
    m = k
    q = np.empty(0)
    while q.size < k + 1:
        m += 1
        # R: seq(0, 1, length = m) and quantile(type = 7).
        probs = np.concatenate(([0.0], np.arange(1, m - 1) * (1.0 / (m - 1)), [1.0]))
        index = 1.0 + (size - 1) * probs
        lo = np.floor(index).astype(np.intp)
        hi = np.ceil(index).astype(np.intp)
        qs = xs[lo - 1]
        upper = xs[hi - 1]
        h = index - lo
        interp = (index > lo) & (upper != qs)
        qs = np.where(interp, (1.0 - h) * qs + h * upper, qs)
        q = np.asarray(list(dict.fromkeys(qs.tolist())))
    if q.size > k + 1:
        drop = np.argsort(np.diff(q), kind="stable")[: q.size - k - 1]
        q = np.delete(q, drop)
    eps = float(np.std(v, ddof=1)) * math.sqrt(_EPS)
    q[0] = xs[0] - eps
    q[-1] = xs[-1] + eps
    labels = np.full(size, -1, dtype=np.intp)
    for c in range(k):
        labels[(v >= q[c]) & (v < q[c + 1])] = c
    return labels


def _full_tree(data: FloatArray, model: str) -> HCTree:
    """``hc(data, model, "SVD")`` down to one cluster, cached by the data's bytes.

    Cutting the full tree at G gives the partition of a tree built down to G
    (the merges are greedy), so one tree serves every G of a selection grid.
    """
    return _cached_tree(_tree_key(data, model))[0]


def _tree_key(data: FloatArray, model: str) -> tuple[str, str, FloatArray]:
    digest = hashlib.blake2b(
        np.ascontiguousarray(data).tobytes() + str(data.shape).encode(),
        digest_size=16,
    ).hexdigest()
    return digest, model, data


def _cached_tree(key3: tuple[str, str, FloatArray]) -> tuple[HCTree, tuple[str, str]]:
    digest, model, data = key3
    key = (digest, model)
    with _TREES_LOCK:
        tree = _TREES.get(key)
        if tree is None:
            tree = hc(data, model, "SVD", min_clusters=1)
            _TREES[key] = tree
            while len(_TREES) > TREE_CACHE_SIZE:
                _TREES.popitem(last=False)
        else:
            _TREES.move_to_end(key)
    return tree, key


def _cut_full_tree(data: FloatArray, model: str, n_clusters: int) -> IntArray:
    """``hclass(_full_tree(data, model), n_clusters)``, cached with the tree."""
    key3 = _tree_key(data, model)
    cut_key = (key3[0], model, n_clusters)
    with _TREES_LOCK:
        labels = _CUTS.get(cut_key)
        if labels is not None and (key3[0], model) in _TREES:
            _CUTS.move_to_end(cut_key)
            return labels.copy()
    tree, _ = _cached_tree(key3)
    labels = hclass(tree, n_clusters)
    with _TREES_LOCK:
        _CUTS[cut_key] = labels.copy()
        while len(_CUTS) > CUT_CACHE_SIZE:
            _CUTS.popitem(last=False)
    return labels


def mclust_initial_labels(
    X: npt.ArrayLike,
    n_clusters: int,
    random_state: np.random.RandomState | None = None,
    subset_size: int = SUBSET_SIZE,
) -> IntArray:
    """The partition ``Mclust`` starts EM from, one label per row.

    ``hclass(hc(X, "VVV", "SVD"), n_clusters)`` (``"EII"`` when there are no more
    rows than features; :func:`qclass` for one feature). Above ``subset_size``
    rows the tree is built on a random subset of ``subset_size`` rows drawn from
    ``random_state`` (mclust draws it with R's generator, which cannot be
    reproduced); the other rows get label -1.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data.
    n_clusters : int
        Number of clusters.
    random_state : numpy.random.RandomState, default=None
        Draws the subset (only used above ``subset_size`` rows); None uses a
        fresh unseeded generator.
    subset_size : int, default=SUBSET_SIZE
        mclust's ``mclust.options("subset")``.

    Returns
    -------
    ndarray of shape (n_samples,)
        Labels ``0 .. n_clusters - 1``; -1 for rows outside the subset.
    """
    data = _as_data(X)
    n, d = data.shape
    rows: IntArray | None = None
    if n > subset_size:
        rng = random_state if random_state is not None else np.random.RandomState()
        rows = np.asarray(rng.choice(n, size=subset_size, replace=False), np.intp)
        data = data[rows]
    if d == 1:
        labels = qclass(data, n_clusters)
    else:
        if not 1 <= n_clusters <= data.shape[0]:
            raise ValueError(
                f"n_clusters must be between 1 and the number of rows used "
                f"({data.shape[0]}); got {n_clusters}."
            )
        model = "VVV" if n > d else "EII"  # mclust compares all rows with d
        labels = _cut_full_tree(data, model, n_clusters)
    if rows is None:
        return labels
    full = np.full(n, -1, dtype=np.intp)
    full[rows] = labels
    return full
