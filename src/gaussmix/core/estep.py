"""The E-step: log-densities, responsibilities and sufficient statistics, by chunks.

The data are walked in row chunks of a few megabytes of working memory each, so
the ``n_samples x n_components`` responsibility matrix never exists whole during
a fit. Each chunk is centred on the mixture mean of the current parameters,
turned into its family design, and reduced to a flat vector of moments. The
chunks may run on several threads; their moments are summed in chunk order, so
the result does not depend on the number of threads.

Inside a chunk the layout is component-major (``(n_components, n_rows)``):
reductions over components run along contiguous memory.

**Noise component.** When the parameters carry mclust's noise component (a
uniform density ``exp(noise_log_density)`` with proportion ``noise_weight``),
the log-sum-exp over the Gaussians takes one more term, the constant
``log(noise_weight) + noise_log_density``; the statistics stay those of the
Gaussians, and the noise responsibility mass is returned beside them
(:class:`NoiseStats`). Without noise the kernels run exactly as before.

**Small data.** A pass of at most :data:`COMPILED_MAX_WORK` design entries
on float64 data runs compiled (:mod:`gaussmix.core._compiled_estep`, numba,
imported on first use) when numba is installed: one kernel per storage shape
does the whole pass, with or without sample weights and noise, and gives the
same statistics up to rounding (its sums run in row order). There the NumPy
path is bound by the cost of its calls on tiny arrays. ``GAUSSMIX_NO_COMPILED=1``
(or :data:`USE_COMPILED` set to False) keeps the NumPy path; float32 data,
explicit ``rows`` and larger passes always take it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import numpy as np

from gaussmix._typing import FloatArray, IntArray
from gaussmix.core import kernels
from gaussmix.core.family import CovarianceFamily, Prepared
from gaussmix.core.params import GMMParams
from gaussmix.core.sklearn_families import Diag, Full, Spherical, Tied
from gaussmix.core.stats import NoiseStats, SuffStats

__all__ = [
    "LogDensityOverflowError",
    "NoiseStats",
    "chunk_rows",
    "e_step",
    "estimate_log_prob",
    "estimate_log_prob_resp",
    "stats_from_resp",
]

#: Working memory aimed at per chunk (design, log-densities, responsibilities).
CHUNK_BYTES: Final = 2 * 2**20
MIN_CHUNK_ROWS: Final = 256
MAX_CHUNK_ROWS: Final = 2**16
#: Below this many design entries per pass (about 10 ms of work) threads cost
#: more than they bring (measured on W1 of benchmarks/bench_fit.py).
PARALLEL_MIN_WORK: Final = 2 * 10**7

T = TypeVar("T")

_EXP_FLOOR: Final = {np.dtype(np.float64): -700.0, np.dtype(np.float32): -80.0}

#: Whether the E-step of small float64 data runs compiled
#: (:mod:`gaussmix.core._compiled_estep`) when numba is installed;
#: ``GAUSSMIX_NO_COMPILED=1`` in the environment (or setting this to False)
#: forces the NumPy path.
USE_COMPILED: bool = os.environ.get("GAUSSMIX_NO_COMPILED", "").strip() in ("", "0")

#: Largest ``n_samples * n_moments`` (entries of the family design of the pass)
#: run by the compiled kernels; above it BLAS's products win. Measured with
#: ``e_step`` on random data, all four shapes (2 shared cores): compiled
#: 50-90 us against NumPy's 190-270 us at (N, D, K) = (215, 5, 3) and
#: (272, 2, 9) (about 15,000 entries); even (ratios 0.8-1.3, noisy) between
#: 90,000 and 130,000 entries, e.g. (2000, 5, 3) full 1.3x faster, (2000, 2, 9)
#: diag 0.98x, (1000, 6, 9) full 0.83x (252,000 entries).
COMPILED_MAX_WORK: Final = 100_000

RespFn = Callable[[int, int], FloatArray]
#: What the work on one chunk returns: its flat moments, its log-likelihood and
#: its noise responsibility mass.
ChunkMoments = tuple[FloatArray, float, float]


class LogDensityOverflowError(FloatingPointError, ValueError):
    """The log-density of some rows is not finite under every component."""


def chunk_rows(family: CovarianceFamily, n_components: int, n_features: int) -> int:
    """Rows per chunk for this model size (independent of the thread count).

    Parameters
    ----------
    family : CovarianceFamily
        The covariance family (its design width sets the memory per row).
    n_components, n_features : int
        Model size.

    Returns
    -------
    int
        A row count between ``MIN_CHUNK_ROWS`` and ``MAX_CHUNK_ROWS``.
    """
    width = family.n_moments(n_components, n_features) // max(n_components, 1)
    per_row = 8 * (width + 3 * n_components + 2 * n_features + 4)
    return min(max(CHUNK_BYTES // per_row, MIN_CHUNK_ROWS), MAX_CHUNK_ROWS)


def _threads_for(
    n_threads: int,
    family: CovarianceFamily,
    n_samples: int,
    n_components: int,
    n_features: int,
) -> int:
    """Use threads only when a pass has enough work to pay for them."""
    if n_samples * family.n_moments(n_components, n_features) < PARALLEL_MIN_WORK:
        return 1
    return n_threads


def _bounds(n_samples: int, rows: int) -> list[tuple[int, int]]:
    return [(s, min(s + rows, n_samples)) for s in range(0, n_samples, rows)]


def _map_chunks(
    fn: Callable[[int, int], T], bounds: Sequence[tuple[int, int]], n_threads: int
) -> list[T]:
    """Run ``fn(start, stop)`` on every chunk, in order of the chunks.

    Overflow in the kernels (values far outside the model) is not reported as a
    NumPy warning: it surfaces as a non-finite log-density, which
    :func:`_normalise` turns into a clear error.
    """

    def quiet(bound: tuple[int, int]) -> T:
        with np.errstate(over="ignore", invalid="ignore"):
            return fn(*bound)

    if n_threads <= 1 or len(bounds) <= 1:
        return [quiet(b) for b in bounds]
    with ThreadPoolExecutor(max_workers=min(n_threads, len(bounds))) as pool:
        return list(pool.map(quiet, bounds))


def _centred_T(X: FloatArray, start: int, stop: int, shift: FloatArray) -> FloatArray:
    """``(X[start:stop] - shift).T`` as a C-contiguous float64 ``(D, n)`` array."""
    block = X[start:stop]
    out = np.empty((block.shape[1], block.shape[0]), dtype=np.float64)
    np.subtract(block.T, shift[:, None], out=out)
    return out


@dataclass(frozen=True, slots=True)
class _Pass:
    """One pass over ``X`` in chunks of ``rows`` rows, on up to ``n_threads`` threads."""

    X: FloatArray
    family: CovarianceFamily
    n_components: int
    rows: int
    n_threads: int

    def chunk(
        self, start: int, stop: int, shift: FloatArray
    ) -> tuple[FloatArray, FloatArray | None]:
        """The chunk's centred rows ``(D, n)`` and its family design."""
        xcT = _centred_T(self.X, start, stop, shift)
        return xcT, self.family.moment_design(xcT, self.n_components)

    def run(self, work: Callable[[int, int], T]) -> list[T]:
        """``work(start, stop)`` of every chunk, in chunk order (see :func:`_map_chunks`)."""
        n_samples, n_features = self.X.shape
        n_threads = _threads_for(
            self.n_threads, self.family, n_samples, self.n_components, n_features
        )
        return _map_chunks(work, _bounds(n_samples, self.rows), n_threads)

    def summed(
        self,
        work: Callable[[int, int], ChunkMoments],
        shift: FloatArray,
        sample_weight: FloatArray | None,
        noise_log_density: float | None,
    ) -> SuffStats:
        """Statistics of the pass: ``work`` on every chunk, summed in chunk order.

        With a ``noise_log_density``, a :class:`NoiseStats` with the summed
        noise mass beside the Gaussians' statistics.
        """
        parts = self.run(work)
        flat = parts[0][0].copy()
        loglik = parts[0][1]
        noise_mass = parts[0][2]
        for f, ll, nm in parts[1:]:
            flat += f
            loglik += ll
            noise_mass += nm
        n_samples, n_features = self.X.shape
        nk, sx, sxx = self.family.unpack(flat, self.n_components, n_features)
        weight = float(n_samples if sample_weight is None else np.sum(sample_weight))
        stats = SuffStats(nk, sx, sxx, shift, loglik, weight, n_samples)
        if noise_log_density is None:
            return stats
        return stats.with_noise(noise_mass, noise_log_density)


