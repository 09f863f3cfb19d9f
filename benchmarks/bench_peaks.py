"""Benchmark: Gaussian peaks by weighted EM against least squares (curve_fit).

Run: ``.venv/bin/python benchmarks/bench_peaks.py [--spectra N] [--quick]``.

Random spectra of Poisson counts on 500 channels of ``[0, 100]``: 2 to 5 peaks
with widths ``sigma`` uniform in [1, 4], areas uniform in [500, 5000] counts,
centres in [10, 90] at least ``sigma_i + sigma_j`` apart (so some pairs overlap
strongly), over a flat baseline of 0 to 10 counts per channel.

Two methods get the true number of peaks and the same initial guesses (the most
prominent maxima of :func:`gaussmix.apps.peaks.initial_peaks`, i.e.
``scipy.signal.find_peaks`` on the lightly smoothed curve; missing ones are
copies of the largest guess shifted by one width):

* :func:`gaussmix.apps.peaks.fit_peaks` with ``baseline=True`` (weighted EM,
  which also tries a start grown from the residual of the fit with one peak
  fewer);
* :func:`scipy.optimize.curve_fit` of ``c + sum_k A_k exp(-(x - mu_k)^2 / (2
  s_k^2))`` with its defaults (Levenberg-Marquardt, unweighted).

A fit *fails* when curve_fit raises (no convergence) or returns non-finite
values; it is *nonsense* when, after the best one-to-one matching of fitted to
true peaks, a centre is off by more than two true widths, an area by more than
half, or an amplitude or width is negative. Errors are medians over the sound
fits: centre in units of the true width, width and area relative. Also: how
often ``fit_peaks`` with ``n_peaks=None`` picks the true number by BIC. Times
are medians of one process on a shared machine (noisy).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit, linear_sum_assignment

from gaussmix.apps.peaks import fit_peaks, initial_peaks
from gaussmix.exceptions import ConvergenceWarning

SQRT_2PI = math.sqrt(2.0 * math.pi)


def make_spectrum(rng: np.random.Generator) -> tuple[Any, Any, Any, float]:
    x = np.linspace(0.0, 100.0, 500)
    dx = float(x[1] - x[0])
    k = int(rng.integers(2, 6))
    while True:
        centers = np.sort(rng.uniform(10, 90, k))
        sigmas = rng.uniform(1, 4, k)
        gaps = np.diff(centers)
        if np.all(gaps >= sigmas[:-1] + sigmas[1:]):
            break
    areas = rng.uniform(500, 5000, k)
    baseline = rng.uniform(0, 10)
    lam = baseline + sum(
        a / (s * SQRT_2PI) * np.exp(-0.5 * ((x - c) / s) ** 2) * dx
        for c, s, a in zip(centers, sigmas, areas, strict=True)
    )
    y = rng.poisson(lam).astype(float)
    truth = np.column_stack([centers, sigmas, areas])
    return x, y, truth, dx


def guesses(x: Any, y: Any, k: int) -> list[tuple[float, float, float]]:
    """(centre, sigma, amplitude) of the k most prominent maxima, padded."""
    found = [(g.center, g.sigma, g.amplitude) for g in initial_peaks(x, y, k)]
    c, s, a = found[0]
    shift = 1
    while len(found) < k:
        found.append((c + shift * s, s, a / 2))
        shift = -shift if shift > 0 else -shift + 1
    return found


def model(x: Any, *p: float) -> Any:
    out = np.full_like(x, p[0])
    for c, s, a in zip(p[1::3], p[2::3], p[3::3], strict=True):
        out = out + a * np.exp(-0.5 * ((x - c) / s) ** 2)
    return out


def fit_curve_fit(x: Any, y: Any, k: int, dx: float) -> Any:
    p0 = [float(np.percentile(y, 10))]
    for c, s, a in guesses(x, y, k):
        p0 += [c, s, a]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        p, _ = curve_fit(model, x, y, p0=p0)
    c, s, a = p[1::3], p[2::3], p[3::3]
    # Area in counts: amplitude (counts per channel) * s * sqrt(2 pi) / dx.
    return np.column_stack([c, s, a * s * SQRT_2PI / dx])


def fit_em(x: Any, y: Any, k: int, dx: float) -> Any:
    result = fit_peaks(x, y, n_peaks=k, baseline=True)
    return np.array([[p.center, p.sigma, p.area / dx] for p in result.peaks])


def judge(found: Any, truth: Any) -> tuple[str, Any]:
    if found is None or not np.all(np.isfinite(found)):
        return "failed", None
    if np.any(found[:, 2] < 0):  # a negative area: a negative amplitude
        return "nonsense", None
    found = found.copy()
    found[:, 1] = np.abs(found[:, 1])  # the sign of s does not matter
    cost = np.abs(found[:, None, 0] - truth[None, :, 0]) / truth[None, :, 1]
    rows, cols = linear_sum_assignment(cost)
    f, t = found[rows], truth[cols]
    center = np.abs(f[:, 0] - t[:, 0]) / t[:, 1]
    sigma = np.abs(f[:, 1] - t[:, 1]) / t[:, 1]
    area = np.abs(f[:, 2] - t[:, 2]) / t[:, 2]
    if np.any(center > 2) or np.any(area > 0.5):
        return "nonsense", None
    return "ok", np.column_stack([center, sigma, area])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spectra", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="2 spectra (tests)")
    args = parser.parse_args(argv)
    n_spectra = 2 if args.quick else args.spectra
    rng = np.random.default_rng(2024)
    methods = {"gaussmix fit_peaks (EM)": fit_em, "scipy curve_fit (LM)": fit_curve_fit}
    outcome: dict[str, list[str]] = {m: [] for m in methods}
    errors: dict[str, list[Any]] = {m: [] for m in methods}
    times: dict[str, list[float]] = {m: [] for m in methods}
    bic_right = 0
    not_converged = 0
    for _ in range(n_spectra):
        x, y, truth, dx = make_spectrum(rng)
        k = truth.shape[0]
        for name, fit in methods.items():
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                try:
                    found = fit(x, y, k, dx)
                except (RuntimeError, ValueError):
                    found = None
            times[name].append(time.perf_counter() - t0)
            not_converged += any(
                issubclass(c.category, ConvergenceWarning) for c in caught
            )
            status, err = judge(found, truth)
            outcome[name].append(status)
            if err is not None:
                errors[name].append(err)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bic_right += fit_peaks(x, y, baseline=True).n_peaks == k

    print(
        f"{n_spectra} random spectra (2-5 peaks, Poisson counts, flat baseline); "
        "true number of peaks given"
    )
    print(
        f"{'method':24} {'failed':>7} {'nonsense':>8} {'centre/sigma':>12} "
        f"{'sigma rel':>9} {'area rel':>8} {'time s':>7}"
    )
    table: dict[str, Any] = {}
    for name in methods:
        fail = outcome[name].count("failed") / n_spectra
        bad = outcome[name].count("nonsense") / n_spectra
        err = np.vstack(errors[name]) if errors[name] else np.full((1, 3), np.nan)
        med = np.median(err, axis=0)
        t = statistics.median(times[name])
        print(
            f"{name:24} {fail:7.1%} {bad:8.1%} {med[0]:12.3f} {med[1]:9.3f} "
            f"{med[2]:8.3f} {t:7.3f}"
        )
        table[name] = {"failed": fail, "nonsense": bad, "median_errors": med, "time": t}
    print(
        "errors: medians over every peak of the sound fits (centre in true widths, "
        "width and area relative)"
    )
    print(
        f"fit_peaks with n_peaks=None (BIC, n = sum(y)): right number of peaks in "
        f"{bic_right}/{n_spectra}"
    )
    print(
        f"fit_peaks warned that EM reached max_iter=2000 before tol=1e-9 in "
        f"{not_converged}/{n_spectra} spectra (counted above as they came out)"
    )
    table["bic_right"] = bic_right / n_spectra
    table["not_converged"] = not_converged / n_spectra
    return table


if __name__ == "__main__":
    main()
