"""Decompose a non-negative curve into Gaussian peaks by weighted EM.

A curve ``y(x) >= 0`` — a spectrum, a chromatogram, a histogram — is read as a
density of "events" along ``x``: each sample ``x_i`` is a data point of weight
``y_i dx_i``. A one-dimensional :class:`gaussmix.GaussianMixture` fitted to these
weighted points gives each peak's centre (mean), width (standard deviation) and
area (weight times the curve's integral). A constant baseline is an extra
uniform component over the ``x`` range; by default the fit is made with and
without it and BIC chooses.

Unlike least-squares fitting of a sum of Gaussians
(:func:`scipy.optimize.curve_fit`), EM needs no step sizes, keeps every area and
width positive, and increases the likelihood at every step; it does not diverge.
Where ``y`` are counts (events per bin) the weighted log-likelihood is the binned
Poisson likelihood of the peak shapes, and BIC can choose the number of peaks.

The baseline is the estimator's noise component (``noise=V`` with ``V`` the
length of the ``x`` range): a uniform density whose proportion EM estimates
with the peaks.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal
from scipy.ndimage import gaussian_filter1d

from gaussmix._typing import FloatArray
from gaussmix.exceptions import ConvergenceWarning, DegenerateComponentWarning
from gaussmix.mixture import GaussianMixture

__all__ = ["Peak", "PeakFitResult", "PeakFitWarning", "fit_peaks", "initial_peaks"]

# Every start is run to this tolerance; only the best is refined to ``tol``.
_SCREEN_TOL = 1e-6
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_BASELINE_OPTIONS = (False, True, "auto")


class PeakFitWarning(UserWarning):
    """A choice of :func:`fit_peaks` rests on an assumption the data break.

    Issued when ``sample_size`` is left to default to ``sum(y)`` on a curve
    that is not counts (non-integer values) while BIC chooses the number of
    peaks or the baseline: BIC's penalty then rests on an arbitrary ``n``.
    """


@dataclass(frozen=True)
class Peak:
    """One Gaussian peak: ``amplitude * exp(-(x - center)^2 / (2 sigma^2))``.

    Parameters
    ----------
    center : float
        Position of the maximum.
    sigma : float
        Standard deviation (width); the full width at half maximum is
        :attr:`fwhm`.
    area : float
        Integral of the peak over ``x``, in the units of ``y`` times ``x``.
    amplitude : float
        Height at the centre: ``area / (sigma sqrt(2 pi))``.
    """

    center: float
    sigma: float
    area: float
    amplitude: float

    @property
    def fwhm(self) -> float:
        """Full width at half maximum, ``2 sqrt(2 ln 2) sigma``."""
        return _FWHM_PER_SIGMA * self.sigma

    def __call__(self, x: Any) -> FloatArray:
        """The peak's curve at ``x``."""
        z = (np.asarray(x, dtype=np.float64) - self.center) / self.sigma
        return np.asarray(self.amplitude * np.exp(-0.5 * z * z), dtype=np.float64)


