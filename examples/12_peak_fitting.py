"""Peak fitting: decompose a spectrum into Gaussian peaks by weighted EM.

A generated spectrum of Poisson counts on 500 channels: four Gaussian peaks (two
of them overlapping, at 45 and 50) over a flat baseline of 5 counts per channel.
:func:`gaussmix.apps.peaks.fit_peaks` reads the counts as weights of the channel
positions, fits a one-dimensional mixture by EM with a uniform component for the
baseline, and picks the number of peaks by BIC (with ``n = sum(y)``, the number
of counts). The printout sets the fitted centres, widths and areas beside the
truth; the figure shows the data, the fitted curve, each peak, the baseline and
the BIC of every number of peaks tried. For comparison, ``scipy.optimize.curve_fit``
of the same model from the same initial guesses (the ``find_peaks`` maxima).

Run::

    python examples/12_peak_fitting.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import curve_fit

from gaussmix.apps.peaks import fit_peaks, initial_peaks

DPI = 90
SQRT_2PI = math.sqrt(2 * math.pi)
#: centre, sigma, area (counts) of the true peaks; baseline counts per channel.
TRUTH = [
    (20.0, 2.0, 2000.0),
    (45.0, 3.0, 3000.0),
    (50.0, 2.0, 1500.0),
    (80.0, 4.0, 4000.0),
]
BASELINE = 5.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/gallery", help="folder for the figures")
    parser.add_argument("--small", action="store_true", help="tiny sizes (tests)")
    return parser.parse_args(argv)


def save(fig: Any, out: Path, name: str) -> str:
    path = out / name
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"figure written to {path}")
    return str(path)


def sum_of_gaussians(x: Any, *p: float) -> Any:
    out = np.full_like(x, p[0])
    for c, s, a in zip(p[1::3], p[2::3], p[3::3], strict=True):
        out = out + a * np.exp(-0.5 * ((x - c) / s) ** 2)
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    x = np.linspace(0.0, 100.0, 500)
    dx = float(x[1] - x[0])
    lam = BASELINE + sum(
        a / (s * SQRT_2PI) * np.exp(-0.5 * ((x - c) / s) ** 2) * dx for c, s, a in TRUTH
    )
    y = np.random.default_rng(7).poisson(lam).astype(float)
    max_peaks = 5 if args.small else 8
    result = fit_peaks(x, y, baseline=True, max_peaks=max_peaks)
    print(
        f"{int(y.sum())} counts on {x.size} channels; BIC picks {result.n_peaks} "
        f"peaks (tried {', '.join(str(k) for k in result.bic_by_n_peaks)}), "
        f"baseline {result.baseline:.2f} counts/channel (true {BASELINE})"
    )

    # Least squares from the same initial guesses, for comparison.
    k = len(TRUTH)
    p0 = [float(np.percentile(y, 10))]
    for g in initial_peaks(x, y, max_peaks=k):
        p0 += [g.center, g.sigma, g.amplitude]
    while len(p0) < 1 + 3 * k:  # fewer maxima than peaks: copy the first
        p0 += [p0[1] + p0[2], p0[2], p0[3] / 2]
    p, _ = curve_fit(sum_of_gaussians, x, y, p0=p0, maxfev=20_000)
    ls = sorted(
        (float(c), abs(float(s)), float(a * abs(s) * SQRT_2PI / dx))
        for c, s, a in zip(p[1::3], p[2::3], p[3::3], strict=True)
    )

    print()
    print(
        f"{'':4} {'true centre':>11} {'sigma':>6} {'area':>6} | {'EM centre':>9} "
        f"{'sigma':>6} {'area':>6} | {'LS centre':>9} {'sigma':>6} {'area':>6}"
    )
    fitted = [(pk.center, pk.sigma, pk.area / dx) for pk in result.peaks]
    for i, (c, s, a) in enumerate(TRUTH):
        em = fitted[i] if i < len(fitted) else (math.nan,) * 3
        print(
            f"{i + 1:4d} {c:11.2f} {s:6.2f} {a:6.0f} | {em[0]:9.2f} {em[1]:6.2f} "
            f"{em[2]:6.0f} | {ls[i][0]:9.2f} {ls[i][1]:6.2f} {ls[i][2]:6.0f}"
        )
    print("(areas in counts; EM = fit_peaks, LS = scipy.optimize.curve_fit)")

    fig, (ax, ax_bic) = plt.subplots(
        1, 2, figsize=(12, 4.4), width_ratios=[3, 1], layout="constrained"
    )
    ax.plot(x, y, ".", color="0.55", ms=3, label="counts")
    fine = np.linspace(0, 100, 2000)
    ax.plot(fine, result.curve(fine), color="k", lw=1.5, label="fitted curve")
    for i, peak in enumerate(result.peaks):
        ax.fill_between(
            fine,
            result.baseline,
            result.baseline + peak(fine),
            color=f"C{i}",
            alpha=0.35,
            label=f"peak {i + 1}: centre {peak.center:.1f}, sigma {peak.sigma:.2f}",
        )
    ax.axhline(result.baseline, color="C7", ls="--", lw=1, label="baseline")
    ax.set_xlabel("x (channel position)")
    ax.set_ylabel("counts per channel")
    ax.set_title("fit_peaks: weighted EM with a uniform baseline")
    ax.set_ylim(top=1.45 * y.max())
    ax.legend(fontsize=8, loc="upper left", ncol=3)
    ks = list(result.bic_by_n_peaks)
    bic = np.array([result.bic_by_n_peaks[kk] for kk in ks])
    ax_bic.plot(ks, bic - bic.min(), "o-")
    ax_bic.plot([result.n_peaks], [0.0], "r*", ms=14, label="chosen")
    ax_bic.set_yscale("symlog", linthresh=10)
    ax_bic.set_xlabel("number of peaks")
    ax_bic.set_ylabel("BIC - min BIC")
    ax_bic.set_title("BIC (n = sum of counts)")
    ax_bic.legend()
    figures = [save(fig, out, "12_peak_fitting.png")]

    return {
        "n_peaks": result.n_peaks,
        "bic_by_n_peaks": dict(result.bic_by_n_peaks),
        "baseline": result.baseline,
        "fitted": fitted,
        "least_squares": ls,
        "truth": TRUTH,
        "dx": dx,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
