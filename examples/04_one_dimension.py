"""One dimension, three components, and "what is the probability of a new value x?".

17,000 values from three normals: N(-0.5, 0.2) x 2000, N(-0.1, 0.07) x 5000 and
N(0.2, 0.13) x 10000 (mean, standard deviation). A 3-component mixture recovers
them; the first figure shows the histogram, the mixture density and the three
weighted components, which add up to the mixture. Components keep the model's
numbers (those of ``predict`` and of the figure's legend) in the printed table,
which lists them by increasing mean.

The components overlap so much that EM creeps: with the default ``tol=1e-3``
(on the change of the mean log-likelihood) it stops after a few iterations,
far from the answer (weights about 0.10/0.38/0.51 instead of 0.12/0.29/0.59).
We fit with ``tol=1e-6``; the third figure shows the EM trace and where the
default would have stopped.

``score_samples(x)`` is the log of a probability *density*, not a probability:
its value depends on the units of x and can exceed 1 (here it does, near the
narrow component at -0.1), and the probability of any single exact value is 0.
Two questions have probabilities for answers:

* how likely is a value *near* x: ``P(x - h <= X <= x + h)``, the integral of
  the density over the interval (about ``2 h`` times the density for small
  ``h``), computed exactly from the components' normal CDFs and checked by
  numerical integration of ``exp(score_samples)``;
* how unusual is x: ``model.tail_probability(x)``, the share of the model's
  mass where the density is at most the density at x (1 at the densest point,
  near 0 far out; exact in one dimension), checked against a brute-force
  integral. About that share of the data should be no more likely than x,
  which we check too.

The second figure shades the tail probability of one value.

Run::

    python examples/04_one_dimension.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import ndtr

from gaussmix import GaussianMixture
from gaussmix.plotting import plot_convergence, plot_density_1d

DPI = 90
#: (mean, standard deviation, count) of the three true components.
TRUTH = ((-0.5, 0.2, 2000), (-0.1, 0.07, 5000), (0.2, 0.13, 10000))
#: New values asked about, and the half-width h of the interval around each.
QUERIES = (-0.1, 0.3, 0.7)
HALF_WIDTH = 0.01
#: EM stopping tolerance; the default 1e-3 stops far too early on these data.
TOL = 1e-6


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


def interval_probability(gm: GaussianMixture, lo: float, hi: float) -> float:
    """``P(lo <= X <= hi)`` under a one-feature mixture, from the normal CDFs."""
    means = gm.means_[:, 0]
    sds = np.sqrt(gm.covariances_.reshape(-1))
    mass = ndtr((hi - means) / sds) - ndtr((lo - means) / sds)
    return float(gm.weights_ @ mass)


def tail_probability_numeric(gm: GaussianMixture, x: float) -> float:
    """The tail probability by brute force: ``1 - integral of p(y) over p(y) > p(x)``.

    A fine grid over every component's mean +- 12 standard deviations; the
    error is about the density times the grid step at each crossing (1e-5).
    """
    means = gm.means_[:, 0]
    sds = np.sqrt(gm.covariances_.reshape(-1))
    grid = np.linspace((means - 12 * sds).min(), (means + 12 * sds).max(), 400_001)
    density = np.exp(gm.score_samples(grid[:, None]))
    level = float(np.exp(gm.score_samples(np.array([[x]]))[0]))
    above = np.where(density > level, density, 0.0)
    return float(1.0 - np.trapezoid(above, grid))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    scale = 10 if args.small else 1
    rng = np.random.default_rng(0)
    X = np.concatenate(
        [rng.normal(mean, sd, size=count // scale) for mean, sd, count in TRUTH]
    )[:, None]
    n = X.shape[0]
    gm = GaussianMixture(n_components=3, tol=TOL, max_iter=1000, random_state=0)
    gm.fit(X)
    default = GaussianMixture(n_components=3, random_state=0).fit(X)
    order = np.argsort(gm.means_[:, 0])
    means = gm.means_[order, 0]
    sds = np.sqrt(gm.covariances_.reshape(-1)[order])
    weights = gm.weights_[order]
    true_weights = np.array([c for _, _, c in TRUTH], dtype=float)
    true_weights /= true_weights.sum()
    print(f"{n} values from three normals; 3-component mixture")
    print(
        f"tol={TOL:g}: converged={gm.converged_} after {gm.n_iter_} EM iterations, "
        f"mean log-likelihood {gm.lower_bound_:.4f}"
    )
    default_weights = default.weights_[np.argsort(default.means_[:, 0])]
    print(
        f"(the default tol=1e-3 stops after {default.n_iter_} iterations at "
        f"{default.lower_bound_:.4f}, weights {default_weights.round(3).tolist()})"
    )
    print()
    # The model's own component numbers (those of predict and of the figure's
    # legend), listed by increasing mean to sit next to the true components.
    print("component   weight (true)       mean (true)        sd (true)")
    for rank, (mean, sd, _) in enumerate(TRUTH):
        print(
            f"{int(order[rank]):9d}   {weights[rank]:.3f} ({true_weights[rank]:.3f})   "
            f"{means[rank]:7.3f} ({mean:6.3f})   {sds[rank]:.3f} ({sd:.3f})"
        )

    print()
    print("score_samples gives log-densities; a density is not a probability.")
    print(
        f"{'x':>6}  {'density p(x)':>12}  {'P(|X-x|<=h)':>11}  {'2h p(x)':>8}  "
        f"{'tail prob.':>10}  {'(numeric)':>9}  {'data no likelier':>16}"
    )
    log_density_data = gm.score_samples(X)
    rows = []
    for x in QUERIES:
        density = float(np.exp(gm.score_samples(np.array([[x]]))[0]))
        lo, hi = x - HALF_WIDTH, x + HALF_WIDTH
        p_interval = interval_probability(gm, lo, hi)
        grid = np.linspace(lo, hi, 201)
        p_numeric = float(np.trapezoid(np.exp(gm.score_samples(grid[:, None])), grid))
        tail = float(gm.tail_probability(np.array([[x]]))[0])
        tail_numeric = tail_probability_numeric(gm, x)
        log_density_x = float(np.log(density))
        empirical = float(np.mean(log_density_data <= log_density_x))
        rows.append(
            {
                "x": x,
                "density": density,
                "interval_probability": p_interval,
                "interval_probability_numeric": p_numeric,
                "tail_probability": tail,
                "tail_probability_numeric": tail_numeric,
                "data_share_no_likelier": empirical,
            }
        )
        print(
            f"{x:6.2f}  {density:12.4f}  {p_interval:11.5f}  "
            f"{2 * HALF_WIDTH * density:8.5f}  {tail:10.4f}  {tail_numeric:9.4f}  "
            f"{empirical:16.4f}"
        )
    worst = max(
        abs(r["interval_probability"] - r["interval_probability_numeric"]) for r in rows
    )
    print(
        f"h = {HALF_WIDTH}. P(|X-x|<=h) is exact from the normal CDFs; numerical "
        f"integration agrees to {worst:.1e}."
    )
    print(
        "tail prob. = model.tail_probability(x), the share of the model's mass no "
        "more likely than x;"
    )
    print(
        "(numeric) is the same by brute-force integration; 'data no likelier' is "
        "the share of the data."
    )

    figures = []
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    drawn = plot_density_1d(gm, X, ax=ax, bins=80)
    ax.set_xlabel("x")
    legend_labels = [t.get_text() for t in ax.get_legend().get_texts()]
    figures.append(save(fig, out, "04_one_dimension_density.png"))

    x_shown = QUERIES[1]
    row = rows[1]
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    grid, density = drawn["grid"], drawn["mixture_density"]
    ax.plot(grid, density, color="k", linewidth=2, label="mixture density")
    ax.fill_between(
        grid,
        0,
        density,
        where=density <= row["density"],
        color="C3",
        alpha=0.4,
        label=f"p(y) <= p({x_shown}): mass {row['tail_probability']:.3f}",
    )
    ax.axhline(row["density"], color="C3", linestyle=":", linewidth=1)
    ax.axvline(x_shown, color="C3", linewidth=1.5, label=f"x = {x_shown}")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title(f"tail probability of x = {x_shown}: {row['tail_probability']:.3f}")
    ax.legend(loc="upper left", fontsize="small")
    figures.append(save(fig, out, "04_one_dimension_tail.png"))

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    plot_convergence(gm, ax=ax)
    ax.axvline(
        default.n_iter_,
        color="C3",
        linestyle="--",
        label=f"the default tol=1e-3 stops here ({default.n_iter_} iterations)",
    )
    ax.set_title(f"tol={TOL:g}: {ax.get_title()}")
    ax.legend(loc="lower right", fontsize="small")
    figures.append(save(fig, out, "04_one_dimension_convergence.png"))

    return {
        "n_samples": n,
        "n_iter": int(gm.n_iter_),
        "default_tol_n_iter": int(default.n_iter_),
        "default_tol_weights": default_weights,
        "weights": weights,
        "components": order,
        "legend_labels": legend_labels,
        "means": means,
        "sds": sds,
        "true_weights": true_weights,
        "queries": rows,
        "half_width": HALF_WIDTH,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