@dataclass
class PeakFitResult:
    """What :func:`fit_peaks` found.

    Parameters
    ----------
    peaks : list of Peak
        The peaks, by increasing centre.
    baseline : float
        Constant baseline level (0 when fitted without one).
    model : GaussianMixture
        The fitted one-dimensional mixture of the peaks (its weights are the
        peaks' shares of the peak area, without the baseline).
    baseline_weight : float
        Share of the curve's integral in the baseline.
    total_area : float
        Integral of ``y`` over ``x`` (trapezoid-like sample widths).
    sample_size : float
        The number of events the likelihood counts (``n`` of BIC).
    log_likelihood : float
        Weighted log-likelihood of the fit, with weights summing to
        ``sample_size``.
    bic : float
        ``-2 log_likelihood + n_parameters log(sample_size)`` (lower is better).
    n_parameters : int
        Free parameters: ``3 K - 1`` for ``K`` peaks, plus 1 with a baseline.
    converged : bool
        Whether EM reached its tolerance.
    n_iter : int
        EM iterations (outer iterations when fitted with a baseline).
    bic_by_n_peaks : dict of int to float
        BIC of every number of peaks tried (one entry when ``n_peaks`` is given),
        with the chosen baseline setting.
    baseline_fitted : bool
        Whether the chosen fit has a baseline (with ``baseline="auto"``: whether
        BIC chose one).
    bic_by_baseline : dict of bool to float
        BIC of the best fit without (False) and with (True) a baseline; one
        entry unless ``baseline="auto"``.
    """

    peaks: list[Peak]
    baseline: float
    model: GaussianMixture
    baseline_weight: float
    total_area: float
    sample_size: float
    log_likelihood: float
    bic: float
    n_parameters: int
    converged: bool
    n_iter: int
    bic_by_n_peaks: dict[int, float] = field(default_factory=dict)
    baseline_fitted: bool = False
    bic_by_baseline: dict[bool, float] = field(default_factory=dict)

    @property
    def n_peaks(self) -> int:
        """Number of peaks."""
        return len(self.peaks)

    def curve(self, x: Any) -> FloatArray:
        """The fitted curve at ``x``: baseline plus the sum of the peaks.

        Parameters
        ----------
        x : array-like
            Positions.

        Returns
        -------
        ndarray
            ``baseline + sum_k peak_k(x)``, shaped as ``x``.
        """
        x = np.asarray(x, dtype=np.float64)
        total = np.full(x.shape, self.baseline, dtype=np.float64)
        for peak in self.peaks:
            total += peak(x)
        return total


# --------------------------------------------------------------- validation
def _check_curve(x: Any, y: Any) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(
            f"fit_peaks: x and y must be 1-D arrays of the same length, got shapes "
            f"{x.shape} and {y.shape}."
        )
    if x.size < 3:
        raise ValueError(f"fit_peaks: need at least 3 samples, got {x.size}.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("fit_peaks: x and y must be finite (no NaN or infinity).")
    if np.any(y < 0):
        raise ValueError(
            f"fit_peaks: y must be non-negative (found {int(np.sum(y < 0))} negative "
            f"value(s), the lowest {y.min():.4g}). Subtract less baseline, or clip "
            "noise below zero with np.clip(y, 0, None)."
        )
    if not np.any(y > 0):
        raise ValueError("fit_peaks: y is zero everywhere; there is nothing to fit.")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) <= 0):
        raise ValueError("fit_peaks: x contains repeated values; give each x once.")
    return x, y


def _sample_widths(x: FloatArray) -> FloatArray:
    """Width of x each sample stands for (half the gaps to its neighbours)."""
    gaps = np.diff(x)
    widths = np.empty_like(x)
    widths[0], widths[-1] = gaps[0] / 2.0, gaps[-1] / 2.0
    widths[1:-1] = (gaps[:-1] + gaps[1:]) / 2.0
    return widths


# ----------------------------------------------------------- initial guesses
def initial_peaks(
    x: Any, y: Any, max_peaks: int | None = None, smooth: float = 1.0
) -> list[Peak]:
    """Peaks found by :func:`scipy.signal.find_peaks`, most prominent first.

    The curve is smoothed with a Gaussian of ``smooth`` samples (which keeps
    noise from making peaks), then each local maximum gives a centre, a height
    (its prominence) and a width (from :func:`scipy.signal.peak_widths` at half
    the prominence).

    Parameters
    ----------
    x, y : array-like of shape (n_samples,)
        The curve.
    max_peaks : int or None, default=None
        Keep at most this many, the most prominent.
    smooth : float, default=1.0
        Standard deviation of the smoothing, in samples (0: none).

    Returns
    -------
    list of Peak
        The guesses, by decreasing prominence.
    """
    x, y = _check_curve(x, y)
    ys = gaussian_filter1d(y, smooth, mode="nearest") if smooth > 0 else y
    index, props = signal.find_peaks(ys, prominence=0.0)
    if index.size == 0:  # monotone curve: its maximum is at an end
        index = np.array([int(np.argmax(ys))])
        props = {"prominences": np.array([float(ys.max() - ys.min()) or 1.0])}
    prominence = np.asarray(props["prominences"], dtype=np.float64)
    order = np.argsort(-prominence, kind="stable")
    if max_peaks is not None:
        order = order[:max_peaks]
    index, prominence = index[order], prominence[order]
    half = signal.peak_widths(ys, index, rel_height=0.5)
    samples = np.arange(x.size, dtype=np.float64)
    left = np.interp(half[2], samples, x)
    right = np.interp(half[3], samples, x)
    spacing = float(np.median(np.diff(x)))
    guesses = []
    for i, height, lo, hi in zip(index, prominence, left, right, strict=True):
        sigma = max((hi - lo) / _FWHM_PER_SIGMA, spacing)
        guesses.append(
            Peak(
                center=float(x[i]),
                sigma=float(sigma),
                area=float(height * sigma * _SQRT_2PI),
                amplitude=float(height),
            )
        )
    return guesses