def _normalise(LT: FloatArray) -> tuple[FloatArray, FloatArray]:
    """In place: ``LT <- exp(LT - max)``; return ``(log-normaliser, column sums)``."""
    mx = LT.max(axis=0)
    return _exp_normalise(LT, mx)


def _normalise_noise(
    LT: FloatArray, noise_term: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`_normalise` with one more, constant, log term (the noise component).

    In place: ``LT <- exp(LT - m)`` with ``m = max(max_k LT, noise_term)``.

    Returns
    -------
    log_norm : ndarray of shape (n_rows,)
        ``log(sum_k exp(LT_k) + exp(noise_term))``.
    s : ndarray of shape (n_rows,)
        The sums whose log, plus ``m``, is ``log_norm``.
    noise : ndarray of shape (n_rows,)
        ``exp(noise_term - m)``; ``noise / s`` is the noise responsibility.
    """
    mx = LT.max(axis=0)
    if noise_term == -math.inf:
        log_norm, s = _exp_normalise(LT, mx)
        return log_norm, s, np.zeros_like(s)
    np.maximum(mx, noise_term, out=mx)
    noise = np.subtract(noise_term, mx)
    np.maximum(noise, _EXP_FLOOR[noise.dtype], out=noise)
    np.exp(noise, out=noise)
    log_norm, s = _exp_normalise(LT, mx, extra=noise)
    return log_norm, s, noise


def _exp_normalise(
    LT: FloatArray, mx: FloatArray, extra: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    if not math.isfinite(mx.sum()) and not np.all(np.isfinite(mx)):
        bad = int(np.count_nonzero(~np.isfinite(mx)))
        raise LogDensityOverflowError(
            f"the log-density of {bad} rows is not finite under any component; "
            "the data are too large for the fitted covariances. Scale the data "
            "(e.g. sklearn.preprocessing.StandardScaler) or increase reg_covar."
        )
    LT -= mx
    # exp() of arguments whose result underflows (below about -708 in float64) is
    # four times slower; such responsibilities are below 1e-300 of the largest,
    # so flooring the argument changes nothing that float64 can hold in a sum.
    np.maximum(LT, _EXP_FLOOR[LT.dtype], out=LT)
    np.exp(LT, out=LT)
    s = LT.sum(axis=0)
    if extra is not None:
        s += extra
    log_norm = np.log(s)
    log_norm += mx
    return log_norm, s


def _prepare(
    params: GMMParams, family: CovarianceFamily, dtype: np.dtype[Any], log_weights: bool
) -> tuple[FloatArray, Prepared]:
    shift = params.center()
    # A zero weight gives log(0) = -inf (never chosen); extreme precisions may
    # overflow here and are reported by _normalise as a clear error.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        prep = family.prepare(params, shift, dtype, log_weights)
    return shift, prep


def e_step(
    X: FloatArray,
    params: GMMParams,
    family: CovarianceFamily,
    sample_weight: FloatArray | None = None,
    *,
    n_threads: int = 1,
    rows: int | None = None,
) -> SuffStats:
    """One E-step pass: sufficient statistics and log-likelihood under ``params``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Float32 or float64 data (validated by the caller).
    params : GMMParams
        Current parameters.
    family : CovarianceFamily
        Covariance family of ``params``.
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights; None means all ones.
    n_threads : int, default=1
        Threads over chunks. The result does not depend on it.
    rows : int, default=None
        Rows per chunk; None picks :func:`chunk_rows`.

    Returns
    -------
    SuffStats
        Statistics centred on ``params.center()``, with ``loglik`` the weighted
        sum of ``log p(x_i)``. With a noise component, a :class:`NoiseStats`:
        the statistics of the Gaussians and the noise responsibility mass.
    """
    n_samples, n_features = X.shape
    n_components = params.n_components
    if (
        USE_COMPILED
        and kernels.loaded()
        and rows is None
        and X.dtype == np.float64
        and n_samples * family.n_moments(n_components, n_features) <= COMPILED_MAX_WORK
    ):
        stats = _e_step_compiled(X, params, family, sample_weight)
        if stats is not None:
            return stats
    rows = rows or chunk_rows(family, n_components, n_features)
    if n_samples <= rows and not params.has_noise:
        return _e_step_one_chunk(X, params, family, sample_weight)
    shift, prep = _prepare(params, family, X.dtype, log_weights=True)
    noise_term = params.noise_log_term() if params.has_noise else None
    job = _Pass(X, family, n_components, rows, n_threads)

    def work(start: int, stop: int) -> ChunkMoments:
        xcT, Z = job.chunk(start, stop, shift)
        LT = family.log_prob_T(xcT, Z, prep)
        if noise_term is None:
            log_norm, s = _normalise(LT)
        else:
            log_norm, s, noise = _normalise_noise(LT, noise_term)
        if sample_weight is None:
            loglik = float(np.sum(log_norm, dtype=np.float64))
            rw: FloatArray = np.ones(stop - start)
            scale = 1.0 / s
        else:
            rw = sample_weight[start:stop]
            loglik = float(log_norm.astype(np.float64) @ rw)
            scale = rw / s
        LT *= scale
        R = LT.astype(np.float64, copy=False)
        if noise_term is None:
            return family.moments(R, Z, xcT, rw), loglik, 0.0
        # The Gaussians' share of each row's weight (the tied family's scatter).
        noise_mass = float(np.sum(noise * scale, dtype=np.float64))
        return family.moments(R, Z, xcT, R.sum(axis=0)), loglik, noise_mass

    return job.summed(work, shift, sample_weight, params.noise_log_density)


def _prediction_pass(
    X: FloatArray, params: GMMParams, family: CovarianceFamily, n_threads: int
) -> _Pass:
    """The pass of a prediction: chunks of :func:`chunk_rows` rows."""
    n_components = params.n_components
    rows = chunk_rows(family, n_components, X.shape[1])
    return _Pass(X, family, n_components, rows, n_threads)


#: The compiled kernels by storage shape once imported (False when numba
#: cannot be imported), and the kernel found for each family class (None: the
#: NumPy path).
_compiled_kernels: dict[type[CovarianceFamily], Callable[..., Any]] | bool | None = None
_KERNEL_OF: dict[type[CovarianceFamily], Callable[..., Any] | None] = {}

#: The methods of a storage shape whose work a kernel does: a family that
#: overrides one of them keeps the NumPy path.
_KERNEL_REPLACES: Final = (
    "prepare",
    "log_prob_T",
    "moment_design",
    "moments",
    "unpack",
    "precisions",
    "log_det_cholesky",
    "_design_terms",
)


def _compiled_kernel(family: CovarianceFamily) -> Callable[..., Any] | None:
    """The compiled E-step of the family's storage shape, or None (NumPy path).

    numba is imported on first use only (it takes a fraction of a second),
    and a missing or broken numba leaves the NumPy path.
    """
    global _compiled_kernels
    cls = type(family)
    if cls in _KERNEL_OF:
        return _KERNEL_OF[cls]
    if _compiled_kernels is None:
        try:
            from gaussmix.core._compiled_estep import (
                estep_diag,
                estep_full,
                estep_spherical,
                estep_tied,
            )
        except ImportError:  # numba is optional
            _compiled_kernels = False
        else:
            _compiled_kernels = {
                Full: estep_full,
                Tied: estep_tied,
                Diag: estep_diag,
                Spherical: estep_spherical,
            }
    kernel = None
    if isinstance(_compiled_kernels, dict):
        for shape, fn in _compiled_kernels.items():
            if isinstance(family, shape):
                same = all(
                    getattr(cls, name, None) is getattr(shape, name, None)
                    for name in _KERNEL_REPLACES
                )
                kernel = fn if same else None
                break
    _KERNEL_OF[cls] = kernel
    return kernel


def _float64_c(a: FloatArray) -> FloatArray:
    """``a`` as a writeable C-contiguous float64 array (one compiled signature)."""
    flags = a.flags
    if a.dtype == np.float64 and flags.c_contiguous and flags.writeable:
        return a
    return np.array(a, dtype=np.float64, order="C")


_NO_WEIGHTS: Final = np.empty(0)


def _e_step_compiled(
    X: FloatArray,
    params: GMMParams,
    family: CovarianceFamily,
    sample_weight: FloatArray | None,
) -> SuffStats | None:
    """:func:`e_step` by the compiled kernel of the family's shape, if it has one.

    None when the NumPy path must run: no kernel (numba missing, a family that
    is not one of the four shapes' E-steps, the full family beyond its packed
    design), or a row whose log-density is not finite (the NumPy path raises
    the error). The same statistics up to rounding.
    """
    kernel = _compiled_kernel(family)
    if kernel is None:
        return None
    n_samples, n_features = X.shape
    if isinstance(family, Full) and n_features > family.packed_max_features:
        return None
    if family.multivariate_model is not None:
        family.check_n_features(n_features)  # as prepare does (E and V)
    shift = params.center()
    has_noise = params.noise_log_density is not None
    noise_term = params.noise_log_term() if has_noise else 0.0
    nk, sx, sxx, loglik, noise_mass, status = kernel(
        _float64_c(X),
        shift,
        _float64_c(params.weights),
        _float64_c(params.means),
        _float64_c(params.precisions_cholesky),
        _NO_WEIGHTS if sample_weight is None else _float64_c(sample_weight),
        has_noise,
        noise_term,
    )
    if status != 0:  # _compiled_estep.OK
        return None
    weight = float(n_samples if sample_weight is None else np.sum(sample_weight))
    stats = SuffStats(nk, sx, sxx, shift, float(loglik), weight, n_samples)
    if params.noise_log_density is None:
        return stats
    return stats.with_noise(noise_mass, params.noise_log_density)


def _e_step_one_chunk(
    X: FloatArray,
    params: GMMParams,
    family: CovarianceFamily,
    sample_weight: FloatArray | None,
) -> SuffStats:
    """:func:`e_step` for data that fit in one chunk (and no noise component).

    The same operations as the chunked pass, in the same order (so the same
    numbers), without its bookkeeping: no closure, no chunk list, no thread
    pool, one ``errstate``. For small data (a selection grid on a few hundred
    rows) that bookkeeping was about a third of the E-step.
    """
    n_samples, n_features = X.shape
    n_components = params.n_components
    # divide: log(0) of a zero weight (never chosen); over/invalid: see _map_chunks.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        shift = np.asarray(params.weights @ params.means, dtype=np.float64)  # center()
        prep = family.prepare(params, shift, X.dtype, True)
        xcT = np.empty((n_features, n_samples))
        np.subtract(X.T, shift[:, None], out=xcT)  # _centred_T
        Z = family.moment_design(xcT, n_components)
        LT = family.log_prob_T(xcT, Z, prep)
        log_norm, s = _exp_normalise(LT, LT.max(axis=0))
        rw: FloatArray
        if sample_weight is None:
            loglik = float(log_norm.sum(dtype=np.float64))
            rw = np.ones(n_samples)
            LT *= 1.0 / s
            weight = float(n_samples)
        else:
            rw = sample_weight
            loglik = float(log_norm.astype(np.float64) @ rw)
            LT *= rw / s
            weight = float(np.sum(sample_weight))
        flat = family.moments(LT.astype(np.float64, copy=False), Z, xcT, rw)
    nk, sx, sxx = family.unpack(flat, n_components, n_features)
    return SuffStats(nk, sx, sxx, shift, loglik, weight, n_samples)


def stats_from_resp(
    X: FloatArray,
    resp: FloatArray | RespFn,
    family: CovarianceFamily,
    n_components: int,
    shift: FloatArray,
    sample_weight: FloatArray | None = None,
    *,
    noise_log_density: float | None = None,
    rows: int | None = None,
    n_threads: int = 1,
) -> SuffStats:
    """Statistics from given responsibilities (initialisation, ``resp_init``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    resp : ndarray of shape (n_samples, n_components) or callable
        Responsibilities, or ``resp(start, stop)`` returning those of a chunk
        (so that they need not exist for all rows at once). Rows need not sum
        to one. With ``noise_log_density``, one more column (the last): the
        noise responsibilities.
    family : CovarianceFamily
        Covariance family.
    n_components : int
        Number of components.
    shift : ndarray of shape (n_features,)
        Centring point of the statistics.
    sample_weight : ndarray of shape (n_samples,), default=None
        Sample weights.
    noise_log_density : float, default=None
        ``log(1 / V)`` of a noise component whose responsibilities are the last
        column of ``resp``; None means no noise column.
    rows, n_threads : int
        As in :func:`e_step`.

    Returns
    -------
    SuffStats
        Statistics with ``loglik = 0``; a :class:`NoiseStats` (with the noise
        responsibility mass) when ``noise_log_density`` is given.
    """
    n_features = X.shape[1]
    rows = rows or chunk_rows(family, n_components, n_features)
    shift = np.asarray(shift, dtype=np.float64)
    get: RespFn = resp if callable(resp) else (lambda s, e: resp[s:e])
    has_noise = noise_log_density is not None
    job = _Pass(X, family, n_components, rows, n_threads)

    def work(start: int, stop: int) -> ChunkMoments:
        xcT, Z = job.chunk(start, stop, shift)
        R = np.asarray(get(start, stop), dtype=np.float64).T.copy()
        if sample_weight is not None:
            R *= sample_weight[start:stop]
        noise_mass = 0.0
        if has_noise:
            noise_mass = float(np.sum(R[n_components]))
            R = R[:n_components]
        return family.moments(R, Z, xcT, R.sum(axis=0)), 0.0, noise_mass

    noise = None if noise_log_density is None else float(noise_log_density)
    return job.summed(work, shift, sample_weight, noise)


def estimate_log_prob(
    X: FloatArray,
    params: GMMParams,
    family: CovarianceFamily,
    *,
    weighted: bool = True,
    n_threads: int = 1,
) -> FloatArray:
    """Per-component log-densities, ``(n_samples, n_components)``.

    With ``weighted=True`` (default) the log mixing weights are added, giving
    ``log(weights_k * N(x | mean_k, cov_k))``. The result has ``X``'s dtype.
    """
    job = _prediction_pass(X, params, family, n_threads)
    shift, prep = _prepare(params, family, X.dtype, log_weights=weighted)
    out = np.empty((X.shape[0], job.n_components), dtype=X.dtype)

    def work(start: int, stop: int) -> None:
        xcT, Z = job.chunk(start, stop, shift)
        out[start:stop] = family.log_prob_T(xcT, Z, prep).T

    job.run(work)
    return out


def estimate_log_prob_resp(
    X: FloatArray,
    params: GMMParams,
    family: CovarianceFamily,
    *,
    n_threads: int = 1,
    want_resp: bool = True,
) -> tuple[FloatArray, FloatArray | None, IntArray]:
    """Mixture log-density, responsibilities and hard labels of every row.

    With a noise component (``params.has_noise``) the log-density includes the
    noise term, ``resp`` has one more column (the last, the noise) and rows
    most likely noise are labelled ``-1`` (a tie goes to the Gaussian, as
    mclust's ``map`` picks the first largest column).

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
        ``log p(x_i)`` under the mixture.
    resp : ndarray of shape (n_samples, n_components [+ 1]) or None
        Responsibilities (posterior probabilities), if ``want_resp``.
    labels : ndarray of shape (n_samples,)
        ``argmax_k`` of the responsibilities (``-1`` for the noise).
    """
    n_samples = X.shape[0]
    n_components = params.n_components
    job = _prediction_pass(X, params, family, n_threads)
    shift, prep = _prepare(params, family, X.dtype, log_weights=True)
    noise_term = params.noise_log_term() if params.has_noise else None
    log_norm_out = np.empty(n_samples, dtype=X.dtype)
    labels = np.empty(n_samples, dtype=np.intp)
    columns = n_components + (noise_term is not None)
    resp_out = np.empty((n_samples, columns), dtype=X.dtype) if want_resp else None

    def work(start: int, stop: int) -> None:
        xcT, Z = job.chunk(start, stop, shift)
        LT = family.log_prob_T(xcT, Z, prep)
        best = np.argmax(LT, axis=0)
        if noise_term is None:
            labels[start:stop] = best
            log_norm, s = _normalise(LT)
        else:
            is_noise = noise_term > LT[best, np.arange(LT.shape[1])]
            labels[start:stop] = np.where(is_noise, -1, best)
            log_norm, s, noise = _normalise_noise(LT, noise_term)
        log_norm_out[start:stop] = log_norm
        if resp_out is not None:
            LT /= s
            resp_out[start:stop, :n_components] = LT.T
            if noise_term is not None:
                resp_out[start:stop, n_components] = noise / s

    job.run(work)
    return log_norm_out, resp_out, labels
