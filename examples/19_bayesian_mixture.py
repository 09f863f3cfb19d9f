"""A Dirichlet-process mixture switches off the components the data do not need.

Three clusters in two dimensions (600 points) are fitted with ten components,
twice: by maximum likelihood (``GaussianMixture``), which uses all ten, and by
``BayesianGaussianMixture`` with a Dirichlet-process prior on the weights and a
small concentration (``weight_concentration_prior=0.01``), whose extra
components get weights near zero, so that the number of clusters is read off
the fit. The script prints both sets of weights, the number of components with
a weight above 1%, and checks that the Bayesian fit equals scikit-learn's
(same ``random_state``).

Figures: the data with the ellipses (two standard deviations) of each
component, line width by weight, for both fits; and the two sets of weights.

Run::

    python examples/19_bayesian_mixture.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from gaussmix import BayesianGaussianMixture, GaussianMixture

DPI = 90
N_COMPONENTS = 10
#: Components with a weight above this count as used.
ACTIVE = 0.01
#: (mean, covariance, share) of the three clusters.
TRUTH = (
    ((0.0, 0.0), ((1.0, 0.5), (0.5, 0.8)), 0.45),
    ((5.0, 1.0), ((0.4, 0.0), (0.0, 1.2)), 0.35),
    ((2.0, 5.0), ((0.6, -0.3), (-0.3, 0.5)), 0.20),
)


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


def sample(n: int, rng: np.random.Generator) -> np.ndarray:
    counts = rng.multinomial(n, [share for _, _, share in TRUTH])
    return np.vstack(
        [
            rng.multivariate_normal(mean, cov, size=c)
            for (mean, cov, _), c in zip(TRUTH, counts, strict=True)
        ]
    )


def draw(ax: Any, X: np.ndarray, model: Any, title: str) -> None:
    ax.scatter(X[:, 0], X[:, 1], s=4, color="0.6")
    for k, (mean, cov, w) in enumerate(
        zip(model.means_, model.covariances_, model.weights_, strict=True)
    ):
        values, vectors = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
        width, height = 4.0 * np.sqrt(values[::-1])
        ax.add_patch(
            Ellipse(
                mean,
                width,
                height,
                angle=angle,
                fill=False,
                color=f"C{k % 10}",
                lw=0.5 + 6.0 * w,
                alpha=0.9 if w > ACTIVE else 0.35,
            )
        )
    ax.set_title(title)
    ax.set_aspect("equal")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = 300 if args.small else 600
    X = sample(n, np.random.default_rng(0))

    ml = GaussianMixture(n_components=N_COMPONENTS, random_state=0).fit(X)
    params = {
        "n_components": N_COMPONENTS,
        "weight_concentration_prior_type": "dirichlet_process",
        "weight_concentration_prior": 0.01,
        "max_iter": 500,
        "random_state": 0,
    }
    dp = BayesianGaussianMixture(**params).fit(X)
    print(f"{n} points from 3 clusters, {N_COMPONENTS} components")
    print(f"maximum likelihood weights: {np.round(np.sort(ml.weights_)[::-1], 3)}")
    print(f"Dirichlet process weights:  {np.round(np.sort(dp.weights_)[::-1], 3)}")
    ml_active = int(np.sum(ml.weights_ > ACTIVE))
    dp_active = int(np.sum(dp.weights_ > ACTIVE))
    print(f"components above {ACTIVE:.0%}: maximum likelihood {ml_active}, ", end="")
    print(f"Dirichlet process {dp_active}")
    print(f"lower bound {dp.lower_bound_:.4f} after {dp.n_iter_} iterations")

    from sklearn.mixture import BayesianGaussianMixture as SklearnBGM

    reference = SklearnBGM(**params).fit(X)
    difference = float(
        np.max(np.abs(reference.means_ - dp.means_)) / np.max(np.abs(reference.means_))
    )
    print(f"scikit-learn's fit: means within {difference:.1e} (relative)")

    figures = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
    draw(axes[0], X, ml, f"GaussianMixture: {ml_active} components used")
    draw(axes[1], X, dp, f"Dirichlet process: {dp_active} components used")
    fig.tight_layout()
    figures.append(save(fig, out, "19_bayesian_mixture_ellipses.png"))

    fig, ax = plt.subplots(figsize=(7, 3.4))
    index = np.arange(N_COMPONENTS)
    ax.bar(index - 0.2, np.sort(ml.weights_)[::-1], 0.4, label="maximum likelihood")
    ax.bar(index + 0.2, np.sort(dp.weights_)[::-1], 0.4, label="Dirichlet process")
    ax.axhline(ACTIVE, color="0.3", lw=0.8, ls="--")
    ax.set_xlabel("component (by weight)")
    ax.set_ylabel("weight")
    ax.legend()
    fig.tight_layout()
    figures.append(save(fig, out, "19_bayesian_mixture_weights.png"))
    return {
        "n_samples": n,
        "ml_active": ml_active,
        "dp_active": dp_active,
        "dp_weights": dp.weights_.tolist(),
        "sklearn_difference": difference,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