# ---------------------------------------------------------------- the EM fit
@dataclass
class _Fit:
    model: GaussianMixture
    baseline_weight: float
    log_likelihood: float
    converged: bool
    n_iter: int


def _fit_em(
    X: FloatArray,
    w: FloatArray,
    guesses: list[Peak],
    baseline_span: float | None,
    reg_covar: float,
    tol: float,
    max_iter: int,
    seed: Any,
) -> _Fit:
    """Weighted EM from the guesses; ``w`` sums to the sample size.

    With ``baseline_span`` the mixture gets a noise component, uniform over
    an interval of that length (the estimator's ``noise=V``).
    """
    areas = np.array([max(g.area, 1e-12) for g in guesses])
    gm = GaussianMixture(
        n_components=len(guesses),
        covariance_type="full",
        weights_init=areas / areas.sum(),
        means_init=np.array([[g.center] for g in guesses]),
        precisions_init=np.array([[[1.0 / (g.sigma**2 + reg_covar)]] for g in guesses]),
        reg_covar=reg_covar,
        tol=tol,
        max_iter=max_iter,
        noise=baseline_span,
        random_state=seed,
    )
    with warnings.catch_warnings():
        # Judged by the caller on the chosen fit; a component that empties
        # while BIC tries too many peaks is re-seeded and costs BIC, no warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        gm.fit(X, sample_weight=w)
    loglik = float(gm.score_samples(X).astype(np.float64) @ w)
    noise = float(getattr(gm, "noise_weight_", 0.0))
    return _Fit(gm, noise, loglik, bool(gm.converged_), int(gm.n_iter_))


