"""Classification uncertainty, and the four covariance types on the same data.

Four overlapping blobs: ``make_blobs(600, centers=4, cluster_std=1.6,
random_state=2)`` sheared by ``[[1, 0], [0.8, 0.6]]``, so that every cluster is
the same tilted ellipse. A 4-component mixture is fitted with each covariance
type:

* ``full``: each component its own ellipse (any size, shape, orientation);
* ``tied``: one ellipse shared by all components (here the true model);
* ``diag``: axis-aligned ellipses, each its own;
* ``spherical``: circles, each its own radius.

The 2 x 2 figure compares them with their BIC (lower is better): ``tied`` has
the fewest parameters that can describe these clusters and wins.

The uncertainty of a point's classification is ``1 - max_k p(k | x)``: 0 when
one component claims it outright, up to ``1 - 1/K`` when all are equally
likely. The uncertainty plot of the best model draws it as point size. The
uncertain points are where the mistakes are: we compare the error rate against
the true labels among uncertain and certain points.

Run::

    python examples/05_uncertainty_and_covariance_types.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from gaussmix import GaussianMixture
from gaussmix.plotting import plot_clusters, plot_uncertainty

DPI = 90
SHEAR = np.array([[1.0, 0.0], [0.8, 0.6]])
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: Points with at least this uncertainty count as "uncertain".
UNCERTAIN = 0.2


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


def count_parameters(covariance_type: str, k: int, d: int) -> int:
    """Free parameters: ``k - 1`` weights, ``k d`` means, and the covariances."""
    covariance = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return k - 1 + k * d + covariance


def matched_errors(y_true: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Which points are misclassified after the best one-to-one matching of labels."""
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (labels, y_true), 1)
    rows, cols = linear_sum_assignment(-confusion)
    mapping = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    matched = np.array([mapping[int(lab)] for lab in labels])
    return np.asarray(matched != y_true, dtype=bool)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n_samples = 200 if args.small else 600
    X, y_true = make_blobs(
        n_samples=n_samples, centers=4, cluster_std=1.6, random_state=2
    )
    X = X @ SHEAR
    print(
        f"make_blobs({n_samples}, centers=4, cluster_std=1.6, random_state=2) "
        "sheared by [[1, 0], [0.8, 0.6]]"
    )
    print()
    print("covariance type  parameters       BIC  adjusted Rand index")
    models: dict[str, GaussianMixture] = {}
    bic: dict[str, float] = {}
    ari: dict[str, float] = {}
    n_parameters: dict[str, int] = {}
    fig, axes = plt.subplots(
        2, 2, figsize=(10, 7.5), sharex=True, sharey=True, layout="constrained"
    )
    for ax, covariance_type in zip(axes.ravel(), COVARIANCE_TYPES, strict=True):
        gm = GaussianMixture(
            n_components=4, covariance_type=covariance_type, random_state=0
        ).fit(X)
        models[covariance_type] = gm
        bic[covariance_type] = float(gm.bic(X))
        ari[covariance_type] = float(adjusted_rand_score(y_true, gm.predict(X)))
        n_parameters[covariance_type] = count_parameters(covariance_type, 4, 2)
        print(
            f"{covariance_type:15}  {n_parameters[covariance_type]:10d}  "
            f"{bic[covariance_type]:8.1f}  {ari[covariance_type]:19.3f}"
        )
        plot_clusters(gm, X, ax=ax, n_std=(1.0, 2.0))
        ax.set_title(f"{covariance_type}: BIC {bic[covariance_type]:.1f}")
        ax.set_aspect("equal", adjustable="box")  # circles look round
    for ax in axes[0]:
        ax.set_xlabel("")
    for ax in axes[:, 1]:
        ax.set_ylabel("")
    best = min(bic, key=bic.__getitem__)
    print(f"lowest BIC: {best}")
    figures = [save(fig, out, "05_covariance_types.png")]

    model = models[best]
    fig, ax = plt.subplots(figsize=(7.5, 5.5), layout="constrained")
    drawn = plot_uncertainty(model, X, ax=ax)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"{best} mixture: {ax.get_title()}", fontsize=10)
    figures.append(save(fig, out, "05_uncertainty.png"))
    uncertainty = np.asarray(drawn["uncertainty"])
    errors = matched_errors(y_true, model.predict(X), 4)
    uncertain = uncertainty >= UNCERTAIN
    error_uncertain = float(errors[uncertain].mean()) if uncertain.any() else 0.0
    error_certain = float(errors[~uncertain].mean())
    print()
    print(
        f"uncertainty of the {best} model: mean {uncertainty.mean():.3f}, "
        f"largest {uncertainty.max():.3f} (at most 1 - 1/4 = 0.75)"
    )
    print(
        f"{uncertain.sum()} points ({uncertain.mean():.1%}) have uncertainty >= "
        f"{UNCERTAIN}; {error_uncertain:.1%} of them are misclassified, against "
        f"{error_certain:.1%} of the others"
    )

    return {
        "n_samples": n_samples,
        "bic": bic,
        "n_parameters": n_parameters,
        "adjusted_rand_index": ari,
        "best": best,
        "uncertainty": uncertainty,
        "share_uncertain": float(uncertain.mean()),
        "error_rate_uncertain": error_uncertain,
        "error_rate_certain": error_certain,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
