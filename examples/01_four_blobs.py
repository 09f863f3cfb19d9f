"""Four blobs: fit, labels, means, covariances and prediction.

The classic first example of a Gaussian mixture: four well separated round
clusters from ``make_blobs(400, centers=4, cluster_std=0.6, random_state=0)``.
A 4-component full-covariance mixture finds them; we print what it found,
classify three new points, and draw the clusters with their 1/2/3-sigma
ellipses.

Run::

    python examples/01_four_blobs.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from gaussmix import GaussianMixture
from gaussmix.plotting import plot_clusters

DPI = 90
NEW_POINTS = np.array([[0.0, 0.0], [4.0, 4.0], [-2.0, 2.0]])


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

    n_samples = 200 if args.small else 400
    X, y_true = make_blobs(
        n_samples=n_samples, centers=4, cluster_std=0.6, random_state=0
    )
    gm = GaussianMixture(n_components=4, covariance_type="full", random_state=0)
    labels = gm.fit_predict(X)
    print(f"make_blobs({n_samples}, centers=4, cluster_std=0.6, random_state=0)")
    print(
        f"4-component full mixture: converged={gm.converged_} after {gm.n_iter_} "
        f"EM iterations, mean log-likelihood {gm.lower_bound_:.4f}"
    )
    counts = np.bincount(labels, minlength=4)
    ari = adjusted_rand_score(y_true, labels)
    print(f"points per label: {counts.tolist()}; adjusted Rand index {ari:.4f}")
    print()
    print("component  weight   mean x   mean y    var x   cov xy    var y")
    for k in range(4):
        c = gm.covariances_[k]
        print(
            f"{k:9d}  {gm.weights_[k]:6.3f}  {gm.means_[k, 0]:7.3f}  "
            f"{gm.means_[k, 1]:7.3f}  {c[0, 0]:7.3f}  {c[0, 1]:7.3f}  {c[1, 1]:7.3f}"
        )
    print()
    predicted = gm.predict(NEW_POINTS)
    proba = gm.predict_proba(NEW_POINTS)
    print("prediction for new points:")
    for point, label, p in zip(NEW_POINTS, predicted, proba, strict=True):
        print(
            f"  {point.tolist()!s:12} -> component {label} (probability {p[label]:.3f})"
        )

    figures = []
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    plot_clusters(gm, X, ax=ax)
    ax.plot(NEW_POINTS[:, 0], NEW_POINTS[:, 1], "k*", markersize=11, label="new points")
    for point, label in zip(NEW_POINTS, predicted, strict=True):
        ax.annotate(
            f"-> {label}",
            xy=(point[0], point[1]),
            xytext=(6, -12),
            textcoords="offset points",
            fontsize=9,
        )
    ax.legend(loc="lower left", fontsize="small")
    ax.set_aspect("equal", adjustable="datalim")
    figures.append(save(fig, out, "01_four_blobs_clusters.png"))

    return {
        "n_samples": n_samples,
        "converged": bool(gm.converged_),
        "n_iter": int(gm.n_iter_),
        "lower_bound": float(gm.lower_bound_),
        "weights": gm.weights_.copy(),
        "means": gm.means_.copy(),
        "covariances": gm.covariances_.copy(),
        "label_counts": counts,
        "adjusted_rand_index": float(ari),
        "new_points": NEW_POINTS.copy(),
        "predictions": predicted,
        "prediction_probabilities": proba,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
