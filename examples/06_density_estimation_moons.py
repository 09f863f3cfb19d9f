"""Density estimation on two moons: a mixture as a generative model, and choosing K.

``make_moons(200, noise=0.05, random_state=0)`` is not a mixture of two
Gaussians, but 16 full-covariance Gaussians strung along the moons describe its
density well. The mixture is then a generative model: ``sample(400)`` draws new
points that look like the data.

How many components does the data support? ``gaussmix.select`` fits K = 1..20
and tabulates AIC and BIC (scikit-learn's sign: lower is better). BIC, whose
penalty grows with the sample size, prefers fewer components than AIC; both are
well below 16 for 200 points: 16 components are more than the data support as
a *model*, though they make a fine smooth density for drawing samples.

Run::

    python examples/06_density_estimation_moons.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons

import gaussmix
from gaussmix import GaussianMixture
from gaussmix.plotting import plot_clusters, plot_model_selection

DPI = 90


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


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n_samples = 200
    n_components = 8 if args.small else 16
    n_new = 400
    k_range = range(1, 9) if args.small else range(1, 21)
    X, _ = make_moons(n_samples, noise=0.05, random_state=0)
    gm = GaussianMixture(
        n_components=n_components, covariance_type="full", random_state=0
    ).fit(X)
    new, _ = gm.sample(n_new, random_state=0)
    score_data = float(gm.score(X))
    score_new = float(gm.score(new))
    print(f"make_moons({n_samples}, noise=0.05, random_state=0)")
    print(
        f"{n_components}-component full mixture: converged={gm.converged_} after "
        f"{gm.n_iter_} EM iterations"
    )
    print(
        f"mean log-density of the data {score_data:.3f}, of {n_new} new samples "
        f"{score_new:.3f}"
    )

    figures = []
    fig, axes = plt.subplots(
        1, 2, figsize=(11, 3.9), sharex=True, sharey=True, layout="constrained"
    )
    plot_clusters(gm, X, ax=axes[0], n_std=(1.0, 2.0))
    axes[0].set_title(f"the data and the {n_components} components")
    axes[1].scatter(new[:, 0], new[:, 1], s=10, c="C0", alpha=0.7, linewidths=0)
    axes[1].set_title(f"{n_new} new points drawn from the mixture")
    axes[1].set_xlabel("feature 0")
    for ax in axes:
        ax.set_aspect("equal", adjustable="box")
    figures.append(save(fig, out, "06_moons_samples.png"))

    print()
    print(f"select: full covariance, K = {k_range.start}..{k_range.stop - 1}")
    _, table = gaussmix.select(
        X, k_range, covariance_types="full", criterion="bic", random_state=0
    )
    ks = np.asarray(table["n_components"])
    aic = np.asarray(table["aic"], dtype=float)
    bic = np.asarray(table["bic"], dtype=float)
    print(f"{'K':>3}  {'AIC':>8}  {'BIC':>8}")
    for k, a, b in zip(ks, aic, bic, strict=True):
        print(f"{k:3d}  {a:8.1f}  {b:8.1f}")
    best_aic = int(ks[np.nanargmin(aic)])
    best_bic = int(ks[np.nanargmin(bic)])
    print(f"lowest AIC at K = {best_aic}, lowest BIC at K = {best_bic}")
    drawn = plot_model_selection(table, criteria=("bic", "aic"))
    drawn["fig"].suptitle(f"make_moons({n_samples}): full-covariance mixtures")
    figures.append(save(drawn["fig"], out, "06_moons_model_selection.png"))

    return {
        "n_samples": n_samples,
        "n_components": n_components,
        "converged": bool(gm.converged_),
        "n_new": int(new.shape[0]),
        "new_samples": new,
        "score_data": score_data,
        "score_new": score_new,
        "n_components_grid": ks,
        "aic": aic,
        "bic": bic,
        "best_aic": best_aic,
        "best_bic": best_bic,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
