"""Compiled (numba) merge loop of model-based hierarchical clustering.

:func:`gaussmix.core.hc.hc` merges ``N - 1`` times, and each merge computes the
costs of the new cluster against every other cluster: ``O(N^2)`` small
computations (for ``"VVV"`` a ``p x p`` Cholesky factorisation each), which the
NumPy path (``hc._agglomerate`` with ``hc._VVV`` / ``hc._EII``) runs as a few
dozen array calls per merge. :func:`tree` is the same loop compiled.

It repeats the NumPy path's arithmetic operation by operation, in the same
order and with the same roundings (no fused multiply-adds: numba does not
contract without ``fastmath``), so the costs agree to the last bit and the
merges, ties included, are the same. The one assumption is that NumPy's
``log`` and ``exp`` of float64 are the C library's, which numba calls: true
for x86-64 without AVX-512 and for ARM; on AVX-512 machines NumPy uses its
own SIMD ``log``/``exp`` (last-bit differences), and near-ties (costs within a
few ulps) may then be broken differently by the two paths. (The loops that
call ``log`` and ``exp`` have branches or inner loops and are not vectorised,
so numba does not swap in Intel SVML's versions where SVML is installed.)

Memory: the costs of the pairs are kept as a packed lower triangle (``N (N -
1) / 2`` doubles, half of the NumPy path's ``N x N`` matrix), plus ``O(N p^2)``
for the clusters.

Importing this module imports numba (an optional dependency): ``hc`` imports
it on first use and falls back to the NumPy path on ``ImportError``. The
kernels are cached on disk (``cache=True``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gaussmix._typing import FloatArray, IntArray

__all__ = ["MODEL_EII", "MODEL_VVV", "NON_FINITE", "OK", "tree"]

#: Criteria (``model`` argument of :func:`tree`): mclust's hc models, by code.
MODEL_VVV, MODEL_EII = 0, 1
#: Statuses of :func:`tree`.
OK = 0
#: A merge cost was NaN (non-finite data or overflow): NumPy's ``argmin``
#: treats NaN differently from this loop's comparisons; the caller runs the
#: NumPy path.
NON_FINITE = 1

_FLMAX = float(np.finfo(np.float64).max)
_RTHALF = 0.7071067811865476
#: Slots whose costs are computed together (the lanes of the vector code).
_BLOCK = 64


@numba.njit(cache=True, nogil=True)
def _at(j: int, i: int) -> int:
    """Position of pair ``(j, i)``, ``i < j``, in the packed lower triangle."""
    return (j * (j - 1)) // 2 + i


@numba.njit(cache=True, nogil=True)
def _get(P: FloatArray, a: int, b: int) -> float:
    if a == b:
        return math.inf
    if a > b:
        return float(P[_at(a, b)])
    return float(P[_at(b, a)])


@numba.njit(cache=True, nogil=True)
def _row_minimum(P: FloatArray, j: int) -> tuple[float, int]:
    """Min of ``D[j, :j]`` and the last column attaining it (``hc._lower_minima``)."""
    base = _at(j, 0)
    best = math.inf
    arg = j - 1
    for i in range(j):
        val = P[base + i]
        if val <= best:
            best = val
            arg = i
    return best, arg


@numba.njit(cache=True, nogil=True)
def _rotate(f: FloatArray, x: FloatArray, out: FloatArray) -> None:
    """``hc._rotate`` (BLAS ``drotg`` + ``drot`` on the first row), into ``out``."""
    a = f[0]
    b = x[0]
    p = f.shape[0]
    if b == 0.0:
        for k in range(p):
            out[k] = f[k]
        return
    if a == 0.0:
        for k in range(p):
            out[k] = x[k]
        return
    scale = max(abs(a), abs(b))
    sigma = math.copysign(1.0, a if abs(a) > abs(b) else b)
    sa = a / scale
    sb = b / scale
    r = sigma * (scale * math.sqrt(sa * sa + sb * sb))
    ca = a / r
    cb = b / r
    for k in range(p):
        out[k] = ca * f[k] + cb * x[k]
    out[0] = r


@numba.njit(cache=True, nogil=True)
def _vvv_initial(P: FloatArray, xs: FloatArray, alpha: float, beta: float) -> None:
    """``hc._VVV.initial_costs`` (pairs of singletons), packed."""
    g, p = xs.shape
    twice_log = math.log(beta * alpha)
    twice = twice_log + twice_log
    for j in range(1, g):
        base = _at(j, 0)
        for i in range(j):
            d = (xs[j, 0] - xs[i, 0]) * _RTHALF
            tr = d * d
            for k in range(1, p):
                d = (xs[j, k] - xs[i, k]) * _RTHALF
                tr = tr + d * d
            P[base + i] = 2.0 * math.log(beta * (tr + alpha) / 2.0) - twice


@numba.njit(cache=True, nogil=True)
def _eii_initial(P: FloatArray, xs: FloatArray) -> None:
    """``hc._EII.initial_costs`` (pairs of singletons), packed."""
    g, p = xs.shape
    half = math.sqrt(1.0 / 2.0)
    for j in range(1, g):
        base = _at(j, 0)
        for i in range(j):
            d = half * xs[j, 0] - half * xs[i, 0]
            acc = d * d
            for k in range(1, p):
                d = half * xs[j, k] - half * xs[i, k]
                acc = acc + d * d
            P[base + i] = acc


@numba.njit(cache=True, nogil=True)
def _stored_gram(f: FloatArray, n: float, out: FloatArray) -> None:
    """``hc._VVV._stored_gram``: Gram of ``min(n - 1, p)`` copies of ``f``."""
    p = f.shape[0]
    cap = min(int(n) - 1, p)
    for a in range(p):
        for b in range(p):
            out[a, b] = (f[a] * f[b]) * float(min(min(a, b) + 1, cap))


@numba.njit(cache=True, nogil=True)
def _vvv_row(
    n: float,
    xs_new: FloatArray,
    trn: float,
    termn: float,
    G: FloatArray,
    i: int,
    last: int,
    size: FloatArray,
    xs: FloatArray,
    tr: FloatArray,
    term: FloatArray,
    H: FloatArray,
    alpha: float,
    beta: float,
    row_terms: FloatArray,
    row_tr: FloatArray,
    costs: FloatArray,
    work: FloatArray,
    known: FloatArray,
    by_size: FloatArray,
) -> None:
    """Costs of the new cluster (slot ``i``) against slots ``0 .. last - 1``.

    ``hc._VVV.merge`` and ``_terms``, for :data:`_BLOCK` slots at a time: the
    arithmetic is laid out with the slot innermost, so that the square roots,
    divisions and products of independent slots overlap in the pipeline (or
    run as vector instructions: lane by lane the same IEEE operations); the
    logarithms are scalar calls, in a loop with branches (not vectorised).
    ``work`` has ``p * p + 2 p + 8`` rows of :data:`_BLOCK`; ``by_size[:, s]``
    holds the square roots for a slot of size ``s`` (valid when ``known[s]``
    is ``n``: the merged size of the call that computed them).
    """
    p = xs.shape[1]
    ab = alpha * beta
    pp = p * p
    # Rows of work: W (p * p, row-major a * p + b), v (p), q (p), then scalars.
    nb = work[pp + 2 * p]
    sn = work[pp + 2 * p + 1]
    sk = work[pp + 2 * p + 2]
    sb = work[pp + 2 * p + 3]
    ssb = work[pp + 2 * p + 4]
    trb = work[pp + 2 * p + 5]
    rb = work[pp + 2 * p + 6]
    bad = work[pp + 2 * p + 7]
    for k0 in range(0, last, _BLOCK):
        kb = min(_BLOCK, last - k0)
        for m in range(kb):
            nk = size[k0 + m]
            key = int(nk)
            if known[key] != n:  # these depend on the two sizes only
                n_all = n + nk
                q_all = 1.0 / n_all
                known[key] = n
                by_size[0, key] = math.sqrt(n * q_all)
                by_size[1, key] = math.sqrt(nk * q_all)
                by_size[2, key] = math.sqrt(1.0 / n_all)
            nb[m] = n + nk
            sn[m] = by_size[0, key]
            sk[m] = by_size[1, key]
            sb[m] = by_size[2, key]
            bad[m] = 0.0
        for a in range(p):
            va = work[pp + a]
            xa = xs_new[a]
            for m in range(kb):
                va[m] = sn[m] * xs[k0 + m, a] - sk[m] * xa
        v0 = work[pp]
        for m in range(kb):
            ssb[m] = v0[m] * v0[m]
        for a in range(1, p):
            va = work[pp + a]
            for m in range(kb):
                ssb[m] = ssb[m] + va[m] * va[m]
        for m in range(kb):
            trb[m] = (trn + tr[k0 + m]) + ssb[m]
        # hc._VVV._det2, slot by slot in the lanes (lower triangle), where a
        # merged cluster has more than p points.
        any_big = False
        for m in range(kb):
            if nb[m] > p:
                any_big = True
                break
        for a in range(p if any_big else 0):
            va = work[pp + a]
            for b in range(a + 1):
                vb = work[pp + b]
                wab = work[a * p + b]
                gab = G[a, b]
                for m in range(kb):
                    wab[m] = (gab + H[k0 + m, a, b]) + va[m] * vb[m]
        for c in range(p if any_big else 0):
            wcc = work[c * p + c]
            qc = work[pp + p + c]
            for m in range(kb):
                piv = wcc[m]
                ok = piv > 0.0
                r = math.sqrt(piv if ok else 1.0)
                q = r * sb[m]
                rb[m] = r
                qc[m] = q
                bad[m] = bad[m] + (1.0 if not ok or q == 0.0 else 0.0)
            for a in range(c + 1, p):
                wac = work[a * p + c]
                for m in range(kb):
                    wac[m] = wac[m] / rb[m]
            for a in range(c + 1, p):
                wac = work[a * p + c]
                for b in range(c + 1, a + 1):
                    wbc = work[b * p + c]
                    wab = work[a * p + b]
                    for m in range(kb):
                        wab[m] = wab[m] - wac[m] * wbc[m]
        for m in range(kb):
            k = k0 + m
            if k == i:
                continue
            n_all = nb[m]
            tr_all = trb[m]
            t = beta * (tr_all + alpha) / n_all
            if n_all > p and tr_all != 0.0:
                if bad[m] != 0.0:
                    detlog = -_FLMAX
                else:
                    total = 0.0
                    for c in range(p):
                        total = total + math.log(work[pp + p + c, m])
                    detlog = 2.0 * total
                if detlog == -_FLMAX:
                    val = math.log(t)
                elif detlog <= 0.0:
                    val = math.log(math.exp(detlog) + t)
                else:
                    val = math.log(1.0 + math.exp(-detlog) * t) + detlog
                out = n_all * val
            elif n_all > p:
                out = n_all * math.log(ab / n_all)
            else:
                out = n_all * math.log(t)
            row_terms[k] = out
            row_tr[k] = tr_all
            costs[k] = out - (termn + term[k])


@numba.njit(cache=True, nogil=True)
def _eii_merge(
    P: FloatArray,
    i: int,
    j: int,
    last: int,
    dopt: float,
    size: FloatArray,
    row_i: FloatArray,
    row_j: FloatArray,
    costs: FloatArray,
) -> None:
    """``hc._EII.merge``: Lance-Williams costs of the merged slots ``i < j``."""
    ni = size[i]
    nj = size[j]
    for k in range(last + 1):
        row_i[k] = _get(P, i, k)
        row_j[k] = _get(P, j, k)
    sij = ni + nj
    if j != last:
        size[j] = size[last]
        row_i[j] = row_i[last]
        row_j[j] = row_j[last]
    size[i] = sij
    for k in range(last):
        rk = size[k]
        c = (rk + ni) * row_i[k] + (rk + nj) * row_j[k]
        costs[k] = (c - rk * dopt) / (rk + sij)


@numba.njit(cache=True, nogil=True)
def _vvv_merge(
    i: int,
    j: int,
    last: int,
    dopt: float,
    iold: int,
    alpha: float,
    beta: float,
    size: FloatArray,
    xs: FloatArray,
    tr: FloatArray,
    term: FloatArray,
    first: FloatArray,
    H: FloatArray,
    G_last: FloatArray,
    G: FloatArray,
    row_tr: FloatArray,
    row_terms: FloatArray,
    v: FloatArray,
    f: FloatArray,
    f2: FloatArray,
    xs_new: FloatArray,
) -> tuple[float, float, float]:
    """``hc._VVV.merge`` up to the new costs: the merged cluster into slot ``i``.

    Returns its size, trace and term; ``xs_new`` and ``G`` (also copied to
    ``G_last``) receive its scaled mean and exact Gram matrix.
    """
    p = xs.shape[1]
    ni = size[i]
    nj = size[j]
    n = ni + nj
    q = 1.0 / n
    if ni == 1.0 and nj == 1.0:
        for a in range(p):
            v[a] = (xs[j, a] - xs[i, a]) * _RTHALF
    else:
        si = math.sqrt(ni * q)
        sj = math.sqrt(nj * q)
        for a in range(p):
            v[a] = si * xs[j, a] - sj * xs[i, a]
    if iold in (i, j):
        other = j if iold == i else i
        trn = row_tr[other]
        termn = row_terms[other]
        for a in range(p):
            for b in range(p):
                G[a, b] = (G_last[a, b] + H[other, a, b]) + v[a] * v[b]
        if size[other] > 1.0:
            _rotate(first[iold], first[other], f2)
            _rotate(f2, v, f)
        else:
            _rotate(first[iold], v, f)
    else:
        ss = v[0] * v[0]
        for a in range(1, p):
            ss = ss + v[a] * v[a]
        trn = (tr[i] + tr[j]) + ss
        if iold < 0:
            termn = 2.0 * math.log(beta * (trn + alpha) / 2.0)
        else:
            termn = dopt + (term[i] + term[j])
        for a in range(p):
            for b in range(p):
                G[a, b] = (H[i, a, b] + H[j, a, b]) + v[a] * v[b]
        if ni > 1.0 and nj > 1.0:
            _rotate(first[j], first[i], f2)
            _rotate(f2, v, f)
        elif ni > 1.0:
            _rotate(first[i], v, f)
        elif nj > 1.0:
            _rotate(first[j], v, f)
        else:
            for a in range(p):
                f[a] = v[a]
    si = math.sqrt(ni * q)
    sj = math.sqrt(nj * q)
    for a in range(p):
        xs_new[a] = si * xs[i, a] + sj * xs[j, a]
    if j != last:
        size[j] = size[last]
        tr[j] = tr[last]
        term[j] = term[last]
        for a in range(p):
            xs[j, a] = xs[last, a]
            first[j, a] = first[last, a]
            for b in range(p):
                H[j, a, b] = H[last, a, b]
    size[i] = n
    tr[i] = trn
    term[i] = termn
    for a in range(p):
        xs[i, a] = xs_new[a]
        first[i, a] = f[a]
    _stored_gram(f, n, H[i])
    for a in range(p):
        for b in range(p):
            G_last[a, b] = G[a, b]
    return n, trn, termn


@numba.njit(cache=True, nogil=True)
def _apply(P: FloatArray, costs: FloatArray, i: int, j: int, last: int) -> bool:
    """Move slot ``last`` into ``j``, write the new costs of slot ``i``.

    False if a cost is NaN.
    """
    if j != last:
        for k in range(j):
            P[_at(j, k)] = P[_at(last, k)]
        for k in range(j + 1, last):
            P[_at(k, j)] = P[_at(last, k)]
    for k in range(last):
        if k == i:
            continue
        c = costs[k]
        if math.isnan(c):
            return False
        if k < i:
            P[_at(i, k)] = c
        else:
            P[_at(k, i)] = c
    return True


@numba.njit(cache=True, nogil=True)
def _update_minima(
    P: FloatArray, colmin: FloatArray, colarg: IntArray, i: int, j: int, last: int
) -> None:
    """Row minima of the rows whose entries changed (``hc._agglomerate``)."""
    lg = last
    moved = j != last
    if i >= 1:
        colmin[i], colarg[i] = _row_minimum(P, i)
    if moved:
        colmin[j], colarg[j] = _row_minimum(P, j)
    for r in range(i + 1, lg):
        if moved and r == j:
            continue
        ca = colarg[r]
        if ca == i or (moved and ca == j and r > j):
            colmin[r], colarg[r] = _row_minimum(P, r)
            continue
        cm = colmin[r]
        val = P[_at(r, i)]
        if val < cm or (val == cm and i > ca):
            cm = val
            ca = i
        if moved and r > j:
            val = P[_at(r, j)]
            if val < cm or (val == cm and j > ca):
                cm = val
                ca = j
        colmin[r] = cm
        colarg[r] = ca
    colmin[lg] = math.inf


@numba.njit(cache=True, nogil=True)
def tree(
    Z: FloatArray, model: int, alpha: float, beta: float, n_merges: int
) -> tuple[IntArray, FloatArray, int]:
    """The merges of ``hc`` on the transformed data ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (N, p)
        The data the tree is built on (``hc_transform``), float64.
    model : int
        :data:`MODEL_VVV` or :data:`MODEL_EII`.
    alpha : float
        ``"VVV"``: the scaled ``alpha`` of ``hc._VVV`` (``max(alpha traceW,
        eps)``); unused for ``"EII"``.
    beta : float
        ``"VVV"``: mclust's ``beta``.
    n_merges : int
        Number of merges, ``1 .. N - 1``.

    Returns
    -------
    merges : ndarray of shape (n_merges, 2)
        As ``HCTree.merges``.
    costs : ndarray of shape (n_merges,)
        The cost of each merge.
    status : int
        :data:`OK` or :data:`NON_FINITE` (the results are then meaningless).
    """
    g, p = Z.shape
    xs = Z.copy()
    size = np.empty(g)
    size[:] = 1.0
    P = np.empty((g * (g - 1)) // 2)
    if model == MODEL_VVV:
        _vvv_initial(P, xs, alpha, beta)
    else:
        _eii_initial(P, xs)
    for k in range(P.shape[0]):
        if math.isnan(P[k]):
            return np.empty((0, 2), np.intp), np.empty(0), NON_FINITE
    colmin = np.empty(g)
    colmin[:] = math.inf
    colarg = np.empty(g, np.intp)
    colarg[:] = 0
    for j in range(1, g):
        colmin[j], colarg[j] = _row_minimum(P, j)
    labels = np.empty(g, np.intp)
    for k in range(g):
        labels[k] = k
    merges = np.empty((n_merges, 2), np.intp)
    dopts = np.empty(n_merges)
    costs = np.empty(g)
    row_i = np.empty(g)
    row_j = np.empty(g)
    # "VVV" cluster state (hc._VVV).
    ablog = math.log(beta * alpha)
    tr = np.empty(g)
    tr[:] = 0.0
    term = np.empty(g)
    term[:] = ablog
    first = np.empty((g, p))
    first[:] = 0.0
    H = np.empty((g, p, p))
    H[:] = 0.0
    G_last = np.empty((p, p))
    G_last[:] = 0.0
    G = np.empty((p, p))
    row_terms = np.empty(g)
    row_tr = np.empty(g)
    v = np.empty(p)
    f = np.empty(p)
    f2 = np.empty(p)
    xs_new = np.empty(p)
    work = np.empty((p * p + 2 * p + 8, _BLOCK))
    known = np.empty(g + 1)
    known[:] = 0.0  # sizes are >= 1: no stale entry matches
    by_size = np.empty((3, g + 1))
    iold = labels[0] - 1  # -1 (no cluster formed yet), typed as the slots
    lg = g
    for step in range(n_merges):
        # The last minimum in packed order: largest upper slot, then largest lower.
        jopt = lg - 1
        dopt = colmin[jopt]
        for j in range(lg - 2, 0, -1):
            if colmin[j] < dopt:
                dopt = colmin[j]
                jopt = j
        iopt = colarg[jopt]
        li = labels[iopt]
        lj = labels[jopt]
        merges[step, 0] = min(li, lj)
        merges[step, 1] = max(li, lj)
        dopts[step] = dopt
        last = lg - 1
        i = iopt
        j = jopt
        if model == MODEL_EII:
            _eii_merge(P, i, j, last, dopt, size, row_i, row_j, costs)
        else:
            n, trn, termn = _vvv_merge(
                i,
                j,
                last,
                dopt,
                iold,
                alpha,
                beta,
                size,
                xs,
                tr,
                term,
                first,
                H,
                G_last,
                G,
                row_tr,
                row_terms,
                v,
                f,
                f2,
                xs_new,
            )
            iold = i
            # The new cluster against every slot (hc._VVV.merge and _terms).
            _vvv_row(
                n,
                xs_new,
                trn,
                termn,
                G,
                i,
                last,
                size,
                xs,
                tr,
                term,
                H,
                alpha,
                beta,
                row_terms,
                row_tr,
                costs,
                work,
                known,
                by_size,
            )
        labels[i] = min(li, lj)
        if j != last:
            labels[j] = labels[last]
        if not _apply(P, costs, i, j, last):
            return merges, dopts, NON_FINITE
        _update_minima(P, colmin, colarg, i, j, last)
        lg -= 1
    return merges, dopts, OK
