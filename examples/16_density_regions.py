"""Density regions: the CDF, quantiles and highest-density regions of a mixture.

A fitted density answers "how dense is the model at x?"; a density is not a
probability (it depends on the units of x and can exceed 1). Three tools of
:mod:`gaussmix.density` (R mclust's ``cdfMclust``, ``quantileMclust`` and
``hdrlevels``) turn a mixture into probabilities:

* ``cdf(model, x)``: ``P(X <= x)`` for a model of one feature;
* ``quantile(model, p)``: the value below which a share ``p`` of the model's
  mass lies (the inverse of the CDF);
* ``hdr_levels(model, X, prob)``: the density *level* ``c`` of the
  highest-density region ``{x : p(x) >= c}`` that holds a share ``prob`` of
  the data: the smallest region with that probability. The level is a
  density; the region is labelled by the probability it encloses.

One dimension: 3,000 durations from two normals (an eruption-like bimodal
sample), fitted with mclust's model ``V`` (unequal variances). The script
prints quantiles, checks that ``quantile(cdf(x)) == x``, and for each region
finds its intervals (where the density crosses the level) and its exact mass
from the CDF, which should be about the probability asked for. Two
dimensions: three clusters, 1,500 points, the regions as filled contours.

Figures: the 1-D regions under the density curve, the CDF with its quantiles,
and the 2-D regions.

Run::

    python examples/16_density_regions.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from scipy import optimize

from gaussmix import GaussianMixture
from gaussmix.density import cdf, hdr_levels, plot_hdr, quantile

DPI = 90
#: (mean, standard deviation, share) of the two 1-D components.
TRUTH_1D = ((2.0, 0.25, 0.35), (4.3, 0.45, 0.65))
#: (mean, covariance, share) of the three 2-D clusters.
TRUTH_2D = (
    ((0.0, 0.0), ((1.0, 0.6), (0.6, 1.0)), 0.4),
    ((4.0, 1.0), ((0.5, 0.0), (0.0, 0.3)), 0.35),
    ((1.5, 4.0), ((0.4, -0.2), (-0.2, 0.8)), 0.25),
)
#: Probabilities enclosed by the regions, and asked of the quantile function.
PROBS = (0.25, 0.5, 0.75, 0.95)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


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


def region_intervals(
    gm: GaussianMixture, level: float, lo: float, hi: float
) -> list[tuple[float, float]]:
    """The intervals of ``[lo, hi]`` where the density is at least ``level``.

    A fine grid brackets every crossing of the level; Brent's method refines
    each to 1e-12.
    """
    grid = np.linspace(lo, hi, 20_001)
    log_level = np.log(level)
    above = gm.score_samples(grid[:, None]) >= log_level

    def gap(y: float) -> float:
        return float(gm.score_samples(np.array([[y]]))[0]) - log_level

    ends = [
        optimize.brentq(gap, grid[i], grid[i + 1], xtol=1e-12)
        for i in np.flatnonzero(above[1:] != above[:-1])
    ]
    edges = [lo, *ends, hi]
    states = [bool(above[0])]
    for _ in ends:
        states.append(not states[-1])
    return [(edges[k], edges[k + 1]) for k, inside in enumerate(states) if inside]


def sample_2d(n: int, rng: np.random.Generator) -> np.ndarray:
    counts = rng.multinomial(n, [share for _, _, share in TRUTH_2D])
    return np.vstack(
        [
            rng.multivariate_normal(mean, cov, size=count)
            for (mean, cov, _), count in zip(TRUTH_2D, counts, strict=True)
        ]
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    figures = []

    # ------------------------------------------------------------ one feature
    n1 = 600 if args.small else 3000
    counts = rng.multinomial(n1, [share for _, _, share in TRUTH_1D])
    x = np.concatenate(
        [
            rng.normal(mean, sd, size=count)
            for (mean, sd, _), count in zip(TRUTH_1D, counts, strict=True)
        ]
    )[:, None]
    gm = GaussianMixture(2, covariance_type="V").fit(x)
    order = np.argsort(gm.means_[:, 0])
    print(f"{n1} values from two normals; mclust's model V with 2 components")
    for k in order:
        print(
            f"  weight {gm.weights_[k]:.3f}  mean {gm.means_[k, 0]:.3f}  "
            f"sd {np.sqrt(gm.covariances_[k]):.3f}"
        )
    print()
    q = quantile(gm, QUANTILES)
    print(
        "quantiles: "
        + ", ".join(f"{p:.0%}: {v:.3f}" for p, v in zip(QUANTILES, q, strict=True))
    )
    grid_x = np.linspace(float(x.min()), float(x.max()), 201)
    round_trip = float(np.max(np.abs(quantile(gm, cdf(gm, grid_x)) - grid_x)))
    print(f"quantile(cdf(x)) recovers x to {round_trip:.1e} over the data's range")
    print(f"P(X <= 3) = cdf(3) = {float(cdf(gm, 3.0)):.4f}")
    print()

    levels = hdr_levels(gm, x, PROBS)
    density_x = np.exp(gm.score_samples(x))
    lo, hi = float(x.min()) - 2.0, float(x.max()) + 2.0
    regions_1d = []
    print(f"{'region':>6}  {'level':>7}  {'mass':>5}  {'data inside':>11}  intervals")
    for p, level in zip(PROBS, levels, strict=True):
        intervals = region_intervals(gm, float(level), lo, hi)
        mass = float(sum(cdf(gm, b) - cdf(gm, a) for a, b in intervals))
        share = float(np.mean(density_x >= level))
        regions_1d.append(
            {
                "prob": p,
                "level": float(level),
                "intervals": intervals,
                "mass": mass,
                "data_share": share,
            }
        )
        shown = " U ".join(f"[{a:.2f}, {b:.2f}]" for a, b in intervals)
        print(f"{p:6.0%}  {level:7.4f}  {mass:5.3f}  {share:11.3f}  {shown}")
    print(
        "level: the region is {x : p(x) >= level}; the level is a density, not a "
        "probability."
    )
    print(
        "mass: the model's probability inside the region (exact, from the CDF), "
        "close to the share asked for."
    )
    print()

    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    plot_hdr(gm, x, prob=PROBS, ax=ax)
    ax.set_xlabel("x")
    figures.append(save(fig, out, "16_density_regions_1d.png"))

    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    curve = np.linspace(lo, hi, 600)
    ax.plot(curve, cdf(gm, curve), color="k", linewidth=1.8, label="cdf(model, x)")
    for p, value in zip(QUANTILES, q, strict=True):
        ax.plot([lo, value, value], [p, p, 0.0], color="C0", linestyle=":", linewidth=1)
        ax.annotate(
            f"{p:.0%}",
            (lo, p),
            xytext=(4, 2),
            textcoords="offset points",
            fontsize="small",
        )
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1)
    ax.set_xlabel("x")
    ax.set_ylabel("P(X <= x)")
    ax.set_title("the mixture's CDF and its quantiles (dotted)")
    ax.legend(loc="lower right", fontsize="small")
    figures.append(save(fig, out, "16_density_regions_cdf.png"))

    # ----------------------------------------------------------- two features
    n2 = 500 if args.small else 1500
    X = sample_2d(n2, rng)
    gm2 = GaussianMixture(3, covariance_type="VVV").fit(X)
    levels2 = hdr_levels(gm2, X, PROBS)
    density_2 = np.exp(gm2.score_samples(X))
    regions_2d = []
    print(f"{n2} points in two dimensions; mclust's model VVV with 3 components")
    print(f"{'region':>6}  {'level':>7}  {'data inside':>11}")
    for p, level in zip(PROBS, levels2, strict=True):
        share = float(np.mean(density_2 >= level))
        regions_2d.append({"prob": p, "level": float(level), "data_share": share})
        print(f"{p:6.0%}  {level:7.4f}  {share:11.3f}")

    fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    plot_hdr(gm2, X, prob=PROBS, ax=ax)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    figures.append(save(fig, out, "16_density_regions_2d.png"))

    return {
        "n_samples_1d": n1,
        "n_samples_2d": n2,
        "quantiles": dict(zip(QUANTILES, q.tolist(), strict=True)),
        "round_trip_error": round_trip,
        "regions_1d": regions_1d,
        "regions_2d": regions_2d,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
