"""Compiled (numba) E-step of small data: one pass over blocks of rows, per storage shape.

On a few hundred rows with ``D`` = 2..6 the NumPy E-step
(:func:`gaussmix.core.estep._e_step_one_chunk`) is bound by the cost of its
some thirty NumPy calls on tiny arrays, not by arithmetic. The kernels here do
the same work in one compiled pass: the family's coefficients (the same
formulas as its ``prepare``), then for every row its design, its log-densities,
the log-sum-exp normalisation (with the same floor of the exponent,
``-700``), its responsibilities, its share of the log-likelihood and of the
statistics. They return the statistics in their final shapes (those of
``family.unpack``), so that no NumPy call is left but building the
:class:`~gaussmix.core.stats.SuffStats`.

There is one kernel per storage shape of the covariances, which covers every
family: mclust's models reuse the E-step of the scikit-learn family with their
shape.

* :func:`estep_full`: ``(K, D, D)`` upper factors ``U_k`` (packed design
  ``[xc_i xc_j (i <= j), xc, 1]``);
* :func:`estep_tied`: one ``(D, D)`` factor (whitened rows ``U^T xc``);
* :func:`estep_diag`: ``(K, D)`` inverse standard deviations (design
  ``[xc^2, xc, 1]``);
* :func:`estep_spherical`: ``(K,)`` (design ``[|xc|^2, xc, 1]``).

The rows go by blocks of :data:`_BLOCK` (256): every array of a block is laid
out ``[design term][row]`` or ``[component][row]``, so that the innermost loops
run over the rows of the block and LLVM vectorises them (AVX2): the design,
the dot products with the coefficients (four terms per sweep), the row maxima
and NaN checks, the exponentials, the normalisation and the moments (four
terms per sweep, summed per block). ``math.exp`` and ``math.log`` are calls
into libm and do not vectorise: :func:`fast_exp` (Cody-Waite reduction, a
degree-13 polynomial, ``2^n`` from its bits) is within 1 ulp of ``math.exp`` on
``[-745, 0]``, and :func:`fast_log` (fdlibm's method, branch-free) within 1 ulp of
``math.log`` on the normal positive floats
(``tests/core/test_compiled_estep_blocks.py`` allows 2). The normalisation
runs with ``error_model="numpy"``: numba's default checks every division for a
zero divisor, which kept the per-row ``log`` and ``1 / s`` scalar, about 2 us
of a 145-row E-step (diabetes), as much as the exponentials of three
components. Only the moment sums
use ``fastmath`` beyond ``contract`` (``reassoc``); no flag assumes finite
values, on which the NaN and non-finite checks depend. Row by row, the kernels
spent some 30 ns per (row, component) on N = 272, D = 2, K = 9 (a quarter of it
in ``exp``, the rest in short scalar loops over the design).

Measured on a shared 2-core AMD EPYC (znver1), median microseconds per call,
before (row by row) and after (blocks), alternating in one process under load,
so the ratios scatter (N = 272; K = 3 and 9):

===========  =====  ==========  ==========
kernel       D      K = 3       K = 9
===========  =====  ==========  ==========
full         2      33 -> 20    136 -> 36
full         4      77 -> 25    159 -> 49
full         6      122 -> 32   277 -> 119
diag         2      38 -> 20    85 -> 40
diag         6      66 -> 39    137 -> 55
spherical    2      31 -> 20    65 -> 35
spherical    6      38 -> 23    77 -> 41
tied         2      93 -> 21    124 -> 37
tied         6      108 -> 46   284 -> 118
===========  =====  ==========  ==========

That is 1.6-2.5x on diag and spherical, 1.7-3.9x on full and tied; 1.2-1.8x
with one component (little work per row to vectorise), 2-2.5x on 1000 rows.
The sums run in blocks instead of BLAS's order, so the results agree with the
NumPy path up to rounding (a few ``eps`` relative to the size of the terms),
not bit for bit.

Every kernel takes ``X`` ``(N, D)``, the shift (the mixture mean, computed by
the caller exactly as the NumPy path computes it), the weights, means and
precision factors, the sample weights (an empty array for none) and the noise
component (``has_noise``, ``noise_term = log(noise_weight) +
noise_log_density``), and returns ``(nk, sx, sxx, loglik, noise_mass,
status)``. A status other than :data:`OK` means that some row's log-density is
not finite under every component (or is NaN): the caller then runs the NumPy
path, which raises its error.

Importing this module imports numba (an optional dependency): the caller
imports it on first use and keeps the NumPy path on ``ImportError``. The
kernels are cached on disk (``cache=True``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from gaussmix._typing import FloatArray
from gaussmix.core.numerics import LOG_2PI

__all__ = [
    "NON_FINITE",
    "OK",
    "estep_diag",
    "estep_full",
    "estep_spherical",
    "estep_tied",
    "fast_exp",
    "fast_log",
]

#: Statuses of the kernels.
OK = 0
#: The largest log-density of some row (noise term included) is not finite.
NON_FINITE = 1

#: ``_EXP_FLOOR`` of :mod:`gaussmix.core.estep` for float64.
_EXP_FLOOR = -700.0
_HALF_LOG_2PI = 0.5 * LOG_2PI

#: Rows per block of the passes: their arrays, ``(width, B)`` and ``(K, B)``,
#: stay in the L1 or L2 cache. 256 rows took 5-12% less time per E-step than
#: 64 (full, N = 150-272, D = 2-6, K = 3 and 9): fewer passes of the loops
#: over the components and terms per row.
_BLOCK = 256

# fast_exp: log2(e), log(2) in two parts (the first with 21 trailing zero bits, as
# fdlibm's), 1.5 * 2^52 and its bits, the Taylor coefficients 1/k!.
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_ROUND_SHIFT = 6755399441055744.0
_ROUND_SHIFT_BITS = 0x4338000000000000
_EXP_C2 = 0.5
_EXP_C3 = 1.0 / 6.0
_EXP_C4 = 1.0 / 24.0
_EXP_C5 = 1.0 / 120.0
_EXP_C6 = 1.0 / 720.0
_EXP_C7 = 1.0 / 5040.0
_EXP_C8 = 1.0 / 40320.0
_EXP_C9 = 1.0 / 362880.0
_EXP_C10 = 1.0 / 3628800.0
_EXP_C11 = 1.0 / 39916800.0
_EXP_C12 = 1.0 / 479001600.0
_EXP_C13 = 1.0 / 6227020800.0

# fast_log: fdlibm's minimax coefficients of log(1 + f) (in s = f / (2 + f)), the
# bits of sqrt(2) / 2 (the reduced argument lies in [sqrt(2) / 2, sqrt(2))),
# the exponent's field and its sign bit (12 bits), 1.5 * 2^52 for the int -> float.
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_EXPONENT_FIELD = -(1 << 52)
_EXPONENT_SIGN = 0x800

#: The result of a kernel: ``nk, sx, sxx, loglik, noise_mass, status``.
Result = tuple[FloatArray, FloatArray, FloatArray, float, float, int]


def _bitcast(source: types.Type, target: types.Type) -> Callable[..., Any]:
    """An intrinsic reinterpreting the bits of a ``source`` as a ``target``."""

    def typer(typingctx: Any, x: types.Type) -> tuple[Any, Callable[..., Any]] | None:
        if x != source:
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return intrinsic(typer)


#: The bits of a float64 as an int64, and back (bitcasts: they vectorise).
_float_bits = _bitcast(types.float64, types.int64)
_bits_float = _bitcast(types.int64, types.float64)


def _logical_shift() -> Callable[..., Any]:
    """An intrinsic ``x >>> n`` on int64 (numba's ``>>`` is arithmetic, which AVX2 lacks)."""

    def typer(
        typingctx: Any, x: types.Type, n: types.Type
    ) -> tuple[Any, Callable[..., Any]] | None:
        if x != types.int64 or n != types.int64:
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.lshr(args[0], args[1])

        return types.int64(types.int64, types.int64), codegen

    return intrinsic(typer)


#: ``x >>> n`` on int64 (it vectorises).
_shift_right_logical = _logical_shift()


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def fast_exp(x: float) -> float:
    """``exp(x)`` for ``x`` in ``[-745, 0]`` (finite), within 1 ulp of ``math.exp``.

    Unlike ``math.exp`` (a call into libm) it inlines into the loops over the
    rows of a block, which LLVM then vectorises. Cody and Waite's reduction
    ``x = n log 2 + r`` (``|r| <= log(2) / 2``, ``n log 2`` split in two so
    that ``x - n log_hi`` is exact); the Taylor polynomial of ``exp(r)`` to
    degree 13 (truncation below ``1e-17``) in Estrin's scheme (short chains of
    dependent operations, so that the rows of a block overlap), the 1 added
    last; ``2^n`` built from its bits, in two factors ``2^(n - n//2)
    2^(n//2)`` so that results below the normal range (``x < -708.4``) are
    rounded once into the subnormals. ``exp(0)`` is 1 exactly. ``n`` is
    rounded by adding ``1.5 * 2^52``, whose sum carries ``n`` in its low bits:
    only ``contract`` is allowed here (reassociation would fold it away).
    """
    kd = x * _INV_LN2 + _ROUND_SHIFT
    n = _float_bits(kd) - _ROUND_SHIFT_BITS
    kd = kd - _ROUND_SHIFT
    r = (x - kd * _LN2_HI) - kd * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    t0 = _EXP_C2 + _EXP_C3 * r
    t1 = _EXP_C4 + _EXP_C5 * r
    t2 = _EXP_C6 + _EXP_C7 * r
    t3 = _EXP_C8 + _EXP_C9 * r
    t4 = _EXP_C10 + _EXP_C11 * r
    t5 = _EXP_C12 + _EXP_C13 * r
    u0 = t0 + t1 * r2
    u1 = t2 + t3 * r2
    u2 = t4 + t5 * r2
    tail = (u0 + u1 * r4) + u2 * (r4 * r4)
    p = 1.0 + (r + r2 * tail)
    half = n >> 1
    rest = n - half
    scaled: float = (p * _bits_float((rest + 1023) << 52)) * _bits_float(
        (half + 1023) << 52
    )
    return scaled


@numba.njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def fast_log(x: float) -> float:
    """``log(x)`` for a finite normal ``x > 0``, within 1 ulp of ``math.log``.

    As :func:`fast_exp`, it inlines into a loop over rows, which then vectorises
    (``math.log`` is a call into libm): the normalisation of the E-step takes
    the log of every row's sum of exponentials (in ``[1, K + 1]``). fdlibm's
    method: ``x = 2^k m`` with ``m`` in ``[sqrt(2)/2, sqrt(2))`` (``k`` from the
    bits of ``x`` minus those of ``sqrt(2)/2``, sign-extended from 12 bits),
    ``f = m - 1``, ``s = f / (2 + f)``, ``log(1 + f) = f - s (f - R(s^2))`` with
    fdlibm's minimax ``R`` of degree 7 in ``s^2``, and ``k log 2`` in two parts.
    Zero, negative, subnormal and non-finite arguments are out of its domain.
    ``error_model="numpy"`` lets the division vectorise (numba's default
    checks the divisor for zero, row by row).
    """
    bits = _float_bits(x)
    offset = bits - _SQRT_HALF_BITS
    k = (_shift_right_logical(offset, 52) ^ _EXPONENT_SIGN) - _EXPONENT_SIGN
    f = _bits_float(bits - (offset & _EXPONENT_FIELD)) - 1.0
    s = f / (2.0 + f)
    dk = _bits_float(k + _ROUND_SHIFT_BITS) - _ROUND_SHIFT
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    result: float = dk * _LN2_HI - ((s * (f - r) - dk * _LN2_LO) - f)
    return result


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _accumulate(rk: FloatArray, zT: FloatArray, n: int, out: FloatArray) -> None:
    """``out[j] += sum(rk[:n] * zT[j, :n])`` for every row ``j`` of ``zT``, in any order.

    Four rows of ``zT`` per sweep over ``rk`` (vectorised reductions).
    """
    n_terms = zT.shape[0]
    quads = n_terms - n_terms % 4
    for j in range(0, quads, 4):
        z0 = zT[j]
        z1 = zT[j + 1]
        z2 = zT[j + 2]
        z3 = zT[j + 3]
        t0 = 0.0
        t1 = 0.0
        t2 = 0.0
        t3 = 0.0
        for r in range(n):
            v = rk[r]
            t0 += v * z0[r]
            t1 += v * z1[r]
            t2 += v * z2[r]
            t3 += v * z3[r]
        out[j] += t0
        out[j + 1] += t1
        out[j + 2] += t2
        out[j + 3] += t3
    for j in range(quads, n_terms):
        zj = zT[j]
        t = 0.0
        for r in range(n):
            t += rk[r] * zj[r]
        out[j] += t


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _sum(a: FloatArray, n: int) -> float:
    """``sum(a[:n])`` in any order (vectorised)."""
    t = 0.0
    for r in range(n):
        t += a[r]
    return t


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _linear_block(coefT: FloatArray, zT: FloatArray, n: int, lt: FloatArray) -> None:
    """``lt[k, r] = sum_j coefT[j, k] zT[j, r] + coefT[-1, k]`` for the rows ``r < n``.

    ``zT`` holds the block's design without its last term (the constant 1):
    ``(width - 1, B)``. The terms are added in the order of the design, the
    constant last (as the row-by-row dot product did).
    """
    width, n_components = coefT.shape
    n_terms = width - 1
    quads = n_terms - n_terms % 4
    for k in range(n_components):
        lk = lt[k]
        for r in range(n):
            lk[r] = 0.0
        # Four terms per sweep: one load and store of lk for four products.
        for j in range(0, quads, 4):
            c0 = coefT[j, k]
            c1 = coefT[j + 1, k]
            c2 = coefT[j + 2, k]
            c3 = coefT[j + 3, k]
            z0 = zT[j]
            z1 = zT[j + 1]
            z2 = zT[j + 2]
            z3 = zT[j + 3]
            for r in range(n):
                lk[r] = (((lk[r] + c0 * z0[r]) + c1 * z1[r]) + c2 * z2[r]) + c3 * z3[r]
        for j in range(quads, n_terms):
            c = coefT[j, k]
            zj = zT[j]
            for r in range(n):
                lk[r] += c * zj[r]
        c = coefT[n_terms, k]
        for r in range(n):
            lk[r] += c


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _normalise_block(
    lt: FloatArray,
    n: int,
    work: FloatArray,
    has_noise: bool,
    noise_term: float,
    sample_weight: FloatArray,
    first: int,
) -> tuple[float, float, bool]:
    """Turn the block's log-densities into weighted responsibilities, in place.

    ``lt`` is ``(K, B)``, its rows ``r < n`` the rows ``first + r`` of the data.
    Per row, ``m`` is the largest of its log-densities (and of ``noise_term``
    with noise), ``e_k = exp(max(lt_k - m, -700))``, the noise share
    ``exp(max(noise_term - m, -700))`` (0 for a noise term of ``-inf``) and
    ``s`` their sum; ``lt_k`` becomes ``e_k w / s`` with ``w`` the row's sample
    weight (1 for an empty ``sample_weight``). ``work`` ``(3, B)`` is scratch.

    Returns the block's ``sum w log p(x)`` (``log p(x) = log s + m``), its
    weighted noise responsibility and ``ok``, False when some row's ``m`` is
    not finite or some log-density is NaN (NumPy's ``max`` propagates NaN).
    """
    n_components = lt.shape[0]
    mx = work[0]
    s = work[1]
    noise = work[2]
    for r in range(n):
        mx[r] = -math.inf
    bad = 0
    for k in range(n_components):
        lk = lt[k]
        for r in range(n):
            v = lk[r]
            if v != v:
                bad = 1
            m = mx[r]
            mx[r] = v if v > m else m
    noisy = has_noise and noise_term != -math.inf
    if noisy:
        for r in range(n):
            if noise_term > mx[r]:
                mx[r] = noise_term
    for r in range(n):
        m = mx[r]
        if m - m != 0.0:  # inf or NaN
            bad = 1
    if bad:
        return 0.0, 0.0, False
    for r in range(n):
        s[r] = 0.0
    for k in range(n_components):
        lk = lt[k]
        for r in range(n):
            a = lk[r] - mx[r]
            if a < _EXP_FLOOR:
                a = _EXP_FLOOR
            v = fast_exp(a)
            lk[r] = v
            s[r] += v
    if noisy:
        for r in range(n):
            a = noise_term - mx[r]
            if a < _EXP_FLOOR:
                a = _EXP_FLOOR
            v = fast_exp(a)
            noise[r] = v
            s[r] += v
    # Vectorised: log p(x) = log s + m into mx, the scale w / s into s.
    if sample_weight.shape[0] > 0:
        for r in range(n):
            mx[r] = fast_log(s[r]) + mx[r]
            s[r] = sample_weight[first + r] / s[r]
        loglik = 0.0
        for r in range(n):
            loglik += mx[r] * sample_weight[first + r]
    else:
        for r in range(n):
            mx[r] = fast_log(s[r]) + mx[r]
            s[r] = 1.0 / s[r]
        loglik = 0.0
        for r in range(n):
            loglik += mx[r]
    noise_mass = 0.0
    if noisy:
        for r in range(n):
            noise_mass += noise[r] * s[r]
    for k in range(n_components):
        lk = lt[k]
        for r in range(n):
            lk[r] *= s[r]
    return loglik, noise_mass, True


@numba.njit(cache=True, nogil=True)
def _log_weight(w: float) -> float:
    """``log(w)``, ``-inf`` for 0 (as ``np.log``)."""
    if w > 0.0:
        return math.log(w)
    if w == 0.0:
        return -math.inf
    return math.nan


@numba.njit(cache=True, nogil=True)
def _packed_pass(
    X: FloatArray,
    shift: FloatArray,
    coefT: FloatArray,
    kind: int,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> tuple[FloatArray, float, float, int]:
    """The pass of the families linear in a packed design (full, diag, spherical).

    ``coefT`` is ``(width, K)``; ``kind`` 0 is the full design
    ``[xc_i xc_j (i <= j), xc, 1]``, 1 the diagonal ``[xc^2, xc, 1]``, 2 the
    spherical ``[|xc|^2, xc, 1]``. Returns the moments ``(K, width)`` (those of
    ``R @ Z.T``), the log-likelihood, the noise mass and the status.

    The rows go by blocks of :data:`_BLOCK`, every array of a block laid out
    ``[term][row]`` or ``[component][row]`` so that the innermost loops (over
    the rows) vectorise.
    """
    n_samples, n_features = X.shape
    width, n_components = coefT.shape
    lin = width - 1 - n_features
    zT = np.empty((width - 1, _BLOCK))
    lt = np.empty((n_components, _BLOCK))
    work = np.empty((3, _BLOCK))
    acc = np.zeros((n_components, width))
    loglik = 0.0
    noise_mass = 0.0
    for first in range(0, n_samples, _BLOCK):
        n = min(_BLOCK, n_samples - first)
        for i in range(n_features):
            xi = zT[lin + i]
            si = shift[i]
            for r in range(n):
                xi[r] = X[first + r, i] - si
        if kind == 0:
            o = 0
            for i in range(n_features):
                xi = zT[lin + i]
                for j in range(i, n_features):
                    xj = zT[lin + j]
                    zo = zT[o]
                    for r in range(n):
                        zo[r] = xi[r] * xj[r]
                    o += 1
        elif kind == 1:
            for i in range(n_features):
                xi = zT[lin + i]
                zi = zT[i]
                for r in range(n):
                    zi[r] = xi[r] * xi[r]
        else:
            z0 = zT[0]
            for r in range(n):
                z0[r] = 0.0
            for i in range(n_features):
                xi = zT[lin + i]
                for r in range(n):
                    z0[r] += xi[r] * xi[r]
        _linear_block(coefT, zT, n, lt)
        part, noise_part, ok = _normalise_block(
            lt, n, work, has_noise, noise_term, sample_weight, first
        )
        if not ok:
            return acc, 0.0, 0.0, NON_FINITE
        loglik += part
        noise_mass += noise_part
        for k in range(n_components):
            rk = lt[k]
            ak = acc[k]
            _accumulate(rk, zT, n, ak)
            ak[width - 1] += _sum(rk, n)
    return acc, loglik, noise_mass, OK


@numba.njit(cache=True, nogil=True)
def _linear_moments(acc: FloatArray, n_features: int) -> tuple[FloatArray, FloatArray]:
    """``nk`` ``(K,)`` and ``sx`` ``(K, D)`` from the moments of :func:`_packed_pass`.

    Every packed design ends with ``[xc, 1]``: ``sx`` is read from the ``D``
    columns before the last, ``nk`` from the last.
    """
    n_components, width = acc.shape
    lin = width - 1 - n_features
    nk = np.empty(n_components)
    sx = np.empty((n_components, n_features))
    for k in range(n_components):
        nk[k] = acc[k, width - 1]
        for i in range(n_features):
            sx[k, i] = acc[k, lin + i]
    return nk, sx


@numba.njit(cache=True, nogil=True)
def estep_full(
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    precisions_cholesky: FloatArray,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> Result:
    """The E-step of the full-shaped families, ``U_k`` of shape ``(K, D, D)``.

    The coefficients of :meth:`Full.prepare <gaussmix.core.sklearn_families.Full.prepare>`:
    ``-P_ij / 2`` (doubled off the diagonal), ``P d``, and
    ``-D/2 log(2 pi) + log|U| + log w - d^T P d / 2`` with ``P = U U^T``.
    """
    n_features = X.shape[1]
    n_components = means.shape[0]
    n_packed = n_features * (n_features + 1) // 2
    width = n_packed + n_features + 1
    coefT = np.empty((width, n_components))
    prec = np.empty((n_features, n_features))
    d = np.empty(n_features)
    for k in range(n_components):
        u = precisions_cholesky[k]
        for i in range(n_features):
            for j in range(n_features):
                pij = 0.0
                for m in range(n_features):
                    pij += u[i, m] * u[j, m]
                prec[i, j] = pij
        logdet = 0.0
        for i in range(n_features):
            logdet += math.log(u[i, i])
            d[i] = means[k, i] - shift[i]
        const = -_HALF_LOG_2PI * n_features + logdet
        const = const + _log_weight(weights[k])
        dpd = 0.0
        o = 0
        for i in range(n_features):
            pd = 0.0
            for j in range(n_features):
                pd += prec[i, j] * d[j]
            dpd += d[i] * pd
            coefT[n_packed + i, k] = pd
            coefT[o, k] = -0.5 * prec[i, i]
            o += 1
            for j in range(i + 1, n_features):
                coefT[o, k] = -prec[i, j]
                o += 1
        coefT[width - 1, k] = const - 0.5 * dpd
    acc, loglik, noise_mass, status = _packed_pass(
        X, shift, coefT, 0, sample_weight, has_noise, noise_term
    )
    nk, sx = _linear_moments(acc, n_features)
    sxx = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        o = 0
        for i in range(n_features):
            for j in range(i, n_features):
                sxx[k, i, j] = acc[k, o]
                sxx[k, j, i] = acc[k, o]
                o += 1
    return nk, sx, sxx, loglik, noise_mass, status


@numba.njit(cache=True, nogil=True)
def estep_diag(
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    precisions_cholesky: FloatArray,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> Result:
    """The E-step of the diagonal-shaped families, ``(K, D)`` inverse standard deviations."""
    n_features = X.shape[1]
    n_components = means.shape[0]
    width = 2 * n_features + 1
    coefT = np.empty((width, n_components))
    for k in range(n_components):
        logdet = 0.0
        maha = 0.0
        for i in range(n_features):
            u = precisions_cholesky[k, i]
            p = u * u
            di = means[k, i] - shift[i]
            logdet += math.log(u)
            maha += p * di * di
            coefT[i, k] = -0.5 * p
            coefT[n_features + i, k] = p * di
        const = -_HALF_LOG_2PI * n_features + logdet
        const = const - 0.5 * maha
        coefT[width - 1, k] = const + _log_weight(weights[k])
    acc, loglik, noise_mass, status = _packed_pass(
        X, shift, coefT, 1, sample_weight, has_noise, noise_term
    )
    nk, sx = _linear_moments(acc, n_features)
    sxx = acc[:, :n_features].copy()
    return nk, sx, sxx, loglik, noise_mass, status


@numba.njit(cache=True, nogil=True)
def estep_spherical(
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    precisions_cholesky: FloatArray,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> Result:
    """The E-step of the spherical-shaped families, ``(K,)`` inverse standard deviations."""
    n_features = X.shape[1]
    n_components = means.shape[0]
    width = n_features + 2
    coefT = np.empty((width, n_components))
    for k in range(n_components):
        u = precisions_cholesky[k]
        p = u * u
        dd = 0.0
        for i in range(n_features):
            di = means[k, i] - shift[i]
            dd += di * di
            coefT[1 + i, k] = p * di
        coefT[0, k] = -0.5 * p
        const = -_HALF_LOG_2PI * n_features + n_features * math.log(u)
        const = const - 0.5 * (p * dd)
        coefT[width - 1, k] = const + _log_weight(weights[k])
    acc, loglik, noise_mass, status = _packed_pass(
        X, shift, coefT, 2, sample_weight, has_noise, noise_term
    )
    nk, sx = _linear_moments(acc, n_features)
    sxx = acc[:, 0].copy()
    return nk, sx, sxx, loglik, noise_mass, status


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _whiten_block(
    u: FloatArray, xcT: FloatArray, n: int, yT: FloatArray, yy: FloatArray
) -> None:
    """``yT[:, r] = U^T xcT[:, r]`` and ``yy[r] = |yT[:, r]|^2`` for the rows ``r < n``."""
    n_features = u.shape[0]
    for j in range(n_features):
        yj = yT[j]
        for r in range(n):
            yj[r] = 0.0
        for i in range(n_features):
            c = u[i, j]
            xi = xcT[i]
            for r in range(n):
                yj[r] += c * xi[r]
    for r in range(n):
        yy[r] = 0.0
    for j in range(n_features):
        yj = yT[j]
        for r in range(n):
            yy[r] += yj[r] * yj[r]


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _scatter_block(wx: FloatArray, xcT: FloatArray, n: int, sxx: FloatArray) -> None:
    """``sxx[i, j] += sum_r wx[i, r] xcT[j, r]`` (``i <= j``) over the rows ``r < n``."""
    n_features = xcT.shape[0]
    for i in range(n_features):
        wi = wx[i]
        for j in range(i, n_features):
            xj = xcT[j]
            t = 0.0
            for r in range(n):
                t += wi[r] * xj[r]
            sxx[i, j] += t


@numba.njit(cache=True, nogil=True)
def estep_tied(
    X: FloatArray,
    shift: FloatArray,
    weights: FloatArray,
    means: FloatArray,
    precisions_cholesky: FloatArray,
    sample_weight: FloatArray,
    has_noise: bool,
    noise_term: float,
) -> Result:
    """The E-step of the tied-shaped families, one ``(D, D)`` factor ``U``.

    As :meth:`Tied.prepare <gaussmix.core.sklearn_families.Tied.prepare>`:
    ``y = U^T xc``, ``log N_k = e_k . y + c_k - |y|^2 / 2`` with the whitened
    offsets ``e_k = U^T d_k``. The scatter ``sum_i w_i xc_i xc_i^T`` is shared
    (with noise, weighted by the Gaussians' share of each row's weight).
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    u = precisions_cholesky
    weighted = sample_weight.shape[0] > 0
    eT = np.empty((n_features, n_components))
    const = np.empty(n_components)
    logdet = 0.0
    for i in range(n_features):
        logdet += math.log(u[i, i])
    base = -_HALF_LOG_2PI * n_features + logdet
    for k in range(n_components):
        ee = 0.0
        for j in range(n_features):
            acc = 0.0
            for i in range(n_features):
                acc += (means[k, i] - shift[i]) * u[i, j]
            eT[j, k] = acc
            ee += acc * acc
        c = base - 0.5 * ee
        const[k] = c + _log_weight(weights[k])
    moments = np.zeros((n_components, n_features + 1))
    sxx = np.zeros((n_features, n_features))
    # Per block: the centred rows (xcT), the whitened ones (yT) and their
    # squared norms (yy), the log-densities then responsibilities (lt), each
    # row's weight in the scatter (w) and the weighted rows (wx).
    xcT = np.empty((n_features, _BLOCK))
    yT = np.empty((n_features, _BLOCK))
    wx = np.empty((n_features, _BLOCK))
    yy = np.empty(_BLOCK)
    w = np.empty(_BLOCK)
    lt = np.empty((n_components, _BLOCK))
    work = np.empty((3, _BLOCK))
    loglik = 0.0
    noise_mass = 0.0
    for first in range(0, n_samples, _BLOCK):
        n = min(_BLOCK, n_samples - first)
        for i in range(n_features):
            xi = xcT[i]
            si = shift[i]
            for r in range(n):
                xi[r] = X[first + r, i] - si
        _whiten_block(u, xcT, n, yT, yy)
        for k in range(n_components):
            lk = lt[k]
            for r in range(n):
                lk[r] = 0.0
            for j in range(n_features):
                c = eT[j, k]
                yj = yT[j]
                for r in range(n):
                    lk[r] += c * yj[r]
            c = const[k]
            for r in range(n):
                lk[r] = (lk[r] + c) - 0.5 * yy[r]
        part, noise_part, ok = _normalise_block(
            lt, n, work, has_noise, noise_term, sample_weight, first
        )
        if not ok:
            return const, moments, sxx, 0.0, 0.0, NON_FINITE
        loglik += part
        noise_mass += noise_part
        for k in range(n_components):
            rk = lt[k]
            mk = moments[k]
            _accumulate(rk, xcT, n, mk)
            mk[n_features] += _sum(rk, n)
        # The weight of each row in the shared scatter: its sample weight, or
        # with noise the Gaussians' share of it.
        if has_noise:
            for r in range(n):
                w[r] = 0.0
            for k in range(n_components):
                rk = lt[k]
                for r in range(n):
                    w[r] += rk[r]
        elif weighted:
            for r in range(n):
                w[r] = sample_weight[first + r]
        else:
            for r in range(n):
                w[r] = 1.0
        for i in range(n_features):
            xi = xcT[i]
            wi = wx[i]
            for r in range(n):
                wi[r] = w[r] * xi[r]
        _scatter_block(wx, xcT, n, sxx)
    for i in range(n_features):
        for j in range(i + 1, n_features):
            sxx[j, i] = sxx[i, j]
    nk = np.empty(n_components)
    sx = np.empty((n_components, n_features))
    for k in range(n_components):
        nk[k] = moments[k, n_features]
        for i in range(n_features):
            sx[k, i] = moments[k, i]
    return nk, sx, sxx, loglik, noise_mass, OK