def _refine(fit: _Fit, X: FloatArray, w: FloatArray, tol: float, max_iter: int) -> _Fit:
    """Continue EM from a screened fit down to the final tolerance."""
    gm = fit.model.set_params(warm_start=True, tol=tol, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        gm.fit(X, sample_weight=w)
    gm.set_params(warm_start=False)
    loglik = float(gm.score_samples(X).astype(np.float64) @ w)
    noise = float(getattr(gm, "noise_weight_", 0.0))
    return _Fit(gm, noise, loglik, bool(gm.converged_), fit.n_iter + int(gm.n_iter_))


def _peaks_of(fit: _Fit, total_area: float) -> list[Peak]:
    gm = fit.model
    reg = gm.em_control().reg_covar
    peaks = []
    for k in range(gm.n_components):
        var = float(gm.covariances_[k].ravel()[0]) - reg
        sigma = math.sqrt(max(var, 1e-6 * reg, np.finfo(np.float64).tiny))
        area = float(gm.weights_[k]) * total_area  # weights_ exclude the noise
        peaks.append(
            Peak(
                center=float(gm.means_[k, 0]),
                sigma=sigma,
                area=area,
                amplitude=area / (sigma * _SQRT_2PI),
            )
        )
    return sorted(peaks, key=lambda p: p.center)


def _residual_guess(
    x: FloatArray, y: FloatArray, fit: _Fit, total_area: float, span: float
) -> list[Peak]:
    """The previous fit's peaks plus one where the curve exceeds the fit most."""
    peaks = _peaks_of(fit, total_area)
    level = fit.baseline_weight * total_area / span
    fitted = level + sum((p(x) for p in peaks), np.zeros_like(x))
    residual = gaussian_filter1d(y - fitted, 1.0, mode="nearest")
    i = int(np.argmax(residual))
    sigma = float(np.median([p.sigma for p in peaks]))
    height = max(float(residual[i]), 1e-12)
    new = Peak(float(x[i]), sigma, height * sigma * _SQRT_2PI, height)
    return [*peaks, new]


def _split_guess(fit: _Fit, total_area: float) -> list[Peak]:
    """The previous fit's peaks with the widest split in two (a hidden doublet)."""
    peaks = _peaks_of(fit, total_area)
    widest = max(range(len(peaks)), key=lambda j: peaks[j].sigma)
    p = peaks.pop(widest)
    half = Peak(p.center, 0.6 * p.sigma, p.area / 2, p.amplitude / 1.2)
    return [
        *peaks,
        Peak(p.center - 0.6 * p.sigma, half.sigma, half.area, half.amplitude),
        Peak(p.center + 0.6 * p.sigma, half.sigma, half.area, half.amplitude),
    ]


def _n_parameters(k: int, baseline: bool) -> int:
    return 3 * k - 1 + (1 if baseline else 0)


def fit_peaks(
    x: Any,
    y: Any,
    n_peaks: int | None = None,
    *,
    baseline: bool | str = "auto",
    max_peaks: int = 8,
    sample_size: float | None = None,
    smooth: float = 1.0,
    reg_covar: float | None = None,
    tol: float = 1e-9,
    max_iter: int = 2000,
    random_state: Any = None,
) -> PeakFitResult:
    """Decompose a non-negative curve ``y(x)`` into Gaussian peaks.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        Positions (any order, no repeats; sorted internally). The spacing may
        vary: each sample weighs ``y_i`` times the width of ``x`` it stands for.
    y : array-like of shape (n_samples,)
        Non-negative curve: counts, intensities, a histogram.
    n_peaks : int or None, default=None
        Number of peaks; None chooses 1 to ``max_peaks`` by BIC.
    baseline : {"auto", True, False}, default="auto"
        Fit a constant baseline (a uniform component over the ``x`` range):
        True always, False never, "auto" fits both ways and keeps the lower
        BIC (``baseline_fitted`` in the result says which). A positive noise
        floor fitted without a baseline pulls the peaks towards the middle of
        the range and adds spurious ones; a baseline where there is none costs
        one parameter of BIC.
    max_peaks : int, default=8
        Largest number of peaks BIC tries (it stops early once BIC has risen
        for two numbers in a row).
    sample_size : float or None, default=None
        The ``n`` of the likelihood and of BIC: the weights ``y_i dx_i`` are
        scaled to sum to it. None uses ``sum(y)``, right when ``y`` are counts
        (events per sample). The choice matters for BIC only: likelihood grows
        with ``n`` and the penalty with ``log n``, so intensities in arbitrary
        units (``y`` times 1000) make BIC pick more peaks, and a curve scaled
        down (normalised to a maximum of 1) fewer: it may merge a doublet. Give
        the number of events when it is known; for curves that are not counts,
        choose it deliberately (or pass ``n_peaks`` and ``baseline``). A
        :class:`PeakFitWarning` says so when BIC chooses something on ``y``
        that are not counts (non-integer values) with ``sample_size`` left to
        default. The fitted peaks do not depend on it.
    smooth : float, default=1.0
        Smoothing (in samples) of the curve before the initial peak search.
    reg_covar : float or None, default=None
        Added to each variance during EM and taken off the reported ``sigma``;
        None uses ``dx^2 / 12`` (``dx`` the median spacing of ``x``), the
        variance of a sample smeared over its bin, which keeps a peak from
        collapsing onto a single sample.
    tol : float, default=1e-9
        EM stops when the per-event log-likelihood changes less than this.
    max_iter : int, default=2000
        Maximum EM iterations per fit.
    random_state : int, RandomState instance or None, default=None
        Passed to the mixture (the initialisation itself is deterministic).

    Returns
    -------
    PeakFitResult
        ``peaks`` (centre, sigma, area, amplitude, by increasing centre),
        ``baseline``, whether one was fitted (``baseline_fitted``), the fitted
        ``model``, ``bic`` and more.

    Raises
    ------
    ValueError
        For a negative, non-finite or all-zero ``y``, mismatched or repeated
        ``x``, or bad parameters.

    Warns
    -----
    PeakFitWarning
        When ``sample_size`` defaults to ``sum(y)`` for ``y`` that are not
        counts while BIC chooses the number of peaks or the baseline.

    Notes
    -----
    ``K`` peaks are fitted from up to three starts and the highest likelihood
    is kept: the ``K`` most prominent maxima of :func:`initial_peaks`
    (``scipy.signal.find_peaks`` on the smoothed curve); the fit with ``K - 1``
    peaks plus one where the curve exceeds that fit the most (which finds
    shoulders, that are no local maxima); and the fit with ``K - 1`` peaks with
    its widest peak split in two (a doublet first fitted as one wide peak).
    Every number of peaks up to ``n_peaks`` is therefore fitted, one after the
    other; with ``baseline="auto"`` all of this twice, without and with a
    baseline.

    ``y`` is read as the curve sampled at ``x_i`` (each sample weighs
    ``y_i dx_i``). For a histogram of events (counts integrated over bins) the
    fitted variances include the bins' own ``dx^2 / 12`` (Sheppard): negligible
    when peaks span many bins.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix.apps.peaks import fit_peaks
    >>> x = np.linspace(0, 12, 601)
    >>> y = 30 * np.exp(-0.5 * ((x - 3) / 0.4) ** 2) + 10 * np.exp(-0.5 * (x - 7) ** 2)
    >>> result = fit_peaks(x, y, n_peaks=2, baseline=False)
    >>> [round(p.center, 3) for p in result.peaks]
    [3.0, 7.0]
    >>> [round(p.sigma, 2) for p in result.peaks]
    [0.4, 1.0]
    """
    x, y = _check_curve(x, y)
    if n_peaks is not None and (
        isinstance(n_peaks, bool)
        or not isinstance(n_peaks, (int, np.integer))
        or n_peaks < 1
    ):
        raise ValueError(
            f"fit_peaks: n_peaks must be a positive integer or None, got {n_peaks!r}."
        )
    if (
        isinstance(max_peaks, bool)
        or not isinstance(max_peaks, (int, np.integer))
        or max_peaks < 1
    ):
        raise ValueError(
            f"fit_peaks: max_peaks must be a positive integer, got {max_peaks!r}."
        )
    if not (
        isinstance(baseline, (bool, np.bool_))
        or (isinstance(baseline, str) and baseline == "auto")
    ):
        raise ValueError(
            f'fit_peaks: baseline must be "auto", True or False, got {baseline!r}.'
        )
    if sample_size is not None and not (np.isfinite(sample_size) and sample_size > 1):
        raise ValueError(
            f"fit_peaks: sample_size must be a number above 1 (the number of events), "
            f"got {sample_size!r}."
        )
    if sample_size is None and float(y.sum()) <= 1.0:
        raise ValueError(
            f"fit_peaks: sum(y) = {float(y.sum()):.4g} is too small to be a number of "
            "events; pass sample_size (the number of events behind the curve)."
        )
    settings = [False, True] if isinstance(baseline, str) else [bool(baseline)]
    bic_chooses = n_peaks is None or len(settings) > 1
    if sample_size is None and bic_chooses and not np.array_equal(y, np.round(y)):
        chooses = " and ".join(
            what
            for what, on in (
                ("the number of peaks", n_peaks is None),
                ("the baseline", len(settings) > 1),
            )
            if on
        )
        warnings.warn(
            f"fit_peaks: y are not counts (they have fractional values), but "
            f"sample_size defaults to sum(y) = {float(y.sum()):.4g}, the number of "
            f"events BIC assumes when it chooses {chooses}. Curves in arbitrary "
            "units get arbitrary choices (one normalised to a maximum of 1 may "
            "lose a doublet). Pass sample_size (the number of events behind the "
            "curve), or n_peaks and baseline.",
            PeakFitWarning,
            stacklevel=2,
        )
    dx = _sample_widths(x)
    mass = y * dx
    total_area = float(mass.sum())
    n = float(y.sum()) if sample_size is None else float(sample_size)
    w = mass * (n / total_area)
    X = x[:, None]
    span = float(x[-1] - x[0])
    spacing = float(np.median(np.diff(x)))
    # Each sample is smeared over its bin of width ~spacing: the bin's variance
    # spacing^2 / 12 is added to every component's during EM, which bounds the
    # likelihood (no component can collapse onto one sample); it is taken off
    # the reported sigma again.
    reg = spacing**2 / 12.0 if reg_covar is None else float(reg_covar)
    positive = int(np.count_nonzero(y > 0))

    candidates = [n_peaks] if n_peaks is not None else list(range(1, max_peaks + 1))
    top = max(candidates)
    if top > positive:
        if n_peaks is not None:
            raise ValueError(
                f"fit_peaks: n_peaks={n_peaks} needs at least as many samples with "
                f"y > 0, found {positive}."
            )
        candidates = [k for k in candidates if k <= positive]
        top = max(candidates)
    guesses = initial_peaks(x, y, max_peaks=top, smooth=smooth)

    def fit_k(k: int, previous: _Fit | None, with_baseline: bool) -> _Fit:
        # Up to three starts, the best likelihood wins: the k most prominent
        # maxima; the previous fit plus a peak where the curve exceeds it most
        # (a shoulder; not misled by a noise spike); the previous fit with its
        # widest peak split in two (a doublet fitted as one wide peak).
        starts = []
        if k <= len(guesses):
            starts.append(guesses[:k])
        if previous is not None:
            starts.append(_residual_guess(x, y, previous, total_area, span))
            starts.append(_split_guess(previous, total_area))
        fits = [
            _fit_em(
                X,
                w,
                start,
                span if with_baseline else None,
                reg,
                max(tol, _SCREEN_TOL),
                max_iter,
                random_state,
            )
            for start in starts
        ]
        best = max(fits, key=lambda f: f.log_likelihood)
        return best if tol >= _SCREEN_TOL else _refine(best, X, w, tol, max_iter)

    def search(with_baseline: bool) -> tuple[dict[int, _Fit], dict[int, float]]:
        """Every number of peaks up to ``top``, each from the fit with one fewer."""
        fits: dict[int, _Fit] = {}
        bics: dict[int, float] = {}
        previous: _Fit | None = None
        for k in range(1, top + 1):
            previous = fit_k(k, previous, with_baseline)
            fits[k] = previous
            bics[k] = -2.0 * previous.log_likelihood + _n_parameters(
                k, with_baseline
            ) * math.log(n)
            if n_peaks is None and k >= 3 and bics[k] > bics[k - 1] > bics[k - 2]:
                break
        return fits, bics

    searches = {setting: search(setting) for setting in settings}
    chosen_k: dict[bool, int] = {}
    for setting, (_, bics) in searches.items():
        options = [k for k in bics if k in candidates]
        chosen_k[setting] = (
            n_peaks if n_peaks is not None else min(options, key=lambda k: bics[k])
        )
    bic_by_baseline = {
        setting: searches[setting][1][chosen_k[setting]] for setting in settings
    }
    with_baseline = min(settings, key=lambda setting: bic_by_baseline[setting])
    fits, bics = searches[with_baseline]
    chosen = chosen_k[with_baseline]
    best = fits[chosen]
    if not best.converged:
        warnings.warn(
            f"fit_peaks: EM did not converge in max_iter={max_iter} iterations with "
            f"{chosen} peak(s); increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return PeakFitResult(
        peaks=_peaks_of(best, total_area),
        baseline=best.baseline_weight * total_area / span,
        model=best.model,
        baseline_weight=best.baseline_weight,
        total_area=total_area,
        sample_size=n,
        log_likelihood=best.log_likelihood,
        bic=bics[chosen],
        n_parameters=_n_parameters(chosen, with_baseline),
        converged=best.converged,
        n_iter=best.n_iter,
        bic_by_n_peaks={k: bics[k] for k in sorted(bics) if k in candidates},
        baseline_fitted=with_baseline,
        bic_by_baseline=bic_by_baseline,
    )
